import Foundation
import SynthFaces
import TensorCore

/// Architecture of a rosinality/stylegan2-pytorch `Generator`: what its state dict must contain.
public struct StyleGAN2Config: Equatable, Sendable, CustomStringConvertible {
    /// Output side in pixels: a power of two in 4...1024.
    public var size: Int
    /// Width of z and w (512 in the released models).
    public var styleDim: Int
    /// Number of EqualLinear layers in the mapping network (8 in the released models).
    public var nMLP: Int
    /// Channel multiplier of the layers from 64 px on (2 for FFHQ 1024).
    public var channelMultiplier: Int
    /// Learning-rate multiplier of the mapping layers (0.01); it scales their weights and biases.
    public var lrMLP: Float
    /// Divides every channel count (not in rosinality, where it is 1); small test and toy models use it.
    public var channelDivisor: Int
    /// Conditioned on SynthFaces attributes drawn from z (`FaceCondition`): the state dict adds
    /// `cond.weight (style_dim, K)`; not in rosinality. `__metadata__` `conditioning: synthfaces`.
    public var conditioning: Bool

    /// The output sizes rosinality's generator supports.
    public static let sizes = [4, 8, 16, 32, 64, 128, 256, 512, 1024]

    /// A validated configuration.
    public init(size: Int, styleDim: Int = 512, nMLP: Int = 8, channelMultiplier: Int = 2,
                lrMLP: Float = 0.01, channelDivisor: Int = 1, conditioning: Bool = false) throws {
        self.size = size
        self.styleDim = styleDim
        self.nMLP = nMLP
        self.channelMultiplier = channelMultiplier
        self.lrMLP = lrMLP
        self.channelDivisor = channelDivisor
        self.conditioning = conditioning
        try validate()
    }

    /// Throws `StyleGAN2Error.config` naming the first value out of range.
    public func validate() throws {
        func bad(_ m: String) -> StyleGAN2Error { .config("StyleGAN2 config: \(m)") }
        guard Self.sizes.contains(size) else { throw bad("size must be a power of two in 4...1024, got \(size)") }
        guard (1...4096).contains(styleDim) else { throw bad("style_dim must be in 1...4096, got \(styleDim)") }
        guard (0...32).contains(nMLP) else { throw bad("n_mlp must be in 0...32, got \(nMLP)") }
        guard (1...8).contains(channelMultiplier) else {
            throw bad("channel_multiplier must be in 1...8 (rosinality uses 1 or 2), got \(channelMultiplier)")
        }
        guard lrMLP.isFinite, lrMLP > 0 else { throw bad("lr_mlp must be a positive number, got \(lrMLP)") }
        guard (1...512).contains(channelDivisor) else { throw bad("channel_divisor must be in 1...512, got \(channelDivisor)") }
        if conditioning && styleDim < FaceAttributes.drawCount {
            throw bad("a conditioned generator reads its attributes from z, so style_dim must be at least \(FaceAttributes.drawCount), got \(styleDim)")
        }
    }

    /// log2(size).
    public var logSize: Int { size.trailingZeroBitCount }
    /// Number of w codes the synthesis network takes (`2·log2(size) − 2`).
    public var nLatent: Int { 2 * logSize - 2 }
    /// Number of styled convs, and of noise maps (`2·log2(size) − 3`).
    public var numLayers: Int { 2 * logSize - 3 }
    /// Number of upsampling levels (8 px and up).
    public var levels: Int { logSize - 2 }

    /// Channels of the layers at `resolution` px (rosinality's `self.channels`, divided by `channelDivisor`).
    public func channels(atResolution resolution: Int) -> Int {
        let base: Int
        switch resolution {
        case ...32: base = 512
        case 64: base = 256 * channelMultiplier
        case 128: base = 128 * channelMultiplier
        case 256: base = 64 * channelMultiplier
        case 512: base = 32 * channelMultiplier
        default: base = 16 * channelMultiplier
        }
        return Swift.max(1, base / channelDivisor)
    }

    /// Side of noise map `i` (`noises.noise_i`): `2^((i+5)/2)`.
    public func noiseSide(_ i: Int) -> Int { 1 << ((i + 5) / 2) }

    /// The `__metadata__` entries that describe this config (named like rosinality's arguments).
    public var metadata: [String: String] {
        var m = ["arch": "stylegan2", "size": "\(size)", "style_dim": "\(styleDim)", "n_mlp": "\(nMLP)",
                 "channel_multiplier": "\(channelMultiplier)", "lr_mlp": "\(lrMLP)"]
        if channelDivisor != 1 { m["channel_divisor"] = "\(channelDivisor)" }
        if conditioning {
            m["conditioning"] = FaceCondition.metadataValue
            m["cond_lr_mul"] = "\(FaceCondition.generatorLRMultiplier)"
        }
        return m
    }

    /// Reads a config from safetensors `__metadata__` (`size`, `style_dim`, `n_mlp`,
    /// `channel_multiplier`, optional `lr_mlp`, `channel_divisor`, `arch`); nil when `size` is absent.
    public static func fromMetadata(_ m: [String: String], source: String) throws -> StyleGAN2Config? {
        guard m["size"] != nil else { return nil }
        func bad(_ msg: String) -> StyleGAN2Error { .config("\(source): __metadata__ \(msg)") }
        if let arch = m["arch"], arch != "stylegan2" {
            throw bad("arch is \"\(arch)\", expected \"stylegan2\"")
        }
        func int(_ key: String, _ fallback: Int) throws -> Int {
            guard let s = m[key] else { return fallback }
            guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw bad("\(key) is \"\(s)\", not an integer") }
            return v
        }
        var lr: Float = 0.01
        if let s = m["lr_mlp"] {
            guard let v = Float(s.trimmingCharacters(in: .whitespaces)) else { throw bad("lr_mlp is \"\(s)\", not a number") }
            lr = v
        }
        if let c = m["conditioning"], c != FaceCondition.metadataValue {
            throw bad("conditioning is \"\(c)\"; this tedi knows only \"\(FaceCondition.metadataValue)\" (SynthFaces attributes drawn from z)")
        }
        // cond.weight is stored divided by its run-time multiplier λ; a file saved under another λ
        // would draw other attributes. Files without the key are read as λ = 10: right for every
        // file since b3c619d (2026-12-06 23:47), shipped ones included; the run's snapshots of steps
        // 14,473–15,793, written at λ = 1 before it, are read wrongly and not detected.
        if let s = m["cond_lr_mul"] {
            guard let v = Float(s.trimmingCharacters(in: .whitespaces)) else { throw bad("cond_lr_mul is \"\(s)\", not a number") }
            guard v == FaceCondition.generatorLRMultiplier else { throw bad("cond_lr_mul is \"\(s)\"; this tedi scales cond.weight by \(FaceCondition.generatorLRMultiplier) at run time, so the file's attribute embedding would be read wrongly; convert it (multiply cond.weight by \(s)/\(FaceCondition.generatorLRMultiplier)) or use the tedi that wrote it") }
        }
        do {
            return try StyleGAN2Config(size: int("size", 0), styleDim: int("style_dim", 512), nMLP: int("n_mlp", 8),
                                       channelMultiplier: int("channel_multiplier", 2), lrMLP: lr,
                                       channelDivisor: int("channel_divisor", 1), conditioning: m["conditioning"] != nil)
        } catch let StyleGAN2Error.config(msg) {
            throw StyleGAN2Error.config("\(source): __metadata__: \(msg)")
        }
    }

    /// Every tensor of the state dict with its shape, in module order (mapping, input, conv1,
    /// to_rgb1, convs, to_rgbs, noises).
    public var expectedShapes: [(name: String, shape: [Int])] {
        var out: [(name: String, shape: [Int])] = []
        let sd = styleDim
        for i in 0..<nMLP {
            out.append(("style.\(i + 1).weight", [sd, sd]))
            out.append(("style.\(i + 1).bias", [sd]))
        }
        func styled(_ p: String, _ cin: Int, _ cout: Int, upsample: Bool) {
            out.append(("\(p).conv.weight", [1, cout, cin, 3, 3]))
            out.append(("\(p).conv.modulation.weight", [cin, sd]))
            out.append(("\(p).conv.modulation.bias", [cin]))
            if upsample { out.append(("\(p).conv.blur.kernel", [4, 4])) }
            out.append(("\(p).noise.weight", [1]))
            out.append(("\(p).activate.bias", [cout]))
        }
        func rgb(_ p: String, _ cin: Int, upsample: Bool) {
            if upsample { out.append(("\(p).upsample.kernel", [4, 4])) }
            out.append(("\(p).conv.weight", [1, 3, cin, 1, 1]))
            out.append(("\(p).conv.modulation.weight", [cin, sd]))
            out.append(("\(p).conv.modulation.bias", [cin]))
            out.append(("\(p).bias", [1, 3, 1, 1]))
        }
        let c4 = channels(atResolution: 4)
        out.append(("input.input", [1, c4, 4, 4]))
        styled("conv1", c4, c4, upsample: false)
        rgb("to_rgb1", c4, upsample: false)
        var cin = c4
        for j in 0..<levels {
            let cout = channels(atResolution: 8 << j)
            styled("convs.\(2 * j)", cin, cout, upsample: true)
            styled("convs.\(2 * j + 1)", cout, cout, upsample: false)
            cin = cout
        }
        for j in 0..<levels {
            rgb("to_rgbs.\(j)", channels(atResolution: 8 << j), upsample: true)
        }
        for i in 0..<numLayers {
            let s = noiseSide(i)
            out.append(("noises.noise_\(i)", [1, 1, s, s]))
        }
        // Last, so a conditioned G draws every other tensor from the same Philox streams as a plain one.
        if conditioning { out.append(("cond.weight", [sd, FaceCondition.dimension])) }
        return out
    }

    public var description: String {
        "StyleGAN2(size \(size), style_dim \(styleDim), n_mlp \(nMLP), channel_multiplier \(channelMultiplier)"
            + (lrMLP != 0.01 ? ", lr_mlp \(lrMLP)" : "") + (channelDivisor != 1 ? ", channel_divisor \(channelDivisor)" : "")
            + (conditioning ? ", conditioned on SynthFaces attributes" : "") + ")"
    }
}

/// Errors of the StyleGAN2 model: a bad config, a state dict that does not fit it, or bad inputs.
public enum StyleGAN2Error: Error, CustomStringConvertible, Equatable {
    /// A config value out of range, or unreadable config metadata.
    case config(String)
    /// Weights that do not fit the config: every problem at once.
    case weights(source: String, config: String, missing: [String], unexpected: [String], misShaped: [String])
    /// An input (latent, noise, truncation) with the wrong shape or value.
    case input(String)

    public var description: String {
        switch self {
        case let .config(m): return m
        case let .input(m): return m
        case let .weights(source, config, missing, unexpected, misShaped):
            var lines = ["\(source): the weights do not fit \(config):"]
            func list(_ title: String, _ xs: [String]) {
                guard !xs.isEmpty else { return }
                let shown = xs.prefix(20).joined(separator: ", ")
                lines.append("  \(title) (\(xs.count)): \(shown)\(xs.count > 20 ? ", …" : "")")
            }
            list("missing", missing)
            list("unexpected", unexpected)
            list("mis-shaped", misShaped)
            lines.append("  Check size / style_dim / n_mlp / channel_multiplier (the file's __metadata__ or the graph's "
                         + "models: entry), or reconvert the checkpoint with tools/convert_rosinality.py.")
            return lines.joined(separator: "\n")
        }
    }
}
