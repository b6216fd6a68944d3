import Foundation
import SynthFaces
import TensorCore

/// Trains an `AttributeNet` on SynthFaces renders streamed in memory (train split), with Adam.
///
/// The run is a pure function of (config, options, step count): batch k is samples
/// `[k·batch, (k+1)·batch)` of the train split, parameters start from `initSeed`, and a checkpoint
/// stores everything else, so stopping and resuming gives bit-identical weights.
public final class AttributeTrainer {
    /// Training hyper-parameters; stored in checkpoints.
    public struct Options: Equatable, Sendable {
        public var batch: Int
        public var learningRate: Float
        /// SynthFaces seed of the training data.
        public var dataSeed: UInt64
        /// Seed of the weight initialization.
        public var initSeed: UInt64
        /// Weight of the regression MSE against the summed cross-entropies.
        public var regressionWeight: Float
        /// Steps of the cosine learning-rate decay (to 2% of `learningRate`); 0 keeps it constant.
        public var decaySteps: Int

        public init(batch: Int = 32, learningRate: Float = 1e-3, dataSeed: UInt64 = 0, initSeed: UInt64 = 1,
                    regressionWeight: Float = 1, decaySteps: Int = 0) {
            self.batch = batch; self.learningRate = learningRate; self.dataSeed = dataSeed; self.initSeed = initSeed
            self.regressionWeight = regressionWeight; self.decaySteps = decaySteps
        }

        /// The learning rate of step `step` (0-based).
        public func learningRate(at step: Int) -> Float { TrainingData.cosineDecay(learningRate, step: step, steps: decaySteps) }

        var metadata: [String: String] {
            ["train.batch": String(batch), "train.lr": String(learningRate), "train.data_seed": String(dataSeed),
             "train.init_seed": String(initSeed), "train.regression_weight": String(regressionWeight),
             "train.decay_steps": String(decaySteps)]
        }

        init(metadata m: [String: String], path: String) throws {
            let meta = MetadataReader(m, path: path)
            self.init(batch: try meta.value("train.batch"), learningRate: try meta.value("train.lr"), dataSeed: try meta.value("train.data_seed"),
                      initSeed: try meta.value("train.init_seed"), regressionWeight: try meta.value("train.regression_weight"),
                      decaySteps: try meta.value("train.decay_steps"))
        }
    }

    /// Losses and training-batch accuracy of one step.
    public struct StepMetrics {
        public var step: Int
        /// Total loss: Σ cross-entropies + regressionWeight · MSE.
        public var loss: Float
        /// Mean cross-entropy per categorical head.
        public var crossEntropy: Float
        /// MSE of the normalized regressions.
        public var mse: Float
        /// Mean accuracy over the categorical heads on this batch.
        public var accuracy: Float
    }

    public private(set) var net: AttributeNet
    public let options: Options
    /// Optimizer steps taken so far.
    public private(set) var step: Int
    /// Offset within the train split of the next batch.
    public private(set) var dataOffset: Int
    /// Training seconds accumulated over sessions (the caller adds to it).
    public var elapsedSeconds: Double
    private let adam: Adam
    private let prefetcher = Prefetcher()

    /// A fresh run.
    public init(config: AttributeNet.Config, options: Options) throws {
        guard (1...4096).contains(options.batch) else { throw ModelError("batch must be in 1...4096, got \(options.batch)") }
        guard options.learningRate > 0, options.learningRate.isFinite else { throw ModelError("learning rate must be positive, got \(options.learningRate)") }
        guard options.decaySteps >= 0 else { throw ModelError("decay steps must be non-negative, got \(options.decaySteps)") }
        net = try AttributeNet(config: config, seed: options.initSeed)
        self.options = options
        adam = Adam(learningRate: options.learningRate)
        step = 0
        dataOffset = 0
        elapsedSeconds = 0
    }

    /// Continues the run saved in `checkpoint`.
    public init(checkpoint c: TrainingCheckpoint, path: String = "<checkpoint>") throws {
        let config = try AttributeNet.Config(metadata: c.metadata, path: path)
        options = try Options(metadata: c.metadata, path: path)
        net = try AttributeNet(config: config, params: c.params, path: path)
        adam = Adam(learningRate: options.learningRate)
        try adam.load(state: c.optimizer)
        guard adam.step == c.step else { throw ModelError("\(path): optimizer step \(adam.step) differs from checkpoint step \(c.step)") }
        step = c.step
        dataOffset = c.dataOffset
        elapsedSeconds = c.elapsedSeconds
    }

    /// The current state as a checkpoint.
    public var checkpoint: TrainingCheckpoint {
        TrainingCheckpoint(params: net.params, optimizer: adam.state, step: step, dataOffset: dataOffset,
                           elapsedSeconds: elapsedSeconds, metadata: net.config.metadata.merging(options.metadata) { a, _ in a })
    }

    /// Takes one optimizer step on the next batch.
    public func trainStep() throws -> StepMetrics {
        let samples = try prefetcher.trainBatch(dataSeed: options.dataSeed, size: net.config.size, offset: dataOffset, count: options.batch)
        let images = try SynthFaces.imageTensor(samples)
        let attrs = samples.map(\.attributes)
        let (loss, ce, mse, acc, grads) = try lossAndGradients(images: images, attributes: attrs, params: net.params, config: net.config,
                                                                regressionWeight: options.regressionWeight)
        adam.learningRate = options.learningRate(at: step)
        try adam.update(&net.params, gradients: grads)
        step += 1
        dataOffset += options.batch
        return StepMetrics(step: step, loss: loss, crossEntropy: ce, mse: mse, accuracy: acc)
    }

    /// Loss, its parts, batch accuracy and the parameter gradients for one batch.
    func lossAndGradients(images: Tensor, attributes: [FaceAttributes], params: [String: Tensor], config: AttributeNet.Config,
                          regressionWeight: Float) throws -> (Float, Float, Float, Float, [String: Tensor]) {
        let tape = Tape()
        let names = params.keys.sorted()
        var watched: [String: Tensor] = [:]
        for k in names { watched[k] = tape.watch(params[k]!) }
        let out = try AttributeNet.forward(images, config: config, params: watched)
        let targets = AttributeHeads.classTargets(attributes)
        var ceSum: Tensor?
        var correct = 0
        for (h, logits) in out.logits.enumerated() {
            let ce = try Tensor.crossEntropy(logits, targets: targets[h])
            ceSum = try ceSum.map { try $0 + ce } ?? ce
        }
        for (i, p) in AttributeNet.predictions(out).enumerated() {
            for h in 0..<targets.count where p.classes[h] == targets[h][i] { correct += 1 }
        }
        let reg = try Tensor(shape: out.regression.shape, scalars: AttributeHeads.regressionTargets(attributes))
        let mse = try Tensor.mse(out.regression, reg)
        let loss = try ceSum! + mse.scaled(regressionWeight)
        let g = try tape.gradients(of: loss, wrt: names.map { watched[$0]! })
        var grads: [String: Tensor] = [:]
        for (k, t) in zip(names, g) { grads[k] = t }
        let heads = Float(out.logits.count)
        return (try loss.item(), try ceSum!.item() / heads, try mse.item(),
                Float(correct) / (heads * Float(attributes.count)), grads)
    }
}

/// Held-out evaluation of an attribute network on a SynthFaces split.
public enum AttributeEval {
    /// Per-attribute results.
    public struct Row: Sendable {
        public var name: String
        /// Fraction of samples predicted correctly (continuous: within the head's tolerance).
        public var accuracy: Double
        /// Accuracy of always predicting the most frequent class in this sample (continuous: nil).
        public var majority: Double?
        /// Mean absolute error in native units (continuous heads only).
        public var meanAbsError: Double?
    }

    /// Evaluates `net` on the first `count` samples of `split` (seed `dataSeed`), in batches.
    public static func run(_ net: AttributeNet, split: SynthFaces.Split = .test, count: Int, dataSeed: UInt64 = 0,
                           batch: Int = 64) throws -> [Row] {
        guard count >= 1, count <= split.range.count else { throw ModelError("eval count must be in 1...\(split.range.count), got \(count)") }
        let cats = AttributeHeads.categorical, conts = AttributeHeads.continuous
        var correct = [Int](repeating: 0, count: cats.count + conts.count)
        var absErr = [Double](repeating: 0, count: conts.count)
        var freq = cats.map { [Int](repeating: 0, count: $0.values.count) }
        var done = 0
        while done < count {
            let n = min(batch, count - done)
            let lo = try split.index(done)
            let samples = try SynthFaces.samples(seed: dataSeed, indices: lo..<(lo + n), size: net.config.size)
            let preds = try net.predict(try SynthFaces.imageTensor(samples))
            for (s, p) in zip(samples, preds) {
                for (h, c) in cats.enumerated() {
                    let t = c.index(s.attributes)
                    freq[h][t] += 1
                    if p.classes[h] == t { correct[h] += 1 }
                }
                for (j, c) in conts.enumerated() {
                    let e = Double(Swift.abs(p.values[j] - c.value(s.attributes)))
                    absErr[j] += e
                    if e <= Double(c.tolerance) { correct[cats.count + j] += 1 }
                }
            }
            done += n
        }
        var rows: [Row] = []
        for (h, c) in cats.enumerated() {
            rows.append(Row(name: c.name, accuracy: Double(correct[h]) / Double(count),
                            majority: Double(freq[h].max() ?? 0) / Double(count), meanAbsError: nil))
        }
        for (j, c) in conts.enumerated() {
            rows.append(Row(name: c.name, accuracy: Double(correct[cats.count + j]) / Double(count), majority: nil,
                            meanAbsError: absErr[j] / Double(count)))
        }
        return rows
    }

    /// Mean accuracy over the categorical heads.
    public static func meanCategoricalAccuracy(_ rows: [Row]) -> Double {
        let c = rows.filter { $0.meanAbsError == nil }
        return c.map(\.accuracy).reduce(0, +) / Double(max(c.count, 1))
    }

    /// A Markdown table of `rows`.
    public static func markdown(_ rows: [Row]) -> String {
        var s = "| attribute | accuracy | majority class | mean abs error |\n|---|---|---|---|\n"
        for r in rows {
            let maj = r.majority.map { String(format: "%.1f%%", $0 * 100) } ?? "–"
            let tol = AttributeHeads.continuous.first { $0.name == r.name }.map { " (within ±\(formatTolerance($0.tolerance)))" } ?? ""
            let mae = r.meanAbsError.map { String(format: "%.3f", $0) } ?? "–"
            s += "| \(r.name) | \(String(format: "%.1f%%", r.accuracy * 100))\(tol) | \(maj) | \(mae) |\n"
        }
        s += String(format: "| **mean (categorical)** | **%.1f%%** | | |\n", meanCategoricalAccuracy(rows) * 100)
        return s
    }

    private static func formatTolerance(_ t: Float) -> String { t == t.rounded() ? String(Int(t)) : String(t) }
}
