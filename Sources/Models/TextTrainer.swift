import Foundation
import Imaging
import SynthFaces
import TensorCore
import Text

/// Trains a `TextEncoder` (`tedi train encoder --modality text`): each step draws `batch` faces
/// of the SynthFaces train split (attributes only; nothing is rendered) and one caption of each —
/// a grammar caption reworded, or one in another shape with negations, typos 25% of the time
/// (`Paraphraser`) — and lowers the mean per-attribute cross-entropy against what the caption
/// states ("not stated" for the rest). The vocabulary is that of typo-free captions of train
/// faces 0–3,999; a run is a pure function of its options and step count and resumes bit-identically.
public final class TextTrainer {
    public struct Options: Equatable, Sendable {
        public var batch: Int
        public var learningRate: Float
        public var dataSeed: UInt64
        public var seed: UInt64
        public var decaySteps: Int

        public init(batch: Int = 64, learningRate: Float = 2e-3, dataSeed: UInt64 = 0, seed: UInt64 = 1, decaySteps: Int = 0) {
            self.batch = batch; self.learningRate = learningRate; self.dataSeed = dataSeed; self.seed = seed; self.decaySteps = decaySteps
        }

        public func validate() throws {
            guard (1...4096).contains(batch) else { throw ModelError("text batch must be in 1...4096, got \(batch)") }
            guard learningRate > 0, learningRate < 1 else { throw ModelError("learning rate must be in (0, 1), got \(learningRate)") }
            guard decaySteps >= 0 else { throw ModelError("decay steps must be non-negative, got \(decaySteps)") }
        }

        var metadata: [String: String] {
            ["text.batch": String(batch), "text.lr": String(learningRate), "text.data_seed": String(dataSeed),
             "text.seed": String(seed), "text.decay_steps": String(decaySteps)]
        }

        init(metadata m: [String: String], path: String) throws {
            let meta = MetadataReader(m, path: path)
            self.init(batch: try meta.value("text.batch"), learningRate: try meta.value("text.lr"), dataSeed: try meta.value("text.data_seed"),
                      seed: try meta.value("text.seed"), decaySteps: try meta.value("text.decay_steps"))
            try validate()
        }
    }

    public private(set) var encoder: TextEncoder
    public let options: Options
    public private(set) var step: Int
    public private(set) var dataOffset: Int
    public var elapsedSeconds: Double
    let adam: Adam

    /// Faces whose captions make the vocabulary.
    static let vocabularyFaces = 4_000

    /// The words of typo-free training captions (grammar and `Paraphraser`, 3 per face) of train faces 0–3,999.
    public static func vocabulary(dataSeed: UInt64) throws -> Vocabulary {
        var words = Set<String>()
        for i in try TrainingData.trainIndices(from: 0, count: vocabularyFaces) {
            let a = try SynthFaces.attributes(seed: dataSeed, index: i)
            let grammar = try SynthFaces.captions(seed: dataSeed, index: i)
            var rng = Philox(seed: dataSeed ^ 0x7E47_0CAB, stream: UInt64(i))
            let texts = grammar.map(\.text) + (0..<3).map { _ in Paraphraser.caption(a, grammar: grammar, typos: false, rng: &rng).text }
            for t in texts { words.formUnion(try Tokenizer.words(t).words) }
        }
        return Vocabulary(words)
    }

    public init(config: TextEncoder.Config, options: Options) throws {
        try options.validate()
        encoder = try TextEncoder(config: config, seed: options.seed)
        self.options = options
        adam = Adam(learningRate: options.learningRate)
        step = 0
        dataOffset = 0
        elapsedSeconds = 0
    }

    public init(checkpoint c: TrainingCheckpoint, path: String = "<checkpoint>") throws {
        options = try Options(metadata: c.metadata, path: path)
        encoder = try TextEncoder(config: try TextEncoder.Config(metadata: c.metadata, path: path), params: c.params, path: path)
        adam = Adam(learningRate: options.learningRate)
        try adam.load(state: c.optimizer)
        step = c.step
        dataOffset = c.dataOffset
        elapsedSeconds = c.elapsedSeconds
    }

    public var checkpoint: TrainingCheckpoint {
        TrainingCheckpoint(params: encoder.params, optimizer: adam.state, step: step, dataOffset: dataOffset,
                           elapsedSeconds: elapsedSeconds, metadata: encoder.config.metadata.merging(options.metadata) { a, _ in a })
    }

    /// The captions of a step: one per face at split offsets `offset ..< offset + count`.
    static func captions(dataSeed: UInt64, seed: UInt64, offset: Int, count: Int) throws -> [StatedCaption] {
        try TrainingData.trainIndices(from: offset % (SynthFaces.Split.train.range.count - count), count: count).map { i in
            let a = try SynthFaces.attributes(seed: dataSeed, index: i)
            var rng = Philox(seed: seed, stream: UInt64(i))
            return Paraphraser.caption(a, grammar: try SynthFaces.captions(seed: dataSeed, index: i), rng: &rng)
        }
    }

    /// Loss, the share of heads read right (stated value or "not stated") and the gradients.
    func lossAndGradients(_ captions: [StatedCaption]) throws -> (Float, Float, [String: Tensor]) {
        let texts = try captions.map { try encoder.config.vocabulary.encode($0.text) }
        let targets = try TextEncoder.targets(captions)
        let tape = Tape()
        let names = encoder.params.keys.sorted()
        var watched: [String: Tensor] = [:]
        for k in names { watched[k] = tape.watch(encoder.params[k]!) }
        let logits = try TextEncoder.forward(texts, config: encoder.config, params: watched)
        let loss = try TextEncoder.loss(logits, targets: targets)
        var right = 0, total = 0
        for (l, t) in zip(logits, targets) {
            let k = l.shape[1]
            for (n, target) in t.enumerated() {
                let row = l.scalars[(n * k)..<((n + 1) * k)]
                if row.indices.max(by: { row[$0] < row[$1] }) == row.startIndex + target { right += 1 }
                total += 1
            }
        }
        let g = try tape.gradients(of: loss, wrt: names.map { watched[$0]! })
        return (try loss.item(), Float(right) / Float(total), Dictionary(uniqueKeysWithValues: zip(names, g)))
    }

    public func trainStep() throws -> (loss: Float, accuracy: Float) {
        let caps = try TextTrainer.captions(dataSeed: options.dataSeed, seed: TrainingData.stepSeed(options.seed, step: step, purpose: 5),
                                            offset: dataOffset, count: options.batch)
        let (loss, acc, grads) = try lossAndGradients(caps)
        adam.learningRate = TrainingData.cosineDecay(options.learningRate, step: step, steps: options.decaySteps)
        try adam.update(&encoder.params, gradients: grads)
        step += 1
        dataOffset += options.batch
        return (loss, acc)
    }
}

extension TextTrainer: SessionTrainer {
    public var logColumns: [String] { ["loss", "head_accuracy"] }

    public func sessionStep() throws -> TrainingStepReport {
        let m = try trainStep()
        return .lossAndShare(m.loss, m.accuracy, shareName: "heads read right", step: step)
    }

    public var provenance: [String: String] { trainingProvenance(options.metadata, step: step, seconds: elapsedSeconds) }

    /// checkpoint.safetensors, encoder.safetensors (the weights alone) and loss.png.
    public func save(to dir: String, log: TrainingLog) throws {
        try checkpoint.write(to: TrainingSession.checkpointPath(dir))
        try encoder.save(to: dir + "/encoder.safetensors", extraMetadata: provenance)
        try TrainingPlot.writeLossAndShare(log, loss: "cross-entropy", share: "heads read right", to: dir + "/loss.png")
    }
}
