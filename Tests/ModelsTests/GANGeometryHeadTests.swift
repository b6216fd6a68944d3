import Foundation
import SynthFaces
import Testing
@testable import Models
import TensorCore

/// D's geometry head (`--d-geometry`): its targets, that it learns the real batch's geometry, that
/// it leaves the plain step alone, and that a run with it resumes bit-identically.
struct GANGeometryHeadTests {
    @Test func targetsAreTheNormalizedWidthYawAndTilt() throws {
        let samples = try SynthFaces.samples(seed: 0, indices: 20_000..<20_004, size: 16)
        let t = try GANTrainer.geometryTargets(samples)
        #expect(t.shape == [4, 3])
        for (i, s) in samples.enumerated() {
            let a = s.attributes
            let want = [(a.faceWidth - 1) / 0.08, a.yaw, a.tilt / 7]
            for j in 0..<3 { #expect(Swift.abs(t.scalars[i * 3 + j] - want[j]) < 1e-6) }
            #expect(t.scalars[(i * 3)..<(i * 3 + 3)].allSatisfy { Swift.abs($0) <= 1 })
        }
    }

    /// The error is the mean over batch and outputs of (h·(W/√C)ᵀ + b − t)², checked against a direct sum.
    @Test func errorIsTheMeanSquaredResidual() throws {
        let h = try Tensor(shape: [2, 4], scalars: [1, 2, 0, -1, 0.5, 0, 3, 1])
        let head = ["weight": try Tensor(shape: [3, 4], scalars: [1, 0, 0, 0, 0, 1, 1, 0, -1, 0, 0, 2]), "bias": try Tensor(shape: [3], scalars: [0.1, 0, -0.2])]
        let t = try Tensor(shape: [2, 3], scalars: [0, 1, -1, 0.5, 0.5, 0])
        var sum: Double = 0
        for i in 0..<2 {
            for k in 0..<3 {
                var p = Double(head["bias"]!.scalars[k])
                for c in 0..<4 { p += Double(h.scalars[i * 4 + c]) * Double(head["weight"]!.scalars[k * 4 + c]) / 2 }
                sum += (p - Double(t.scalars[i * 3 + k])) * (p - Double(t.scalars[i * 3 + k]))
            }
        }
        #expect(Swift.abs(Double(try GANTrainer.geometryError(h, head: head, targets: t).item()) - sum / 6) < 1e-6)
        #expect(throws: ModelError.self) { try GANTrainer.geometryError(h, head: head, targets: Tensor.zeros([2, 2])) }
    }

    @Test func headLearnsLeavesThePlainStepAndResumes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gangeo-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let g = GANTests.tinyG
        func trainer(_ w: Float) throws -> GANTrainer {
            let t = try GANTrainer(generator: g, discriminator: .init(matching: g), options: .init(batch: 4, r1Every: 2))
            if w > 0 { try t.setDGeometry(w) }
            return t
        }
        // Off: no head, nan in the metrics, nothing saved.
        let plain = try trainer(0)
        let m0 = try plain.trainStep()
        #expect(m0.geometry.isNaN && plain.geometryHead == nil && plain.checkpoint.params.keys.allSatisfy { !$0.hasPrefix("dgeo.") })
        // On: the head's error on a fixed real batch falls as D steps on it.
        let a = try trainer(1)
        let samples = try TrainingData.render(dataSeed: 0, size: 16, indices: Array(20_000..<20_004))
        let real = try SynthFaces.imageTensor(samples), targets = try GANTrainer.geometryTargets(samples)
        var errors: [Float] = []
        for _ in 0..<30 { errors.append(try a.discriminatorStep(real: real, geometry: targets).geometry) }
        #expect(errors.allSatisfy(\.isFinite) && errors.last! < 0.8 * errors.first! && zip(errors, errors.dropFirst()).allSatisfy { $1 < $0 }, "\(errors)")
        // The adversarial part is reported apart from the head's error, and D moved differently than without the head.
        let b = try trainer(1), c = try trainer(0)
        let withHead = try b.discriminatorStep(real: real, geometry: targets), without = try c.discriminatorStep(real: real)
        #expect(withHead.loss == without.loss && without.geometry.isNaN)
        #expect(b.discriminator.parameters["final_linear.0.weight"]!.scalars != c.discriminator.parameters["final_linear.0.weight"]!.scalars)
        // Checkpoint and bit-identical resume with the head on.
        let d = try trainer(2), e = try trainer(2)
        for _ in 0..<4 { _ = try d.trainStep() }
        for _ in 0..<2 { _ = try e.trainStep() }
        let ck = e.checkpoint
        #expect(ck.metadata["gan.d_geometry"] == "2.0" && ck.params["dgeo.weight"]?.shape == [3, e.discriminator.config.channels(atResolution: 4)] && ck.optimizer["dgeo.step"] != nil)
        try ck.write(to: path)
        let f = try GANTrainer(checkpoint: TrainingCheckpoint.read(path), path: path)
        #expect(f.options.dGeometry == 2 && f.geometryHead?["weight"]?.scalars == e.geometryHead?["weight"]?.scalars)
        for _ in 0..<2 { _ = try f.trainStep() }
        for (k, v) in d.checkpoint.params { #expect(f.checkpoint.params[k]?.scalars == v.scalars, "\(k)") }
        for (k, v) in d.checkpoint.optimizer { #expect(f.checkpoint.optimizer[k]?.scalars == v.scalars, "\(k)") }
        // Off again: the head stays in the checkpoint but no longer trains.
        try f.setDGeometry(0)
        let kept = f.geometryHead
        #expect(try f.trainStep().geometry.isNaN && f.geometryHead?["weight"]?.scalars == kept?["weight"]?.scalars)
        #expect(throws: ModelError.self) { try f.setDGeometry(-1) }
        // A run built with the weight in its options has its head from the start.
        let direct = try GANTrainer(generator: g, discriminator: .init(matching: g), options: .init(batch: 4, r1Every: 2, dGeometry: 2))
        let fresh = try GANTrainer.newGeometryHead(direct.discriminator.config, seed: 1)
        #expect(direct.geometryHead?["weight"]?.scalars == fresh["weight"]?.scalars && fresh["weight"]?.shape == [3, direct.discriminator.config.channels(atResolution: 4)])
        #expect(try direct.trainStep().geometry.isFinite)
        // A checkpoint that trains the head but lacks its tensors is refused by name.
        var broken = ck
        for k in broken.params.keys where k.hasPrefix("dgeo.") { broken.params[k] = nil }
        #expect(throws: ModelError.self) { try GANTrainer(checkpoint: broken, path: "broken") }
        do { _ = try GANTrainer(checkpoint: broken, path: "broken") } catch { #expect("\(error)".contains("no dgeo.* tensors"), "\(error)") }
    }
}
