import Foundation
import Imaging
import SynthFaces
import TensorCore

/// Trains a `FaceParser` on SynthFaces (render, label map) pairs of the train split, with Adam and
/// per-pixel cross-entropy. Each render is degraded the way the generator's faces differ from the
/// renders — blurred 0–2 times by [1 2 1]/4, contrast and brightness jittered, Gaussian noise —
/// so the parser reads G's softer faces too. The draws come from Philox under (seed, step), so
/// the run is a pure function of its options and step count and resumes bit-identically.
public final class ParserTrainer {
    public struct Options: Equatable, Sendable {
        public var batch: Int
        public var learningRate: Float
        public var dataSeed: UInt64
        public var seed: UInt64
        /// Probability that a face is degraded at all (the rest are clean renders).
        public var augment: Float
        /// Steps of the cosine learning-rate decay (to 2%); 0 keeps it constant.
        public var decaySteps: Int
        /// Whether classes are weighted by their pixel share^−½ (`FaceParser.classWeights` over 512
        /// train renders), so eyes, brows, lips and glasses count for more than background.
        public var balanced: Bool
        /// Weight of the soft Dice term (`FaceParser.softDiceLoss`) added to the cross-entropy: it
        /// counts each class once, as the mean IoU does (0: cross-entropy alone).
        public var dice: Float
        /// SHA-256 of the parser file the run started from (fine-tuning), or nil for a fresh start
        /// from `seed`: recorded so the run stays a function of its inputs.
        public var startedFrom: String?

        public init(batch: Int = 16, learningRate: Float = 2e-3, dataSeed: UInt64 = 0, seed: UInt64 = 1, augment: Float = 0.75, decaySteps: Int = 0,
                    balanced: Bool = true, dice: Float = 0, startedFrom: String? = nil) {
            self.batch = batch; self.learningRate = learningRate; self.dataSeed = dataSeed; self.seed = seed
            self.augment = augment; self.decaySteps = decaySteps; self.balanced = balanced; self.dice = dice; self.startedFrom = startedFrom
        }

        public func validate() throws {
            guard (1...1024).contains(batch) else { throw ModelError("parser batch must be in 1...1024, got \(batch)") }
            guard learningRate > 0, learningRate < 1 else { throw ModelError("learning rate must be in (0, 1), got \(learningRate)") }
            guard (0...1).contains(augment) else { throw ModelError("augment probability must be in [0, 1], got \(augment)") }
            guard decaySteps >= 0 else { throw ModelError("decay steps must be non-negative, got \(decaySteps)") }
            guard dice >= 0, dice <= 100 else { throw ModelError("dice weight must be in [0, 100], got \(dice)") }
        }

        var metadata: [String: String] {
            ["parse.batch": String(batch), "parse.lr": String(learningRate), "parse.data_seed": String(dataSeed),
             "parse.seed": String(seed), "parse.augment": String(augment), "parse.decay_steps": String(decaySteps),
             "parse.balanced": String(balanced), "parse.dice": String(dice)].merging(startedFrom.map { ["parse.from_sha256": $0] } ?? [:]) { a, _ in a }
        }

        init(metadata m: [String: String], path: String) throws {
            let meta = MetadataReader(m, path: path)
            self.init(batch: try meta.value("parse.batch"), learningRate: try meta.value("parse.lr"), dataSeed: try meta.value("parse.data_seed"),
                      seed: try meta.value("parse.seed"), augment: try meta.value("parse.augment"), decaySteps: try meta.value("parse.decay_steps"),
                      balanced: m["parse.balanced"].flatMap(Bool.init) ?? false, dice: m["parse.dice"] == nil ? 0 : try meta.value("parse.dice"),
                      startedFrom: m["parse.from_sha256"])
            try validate()
        }
    }

    public private(set) var parser: FaceParser
    public let options: Options
    public private(set) var step: Int
    public private(set) var dataOffset: Int
    public var elapsedSeconds: Double
    /// The cross-entropy's class weights (nil: unweighted).
    public let classWeights: [Float]?
    let adam: Adam
    private let prefetcher = Prefetcher()

    /// A fresh run from `seed`, or from `initial`'s weights (fine-tuning; its config is the run's,
    /// and `options.startedFrom` should name its file's hash).
    public init(config: FaceParser.Config, options: Options, initial: FaceParser? = nil) throws {
        try options.validate()
        if let initial {
            guard initial.config == config else { throw ModelError("the parser to start from has config \(initial.config), not \(config)") }
            parser = initial
        } else {
            parser = try FaceParser(config: config, seed: options.seed)
        }
        self.options = options
        classWeights = try ParserTrainer.weights(options, size: config.size, classes: config.classes)
        adam = Adam(learningRate: options.learningRate)
        step = 0
        dataOffset = 0
        elapsedSeconds = 0
    }

    public init(checkpoint c: TrainingCheckpoint, path: String = "<checkpoint>") throws {
        options = try Options(metadata: c.metadata, path: path)
        parser = try FaceParser(config: try FaceParser.Config(metadata: c.metadata, path: path), params: c.params, path: path)
        classWeights = try ParserTrainer.weights(options, size: parser.config.size, classes: parser.config.classes)
        adam = Adam(learningRate: options.learningRate)
        try adam.load(state: c.optimizer)
        step = c.step
        dataOffset = c.dataOffset
        elapsedSeconds = c.elapsedSeconds
    }

    public var checkpoint: TrainingCheckpoint {
        TrainingCheckpoint(params: parser.params, optimizer: adam.state, step: step, dataOffset: dataOffset,
                           elapsedSeconds: elapsedSeconds, metadata: parser.config.metadata.merging(options.metadata) { a, _ in a })
    }

    /// The class weights of a run: from the label maps of train renders 0–511 (nil when not balanced).
    static func weights(_ o: Options, size: Int, classes: Int) throws -> [Float]? {
        guard o.balanced else { return nil }
        let maps = try TrainingData.render(dataSeed: o.dataSeed, size: size, indices: TrainingData.trainIndices(from: 0, count: 512)).map(\.label)
        return FaceParser.classWeights(maps, classes: classes)
    }

    /// Degrades faces `x (N,3,S,S)` in place of a copy: with probability `probability` each is
    /// blurred 0–2 times (`GANMetrics.binomialBlur`), contrast-scaled by 0.8–1.2 about 0, shifted by ±0.1 and given noise of
    /// σ up to 0.06. Deterministic in `seed`.
    public static func degrade(_ x: Tensor, seed: UInt64, probability: Float) throws -> Tensor {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3], plane = h * w
        var v = x.scalars
        var rng = Philox(seed: seed, stream: 0)
        for i in 0..<n {
            let on = rng.uniform() < probability
            let blurs = rng.int(below: 3)
            let contrast = 0.8 + 0.4 * rng.uniform(), shift = 0.2 * rng.uniform() - 0.1, sigma = 0.06 * rng.uniform()
            guard on else { continue }
            let noise = try Tensor.randomNormal([c * plane], seed: seed, stream: UInt64(1 + i)).scalars
            let face = try GANMetrics.binomialBlur(x.slice(axis: 0, i..<(i + 1)), times: blurs).scalars
            let base = i * c * plane
            for k in 0..<(c * plane) { v[base + k] = max(-1, min(1, face[k] * contrast + shift + sigma * noise[k])) }
        }
        return try Tensor(shape: x.shape, scalars: v)
    }

    /// Loss, pixel accuracy of the batch and the gradients.
    func lossAndGradients(_ x: Tensor, labels: [[UInt8]]) throws -> (Float, Float, [String: Tensor]) {
        let tape = Tape()
        let names = parser.params.keys.sorted()
        var watched: [String: Tensor] = [:]
        for k in names { watched[k] = tape.watch(parser.params[k]!) }
        let logits = try FaceParser.forward(x, config: parser.config, params: watched)
        var loss = try FaceParser.pixelCrossEntropy(logits, targets: labels, classWeights: classWeights)
        if options.dice > 0 { loss = try loss + FaceParser.softDiceLoss(logits, targets: labels).scaled(options.dice) }
        var score = LayoutScore(classes: parser.config.classes)
        for (p, t) in zip(FaceParser.argmax(logits.detached), labels) { score.add(predicted: p, truth: t) }
        let g = try tape.gradients(of: loss, wrt: names.map { watched[$0]! })
        return (try loss.item(), Float(score.pixelAccuracy), Dictionary(uniqueKeysWithValues: zip(names, g)))
    }

    /// One Adam step on the next batch; returns (loss, pixel accuracy).
    public func trainStep() throws -> (loss: Float, accuracy: Float) {
        let b = options.batch
        let samples = try prefetcher.trainBatch(dataSeed: options.dataSeed, size: parser.config.size, offset: dataOffset, count: b)
        let x = try ParserTrainer.degrade(try SynthFaces.imageTensor(samples), seed: TrainingData.stepSeed(options.seed, step: step, purpose: 3),
                                          probability: options.augment)
        let (loss, acc, grads) = try lossAndGradients(x, labels: samples.map(\.label))
        adam.learningRate = TrainingData.cosineDecay(options.learningRate, step: step, steps: options.decaySteps)
        try adam.update(&parser.params, gradients: grads)
        step += 1
        dataOffset += b
        return (loss, acc)
    }
}

extension ParserTrainer: SessionTrainer {
    public var logColumns: [String] { ["loss", "pixel_accuracy"] }

    public func sessionStep() throws -> TrainingStepReport {
        let m = try trainStep()
        return .lossAndShare(m.loss, m.accuracy, shareName: "pixel accuracy", step: step)
    }

    public var provenance: [String: String] { trainingProvenance(options.metadata, step: step, seconds: elapsedSeconds) }

    /// checkpoint.safetensors, parser.safetensors (the weights alone), loss.png and parse.png
    /// (8 held-out test renders, the truth and the parser's maps, in rows).
    public func save(to dir: String, log: TrainingLog) throws {
        try checkpoint.write(to: TrainingSession.checkpointPath(dir))
        try parser.save(to: dir + "/parser.safetensors", extraMetadata: provenance)
        let lo = try SynthFaces.Split.test.index(0)
        let held = try SynthFaces.samples(seed: options.dataSeed, indices: lo..<(lo + 8), size: parser.config.size)
        let maps = try parser.parse(try SynthFaces.imageTensor(held))
        let s = parser.config.size
        let rows = try held.map { try Image(width: s, height: s, channels: 3, pixels: $0.image) }
            + held.map { try Image(width: s, height: s, channels: 3, pixels: SynthFaces.colorize($0.label)) }
            + maps.map { try Image(width: s, height: s, channels: 3, pixels: SynthFaces.colorize($0)) }
        try PNG.write(try Image.grid(rows, columns: 8), to: dir + "/parse.png")
        try TrainingPlot.writeLossAndShare(log, loss: "cross-entropy", share: "pixel accuracy", to: dir + "/loss.png")
    }
}

/// Held-out layout fidelity of a parser on SynthFaces renders.
public enum ParserEval {
    /// IoU per class over the first `count` test-split renders, clean or degraded as in training
    /// (`blurs` fixed passes of [1 2 1]/4, no noise) to stand in for the generator's softer faces.
    public static func run(_ parser: FaceParser, count: Int, dataSeed: UInt64 = 0, blurs: Int = 0, batch: Int = 32) throws -> LayoutScore {
        guard count >= 1, count <= SynthFaces.Split.test.range.count else { throw ModelError("eval count must be in 1...\(SynthFaces.Split.test.range.count)") }
        guard parser.config.classes == SynthFaces.classNames.count else {
            throw ModelError("the parser has \(parser.config.classes) classes; SynthFaces' label maps have \(SynthFaces.classNames.count)")
        }
        var score = LayoutScore(classes: parser.config.classes)
        var done = 0
        while done < count {
            let n = min(batch, count - done)
            let lo = try SynthFaces.Split.test.index(done)
            let samples = try SynthFaces.samples(seed: dataSeed, indices: lo..<(lo + n), size: parser.config.size)
            let x = try GANMetrics.binomialBlur(SynthFaces.imageTensor(samples), times: blurs)
            for (p, smp) in zip(try parser.parse(x), samples) { score.add(predicted: p, truth: smp.label) }
            done += n
        }
        return score
    }

    /// A Markdown table: IoU per class (classes never seen: –), then the mean and pixel accuracy.
    public static func markdown(_ scores: [(name: String, score: LayoutScore)]) -> String {
        var s = "| class | " + scores.map(\.name).joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: scores.count) + "\n"
        for (k, name) in SynthFaces.classNames.enumerated() {
            s += "| \(k) \(name) | " + scores.map { $0.score.iou(k).map { String(format: "%.3f", $0) } ?? "–" }.joined(separator: " | ") + " |\n"
        }
        s += "| **mean IoU** | " + scores.map { String(format: "**%.3f**", $0.score.meanIoU) }.joined(separator: " | ") + " |\n"
        s += "| pixel accuracy | " + scores.map { String(format: "%.3f", $0.score.pixelAccuracy) }.joined(separator: " | ") + " |\n"
        return s
    }
}
