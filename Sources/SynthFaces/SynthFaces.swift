import Dispatch
import Foundation
import Imaging
import TensorCore

/// One SynthFaces sample: attributes and the four modalities rendered from the same geometry.
public struct FaceSample: Sendable {
    public let seed: UInt64
    public let index: Int
    /// Side length S in pixels.
    public let size: Int
    public let attributes: FaceAttributes
    /// S*S*3 RGB bytes, row-major HWC.
    public let image: [UInt8]
    /// S*S CelebAMask-HQ class ids (0...18, see `SynthFaces.classNames`).
    public let label: [UInt8]
    /// S*S grayscale line drawing, black lines (0) on white (255).
    public let sketch: [UInt8]
    /// 5–10 captions, each with the attributes it states.
    public let captions: [Caption]

    /// S*S*3 RGB bytes of the label map in the CelebAMask-HQ palette.
    public func labelColorImage() -> [UInt8] { SynthFaces.colorize(label) }
}

/// Errors for bad SynthFaces requests.
public enum SynthFacesError: Error, CustomStringConvertible, Equatable {
    case badSize(Int)
    case badIndex(Int)
    case splitExhausted(split: String, offset: Int, count: Int)
    case badBatch(Int)

    public var description: String {
        switch self {
        case .badSize(let s): return "SynthFaces: image size \(s) is out of range; use a size in \(SynthFaces.sizeRange) (64, 128 or 256 are typical)"
        case .badIndex(let i): return "SynthFaces: sample index \(i) is out of range; indices run from 0 to \(SynthFaces.maxIndex - 1)"
        case .splitExhausted(let s, let o, let c): return "SynthFaces: split '\(s)' has \(c) samples; offset \(o) is past its end (use a smaller --count or another split)"
        case .badBatch(let n): return "SynthFaces: batch size \(n) must be at least 1"
        }
    }
}

/// A procedural multi-modal face dataset (the stand-in for Multi-Modal CelebA-HQ): every sample is
/// a pure function of (seed, index), independent of thread count and of the requested size.
///
/// Randomness: sample `index` uses three Philox streams under `seed`, stream = index·4 + purpose
/// (0 attributes, 1 render jitter and texture, 2 captions), so attributes, pixels and captions can
/// each be regenerated alone.
public enum SynthFaces {
    /// The 19 CelebAMask-HQ class names, indexed by label id. `l_*` parts are on the image's left.
    public static var classNames: [String] { FaceClasses.names }

    /// The conventional CelebAMask-HQ colour for each class id (RGB).
    public static var palette: [(UInt8, UInt8, UInt8)] { FaceClasses.palette }

    /// Supported image sizes.
    public static let sizeRange = 16...1024
    /// Indices must be below this (2^40) so stream numbers never collide.
    public static let maxIndex = 1 << 40

    /// What a Philox stream of a sample is used for.
    public enum StreamPurpose: UInt64, Sendable { case attributes = 0, render = 1, captions = 2 }

    /// Philox stream number of sample `index` for `purpose`: index·4 + purpose.
    public static func stream(index: Int, purpose: StreamPurpose) -> UInt64 {
        (UInt64(truncatingIfNeeded: index) << 2) | purpose.rawValue
    }

    static func check(index: Int) throws {
        guard index >= 0, index < maxIndex else { throw SynthFacesError.badIndex(index) }
    }

    /// Attributes of sample `index` (cheap; no rendering).
    public static func attributes(seed: UInt64, index: Int) throws -> FaceAttributes {
        try check(index: index)
        return FaceAttributes.draw(seed: seed, index: index)
    }

    /// Captions of sample `index` (cheap; no rendering).
    public static func captions(seed: UInt64, index: Int) throws -> [Caption] {
        let a = try attributes(seed: seed, index: index)
        var rng = Philox(seed: seed, stream: stream(index: index, purpose: .captions))
        return CaptionGrammar.captions(for: a, rng: &rng)
    }

    /// Renders sample `index` at `size`×`size`: attributes, image, label map, sketch and captions.
    public static func sample(seed: UInt64, index: Int, size: Int) throws -> FaceSample {
        guard sizeRange.contains(size) else { throw SynthFacesError.badSize(size) }
        let a = try attributes(seed: seed, index: index)
        var rrng = Philox(seed: seed, stream: stream(index: index, purpose: .render))
        let rig = FaceRig(a, rng: &rrng)
        var cv = Canvas(size: size)
        FaceRenderer.render(rig, into: &cv)
        var image = [UInt8](repeating: 0, count: size * size * 3)
        for i in 0..<image.count {
            image[i] = UInt8(max(0, min(255, (cv.rgb[i] * 255).rounded())))
        }
        let sketch = SketchRenderer.draw(label: cv.label, ink: cv.ink, size: size, seed: rig.seed)
        var crng = Philox(seed: seed, stream: stream(index: index, purpose: .captions))
        let caps = CaptionGrammar.captions(for: a, rng: &crng)
        return FaceSample(seed: seed, index: index, size: size, attributes: a, image: image, label: cv.label,
                          sketch: sketch, captions: caps)
    }

    /// Renders `indices` in parallel (`threads` workers, default `Threads.count`); element k is
    /// sample `indices.lowerBound + k`, byte-identical whatever the thread count.
    public static func samples(seed: UInt64, indices: Range<Int>, size: Int, threads: Int? = nil) throws -> [FaceSample] {
        guard sizeRange.contains(size) else { throw SynthFacesError.badSize(size) }
        if indices.isEmpty { return [] }
        try check(index: indices.lowerBound)
        try check(index: indices.upperBound - 1)
        let n = indices.count
        var out = [FaceSample?](repeating: nil, count: n)
        let workers = max(1, min(n, threads ?? Threads.count))
        out.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            // Contiguous blocks, one per worker; each slot is written by exactly one worker.
            let step = (n + workers - 1) / workers
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                for k in (w * step)..<min(n, (w + 1) * step) {
                    base[k] = try? sample(seed: seed, index: indices.lowerBound + k, size: size)
                }
            }
        }
        return out.map { $0! }
    }

    /// S*S*3 palette colours for a label map (ids above 18 are drawn white).
    public static func colorize(_ label: [UInt8]) -> [UInt8] { FaceClasses.colorPixels(label) }

    /// Disjoint index ranges: test = [0, 10 000), val = [10 000, 20 000), train = [20 000, 2^40).
    public enum Split: String, CaseIterable, Sendable {
        case train, val, test

        /// The global sample indices of this split.
        public var range: Range<Int> {
            switch self {
            case .test: return 0..<10_000
            case .val: return 10_000..<20_000
            case .train: return 20_000..<SynthFaces.maxIndex
            }
        }

        /// Global index of the `offset`-th sample of this split.
        public func index(_ offset: Int) throws -> Int {
            guard offset >= 0, offset < range.count else {
                throw SynthFacesError.splitExhausted(split: rawValue, offset: offset, count: range.count)
            }
            return range.lowerBound + offset
        }
    }

    /// Streams consecutive batches of a split for training without disk; ends at the split's end.
    public struct BatchStream: Sequence, IteratorProtocol {
        public let seed: UInt64
        public let split: Split
        public let size: Int
        public let batchSize: Int
        /// Offset within the split of the next batch's first sample.
        public private(set) var offset: Int
        public let threads: Int?

        /// A stream starting at `offset` within `split`. Throws on a bad size or batch size.
        public init(seed: UInt64, split: Split = .train, size: Int, batchSize: Int, offset: Int = 0, threads: Int? = nil) throws {
            guard SynthFaces.sizeRange.contains(size) else { throw SynthFacesError.badSize(size) }
            guard batchSize >= 1 else { throw SynthFacesError.badBatch(batchSize) }
            _ = try split.index(offset)
            self.seed = seed; self.split = split; self.size = size; self.batchSize = batchSize
            self.offset = offset; self.threads = threads
        }

        /// The next batch (shorter at the end of the split), or nil when the split is used up.
        public mutating func next() -> [FaceSample]? {
            let count = Swift.min(batchSize, split.range.count - offset)
            if count <= 0 { return nil }
            let lo = split.range.lowerBound + offset
            offset += count
            return try? SynthFaces.samples(seed: seed, indices: lo..<(lo + count), size: size, threads: threads)
        }
    }

    /// Images as an (N, 3, S, S) tensor scaled to [-1, 1].
    public static func imageTensor(_ samples: [FaceSample]) throws -> Tensor {
        guard let s = samples.first?.size else { return try Tensor.zeros([0, 3, 0, 0]) }
        let plane = s * s
        var out = [Float](repeating: 0, count: samples.count * 3 * plane)
        for (n, smp) in samples.enumerated() {
            guard smp.size == s else { throw TensorError.shape(op: "SynthFaces.imageTensor", "sample \(n) is \(smp.size)px, expected \(s)px") }
            for p in 0..<plane {
                for c in 0..<3 { out[(n * 3 + c) * plane + p] = Float(smp.image[3 * p + c]) / 127.5 - 1 }
            }
        }
        return try Tensor(shape: [samples.count, 3, s, s], scalars: out)
    }

    /// Sketches as an (N, 1, S, S) tensor scaled to [-1, 1] (white paper is +1).
    public static func sketchTensor(_ samples: [FaceSample]) throws -> Tensor {
        guard let s = samples.first?.size else { return try Tensor.zeros([0, 1, 0, 0]) }
        return try sketchTensor(samples.map(\.sketch), size: s)
    }

    /// Gray `S·S` sketches (255 paper) as an (N, 1, S, S) tensor in [-1, 1]: the encoders' sketch input.
    public static func sketchTensor(_ sketches: [[UInt8]], size s: Int) throws -> Tensor {
        if let n = sketches.firstIndex(where: { $0.count != s * s }) {
            throw TensorError.shape(op: "SynthFaces.sketchTensor", "sketch \(n) has \(sketches[n].count) pixels, expected \(s)×\(s)")
        }
        return try Tensor(shape: [sketches.count, 1, s, s], scalars: sketches.flatMap { $0.map { Float($0) / 127.5 - 1 } })
    }

    /// Label maps as one-hot (N, 19, S, S) tensors.
    public static func labelTensor(_ samples: [FaceSample]) throws -> Tensor {
        guard let s = samples.first?.size else { return try Tensor.zeros([0, 19, 0, 0]) }
        return try labelTensor(samples.map(\.label), size: s)
    }

    /// `S·S` class-id maps as one-hot (N, 19, S, S): the label encoders' input. Ids ≥ 19 stay all-zero.
    public static func labelTensor(_ maps: [[UInt8]], size s: Int) throws -> Tensor {
        if let n = maps.firstIndex(where: { $0.count != s * s }) {
            throw TensorError.shape(op: "SynthFaces.labelTensor", "map \(n) has \(maps[n].count) pixels, expected \(s)×\(s)")
        }
        let plane = s * s
        var out = [Float](repeating: 0, count: maps.count * 19 * plane)
        for (n, m) in maps.enumerated() {
            for p in 0..<plane where m[p] < 19 { out[(n * 19 + Int(m[p])) * plane + p] = 1 }
        }
        return try Tensor(shape: [maps.count, 19, s, s], scalars: out)
    }
}
