import Foundation
import SynthFaces
import Testing
@testable import Models
import TensorCore

/// The attribute-balance loss: its value against a float64 computation, its image gradient against
/// central differences, and its place in the trainer (metrics, checkpoint, bit-identical resume).
struct GANBalanceTests {
    static func balance(count: Int = 2_000) throws -> AttributeBalance {
        try AttributeBalance(net: AttributeNet(config: .tiny, seed: 5), netDigest: "tiny-5", dataSeed: 0, count: count)
    }

    @Test func priorsAreTheDataFrequencies() throws {
        let b = try Self.balance()
        #expect(b.prior.count == AttributeHeads.categorical.count)
        for (h, p) in b.prior.enumerated() {
            #expect(p.count == AttributeHeads.categorical[h].values.count)
            #expect(Swift.abs(p.reduce(0, +) - 1) < 1e-4)
        }
        // Direct count over the same samples for one head (hat: a rare value).
        let hat = AttributeHeads.categorical.firstIndex { $0.name == "hat" }!
        var n = 0
        for i in 0..<2_000 where try SynthFaces.attributes(seed: 0, index: SynthFaces.Split.train.index(i)).hat { n += 1 }
        #expect(b.prior[hat][1] == Float(Double(n) / 2_000))
        #expect(n > 0 && n < 400)
    }

    @Test func lossIsTheKLOfBatchMeansAndItsGradientChecks() throws {
        let b = try Self.balance()
        let x = try Tensor.randomUniform([4, 3, 16, 16], -1, 1, seed: 2)
        let l = Double(try b.loss(x).0.item())
        let out = try b.net(x)
        var kl = 0.0
        for (h, lg) in out.logits.enumerated() {
            let k = lg.shape[1]
            var q = [Double](repeating: 0, count: k)
            for n in 0..<4 {
                let row = (0..<k).map { Double(lg.scalars[n * k + $0]) }
                let m = row.max()!, e = row.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
                for j in 0..<k { q[j] += e[j] / s / 4 }
            }
            for j in 0..<k where b.prior[h][j] > 0 {
                let p = Double(b.prior[h][j])
                kl += p * Foundation.log(p / (q[j] + 1e-6))
            }
        }
        kl /= Double(out.logits.count)
        #expect(Swift.abs(l - kl) < 1e-4 * Swift.max(1, kl), "loss \(l) vs float64 \(kl)")
        #expect(l > 0)

        // Gradient with respect to the logits (the net's own gradients are checked in
        // AttributeNetTests): central differences in float32 along random directions, on logits
        // of the scale the network produces.
        let logits = try (0..<3).map { try Tensor.randomNormal([6, AttributeHeads.categorical[$0].values.count], seed: 7, stream: UInt64($0)).scaled(2) }
        let prior = Array(b.prior.prefix(3))
        let tape = Tape()
        let wl = logits.map { tape.watch($0) }
        let history = try logits.indices.map { i -> [Float] in
            let q = try Tensor.randomUniform([prior[i].count], 0.01, 1, seed: 21, stream: UInt64(i)).scalars
            let s = q.reduce(0, +)
            return q.map { $0 / s }
        }
        let grads = try tape.gradients(of: AttributeBalance.klOfRunningMeans(wl, prior: prior).0, wrt: wl)
        let gradsH = try tape.gradients(of: AttributeBalance.klOfRunningMeans(wl, prior: prior, history: history, beta: 0.75).0, wrt: wl)
        for k in 0..<3 {
            let d = try logits.indices.map { try Tensor.randomNormal(logits[$0].shape, seed: 11 + UInt64(k), stream: UInt64($0)) }
            let h: Float = 1e-2
            for (hist, g) in [(nil, grads), (history, gradsH)] as [([[Float]]?, [Tensor])] {
                func f(_ s: Float) throws -> Double {
                    Double(try AttributeBalance.klOfRunningMeans(try logits.indices.map { try logits[$0] + d[$0].scaled(s) }, prior: prior,
                                                                 history: hist, beta: 0.75).0.item())
                }
                let fd = (try f(h) - f(-h)) / (2 * Double(h))
                var an = 0.0
                for i in logits.indices { an += zip(g[i].scalars, d[i].scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
                #expect(Swift.abs(fd - an) <= 1e-2 * Swift.abs(an) + 2e-4, "direction \(k), history \(hist != nil): tape \(an), central differences \(fd)")
            }
        }
        // And it reaches the images.
        let tx = Tape()
        let wx = tx.watch(x)
        let gx = try tx.gradients(of: b.loss(wx).0, wrt: [wx])[0]
        #expect(gx.shape == x.shape && gx.scalars.contains { $0 != 0 })

        // The running mean: β·history + (1−β)·batch mean, returned for the next step.
        let (_, batchMeans) = try AttributeBalance.klOfRunningMeans(logits, prior: prior)
        let (_, mixed) = try AttributeBalance.klOfRunningMeans(logits, prior: prior, history: history, beta: 0.75)
        for i in logits.indices {
            for j in prior[i].indices {
                #expect(Swift.abs(mixed[i][j] - (0.75 * history[i][j] + 0.25 * batchMeans[i][j])) < 1e-6)
            }
            #expect(Swift.abs(batchMeans[i].reduce(0, +) - 1) < 1e-5)
        }
        #expect(throws: ModelError.self) { try AttributeBalance.klOfRunningMeans(logits, prior: prior, history: [[0.5, 0.5]], beta: 0.5) }
    }

    @Test func theBalanceTermMovesGTowardThePrior() throws {
        let g = GANTests.tinyG
        func trainer(_ w: Float) throws -> GANTrainer {
            let t = try GANTrainer(generator: g, discriminator: .init(matching: g), options: .init(batch: 8, r1Every: 2))
            try t.setAttributeBalance(weight: w, beta: 0, w > 0 ? Self.balance(count: 500) : nil)
            return t
        }
        // Same seeds, weight 0 vs 0.5: the term enters G's update.
        let a = try trainer(0), b = try trainer(0.5)
        _ = try a.generatorStep(); _ = try b.generatorStep()
        #expect(a.generator.parameters["convs.0.conv.weight"]!.scalars != b.generator.parameters["convs.0.conv.weight"]!.scalars)
        // D frozen, the same z every time (the step counter does not move): with a large weight,
        // L_bal falls.
        let c = try trainer(20)
        var kl: [Float] = []
        for _ in 0..<15 { kl.append(try c.generatorStep().1) }
        let first = kl.prefix(3).reduce(0, +), last = kl.suffix(3).reduce(0, +)
        #expect(last < 0.9 * first, "L_bal over G steps: \(kl)")
    }

    @Test func trainerRecordsTheBalanceAndResumesBitIdentically() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ganbal-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let g = GANTests.tinyG
        func trainer() throws -> GANTrainer {
            let t = try GANTrainer(generator: g, discriminator: .init(matching: g), options: .init(batch: 4, r1Every: 2))
            try t.setAttributeBalance(weight: 0.5, beta: 0.5, Self.balance(count: 500))
            return t
        }
        let a = try trainer()
        var bal: [Float] = []
        for _ in 0..<3 { bal.append(try a.trainStep().balance) }
        #expect(bal.allSatisfy { $0.isFinite && $0 > 0 }, "\(bal)")
        let b = try trainer()
        _ = try b.trainStep()
        let ck = b.checkpoint
        #expect(ck.metadata["gan.attr_balance"] == "0.5" && ck.metadata["gan.attr_balance_beta"] == "0.5" && ck.metadata["gan.attr_net_sha256"] == "tiny-5")
        #expect(ck.optimizer["bal.0"]?.count == 2 && b.balanceMean?.count == AttributeHeads.categorical.count)
        try ck.write(to: path)
        let c = try GANTrainer(checkpoint: TrainingCheckpoint.read(path), path: path)
        #expect(c.options.attrBalance == 0.5)
        #expect(throws: ModelError.self) { try c.trainStep() }   // the weight without the network
        #expect(c.balanceMean == b.balanceMean)
        try c.setAttributeBalance(weight: 0.5, Self.balance(count: 500))
        for _ in 0..<2 { _ = try c.trainStep() }
        for (k, v) in a.checkpoint.params { #expect(c.checkpoint.params[k]?.scalars == v.scalars, "\(k)") }
        // Off: no balance term, nan in the metrics; a net of the wrong size is refused.
        let off = try GANTrainer(generator: g, discriminator: .init(matching: g), options: .init(batch: 4, r1Every: 2))
        #expect(try off.trainStep().balance.isNaN)
        #expect(throws: ModelError.self) {
            try off.setAttributeBalance(weight: 1, AttributeBalance(net: AttributeNet(config: .init(), seed: 1), netDigest: "", dataSeed: 0, count: 10))
        }
    }
}
