import Foundation
import Testing
@testable import Models
import TensorCore

/// Instance-level optimization on a tiny generator: the loss's gradient against finite
/// differences, steps lowering the loss, layer masks, determinism and refusals.
@Suite struct LatentOptimizerTests {
    static let g = try! StyleGAN2Generator.random(config: EncoderTests.gConfig, seed: 3)
    static let net = try! AttributeNet(config: .tiny, seed: 4)
    static let enc = try! LatentEncoder(config: .tiny, latentAverage: g.meanLatent(count: 64, seed: 0), seed: 5)

    static func setup(_ o: LatentOptimizer.Options, pins: String = "") throws -> LatentOptimizer {
        let w0 = try g.broadcastLatent(g.mapping(Tensor.randomNormal([2, 16], seed: 11)))
        let target = try g.synthesis(g.broadcastLatent(g.mapping(Tensor.randomNormal([2, 16], seed: 12))), noise: .const)
        return try LatentOptimizer(options: o, generator: g, initial: w0, target: target, attributes: net, encoder: enc,
                                   pins: AttributePins(parsing: pins))
    }

    /// Every term at once; the tape's directional derivatives along random directions in w
    /// against central differences (step 1e-3).
    @Test func lossGradientMatchesFiniteDifferences() throws {
        let opt = try Self.setup(.init(pixel: 1, feature: 0.5, domain: 0.5, regularization: 0.3, attribute: 0.2), pins: "hair_color=gray, yaw=0.5")
        let w = try opt.initial + Tensor.randomNormal(opt.initial.shape, seed: 13).scaled(0.1)
        let tape = Tape()
        let ww = tape.watch(w)
        let (l, parts) = try opt.loss(ww)
        #expect(parts.pixel > 0 && parts.feature > 0 && parts.domain > 0 && parts.regularization > 0 && parts.attribute > 0, "\(parts)")
        let g = try tape.gradients(of: l, wrt: [ww])[0]
        let checks = try directionalDerivatives(of: { Double(try opt.loss($0).1.total) }, at: w, gradient: g, seeds: 20..<23, h: 1e-3)
        for (trial, (analytic, fd)) in checks.enumerated() {
            #expect(abs(fd - analytic) <= 2e-2 * abs(analytic), "direction \(trial): tape \(analytic), finite difference \(fd)")
        }
    }

    @Test func stepsLowerTheLossAndOnlyTheChosenLayersMove() throws {
        let opt = try Self.setup(.init(steps: 15, learningRate: 0.05, layers: [1, 2]))
        var losses: [Float] = []
        let s = try opt.run { _, p in losses.append(p.total) }
        #expect(s.step == 15 && losses.last! < 0.8 * losses.first!, "\(losses)")
        let (n, nl, sd) = (2, 6, 16)
        for i in 0..<n { for j in 0..<nl { for k in 0..<sd {
            let idx = (i * nl + j) * sd + k
            if ![1, 2].contains(j) { #expect(s.w.scalars[idx] == opt.initial.scalars[idx]) }
        } } }
        #expect(s.w != opt.initial)
        // Same state, same bytes; and a run resumed from a mid state equals a straight one.
        var a = opt.start()
        for _ in 0..<6 { _ = try opt.step(&a) }
        let resumed = try opt.run(from: LatentOptimizer.State(w: a.w, adam: a.adam, step: a.step))
        #expect(resumed.w.scalars == s.w.scalars)
    }

    @Test func refusals() throws {
        #expect(throws: ModelError.self) { try Self.setup(.init(steps: 0)) }
        #expect(throws: ModelError.self) { try Self.setup(.init(learningRate: -1)) }
        #expect(throws: ModelError.self) { try Self.setup(.init(layers: [6])) }
        #expect(throws: ModelError.self) { try Self.setup(.init(pixel: -1)) }
        #expect(throws: ModelError.self) {
            try LatentOptimizer(options: .init(), generator: Self.g, initial: Tensor.zeros([1, 5, 16]))
        }
        #expect(throws: ModelError.self) {   // no target, no attributes
            try LatentOptimizer(options: .init(), generator: Self.g, initial: Tensor.zeros([1, 6, 16]))
        }
        #expect(throws: ModelError.self) {   // the target does not match the codes
            try LatentOptimizer(options: .init(), generator: Self.g, initial: Tensor.zeros([1, 6, 16]), target: Tensor.zeros([2, 3, 16, 16]), attributes: Self.net)
        }
    }
}
