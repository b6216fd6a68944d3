import Foundation
import TensorCore

/// tedi's face parser: a small U-Net from a face to the 19 CelebAMask-HQ classes per pixel. It is
/// the yardstick of layout fidelity (`tedi eval layout`) and the layout loss of the label and
/// sketch encoders and of `optimize`'s `label` input.
///
/// Layout (the default config, 64 px, widths [16, 32, 64, 128]):
/// ```
/// x (N,3,64,64) in [-1,1]
/// stem 3×3/1 3→16, enc0 3×3/1 16→16          = e0 (N,16,64,64)   + bias, leaky ReLU 0.2 (×√2), as every 3×3 here
/// down1 3×3/2 16→32, enc1 3×3/1 32→32         = e1 (N,32,32,32)
/// down2 3×3/2 32→64, enc2 3×3/1 64→64         = e2 (N,64,16,16)
/// down3 3×3/2 64→128, enc3 3×3/1 128→128      = e3 (N,128,8,8)
/// dec2 3×3/1 [up2(e3), e2] 192→64             = d2 (N,64,16,16)   up2: nearest ×2; [a, b]: channel concat
/// dec1 3×3/1 [up2(d2), e1] 96→32              = d1 (N,32,32,32)
/// dec0 3×3/1 [up2(d1), e0] 48→16              = d0 (N,16,64,64)
/// (decoder depth 2: each dec<i> is followed by dec<i>b, 3×3/1 at its width)
/// out  1×1 16→19 + bias                       = logits (N,19,64,64)
/// ```
/// The skips carry where edges are (eyes and brows are a few pixels at 64 px); the 8² bottleneck
/// sees the whole face, so left and right parts are told apart by where they sit.
public struct FaceParser {
    /// Architecture hyper-parameters; stored in a model file's `__metadata__`.
    public struct Config: Equatable, Sendable {
        /// Input side in pixels (divisible by 2^(levels − 1)).
        public var size: Int
        /// Width of each level, finest first (one level per resolution).
        public var channels: [Int]
        /// Output classes.
        public var classes: Int
        /// 3×3 convolutions per decoder level (1: `dec<i>` alone; 2 adds `dec<i>b` after it, which
        /// refines the upsampled coarse features against the skip where thin parts' edges are).
        public var decoderDepth: Int

        public init(size: Int = 64, channels: [Int] = [16, 32, 64, 128], classes: Int = 19, decoderDepth: Int = 1) {
            self.size = size; self.channels = channels; self.classes = classes; self.decoderDepth = decoderDepth
        }

        /// A tiny parser for tests (16 px, three levels).
        public static let tiny = Config(size: 16, channels: [4, 8, 8])

        public func validate() throws {
            guard (2...6).contains(channels.count), channels.allSatisfy({ (1...1024).contains($0) }) else {
                throw ModelError("face parser: channels must be 2–6 widths in 1...1024, got \(channels)")
            }
            let down = 1 << (channels.count - 1)
            guard (8...1024).contains(size), size % down == 0 else {
                throw ModelError("face parser: size \(size) must be in 8...1024 and divisible by \(down)")
            }
            guard (2...255).contains(classes) else { throw ModelError("face parser: classes \(classes) is outside 2...255") }
            guard (1...2).contains(decoderDepth) else { throw ModelError("face parser: decoder depth must be 1 or 2, got \(decoderDepth)") }
        }

        public var metadata: [String: String] {
            ["arch": FaceParser.arch, "size": String(size), "channels": channels.map(String.init).joined(separator: ","),
             "classes": String(classes), "decoder_depth": String(decoderDepth)]
        }

        public init(metadata m: [String: String], path: String) throws {
            guard m["arch"] == FaceParser.arch else {
                throw ModelError("\(path): not a tedi face parser (metadata arch is '\(m["arch"] ?? "missing")', expected '\(FaceParser.arch)')")
            }
            let meta = MetadataReader(m, path: path)
            // Files from before `decoder_depth` existed have one convolution per decoder level.
            self.init(size: try meta.int("size"), channels: try meta.ints("channels"), classes: try meta.int("classes"),
                      decoderDepth: m["decoder_depth"] == nil ? 1 : try meta.int("decoder_depth"))
            try validate()
        }
    }

    /// The `arch` metadata value of face-parser files.
    public static let arch = "tedi-parser-v1"

    public let config: Config
    /// Parameters by name (see `shapes`).
    public var params: [String: Tensor]

    /// Parameter shapes of a config, by name.
    public static func shapes(_ c: Config) -> [String: [Int]] {
        var s: [String: [Int]] = [:]
        func conv(_ name: String, _ cout: Int, _ cin: Int, _ k: Int = 3) {
            s[name + ".weight"] = [cout, cin, k, k]
            s[name + ".bias"] = [cout]
        }
        let ch = c.channels, top = ch.count - 1
        conv("stem", ch[0], 3)
        conv("enc0", ch[0], ch[0])
        for i in 1...top {
            conv("down\(i)", ch[i], ch[i - 1])
            conv("enc\(i)", ch[i], ch[i])
        }
        for i in 0..<top {
            conv("dec\(i)", ch[i], ch[i + 1] + ch[i])
            if c.decoderDepth > 1 { conv("dec\(i)b", ch[i], ch[i]) }
        }
        conv("out", c.classes, ch[0], 1)
        return s
    }

    /// A fresh parser: weights N(0, 1/fan_in), biases zero, each tensor from its own Philox stream of `seed`.
    public init(config: Config, seed: UInt64) throws {
        try config.validate()
        self.config = config
        params = try ModelParams.initialized(FaceParser.shapes(config), seed: seed)
    }

    /// A parser with the given parameters; throws naming any missing or misshapen tensor.
    public init(config: Config, params: [String: Tensor], path: String = "<memory>") throws {
        try config.validate()
        self.params = try ModelParams.checked(params, shapes: FaceParser.shapes(config), path: path)
        self.config = config
    }

    /// Loads a model file written by `save`, or the parameters of a training checkpoint.
    public static func load(_ path: String) throws -> FaceParser {
        let (params, metadata) = try ModelParams.read(path)
        return try FaceParser(config: try Config(metadata: metadata, path: path), params: params, path: path)
    }

    /// Writes the parameters and config atomically (`dtype` F16 halves the file).
    public func save(to path: String, dtype: SafeTensors.DType = .f32, extraMetadata: [String: String] = [:]) throws {
        try ModelParams.save(params, metadata: config.metadata, extra: extraMetadata, to: path, dtype: dtype)
    }

    /// Checks an input batch against the config.
    public func checkInput(_ x: Tensor) throws {
        guard x.rank == 4, x.shape[0] >= 1, x.shape[1] == 3, x.shape[2] == config.size, x.shape[3] == config.size else {
            throw TensorError.shape(op: "face parser", "expected faces (N,3,\(config.size),\(config.size)) in [-1,1]; got \(x.shape) (resize to \(config.size) px first)")
        }
    }

    /// `x (N,3,S,S)` → class logits `(N,classes,S,S)` with the given parameters (which may be watched on a tape).
    public static func forward(_ x: Tensor, config c: Config, params p: [String: Tensor]) throws -> Tensor {
        func conv(_ name: String, _ h: Tensor, stride: Int = 1) throws -> Tensor {
            guard let w = p[name + ".weight"], let b = p[name + ".bias"] else { throw ModelError("face parser: missing \(name) parameters") }
            return try Tensor.conv2d(h, weight: w, stride: stride, padding: 1).biasLeakyReLU(b)
        }
        let top = c.channels.count - 1
        var skips = [try conv("enc0", conv("stem", x))]
        for i in 1...top { skips.append(try conv("enc\(i)", conv("down\(i)", skips[i - 1], stride: 2))) }
        var h = skips[top]
        for i in stride(from: top - 1, through: 0, by: -1) {
            h = try conv("dec\(i)", Tensor.concat([LatentEncoder.upsample2(h), skips[i]], axis: 1))
            if c.decoderDepth > 1 { h = try conv("dec\(i)b", h) }
        }
        guard let w = p["out.weight"], let b = p["out.bias"] else { throw ModelError("face parser: missing out parameters") }
        return try Tensor.conv2d(h, weight: w, bias: b)
    }

    /// Class logits `(N,classes,S,S)` of a batch of faces.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try checkInput(x)
        return try FaceParser.forward(x, config: config, params: params)
    }

    /// The most likely class of each pixel, one `S·S` row-major map per face (ties: the lower id).
    public func parse(_ x: Tensor) throws -> [[UInt8]] {
        FaceParser.argmax(try self(x).detached)
    }

    /// Per-pixel argmax of logits `(N,C,H,W)`: N maps of H·W class ids.
    public static func argmax(_ logits: Tensor) -> [[UInt8]] {
        let n = logits.shape[0], c = logits.shape[1], plane = logits.shape[2] * logits.shape[3]
        let v = logits.scalars
        return (0..<n).map { i in
            (0..<plane).map { p in
                var best = 0
                var bestValue = v[(i * c) * plane + p]
                for k in 1..<c where v[(i * c + k) * plane + p] > bestValue { best = k; bestValue = v[(i * c + k) * plane + p] }
                return UInt8(best)
            }
        }
    }

    /// Mean per-pixel softmax cross-entropy of logits `(N,C,H,W)` against class maps (N maps of H·W
    /// ids), differentiable in the logits. With `classWeights` (C values) it is the weighted mean
    /// Σ w[t]·(−log p[t]) / Σ w[t], so thin, rare classes count for more.
    public static func pixelCrossEntropy(_ logits: Tensor, targets: [[UInt8]], classWeights: [Float]? = nil) throws -> Tensor {
        guard logits.rank == 4 else { throw TensorError.shape(op: "pixelCrossEntropy", "logits must be (N,C,H,W), got \(logits.shape)") }
        let n = logits.shape[0], c = logits.shape[1], plane = logits.shape[2] * logits.shape[3]
        guard targets.count == n, targets.allSatisfy({ $0.count == plane }) else {
            throw TensorError.shape(op: "pixelCrossEntropy", "\(targets.count) target maps for logits \(logits.shape) (each must have \(plane) pixels)")
        }
        let rows = try logits.permuted([0, 2, 3, 1]).reshaped([n * plane, c])
        let ids = targets.flatMap { $0.map(Int.init) }
        guard let weights = classWeights else { return try Tensor.crossEntropy(rows, targets: ids) }
        guard weights.count == c, weights.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw TensorError.shape(op: "pixelCrossEntropy", "\(weights.count) class weights for \(c) classes (each ≥ 0)")
        }
        if let bad = ids.firstIndex(where: { $0 >= c }) { throw TensorError.shape(op: "pixelCrossEntropy", "target \(ids[bad]) of pixel \(bad) is outside 0..<\(c)") }
        var mask = [Float](repeating: 0, count: ids.count * c)
        var total: Float = 0
        for (i, t) in ids.enumerated() { mask[i * c + t] = weights[t]; total += weights[t] }
        guard total > 0 else { throw TensorError.shape(op: "pixelCrossEntropy", "the class weights of every target pixel are 0") }
        return try (rows.logSoftmax() * Tensor(shape: [ids.count, c], scalars: mask)).sum().scaled(-1 / total)
    }

    /// 1 − the mean soft Dice coefficient over the classes present in the targets, differentiable in
    /// the logits `(N,C,H,W)`: per class c, 2·Σ p_c·[t = c] / (Σ p_c + #[t = c]) pooled over the
    /// batch, p the per-pixel softmax. Each class counts once whatever its area, as in the mean IoU
    /// it stands in for, so a brow or an earring weighs as much as the background.
    public static func softDiceLoss(_ logits: Tensor, targets: [[UInt8]]) throws -> Tensor {
        guard logits.rank == 4 else { throw TensorError.shape(op: "softDiceLoss", "logits must be (N,C,H,W), got \(logits.shape)") }
        let n = logits.shape[0], c = logits.shape[1], plane = logits.shape[2] * logits.shape[3]
        guard targets.count == n, targets.allSatisfy({ $0.count == plane }) else {
            throw TensorError.shape(op: "softDiceLoss", "\(targets.count) target maps for logits \(logits.shape) (each must have \(plane) pixels)")
        }
        let ids = targets.flatMap { $0.map(Int.init) }
        if let bad = ids.firstIndex(where: { $0 >= c }) { throw TensorError.shape(op: "softDiceLoss", "target \(ids[bad]) of pixel \(bad) is outside 0..<\(c)") }
        var onehot = [Float](repeating: 0, count: ids.count * c), count = [Float](repeating: 0, count: c)
        for (i, t) in ids.enumerated() { onehot[i * c + t] = 1; count[t] += 1 }
        let present = Float(count.filter { $0 > 0 }.count)
        let probs = try logits.permuted([0, 2, 3, 1]).reshaped([n * plane, c]).softmax()
        let overlap = try (probs * Tensor(shape: [ids.count, c], scalars: onehot)).sum(axis: 0)
        // An absent class's denominator gets 1 so it stays finite; its coefficient is masked out.
        let denominator = try probs.sum(axis: 0) + Tensor(shape: [c], scalars: count.map { $0 > 0 ? $0 : 1 })
        let mask = try Tensor(shape: [c], scalars: count.map { $0 > 0 ? 2 / present : 0 })
        return try (overlap / denominator * mask).sum().scaled(-1).adding(1)
    }

    /// Class weights for training: (share of pixels of each class in `maps`)^−½, scaled so a pixel
    /// weighs 1 on average over the maps; a class never seen gets the largest weight.
    public static func classWeights(_ maps: [[UInt8]], classes: Int = 19) -> [Float] {
        var count = [Double](repeating: 0, count: classes)
        for m in maps { for v in m where Int(v) < classes { count[Int(v)] += 1 } }
        let total = count.reduce(0, +)
        guard total > 0 else { return [Float](repeating: 1, count: classes) }
        var w = count.map { $0 > 0 ? 1 / ($0 / total).squareRoot() : 0 }
        let top = w.max() ?? 1
        w = w.map { $0 == 0 ? top : $0 }
        let mean = zip(count, w).map { $0 * $1 }.reduce(0, +) / total
        return w.map { Float($0 / mean) }
    }
}

/// Intersection over union of class maps against the truth, accumulated over many faces.
public struct LayoutScore: Sendable {
    public let classes: Int
    public private(set) var intersection: [Int]
    public private(set) var union: [Int]
    public private(set) var pixels = 0
    public private(set) var correct = 0

    public init(classes: Int = 19) {
        self.classes = classes
        intersection = [Int](repeating: 0, count: classes)
        union = [Int](repeating: 0, count: classes)
    }

    /// Adds one face: `predicted` and `truth` are maps of the same size.
    public mutating func add(predicted: [UInt8], truth: [UInt8]) {
        precondition(predicted.count == truth.count, "LayoutScore: maps of different sizes")
        for (p, t) in zip(predicted, truth) {
            let (pi, ti) = (min(Int(p), classes - 1), min(Int(t), classes - 1))
            if pi == ti { intersection[pi] += 1; union[pi] += 1; correct += 1 } else { union[pi] += 1; union[ti] += 1 }
        }
        pixels += truth.count
    }

    /// IoU of class k over everything added (nil when the class appears in neither map).
    public func iou(_ k: Int) -> Double? { k < 0 || k >= classes || union[k] == 0 ? nil : Double(intersection[k]) / Double(union[k]) }

    /// Mean IoU over the classes present in the truth or the prediction.
    public var meanIoU: Double {
        let v = (0..<classes).compactMap(iou)
        return v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count)
    }

    /// Share of pixels whose class is right.
    public var pixelAccuracy: Double { pixels == 0 ? 0 : Double(correct) / Double(pixels) }
}
