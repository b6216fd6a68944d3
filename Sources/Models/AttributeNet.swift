import Foundation
import TensorCore

/// Errors of the Models module meant for a person: what is wrong and what to do.
public struct ModelError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// Integer fields of a model file's `__metadata__`, with errors naming the file and the key.
struct MetadataReader {
    let metadata: [String: String]
    let path: String
    init(_ metadata: [String: String], path: String) { self.metadata = metadata; self.path = path }

    /// A comma-separated list of integers.
    func ints(_ key: String) throws -> [Int] {
        guard let s = metadata[key] else { throw ModelError("\(path): metadata has no '\(key)'") }
        let parts = s.split(separator: ",").map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { throw ModelError("\(path): metadata '\(key)' is not a list of integers: '\(s)'") }
        return parts.map { $0! }
    }

    /// A checkpoint option of any type that reads from a string.
    func value<T: LosslessStringConvertible>(_ key: String) throws -> T {
        guard let s = metadata[key], let v = T(s) else { throw ModelError("\(path): checkpoint metadata '\(key)' is missing or invalid") }
        return v
    }

    /// One integer.
    func int(_ key: String) throws -> Int {
        let v = try ints(key)
        guard v.count == 1 else { throw ModelError("\(path): metadata '\(key)' must be one integer") }
        return v[0]
    }
}

/// tedi's attribute network: a small CNN over SynthFaces renders that predicts every attribute.
///
/// Layout (the default config, 64 px):
/// ```
/// x (N,3,64,64) in [-1,1]
/// conv0 3×3/2  3→32    (N,32,32,32)  + bias, leaky ReLU 0.2 (×√2)
/// conv1 3×3/2 32→64    (N,64,16,16)
/// conv2 3×3/1 64→64    (N,64,16,16)
/// conv3 3×3/2 64→128   (N,128,8,8)
/// conv4 3×3/1 128→128  (N,128,8,8)
/// conv5 3×3/2 128→256  (N,256,4,4)
/// flatten → fc 4096→256 + bias, leaky ReLU   = features (N,256)
/// head.NAME  256→K (one per categorical attribute, softmax cross-entropy)
/// regress    256→3 (face width, yaw, tilt, normalized; MSE)
/// ```
/// The features are flattened rather than average-pooled so they keep where things are (pose,
/// tilt and face width are positions). They are the feature space of tedi's perceptual loss and
/// metrics. Weights are plain tensors in a name → tensor dictionary, so the same code runs with
/// parameters watched on a tape (training) or as constants (inference).
public struct AttributeNet {
    /// Architecture hyper-parameters; stored in a model file's `__metadata__`.
    public struct Config: Equatable, Sendable {
        /// Input side in pixels.
        public var size: Int
        /// Output channels of each 3×3 conv.
        public var channels: [Int]
        /// Stride of each conv (1 or 2); their product must divide `size`.
        public var strides: [Int]
        /// Width of the penultimate feature vector.
        public var featureDim: Int

        public init(size: Int = 64, channels: [Int] = [32, 64, 64, 128, 128, 256],
                    strides: [Int] = [2, 2, 1, 2, 1, 2], featureDim: Int = 256) {
            self.size = size; self.channels = channels; self.strides = strides; self.featureDim = featureDim
        }

        /// A tiny network for tests (16 px, two convs).
        public static let tiny = Config(size: 16, channels: [8, 16], strides: [2, 2], featureDim: 32)

        /// Side of the last conv's output.
        public var finalSide: Int { size / strides.reduce(1, *) }

        /// Throws when the config cannot describe a network.
        public func validate() throws {
            guard (8...1024).contains(size) else { throw ModelError("attribute net: size \(size) is outside 8...1024") }
            guard !channels.isEmpty, channels.count == strides.count, channels.count <= 16 else {
                throw ModelError("attribute net: need 1–16 convs with one stride each; got \(channels.count) channels and \(strides.count) strides")
            }
            guard channels.allSatisfy({ (1...2048).contains($0) }) else { throw ModelError("attribute net: channels \(channels) must be in 1...2048") }
            guard strides.allSatisfy({ $0 == 1 || $0 == 2 }) else { throw ModelError("attribute net: strides \(strides) must be 1 or 2") }
            let down = strides.reduce(1, *)
            guard size % down == 0, size / down >= 1 else { throw ModelError("attribute net: size \(size) is not divisible by the total stride \(down)") }
            guard (1...4096).contains(featureDim) else { throw ModelError("attribute net: feature_dim \(featureDim) is outside 1...4096") }
        }

        /// The config as `__metadata__` strings.
        public var metadata: [String: String] {
            ["arch": AttributeNet.arch, "size": String(size),
             "channels": channels.map(String.init).joined(separator: ","),
             "strides": strides.map(String.init).joined(separator: ","),
             "feature_dim": String(featureDim),
             "heads": AttributeHeads.categorical.map { "\($0.name):\($0.values.joined(separator: "|"))" }.joined(separator: ";"),
             "regress": AttributeHeads.continuous.map(\.name).joined(separator: ",")]
        }

        /// Reads a config back from `__metadata__`; `path` names the file in errors.
        public init(metadata m: [String: String], path: String) throws {
            guard m["arch"] == AttributeNet.arch else {
                throw ModelError("\(path): not an attribute network (metadata arch is '\(m["arch"] ?? "missing")', expected '\(AttributeNet.arch)')")
            }
            let meta = MetadataReader(m, path: path)
            let ints = meta.ints, int = meta.int
            self.init(size: try int("size"), channels: try ints("channels"), strides: try ints("strides"), featureDim: try int("feature_dim"))
            let heads = AttributeHeads.categorical.map { "\($0.name):\($0.values.joined(separator: "|"))" }.joined(separator: ";")
            if let h = m["heads"], h != heads {
                throw ModelError("\(path): the file's attribute heads differ from this build's SynthFaces attributes; retrain it")
            }
            try validate()
        }
    }

    /// The `arch` metadata value of attribute-network files.
    public static let arch = "tedi-attributes-v1"

    public let config: Config
    /// Parameters by name: `conv{i}.weight (C_out,C_in,3,3)`, `conv{i}.bias`, `fc.weight (D, C·s²)`,
    /// `fc.bias`, `head.NAME.weight (K,D)`, `head.NAME.bias`, `regress.weight (R,D)`, `regress.bias`.
    public var params: [String: Tensor]

    /// Parameter shapes of a config, by name.
    public static func shapes(_ c: Config) -> [String: [Int]] {
        var s: [String: [Int]] = [:]
        var cin = 3
        for (i, cout) in c.channels.enumerated() {
            s["conv\(i).weight"] = [cout, cin, 3, 3]
            s["conv\(i).bias"] = [cout]
            cin = cout
        }
        s["fc.weight"] = [c.featureDim, cin * c.finalSide * c.finalSide]
        s["fc.bias"] = [c.featureDim]
        for h in AttributeHeads.categorical {
            s["head.\(h.name).weight"] = [h.values.count, c.featureDim]
            s["head.\(h.name).bias"] = [h.values.count]
        }
        s["regress.weight"] = [AttributeHeads.continuous.count, c.featureDim]
        s["regress.bias"] = [AttributeHeads.continuous.count]
        return s
    }

    /// A freshly initialized network: weights N(0, 1/fan_in) (the ×√2 leaky-ReLU gain keeps the
    /// activations' scale), biases zero; each tensor drawn from its own Philox stream of `seed`,
    /// so the result depends only on the config and the seed.
    public init(config: Config, seed: UInt64) throws {
        try config.validate()
        self.config = config
        params = try ModelParams.initialized(AttributeNet.shapes(config), seed: seed)
    }

    /// A network with the given parameters; throws naming any missing or misshapen tensor.
    public init(config: Config, params: [String: Tensor], path: String = "<memory>") throws {
        try config.validate()
        self.params = try ModelParams.checked(params, shapes: AttributeNet.shapes(config), path: path)
        self.config = config
    }

    /// Loads a model file written by `save`, or the parameters of a training checkpoint.
    public static func load(_ path: String) throws -> AttributeNet {
        let (params, metadata) = try ModelParams.read(path)
        return try AttributeNet(config: try Config(metadata: metadata, path: path), params: params, path: path)
    }

    /// Writes the parameters and config atomically (`dtype` F16 halves the file).
    public func save(to path: String, dtype: SafeTensors.DType = .f32, extraMetadata: [String: String] = [:]) throws {
        try ModelParams.save(params, metadata: config.metadata, extra: extraMetadata, to: path, dtype: dtype)
    }

    /// Everything the network computes for one batch.
    public struct Output {
        /// Penultimate features `(N, featureDim)`.
        public var features: Tensor
        /// Logits per categorical head, in `AttributeHeads.categorical` order, each `(N, K)`.
        public var logits: [Tensor]
        /// Normalized regressions `(N, AttributeHeads.continuous.count)`.
        public var regression: Tensor
    }

    /// Checks an image batch against the config.
    func checkInput(_ images: Tensor) throws {
        guard images.rank == 4, images.shape[0] >= 1, images.shape[1] == 3,
              images.shape[2] == config.size, images.shape[3] == config.size else {
            throw TensorError.shape(op: "AttributeNet", "expected images (N,3,\(config.size),\(config.size)) in [-1,1]; got \(images.shape) (resize the images to \(config.size) px first)")
        }
    }

    /// Features only: `images (N,3,S,S)` in [-1, 1] → `(N, featureDim)`. Differentiable with
    /// respect to `images` and to `params` when either is on a tape.
    public static func features(_ images: Tensor, config: Config, params p: [String: Tensor]) throws -> Tensor {
        let h = try convMaps(images, config: config, params: p).last!
        guard let fw = p["fc.weight"], let fb = p["fc.bias"] else { throw ModelError("attribute net: missing fc parameters") }
        let flat = try h.reshaped([h.shape[0], -1])
        return try Tensor.linear(flat, weight: fw, bias: nil).biasLeakyReLU(fb)
    }

    /// Every conv's activation map, in order (the last is what `fc` reads); the layers of tedi's
    /// perceptual distance (`Perceptual`).
    public static func convMaps(_ images: Tensor, config: Config, params p: [String: Tensor]) throws -> [Tensor] {
        var h = images
        var maps: [Tensor] = []
        for (i, s) in config.strides.enumerated() {
            guard let w = p["conv\(i).weight"], let b = p["conv\(i).bias"] else { throw ModelError("attribute net: missing conv\(i) parameters") }
            h = try Tensor.conv2d(h, weight: w, stride: s, padding: 1).biasLeakyReLU(b)
            maps.append(h)
        }
        return maps
    }

    /// The full forward pass with the given parameters (which may be watched on a tape).
    public static func forward(_ images: Tensor, config: Config, params p: [String: Tensor]) throws -> Output {
        let f = try features(images, config: config, params: p)
        var logits: [Tensor] = []
        for h in AttributeHeads.categorical {
            guard let w = p["head.\(h.name).weight"], let b = p["head.\(h.name).bias"] else { throw ModelError("attribute net: missing head '\(h.name)'") }
            logits.append(try Tensor.linear(f, weight: w, bias: b))
        }
        guard let rw = p["regress.weight"], let rb = p["regress.bias"] else { throw ModelError("attribute net: missing regress parameters") }
        return Output(features: f, logits: logits, regression: try Tensor.linear(f, weight: rw, bias: rb))
    }

    /// Penultimate features of `images (N,3,S,S)` in [-1, 1] → `(N, featureDim)`.
    public func features(_ images: Tensor) throws -> Tensor {
        try checkInput(images)
        return try AttributeNet.features(images, config: config, params: params)
    }

    /// The full forward pass with this network's parameters.
    public func callAsFunction(_ images: Tensor) throws -> Output {
        try checkInput(images)
        return try AttributeNet.forward(images, config: config, params: params)
    }

    /// Predicted attributes for a batch.
    public struct Prediction: Equatable, Sendable {
        /// Class index per categorical head (`AttributeHeads.categorical` order).
        public var classes: [Int]
        /// Value per continuous attribute in native units (`AttributeHeads.continuous` order).
        public var values: [Float]
    }

    /// Arg-max classes and de-normalized regressions, one `Prediction` per image.
    public func predict(_ images: Tensor) throws -> [Prediction] {
        let out = try self(images)
        return AttributeNet.predictions(out)
    }

    /// Reads predictions out of a forward pass.
    public static func predictions(_ out: Output) -> [Prediction] {
        let n = out.features.shape[0], r = AttributeHeads.continuous.count
        return (0..<n).map { i in
            let classes = out.logits.map { l -> Int in
                let k = l.shape[1]
                var best = 0
                for j in 1..<max(k, 1) where l.scalars[i * k + j] > l.scalars[i * k + best] { best = j }
                return best
            }
            let values = AttributeHeads.continuous.enumerated().map { j, c in
                out.regression.scalars[i * r + j] * c.halfRange + c.center
            }
            return Prediction(classes: classes, values: values)
        }
    }
}
