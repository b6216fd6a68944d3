import Foundation
import Graph
import Nodes
import TensorCore
import Testing

// Limits that are not covered by the per-format suites (YAML size/depth/aliases in
// YAMLErrorTests, PNG pixels in ImagingTests, tensor headers and element counts in
// TensorCoreTests, seed sweeps in ValidationTests): graph size, captions, and a hostile graph
// file through the whole loader. Each asserts the message a user sees and where it points.
@Suite struct ReliabilityLimitsTests {
    /// A graph of `count` nodes, one per line from line 3: `input.text` nodes, then one writer.
    func wideGraph(_ count: Int) -> String {
        var s = "tedi: 1\nnodes:\n"
        s.reserveCapacity(count * 40)
        for i in 0..<(count - 1) { s += "  n\(i): { op: input.text, text: x }\n" }
        return s + "  w: { op: write.text, in: n0, path: a.txt }\n"
    }

    @Test func nodeCountIsCapped() throws {
        let limit = GraphLimits.maxNodes
        #expect(limit == 10_000)
        // At the limit: valid (only n0 feeds the writer).
        let atLimit = try GraphFile.parse(Array(wideGraph(limit).utf8), path: "g.yaml")
        let plan = try GraphValidator.validate(atLimit, catalog: NodeCatalog.standard)
        #expect(plan.nodes.map(\.id) == ["n0", "w"] && plan.unusedNodes.count == limit - 2)
        // One more: a single error at the first node past the limit (line 3 + limit, column 3).
        let d = expectOneError(wideGraph(limit + 1), at: limit + 3, 3,
                               "declares 10001 nodes, more than the limit of 10000", "split it into smaller graphs",
                               catalog: NodeCatalog.standard)
        #expect(d != nil)
    }

    @Test func inlineCaptionIsCapped() throws {
        let ok = String(repeating: "a", count: 10_000)
        let yaml = { (t: String) in "tedi: 1\nnodes:\n  t: { op: input.text, text: \(t) }\n  w: { op: write.text, in: t, path: c.txt }\n" }
        #expect(diagnostics(yaml(ok), catalog: NodeCatalog.standard).isEmpty)
        // Characters, not bytes: 10 000 two-byte characters are still fine.
        #expect(diagnostics(yaml(String(repeating: "é", count: 10_000)), catalog: NodeCatalog.standard).isEmpty)
        expectOneError(yaml(ok + "a"), at: 3, 30, "caption longer than 10000 characters", catalog: NodeCatalog.standard)
    }

    @Test func captionFileIsCapped() throws {
        let dir = try TempDir("caption-cap")
        let graph = "tedi: 1\nnodes:\n  t: { op: input.text, path: cap.txt }\n  w: { op: write.text, in: t, path: c.txt }\n"
        // Surrounding whitespace is trimmed before counting: exactly 10 000 characters pass.
        try dir.write("\n  " + String(repeating: "b", count: 10_000) + "  \n", to: "cap.txt")
        let plan = try loadPlan(graph, in: dir, catalog: NodeCatalog.standard)
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        #expect(dir.read("out/c.txt") == Array((String(repeating: "b", count: 10_000) + "\n").utf8))   // write.text ends with a newline

        // 10 001 characters (well under the 40 000-byte read limit): a node error naming the file.
        try dir.write(String(repeating: "b", count: 10_001), to: "cap.txt")
        let long = try GraphValidator.validate(try GraphFile.load(path: dir.path("graph.yaml")), catalog: NodeCatalog.standard)
        let e = #expect(throws: NodeError.self) { _ = try GraphRunner(plan: long, cache: nil, outDirectory: dir.sub("out2")).run(seeds: [0]) }
        #expect("\(e.map { "\($0)" } ?? "")".contains("caption is 10001 characters, longer than the limit of 10000"), "\(String(describing: e))")
        #expect(!FileManager.default.fileExists(atPath: dir.path("out2/c.txt")))

        // Far bigger: refused by size before it is read in full.
        try dir.write([UInt8](repeating: 0x62, count: 1 << 20), to: "cap.txt")
        let huge = try GraphValidator.validate(try GraphFile.load(path: dir.path("graph.yaml")), catalog: NodeCatalog.standard)
        let e2 = #expect(throws: NodeError.self) { _ = try GraphRunner(plan: huge, cache: nil, outDirectory: dir.sub("out3")).run(seeds: [0]) }
        #expect("\(e2.map { "\($0)" } ?? "")".contains("above the limit of 40000 bytes"), "\(String(describing: e2))")
    }

    /// A "billion laughs" graph (ten levels of ten aliases each, 10¹⁰ nodes when expanded) fails
    /// in the loader, quickly and with a position, before the validator sees anything.
    @Test func aliasBombGraphFailsFast() throws {
        var yaml = "tedi: 1\nparams:\n  l0: &l0 [lol]\n"
        for i in 1...10 { yaml += "  l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        yaml += "nodes: {}\n"
        let start = DispatchTime.now().uptimeNanoseconds
        let ds = diagnostics(yaml, catalog: NodeCatalog.standard)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        #expect(ds.count == 1)
        #expect(ds.first?.message.contains("limit") == true, "\(ds)")
        #expect(ds.first?.location?.file == "g.yaml")
        #expect(seconds < 1, "took \(seconds) s")
    }
}
