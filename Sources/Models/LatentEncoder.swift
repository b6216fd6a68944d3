import Foundation
import TensorCore

/// An encoder into a generator's W+ space (pSp's pyramid, narrowed for 64 px): an image (or, with
/// another input width, a sketch or a one-hot label map) → a code `(N, nLatent, styleDim)` that
/// the generator turns back into the face. Codes are offsets from the generator's mean latent
/// `latent_avg`, which the file stores, so an untrained encoder already gives the mean face.
///
/// Layout (the default config, 64 px, a 10-layer generator with style_dim 256):
/// ```
/// x (N,Cin,64,64) in [-1,1]
/// stem  3×3/1 Cin→32    (N,32,64,64)   + bias, leaky ReLU 0.2 (×√2), as every conv here
/// down0 3×3/2 32→64     (N,64,32,32)   conv0 3×3/1 64→64     = c0
/// down1 3×3/2 64→128    (N,128,16,16)  conv1 3×3/1 128→128   = c1
/// down2 3×3/2 128→256   (N,256,8,8)    conv2 3×3/1 256→256   = c2
/// p2 = lateral2(c2)                    (N,128,8,8)    1×1, no activation
/// p1 = up2(p2) + lateral1(c1)          (N,128,16,16)  nearest-neighbour ×2
/// p0 = up2(p1) + lateral0(c0)          (N,128,32,32)
/// head.coarse: p2 → 3×3/2 convs down to 1×1 → linear 128→4·256 → layers 0–3 (4²–16² in G)
/// head.middle: p1 → … → linear → layers 4–7 (16²–64²)
/// head.fine:   p0 → … → linear → layers 8–9 (64²)
/// w+ = latent_avg + (heads' outputs, in layer order)
/// ```
/// Each group of layers reads the feature map whose resolution matches the generator layers it
/// drives (pSp: styles 0–2 from 16², 3–6 from 32², the rest from 64² at 256 px input).
public struct LatentEncoder {
    /// Architecture hyper-parameters; stored in a model file's `__metadata__`.
    public struct Config: Equatable, Sendable {
        /// Input side in pixels (a power of two ≥ 16).
        public var size: Int
        /// Input channels: 3 for an image, 1 for a sketch, 19 for a one-hot label map.
        public var inChannels: Int
        /// What the input is: "image", "sketch" or "label".
        public var modality: String
        /// Width of the stem and of each of the three stride-2 stages.
        public var channels: [Int]
        /// Width of the pyramid's maps and of the heads.
        public var headChannels: Int
        /// The generator's W+ layout.
        public var nLatent: Int
        public var styleDim: Int
        /// First layer of the middle and of the fine group.
        public var split: [Int]

        public init(size: Int = 64, inChannels: Int = 3, modality: String = "image", channels: [Int] = [32, 64, 128, 256],
                    headChannels: Int = 128, nLatent: Int = 10, styleDim: Int = 256, split: [Int]? = nil) {
            self.size = size; self.inChannels = inChannels; self.modality = modality; self.channels = channels
            self.headChannels = headChannels; self.nLatent = nLatent; self.styleDim = styleDim
            self.split = split ?? [(nLatent * 2 + 2) / 5, (nLatent * 4 + 2) / 5]
        }

        /// A tiny encoder for tests (16 px, a 6-layer generator with style_dim 16).
        public static let tiny = Config(size: 16, channels: [4, 8, 8, 16], headChannels: 8, nLatent: 6, styleDim: 16)

        /// The latent layers of group g (0 coarse, 1 middle, 2 fine).
        public func layers(group g: Int) -> Range<Int> {
            let b = [0] + split + [nLatent]
            return b[g]..<b[g + 1]
        }

        /// The side of the pyramid map group g reads (size/8, size/4, size/2).
        public func side(group g: Int) -> Int { size >> (3 - g) }

        public static let groupNames = ["coarse", "middle", "fine"]

        public func validate() throws {
            guard size >= 16, size <= 1024, size & (size - 1) == 0 else { throw ModelError("encoder: size \(size) must be a power of two in 16...1024") }
            guard (1...64).contains(inChannels) else { throw ModelError("encoder: in_channels \(inChannels) is outside 1...64") }
            guard channels.count == 4, channels.allSatisfy({ (1...2048).contains($0) }) else {
                throw ModelError("encoder: channels must be 4 widths in 1...2048 (stem and three stages), got \(channels)")
            }
            guard (1...2048).contains(headChannels) else { throw ModelError("encoder: head_channels \(headChannels) is outside 1...2048") }
            guard (3...64).contains(nLatent), (1...4096).contains(styleDim) else {
                throw ModelError("encoder: n_latent \(nLatent) / style_dim \(styleDim) out of range")
            }
            guard split.count == 2, 0 < split[0], split[0] < split[1], split[1] < nLatent else {
                throw ModelError("encoder: split \(split) must be two increasing layers inside 1..<\(nLatent)")
            }
        }

        public var metadata: [String: String] {
            ["arch": LatentEncoder.arch, "size": String(size), "in_channels": String(inChannels), "modality": modality,
             "channels": channels.map(String.init).joined(separator: ","), "head_channels": String(headChannels),
             "n_latent": String(nLatent), "style_dim": String(styleDim), "split": split.map(String.init).joined(separator: ",")]
        }

        public init(metadata m: [String: String], path: String) throws {
            guard m["arch"] == LatentEncoder.arch else {
                throw ModelError("\(path): not a tedi encoder (metadata arch is '\(m["arch"] ?? "missing")', expected '\(LatentEncoder.arch)')")
            }
            let meta = MetadataReader(m, path: path)
            let ints = meta.ints, int = meta.int
            self.init(size: try int("size"), inChannels: try int("in_channels"), modality: m["modality"] ?? "image",
                      channels: try ints("channels"), headChannels: try int("head_channels"), nLatent: try int("n_latent"),
                      styleDim: try int("style_dim"), split: try ints("split"))
            try validate()
        }
    }

    /// The `arch` metadata value of encoder files.
    public static let arch = "tedi-encoder-v1"

    public let config: Config
    /// Parameters by name (see `shapes`); `latent_avg (1, styleDim)` is the generator's mean latent, not trained.
    public var params: [String: Tensor]

    /// Stride-2 convs that take group g's map from its side down to 1×1.
    static func headDepth(_ c: Config, group g: Int) -> Int { Int(log2(Double(c.side(group: g)))) }

    /// Parameter shapes of a config, by name.
    public static func shapes(_ c: Config) -> [String: [Int]] {
        var s: [String: [Int]] = [:]
        func conv(_ name: String, _ cout: Int, _ cin: Int, _ k: Int = 3) {
            s[name + ".weight"] = [cout, cin, k, k]
            s[name + ".bias"] = [cout]
        }
        conv("stem", c.channels[0], c.inChannels)
        for i in 0..<3 {
            conv("down\(i)", c.channels[i + 1], c.channels[i])
            conv("conv\(i)", c.channels[i + 1], c.channels[i + 1])
            conv("lateral\(i)", c.headChannels, c.channels[i + 1], 1)
        }
        for g in 0..<3 {
            let name = "head." + Config.groupNames[g]
            for j in 0..<headDepth(c, group: g) { conv("\(name).conv\(j)", c.headChannels, c.headChannels) }
            s[name + ".linear.weight"] = [c.layers(group: g).count * c.styleDim, c.headChannels]
            s[name + ".linear.bias"] = [c.layers(group: g).count * c.styleDim]
        }
        s["latent_avg"] = [1, c.styleDim]
        return s
    }

    /// A fresh encoder around the generator's mean latent `latentAverage (1, styleDim)`: weights
    /// N(0, 1/fan_in) (the heads' linear layers ×0.1, so the first codes stay near the mean),
    /// biases zero, each tensor from its own Philox stream of `seed`.
    public init(config: Config, latentAverage: Tensor, seed: UInt64) throws {
        try config.validate()
        guard latentAverage.shape == [1, config.styleDim] else {
            throw ModelError("encoder: the mean latent has shape \(latentAverage.shape), expected [1, \(config.styleDim)]")
        }
        self.config = config
        params = try ModelParams.initialized(LatentEncoder.shapes(config), seed: seed, fixed: ["latent_avg": latentAverage]) {
            $0.hasSuffix(".linear.weight") ? 0.1 : 1
        }
    }

    /// An encoder with the given parameters; throws naming any missing or misshapen tensor.
    public init(config: Config, params: [String: Tensor], path: String = "<memory>") throws {
        try config.validate()
        self.params = try ModelParams.checked(params, shapes: LatentEncoder.shapes(config), path: path)
        self.config = config
    }

    /// Loads a model file written by `save`, or the parameters of a training checkpoint.
    public static func load(_ path: String) throws -> LatentEncoder {
        let (params, metadata) = try ModelParams.read(path, checkpointPrefix: "e.")
        return try LatentEncoder(config: try Config(metadata: metadata, path: path), params: params, path: path)
    }

    /// Writes the parameters and config atomically (`dtype` F16 halves the file).
    public func save(to path: String, dtype: SafeTensors.DType = .f32, extraMetadata: [String: String] = [:]) throws {
        try ModelParams.save(params, metadata: config.metadata, extra: extraMetadata, to: path, dtype: dtype)
    }

    /// Names of the trained tensors (all but `latent_avg`).
    public var trainableNames: [String] { params.keys.filter { $0 != "latent_avg" }.sorted() }

    /// Checks an input batch against the config.
    public func checkInput(_ x: Tensor) throws {
        guard x.rank == 4, x.shape[0] >= 1, x.shape[1] == config.inChannels, x.shape[2] == config.size, x.shape[3] == config.size else {
            throw TensorError.shape(op: "encoder", "expected (N,\(config.inChannels),\(config.size),\(config.size)) in [-1,1]; got \(x.shape) (resize the input to \(config.size) px first)")
        }
    }

    /// `x (N,Cin,S,S)` → w+ `(N,nLatent,styleDim)` with the given parameters (which may be watched on a tape).
    public static func forward(_ x: Tensor, config c: Config, params p: [String: Tensor]) throws -> Tensor {
        func conv(_ name: String, _ h: Tensor, stride: Int = 1) throws -> Tensor {
            guard let w = p[name + ".weight"], let b = p[name + ".bias"] else { throw ModelError("encoder: missing \(name) parameters") }
            let pad = w.shape[3] / 2
            return try Tensor.conv2d(h, weight: w, stride: stride, padding: pad).biasLeakyReLU(b)
        }
        func lateral(_ i: Int, _ h: Tensor) throws -> Tensor {
            guard let w = p["lateral\(i).weight"], let b = p["lateral\(i).bias"] else { throw ModelError("encoder: missing lateral\(i) parameters") }
            return try Tensor.conv2d(h, weight: w, bias: b)
        }
        let n = x.shape[0]
        var h = try conv("stem", x)                                      // (N,C0,S,S)
        var stages: [Tensor] = []
        for i in 0..<3 {
            h = try conv("conv\(i)", conv("down\(i)", h, stride: 2))     // (N,C(i+1),S/2^(i+1),…)
            stages.append(h)
        }
        var maps = [Tensor](repeating: h, count: 3)                       // maps[g]: (N,H,side(g),side(g))
        maps[0] = try lateral(2, stages[2])
        maps[1] = try upsample2(maps[0]) + lateral(1, stages[1])
        maps[2] = try upsample2(maps[1]) + lateral(0, stages[0])
        var codes: [Tensor] = []
        for g in 0..<3 {
            let name = "head." + Config.groupNames[g]
            var f = maps[g]
            for j in 0..<headDepth(c, group: g) { f = try conv("\(name).conv\(j)", f, stride: 2) }   // → (N,H,1,1)
            guard let w = p[name + ".linear.weight"], let b = p[name + ".linear.bias"] else { throw ModelError("encoder: missing \(name).linear") }
            let k = c.layers(group: g).count
            codes.append(try Tensor.linear(f.reshaped([n, c.headChannels]), weight: w, bias: b).reshaped([n, k, c.styleDim]))
        }
        guard let avg = p["latent_avg"] else { throw ModelError("encoder: missing latent_avg") }
        return try Tensor.concat(codes, axis: 1) + avg.reshaped([1, 1, c.styleDim])
    }

    /// Nearest-neighbour ×2: `(N,C,H,W)` → `(N,C,2H,2W)`.
    static func upsample2(_ x: Tensor) throws -> Tensor {
        let s = x.shape
        return try x.reshaped([s[0], s[1], s[2], 1, s[3], 1]).broadcast(to: [s[0], s[1], s[2], 2, s[3], 2])
            .reshaped([s[0], s[1], 2 * s[2], 2 * s[3]])
    }

    /// w+ `(N,nLatent,styleDim)` of a batch with this encoder's parameters.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try checkInput(x)
        return try LatentEncoder.forward(x, config: config, params: params)
    }
}
