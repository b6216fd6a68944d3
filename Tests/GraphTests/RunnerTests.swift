import Foundation
import Graph
import Imaging
import Nodes
import TensorCore
import Testing

/// A constant branch and a seeded branch, blended and written per seed; `lone` feeds nothing.
let sweepGraph = """
tedi: 1
params:
  level: 100
nodes:
  base:  { op: test.const, value: "${level}" }
  noise: { op: test.seeded }
  lone:  { op: test.const, value: 7 }
  mixed: { op: image.blend, in: { a: base, b: noise }, alpha: 0.25 }
  save:  { op: write.png, in: mixed, path: "mix_${seed}.png" }
"""

@Suite struct RunnerOrderTests {
    @Test func topologicalOrderBreaksTiesByDeclarationOrder() throws {
        let dir = try TempDir("order")
        let counter = RunCounter()
        // Ready at the start: p (0) and r (2). Kahn taking the first declared ready node gives
        // p, r, then q (1, ready once r ran) before s (3), then the writer.
        let yaml = """
        tedi: 1
        nodes:
          p: { op: test.const, value: 1 }
          q: { op: test.count, in: r }
          r: { op: test.const, value: 2 }
          s: { op: test.count, in: p }
          unused: { op: test.count, in: p }
          w: { op: write.grid, in: { in: [q, s] }, path: grid.png, columns: 2 }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: TestOps.catalog(counter))
        #expect(plan.nodes.map(\.id) == ["p", "r", "q", "s", "w"])
        #expect(plan.unusedNodes == ["unused"])
        // Writer declared first, sources after it: the order still follows the data.
        let reversed = """
        tedi: 1
        nodes:
          w: { op: write.png, in: m, path: m.png }
          m: { op: image.blend, in: { a: b, b: a } }
          b: { op: test.const }
          a: { op: test.const }
        """
        let plan2 = try loadPlan(reversed, in: dir, name: "r.yaml", catalog: TestOps.catalog(counter))
        #expect(plan2.nodes.map(\.id) == ["b", "a", "m", "w"])
        #expect(plan2.nodes[2].inputs.map(\.port) == ["a", "b"])
        #expect(plan2.nodes[2].inputs.map { plan2.nodes[$0.node].id } == ["b", "a"])

        // Running: only what feeds the writer executes, each dependency before its users, the
        // report lists nodes in plan order, and the same graph runs in the same order again.
        let report = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        #expect(report.nodes.map(\.id) == ["p", "r", "q", "s", "w"])
        #expect(report.nodes.allSatisfy { $0.status == .ran })
        #expect(counter.count("unused") == 0)
        let first = counter.sequence
        #expect(Set(first) == ["p", "q", "r", "s"])
        #expect(first.firstIndex(of: "r")! < first.firstIndex(of: "q")!)
        #expect(first.firstIndex(of: "p")! < first.firstIndex(of: "s")!)
        counter.reset()
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out2")).run(seeds: [0])
        #expect(counter.sequence == first)
        #expect(dir.read("out/grid.png") == dir.read("out2/grid.png"))
    }

    @Test func missingInputFileIsAGraphErrorAtItsParam() throws {
        let dir = try TempDir("missing")
        try writeFixturePNG(dir, "there.png")
        let yaml = """
        tedi: 1
        nodes:
          a: { op: input.image, path: gone.png }
          b: { op: input.image, path: there.png }
          c: { op: input.sketch, path: sub/also-gone.png }
          m: { op: image.blend, in: { a: a, b: b } }
          w: { op: write.png, in: m, path: m.png }
          v: { op: write.png, in: c, path: c.png }
        """
        // Validation finds missing inputs, before anything runs.
        do {
            let plan = try loadPlan(yaml, in: dir, name: "g.yaml", catalog: TestOps.catalog())
            _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
            Issue.record("the run should fail")
        } catch let e as GraphErrors {
            #expect(e.diagnostics.count == 2)
            let lines = e.description.split(separator: "\n").map(String.init)
            let (l1, c1) = shifted(loc(yaml, "path: gone.png"), 6), (l2, c2) = loc(yaml, "sub/also")
            #expect(lines.first == "\(dir.path("g.yaml")):\(l1):\(c1): error: node 'a': no such file: 'gone.png' (looked for \(dir.path("gone.png")))")
            #expect(lines.last == "\(dir.path("g.yaml")):\(l2):\(c2): error: node 'c': no such file: 'sub/also-gone.png' (looked for \(dir.path("sub/also-gone.png")))")
        }
        // A file that disappears after validation is still reported at its param, by the runner.
        try writeFixturePNG(dir, "gone.png")
        try FileManager.default.createDirectory(atPath: dir.path("sub"), withIntermediateDirectories: true)
        try writeFixturePNG(dir, "sub/also-gone.png")
        let plan = try loadPlan(yaml, in: dir, name: "g.yaml", catalog: TestOps.catalog())
        try FileManager.default.removeItem(atPath: dir.path("gone.png"))
        do {
            _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
            Issue.record("the run should fail")
        } catch let e as GraphErrors {
            let (l1, c1) = shifted(loc(yaml, "path: gone.png"), 6)
            #expect(e.description == "\(dir.path("g.yaml")):\(l1):\(c1): error: node 'a': cannot read input file '\(dir.path("gone.png"))' (param 'path')")
        }
        #expect(filesUnder(dir.sub("out")).isEmpty)
    }

    @Test func gridKeepsListOrderOfItsSources() throws {
        let dir = try TempDir("grid")
        let yaml = """
        tedi: 1
        nodes:
          dark: { op: test.const, value: 10, size: 2 }
          light: { op: test.const, value: 200, size: 2 }
          w: { op: write.grid, in: { in: [light, dark, light] }, path: g.png, columns: 3, padding: 1 }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: TestOps.catalog())
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        let (img, _) = try PNG.read(dir.path("out/g.png"))
        // Three 2×2 cells with 1 px of white padding around each: 10 × 4, cells at x = 1, 4, 7.
        #expect(img.width == 10 && img.height == 4)
        let c = img.channels
        func at(_ x: Int, _ y: Int) -> UInt8 { img.pixels[(y * img.width + x) * c] }
        #expect(at(0, 0) == 255)
        #expect(at(1, 1) == 200 && at(2, 2) == 200)
        #expect(at(4, 1) == 10 && at(5, 2) == 10)
        #expect(at(7, 1) == 200 && at(8, 2) == 200)
        #expect(at(3, 1) == 255)
    }

    /// `size:` fits a non-square picture by its longer side and centres it: an 8×6 photo at size 4
    /// becomes a 4×3 cell (rounded), not a stretched 4×4.
    @Test func gridSizeKeepsEachPicturesShape() throws {
        let dir = try TempDir("grid-size")
        try writeFixturePNG(dir, "photo.png")
        let yaml = """
        tedi: 1
        nodes:
          photo: { op: input.image, path: photo.png }
          w: { op: write.grid, in: { in: [photo, photo] }, path: g.png, columns: 2, padding: 0, size: 4 }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: TestOps.catalog())
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        let (img, _) = try PNG.read(dir.path("out/g.png"))
        #expect(img.width == 8 && img.height == 3)
        // Each cell is the photo shrunk as a whole: the same as resizing it to 4×3 directly.
        let small = try fixtureImage().resized(width: 4, height: 3, method: .area).withChannels(img.channels)
        for y in 0..<3 { for x in 0..<8 { for ch in 0..<img.channels {
            #expect(img.pixels[(y * 8 + x) * img.channels + ch] == small.pixels[(y * 4 + x % 4) * img.channels + ch])
        } } }
    }

    /// A declared param that no `${…}` refers to is listed, so a `--set` of it that changes nothing
    /// can be said; `$${x}` is a literal, not a reference, and `seed` is never listed.
    @Test func unusedParamsAreListed() throws {
        let yaml = """
        tedi: 1
        params: { seed: 3, size: 2, value: 9, unused: 1, literal: x }
        nodes:
          a: { op: test.const, value: "${value}", size: "${size}" }
          w: { op: write.png, in: a, path: "a_$${literal}.png" }
        """
        let dir = try TempDir("unused-params")
        let plan = try loadPlan(yaml, in: dir, catalog: TestOps.catalog())
        #expect(plan.unusedParams == ["unused", "literal"])
    }

    @Test func failingNodeNamesItselfAndWritesNothing() throws {
        let dir = try TempDir("fail")
        let yaml = """
        tedi: 1
        nodes:
          a: { op: test.const }
          ok: { op: write.png, in: a, path: ok.png }
          f: { op: test.fail, in: a }
          w: { op: write.png, in: f, path: bad.png }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: TestOps.catalog())
        let cacheDir = dir.sub("cache")
        do {
            _ = try GraphRunner(plan: plan, cache: DiskCache(root: cacheDir), outDirectory: dir.sub("out")).run(seeds: [0])
            Issue.record("the run should fail")
        } catch let e as NodeError {
            #expect(e.description.contains("node 'f' (test.fail) failed: deliberate failure"))
        }
        #expect(dir.read("out/bad.png") == nil)
        // Finished nodes stay cached; no entry for the failed one or its writer.
        #expect(filesUnder(cacheDir.appendingPathComponent("objects")).count == 2)
    }
}

@Suite struct RunnerCacheTests {
    @Test func sweepRunsSeedIndependentNodesOnce() throws {
        let dir = try TempDir("sweep")
        let counter = RunCounter()
        let plan = try loadPlan(sweepGraph, in: dir, catalog: TestOps.catalog(counter))
        #expect(plan.unusedNodes == ["lone"])
        let runner = GraphRunner(plan: plan, cache: DiskCache(root: dir.sub("cache")), outDirectory: dir.sub("out"))

        // Before running: `plan` sees base shared by every later seed, nothing cached.
        let rows = try runner.plan(seeds: [0, 1, 2, 3])
        #expect(rows.allSatisfy { !$0.cached })
        #expect(rows.filter(\.sharedWithEarlierSeed).map { "\($0.node)@\($0.seed)" } == ["base@1", "base@2", "base@3"])

        let seeds = try SeedSpec.parse("0-3")
        let report = try runner.run(seeds: seeds)
        #expect(counter.count("base") == 1)
        #expect(counter.count("noise") == 4)
        #expect(counter.count("lone") == 0)
        let st = statuses(report)
        #expect(st["base@0"] == .ran)
        for s in 1...3 {
            #expect(st["base@\(s)"] == .memo)
            #expect(st["noise@\(s)"] == .ran)
            #expect(st["mixed@\(s)"] == .ran)
            #expect(st["save@\(s)"] == .ran)
        }
        #expect(report.nodes.count == 16)
        #expect(report.executed == 13 && report.reused == 3)
        #expect(report.written == ["mix_0.png", "mix_1.png", "mix_2.png", "mix_3.png"])
        #expect(Set(report.nodes.filter { $0.id == "base" }.map(\.key)).count == 1)
        #expect(Set(report.nodes.filter { $0.id == "noise" }.map(\.key)).count == 4)

        // The --report JSON says the same.
        let json = try #require(JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        #expect(json["seeds"] as? [Int] == [0, 1, 2, 3])
        #expect(json["executed"] as? Int == 13)
        #expect(json["reused"] as? Int == 3)
        let nodes = try #require(json["nodes"] as? [[String: Any]])
        let baseRows = nodes.filter { $0["id"] as? String == "base" }
        #expect(baseRows.map { $0["status"] as? String } == ["ran", "memo", "memo", "memo"])
        #expect(baseRows.map { $0["seed"] as? Int } == [0, 1, 2, 3])
        #expect(nodes.allSatisfy { ($0["key"] as? String)?.count == 64 && $0["op"] is String && $0["seconds"] is Double })

        // Pixels: (1 − 0.25)·100 + 0.25·pattern(seed), rounded, computed here independently.
        for seed in seeds {
            let (img, text) = try PNG.read(dir.path("out/mix_\(seed).png"))
            #expect(img.width == 4 && img.height == 4 && img.channels == 3)
            let expected = (0..<48).map { i -> UInt8 in
                let p = Double((seed * 31 + i * 7) % 256)
                return UInt8((0.75 * 100 + 0.25 * p).rounded())
            }
            #expect(img.pixels == expected, "seed \(seed)")
            let recipe = try Recipe.parse(try #require(text[Recipe.textKey]), path: "mix.png")
            #expect(recipe.seed == seed)
            #expect(recipe.params == ["level": "100"])
        }
    }

    @Test func secondIdenticalRunExecutesNothing() throws {
        let dir = try TempDir("rerun")
        let counter = RunCounter()
        let plan = try loadPlan(sweepGraph, in: dir, catalog: TestOps.catalog(counter))
        let cache = dir.sub("cache")
        let first = try GraphRunner(plan: plan, cache: DiskCache(root: cache), outDirectory: dir.sub("out")).run(seeds: [0, 1])
        #expect(first.executed == 7)
        let bytes = filesUnder(dir.sub("out"))
        #expect(bytes.count == 2)
        counter.reset()

        // A new runner (a new process, as far as the memo knows) on the same cache and --out.
        let runner = GraphRunner(plan: plan, cache: DiskCache(root: cache), outDirectory: dir.sub("out"))
        #expect(try runner.plan(seeds: [0, 1]).allSatisfy(\.cached))
        let second = try runner.run(seeds: [0, 1])
        #expect(second.executed == 0)
        #expect(counter.total == 0)
        let st = statuses(second)
        #expect(st["save@0"] == .cached && st["save@1"] == .cached)
        #expect(["base", "noise", "mixed"].allSatisfy { st["\($0)@0"] == .skipped && st["\($0)@1"] == .skipped })
        #expect(second.written.isEmpty)
        #expect(second.upToDate == ["mix_0.png", "mix_1.png"])
        #expect(second.nodes.map(\.key) == first.nodes.map(\.key))

        // Into an empty --out: the files come from the cache, byte for byte.
        let third = try GraphRunner(plan: plan, cache: DiskCache(root: cache), outDirectory: dir.sub("out3")).run(seeds: [0, 1])
        #expect(third.executed == 0 && counter.total == 0)
        #expect(third.written == ["mix_0.png", "mix_1.png"])
        #expect(filesUnder(dir.sub("out3")) == bytes)

        // Without a cache everything runs again and gives the same bytes.
        let fresh = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out4")).run(seeds: [0, 1])
        #expect(fresh.executed == 7)
        #expect(filesUnder(dir.sub("out4")) == bytes)
    }

    /// Path of the cache entry of `key`, per the documented layout `ROOT/objects/KK/KEY`.
    func entry(_ cache: URL, _ key: String) -> URL {
        cache.appendingPathComponent("objects").appendingPathComponent(String(key.prefix(2))).appendingPathComponent(key)
    }

    func flipByte(_ url: URL, at offset: (Int) -> Int) throws {
        var b = [UInt8](try Data(contentsOf: url))
        let i = offset(b.count)
        b[i] ^= 0x5A
        try Data(b).write(to: url)
    }

    @Test func corruptCacheEntryIsReportedDroppedAndRecomputed() throws {
        let dir = try TempDir("corrupt")
        let counter = RunCounter()
        let plan = try loadPlan(sweepGraph, in: dir, catalog: TestOps.catalog(counter))
        let cacheRoot = dir.sub("cache")
        let first = try GraphRunner(plan: plan, cache: DiskCache(root: cacheRoot), outDirectory: dir.sub("out")).run(seeds: [0])
        let original = try #require(dir.read("out/mix_0.png"))
        let keys = Dictionary(uniqueKeysWithValues: first.nodes.map { ($0.id, $0.key) })
        #expect(FileManager.default.fileExists(atPath: entry(cacheRoot, keys["save"]!).path))

        // Flip one payload byte of the writer's entry.
        try flipByte(entry(cacheRoot, keys["save"]!)) { $0 - 1 }
        var warnings: [String] = []
        let cache = DiskCache(root: cacheRoot)
        cache.onCorruption = { warnings.append($0) }
        counter.reset()
        let second = try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("out2")).run(seeds: [0])
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains(String(keys["save"]!.prefix(12))) == true)
        #expect(warnings.first?.contains("checksum mismatch") == true)
        let st = statuses(second)
        #expect(st["save@0"] == .ran)
        #expect(st["mixed@0"] == .cached)
        #expect(st["base@0"] == .skipped && st["noise@0"] == .skipped)
        #expect(counter.total == 0)
        #expect(dir.read("out2/mix_0.png") == original)

        // The recomputed entry is whole again: the next run reads it without complaint.
        warnings = []
        let third = try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("out3")).run(seeds: [0])
        #expect(third.executed == 0 && warnings.isEmpty)
        #expect(dir.read("out3/mix_0.png") == original)
    }

    @Test func everyCorruptionKindIsCaught() throws {
        let dir = try TempDir("corrupt-all")
        let counter = RunCounter()
        let plan = try loadPlan(sweepGraph, in: dir, catalog: TestOps.catalog(counter))
        let cacheRoot = dir.sub("cache")
        let first = try GraphRunner(plan: plan, cache: DiskCache(root: cacheRoot), outDirectory: dir.sub("out")).run(seeds: [0])
        let original = try #require(dir.read("out/mix_0.png"))
        let keys = Dictionary(uniqueKeysWithValues: first.nodes.map { ($0.id, $0.key) })

        // Writer entry gone, blend's header damaged, base's checksum flipped, noise's file cut short.
        try FileManager.default.removeItem(at: entry(cacheRoot, keys["save"]!))
        try flipByte(entry(cacheRoot, keys["mixed"]!)) { _ in 0 }
        try flipByte(entry(cacheRoot, keys["base"]!)) { _ in 6 }
        try Data([0x54, 0x45]).write(to: entry(cacheRoot, keys["noise"]!))

        var warnings: [String] = []
        let cache = DiskCache(root: cacheRoot)
        cache.onCorruption = { warnings.append($0) }
        counter.reset()
        let second = try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("out2")).run(seeds: [0])
        #expect(second.executed == 4)
        #expect(counter.count("base") == 1 && counter.count("noise") == 1)
        #expect(warnings.count == 3)
        #expect(warnings.filter { $0.contains("bad header") }.count == 2)
        #expect(warnings.filter { $0.contains("checksum mismatch") }.count == 1)
        #expect(dir.read("out2/mix_0.png") == original)
        // No stray temp files are left beside the entries.
        #expect(filesUnder(cacheRoot).keys.allSatisfy { !($0.split(separator: "/").last ?? "").hasPrefix(".") })
        #expect(try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("out3")).run(seeds: [0]).executed == 0)
    }

    @Test func twoConcurrentRunnersShareOneCache() throws {
        let dir = try TempDir("concurrent")
        let counter = RunCounter()
        let plan = try loadPlan(sweepGraph, in: dir, catalog: TestOps.catalog(counter))
        let cacheRoot = dir.sub("cache")
        let lock = NSLock()
        var reports: [Int: RunReport] = [:]
        var failures: [String] = []
        // Two runners, two threads, one cache; seeds in opposite orders so they race on the same keys.
        let seedOrders = [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0]]
        DispatchQueue.concurrentPerform(iterations: 2) { k in
            do {
                let r = try GraphRunner(plan: plan, cache: DiskCache(root: cacheRoot), outDirectory: dir.sub("out\(k)")).run(seeds: seedOrders[k])
                lock.lock(); reports[k] = r; lock.unlock()
            } catch {
                lock.lock(); failures.append("\(error)"); lock.unlock()
            }
        }
        #expect(failures.isEmpty)
        #expect(reports.count == 2)
        let a = filesUnder(dir.sub("out0")), b = filesUnder(dir.sub("out1"))
        #expect(a.count == 6)
        #expect(a == b)
        // Same bytes as a run on its own, without any cache.
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("solo")).run(seeds: [0, 1, 2, 3, 4, 5])
        #expect(filesUnder(dir.sub("solo")) == a)
        // The shared cache holds only whole entries: a later run executes nothing and warns of nothing.
        var warnings: [String] = []
        let cache = DiskCache(root: cacheRoot)
        cache.onCorruption = { warnings.append($0) }
        #expect(try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("out0")).run(seeds: [0, 1, 2, 3, 4, 5]).executed == 0)
        #expect(warnings.isEmpty)
        // 1 base + 6 × (noise, mixed, save).
        #expect(cache.info().entries == 19)
    }
}

@Suite struct RunnerRecipeTests {
    let graph = """
    tedi: 1
    params:
      width: 4
      caption: a face
    nodes:
      photo: { op: input.image, path: in/photo.png }
      small: { op: image.resize, in: photo, width: "${width}" }
      noise: { op: test.seeded, size: 2 }
      big:   { op: image.resize, in: noise, width: "${width}", height: 4, method: bilinear }
      mixed: { op: image.blend, in: { a: small, b: big }, alpha: 0.5 }
      lines: { op: sketch.edges, in: photo }
      save:  { op: write.png, in: mixed, path: "out_${seed}.png" }
      edges: { op: write.png, in: lines, path: "sub/edges_${caption}.png" }
    """

    @Test func pngEmbeddedRecipeRerunsToIdenticalBytes() throws {
        let dir = try TempDir("recipe")
        try writeFixturePNG(dir, "in/photo.png")
        let graphPath = try dir.write(graph, to: "g.yaml")
        let catalog = TestOps.catalog()
        let plan = try GraphValidator.validate(try GraphFile.load(path: graphPath), catalog: catalog,
                                               sets: [("width", "5"), ("caption", "x y")], seed: 3)
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [3])
        let written = try #require(dir.read("out/out_3.png"))
        #expect(dir.read("out/sub/edges_x y.png") != nil)

        // Read the recipe back out of the PNG.
        let (img, text) = try PNG.decode(written)
        #expect(img.width == 5 && img.height == 4)   // 8×6 photo at width 5 keeps its aspect: 5×4
        let recipe = try Recipe.parse(try #require(text[Recipe.textKey]), path: "out_3.png")
        #expect(recipe.seed == 3)
        #expect(recipe.params == ["width": "5", "caption": "x y"])
        #expect(recipe.source == graph)
        // The temporary folder is outside the checkout and the working directory: the graph by
        // absolute path, its files as the graph writes them (relative to its folder).
        #expect(recipe.graphPath == URL(fileURLWithPath: graphPath).standardizedFileURL.path)
        #expect(recipe.files == ["in/photo.png": SHA256.hex(of: try #require(dir.read("in/photo.png")))])
        #expect(recipe.shipped.isEmpty)

        // Rerun it from the recipe alone into another --out, with no cache: same bytes.
        func rerun(into out: String) throws -> [UInt8]? {
            let file = try GraphFile.parse(Array(recipe.source.utf8), path: recipe.graphPath)
            let p = try GraphValidator.validate(file, catalog: catalog, sets: recipe.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                                                seed: recipe.seed)
            _ = try GraphRunner(plan: p, cache: nil, outDirectory: dir.sub(out)).run(seeds: [recipe.seed])
            return dir.read("\(out)/out_3.png")
        }
        #expect(try rerun(into: "again") == written)
        #expect(dir.read("again/sub/edges_x y.png") == dir.read("out/sub/edges_x y.png"))

        // The recipe carries the graph's source, so editing or removing the file it came from
        // does not change what the rerun produces.
        try dir.write(graph.replacingOccurrences(of: "alpha: 0.5", with: "alpha: 0.9"), to: "g.yaml")
        #expect(try rerun(into: "edited") == written)
        try FileManager.default.removeItem(atPath: graphPath)
        #expect(try rerun(into: "removed") == written)
    }

    @Test func changedInputChangesOnlyTheKeysThatDependOnIt() throws {
        let dir = try TempDir("inputs")
        try writeFixturePNG(dir, "in/photo.png")
        try writeFixturePNG(dir, "in/other.png", shift: 50)
        let yaml = """
        tedi: 1
        nodes:
          photo: { op: input.image, path: in/photo.png }
          other: { op: input.image, path: in/other.png }
          a:     { op: image.grayscale, in: photo }
          b:     { op: image.resize, in: other, width: 4 }
          c:     { op: test.const, size: 4 }
          ab:    { op: image.blend, in: { a: a, b: other } }
          wa:    { op: write.png, in: ab, path: ab.png }
          wb:    { op: write.png, in: b, path: b.png }
          wc:    { op: write.png, in: c, path: c.png }
        """
        let counter = RunCounter()
        let plan = try loadPlan(yaml, in: dir, catalog: TestOps.catalog(counter))
        func keys() throws -> [String: String] {
            let rows = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).plan(seeds: [0])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0.node, $0.key) })
        }
        let before = try keys()
        #expect(try keys() == before)
        let cache = dir.sub("cache")
        _ = try GraphRunner(plan: plan, cache: DiskCache(root: cache), outDirectory: dir.sub("out")).run(seeds: [0])

        try writeFixturePNG(dir, "in/photo.png", shift: 9)
        let after = try keys()
        let changed = Set(before.keys.filter { before[$0] != after[$0] })
        // photo and what reads it; writers also embed every input's hash in their recipe.
        #expect(changed == ["photo", "a", "ab", "wa", "wb", "wc"])

        // A run now recomputes the changed non-writers, reads b and c from the cache, and
        // skips `other` (nothing that needs it is missing).
        counter.reset()
        let report = try GraphRunner(plan: plan, cache: DiskCache(root: cache), outDirectory: dir.sub("out")).run(seeds: [0])
        let st = statuses(report)
        #expect(st["photo@0"] == .ran && st["a@0"] == .ran && st["ab@0"] == .ran)
        #expect(st["other@0"] == .cached)
        #expect(st["b@0"] == .cached && st["c@0"] == .cached)
        #expect(counter.count("c") == 0)
        #expect(report.written == ["ab.png", "b.png", "c.png"])
    }

    @Test func changedParamChangesOnlyDownstreamKeys() throws {
        let dir = try TempDir("params")
        let yaml = """
        tedi: 1
        params:
          v: 10
        nodes:
          k: { op: test.const, value: 3 }
          x: { op: test.const, value: "${v}" }
          y: { op: test.count, in: x }
          z: { op: test.count, in: k }
          m: { op: image.blend, in: { a: y, b: z } }
          w: { op: write.png, in: m, path: m.png }
        """
        func keys(_ v: String) throws -> [String: String] {
            let plan = try loadPlan(yaml, in: dir, catalog: TestOps.catalog(), sets: [("v", v)])
            let rows = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).plan(seeds: [0])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0.node, $0.key) })
        }
        let a = try keys("10"), b = try keys("11")
        #expect(Set(a.keys.filter { a[$0] != b[$0] }) == ["x", "y", "m", "w"])
        #expect(try keys("10") == a)
        // `value: 3` and `value: "${v}"` with v = 3 are the same resolved param: same key.
        let c = try keys("3")
        #expect(c["x"] == a["k"])
    }

    @Test func sourceOrderOfAListPortIsPartOfTheKey() throws {
        let dir = try TempDir("listkey")
        func keys(_ list: String) throws -> [String: String] {
            let yaml = """
            tedi: 1
            nodes:
              x: { op: test.const, value: 1 }
              y: { op: test.const, value: 2 }
              w: { op: write.grid, in: { in: [\(list)] }, path: g.png }
            """
            let plan = try loadPlan(yaml, in: dir, catalog: TestOps.catalog())
            let rows = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).plan(seeds: [0])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0.node, $0.key) })
        }
        let xy = try keys("x, y"), yx = try keys("y, x"), xx = try keys("x, x")
        #expect(xy["x"] == yx["x"] && xy["y"] == yx["y"])
        #expect(Set([xy["w"], yx["w"], xx["w"]]).count == 3)
    }
}

@Suite struct DiskCacheTests {
    @Test func infoGcAndClear() throws {
        let dir = try TempDir("cache-gc")
        let cache = DiskCache(root: dir.sub("cache"))
        let keys = (0..<4).map { i in String(repeating: "\(i)", count: 64) }
        for (i, k) in keys.enumerated() { try cache.write(k, [UInt8](repeating: UInt8(i), count: 100)) }
        // Each entry: 6-byte magic + 32-byte checksum + payload.
        #expect(cache.info().entries == 4 && cache.info().bytes == 4 * 138)
        #expect(cache.read(keys[2]) == [UInt8](repeating: 2, count: 100))
        #expect(cache.read(String(repeating: "f", count: 64)) == nil)
        // Last use = modification time; make entry 3 the oldest, then 0, 1, 2.
        let fm = FileManager.default
        for (k, age) in [(keys[3], 400.0), (keys[0], 300), (keys[1], 200), (keys[2], 100)] {
            let url = dir.sub("cache/objects/\(k.prefix(2))/\(k)")
            try fm.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -age)], ofItemAtPath: url.path)
        }
        let (removed, freed) = cache.gc(maxBytes: 2 * 138)
        #expect(removed == 2 && freed == 2 * 138)
        #expect(cache.read(keys[3]) == nil && cache.read(keys[0]) == nil)
        #expect(cache.read(keys[1]) != nil && cache.read(keys[2]) != nil)
        try cache.clear()
        #expect(cache.info().entries == 0)
        #expect(DiskCache.parseSize("500M") == 500 << 20)
        #expect(DiskCache.parseSize("2G") == 2 << 30)
        #expect(DiskCache.parseSize("10k") == 10 << 10)
        #expect(DiskCache.parseSize("1024") == 1024)
        #expect(DiskCache.parseSize("lots") == nil && DiskCache.parseSize("-5M") == nil)
    }
}
