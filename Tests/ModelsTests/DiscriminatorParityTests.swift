import Foundation
import Testing
import TensorCore
@testable import Models

/// tedi's discriminator and R1 gradient against PyTorch float64 (tools/make_d_fixtures.py:
/// rosinality's residual D, R1 by exact double backward) on a 32 px D with 8 inputs.
@Suite struct DiscriminatorParityTests {
    let dir = fixtureRoot + "/d32"

    func load() throws -> (StyleGAN2Discriminator, Tensor) {
        let (tensors, meta) = try SafeTensors.read(dir + "/weights.safetensors")
        let config = try StyleGAN2Discriminator.Config(metadata: meta, source: dir)
        return (try StyleGAN2Discriminator(config: config, parameters: tensors, source: dir), try array("x"))
    }

    func array(_ name: String) throws -> Tensor { try Npy.readTensor(dir + "/" + name + ".npy") }

    @Test func logitsAndGradientsMatchPyTorch() throws {
        let (d, x) = try load()
        let tape = Tape()
        let names = d.trainableNames
        let dw = try d.watchingParameters(on: tape, names: names)
        let xw = tape.watch(x)
        let logits = try dw(xw)
        #expect(try relativeDiff(logits.detached, try array("logits")) < 1e-5)
        let grads = try tape.gradients(of: logits.sum(), wrt: [xw] + names.map { dw.parameters[$0]! })
        #expect(try relativeDiff(grads[0], try array("grad_x")) < 1e-4, "d sum(D) / dx")
        #expect(names.count == 23)
        for (name, g) in zip(names, grads.dropFirst()) {
            #expect(try relativeDiff(g, try array("grad_" + name)) < 1e-4, "d sum(D) / d \(name)")
        }
    }

    /// The finite-difference Hessian-vector product (ε = 1e-2 of the gradient's rms) against exact
    /// double backward. With the activation patterns frozen (the default) only the minibatch
    /// stddev is nonlinear along the step: weights within 0.2% of each tensor's largest entry
    /// (measured ≤ 0.09%), biases — whose R1 gradient is 100× smaller, through the stddev alone —
    /// within 5% (measured ≤ 3%). With each evaluation's own patterns, units that change sides
    /// within ±εg add terms double backward does not have: the older form is off by more than
    /// the gradient itself (measured: up to 235× the biases' largest entry, 5× for weights).
    @Test func r1GradientMatchesDoubleBackward() throws {
        let (d, x) = try load()
        func errors(frozen: Bool) throws -> (weights: Float, biases: Float, lastBias: Float) {
            let (r1, grads) = try GANTrainer.r1Gradients(d, real: x, epsilon: 1e-2, frozenPatterns: frozen)
            let want = try array("r1").scalars[0]
            #expect(abs(r1 - want) <= 1e-4 * want, "R1 \(r1) vs \(want)")
            var e: (weights: Float, biases: Float, lastBias: Float) = (0, 0, 0)
            var scale: Float = 0
            for name in d.trainableNames {
                let ref = try array("r1grad_" + name)
                scale = max(scale, ref.scalars.map { abs($0) }.max()!)
                // The last bias adds to every logit alike: it does not touch dx.
                if name == "final_linear.1.bias" { e.lastBias = grads[name]!.scalars.map { abs($0) }.max()!; continue }
                let r = try relativeDiff(grads[name]!, ref)
                if name.hasSuffix("bias") { e.biases = max(e.biases, r) } else { e.weights = max(e.weights, r) }
            }
            e.lastBias /= scale
            return e
        }
        let frozen = try errors(frozen: true)
        #expect(frozen.weights < 2e-3 && frozen.biases < 5e-2 && frozen.lastBias < 1e-4, "\(frozen)")
        let own = try errors(frozen: false)
        #expect(own.weights > 0.5 && own.biases > 10, "the older form: \(own)")
    }
}
