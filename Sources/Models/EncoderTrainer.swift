import Foundation
import Imaging
import SynthFaces
import TensorCore

/// A frozen network a trainer reads (the generator, the attribute network), with the file it came
/// from; checkpoints record the path and SHA-256 so a resumed run uses the same weights.
public struct FrozenModel<Model> {
    public var model: Model
    public var path: String
    public var digest: String

    /// Loads `path` with `load` and hashes its bytes.
    public init(path: String, load: (String) throws -> Model) throws {
        model = try load(path)
        self.path = URL(fileURLWithPath: path).standardizedFileURL.path
        digest = try SHA256.hexDigest(ofFile: path)
    }

}

/// Trains a `LatentEncoder` into a frozen generator's W+ (pSp's objective).
///
/// Image encoders: each batch mixes SynthFaces renders (train split, streamed) with the
/// generator's own samples, whose w+ is known. Loss = pixel·‖G(E(x)) − x‖² +
/// feature·Perceptual(G(E(x)), x) + latent·‖E(x) − w+‖² (samples only) + wNorm·‖E(x) − w̄‖
/// (pSp's w-norm), means over the batch. Adam on the encoder only.
///
/// Sketch and label encoders read the render's sketch (perturbed like a person's, `SketchAugment`,
/// with probability `augment`) or one-hot label map s, and are scored on the paired render x:
/// pixel and feature terms on G(E(s)) against x, latent·‖E(s) − T(x)‖² toward the frozen image
/// encoder T's code of the render, layout·CE(P(G(E(s))), label) with the frozen face parser P,
/// and the w-norm.
///
/// The run is a pure function of (config, options, frozen models, step count): the render batch
/// of step k starts at train offset `dataOffset`, the samples' z and style-mixing draws come from
/// Philox under (seed, k), and the generator runs with its stored noise, so checkpoints resume
/// bit-identically.
public final class EncoderTrainer {
    public struct Options: Equatable, Sendable {
        public var batch: Int
        public var learningRate: Float
        public var dataSeed: UInt64
        /// Seed of the initialization and of the generator samples.
        public var seed: UInt64
        /// Share of each batch drawn from the generator (w+ known); the rest are SynthFaces renders.
        public var sampleFraction: Float
        /// Probability that a generator sample mixes two codes at a random layer (w+ off the W diagonal).
        public var mixing: Float
        public var pixel: Float
        public var feature: Float
        public var latent: Float
        public var wNorm: Float
        /// Steps of the cosine learning-rate decay (to 2%); 0 keeps it constant.
        public var decaySteps: Int
        /// Weight of the face parser's cross-entropy of G(E(s)) against the true label map.
        public var layout: Float
        /// Share of sketches perturbed (sketch encoders).
        public var augment: Float
        /// SHA-256 of the encoder file the run started from (fine-tuning), or nil for a fresh start.
        public var startedFrom: String?

        public init(batch: Int = 8, learningRate: Float = 5e-4, dataSeed: UInt64 = 0, seed: UInt64 = 1, sampleFraction: Float = 0.5,
                    mixing: Float = 0.5, pixel: Float = 1, feature: Float = 0.8, latent: Float = 1, wNorm: Float = 0.005, decaySteps: Int = 0,
                    layout: Float = 0, augment: Float = 0.6, startedFrom: String? = nil) {
            self.batch = batch; self.learningRate = learningRate; self.dataSeed = dataSeed; self.seed = seed
            self.sampleFraction = sampleFraction; self.mixing = mixing; self.pixel = pixel; self.feature = feature
            self.latent = latent; self.wNorm = wNorm; self.decaySteps = decaySteps; self.layout = layout; self.augment = augment
            self.startedFrom = startedFrom
        }

        /// Generator samples per batch.
        public var samples: Int { Int((Float(batch) * sampleFraction).rounded()) }

        public func validate() throws {
            guard (1...1024).contains(batch) else { throw ModelError("encoder batch must be in 1...1024, got \(batch)") }
            guard learningRate > 0, learningRate < 1 else { throw ModelError("learning rate must be in (0, 1), got \(learningRate)") }
            guard (0...1).contains(sampleFraction) else { throw ModelError("sample fraction must be in [0, 1], got \(sampleFraction)") }
            guard (0...1).contains(mixing) else { throw ModelError("mixing probability must be in [0, 1], got \(mixing)") }
            guard (0...1).contains(augment) else { throw ModelError("augment probability must be in [0, 1], got \(augment)") }
            for (name, w) in [("pixel", pixel), ("feature", feature), ("latent", latent), ("w-norm", wNorm), ("layout", layout)] {
                guard w >= 0, w <= 1000 else { throw ModelError("the \(name) weight must be in [0, 1000], got \(w)") }
            }
            guard pixel + feature + latent + layout > 0 else { throw ModelError("the pixel, feature and latent weights are all 0: nothing to learn") }
            guard decaySteps >= 0 else { throw ModelError("decay steps must be non-negative, got \(decaySteps)") }
        }

        public func learningRate(at step: Int) -> Float { TrainingData.cosineDecay(learningRate, step: step, steps: decaySteps) }

        var metadata: [String: String] {
            ["enc.batch": String(batch), "enc.lr": String(learningRate), "enc.data_seed": String(dataSeed), "enc.seed": String(seed),
             "enc.sample_fraction": String(sampleFraction), "enc.mixing": String(mixing), "enc.pixel": String(pixel),
             "enc.feature": String(feature), "enc.latent": String(latent), "enc.w_norm": String(wNorm), "enc.decay_steps": String(decaySteps),
             "enc.layout": String(layout), "enc.augment": String(augment)].merging(startedFrom.map { ["enc.from_sha256": $0] } ?? [:]) { a, _ in a }
        }

        init(metadata m: [String: String], path: String) throws {
            let meta = MetadataReader(m, path: path)
            self.init(batch: try meta.value("enc.batch"), learningRate: try meta.value("enc.lr"), dataSeed: try meta.value("enc.data_seed"), seed: try meta.value("enc.seed"),
                      sampleFraction: try meta.value("enc.sample_fraction"), mixing: try meta.value("enc.mixing"), pixel: try meta.value("enc.pixel"),
                      feature: try meta.value("enc.feature"), latent: try meta.value("enc.latent"), wNorm: try meta.value("enc.w_norm"),
                      decaySteps: try meta.value("enc.decay_steps"))
            // Runs from before the sketch and label encoders have no layout term or sketch perturbation.
            layout = m["enc.layout"].flatMap(Float.init) ?? 0
            augment = m["enc.augment"].flatMap(Float.init) ?? 0.6
            startedFrom = m["enc.from_sha256"]
            try validate()
        }
    }

    /// Losses of one step (batch means; `latent` over the generator samples, nan without any).
    public struct StepMetrics {
        public var step: Int
        public var loss: Float
        public var pixel: Float
        public var feature: Float
        public var latent: Float
        public var wNorm: Float
        /// The parser's cross-entropy (nan without a layout term).
        public var layout: Float
    }

    public private(set) var encoder: LatentEncoder
    public let options: Options
    public let generator: FrozenModel<StyleGAN2Generator>
    public let attributes: FrozenModel<AttributeNet>
    /// The image encoder whose codes of the renders a sketch or label encoder is pulled toward.
    public let teacher: FrozenModel<LatentEncoder>?
    /// The face parser of the layout term.
    public let parser: FrozenModel<FaceParser>?
    public private(set) var step: Int
    /// Offset within the train split of the next render batch.
    public private(set) var dataOffset: Int
    public var elapsedSeconds: Double
    let adam: Adam
    private let prefetcher = Prefetcher()

    /// A fresh run around `generator`'s mean latent (4096 z, Philox seed 0, as the nodes use), or
    /// from `initial`'s weights (fine-tuning: its config must be `config`, and `options.startedFrom`
    /// should name its file's hash).
    public init(config: LatentEncoder.Config, options: Options, generator: FrozenModel<StyleGAN2Generator>,
                attributes: FrozenModel<AttributeNet>, teacher: FrozenModel<LatentEncoder>? = nil, parser: FrozenModel<FaceParser>? = nil,
                initial: LatentEncoder? = nil) throws {
        try options.validate()
        try EncoderTrainer.check(config, generator: generator.model, attributes: attributes.model, options: options,
                                 teacher: teacher?.model, parser: parser?.model)
        if let initial {
            guard initial.config == config else { throw ModelError("the encoder to start from has config \(initial.config), not \(config) (another modality or generator?)") }
            encoder = initial
        } else {
            encoder = try LatentEncoder(config: config, latentAverage: generator.model.meanLatent(count: 4096, seed: 0), seed: options.seed)
        }
        self.options = options
        self.generator = generator
        self.attributes = attributes
        self.teacher = teacher
        self.parser = parser
        adam = Adam(learningRate: options.learningRate)
        step = 0
        dataOffset = 0
        elapsedSeconds = 0
    }

    /// Continues the run saved in `checkpoint` with the frozen models it recorded (checked by SHA-256).
    public init(checkpoint c: TrainingCheckpoint, path: String = "<checkpoint>", generator: FrozenModel<StyleGAN2Generator>,
                attributes: FrozenModel<AttributeNet>, teacher: FrozenModel<LatentEncoder>? = nil, parser: FrozenModel<FaceParser>? = nil) throws {
        options = try Options(metadata: c.metadata, path: path)
        let config = try LatentEncoder.Config(metadata: c.metadata, path: path)
        var frozen = [("generator", "enc.generator_sha256", generator.digest), ("attribute network", "enc.attributes_sha256", attributes.digest)]
        if let teacher { frozen.append(("image encoder", "enc.teacher_sha256", teacher.digest)) }
        if let parser { frozen.append(("face parser", "enc.parser_sha256", parser.digest)) }
        for (what, key, digest) in frozen {
            guard let recorded = c.metadata[key] else { throw ModelError("\(path): checkpoint metadata '\(key)' is missing; this run trained without a \(what)") }
            guard recorded == digest else {
                throw ModelError("\(path): this run trained with another \(what) (SHA-256 \(recorded.prefix(12))…); give that file")
            }
        }
        var p: [String: Tensor] = [:], o: [String: Tensor] = [:]
        for (k, v) in c.params where k.hasPrefix("e.") { p[String(k.dropFirst(2))] = v }
        for (k, v) in c.optimizer where k.hasPrefix("e.") { o[String(k.dropFirst(2))] = v }
        encoder = try LatentEncoder(config: config, params: p, path: path)
        try EncoderTrainer.check(config, generator: generator.model, attributes: attributes.model, options: options,
                                 teacher: teacher?.model, parser: parser?.model)
        self.generator = generator
        self.attributes = attributes
        self.teacher = teacher
        self.parser = parser
        adam = Adam(learningRate: options.learningRate)
        try adam.load(state: o)
        step = c.step
        dataOffset = c.dataOffset
        elapsedSeconds = c.elapsedSeconds
    }

    /// Input channels of each modality.
    public static let modalityChannels = ["image": 3, "sketch": 1, "label": 19]

    static func check(_ c: LatentEncoder.Config, generator g: StyleGAN2Generator, attributes a: AttributeNet, options: Options,
                      teacher: LatentEncoder?, parser: FaceParser?) throws {
        guard c.nLatent == g.nLatent, c.styleDim == g.styleDim, c.size == g.config.size else {
            throw ModelError("the encoder's layout (\(c.size) px, w+ \(c.nLatent)×\(c.styleDim)) does not match the generator's (\(g.config.size) px, \(g.nLatent)×\(g.styleDim))")
        }
        guard a.config.size == g.config.size else {
            throw ModelError("the attribute network reads \(a.config.size) px images; the generator makes \(g.config.size) px")
        }
        guard let cin = modalityChannels[c.modality], cin == c.inChannels else {
            throw ModelError("encoder modality '\(c.modality)' with \(c.inChannels) input channels: expected image (3), sketch (1) or label (19)")
        }
        if c.modality != "image" {
            guard options.samples == 0 else { throw ModelError("\(c.modality) encoders train on SynthFaces pairs only; set the sample fraction to 0") }
            if options.latent > 0 {
                guard let t = teacher else { throw ModelError("the latent term of a \(c.modality) encoder needs the image encoder (its codes of the renders are the targets)") }
                guard t.config.modality == "image", t.config.nLatent == c.nLatent, t.config.styleDim == c.styleDim, t.config.size == c.size else {
                    throw ModelError("the teacher must be an image encoder of the same W+ layout (\(c.size) px, \(c.nLatent)×\(c.styleDim))")
                }
            }
        }
        if options.layout > 0 {
            guard c.modality != "image" else {
                throw ModelError("the layout term is for sketch and label encoders (an image encoder's pixel and feature terms already see the layout); set it to 0")
            }
            guard let p = parser else { throw ModelError("the layout term needs a face parser") }
            guard p.config.size == c.size, p.config.classes == 19 else { throw ModelError("the face parser reads \(p.config.size) px into \(p.config.classes) classes; need \(c.size) px, 19") }
        }
    }

    /// The current state as a checkpoint (params and optimizer `e.*`).
    public var checkpoint: TrainingCheckpoint {
        var params: [String: Tensor] = [:], opt: [String: Tensor] = [:]
        for (k, v) in encoder.params { params["e." + k] = v }
        for (k, v) in adam.state { opt["e." + k] = v }
        var meta = encoder.config.metadata.merging(options.metadata) { a, _ in a }
        meta["enc.generator_sha256"] = generator.digest
        meta["enc.generator_path"] = generator.path
        meta["enc.attributes_sha256"] = attributes.digest
        meta["enc.attributes_path"] = attributes.path
        if let teacher { meta["enc.teacher_sha256"] = teacher.digest; meta["enc.teacher_path"] = teacher.path }
        if let parser { meta["enc.parser_sha256"] = parser.digest; meta["enc.parser_path"] = parser.path }
        return TrainingCheckpoint(params: params, optimizer: opt, step: step, dataOffset: dataOffset,
                                  elapsedSeconds: elapsedSeconds, metadata: meta)
    }

    /// A seed for draw `purpose` of step `s`'s generator samples.
    func drawSeed(step s: Int, purpose: UInt64) -> UInt64 { TrainingData.stepSeed(options.seed, step: s, purpose: purpose) }

    /// `count` generator samples of step `s`: their w+ `(count,nLatent,styleDim)` (one code, or two
    /// crossed at a random layer with probability `mixing`) and images.
    public func generatorSamples(count: Int, step s: Int) throws -> (latent: Tensor, images: Tensor) {
        let g = generator.model, sd = g.styleDim, nl = g.nLatent
        var codes: [Tensor] = []
        var rng = Philox(seed: drawSeed(step: s, purpose: 2), stream: 0)
        let w1 = try g.mapping(Tensor.randomNormal([count, sd], seed: drawSeed(step: s, purpose: 0)))
        let w2 = try g.mapping(Tensor.randomNormal([count, sd], seed: drawSeed(step: s, purpose: 1)))
        for i in 0..<count {
            let a = try w1.slice(axis: 0, i..<(i + 1)).reshaped([1, 1, sd])
            let mix = rng.uniform() < options.mixing
            let k = 1 + rng.int(below: nl - 1)
            guard mix else { codes.append(try a.broadcast(to: [1, nl, sd])); continue }
            let b = try w2.slice(axis: 0, i..<(i + 1)).reshaped([1, 1, sd])
            codes.append(try Tensor.concat([a.broadcast(to: [1, k, sd]), b.broadcast(to: [1, nl - k, sd])], axis: 1))
        }
        let latent = try Tensor.concat(codes, axis: 0)
        return (latent, try g.synthesis(latent, noise: .const))
    }

    /// Loss, its parts and the encoder's gradients for encoder inputs `input` whose faces are `x`
    /// (the same tensor for an image encoder), the last `truth.shape[0]` rows with target codes
    /// `truth`, and (for the layout term) their label maps.
    func lossAndGradients(_ x: Tensor, input: Tensor? = nil, truth: Tensor?, labels: [[UInt8]]? = nil) throws -> (StepMetrics, [String: Tensor]) {
        let tape = Tape()
        let names = encoder.trainableNames
        var watched = encoder.params
        for k in names { watched[k] = tape.watch(encoder.params[k]!) }
        let w = try LatentEncoder.forward(input ?? x, config: encoder.config, params: watched)
        let y = try generator.model.synthesis(w, noise: .const)
        let o = options
        let pix = try Tensor.mse(y, x)
        var loss = pix.scaled(o.pixel)
        var feat = Float.nan
        if o.feature > 0 {
            let f = try Perceptual.distance(y, x, net: attributes.model)
            feat = try f.item()
            loss = try loss + f.scaled(o.feature)
        }
        var lat = Float.nan
        if let truth, truth.shape[0] > 0 {
            let n = x.shape[0], m = truth.shape[0]
            let l = try Tensor.mse(w.slice(axis: 0, (n - m)..<n), truth)
            lat = try l.item()
            if o.latent > 0 { loss = try loss + l.scaled(o.latent) }
        }
        var lay = Float.nan
        if o.layout > 0, let labels, let parser {
            let ce = try FaceParser.pixelCrossEntropy(try FaceParser.forward(y, config: parser.model.config, params: parser.model.params), targets: labels)
            lay = try ce.item()
            loss = try loss + ce.scaled(o.layout)
        }
        // pSp's w-norm: mean over the batch of ‖w − w̄‖ (over all layers and channels).
        let n = x.shape[0]
        let offsets = try (w - watched["latent_avg"]!.reshaped([1, 1, encoder.config.styleDim])).reshaped([n, -1])
        let norm = try offsets.squared().sum(axis: 1).adding(1e-8).sqrt().mean()
        if o.wNorm > 0 { loss = try loss + norm.scaled(o.wNorm) }
        let g = try tape.gradients(of: loss, wrt: names.map { watched[$0]! })
        let metrics = StepMetrics(step: step, loss: try loss.item(), pixel: try pix.item(), feature: feat, latent: lat, wNorm: try norm.item(), layout: lay)
        return (metrics, Dictionary(uniqueKeysWithValues: zip(names, g)))
    }

    /// Takes one Adam step on the next batch.
    public func trainStep() throws -> StepMetrics {
        if encoder.config.modality != "image" { return try pairedStep() }
        let nSamples = options.samples, nRenders = options.batch - nSamples
        var parts: [Tensor] = []
        if nRenders > 0 {
            let samples = try prefetcher.trainBatch(dataSeed: options.dataSeed, size: encoder.config.size, offset: dataOffset, count: nRenders)
            parts.append(try SynthFaces.imageTensor(samples))
        }
        var truth: Tensor?
        if nSamples > 0 {
            let s = try generatorSamples(count: nSamples, step: step)
            parts.append(s.images.detached)
            truth = s.latent
        }
        let x = parts.count == 1 ? parts[0] : try Tensor.concat(parts, axis: 0)
        let (metrics, grads) = try lossAndGradients(x, truth: truth)
        return try applied(metrics, grads, rendered: nRenders)
    }

    /// Takes the Adam step of `grads` and moves on past `rendered` train renders.
    func applied(_ metrics: StepMetrics, _ grads: [String: Tensor], rendered: Int) throws -> StepMetrics {
        var m = metrics
        adam.learningRate = options.learningRate(at: step)
        try adam.update(&encoder.params, gradients: grads)
        step += 1
        dataOffset += rendered
        m.step = step
        return m
    }
}

extension EncoderTrainer {
    /// The encoder's inputs for renders: perturbed sketches (draws under the step's seed) or one-hot label maps.
    func inputs(_ samples: [FaceSample], step s: Int) throws -> Tensor {
        guard encoder.config.modality == "sketch" else { return try SynthFaces.labelTensor(samples) }
        let seed = drawSeed(step: s, purpose: 4), n = encoder.config.size
        let sketches = try samples.enumerated().map { i, smp in
            try SketchAugment.apply(SketchAugment.draw(seed: seed, index: i, probability: options.augment), sketch: smp.sketch,
                                    image: smp.image, size: n, seed: seed &+ UInt64(i))
        }
        return try SynthFaces.sketchTensor(sketches, size: n)
    }

    /// A step of a sketch or label encoder on SynthFaces pairs.
    func pairedStep() throws -> StepMetrics {
        let samples = try prefetcher.trainBatch(dataSeed: options.dataSeed, size: encoder.config.size, offset: dataOffset, count: options.batch)
        let x = try SynthFaces.imageTensor(samples)
        let truth = try options.latent > 0 ? teacher.map { try $0.model(x).detached } : nil
        let (m, grads) = try lossAndGradients(x, input: try inputs(samples, step: step), truth: truth, labels: samples.map(\.label))
        return try applied(m, grads, rendered: options.batch)
    }
}

extension EncoderTrainer: SessionTrainer {
    public var logColumns: [String] { ["loss", "pixel", "feature", "latent", "w_norm", "layout"] }

    public func sessionStep() throws -> TrainingStepReport {
        let m = try trainStep()
        return TrainingStepReport(values: [m.loss, m.pixel, m.feature, m.latent, m.wNorm, m.layout].map(Double.init),
                                  progress: String(format: "loss %.4f  pixel %.4f  feature %.3f", m.loss, m.pixel, m.feature),
                                  failure: m.loss.isFinite ? nil : "the loss became \(m.loss) at step \(m.step); lower --lr and start again")
    }

    /// Training facts stored next to the config in the encoder file.
    public var provenance: [String: String] {
        var p = options.metadata
        p["train.steps"] = String(step)
        p["train.seconds"] = String(format: "%.0f", elapsedSeconds)
        p["generator_sha256"] = generator.digest
        return p
    }

    /// checkpoint.safetensors, encoder.safetensors (the weights alone), loss.png and
    /// reconstructions.png (8 held-out test renders above their reconstructions G(E(x)); for sketch and
    /// label encoders, the clean sketches or coloured label maps above the renders and G(E(s))).
    public func save(to dir: String, log: TrainingLog) throws {
        try checkpoint.write(to: TrainingSession.checkpointPath(dir))
        try encoder.save(to: dir + "/encoder.safetensors", extraMetadata: provenance)
        let held = try SynthFaces.samples(seed: options.dataSeed, indices: SynthFaces.Split.test.index(0)..<(SynthFaces.Split.test.index(0) + 8),
                                          size: encoder.config.size)
        let x = try SynthFaces.imageTensor(held)
        var rows: [Tensor] = []
        let input: Tensor
        switch encoder.config.modality {
        case "sketch":
            input = try SynthFaces.sketchTensor(held)
            rows.append(try input.broadcast(to: [8, 3, input.shape[2], input.shape[3]]))
        case "label":
            input = try SynthFaces.labelTensor(held)
            let s = encoder.config.size
            rows.append(try Tensor.concat(held.map { try Image(width: s, height: s, channels: 3, pixels: $0.labelColorImage()).tensor().reshaped([1, 3, s, s]) }, axis: 0))
        default:
            input = x
        }
        rows += [x, try generator.model.synthesis(encoder(input), noise: .const)]
        try PNG.write(try Image.grid(Image.images(from: Tensor.concat(rows, axis: 0)), columns: 8), to: dir + "/reconstructions.png")
        if !log.rows.isEmpty {
            func series(_ c: Int) -> [(Double, Double)] { log.rows.filter { $0[c].isFinite && $0[c] > 0 }.map { ($0[0], $0[c]) } }
            try PNG.write(try TrainingPlot.render([
                .init(series: [.init(name: "loss", points: series(2), color: (200, 40, 40))], logY: true),
                .init(series: [.init(name: "pixel MSE", points: series(3), color: (30, 90, 200)),
                               .init(name: "latent MSE", points: series(5), color: (40, 150, 60))], logY: true),
                .init(series: [.init(name: "perceptual", points: series(4), color: (150, 60, 160)),
                               .init(name: "layout CE", points: series(7), color: (200, 130, 20))], logY: true),
            ]), to: dir + "/loss.png")
        }
    }
}
