import Dispatch
import Foundation
import SynthFaces

/// What every trainer draws its data and randomness with: SynthFaces batches by split offset,
/// per-step seeds, the learning-rate schedule, and a prefetcher that renders the next batch.
enum TrainingData {
    /// Renders the samples at global `indices`, one after the other (the same whatever the thread count).
    static func render(dataSeed: UInt64, size: Int, indices: [Int]) throws -> [FaceSample] {
        try indices.map { try SynthFaces.sample(seed: dataSeed, index: $0, size: size) }
    }

    /// A renderer of plain values only, so it can run on a background thread beside the step.
    static func renderer(dataSeed: UInt64, size: Int) -> @Sendable ([Int]) throws -> [FaceSample] {
        { try render(dataSeed: dataSeed, size: size, indices: $0) }
    }

    /// Global indices of the `count` train-split samples from split offset `offset`.
    static func trainIndices(from offset: Int, count: Int) throws -> [Int] {
        let split = SynthFaces.Split.train
        guard offset >= 0, offset + count <= split.range.count else {
            throw ModelError("the SynthFaces train split has no full batch at offset \(offset); the run has used up the split")
        }
        return try (offset..<(offset + count)).map { try split.index($0) }
    }

    /// A seed for draw `purpose` of step `step` of a run seeded `seed` (splitmix64 of the three).
    static func stepSeed(_ seed: UInt64, step: Int, purpose: UInt64) -> UInt64 {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(step) &* 0xBF58_476D_1CE4_E5B9 &+ purpose &* 0x94D0_49BB_1331_11EB
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    /// `lr` at step `step` (0-based) of a cosine decay to 2% at step `steps`; constant when `steps` is 0.
    static func cosineDecay(_ lr: Float, step: Int, steps: Int) -> Float {
        guard steps > 0 else { return lr }
        let t = Double(min(step, steps)) / Double(steps)
        return lr * Float(0.02 + 0.98 * 0.5 * (1 + cos(Double.pi * t)))
    }
}

/// Renders the next batch on a background thread while the current step computes.
final class Prefetcher: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: (key: [Int], item: DispatchWorkItem, result: Result<[FaceSample], Error>?)?

    /// Starts rendering the samples `key` (global indices).
    func start(_ key: [Int], _ render: @escaping ([Int]) throws -> [FaceSample]) {
        var item: DispatchWorkItem!
        item = DispatchWorkItem { [weak self] in
            let r = Result { try render(key) }
            guard let self else { return }
            self.lock.lock(); self.pending?.result = r; self.lock.unlock()
        }
        lock.lock(); pending = (key, item, nil); lock.unlock()
        DispatchQueue.global().async(execute: item)
    }

    /// Train-split samples `offset..<offset+count` (rendered ahead by the previous call when it
    /// asked for these), and starts rendering the batch after them.
    func trainBatch(dataSeed: UInt64, size: Int, offset: Int, count: Int) throws -> [FaceSample] {
        // The background render gets plain values, never a trainer (whose state the step mutates).
        let render = TrainingData.renderer(dataSeed: dataSeed, size: size)
        let samples = try take(TrainingData.trainIndices(from: offset, count: count), render)
        if let next = try? TrainingData.trainIndices(from: offset + count, count: count) { start(next, render) }
        return samples
    }

    /// The samples `key`: the pending render's when it is for the same samples, else rendered now.
    func take(_ key: [Int], _ render: ([Int]) throws -> [FaceSample]) throws -> [FaceSample] {
        lock.lock(); let p = pending; lock.unlock()
        if let p, p.key == key {
            p.item.wait()
            lock.lock(); let r = pending?.result; pending = nil; lock.unlock()
            if let r { return try r.get() }
        }
        return try render(key)
    }
}
