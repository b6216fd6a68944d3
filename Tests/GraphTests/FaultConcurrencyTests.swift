import Foundation
import Graph
import Nodes
import Testing

/// Several `tedi run` processes on one cache at once, with two graphs that share a node (so they
/// race on the same cache key) and seed lists in opposite orders. Every run must succeed and
/// write exactly what a serial run writes; the cache must hold only whole entries afterwards.
/// (Two processes running the same graph are covered by RunnerCLITests.)
@Suite(.serialized) struct FaultConcurrencyTests {
    struct Job { var graph: String; var out: String; var seeds: String }

    /// Serial reference outputs for graphs a and b (each on its own cache).
    func references(_ dir: TempDir) throws -> [String: [String: [UInt8]]] {
        try dir.write(FaultGraphs.a, to: "a.yaml")
        try dir.write(FaultGraphs.b, to: "b.yaml")
        var refs: [String: [String: [UInt8]]] = [:]
        for g in ["a", "b"] {
            let r = try tedi(["run", "\(g).yaml", "--seeds", "0-3", "--cache", "ref-cache-\(g)", "--out", "ref-\(g)", "--quiet"], in: dir.url)
            try #require(r.code == 0, "\(r.stderr)")
            refs[g] = sweepOutputs(dir.sub("ref-\(g)"))
        }
        try #require(refs["a"]?.count == 8 && refs["b"]?.count == 8)
        return refs
    }

    /// Starts every job at once on `cache`, waits for all, and checks them against `refs`.
    func race(_ jobs: [Job], cache: String, in dir: TempDir, refs: [String: [String: [UInt8]]]) throws {
        let started = try jobs.map { j in
            try TediProcess(["run", "\(j.graph).yaml", "--seeds", j.seeds, "--cache", cache, "--out", j.out, "--quiet"], in: dir.url)
        }
        let results = started.map { $0.finish() }
        for (j, r) in zip(jobs, results) {
            #expect(r.code == 0, "\(j.graph) → \(j.out): \(r.stderr)")
            #expect(r.stderr.isEmpty, "\(j.graph) → \(j.out): \(r.stderr)")
        }
        for j in jobs {
            let outs = OutputScan(dir.sub(j.out), reference: refs[j.graph] ?? [:])
            #expect(outs.problems.isEmpty && outs.complete == refs[j.graph]?.count && outs.temps == 0,
                    "\(j.out): \(outs.problems), \(outs.complete) complete, \(outs.temps) temp files")
        }
        let scan = CacheScan(dir.sub(cache))
        #expect(scan.corrupt.isEmpty && scan.temps.isEmpty, "corrupt \(scan.corrupt), temps \(scan.temps)")
    }

    @Test func twoAndFourProcessesOnOneCache() throws {
        _ = try requireTedi()
        let dir = try TempDir("concurrent-procs")
        let refs = try references(dir)
        let rounds = slowFaultTests ? 10 : 1
        var runs = 0
        for k in 0..<rounds {
            // Two processes, different graphs.
            let two = [Job(graph: "a", out: "two-a-\(k)", seeds: "0-3"), Job(graph: "b", out: "two-b-\(k)", seeds: "3,2,1,0")]
            try race(two, cache: "cache2-\(k)", in: dir, refs: refs)
            // Four: the same graph twice into one output folder (racing on final names too), the
            // other graph twice into separate folders, seeds in both orders.
            let four = [Job(graph: "a", out: "four-a-\(k)", seeds: "0-3"), Job(graph: "a", out: "four-a-\(k)", seeds: "3,2,1,0"),
                        Job(graph: "b", out: "four-b1-\(k)", seeds: "0-3"), Job(graph: "b", out: "four-b2-\(k)", seeds: "3,2,1,0")]
            try race(four, cache: "cache4-\(k)", in: dir, refs: refs)
            runs += two.count + four.count
            // A serial run afterwards finds everything cached.
            let after = try tedi(["run", "b.yaml", "--seeds", "0-3", "--cache", "cache4-\(k)", "--out", "four-b1-\(k)"], in: dir.url)
            #expect(after.stdout.contains("0 node runs executed"), "\(after.stdout)")
        }
        print("fault concurrency: \(rounds) round(s) of 2 + 4 concurrent processes (\(runs) runs), all exit 0, outputs identical to serial runs, 0 corrupt cache entries")
    }
}

/// Found by the concurrency test: a writer with a seed-free path in a sweep wrote one file per
/// seed under the same name, each embedding its own seed, so the file kept depended on seed
/// order (and on which concurrent process finished last). Such sweeps are now refused up front.
@Suite struct FaultSweepOutputTests {
    @Test func sweepWritingOneNameForEverySeedIsRefused() throws {
        let dir = try TempDir("sweep-names")
        let yaml = """
        tedi: 1
        nodes:
          face:  { op: synthfaces.sample, size: 32 }
          ref:   { op: synthfaces.sample, seed: 5, size: 32 }
          each:  { op: write.png, in: face.image, path: "face_${seed}.png" }
          thumb: { op: write.png, in: ref.image, path: ref.png }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        let runner = GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out"))
        let e = #expect(throws: GraphErrors.self) { _ = try runner.run(seeds: [3, 1, 2]) }
        let d = try #require(e?.diagnostics)
        #expect(d.count == 1)
        #expect(d.first?.location?.line == 6 && d.first?.location?.column == 48, "\(d)")
        #expect(d.first?.message.contains("node 'thumb' would write 'ref.png' for seed 3 and seed 1 of the sweep") == true, "\(d)")
        #expect(d.first?.message.contains("put ${seed} in 'path', e.g. \"ref_${seed}.png\"") == true, "\(d)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("out")))   // refused before anything ran
        // One seed is fine, and so is a sweep once the path names the seed.
        #expect(try runner.run(seeds: [1]).written == ["face_1.png", "ref.png"])
        let fixed = try loadPlan(yaml.replacingOccurrences(of: "path: ref.png", with: "path: \"ref_${seed}.png\""), in: dir, name: "f.yaml", catalog: NodeCatalog.standard)
        #expect(try GraphRunner(plan: fixed, cache: nil, outDirectory: dir.sub("out2")).run(seeds: [0, 1]).written.count == 4)
    }
}
