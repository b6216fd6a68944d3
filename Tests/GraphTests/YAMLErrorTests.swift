import Testing
import Foundation
@testable import Graph

@Suite struct YAMLErrorTests {
    /// Asserts that `text` fails at `line:column` with a message containing every fragment.
    func expectError(_ text: String, _ line: Int, _ column: Int, _ fragments: String...,
                     limits: YAML.Limits = .standard, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = yamlError(text, limits: limits) else {
            Issue.record("expected an error for \(text.debugDescription)", sourceLocation: sourceLocation)
            return
        }
        #expect(e.mark == YAMLMark(line: line, column: column), "\(e)", sourceLocation: sourceLocation)
        for f in fragments {
            #expect(e.message.contains(f), "'\(f)' not in: \(e)", sourceLocation: sourceLocation)
        }
    }

    @Test func descriptionReadsLikeACompiler() {
        let e = yamlError("a: 1\na: 2\n")
        #expect(e?.description == "graphs/g.yaml:2:1: error: duplicate key 'a' (first defined at line 1, column 1)")
        #expect(e?.path == "graphs/g.yaml")
    }

    @Test func libyamlSyntaxErrors() {
        // Unclosed quote: libyaml reports the end of the stream and where the scalar started.
        expectError("a: \"unclosed\nb: 2\n", 3, 1, "found unexpected end of stream", "quoted scalar at 1:4")
        // Bad indentation.
        expectError("a:\n  b: 1\n c: 2\n", 3, 2, "did not find expected key")
        expectError("nodes:\n  a: {op: x}\n    b: y\n", 3, 5, "did not find expected key", "block mapping at 2:3")
        expectError("a: [1, 2\n", 2, 1, "did not find expected ',' or ']'", "flow sequence at 1:4")
        expectError("- a\nb: 1\n", 2, 1, "did not find expected '-' indicator")
        expectError("key\nnext: 1\n", 2, 5, "mapping values are not allowed in this context")
        expectError("a: 1\nb\nc: 2\n", 3, 1, "could not find expected ':'", "simple key at 2:1")
    }

    @Test func tabsForIndentation() {
        expectError("a:\n\tb: 1\n", 2, 1, "found character that cannot start any token", "tabs cannot indent YAML")
        expectError("a: 1\n\tb: 2\n", 2, 1, "tab character that violates indentation", "tabs cannot indent YAML")
        // A tab inside a value is fine.
        #expect(yamlError("a: \"x\ty\"\n") == nil)
    }

    @Test func duplicateKeys() {
        expectError("nodes:\n  a: {op: x, op: y}\n", 2, 14, "duplicate key 'op'", "line 2, column 7")
        expectError("a: 1\nb: 2\n'a': 3\n", 3, 1, "duplicate key 'a'", "line 1")
        // The same key in different mappings is fine.
        #expect(yamlError("a: {x: 1}\nb: {x: 2}\n") == nil)
    }

    @Test func multipleDocuments() {
        expectError("a: 1\n---\nb: 2\n", 2, 1, "second YAML document", "exactly one")
        expectError("--- 1\n--- 2\n", 2, 1, "second YAML document")
        expectError("a: 1\n...\nb: 2\n", 3, 1, "exactly one YAML document")
    }

    @Test func emptyInput() {
        expectError("", 1, 1, "empty")
        expectError("# just a comment\n\n", 1, 1, "no YAML document")
    }

    @Test func unsupportedConstructs() {
        expectError("a: !foo x\n", 1, 4, "unknown tag '!foo'")
        expectError("a:\n  b: !!binary aGk=\n", 2, 6, "unknown tag '!!binary'")
        expectError("a: !!map [1]\n", 1, 4, "unknown tag '!!map' on a sequence")
        expectError("? [a, b]\n: 1\n", 1, 3, "sequence used as a mapping key")
        expectError("{ {x: 1}: 2 }\n", 1, 3, "mapping used as a mapping key")
        expectError("k: &m {x: 1}\n*m : 2\n", 2, 1, "cannot be a mapping key")
        expectError("base: {a: 1}\nother:\n  <<: *x\n", 3, 3, "merge keys ('<<') are not supported")
        expectError("a: *nowhere\n", 1, 4, "unknown alias '*nowhere'")
        expectError("a: &r [1, *r]\n", 1, 11, "recursive aliases")
    }

    @Test func scalarValueErrors() {
        expectError("seed: 99999999999999999999\n", 1, 7, "does not fit in 64 bits", "quote it")
        expectError("steps: !!int ten\n", 1, 8, "tagged !!int but is not an integer")
        expectError("x: !!bool yes\n", 1, 4, "not a boolean")
    }

    @Test func invalidBytes() {
        var bytes = Array("a: b\nc: d\n".utf8)
        bytes[6] = 0xFF  // the ':' of line 2
        let e = yamlError(bytes)
        #expect(e?.mark == YAMLMark(line: 2, column: 2))
        #expect(e?.message.contains("invalid leading UTF-8 octet") == true)
        let nul = yamlError(Array("a: x\nb: ".utf8) + [0, 10])
        #expect(nul?.mark == YAMLMark(line: 2, column: 4))
        #expect(nul?.message.contains("control characters are not allowed") == true)
        // UTF-16 (with its byte-order mark) is not UTF-8.
        let utf16 = yamlError([0xFF, 0xFE] + Array("a: 1\n".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        #expect(utf16?.mark == YAMLMark(line: 1, column: 1))
        #expect(utf16?.message.contains("must be UTF-8") == true)
    }

    @Test func billionLaughsFailsFast() {
        // Nine aliases per level: level k names 9^k scalars. Hand count with keys and collections
        // as nodes: after line 5 the tree has 74 738 nodes and `e` costs 66 430, so the first
        // `*e` on line 6 (column 8) takes it past 100 000.
        var lines = ["a: &a [" + Array(repeating: "\"lol\"", count: 9).joined(separator: ", ") + "]"]
        let names = Array("abcdefghij").map(String.init)
        for i in 1..<names.count {
            let items = Array(repeating: "*" + names[i - 1], count: 9).joined(separator: ", ")
            lines.append("\(names[i]): &\(names[i]) [\(items)]")
        }
        let text = lines.joined(separator: "\n") + "\n"
        let start = Date()
        let e = yamlError(text)
        let seconds = Date().timeIntervalSince(start)
        #expect(e?.mark == YAMLMark(line: 6, column: 8))
        #expect(e?.message.contains("alias '*e' expands the document to more than 100000 nodes") == true)
        #expect(seconds < 2)
    }

    @Test func aliasLimits() {
        var few = YAML.Limits()
        few.maxAliases = 3
        expectError("a: &x 1\nb: [*x, *x, *x, *x]\n", 2, 17, "more than 3 aliases", limits: few)
        var shortText = YAML.Limits()
        shortText.maxExpandedScalarBytes = 100
        let forty = String(repeating: "x", count: 40)
        expectError("a: &x \(forty)\nb: *x\nc: *x\n", 3, 4, "more than 100 bytes of scalar text", limits: shortText)
        var shallow = YAML.Limits()
        shallow.maxDepth = 4
        // `*d` names a 3-deep sequence; placed at depth 2 it would make 5 levels.
        expectError("d: &d [[[1]]]\ne: [*d]\n", 2, 5, "deeper than 4 levels", "'*d'", limits: shallow)
        #expect(yamlError("d: &d [[[1]]]\ne: *d\n", limits: shallow) == nil)
    }

    @Test func nestingDepth() {
        // The root mapping is level 1, so the 64th '[' (column 3 + 64) opens level 65.
        let deep = "a: " + String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        expectError(deep, 1, 67, "nesting is deeper than 64 levels")
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(yamlError(ok) == nil)
        // Block mappings count too: line k holds the k-th level.
        var block = ""
        for k in 0..<65 { block += String(repeating: " ", count: k) + "k\(k):\n" }
        expectError(block + String(repeating: " ", count: 65) + "v: 1\n", 65, 65, "deeper than 64")
    }

    @Test func inputSizeLimit() {
        let big = String(repeating: "# filler line of comment text\n", count: (4 << 20) / 30 + 1)
        #expect(big.utf8.count > 4 << 20)
        expectError(big, 1, 1, "over the 4194304-byte limit")
        var small = YAML.Limits()
        small.maxBytes = 10
        expectError("a: 12345678\n", 1, 1, "12 bytes, over the 10-byte limit", limits: small)
    }

    @Test func nodeCountLimit() {
        var few = YAML.Limits()
        few.maxNodes = 5
        // Root mapping, key a, sequence, 1, 2: five nodes; the 3 is the sixth.
        expectError("a: [1, 2, 3]\n", 1, 11, "more than 5 nodes", limits: few)
    }
}
