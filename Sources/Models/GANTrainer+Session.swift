import Foundation
import Imaging
import TensorCore

/// `tedi train generator` as a training session: log columns, the files of its run folder.
extension GANTrainer: SessionTrainer {
    public var logColumns: [String] {
        ["d_loss", "g_loss", "r1", "real_score", "fake_score", "attr_kl", "d_geometry", "d_classes", "g_classes"]
    }

    public func sessionStep() throws -> TrainingStepReport {
        let m = try trainStep()
        var report = TrainingStepReport(values: [m.dLoss, m.gLoss, m.r1, m.realScore, m.fakeScore, m.balance, m.geometry,
                                                 m.classes, m.generatorClasses].map(Double.init),
                                        progress: String(format: "D %.3f  G %.3f", m.dLoss, m.gLoss))
        if !(m.dLoss.isFinite && m.gLoss.isFinite && (m.balance.isFinite || options.attrBalance == 0)
             && (m.geometry.isFinite || options.dGeometry == 0)
             && ((m.classes.isFinite && m.generatorClasses.isFinite) || options.conditionClassifier == 0)) {
            report.failure = "the GAN losses became D \(m.dLoss), G \(m.gLoss), balance \(m.balance), D geometry \(m.geometry), D classes \(m.classes), G classes \(m.generatorClasses) at step \(m.step); lower --lr or raise --r1 and start again"
        }
        if m.generatedFrequencies != nil, let r = realBalanceReport() {
            report.messages.append("step \(m.step - 1) real balance: \(r.under) values under 50% of data; lowest generated/data: \(r.worst.joined(separator: ", "))")
        }
        return report
    }

    /// checkpoint.safetensors; generator.safetensors (the EMA, loadable by `synthesize`) and a copy
    /// under snapshots/; samples.png (EMA on fixed z; a copy under snapshots/); mixing.png; loss.png.
    public func save(to dir: String, log: TrainingLog) throws {
        try FileManager.default.createDirectory(atPath: dir + "/snapshots", withIntermediateDirectories: true)
        try checkpoint.write(to: TrainingSession.checkpointPath(dir))
        var g = ema
        g.parameters = g.parameters.mapValues { $0.detached }
        try g.save(to: dir + "/generator.safetensors")
        let tag = String(format: "%08d", step)
        try g.save(to: dir + "/snapshots/generator_\(tag).safetensors")
        let grid = try Image.grid(Image.images(from: samples(count: 64)), columns: 8)
        try PNG.write(grid, to: dir + "/samples.png")
        try PNG.write(grid, to: dir + "/snapshots/samples_\(tag).png")
        try PNG.write(try Image.grid(Image.images(from: g.mixingGrid(rows: 6, seed: 77)), columns: 5), to: dir + "/mixing.png")
        if !log.rows.isEmpty { try PNG.write(try GANTrainer.plot(log), to: dir + "/loss.png") }
    }

    /// The GAN loss plot: D and G losses, R1 (log scale) where it was computed, and the optional terms.
    static func plot(_ log: TrainingLog) throws -> Image {
        func series(_ column: Int) -> [(Double, Double)] {
            log.rows.filter { $0.count > column && $0[column].isFinite }.map { ($0[0], $0[column]) }
        }
        var panels: [TrainingPlot.Panel] = [
            .init(series: [.init(name: "D loss", points: series(2), color: (200, 40, 40)),
                           .init(name: "G loss", points: series(3), color: (30, 90, 200))], logY: false),
        ]
        let r1 = series(4).filter { $0.1 > 0 }
        if !r1.isEmpty { panels.append(.init(series: [.init(name: "R1", points: r1, color: (40, 150, 60))], logY: true)) }
        let kl = series(7)
        if !kl.isEmpty { panels.append(.init(series: [.init(name: "attribute KL", points: kl, color: (150, 60, 160))], logY: false)) }
        let geo = series(8)
        if !geo.isEmpty { panels.append(.init(series: [.init(name: "D geometry MSE", points: geo, color: (200, 130, 20))], logY: true)) }
        let dc = series(9), gc = series(10)
        if !dc.isEmpty {
            panels.append(.init(series: [.init(name: "D attribute CE (reals)", points: dc, color: (120, 70, 20)),
                                         .init(name: "G classifier term (fakes)", points: gc, color: (20, 140, 160))], logY: true))
        }
        return try TrainingPlot.render(panels)
    }
}
