import Foundation
import Graph
import Nodes
import Testing

/// A generated graph of `count` nodes over the shipped ops: one PNG input, chains of resizes,
/// blends of a recent node with an older one, a `write.png` every 50 nodes and a final grid.
/// Returns the YAML and, per node, the ids it reads (for an independent order check).
func generatedGraph(count: Int) -> (yaml: String, sources: [String: [String]], writers: Int) {
    var lines = ["tedi: 1", "name: generated-\(count)", "params:", "  width: 8", "nodes:", "  n0: { op: input.image, path: in.png }"]
    var sources: [String: [String]] = ["n0": []]
    var values = ["n0"]   // ids of nodes with an Image output
    var writers = 0
    for i in 1..<(count - 1) {
        let id = "n\(i)"
        let last = values[values.count - 1]
        if i % 50 == 49 {
            lines.append("  \(id): { op: write.png, in: \(last), path: \"out_\(i)_${seed}.png\" }")
            sources[id] = [last]
            writers += 1
            continue
        }
        if i % 3 == 0 {
            let older = values[values.count / 2]
            lines.append("  \(id): { op: image.blend, in: { a: \(last), b: \(older) }, alpha: 0.\(i % 10) }")
            sources[id] = [last, older]
        } else {
            lines.append("  \(id): { op: image.resize, in: \(last), width: \"${width}\", method: \(i % 2 == 0 ? "area" : "bilinear") }")
            sources[id] = [last]
        }
        values.append(id)
    }
    let picks = stride(from: 1, to: values.count, by: max(1, values.count / 8)).map { values[$0] }
    lines.append("  n\(count - 1): { op: write.grid, in: { in: [\(picks.joined(separator: ", "))] }, path: grid.png, columns: 4 }")
    sources["n\(count - 1)"] = picks
    writers += 1
    return (lines.joined(separator: "\n") + "\n", sources, writers)
}

@Suite struct RunnerScaleTests {
    /// Correctness of validation and planning on the generated graph (fast; no timing).
    @Test func generatedThousandNodeGraphPlansInDependencyOrder() throws {
        let dir = try TempDir("gen")
        try writeFixturePNG(dir, "in.png")
        let g = generatedGraph(count: 1000)
        let plan = try loadPlan(g.yaml, in: dir, catalog: NodeCatalog.standard)
        #expect(plan.nodes.count + plan.unusedNodes.count == 1000)
        #expect(plan.nodes.filter { $0.spec.writes }.count == g.writers)
        var position: [String: Int] = [:]
        for (k, n) in plan.nodes.enumerated() { position[n.id] = k }
        for n in plan.nodes {
            for s in g.sources[n.id] ?? [] {
                #expect(position[s] != nil && position[s]! < position[n.id]!, "\(s) before \(n.id)")
            }
        }
        // Each planned node's connections are the generated ones, in order.
        for n in plan.nodes where !(g.sources[n.id] ?? []).isEmpty {
            #expect(n.inputs.map { plan.nodes[$0.node].id } == g.sources[n.id])
        }
    }

    /// `TEDI_SLOW=1 swift test -c release --filter validateAndPlanThousandNodes` prints the figure.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TEDI_SLOW"] == "1"))
    func validateAndPlanThousandNodes() throws {
        let dir = try TempDir("bench")
        try writeFixturePNG(dir, "in.png")
        let g = generatedGraph(count: 1000)
        let path = try dir.write(g.yaml, to: "gen.yaml")
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        var best = (parse: Double.infinity, validate: Double.infinity, keys: Double.infinity)
        for _ in 0..<5 {
            let t0 = now()
            let file = try GraphFile.load(path: path)
            let t1 = now()
            let plan = try GraphValidator.validate(file, catalog: NodeCatalog.standard)
            let t2 = now()
            let rows = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).plan(seeds: [0])
            let t3 = now()
            #expect(rows.count == plan.nodes.count)
            best = (min(best.parse, t1 - t0), min(best.validate, t2 - t1), min(best.keys, t3 - t2))
        }
        let total = best.parse + best.validate + best.keys
        print(String(format: "1000-node graph (%d bytes): parse %.1f ms, validate %.1f ms, plan (memo keys) %.1f ms, total %.1f ms (best of 5)",
                     g.yaml.utf8.count, best.parse * 1e3, best.validate * 1e3, best.keys * 1e3, total * 1e3))
        #if !DEBUG
        #expect(total < 1.0)
        #endif
    }
}
