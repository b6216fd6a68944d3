import Foundation
import Imaging
import SynthFaces
import TensorCore
import Text

/// tedi's text–image similarity model S (its CLIP, small and specific to faces): captions and
/// faces into one 128-d unit sphere, S(text, image) = the cosine of the two.
/// ```
/// text:  the text encoder's trunk (embed, two window convs) → attention pooling with 4 queries
///        → (N, 4·hidden) → proj → unit length
/// image: the attribute network's penultimate features (frozen; its fingerprint is recorded)
///        → fc1 256 (leaky ReLU) → fc2 → unit length
/// ```
/// Trained contrastively on (render, caption) pairs with the faces' attributes known: in a batch,
/// caption i's positives are every face that shows all it states (not only its own face — "a
/// woman with glasses" fits many), and the loss is the cross-entropy of the softmax over
/// similarities/τ against the uniform distribution on the positives, both ways (InfoNCE with
/// the false negatives removed). `optimize`'s text term is 1 − S(text, G(w)).
public struct SimilarityModel {
    public struct Config: Equatable, Sendable {
        public var vocabulary: Vocabulary
        public var embedding: Int
        public var hidden: Int
        public var queries: Int
        public var dim: Int
        /// The attribute network's feature width.
        public var featureDim: Int
        /// `AttributeNet.fingerprint` of the network the image side reads.
        public var backbone: String
        public var temperature: Float

        public init(vocabulary: Vocabulary, embedding: Int = 64, hidden: Int = 128, queries: Int = 4, dim: Int = 128, featureDim: Int, backbone: String,
                    temperature: Float = 0.1) {
            self.vocabulary = vocabulary; self.embedding = embedding; self.hidden = hidden; self.queries = queries; self.dim = dim
            self.featureDim = featureDim; self.backbone = backbone; self.temperature = temperature
        }

        public func validate() throws {
            guard vocabulary.count >= 3 else { throw ModelError("similarity model: empty vocabulary") }
            for (n, v, hi) in [("embedding", embedding, 1024), ("hidden", hidden, 2048), ("queries", queries, 64), ("dim", dim, 2048), ("feature_dim", featureDim, 65536)] {
                guard (1...hi).contains(v) else { throw ModelError("similarity model: \(n) \(v) is outside 1...\(hi)") }
            }
            guard temperature > 0, temperature <= 10 else { throw ModelError("similarity model: temperature \(temperature) must be in (0, 10]") }
        }

        public var metadata: [String: String] {
            ["arch": SimilarityModel.arch, "embedding": String(embedding), "hidden": String(hidden), "queries": String(queries), "dim": String(dim),
             "feature_dim": String(featureDim), "backbone": backbone, "temperature": String(temperature), "text.vocab": vocabulary.metadataValue]
        }

        public init(metadata m: [String: String], path: String) throws {
            guard m["arch"] == SimilarityModel.arch else {
                throw ModelError("\(path): not a tedi similarity model (metadata arch is '\(m["arch"] ?? "missing")', expected '\(SimilarityModel.arch)')")
            }
            guard let v = m["text.vocab"], let b = m["backbone"] else { throw ModelError("\(path): the similarity model's metadata lacks text.vocab or backbone") }
            let meta = MetadataReader(m, path: path)
            self.init(vocabulary: Vocabulary(metadata: v), embedding: try meta.int("embedding"), hidden: try meta.int("hidden"), queries: try meta.int("queries"),
                      dim: try meta.int("dim"), featureDim: try meta.int("feature_dim"), backbone: b, temperature: try meta.value("temperature"))
            try validate()
        }
    }

    public static let arch = "tedi-similarity-v1"

    public let config: Config
    public var params: [String: Tensor]

    public static func shapes(_ c: Config) -> [String: [Int]] {
        ["text.embed.weight": [c.vocabulary.count, c.embedding],
         "text.conv1.weight": [c.hidden, 3 * c.embedding], "text.conv1.bias": [c.hidden],
         "text.conv2.weight": [c.hidden, 3 * c.hidden], "text.conv2.bias": [c.hidden],
         "text.attn.weight": [c.queries, c.hidden],
         "text.proj.weight": [c.dim, c.queries * c.hidden], "text.proj.bias": [c.dim],
         "image.fc1.weight": [256, c.featureDim], "image.fc1.bias": [256],
         "image.fc2.weight": [c.dim, 256], "image.fc2.bias": [c.dim]]
    }

    public init(config: Config, seed: UInt64) throws {
        try config.validate()
        self.config = config
        params = try ModelParams.initialized(SimilarityModel.shapes(config), seed: seed, gain: { name in
            name == "text.embed.weight" ? Float(config.embedding).squareRoot() : name == "image.fc1.weight" ? Float(2).squareRoot() : 1
        })
    }

    public init(config: Config, params: [String: Tensor], path: String = "<params>") throws {
        try config.validate()
        self.config = config
        self.params = try ModelParams.checked(params, shapes: SimilarityModel.shapes(config), path: path)
    }

    public static func load(_ path: String) throws -> SimilarityModel {
        let (p, m) = try ModelParams.read(path)
        return try SimilarityModel(config: try Config(metadata: m, path: path), params: p, path: path)
    }

    public func save(to path: String, extraMetadata: [String: String] = [:], dtype: SafeTensors.DType = .f32) throws {
        try ModelParams.save(params, metadata: config.metadata, extra: extraMetadata, to: path, dtype: dtype)
    }

    /// Rows of `x (N,D)` scaled to unit length.
    static func unit(_ x: Tensor) throws -> Tensor {
        try x / (try x.squared().sum(axis: 1, keepDims: true).adding(1e-12).sqrt())
    }

    /// Unit text embeddings `(N, dim)` (differentiable in `params`).
    public static func textEmbedding(_ texts: [EncodedText], config c: Config, params p: [String: Tensor]) throws -> Tensor {
        let (h, mask) = try TextEncoder.trunk(texts, embedding: c.embedding, hidden: c.hidden, params: p, prefix: "text.")
        let pooled = try TextEncoder.pool(h, mask: mask, queries: p["text.attn.weight"]!).reshaped([texts.count, c.queries * c.hidden])
        return try unit(try Tensor.linear(pooled, weight: p["text.proj.weight"]!, bias: p["text.proj.bias"]!))
    }

    /// Unit image embeddings `(N, dim)` of attribute-network features `(N, featureDim)` (differentiable in both).
    public static func imageEmbedding(features f: Tensor, config c: Config, params p: [String: Tensor]) throws -> Tensor {
        let h = try Tensor.linear(f, weight: p["image.fc1.weight"]!).biasLeakyReLU(p["image.fc1.bias"]!)
        return try unit(try Tensor.linear(h, weight: p["image.fc2.weight"]!, bias: p["image.fc2.bias"]!))
    }

    /// Checks that `net` is the attribute network this model was trained on.
    public func check(backbone net: AttributeNet) throws {
        guard net.config.featureDim == config.featureDim, net.fingerprint == config.backbone else {
            throw ModelError("the similarity model reads the features of attribute network \(config.backbone.prefix(12)); this one is \(net.fingerprint.prefix(12)) — use the attribute network it was trained with (Models/attributes.safetensors)")
        }
    }

    /// Text embeddings of captions, with each caption's notes (unknown words, corrections).
    public func embed(texts captions: [String]) throws -> (embeddings: Tensor, notes: [[String]]) {
        let texts = try captions.map { try config.vocabulary.encode($0) }
        return (try SimilarityModel.textEmbedding(texts, config: config, params: params).detached, texts.map(\.notes))
    }

    /// Image embeddings of faces `(N,3,S,S)` in [-1,1] through `net`.
    public func embed(images: Tensor, net: AttributeNet) throws -> Tensor {
        try check(backbone: net)
        return try SimilarityModel.imageEmbedding(features: net.features(images), config: config, params: params).detached
    }

    /// Similarities `(texts, images)`.
    public static func similarity(_ text: Tensor, _ image: Tensor) throws -> Tensor { try Tensor.matmul(text, image, transposeB: true) }
}

extension AttributeNet {
    /// A short identity of the weights: SHA-256 of the `fc` weight's values rounded to half
    /// precision (so an F16 and an F32 copy of one network agree).
    public var fingerprint: String {
        var sha = SHA256()
        var bytes: [UInt8] = []
        for v in params["fc.weight"]?.scalars ?? [] {
            let h = HalfFloat.half(from: v)
            bytes.append(UInt8(h & 0xFF)); bytes.append(UInt8(h >> 8))
        }
        sha.update(bytes)
        return sha.hexDigest()
    }
}

/// Trains a `SimilarityModel` (`tedi train similarity`) on SynthFaces train renders (a pool of
/// `pool` faces whose attribute-network features are computed once; 75% of the renders are
/// degraded as the parser's training degrades them, so G's softer faces read alike) and
/// `Paraphraser` captions drawn afresh each step.
public final class SimilarityTrainer {
    public struct Options: Equatable, Sendable {
        public var batch: Int
        public var learningRate: Float
        public var dataSeed: UInt64
        public var seed: UInt64
        public var decaySteps: Int
        public var pool: Int

        public init(batch: Int = 256, learningRate: Float = 1e-3, dataSeed: UInt64 = 0, seed: UInt64 = 1, decaySteps: Int = 0, pool: Int = 8192) {
            self.batch = batch; self.learningRate = learningRate; self.dataSeed = dataSeed; self.seed = seed; self.decaySteps = decaySteps; self.pool = pool
        }

        public func validate() throws {
            guard (2...4096).contains(batch) else { throw ModelError("similarity batch must be in 2...4096, got \(batch)") }
            guard (batch...1_000_000).contains(pool) else { throw ModelError("similarity pool must be in \(batch)...1000000 (at least a batch), got \(pool)") }
            guard learningRate > 0, learningRate < 1 else { throw ModelError("learning rate must be in (0, 1), got \(learningRate)") }
            guard decaySteps >= 0 else { throw ModelError("decay steps must be non-negative, got \(decaySteps)") }
        }

        var metadata: [String: String] {
            ["sim.batch": String(batch), "sim.lr": String(learningRate), "sim.data_seed": String(dataSeed), "sim.seed": String(seed),
             "sim.decay_steps": String(decaySteps), "sim.pool": String(pool)]
        }

        init(metadata m: [String: String], path: String) throws {
            let meta = MetadataReader(m, path: path)
            self.init(batch: try meta.value("sim.batch"), learningRate: try meta.value("sim.lr"), dataSeed: try meta.value("sim.data_seed"),
                      seed: try meta.value("sim.seed"), decaySteps: try meta.value("sim.decay_steps"), pool: try meta.value("sim.pool"))
            try validate()
        }
    }

    public private(set) var model: SimilarityModel
    public let options: Options
    public private(set) var step: Int
    public var elapsedSeconds: Double
    let adam: Adam
    /// Pool features `(pool, featureDim)`, attributes and grammar captions.
    let features: Tensor
    let attributes: [FaceAttributes]
    let grammar: [[Caption]]

    /// Attribute-network features of the pool's renders (train faces 0..<pool, degraded as the parser's training does).
    static func pool(_ o: Options, net: AttributeNet, log: (String) -> Void) throws -> (Tensor, [FaceAttributes], [[Caption]]) {
        var parts: [Tensor] = [], attrs: [FaceAttributes] = [], caps: [[Caption]] = []
        var lo = 0
        while lo < o.pool {
            let n = min(256, o.pool - lo)
            let s = try TrainingData.render(dataSeed: o.dataSeed, size: net.config.size, indices: TrainingData.trainIndices(from: lo, count: n))
            let x = try ParserTrainer.degrade(try SynthFaces.imageTensor(s), seed: TrainingData.stepSeed(o.seed, step: lo, purpose: 6), probability: 0.75)
            parts.append(try net.features(x).detached)
            attrs += s.map(\.attributes)
            caps += s.map(\.captions)
            lo += n
            log("similarity: features of \(lo) / \(o.pool) train renders")
        }
        return (try Tensor.concat(parts, axis: 0), attrs, caps)
    }

    public init(options: Options, net: AttributeNet, log: (String) -> Void = { _ in }) throws {
        try options.validate()
        (features, attributes, grammar) = try SimilarityTrainer.pool(options, net: net, log: log)
        model = try SimilarityModel(config: .init(vocabulary: try TextTrainer.vocabulary(dataSeed: options.dataSeed), featureDim: net.config.featureDim,
                                                  backbone: net.fingerprint), seed: options.seed)
        self.options = options
        adam = Adam(learningRate: options.learningRate)
        step = 0
        elapsedSeconds = 0
    }

    public init(checkpoint c: TrainingCheckpoint, net: AttributeNet, path: String = "<checkpoint>", log: (String) -> Void = { _ in }) throws {
        options = try Options(metadata: c.metadata, path: path)
        model = try SimilarityModel(config: try SimilarityModel.Config(metadata: c.metadata, path: path), params: c.params, path: path)
        try model.check(backbone: net)
        (features, attributes, grammar) = try SimilarityTrainer.pool(options, net: net, log: log)
        adam = Adam(learningRate: options.learningRate)
        try adam.load(state: c.optimizer)
        step = c.step
        elapsedSeconds = c.elapsedSeconds
    }

    public var checkpoint: TrainingCheckpoint {
        TrainingCheckpoint(params: model.params, optimizer: adam.state, step: step, dataOffset: 0,
                           elapsedSeconds: elapsedSeconds, metadata: model.config.metadata.merging(options.metadata) { a, _ in a })
    }

    /// Soft targets `(N,N)`: row i uniform over the faces j that show all caption i states.
    static func positives(_ captions: [StatedCaption], _ faces: [FaceAttributes]) -> [Float] {
        let n = captions.count
        let values = faces.map(Paraphraser.values)
        var t = [Float](repeating: 0, count: n * n)
        for i in 0..<n {
            var hits: [Int] = []
            for j in 0..<n where captions[i].stated.allSatisfy({ values[j][$0.key] == $0.value }) { hits.append(j) }
            for j in hits { t[i * n + j] = 1 / Float(hits.count) }
        }
        return t
    }

    /// Loss, the share of captions whose most similar face in the batch is a positive, and the gradients.
    func lossAndGradients(faces idx: [Int], captions: [StatedCaption]) throws -> (Float, Float, [String: Tensor]) {
        let n = idx.count
        let texts = try captions.map { try model.config.vocabulary.encode($0.text) }
        let f = try Tensor(shape: [n, features.shape[1]], scalars: idx.flatMap { Array(features.scalars[($0 * features.shape[1])..<(($0 + 1) * features.shape[1])]) })
        let tape = Tape()
        let names = model.params.keys.sorted()
        var watched: [String: Tensor] = [:]
        for k in names { watched[k] = tape.watch(model.params[k]!) }
        let t = try SimilarityModel.textEmbedding(texts, config: model.config, params: watched)
        let v = try SimilarityModel.imageEmbedding(features: f, config: model.config, params: watched)
        let logits = try SimilarityModel.similarity(t, v).scaled(1 / model.config.temperature)
        let rows = try Tensor(shape: [n, n], scalars: SimilarityTrainer.positives(captions, idx.map { attributes[$0] }))
        // Columns: face j's positives are the captions that fit it.
        var colScalars = [Float](repeating: 0, count: n * n)
        for j in 0..<n {
            let hits = (0..<n).filter { rows.scalars[$0 * n + j] > 0 }
            for i in hits { colScalars[j * n + i] = 1 / Float(hits.count) }
        }
        let cols = try Tensor(shape: [n, n], scalars: colScalars)
        let lt = try (logits.logSoftmax() * rows).sum().scaled(-1 / Float(n))
        let li = try (logits.transposed().logSoftmax() * cols).sum().scaled(-1 / Float(n))
        let loss = try (lt + li).scaled(0.5)
        var right = 0
        for i in 0..<n {
            let row = logits.scalars[(i * n)..<((i + 1) * n)]
            let best = row.indices.max { row[$0] < row[$1] }! - i * n
            if rows.scalars[i * n + best] > 0 { right += 1 }
        }
        let g = try tape.gradients(of: loss, wrt: names.map { watched[$0]! })
        return (try loss.item(), Float(right) / Float(n), Dictionary(uniqueKeysWithValues: zip(names, g)))
    }

    public func trainStep() throws -> (loss: Float, accuracy: Float) {
        let seed = TrainingData.stepSeed(options.seed, step: step, purpose: 7)
        var rng = Philox(seed: seed, stream: 0)
        // A batch of distinct pool faces (partial Fisher–Yates), one fresh caption each.
        var order = Array(0..<features.shape[0])
        for i in 0..<options.batch { order.swapAt(i, i + rng.int(below: order.count - i)) }
        let idx = Array(order.prefix(options.batch))
        let captions = idx.map { j -> StatedCaption in
            var r = Philox(seed: seed, stream: UInt64(1 + j))
            return Paraphraser.caption(attributes[j], grammar: grammar[j], rng: &r)
        }
        let (loss, acc, grads) = try lossAndGradients(faces: idx, captions: captions)
        adam.learningRate = TrainingData.cosineDecay(options.learningRate, step: step, steps: options.decaySteps)
        try adam.update(&model.params, gradients: grads)
        step += 1
        return (loss, acc)
    }
}

extension SimilarityTrainer: SessionTrainer {
    public var logColumns: [String] { ["loss", "top1_positive"] }

    public func sessionStep() throws -> TrainingStepReport {
        let m = try trainStep()
        return .lossAndShare(m.loss, m.accuracy, shareName: "best match fits", step: step)
    }

    public var provenance: [String: String] { trainingProvenance(options.metadata, step: step, seconds: elapsedSeconds) }

    public func save(to dir: String, log: TrainingLog) throws {
        try checkpoint.write(to: TrainingSession.checkpointPath(dir))
        try model.save(to: dir + "/similarity.safetensors", extraMetadata: provenance)
        try TrainingPlot.writeLossAndShare(log, loss: "contrastive loss", share: "best match in batch fits", to: dir + "/loss.png")
    }
}
