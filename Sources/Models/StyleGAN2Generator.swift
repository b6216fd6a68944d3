import Foundation
import TensorCore

/// Where the synthesis network's per-layer noise maps come from.
public enum StyleGAN2Noise: Equatable {
    /// The stored buffers `noises.noise_i` (rosinality's `randomize_noise=False`): deterministic.
    case const
    /// No noise.
    case zero
    /// Fresh standard normals per sample and layer from Philox (`seed`, stream = layer index).
    case random(seed: UInt64)
    /// Explicit maps, one per layer, each `(1,1,s,s)` or `(N,1,s,s)` with `s = noiseSide(i)`.
    case maps([Tensor])
}

/// rosinality/stylegan2-pytorch's `Generator` on the tensor core: mapping network z → w and
/// synthesis network w+ → image `(N,3,size,size)` (raw output, roughly [-1, 1] when trained).
///
/// Parameters keep rosinality's state-dict names, so a converted `g_ema` loads unchanged. Every
/// op records on a `Tape` when its inputs are tracked: watch the w+ (for latent optimisation) or
/// use `watchingParameters(on:)` (for training) and ask the tape for gradients. With nothing
/// tracked, no activation outlives the layer that consumes it.
public struct StyleGAN2Generator {
    /// The architecture.
    public let config: StyleGAN2Config
    /// Every state-dict tensor (parameters and buffers) by rosinality name.
    public var parameters: [String: Tensor]

    /// Number of w codes the synthesis network takes.
    public var nLatent: Int { config.nLatent }
    /// Width of z and w.
    public var styleDim: Int { config.styleDim }

    /// A generator from a state dict; throws one `StyleGAN2Error.weights` listing every missing,
    /// unexpected and mis-shaped tensor.
    public init(config: StyleGAN2Config, parameters: [String: Tensor], source: String = "<memory>") throws {
        try config.validate()
        let expected = config.expectedShapes
        var known = Set<String>()
        var missing: [String] = [], misShaped: [String] = []
        for (name, shape) in expected {
            known.insert(name)
            guard let t = parameters[name] else { missing.append(name); continue }
            if t.shape != shape { misShaped.append("\(name) is \(t.shape), expected \(shape)") }
        }
        let unexpected = parameters.keys.filter { !known.contains($0) }.sorted()
        guard missing.isEmpty, unexpected.isEmpty, misShaped.isEmpty else {
            throw StyleGAN2Error.weights(source: source, config: config.description, missing: missing,
                                         unexpected: unexpected, misShaped: misShaped)
        }
        // The blur kernels are buffers in the state dict; the modulated conv uses the [1,3,3,1] taps, so check they agree.
        let blur = try Tensor.blurKernel2d([1, 3, 3, 1], factor: 2)
        var odd: [String] = []
        for (name, _) in expected where name.hasSuffix(".kernel") {
            if let k = parameters[name], zip(k.scalars, blur.scalars).contains(where: { Swift.abs($0 - $1) > 1e-6 }) {
                odd.append("\(name) is not outer([1,3,3,1])/64·4")
            }
        }
        guard odd.isEmpty else {
            throw StyleGAN2Error.weights(source: source, config: config.description, missing: [], unexpected: [], misShaped: odd)
        }
        self.config = config
        self.parameters = parameters
    }

    /// Loads a rosinality state dict from safetensors. The config comes from `config` when given,
    /// else from the file's `__metadata__`; when both are present they must agree.
    public static func load(path: String, config: StyleGAN2Config? = nil) throws -> StyleGAN2Generator {
        let file = try SafeTensors.File(path: path)
        let fromFile = try StyleGAN2Config.fromMetadata(file.metadata, source: path)
        if let config, let fromFile, config != fromFile {
            throw StyleGAN2Error.config("\(path): the given config \(config) differs from the file's __metadata__ \(fromFile)")
        }
        guard let cfg = config ?? fromFile else {
            throw StyleGAN2Error.config("\(path): no config: the file's __metadata__ has no size; give size, style_dim, n_mlp and channel_multiplier in the graph's models: entry")
        }
        // Check names and shapes from the header before reading any data.
        var tensors: [String: Tensor] = [:]
        let expected = Dictionary(cfg.expectedShapes.map { ($0.name, $0.shape) }, uniquingKeysWith: { a, _ in a })
        var misShaped: [String] = []
        for name in file.names {
            guard let info = file.infos[name] else { continue }
            if let shape = expected[name], shape != info.shape {
                misShaped.append("\(name) is \(info.shape), expected \(shape)")
            }
        }
        let missing = cfg.expectedShapes.map(\.name).filter { file.infos[$0] == nil }
        let unexpected = file.names.filter { expected[$0] == nil }
        guard missing.isEmpty, unexpected.isEmpty, misShaped.isEmpty else {
            throw StyleGAN2Error.weights(source: path, config: cfg.description, missing: missing,
                                         unexpected: unexpected, misShaped: misShaped)
        }
        for name in file.names { tensors[name] = try file.tensor(name) }
        return try StyleGAN2Generator(config: cfg, parameters: tensors, source: path)
    }

    /// Writes the state dict with the config in `__metadata__`.
    public func save(to path: String) throws {
        try SafeTensors.write(parameters, metadata: config.metadata, to: path)
    }

    /// A generator with rosinality's initialisation (weights `randn`, mapping weights `randn/lr_mlp`,
    /// modulation biases 1, other biases and noise strengths 0) from Philox `seed`; for benchmarks.
    public static func random(config: StyleGAN2Config, seed: UInt64) throws -> StyleGAN2Generator {
        var params: [String: Tensor] = [:]
        let blur = try Tensor.blurKernel2d([1, 3, 3, 1], factor: 2)
        for (i, (name, shape)) in config.expectedShapes.enumerated() {
            if name.hasSuffix(".kernel") { params[name] = blur; continue }
            if name.hasSuffix("modulation.bias") { params[name] = try Tensor.ones(shape); continue }
            if name.hasSuffix("bias") || name.hasSuffix("noise.weight") || name == "cond.weight" { params[name] = try Tensor.zeros(shape); continue }
            var t = try Tensor.randomNormal(shape, seed: seed, stream: UInt64(i))
            if name.hasPrefix("style.") { t = t.scaled(1 / config.lrMLP) }
            params[name] = t
        }
        return try StyleGAN2Generator(config: config, parameters: params, source: "random(seed: \(seed))")
    }

    /// A copy whose parameters named in `names` (default: all) are watched on `tape`, so
    /// `tape.gradients(of:wrt:)` can return gradients with respect to `parameters[name]`.
    public func watchingParameters(on tape: Tape, names: [String]? = nil) throws -> StyleGAN2Generator {
        var copy = self
        for name in names ?? Array(parameters.keys) {
            guard let t = parameters[name] else {
                throw StyleGAN2Error.input("watchingParameters: no parameter named \"\(name)\"")
            }
            copy.parameters[name] = tape.watch(t)
        }
        return copy
    }

    /// The parameter `name`, or an error naming it.
    public func parameter(_ name: String) throws -> Tensor {
        guard let t = parameters[name] else { throw StyleGAN2Error.input("StyleGAN2: no parameter named \"\(name)\"") }
        return t
    }

    // MARK: Mapping

    /// The mapping network: z `(N,styleDim)` → w `(N,styleDim)` (PixelNorm, then n_mlp EqualLinear + fused lrelu).
    /// A conditioned generator adds `cond.weight · c · λ/√K`, c the condition vectors `(N,K)`
    /// given, or by default those of the attributes z draws (`FaceCondition`).
    public func mapping(_ z: Tensor, condition c: Tensor? = nil) throws -> Tensor {
        guard z.rank == 2, z.shape[1] == styleDim, z.shape[0] > 0 else {
            throw StyleGAN2Error.input("mapping: z must be (N,\(styleDim)) with N ≥ 1, got \(z.shape)")
        }
        var x = try z.pixelNorm()
        let scale = config.lrMLP / Float(styleDim).squareRoot()
        for i in 0..<config.nMLP {
            let w = try parameter("style.\(i + 1).weight"), b = try parameter("style.\(i + 1).bias")
            x = try Tensor.linear(x, weight: w.scaled(scale)).biasLeakyReLU(b.scaled(config.lrMLP))
        }
        guard let e = try conditionTerm(z, condition: c) else { return x }
        guard e.shape[0] == z.shape[0] else { throw StyleGAN2Error.input("mapping: \(e.shape[0]) conditions for \(z.shape[0]) z codes") }
        return try x + e
    }

    /// A conditioned generator's condition term of w for codes z `(N,styleDim)`: `cond.weight·c·λ/√K`,
    /// c the condition vectors given, or those of the attributes z draws (`FaceCondition`); nil for
    /// a plain generator.
    public func conditionTerm(_ z: Tensor, condition c: Tensor? = nil) throws -> Tensor? {
        guard config.conditioning else { return nil }
        return try FaceCondition.project(c ?? FaceCondition.vectors(z: z), weight: parameter("cond.weight"),
                                         multiplier: FaceCondition.generatorLRMultiplier, what: "mapping")
    }

    /// The mean condition term over the z codes of `meanLatent(count:seed:)`, `(1,styleDim)`; nil
    /// for a plain generator.
    public func meanConditionTerm(count: Int = 4096, seed: UInt64 = 0) throws -> Tensor? {
        guard config.conditioning else { return nil }
        return try meanOverCodes(count: count, seed: seed) { try conditionTerm($0)! }
    }

    /// The mean `(1,styleDim)` of `f(z)` over `count` Philox normal z (seed `seed`), in chunks of 512
    /// (stream = chunk), so memory stays small for any count.
    func meanOverCodes(count: Int, seed: UInt64, _ f: (Tensor) throws -> Tensor) throws -> Tensor {
        let chunk = 512
        var acc = [Double](repeating: 0, count: styleDim)
        var start = 0
        while start < count {
            let rows = Swift.min(chunk, count - start)
            let y = try f(Tensor.randomNormal([rows, styleDim], seed: seed, stream: UInt64(start / chunk)))
            for r in 0..<rows { for j in 0..<styleDim { acc[j] += Double(y.scalars[r * styleDim + j]) } }
            start += rows
        }
        return try Tensor(shape: [1, styleDim], scalars: acc.map { Float($0 / Double(count)) })
    }

    /// Truncation of the w `(N,styleDim)` of codes z that keeps a conditioned generator's
    /// attributes: toward the mean w given each code's condition, w̄ + (e − ē), so
    /// `w̄ + ψ(w − w̄) + (1 − ψ)(e − ē)` with e the codes' condition terms and ē `meanCondition`.
    /// Plain generators (or `meanCondition` nil): `truncate(w, psi:, mean:)`.
    public func truncate(_ w: Tensor, codes z: Tensor, psi: Float, mean: Tensor, meanCondition: Tensor?) throws -> Tensor {
        let t = try truncate(w, psi: psi, mean: mean)
        guard psi != 1, let meanCondition, let e = try conditionTerm(z) else { return t }
        guard w.rank == 2, w.shape == e.shape, meanCondition.count == styleDim else {
            throw StyleGAN2Error.input("truncation: w \(w.shape) and the condition terms \(e.shape) of its codes must match")
        }
        return try t + (e - meanCondition.reshaped([styleDim])).scaled(1 - psi)
    }

    /// `count` standard-normal z codes `(count,styleDim)` from Philox `seed` (stream 0); row i
    /// depends only on (seed, i), so a larger count extends a smaller one.
    public func randomZ(count: Int, seed: UInt64) throws -> Tensor {
        guard (1...65_536).contains(count) else {
            throw StyleGAN2Error.input("randomZ: count must be in 1...65536, got \(count)")
        }
        return try Tensor.randomNormal([count, styleDim], seed: seed)
    }

    /// Mean of `mapping(z)` over the rows of `z (M,styleDim)`: `(1,styleDim)`.
    public func meanLatent(z: Tensor) throws -> Tensor {
        let w = try mapping(z)
        var mean = [Float](repeating: 0, count: styleDim)
        var acc = [Double](repeating: 0, count: styleDim)
        let rows = w.shape[0]
        for r in 0..<rows { for j in 0..<styleDim { acc[j] += Double(w.scalars[r * styleDim + j]) } }
        for j in 0..<styleDim { mean[j] = Float(acc[j] / Double(rows)) }
        return try Tensor(shape: [1, styleDim], scalars: mean)
    }

    /// rosinality's `mean_latent`: the mean w of `count` Philox normal z (seed `seed`), `(1,styleDim)`.
    /// Mapped in chunks so memory stays small for any count.
    public func meanLatent(count: Int = 4096, seed: UInt64 = 0) throws -> Tensor {
        guard (1...1 << 20).contains(count) else {
            throw StyleGAN2Error.input("meanLatent: count must be in 1...\(1 << 20), got \(count)")
        }
        return try meanOverCodes(count: count, seed: seed) { try mapping($0) }
    }

    /// Truncation `w̄ + ψ(w − w̄)` of w `(N,styleDim)` or w+ `(N,nLatent,styleDim)` toward `mean`
    /// `(1,styleDim)` or `(styleDim)`; returns `w` unchanged when ψ = 1 (rosinality applies it only when ψ < 1).
    public func truncate(_ w: Tensor, psi: Float, mean: Tensor) throws -> Tensor {
        guard psi.isFinite else { throw StyleGAN2Error.input("truncation must be a finite number, got \(psi)") }
        if psi == 1 { return w }
        guard mean.count == styleDim else {
            throw StyleGAN2Error.input("truncation: mean latent must have \(styleDim) elements, got shape \(mean.shape)")
        }
        guard (w.rank == 2 || w.rank == 3), w.shape.last == styleDim else {
            throw StyleGAN2Error.input("truncation: latent must be (N,\(styleDim)) or (N,\(nLatent),\(styleDim)), got \(w.shape)")
        }
        let m = try mean.reshaped([styleDim])
        return try (try (w - m).scaled(psi)) + m
    }

    /// w `(N,styleDim)` repeated for every layer → w+ `(N,nLatent,styleDim)`; a w+ passes through.
    public func broadcastLatent(_ w: Tensor) throws -> Tensor {
        if w.rank == 3 {
            guard w.shape[1] == nLatent, w.shape[2] == styleDim, w.shape[0] > 0 else {
                throw StyleGAN2Error.input("w+ must be (N,\(nLatent),\(styleDim)), got \(w.shape)")
            }
            return w
        }
        guard w.rank == 2, w.shape[1] == styleDim, w.shape[0] > 0 else {
            throw StyleGAN2Error.input("w must be (N,\(styleDim)) or w+ (N,\(nLatent),\(styleDim)), got \(w.shape)")
        }
        return try w.reshaped([w.shape[0], 1, styleDim]).broadcast(to: [w.shape[0], nLatent, styleDim])
    }

    /// z `(N,styleDim)` → image: mapping, optional truncation toward `meanLatent` (needed when ψ < 1), synthesis.
    public func generate(z: Tensor, truncation psi: Float = 1, meanLatent: Tensor? = nil,
                         noise: StyleGAN2Noise = .const) throws -> Tensor {
        var w = try mapping(z)
        if psi != 1 {
            guard let meanLatent else {
                throw StyleGAN2Error.input("truncation \(psi) needs a mean latent (meanLatent(count:seed:))")
            }
            w = try truncate(w, psi: psi, mean: meanLatent)
        }
        return try synthesis(broadcastLatent(w), noise: noise)
    }

    // MARK: Synthesis

    /// The synthesis network: w+ `(N,nLatent,styleDim)` (or w `(N,styleDim)`, broadcast) → image `(N,3,size,size)`.
    public func synthesis(_ latent: Tensor, noise: StyleGAN2Noise = .const) throws -> Tensor {
        let wplus = try broadcastLatent(latent)
        let n = wplus.shape[0]
        let noiseMaps = try self.noiseMaps(noise, batch: n)
        // Per-layer codes (N, styleDim), sliced lazily: each is used by one or two layers.
        func code(_ i: Int) throws -> Tensor {
            try wplus.slice(axis: 1, i ..< i + 1).reshaped([n, styleDim])
        }
        let c4 = config.channels(atResolution: 4)
        var x = try parameter("input.input").broadcast(to: [n, c4, 4, 4])      // (N, C4, 4, 4)
        x = try styledConv("conv1", x, style: code(0), noise: noiseMaps[0], upsample: false)
        var skip = try toRGB("to_rgb1", x, style: code(1), skip: nil)           // (N, 3, 4, 4)
        for j in 0..<config.levels {
            x = try styledConv("convs.\(2 * j)", x, style: code(2 * j + 1), noise: noiseMaps[2 * j + 1], upsample: true)
            x = try styledConv("convs.\(2 * j + 1)", x, style: code(2 * j + 2), noise: noiseMaps[2 * j + 2], upsample: false)
            skip = try toRGB("to_rgbs.\(j)", x, style: code(2 * j + 3), skip: skip)
        }
        return skip
    }

    /// One noise map per layer, `(1,1,s,s)` or `(N,1,s,s)`, or nil for none.
    func noiseMaps(_ mode: StyleGAN2Noise, batch n: Int) throws -> [Tensor?] {
        let count = config.numLayers
        switch mode {
        case .zero:
            return [Tensor?](repeating: nil, count: count)
        case .const:
            return try (0..<count).map { try parameter("noises.noise_\($0)") }
        case let .random(seed):
            return try (0..<count).map { i in
                let s = config.noiseSide(i)
                return try Tensor.randomNormal([n, 1, s, s], seed: seed, stream: UInt64(i))
            }
        case let .maps(maps):
            guard maps.count == count else {
                throw StyleGAN2Error.input("noise: expected \(count) maps (one per layer), got \(maps.count)")
            }
            for (i, m) in maps.enumerated() {
                let s = config.noiseSide(i)
                guard m.shape == [1, 1, s, s] || m.shape == [n, 1, s, s] else {
                    throw StyleGAN2Error.input("noise map \(i) must be (1,1,\(s),\(s)) or (\(n),1,\(s),\(s)), got \(m.shape)")
                }
            }
            return maps
        }
    }

    /// rosinality's `EqualLinear` modulation (lr_mul 1): `w · (W/√styleDim)ᵀ + b` → `(N,Cin)`.
    func modulation(_ prefix: String, _ w: Tensor) throws -> Tensor {
        let weight = try parameter("\(prefix).conv.modulation.weight"), bias = try parameter("\(prefix).conv.modulation.bias")
        return try Tensor.linear(w, weight: weight.scaled(1 / Float(styleDim).squareRoot()), bias: bias)
    }

    /// `StyledConv`: modulated 3×3 conv (upsampling ×2 when asked), noise, bias + lrelu·√2.
    func styledConv(_ prefix: String, _ x: Tensor, style w: Tensor, noise: Tensor?, upsample: Bool) throws -> Tensor {
        let s = try modulation(prefix, w)
        var y = try Tensor.modulatedConv2d(x, weight: parameter("\(prefix).conv.weight"), style: s,
                                           demodulate: true, upsample: upsample)
        let strength = try parameter("\(prefix).noise.weight"), bias = try parameter("\(prefix).activate.bias")
        if !y.isTracked && !strength.isTracked && !bias.isTracked && !(noise?.isTracked ?? false) {
            Self.noiseBiasLeakyReLU(&y, noise: noise, strength: strength.scalars[0], bias: bias)
            return y
        }
        if let noise {
            y = try Tensor.noiseInjection(y, noise: noise, strength: parameter("\(prefix).noise.weight"))
        }
        return try y.biasLeakyReLU(parameter("\(prefix).activate.bias"))
    }

    /// Inference-only fusion of noise injection and bias + lrelu·√2 in one pass over `y (N,C,H,W)`,
    /// in place; `noise` is `(1,1,H,W)` or `(N,1,H,W)` (checked by the caller). The tape path uses
    /// the separate differentiable ops, which compute bit-identical values.
    static func noiseBiasLeakyReLU(_ y: inout Tensor, noise: Tensor?, strength: Float, bias: Tensor) {
        let (n, c) = (y.shape[0], y.shape[1])
        let plane = y.shape[2] * y.shape[3]
        let perSample = (noise?.shape[0] ?? 1) == n && n > 1
        let gain = Float(2).squareRoot(), neg = gain * 0.2
        let zeros = [Float](repeating: 0, count: noise == nil ? plane : 0)
        (noise?.scalars ?? zeros).withUnsafeBufferPointer { pn in
            bias.scalars.withUnsafeBufferPointer { pb in
                y.scalars.withUnsafeMutableBufferPointer { po in
                    let z = pn.baseAddress!, b = pb.baseAddress!, o = po.baseAddress!
                    let s = noise == nil ? 0 : strength
                    DispatchQueue.concurrentPerform(iterations: Swift.min(Threads.count, n * c)) { part in
                        let parts = Swift.min(Threads.count, n * c)
                        let lo = part * (n * c) / parts, hi = (part + 1) * (n * c) / parts
                        for r in lo..<hi {
                            let src = z + (perSample ? r / c : 0) * plane, dst = o + r * plane, br = b[r % c]
                            for i in 0..<plane {
                                // Same association as the separate ops: (y + s·noise) + b.
                                let v = (dst[i] + s * src[i]) + br
                                dst[i] = v > 0 ? gain * v : neg * v
                            }
                        }
                    }
                }
            }
        }
    }

    /// `ToRGB`: modulated 1×1 conv to 3 channels without demodulation, plus bias, plus the
    /// upsampled skip `(N,3,H/2,W/2)` (upfirdn2d up 2, pad (2,1)).
    func toRGB(_ prefix: String, _ x: Tensor, style w: Tensor, skip: Tensor?) throws -> Tensor {
        let s = try modulation(prefix, w)
        var y = try Tensor.modulatedConv2d(x, weight: parameter("\(prefix).conv.weight"), style: s, demodulate: false)
        y = try y + parameter("\(prefix).bias")
        if let skip {
            let up = try skip.upfirdn2d(kernel: parameter("\(prefix).upsample.kernel"), up: 2, pad: (2, 1, 2, 1))
            y = try y + up
        }
        return y
    }
}
