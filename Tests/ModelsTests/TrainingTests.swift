import Foundation
import Imaging
import Testing
@testable import Models
import TensorCore

/// Training utilities on a tiny config: loss goes down, resume is bit-identical, checkpoints and
/// logs round-trip, the plot draws.
@Suite struct TrainingTests {
    func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("training-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    let options = AttributeTrainer.Options(batch: 8, learningRate: 3e-3, dataSeed: 0, initSeed: 7, decaySteps: 10)

    @Test func lossGoesDown() throws {
        let t = try AttributeTrainer(config: .tiny, options: .init(batch: 16, learningRate: 3e-3))
        var losses: [Float] = []
        for _ in 0..<24 { losses.append(try t.trainStep().loss) }
        let first = losses.prefix(4).reduce(0, +) / 4, last = losses.suffix(4).reduce(0, +) / 4
        #expect(last < 0.85 * first, "loss \(first) → \(last): \(losses)")
        #expect(t.step == 24)
        #expect(t.dataOffset == 24 * 16)
    }

    @Test func resumeIsBitIdentical() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let straight = try AttributeTrainer(config: .tiny, options: options)
        var straightLosses: [Float] = []
        for _ in 0..<6 { straightLosses.append(try straight.trainStep().loss) }

        let first = try AttributeTrainer(config: .tiny, options: options)
        var losses: [Float] = []
        for _ in 0..<3 { losses.append(try first.trainStep().loss) }
        try first.checkpoint.write(to: dir + "/c.safetensors")
        let resumed = try AttributeTrainer(checkpoint: try TrainingCheckpoint.read(dir + "/c.safetensors"))
        #expect(resumed.step == 3)
        #expect(resumed.options == options)
        for _ in 0..<3 { losses.append(try resumed.trainStep().loss) }

        #expect(losses == straightLosses)
        let a = try SafeTensors.encode(straight.net.params), b = try SafeTensors.encode(resumed.net.params)
        #expect(a == b, "weights differ after resume")
        #expect(straight.checkpoint.optimizer == resumed.checkpoint.optimizer)
        // And the run moved: the weights are not the initial ones.
        #expect(try AttributeNet(config: .tiny, seed: 7).params != straight.net.params)
    }

    @Test func checkpointRoundTrip() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = try AttributeTrainer(config: .tiny, options: options)
        _ = try t.trainStep()
        t.elapsedSeconds = 12.25
        let c = t.checkpoint
        try c.write(to: dir + "/c.safetensors")
        let back = try TrainingCheckpoint.read(dir + "/c.safetensors")
        #expect(back.params == c.params)
        #expect(back.optimizer == c.optimizer)
        #expect(back.step == 1 && back.dataOffset == 8 && back.elapsedSeconds == 12.25)
        #expect(back.metadata == c.metadata)
        #expect(back.optimizer.keys.contains("m.fc.weight") && back.optimizer["step"]?.scalars == [1])
        // No temp files left behind by the atomic write.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["c.safetensors"])
        // The network loads from a checkpoint too; a model file is not a checkpoint.
        #expect(try AttributeNet.load(dir + "/c.safetensors").params == c.params)
        try t.net.save(to: dir + "/m.safetensors")
        let e = #expect(throws: ModelError.self) { try TrainingCheckpoint.read(dir + "/m.safetensors") }
        #expect(e?.description.contains("not a tedi training checkpoint") == true)
    }

    @Test func learningRateSchedule() {
        let o = AttributeTrainer.Options(learningRate: 1e-3, decaySteps: 100)
        #expect(o.learningRate(at: 0) == 1e-3)
        #expect(Swift.abs(o.learningRate(at: 50) - 0.51e-3) < 1e-8)
        #expect(Swift.abs(o.learningRate(at: 100) - 0.02e-3) < 1e-9)
        #expect(o.learningRate(at: 500) == o.learningRate(at: 100))
        #expect(AttributeTrainer.Options(learningRate: 1e-3).learningRate(at: 77) == 1e-3)
    }

    @Test func logKeepsRowsUpToTheResumedStep() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/log.csv"
        let log = try TrainingLog(path: path, columns: ["step", "loss"], resumeStep: nil)
        for s in 1...5 { try log.append([Double(s), 1.5 / Double(s)]) }
        #expect(throws: ModelError.self) { try log.append([1]) }
        let text = String(decoding: try FileIO.readAll(path), as: UTF8.self)
        #expect(text.hasPrefix("step,loss\n1,1.5\n2,0.75\n"))
        let resumed = try TrainingLog(path: path, columns: ["step", "loss"], resumeStep: 3)
        #expect(resumed.rows.map { $0[0] } == [1, 2, 3])
        try resumed.append([4, 0.25])
        let again = try TrainingLog(path: path, columns: ["step", "loss"], resumeStep: 10)
        #expect(again.rows.map { $0[0] } == [1, 2, 3, 4])
        #expect(throws: ModelError.self) { try TrainingLog(path: path, columns: ["step", "other"], resumeStep: 1) }
        // A log of an older version without a trailing column: its rows get nan there.
        let wider = try TrainingLog(path: path, columns: ["step", "loss", "extra"], resumeStep: 10)
        #expect(wider.rows.count == 4 && wider.rows.allSatisfy { $0.count == 3 && $0[2].isNaN })
        try wider.append([5, 0.2, 7])
        #expect(String(decoding: try FileIO.readAll(path), as: UTF8.self).hasPrefix("step,loss,extra\n1,1.5,nan\n"))
        #expect(throws: ModelError.self) { try TrainingLog(path: path, columns: ["step"], resumeStep: 10) }
        // A fresh run starts a new log.
        #expect(try TrainingLog(path: path, columns: ["step", "x"], resumeStep: nil).rows.isEmpty)
    }

    /// Close linear ticks keep enough decimals to differ (1.064 and 1.081 once both read "1.1").
    @Test func tickLabelsFollowTheTickStep() {
        let (lo, hi) = (1.046, 1.110)
        let ticks = (0...4).map { TrainingPlot.label(lo + (hi - lo) * Double($0) / 4, step: (hi - lo) / 4) }
        #expect(ticks == ["1.05", "1.06", "1.08", "1.09", "1.11"], "\(ticks)")
        #expect(TrainingPlot.label(0.25, step: 0.05) == ".25")
        #expect(TrainingPlot.label(250, step: 50) == "250" && TrainingPlot.label(1.5, step: 0.5) == "1.5")
        #expect(TrainingPlot.label(-3.25, step: 2) == "-3")
        #expect(Set((0...4).map { TrainingPlot.label(0.3 + 0.004 * Double($0), step: 0.004) }).count == 5)
    }

    @Test func plotDrawsTheCurve() throws {
        let pts = (1...100).map { (Double($0), 10 / Double($0)) }
        let img = try TrainingPlot.render([.init(series: [.init(name: "loss", points: pts, color: (200, 40, 40))], logY: true),
                                           .init(series: [], logY: false)], width: 320, panelHeight: 120)
        #expect(img.width == 320 && img.height == 240)
        var curve = 0
        for y in 0..<120 { for x in 0..<320 where img[x: x, y: y, c: 0] == 200 && img[x: x, y: y, c: 1] == 40 { curve += 1 } }
        #expect(curve > 100)
        // The decreasing curve starts high on the left and ends low on the right.
        func rowsOfColumn(_ x: Int) -> [Int] { (0..<120).filter { img[x: x, y: $0, c: 0] == 200 && img[x: x, y: $0, c: 1] == 40 } }
        let l = try #require(rowsOfColumn(60).first), r = try #require(rowsOfColumn(300).first)
        #expect(l < r)
        // The legend under the axis names the series in its colour ("LOSS": 4 glyphs, scale 2).
        var legend = 0
        for y in 100..<120 { for x in 100..<220 where img[x: x, y: y, c: 0] == 200 && img[x: x, y: y, c: 1] == 40 { legend += 1 } }
        #expect(legend >= 4 * 8, "legend pixels: \(legend)")
        // The empty panel draws nothing but axes.
        #expect(!(120..<240).contains { y in (0..<320).contains { img[x: $0, y: y, c: 0] == 200 && img[x: $0, y: y, c: 1] == 40 } })
    }
}
