import Foundation
import Testing
@testable import Models
import TensorCore

/// The W+ encoder and its trainer on tiny models: shapes, gradients against finite differences,
/// the loss going down, bit-identical resume, refusals.
@Suite struct EncoderTests {
    static let gConfig = try! StyleGAN2Config(size: 16, styleDim: 16, nMLP: 2, channelMultiplier: 1, channelDivisor: 128)

    /// A tiny generator and attribute network written to a temporary folder (the trainer reads files).
    static func frozen() throws -> (String, FrozenModel<StyleGAN2Generator>, FrozenModel<AttributeNet>) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("encoder-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try StyleGAN2Generator.random(config: gConfig, seed: 3).save(to: dir + "/g.safetensors")
        try AttributeNet(config: .tiny, seed: 4).save(to: dir + "/a.safetensors")
        return (dir, try FrozenModel(path: dir + "/g.safetensors") { try StyleGAN2Generator.load(path: $0) },
                try FrozenModel(path: dir + "/a.safetensors") { try AttributeNet.load($0) })
    }

    @Test func shapesAndTheMeanLatentAtInitialization() throws {
        let avg = try Tensor.randomNormal([1, 16], seed: 9)
        let e = try LatentEncoder(config: .tiny, latentAverage: avg, seed: 1)
        let x = try Tensor.randomNormal([3, 3, 16, 16], seed: 2)
        let w = try e(x)
        #expect(w.shape == [3, 6, 16])
        // The heads start small: every code is near the mean latent.
        var dev: Float = 0
        for i in 0..<w.count { dev = max(dev, abs(w.scalars[i] - avg.scalars[i % 16])) }
        #expect(dev > 0 && dev < 0.5, "largest offset from w̄ at initialization: \(dev)")
        #expect(LatentEncoder.Config.tiny.layers(group: 0) == 0..<2 && LatentEncoder.Config.tiny.layers(group: 2) == 5..<6)
        #expect(LatentEncoder.Config().split == [4, 8], "10 layers: coarse 0–3, middle 4–7, fine 8–9 as the mixing table")
        #expect(throws: TensorError.self) { try e(Tensor.zeros([1, 3, 32, 32])) }
        #expect(throws: ModelError.self) { try LatentEncoder(config: .tiny, params: [:]) }
    }

    /// The directional derivative of sum(E(x)·r) along a random direction in each parameter tensor
    /// against central differences (step 1e-4: the kinks of leaky ReLU crossed within ±h add an
    /// error proportional to h; at 1e-3 it reached 0.5 on derivatives of 3–24).
    @Test func encoderGradientsMatchFiniteDifferences() throws {
        let e = try LatentEncoder(config: .tiny, latentAverage: Tensor.zeros([1, 16]), seed: 5)
        let x = try Tensor.randomNormal([2, 3, 16, 16], seed: 6)
        let r = try Tensor.randomNormal([2, 6, 16], seed: 7)
        func objective(_ p: [String: Tensor]) throws -> Double { Double(try (LatentEncoder.forward(x, config: e.config, params: p) * r).sum().item()) }
        let tape = Tape()
        var watched = e.params
        let names = e.trainableNames
        for n in names { watched[n] = tape.watch(e.params[n]!) }
        let grads = try tape.gradients(of: (LatentEncoder.forward(x, config: e.config, params: watched) * r).sum(), wrt: names.map { watched[$0]! })
        // One random direction per tensor, so a wrong pullback shows which layer it is in.
        for (k, (n, g)) in zip(names, grads).enumerated() {
            var plus = e.params, minus = e.params
            let h: Float = 1e-4
            let v = try Tensor.randomNormal(g.shape, seed: UInt64(100 + k))
            var analytic = 0.0
            for i in 0..<v.count { analytic += Double(v.scalars[i]) * Double(g.scalars[i]) }
            plus[n] = try e.params[n]! + v.scaled(h)
            minus[n] = try e.params[n]! - v.scaled(h)
            let fd = (try objective(plus) - objective(minus)) / (2 * Double(h))
            // Leaky-ReLU kinks crossed within ±h and float32 round-off: ~0.04 absolute at h = 1e-4.
            #expect(abs(fd - analytic) <= 2e-2 * abs(analytic) + 6e-2, "\(n): tape \(analytic), finite difference \(fd)")
        }
    }

    @Test func perceptualDistanceIsZeroForEqualImagesAndDifferentiable() throws {
        let net = try AttributeNet(config: .tiny, seed: 4)
        let a = try Tensor.randomNormal([2, 3, 16, 16], seed: 1).scaled(0.5), b = try Tensor.randomNormal([2, 3, 16, 16], seed: 2).scaled(0.5)
        #expect(try Perceptual.distance(a, a, net: net).item() == 0)
        let d = try Perceptual.distances(a, b, net: net)
        #expect(d.shape == [2] && d.scalars.allSatisfy { $0 > 0 && $0 <= 4 }, "\(d.scalars)")
        let tape = Tape()
        let wa = tape.watch(a)
        let g = try tape.gradients(of: Perceptual.distance(wa, b, net: net), wrt: [wa])[0]
        for i in [5, 300, 1000] {
            var p = a, m = a
            p.scalars[i] += 1e-2; m.scalars[i] -= 1e-2
            let fd = (try Perceptual.distance(p, b, net: net).item() - Perceptual.distance(m, b, net: net).item()) / 2e-2
            #expect(abs(fd - g.scalars[i]) <= 1e-2 * max(1e-2, abs(fd)) + 1e-4, "[\(i)] tape \(g.scalars[i]) fd \(fd)")
        }
    }

    @Test func trainingLowersTheLossAndResumesBitIdentically() throws {
        let (dir, g, a) = try Self.frozen()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = LatentEncoder.Config(size: 16, channels: [4, 8, 8, 16], headChannels: 8, nLatent: g.model.nLatent, styleDim: 16)
        let options = EncoderTrainer.Options(batch: 4, learningRate: 2e-3, seed: 2, sampleFraction: 0.5)
        let straight = try EncoderTrainer(config: config, options: options, generator: g, attributes: a)
        var losses: [Float] = []
        for _ in 0..<30 { losses.append(try straight.trainStep().latent) }
        let first = losses.prefix(5).reduce(0, +) / 5, last = losses.suffix(5).reduce(0, +) / 5
        #expect(last < 0.9 * first, "latent loss \(first) → \(last)")

        let part = try EncoderTrainer(config: config, options: options, generator: g, attributes: a)
        for _ in 0..<20 { _ = try part.trainStep() }
        try part.checkpoint.write(to: dir + "/c.safetensors")
        let resumed = try EncoderTrainer(checkpoint: TrainingCheckpoint.read(dir + "/c.safetensors"), generator: g, attributes: a)
        for _ in 0..<10 { _ = try resumed.trainStep() }
        #expect(try SafeTensors.encode(resumed.encoder.params) == SafeTensors.encode(straight.encoder.params), "weights differ after resume")
        #expect(resumed.dataOffset == straight.dataOffset && resumed.dataOffset == 30 * 2)

        // A checkpoint names the frozen models by digest: another generator is refused.
        try StyleGAN2Generator.random(config: Self.gConfig, seed: 99).save(to: dir + "/g2.safetensors")
        let other = try FrozenModel(path: dir + "/g2.safetensors") { try StyleGAN2Generator.load(path: $0) }
        #expect(throws: ModelError.self) { try EncoderTrainer(checkpoint: TrainingCheckpoint.read(dir + "/c.safetensors"), generator: other, attributes: a) }
        // And an encoder whose layout does not fit the generator.
        let wide = LatentEncoder.Config(size: 16, channels: [4, 8, 8, 16], headChannels: 8, nLatent: 8, styleDim: 16)
        #expect(throws: ModelError.self) { try EncoderTrainer(config: wide, options: options, generator: g, attributes: a) }
        #expect(throws: ModelError.self) { try EncoderTrainer.Options(batch: 4, sampleFraction: 1.5).validate() }
    }
}
