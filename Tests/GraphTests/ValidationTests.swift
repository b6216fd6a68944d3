import Foundation
import Graph
import Imaging
import Nodes
import Testing

/// Line and column (1-based) of the only occurrence of `marker` in `text`: where an error about
/// the token starting with `marker` must point.
func loc(_ text: String, _ marker: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> (Int, Int) {
    let lines = text.components(separatedBy: "\n")
    var found: [(Int, Int)] = []
    for (i, l) in lines.enumerated() {
        var search = l.startIndex..<l.endIndex
        while let r = l.range(of: marker, range: search) {
            found.append((i + 1, l.unicodeScalars.distance(from: l.unicodeScalars.startIndex, to: r.lowerBound) + 1))
            search = r.upperBound..<l.endIndex
        }
    }
    if found.count != 1 { Issue.record("marker '\(marker)' occurs \(found.count) times", sourceLocation: sourceLocation) }
    return found.first ?? (0, 0)
}

@discardableResult
func expectOneError(_ yaml: String, at p: (Int, Int), _ fragments: String..., sets: [(String, String)] = [],
                    sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Diagnostic? {
    let ds = diagnostics(yaml, sets: sets)
    guard ds.count == 1, let d = ds.first else {
        Issue.record("expected one error, got \(ds.count):\n\(ds.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
        return nil
    }
    checkError(d, at: p.0, p.1, fragments, sourceLocation: sourceLocation)
    return d
}

@Suite struct ValidationStructureTests {
    @Test func malformedYAMLReportsLibyamlMessageAndPosition() {
        // A tab cannot indent YAML: libyaml stops at the tab.
        expectOneError("tedi: 1\nnodes:\n\ta: { op: test.const }\n", at: 3, 1, "found character that cannot start any token")
        // A second ':' on one plain line.
        expectOneError("tedi: 1\nnodes:\n  a: op: x\n", at: 3, 8, "mapping values are not allowed")
        // An unterminated quote runs into the end of the stream (line 4, column 1 of a 3-line file).
        expectOneError("tedi: 1\nnodes:\n  a: { op: \"test.const }\n", at: 4, 1, "unexpected end of stream", "3:12")
    }

    @Test func missingVersion() {
        let yaml = """
        name: no-version
        nodes:
          a: { op: test.const }
          w: { op: write.png, in: a, path: a.png }
        """
        expectOneError(yaml, at: 1, 1, "missing 'tedi: 1'")
    }

    @Test func unsupportedOrMalformedVersion() {
        expectOneError("tedi: 2\nnodes:\n  a: { op: test.const }\n", at: 1, 7, "unsupported graph format version 2", "version 1")
        expectOneError("tedi: one\nnodes:\n  a: { op: test.const }\n", at: 1, 7, "'tedi:' must be the format version number")
        expectOneError("tedi: \"1\"\nnodes:\n  a: { op: test.const }\n", at: 1, 7, "'tedi:' must be the format version number")
    }

    @Test func unknownTopLevelKeyWithSuggestion() {
        let yaml = """
        tedi: 1
        nodez:
          a: { op: test.const }
        """
        expectOneError(yaml, at: loc(yaml, "nodez"), "unknown top-level key 'nodez'", "(did you mean 'nodes'?)", "expected one of tedi, name")
    }

    @Test func nodeThatIsNotAMap() {
        let yaml = """
        tedi: 1
        nodes:
          a: test.const
          w: { op: write.png, in: a, path: a.png }
        """
        expectOneError(yaml, at: loc(yaml, "test.const"), "node 'a' must be a map", "op")
        let list = "tedi: 1\nnodes:\n  a: [test.const]\n"
        expectOneError(list, at: loc(list, "[test"), "node 'a' must be a map")
    }

    @Test func nodeWithoutOp() {
        let yaml = """
        tedi: 1
        nodes:
          a: { value: 3 }
          w: { op: write.png, in: a, path: a.png }
        """
        expectOneError(yaml, at: loc(yaml, "a: {"), "node 'a' has no 'op'")
    }

    @Test func nodesSectionMustBeAMap() {
        let yaml = "tedi: 1\nnodes: [a, b]\n"
        expectOneError(yaml, at: loc(yaml, "[a"), "'nodes' must be a map")
    }
}

@Suite struct ValidationCatalogTests {
    @Test func unknownOpSuggestsTheClosestCatalogName() {
        let yaml = """
        tedi: 1
        nodes:
          a: { op: test.konst }
          w: { op: write.png, in: a, path: a.png }
        """
        expectOneError(yaml, at: loc(yaml, "test.konst"), "unknown op 'test.konst'", "(did you mean 'test.const'?)", "tedi nodes")
        let shipped = """
        tedi: 1
        nodes:
          t: { op: input.txt, text: hi }
          w: { op: write.png, in: t, path: a.png }
        """
        expectOneError(shipped, at: loc(shipped, "input.txt"), "unknown op 'input.txt' (did you mean 'input.text'?)")
    }

    @Test func unknownOpFarFromEveryNameHasNoSuggestion() {
        let yaml = "tedi: 1\nnodes:\n  a: { op: frobnicate.everything }\n  w: { op: write.png, in: a, path: a.png }\n"
        let d = expectOneError(yaml, at: loc(yaml, "frobnicate"), "unknown op 'frobnicate.everything'")
        #expect(d?.message.contains("did you mean") == false)
    }

    @Test func unknownParamSuggestsTheClosest() {
        let yaml = """
        tedi: 1
        nodes:
          a: { op: test.const, valeu: 3 }
          w: { op: write.png, in: a, path: a.png }
        """
        expectOneError(yaml, at: loc(yaml, "valeu"), "op 'test.const' has no param 'valeu'", "(did you mean 'value'?)", "params: value, size")
    }

    @Test func missingRequiredParam() {
        let yaml = """
        tedi: 1
        nodes:
          a: { op: test.const }
          r: { op: image.resize, in: a }
          w: { op: write.png, in: r, path: a.png }
        """
        expectOneError(yaml, at: loc(yaml, "r: {"), "node 'r' (image.resize) needs param 'width'", "int in 1…8192")
        let noPath = "tedi: 1\nnodes:\n  a: { op: test.const }\n  w: { op: write.png, in: a }\n"
        expectOneError(noPath, at: loc(noPath, "w: {"), "node 'w' (write.png) needs param 'path'")
    }

    @Test func wrongParamTypeSaysExpectedAndGot() {
        func graph(_ resizeParams: String) -> String {
            """
            tedi: 1
            nodes:
              a: { op: test.const }
              r: { op: image.resize, in: a, \(resizeParams) }
              w: { op: write.png, in: r, path: a.png }
            """
        }
        let s = graph("width: big")
        expectOneError(s, at: loc(s, "big"), "param 'width' of 'r' (image.resize)", "expected int in 1…8192, got string 'big'")
        let f = graph("width: 2.5")
        expectOneError(f, at: loc(f, "2.5"), "expected int in 1…8192, got float '2.5'")
        let b = graph("width: true")
        expectOneError(b, at: loc(b, "true"), "expected int in 1…8192, got bool 'true'")
        let range = graph("width: 0")
        expectOneError(range, at: shifted(loc(range, "width: 0"), 7), "0 is below the minimum 1")
        let choice = graph("width: 4, method: bilnear")
        expectOneError(choice, at: loc(choice, "bilnear"), "'bilnear' is not one of area, bilinear", "(did you mean 'bilinear'?)")
        let list = graph("width: { w: 4 }")
        expectOneError(list, at: loc(list, "{ w"), "param 'width' of 'r' must be a scalar")
        // A float param takes an int (widened) but not a string.
        let blend = """
        tedi: 1
        nodes:
          a: { op: test.const }
          m: { op: image.blend, in: { a: a, b: a }, alpha: "half" }
          w: { op: write.png, in: m, path: a.png }
        """
        expectOneError(blend, at: loc(blend, "\"half\""), "expected float in 0.0…1.0, got string 'half'")
        #expect(diagnostics(blend.replacingOccurrences(of: "\"half\"", with: "1")).isEmpty)
    }

    @Test func unknownInputPortSuggestsTheClosest() {
        let yaml = """
        tedi: 1
        nodes:
          a: { op: test.const }
          m: { op: image.blend, in: { a: a, bb: a } }
          w: { op: write.png, in: m, path: a.png }
        """
        // The misspelt port also leaves 'b' unconnected: two errors, in source order.
        let ds = diagnostics(yaml)
        #expect(ds.count == 2)
        if ds.count == 2 {
            checkError(ds[0], at: loc(yaml, "m: {").0, loc(yaml, "m: {").1, ["node 'm' (image.blend) needs input 'b'"])
            checkError(ds[1], at: loc(yaml, "bb:").0, loc(yaml, "bb:").1, ["op 'image.blend' has no input 'bb'", "(did you mean 'b'?)", "inputs: a, b"])
        }
        let none = "tedi: 1\nnodes:\n  a: { op: test.const }\n  b: { op: test.const, in: { x: a } }\n  w: { op: write.png, in: b, path: a.png }\n"
        expectOneError(none, at: loc(none, "x:"), "op 'test.const' has no input 'x'", "takes no inputs")
    }

    @Test func shorthandInputOnAnOpWithSeveralInputs() {
        let yaml = "tedi: 1\nnodes:\n  src: { op: test.const }\n  m: { op: image.blend, in: src }\n  w: { op: write.png, in: m, path: a.png }\n"
        expectOneError(yaml, at: loc(yaml, "src }"), "op 'image.blend' has several inputs (a, b)", "in: { PORT: source }")
    }

    @Test func missingRequiredInput() {
        let yaml = """
        tedi: 1
        nodes:
          a: { op: test.const }
          m: { op: image.blend, in: { a: a } }
          w: { op: write.png, in: m, path: a.png }
        """
        expectOneError(yaml, at: loc(yaml, "m: {"), "node 'm' (image.blend) needs input 'b'", "Image or Sketch or LabelMap")
    }

    @Test func sourceNodeThatDoesNotExist() {
        let yaml = """
        tedi: 1
        nodes:
          image: { op: test.const }
          small: { op: image.resize, in: imgae, width: 2 }
          w: { op: write.png, in: small, path: a.png }
        """
        expectOneError(yaml, at: loc(yaml, "imgae"), "node 'small': source node 'imgae' does not exist", "(did you mean 'image'?)")
    }

    @Test func sourcePortThatDoesNotExist() {
        let yaml = """
        tedi: 1
        nodes:
          a: { op: test.const }
          s: { op: test.split, in: a }
          w: { op: write.png, in: s.lfet, path: a.png }
        """
        expectOneError(yaml, at: loc(yaml, "s.lfet"), "node 's' (test.split) has no output 'lfet'", "(did you mean 'left'?)", "outputs: left, right")
        #expect(diagnostics(yaml.replacingOccurrences(of: "s.lfet", with: "s.right")).isEmpty)
        let writer = """
        tedi: 1
        nodes:
          a: { op: test.const }
          w: { op: write.png, in: a, path: a.png }
          v: { op: write.png, in: w, path: b.png }
        """
        expectOneError(writer, at: loc(writer, "w, path"), "node 'w' (write.png) has no output to connect")
    }

    @Test func portTypeMismatchNamesBothTypes() {
        let yaml = """
        tedi: 1
        nodes:
          caption: { op: input.text, text: a face }
          small: { op: image.resize, in: caption, width: 2 }
          w: { op: write.png, in: small, path: a.png }
        """
        expectOneError(yaml, at: loc(yaml, "caption, width"), "type mismatch: input 'in' of 'small' (image.resize) takes Image or Sketch, but 'caption' gives Text")
        // A Sketch is not an Image for image.grayscale; a named port shows in the source.
        let sketch = """
        tedi: 1
        nodes:
          a: { op: test.const }
          s: { op: sketch.edges, in: a }
          g: { op: image.grayscale, in: s.out }
          w: { op: write.png, in: g, path: a.png }
        """
        expectOneError(sketch, at: loc(sketch, "s.out"), "input 'in' of 'g' (image.grayscale) takes Image, but 's' gives Sketch")
        let split = """
        tedi: 1
        nodes:
          t: { op: input.text, text: a face }
          a: { op: test.const }
          s: { op: test.split, in: a }
          m: { op: image.blend, in: { a: s.right, b: t } }
          w: { op: write.png, in: m, path: a.png }
        """
        expectOneError(split, at: loc(split, "t } }"), "input 'b' of 'm' (image.blend) takes Image or Sketch or LabelMap, but 't' gives Text")
    }

    @Test func threeNodeCycleNamesItsPath() {
        let yaml = """
        tedi: 1
        nodes:
          a: { op: test.count, in: c }
          b: { op: test.count, in: a }
          c: { op: test.count, in: b }
          w: { op: write.png, in: c, path: a.png }
        """
        // Data flows a -> b -> c -> a; the path starts at the cycle's first declared node.
        expectOneError(yaml, at: loc(yaml, "a: {"), "cycle: a -> b -> c -> a")
        // The same cycle declared in another order still starts at the first declared node.
        let rotated = """
        tedi: 1
        nodes:
          w: { op: write.png, in: c, path: a.png }
          b: { op: test.count, in: a }
          c: { op: test.count, in: b }
          a: { op: test.count, in: c }
        """
        expectOneError(rotated, at: loc(rotated, "b: {"), "cycle: b -> c -> a -> b")
    }

    @Test func selfLoopAndTwoNodeCycle() {
        let selfLoop = "tedi: 1\nnodes:\n  a: { op: test.count, in: a }\n  w: { op: write.png, in: a, path: a.png }\n"
        expectOneError(selfLoop, at: loc(selfLoop, "a: {"), "cycle: a -> a")
        let two = """
        tedi: 1
        nodes:
          k: { op: test.const }
          x: { op: image.blend, in: { a: k, b: y } }
          y: { op: image.blend, in: { a: k, b: x } }
          w: { op: write.png, in: y, path: a.png }
        """
        expectOneError(two, at: loc(two, "x: {"), "cycle: x -> y -> x")
    }

    @Test func unresolvedSubstitution() {
        let yaml = """
        tedi: 1
        params:
          caption: hello
        nodes:
          t: { op: input.text, text: "${captoin}" }
          a: { op: test.const }
          w: { op: write.png, in: a, path: "face_${sed}.png" }
        """
        let ds = diagnostics(yaml)
        #expect(ds.count == 2)
        guard ds.count == 2 else { return }
        let (l1, c1) = loc(yaml, "\"${captoin}")
        checkError(ds[0], at: l1, c1, ["unresolved '${captoin}': no param 'captoin'", "(did you mean 'caption'?)"])
        let (l2, c2) = loc(yaml, "\"face_")
        checkError(ds[1], at: l2, c2, ["unresolved '${sed}'", "(did you mean 'seed'?)"])
        // `$$` is a literal dollar and resolved names substitute.
        let ok = yaml.replacingOccurrences(of: "${captoin}", with: "$${caption} ${caption}")
            .replacingOccurrences(of: "${sed}", with: "${seed}")
        #expect(diagnostics(ok).isEmpty)
    }

    @Test func outputPathsStayUnderOut() {
        func graph(_ path: String) -> String {
            """
            tedi: 1
            params:
              dir: sub
            nodes:
              a: { op: test.const }
              w: { op: write.png, in: a, path: \(path) }
            """
        }
        let abs = graph("/tmp/x.png")
        expectOneError(abs, at: loc(abs, "/tmp"), "output path '/tmp/x.png' is absolute", "--out")
        let up = graph("../x.png")
        expectOneError(up, at: loc(up, "../"), "output path '../x.png' leaves the --out directory through '..'")
        let deep = graph("a/b/../../../x.png")
        expectOneError(deep, at: loc(deep, "a/b"), "leaves the --out directory")
        let viaParam = graph("\"${dir}/x.png\"")
        #expect(diagnostics(viaParam).isEmpty)
        // The check runs on the resolved path, so a --set cannot smuggle '..' in either.
        let ds = diagnostics(viaParam, sets: [("dir", "..")])
        #expect(ds.count == 1)
        if let d = ds.first { checkError(d, at: loc(viaParam, "\"${dir}").0, loc(viaParam, "\"${dir}").1, ["output path '../x.png' leaves the --out directory"]) }
        let empty = graph("\"\"")
        expectOneError(empty, at: loc(empty, "\"\""), "expected a path, got an empty string")
    }

    @Test func graphWithoutWriterIsAnError() {
        let d = expectOneError("tedi: 1\nnodes:\n  a: { op: test.const }\n", at: nil, nil, "no writer node")
        #expect(d?.description.hasPrefix("tedi: error: the graph has no writer") == true)
    }

    @Test func everyErrorIsReportedInSourceOrder() {
        let yaml = """
        tedi: 1
        params:
          caption: hi
        nodes:
          t: { op: input.text, text: "${captoin}" }
          a: { op: test.const, valeu: 3 }
          r: { op: image.resize, in: caption, width: 4 }
          s: { op: image.resize, in: t, width: 4 }
          b: { op: test.cnst }
          w: { op: write.png, in: s, path: /x.png }
          v: { op: write.grid, in: { in: [a, r] }, path: g.png, columns: many }
        """
        let ds = diagnostics(yaml, sets: [("captoin", "x")])
        let expected: [((Int, Int)?, String)] = [
            (nil, "--set captoin=x: the graph declares no param 'captoin'"),
            (loc(yaml, "\"${captoin}"), "unresolved '${captoin}'"),
            (loc(yaml, "valeu"), "has no param 'valeu'"),
            (loc(yaml, "caption, width"), "source node 'caption' does not exist"),
            (loc(yaml, "t, width"), "takes Image or Sketch, but 't' gives Text"),
            (loc(yaml, "test.cnst"), "unknown op 'test.cnst'"),
            (loc(yaml, "/x.png"), "output path '/x.png' is absolute"),
            (loc(yaml, "many"), "expected int in 1…256, got string 'many'"),
        ]
        #expect(ds.count == expected.count, "\(GraphErrors(ds))")
        for (d, e) in zip(ds, expected) {
            checkError(d, at: e.0?.0, e.0?.1, [e.1])
        }
        // Rendered one per line, compiler style.
        #expect(GraphErrors(ds).description.split(separator: "\n").count == expected.count)
    }
}

@Suite struct CommandLineValueTests {
    let graph = """
    tedi: 1
    params:
      steps: 10
      alpha: 0.5
      flip: false
      caption: hi
    nodes:
      a: { op: test.const }
      w: { op: write.png, in: a, path: "x_${steps}_${alpha}_${flip}_${caption}.png" }
    """

    @Test func setOfAnUndeclaredParam() {
        let d = expectOneError(graph, at: nil, nil, "--set stpes=3: the graph declares no param 'stpes'", "(did you mean 'steps'?)",
                               "declared: seed, steps, alpha, flip, caption", sets: [("stpes", "3")])
        #expect(d?.description == "tedi: error: \(d?.message ?? "")")
    }

    @Test func setCoercionErrors() {
        expectOneError(graph, at: nil, nil, "--set steps=ten: expected int, got 'ten'", sets: [("steps", "ten")])
        expectOneError(graph, at: nil, nil, "--set steps=2.5: expected int, got '2.5'", sets: [("steps", "2.5")])
        expectOneError(graph, at: nil, nil, "--set alpha=lots: expected float, got 'lots'", sets: [("alpha", "lots")])
        expectOneError(graph, at: nil, nil, "--set alpha=inf: expected float", sets: [("alpha", "inf")])
        expectOneError(graph, at: nil, nil, "--set flip=yes: expected bool (true or false), got 'yes'", sets: [("flip", "yes")])
        expectOneError(graph, at: nil, nil, "--set seed=-x: expected int", sets: [("seed", "-x")])
        // All of them at once, in command-line order.
        let ds = diagnostics(graph, sets: [("flip", "1"), ("steps", "x"), ("nope", "1")])
        #expect(ds.map { String($0.message.prefix(12)) } == ["--set flip=1", "--set steps=", "--set nope=1"])
    }

    @Test func setCoercesToTheDeclaredType() throws {
        let file = try GraphFile.parse(Array(graph.utf8), path: "g.yaml")
        let plan = try GraphValidator.validate(file, catalog: TestOps.catalog(),
                                               sets: [("steps", "7"), ("alpha", "2"), ("flip", "true"), ("caption", "42"), ("seed", "9")])
        #expect(plan.params["steps"] == .int(7))
        #expect(plan.params["alpha"] == .float(2))
        #expect(plan.params["flip"] == .bool(true))
        #expect(plan.params["caption"] == .string("42"))
        #expect(plan.params["seed"] == .int(9))
        #expect(plan.paramOrder == ["seed", "steps", "alpha", "flip", "caption"])
        let w = try #require(plan.nodes.firstIndex { $0.id == "w" })
        #expect(try plan.resolvedParams(w, seed: 3)["path"] == .string("x_7_2.0_true_42.png"))
        // A later --set wins; the explicit seed argument wins over --set seed.
        let again = try GraphValidator.validate(file, catalog: TestOps.catalog(), sets: [("steps", "1"), ("steps", "2"), ("seed", "4")], seed: 11)
        #expect(again.params["steps"] == .int(2))
        #expect(again.params["seed"] == .int(11))
    }

    @Test func seedSpecs() throws {
        #expect(try SeedSpec.parse("5") == [5])
        #expect(try SeedSpec.parse("0-3") == [0, 1, 2, 3])
        #expect(try SeedSpec.parse("1,5,9") == [1, 5, 9])
        #expect(try SeedSpec.parse("9,0-2, 1 ,10") == [9, 0, 1, 2, 10])
        let bad: [(String, String)] = [
            ("", "empty item in seed list ''"),
            ("1,,2", "empty item in seed list '1,,2'"),
            ("1,", "empty item"),
            ("x", "bad seed 'x'"),
            ("-3", "bad seed '-3'"),
            ("1.5", "bad seed '1.5'"),
            ("3-", "bad seed range '3-'"),
            ("a-b", "bad seed range 'a-b'"),
            ("1-2-3", "bad seed range '1-2-3'"),
            ("5-2", "seed range '5-2' is empty"),
            ("0-100000", "more than 100000 seeds"),
            ("0-99999,100000", "more than 100000 seeds"),
            ("0-9223372036854775807", "more than 100000 seeds"),
            ("99999999999999999999", "bad seed"),
        ]
        for (text, fragment) in bad {
            do {
                let s = try SeedSpec.parse(text)
                Issue.record("'\(text)' parsed as \(s.prefix(5))…")
            } catch let e as SeedSpecError {
                #expect(e.description.hasPrefix("--seeds: "), "\(e)")
                #expect(e.description.contains(fragment), "'\(text)': \(e)")
            }
        }
    }

    @Test func shippedCatalogHasNoTestOps() {
        #expect(!NodeCatalog.standard.names.isEmpty)
        #expect(NodeCatalog.standard.names.allSatisfy { !$0.hasPrefix("test.") })
        #expect(NodeCatalog.standard.specs.values.allSatisfy { !$0.summary.isEmpty && $0.params.allSatisfy { !$0.doc.isEmpty } })
        #expect(TestOps.catalog()["test.count"] != nil)
        #expect(NodeCatalog.standard["test.count"] == nil)
    }
}

/// `p` moved right by `n` columns.
func shifted(_ p: (Int, Int), _ n: Int) -> (Int, Int) { (p.0, p.1 + n) }
