import Foundation
import Graph
import Imaging
import Nodes
import TensorCore
import Testing

/// Stops the test training op at a chosen step, as a kill would (the op throws instead of the
/// process dying; what is on disk at that moment is the same).
final class CrashSwitch: @unchecked Sendable {
    var atStep: Int?
}

struct SimulatedCrash: Error, CustomStringConvertible {
    var description: String { "simulated crash" }
}

/// A deterministic "training" loop: 4 words of LCG state, one update per step.
enum TrainLoop {
    static let initial: [UInt32] = [1, 2, 3, 4]

    static func step(_ s: inout [UInt32], _ step: Int) {
        s = s.enumerated().map { i, v in v &* 1_664_525 &+ 1_013_904_223 &+ UInt32(step &* 7 &+ i) }
    }

    static func encode(_ s: [UInt32]) -> [UInt8] { s.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } } }

    static func decode(_ b: [UInt8]) -> [UInt32]? {
        guard b.count == 16 else { return nil }
        return (0..<4).map { i in (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[i * 4 + $1]) << (8 * UInt32($1)) } }
    }

    /// The final state by a plain loop, for reference.
    static func reference(steps: Int) -> [UInt32] {
        var s = initial
        for k in 0..<steps { step(&s, k) }
        return s
    }

    /// A 4×1 RGBA image of the state's bytes (16 bytes), so the result can be written and compared.
    static func image(_ s: [UInt32]) throws -> Image { try Image(width: 4, height: 1, channels: 4, pixels: encode(s)) }

    /// `test.train`: `steps` steps, checkpointed every `every`; counts each executed step.
    static func spec(_ counter: RunCounter, _ crash: CrashSwitch) -> NodeSpec {
        NodeSpec(name: "test.train", summary: "checkpointed loop (test only)", outputs: [("out", .image)],
                 params: [ParamSpec("steps", .int(min: 1, max: nil), default: .int(40), doc: "steps"),
                          ParamSpec("every", .int(min: 1, max: nil), default: .int(5), doc: "checkpoint interval")],
                 run: { ctx in
                     let body = { (s: inout [UInt32], k: Int) throws in
                         if crash.atStep == k { throw SimulatedCrash() }
                         counter.hit(ctx.nodeID)
                         step(&s, k)
                     }
                     let steps = ctx.int("steps")
                     guard let cp = ctx.checkpoint else {
                         var s = initial
                         for k in 0..<steps { try body(&s, k) }
                         return NodeResult(outputs: ["out": .image(try image(s))])
                     }
                     let (s, _) = try cp.run(steps: steps, every: ctx.int("every"), initial: { initial },
                                             encode: encode, decode: decode, isCancelled: ctx.isCancelled, body)
                     return NodeResult(outputs: ["out": .image(try image(s))])
                 })
    }
}

@Suite struct ReliabilityCheckpointTests {
    let graph = """
    tedi: 1
    nodes:
      t: { op: test.train, steps: 40, every: 5 }
      w: { op: write.png, in: t, path: t.png }
    """

    func catalog(_ counter: RunCounter, _ crash: CrashSwitch) -> Catalog {
        Catalog(Array(NodeCatalog.standard.specs.values) + [TrainLoop.spec(counter, crash)])
    }

    @Test func killedNodeResumesFromItsLastCheckpoint() throws {
        let dir = try TempDir("checkpoint")
        let counter = RunCounter(), crash = CrashSwitch()
        let plan = try loadPlan(graph, in: dir, catalog: catalog(counter, crash))
        let cache = DiskCache(root: dir.sub("cache"))

        // Dies during step 23: steps 0–22 ran, the checkpoint holds step 20.
        crash.atStep = 23
        #expect(throws: NodeError.self) { _ = try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("out")).run(seeds: [0]) }
        #expect(counter.total == 23)
        #expect(!FileManager.default.fileExists(atPath: dir.path("out/t.png")))
        let key = try #require(try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("x")).plan(seeds: [0]).first { $0.node == "t" }).key
        let cp = cache.checkpoint(key: key)
        let saved = try #require(cp.load())
        #expect(saved.step == 20)
        #expect(TrainLoop.decode(saved.state) == TrainLoop.reference(steps: 20))
        #expect(cp.url.path.hasPrefix(dir.path("cache/checkpoints/")))

        // The rerun resumes at 20: 20 more steps, the same result as an uninterrupted loop.
        crash.atStep = nil
        counter.reset()
        let report = try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("out")).run(seeds: [0])
        #expect(counter.total == 20)
        #expect(report.nodes.first { $0.id == "t" }?.status == .ran)
        let img = try PNG.decode(try #require(dir.read("out/t.png"))).image
        #expect(TrainLoop.decode(img.pixels) == TrainLoop.reference(steps: 40))
        // Once the result is cached the checkpoint is gone, and a third run executes nothing.
        #expect(cp.load() == nil)
        #expect(!FileManager.default.fileExists(atPath: cp.url.path))
        counter.reset()
        #expect(try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("out")).run(seeds: [0]).executed == 0)
        #expect(counter.total == 0)

        // Without a cache there is nowhere to checkpoint: the op runs its plain loop, same bytes.
        let plain = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("plain")).run(seeds: [0])
        #expect(plain.executed == 2)
        #expect(dir.read("plain/t.png") == dir.read("out/t.png"))
    }

    @Test func damagedOrForeignCheckpointsStartOver() throws {
        let dir = try TempDir("checkpoint-damage")
        var warnings: [String] = []
        let cp = Checkpoint(directory: dir.sub("cp"), key: String(repeating: "ab", count: 32))
        cp.onCorruption = { warnings.append($0) }
        #expect(cp.load() == nil)   // none yet
        try cp.save(step: 7, state: [1, 2, 3])
        #expect(cp.load()?.step == 7 && cp.load()?.state == [1, 2, 3])
        #expect(cp.url.path == dir.path("cp/ab/" + String(repeating: "ab", count: 32)))

        // Every single-byte flip and every truncation is caught; the file is then removed.
        let good = try #require(dir.read("cp/ab/" + String(repeating: "ab", count: 32)))
        for i in good.indices {
            var bad = good
            bad[i] ^= 0x10
            try Data(bad).write(to: cp.url)
            #expect(cp.load() == nil, "flip at byte \(i) not caught")
            #expect(!FileManager.default.fileExists(atPath: cp.url.path))
        }
        for n in [0, 5, 6, 38, 45, good.count - 1] {
            try Data(good.prefix(n)).write(to: cp.url)
            #expect(cp.load() == nil, "truncation to \(n) bytes not caught")
        }
        #expect(warnings.count == good.count + 6)
        #expect(warnings.allSatisfy { $0.contains("is damaged") && $0.contains("starting that node from the beginning") })

        // A state the node cannot decode, or a step past the end, restarts from the beginning.
        try cp.save(step: 3, state: [9])
        var steps: [Int] = []
        let r = try cp.run(steps: 6, every: 2, initial: { TrainLoop.initial }, encode: TrainLoop.encode, decode: TrainLoop.decode) { s, k in
            steps.append(k); TrainLoop.step(&s, k)
        }
        #expect(r.resumedAt == 0 && steps == Array(0..<6) && r.state == TrainLoop.reference(steps: 6))
        try cp.save(step: 99, state: TrainLoop.encode(TrainLoop.initial))
        steps = []
        let r2 = try cp.run(steps: 6, every: 2, initial: { TrainLoop.initial }, encode: TrainLoop.encode, decode: TrainLoop.decode) { s, k in
            steps.append(k); TrainLoop.step(&s, k)
        }
        #expect(r2.resumedAt == 0 && steps.count == 6)

        // Cancellation saves the last finished step before stopping, and the next call resumes there.
        cp.remove()
        var calls = 0
        #expect(throws: NodeCancelled.self) {
            _ = try cp.run(steps: 10, every: 4, initial: { TrainLoop.initial }, encode: TrainLoop.encode, decode: TrainLoop.decode,
                           isCancelled: { calls >= 3 }) { s, k in calls += 1; TrainLoop.step(&s, k) }
        }
        #expect(cp.load()?.step == 3)
        let r3 = try cp.run(steps: 10, every: 4, initial: { TrainLoop.initial }, encode: TrainLoop.encode, decode: TrainLoop.decode) { s, k in
            TrainLoop.step(&s, k)
        }
        #expect(r3.resumedAt == 3 && r3.state == TrainLoop.reference(steps: 10))
    }

    /// A checkpoint that cannot be written (here its folder is a file) costs only the ability to
    /// resume: the loop finishes with the right state and one warning.
    @Test func failedSavesDoNotStopTheLoop() throws {
        let dir = try TempDir("checkpoint-unwritable")
        try dir.write("not a folder", to: "blocked")
        let cp = Checkpoint(directory: dir.sub("blocked"), key: String(repeating: "ef", count: 32))
        var warnings: [String] = []
        cp.onWriteFailure = { warnings.append($0) }
        let r = try cp.run(steps: 12, every: 3, initial: { TrainLoop.initial }, encode: TrainLoop.encode, decode: TrainLoop.decode) { s, k in
            TrainLoop.step(&s, k)
        }
        #expect(r.state == TrainLoop.reference(steps: 12) && r.resumedAt == 0)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("could not save a checkpoint at step 3") == true, "\(warnings)")
        #expect(cp.load() == nil)
    }
}
