import Foundation
import SynthFaces
import TensorCore

/// rosinality/stylegan2-pytorch's residual `Discriminator` on the tensor core, with the same
/// state-dict names (`convs.0.0.weight`, `convs.i.conv1.0.weight`, `final_linear.1.bias`, …).
///
/// Layout for size S = 2^L: `convs.0` (1×1 ConvLayer from RGB), `convs.1…convs.L−2` ResBlocks that
/// halve the side down to 4 px, minibatch-stddev (group 4, 1 feature), `final_conv` (3×3), then
/// `final_linear.0` (EqualLinear + lrelu) and `final_linear.1` (EqualLinear → 1 logit). Equalized
/// learning rate: weights are stored N(0,1) and scaled by 1/√fan_in at run time.
public struct StyleGAN2Discriminator {
    /// The architecture (channels follow the generator's table, `StyleGAN2Config.channels(atResolution:)`).
    public struct Config: Equatable, Sendable, CustomStringConvertible {
        /// Input side: a power of two in 8...1024.
        public var size: Int
        /// Channel multiplier of the layers from 64 px on (rosinality's `channel_multiplier`).
        public var channelMultiplier: Int
        /// Divides every channel count (1 in rosinality).
        public var channelDivisor: Int
        /// Reads SynthFaces attributes beside the image (`FaceCondition`): a projection term on the
        /// last hidden layer, `cond.weight (C₄, K)` in the state dict (not in rosinality).
        public var conditioning: Bool

        /// A validated config.
        public init(size: Int, channelMultiplier: Int = 2, channelDivisor: Int = 1, conditioning: Bool = false) throws {
            self.size = size; self.channelMultiplier = channelMultiplier; self.channelDivisor = channelDivisor
            self.conditioning = conditioning
            guard size >= 8, StyleGAN2Config.sizes.contains(size) else { throw ModelError("discriminator: size must be a power of two in 8...1024, got \(size)") }
            guard (1...8).contains(channelMultiplier) else { throw ModelError("discriminator: channel_multiplier must be in 1...8, got \(channelMultiplier)") }
            guard (1...512).contains(channelDivisor) else { throw ModelError("discriminator: channel_divisor must be in 1...512, got \(channelDivisor)") }
        }

        /// The discriminator matching a generator's size and widths.
        public init(matching g: StyleGAN2Config) throws {
            try self.init(size: g.size, channelMultiplier: g.channelMultiplier, channelDivisor: g.channelDivisor, conditioning: g.conditioning)
        }

        /// Channels at `resolution` px (the generator's table).
        public func channels(atResolution r: Int) -> Int {
            // StyleGAN2Config validates the same ranges, so this cannot fail for a valid Config.
            (try? StyleGAN2Config(size: size, styleDim: 1, nMLP: 0, channelMultiplier: channelMultiplier,
                                  channelDivisor: channelDivisor))?.channels(atResolution: r) ?? 1
        }

        /// Number of ResBlocks (`log2(size) − 2`).
        public var blocks: Int { size.trailingZeroBitCount - 2 }

        /// Every tensor of the state dict with its shape, in module order.
        public var expectedShapes: [(name: String, shape: [Int])] {
            var out: [(name: String, shape: [Int])] = []
            var cin = channels(atResolution: size)
            out.append(("convs.0.0.weight", [cin, 3, 1, 1]))
            out.append(("convs.0.1.bias", [cin]))
            for b in 1...blocks {
                let cout = channels(atResolution: size >> b)
                let p = "convs.\(b)"
                out.append(("\(p).conv1.0.weight", [cin, cin, 3, 3]))
                out.append(("\(p).conv1.1.bias", [cin]))
                out.append(("\(p).conv2.0.kernel", [4, 4]))
                out.append(("\(p).conv2.1.weight", [cout, cin, 3, 3]))
                out.append(("\(p).conv2.2.bias", [cout]))
                out.append(("\(p).skip.0.kernel", [4, 4]))
                out.append(("\(p).skip.1.weight", [cout, cin, 1, 1]))
                cin = cout
            }
            let c4 = channels(atResolution: 4)
            out.append(("final_conv.0.weight", [c4, cin + 1, 3, 3]))
            out.append(("final_conv.1.bias", [c4]))
            out.append(("final_linear.0.weight", [c4, c4 * 16]))
            out.append(("final_linear.0.bias", [c4]))
            out.append(("final_linear.1.weight", [1, c4]))
            out.append(("final_linear.1.bias", [1]))
            if conditioning { out.append(("cond.weight", [c4, FaceCondition.dimension])) }
            return out
        }

        /// `__metadata__` entries (prefix `d.` so they sit beside a generator's).
        public var metadata: [String: String] {
            var m = ["d.size": "\(size)", "d.channel_multiplier": "\(channelMultiplier)", "d.channel_divisor": "\(channelDivisor)"]
            if conditioning { m["d.conditioning"] = FaceCondition.metadataValue }
            return m
        }

        /// Reads `metadata`'s keys back.
        public init(metadata m: [String: String], source: String) throws {
            func int(_ k: String) throws -> Int {
                guard let s = m[k], let v = Int(s) else { throw ModelError("\(source): metadata '\(k)' is missing or not an integer") }
                return v
            }
            if let c = m["d.conditioning"], c != FaceCondition.metadataValue {
                throw ModelError("\(source): metadata 'd.conditioning' is '\(c)', expected '\(FaceCondition.metadataValue)'")
            }
            try self.init(size: int("d.size"), channelMultiplier: int("d.channel_multiplier"), channelDivisor: int("d.channel_divisor"),
                          conditioning: m["d.conditioning"] != nil)
        }

        public var description: String {
            "Discriminator(size \(size), channel_multiplier \(channelMultiplier)" + (channelDivisor != 1 ? ", channel_divisor \(channelDivisor)" : "")
                + (conditioning ? ", conditioned on SynthFaces attributes" : "") + ")"
        }
    }

    /// Minibatch-stddev group size (rosinality's `stddev_group`).
    public static let stddevGroup = 4

    public let config: Config
    /// Every state-dict tensor by rosinality name (the blur kernels included, as buffers).
    public var parameters: [String: Tensor]

    /// A discriminator from a state dict; throws naming every missing, unexpected or mis-shaped tensor.
    public init(config: Config, parameters: [String: Tensor], source: String = "<memory>") throws {
        var problems: [String] = []
        let expected = config.expectedShapes
        for (name, shape) in expected {
            guard let t = parameters[name] else { problems.append("missing \(name)"); continue }
            if t.shape != shape { problems.append("\(name) is \(t.shape), expected \(shape)") }
        }
        let known = Set(expected.map(\.name))
        problems += parameters.keys.filter { !known.contains($0) }.sorted().map { "unexpected \($0)" }
        guard problems.isEmpty else {
            throw ModelError("\(source): the weights do not fit \(config): " + problems.prefix(20).joined(separator: "; ")
                             + (problems.count > 20 ? "; …" : ""))
        }
        self.config = config
        self.parameters = parameters
    }

    /// rosinality's initialisation from Philox `seed`: weights N(0,1), biases 0, blur kernels
    /// `outer([1,3,3,1])/64`. Tensor i of `expectedShapes` draws from stream i.
    public static func random(config: Config, seed: UInt64) throws -> StyleGAN2Discriminator {
        var p: [String: Tensor] = [:]
        let blur = try Tensor.blurKernel2d([1, 3, 3, 1])
        for (i, (name, shape)) in config.expectedShapes.enumerated() {
            if name.hasSuffix(".kernel") { p[name] = blur }
            else if name.hasSuffix("bias") || name == "cond.weight" { p[name] = try Tensor.zeros(shape) }
            else { p[name] = try Tensor.randomNormal(shape, seed: seed, stream: UInt64(i)) }
        }
        return try StyleGAN2Discriminator(config: config, parameters: p, source: "random(seed: \(seed))")
    }

    /// Names of the trainable tensors (everything but the blur-kernel buffers), sorted.
    public var trainableNames: [String] { parameters.keys.filter { !$0.hasSuffix(".kernel") }.sorted() }

    /// A copy whose trainable parameters (or those in `names`) are watched on `tape`.
    public func watchingParameters(on tape: Tape, names: [String]? = nil) throws -> StyleGAN2Discriminator {
        var copy = self
        for name in names ?? trainableNames {
            guard let t = parameters[name] else { throw ModelError("discriminator: no parameter named \"\(name)\"") }
            copy.parameters[name] = tape.watch(t)
        }
        return copy
    }

    func parameter(_ name: String) throws -> Tensor {
        guard let t = parameters[name] else { throw ModelError("discriminator: no parameter named \"\(name)\"") }
        return t
    }

    /// `EqualConv2d` without bias: `conv2d(x, W/√(Cin·k·k))`.
    func equalConv(_ x: Tensor, _ name: String, stride: Int = 1, padding: Int = 0) throws -> Tensor {
        let w = try parameter(name)
        let scale = 1 / Float(w.shape[1] * w.shape[2] * w.shape[3]).squareRoot()
        return try Tensor.conv2d(x, weight: w.scaled(scale), stride: stride, padding: padding)
    }

    /// rosinality's `Blur` (kernel sum 1) with pad `(p0, p1)` on both axes.
    func blur(_ x: Tensor, _ name: String, pad p: (Int, Int)) throws -> Tensor {
        try x.upfirdn2d(kernel: parameter(name), pad: (p.0, p.1, p.0, p.1))
    }

    /// The leaky-ReLU activation patterns of one forward pass, recorded in order and replayed on
    /// later passes: with them replayed, D is linear in its input apart from the minibatch stddev.
    public final class ActivationPatterns {
        var masks: [[Bool]] = []
        var cursor = 0
        var recording = true
        public init() {}
        /// Switches from recording to replaying, from the first pattern.
        public func replay() { recording = false; cursor = 0 }
    }

    /// Bias + leaky ReLU, recording or replaying its activation pattern when `patterns` is given.
    func act(_ x: Tensor, _ bias: String, _ patterns: ActivationPatterns?) throws -> Tensor {
        let b = try parameter(bias)
        guard let patterns else { return try x.biasLeakyReLU(b) }
        if patterns.recording {
            // y > 0 exactly where x + b > 0 (gain and slope are positive): the output is the pattern.
            let y = try x.biasLeakyReLU(b)
            patterns.masks.append(y.scalars.map { $0 > 0 })
            return y
        }
        guard patterns.cursor < patterns.masks.count else {
            throw ModelError("discriminator: replaying activation patterns of another input size (only \(patterns.masks.count) recorded)")
        }
        patterns.cursor += 1
        return try x.biasLeakyReLU(b, mask: patterns.masks[patterns.cursor - 1])
    }

    /// Logits `(N,1)` for images `(N,3,size,size)` in [-1, 1]. N must be a multiple of
    /// min(N, 4) (the minibatch-stddev groups). With `patterns`, the leaky ReLUs record their
    /// activation patterns (a new object) or replay them (after `replay()`). A conditioned D needs
    /// the images' condition vectors `(N,K)` (`FaceCondition`) and adds hᵀ·cond.weight·c/√K.
    public func callAsFunction(_ x: Tensor, condition: Tensor? = nil, patterns: ActivationPatterns? = nil) throws -> Tensor {
        try logitsAndHidden(x, condition: condition, patterns: patterns).logits
    }

    /// The logits `(N,1)` and the layer before them, `final_linear.0`'s activations `(N,C₄)`
    /// (what an auxiliary head on D reads: `GANTrainer`'s pose head).
    public func logitsAndHidden(_ x: Tensor, condition: Tensor? = nil, patterns: ActivationPatterns? = nil) throws -> (logits: Tensor, hidden: Tensor) {
        guard config.conditioning == (condition != nil) else {
            throw ModelError(config.conditioning ? "discriminator: this D is conditioned on SynthFaces attributes; give the images' condition vectors"
                                                 : "discriminator: this D is not conditioned; it takes no condition vectors")
        }
        let s = config.size
        guard x.rank == 4, x.shape[0] >= 1, x.shape[1] == 3, x.shape[2] == s, x.shape[3] == s else {
            throw ModelError("discriminator: input must be (N,3,\(s),\(s)), got \(x.shape)")
        }
        let n = x.shape[0]
        guard n % Swift.min(n, Self.stddevGroup) == 0 else {
            throw ModelError("discriminator: batch \(n) is not a multiple of the minibatch-stddev group \(Self.stddevGroup)")
        }
        var h = try act(equalConv(x, "convs.0.0.weight"), "convs.0.1.bias", patterns)
        let invSqrt2 = 1 / Float(2).squareRoot()
        for b in 1...config.blocks {
            let p = "convs.\(b)"
            // ResBlock: conv1 3×3; conv2 = blur pad (2,2) + 3×3 stride 2; skip = blur pad (1,1) + 1×1 stride 2.
            var a = try act(equalConv(h, "\(p).conv1.0.weight", padding: 1), "\(p).conv1.1.bias", patterns)
            a = try act(equalConv(blur(a, "\(p).conv2.0.kernel", pad: (2, 2)), "\(p).conv2.1.weight", stride: 2),
                        "\(p).conv2.2.bias", patterns)
            let sk = try equalConv(blur(h, "\(p).skip.0.kernel", pad: (1, 1)), "\(p).skip.1.weight", stride: 2)
            h = try (a + sk).scaled(invSqrt2)
        }
        h = try Self.minibatchStddev(h)
        h = try act(equalConv(h, "final_conv.0.weight", padding: 1), "final_conv.1.bias", patterns)
        h = try h.reshaped([n, h.count / n])
        let w0 = try parameter("final_linear.0.weight"), w1 = try parameter("final_linear.1.weight")
        h = try act(Tensor.linear(h, weight: w0.scaled(1 / Float(w0.shape[1]).squareRoot())), "final_linear.0.bias", patterns)
        var logits = try Tensor.linear(h, weight: w1.scaled(1 / Float(w1.shape[1]).squareRoot()), bias: parameter("final_linear.1.bias"))
        if let condition {
            guard condition.shape.first == n else { throw ModelError("discriminator: \(condition.shape.first ?? 0) condition vectors for \(n) images") }
            let proj = try FaceCondition.project(condition, weight: parameter("cond.weight"), what: "discriminator")
            logits = try logits + (h * proj).sum(axis: 1, keepDims: true)
        }
        return (logits, h)
    }

    /// rosinality's minibatch stddev (group G = min(N,4), 1 feature): sample n = g·M + m is grouped
    /// with the samples of the same m; the feature is mean over (C,H,W) of √(Var_g + 1e-8),
    /// appended as channel C. `(N,C,H,W) → (N,C+1,H,W)`; differentiable.
    public static func minibatchStddev(_ x: Tensor) throws -> Tensor {
        let (n, c, hh, ww) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let g = Swift.min(n, stddevGroup), m = n / g
        let r = try x.reshaped([g, m, c * hh * ww])
        let d = try r - r.mean(axis: 0, keepDims: true)
        let sd = try (d * d).mean(axis: 0).adding(1e-8).sqrt()           // (M, CHW)
        let f = try sd.mean(axis: 1, keepDims: true)                       // (M, 1)
        let feat = try f.reshaped([1, m, 1, 1]).broadcast(to: [g, m, hh, ww]).reshaped([n, 1, hh, ww])
        return try Tensor.concat([x, feat], axis: 1)
    }

    /// Writes the state dict with the config in `__metadata__`.
    public func save(to path: String) throws {
        try SafeTensors.write(parameters, metadata: config.metadata, to: path)
    }
}
