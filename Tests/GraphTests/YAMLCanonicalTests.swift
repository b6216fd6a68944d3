import Testing
@testable import Graph

@Suite struct YAMLCanonicalTests {
    @Test func exactTextOfSmallDocument() throws {
        let d = try YAML.parse("""
        b: "1"
        a: 0x10
        c: [x, 'true', 1.5, ~, .inf, -.inf, .nan, yes, '']
        d: {e: "hi there", f: !!str 2}
        g: |
          two
          lines
        "h i": 1e3
        """, path: "c.yaml")
        #expect(d.canonicalText == """
        {b: "1", a: 16, c: [x, "true", 1.5, null, .inf, -.inf, .nan, yes, ""], \
        d: {e: "hi there", f: "2"}, g: "two\\nlines\\n", "h i": 1000.0}
        """)
    }

    @Test func exampleGraphRoundTrips() throws {
        let g = try YAML.parse(yamlExampleGraph, path: "Graphs/example.yaml")
        let text = g.canonicalText
        #expect(!text.contains("\n"))
        let again = try YAML.parse(text, path: "canonical.yaml")
        #expect(again.isEquivalent(to: g))
        #expect(again.canonicalText == text)
        // Order is the source order, not sorted.
        #expect(again.keys == ["tedi", "name", "params", "models", "nodes"])
        // A change anywhere changes the text (what hashing relies on).
        var edited = yamlExampleGraph
        edited = edited.replacingOccurrences("steps: 50", with: "steps: 51")
        #expect(try YAML.parse(edited, path: "e.yaml").canonicalText != text)
    }

    @Test func trickyStringsRoundTrip() throws {
        let strings = [
            "", " lead", "trail ", "a: b", "a #b", "#x", "-", "- x", "?", ":", ",", "[]", "{}", "*al",
            "&an", "!tag", "%dir", "@", "`", "|", ">", "'", "\"", "null", "Null", "~", "true", "FALSE",
            "1", "-1", "0x1F", "0o7", "1e3", ".inf", ".nan", "1.", "yes", "on", "---", "...",
            "line\nbreak", "tab\there", "cr\rlf", "quote\"back\\slash", "\u{0}\u{7}\u{1B}\u{7F}\u{85}",
            "\u{A0}nbsp", "sep\u{2028}\u{2029}", "\u{FEFF}bom", "Zoë 😀 日本", "${seed}", "a.b-c_d",
            "_x", "x1", "Z",
        ]
        let node = YAMLNode(.sequence(strings.map {
            YAMLNode(.scalar(YAMLScalar(text: $0, style: .doubleQuoted, tag: nil, value: .string($0))),
                     mark: YAMLMark(line: 1, column: 1))
        }), mark: YAMLMark(line: 1, column: 1))
        let back = try YAML.parse(node.canonicalText, path: "s.yaml")
        let items = try #require(back.sequence)
        #expect(items.count == strings.count)
        for (item, s) in zip(items, strings) {
            #expect(item.string == s, "\(s.debugDescription) came back as \(item.scalar?.value as Any)")
        }
        #expect(back.isEquivalent(to: node))
    }

    @Test func numbersRoundTripExactly() throws {
        let doubles: [Double] = [0.1, 1e-5, 1e300, -0.0, .leastNonzeroMagnitude, 100, 1.0 / 3.0, -2.5e-8,
                                 .greatestFiniteMagnitude, .infinity, -.infinity]
        let ints = [0, 1, -1, Int.max, Int.min, 1 << 53]
        let node = YAMLNode(.sequence(
            doubles.map { YAMLNode(.scalar(YAMLScalar(text: "", style: .plain, tag: nil, value: .float($0))),
                                   mark: YAMLMark(line: 1, column: 1)) }
            + ints.map { YAMLNode(.scalar(YAMLScalar(text: "", style: .plain, tag: nil, value: .int($0))),
                                  mark: YAMLMark(line: 1, column: 1)) }
        ), mark: YAMLMark(line: 1, column: 1))
        let back = try YAML.parse(node.canonicalText, path: "n.yaml")
        for (i, d) in doubles.enumerated() {
            guard case .float(let x)? = back[i]?.scalar?.value else {
                Issue.record("item \(i) is not a float: \(String(describing: back[i]))")
                continue
            }
            #expect(x.bitPattern == d.bitPattern, "\(d) came back as \(x)")
        }
        for (i, n) in ints.enumerated() {
            #expect(back[doubles.count + i]?.int == n)
        }
    }

    @Test func keysKeepTheirSpelling() throws {
        let d = try YAML.parse("{0x10: a, ~: b, 1.50: c, \"true\": d, plain: e, \"a b\": f}", path: "k.yaml")
        let text = d.canonicalText
        #expect(text == "{0x10: a, ~: b, 1.50: c, \"true\": d, plain: e, \"a b\": f}")
        let back = try YAML.parse(text, path: "k.yaml")
        #expect(back.keys == ["0x10", "~", "1.50", "true", "plain", "a b"])
        #expect(back.isEquivalent(to: d))
    }

    @Test func aliasesAreExpanded() throws {
        let d = try YAML.parse("a: &x {k: [1, 2]}\nb: *x\n", path: "a.yaml")
        #expect(d.canonicalText == "{a: {k: [1, 2]}, b: {k: [1, 2]}}")
    }
}

private extension String {
    /// Replaces every occurrence of `target` (kept here so the tests need no Foundation).
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
