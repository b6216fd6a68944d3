import Foundation
import Imaging
import TensorCore

/// `tedi train attributes` as a training session: log columns, the files of its run folder.
extension AttributeTrainer: SessionTrainer {
    public var logColumns: [String] { ["loss", "cross_entropy", "mse", "train_accuracy"] }

    public func sessionStep() throws -> TrainingStepReport {
        let m = try trainStep()
        return TrainingStepReport(values: [Double(m.loss), Double(m.crossEntropy), Double(m.mse), Double(m.accuracy)],
                                  progress: String(format: "loss %.4f  batch accuracy %.1f%%", m.loss, m.accuracy * 100),
                                  failure: m.loss.isFinite ? nil : "the loss became \(m.loss) at step \(m.step); lower --lr and start again")
    }

    /// Training facts stored next to the config in exported model files.
    public var provenance: [String: String] {
        ["train.steps": String(step), "train.batch": String(options.batch), "train.lr": String(options.learningRate),
         "train.data_seed": String(options.dataSeed), "train.init_seed": String(options.initSeed),
         "train.decay_steps": String(options.decaySteps), "train.seconds": String(format: "%.0f", elapsedSeconds)]
    }

    /// checkpoint.safetensors, model.safetensors (the weights alone, as shipped) and loss.png.
    public func save(to dir: String, log: TrainingLog) throws {
        try checkpoint.write(to: TrainingSession.checkpointPath(dir))
        try net.save(to: dir + "/model.safetensors", extraMetadata: provenance)
        try PNG.write(try AttributeTrainer.plot(log), to: dir + "/loss.png")
    }

    /// The loss plot: total loss (log scale) above batch accuracy.
    static func plot(_ log: TrainingLog) throws -> Image {
        let loss = log.rows.map { ($0[0], $0[2]) }, acc = log.rows.map { ($0[0], $0[5]) }
        return try TrainingPlot.render([
            .init(series: [.init(name: "loss", points: loss, color: (200, 40, 40))], logY: true),
            .init(series: [.init(name: "train accuracy", points: acc, color: (30, 90, 200))], logY: false),
        ])
    }
}
