import Foundation
import SynthFaces
import Testing
@testable import Models
import TensorCore

/// Balanced real sampling: the controller's update, the thinning's effect on the real stream's
/// frequencies, and its place in the trainer (measurements, checkpoint, bit-identical resume).
struct GANRealBalanceTests {
    static let hat = AttributeHeads.categorical.firstIndex { $0.name == "hat" }!

    @Test func boostsFollowTheGapAndKeepTheDataMean() throws {
        let prior: [[Float]] = [[0.5, 0.3, 0.2], [0.9, 0.095, 0.005]]
        // G matches the data: nothing moves.
        let same = try GANTrainer.updatedBoosts(nil, generated: prior, prior: prior, rate: 0.5)
        for h in same.indices { for v in same[h].indices { #expect(Swift.abs(same[h][v]) < 1e-6) } }
        // G never shows value 1 of head 1 and overshoots value 0 of head 0.
        let gen: [[Float]] = [[0.7, 0.2, 0.1], [1.0, 0, 0]]
        var b = try GANTrainer.updatedBoosts(nil, generated: gen, prior: prior, rate: 0.5)
        #expect(b[1][1] > 0.5 && b[0][0] < 0 && b[0][2] > b[0][1])
        // The rare value (p < 1%) is not steered: what G shows of it changes nothing.
        #expect(try GANTrainer.updatedBoosts(nil, generated: [gen[0], [1.0, 0, 0.4]], prior: prior, rate: 0.5) == b)
        for _ in 0..<20 { b = try GANTrainer.updatedBoosts(b, generated: gen, prior: prior, rate: 0.5) }
        for h in prior.indices {
            // The data-weighted mean boost stays 1, and no value is boosted beyond ×4 against another's cap.
            var mean = 0.0
            for v in prior[h].indices { mean += Double(prior[h][v]) * Foundation.exp(Double(b[h][v])) }
            #expect(Swift.abs(mean - 1) < 1e-5, "head \(h): \(mean)")
            let spread = b[h].max()! - b[h].min()!
            #expect(spread <= 2 * Foundation.log(Float(4)) + 1e-5)
        }
        #expect(b[1][1] - b[1][0] > Foundation.log(Float(4)) - 1e-4, "saturated: \(b[1])")
        // The unsteered rare value keeps a boost near 1 however long the controller runs.
        #expect(Swift.abs(b[1][2]) < Foundation.log(Float(4)), "rare value: \(b[1])")
        // A larger cap (`--real-balance-cap 16`) lets the missing value go further, up to ×16 against the others.
        var wide = try GANTrainer.updatedBoosts(nil, generated: gen, prior: prior, rate: 0.5, cap: 16)
        for _ in 0..<40 { wide = try GANTrainer.updatedBoosts(wide, generated: gen, prior: prior, rate: 0.5, cap: 16) }
        #expect(wide[1][1] - wide[1][0] > Foundation.log(Float(12)) && wide[1].max()! - wide[1].min()! <= 2 * Foundation.log(Float(16)) + 1e-5, "\(wide[1])")
        #expect(Swift.abs(wide[1][2]) < Foundation.log(Float(16)), "rare value: \(wide[1])")
        #expect(throws: ModelError.self) { try GANTrainer.updatedBoosts(nil, generated: [[1]], prior: prior, rate: 0.5) }
    }

    @Test func continuousAttributesAreBinnedOverTheirRange() throws {
        let yaw = AttributeHeads.binned[1]
        #expect(AttributeHeads.continuous[yaw.source].name == "yaw" && yaw.head.values == ["-1..-0.5", "-0.5..0", "0..0.5", "0.5..1"])
        #expect([-3, -1, -0.51, -0.49, 0, 0.49, 0.5, 0.99, 1, 5, .nan].map { yaw.bin($0) } == [0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 0])
        #expect(AttributeHeads.coverageHeads.count == AttributeHeads.categorical.count + 3)
        // The labels' bins are about uniform (the renderer draws yaw uniformly).
        var counts = [0, 0, 0, 0]
        for i in 0..<400 { counts[yaw.head.index(try SynthFaces.attributes(seed: 0, index: SynthFaces.Split.train.index(i)))] += 1 }
        #expect(counts.allSatisfy { $0 > 60 && $0 < 140 }, "\(counts)")
    }

    @Test func thinningShowsBoostedValuesMoreOften() throws {
        var boosts = AttributeHeads.coverageHeads.map { [Float](repeating: 0, count: $0.values.count) }
        // Plain weights: every sample has weight 1 and passes with probability 1/8.
        let plain = try GANTrainer.selectReal(dataSeed: 0, seed: 1, batch: 16, from: 100, boosts: boosts)
        #expect(plain.indices.count == 16 && plain.next > 100 + 16)
        #expect(plain.indices == plain.indices.sorted() && Set(plain.indices).count == 16)
        let lo = try SynthFaces.Split.train.index(100), hi = try SynthFaces.Split.train.index(plain.next)
        #expect(plain.indices.allSatisfy { $0 >= lo && $0 < hi })
        #expect(try GANTrainer.selectReal(dataSeed: 0, seed: 1, batch: 16, from: 100, boosts: boosts) == plain)
        // Hats ×3: their share rises from p to 3p / (3p + 1 − p).
        boosts[Self.hat][1] = Foundation.log(3)
        var hats = 0, total = 0, offset = 0, seen = 0, seenHats = 0
        for _ in 0..<100 {
            let s = try GANTrainer.selectReal(dataSeed: 0, seed: 1, batch: 16, from: offset, boosts: boosts)
            for i in s.indices where try SynthFaces.attributes(seed: 0, index: i).hat { hats += 1 }
            total += s.indices.count
            for o in offset..<s.next {
                seen += 1
                if try SynthFaces.attributes(seed: 0, index: SynthFaces.Split.train.index(o)).hat { seenHats += 1 }
            }
            offset = s.next
        }
        let p = Double(seenHats) / Double(seen), want = 3 * p / (3 * p + 1 - p)
        let got = Double(hats) / Double(total), se = (want * (1 - want) / Double(total)).squareRoot()
        #expect(p > 0.03 && p < 0.2, "hat frequency in the stream \(p)")
        #expect(Swift.abs(got - want) < 4 * se, "hats in the thinned batches \(got), expected \(want) ± \(se)")
        #expect(got > 2 * p)
        // One sample's weight is capped at twice the value cap: ×8 by default, ×32 under cap 16.
        boosts[Self.hat][1] = Foundation.log(20)
        var a = try SynthFaces.attributes(seed: 0, index: SynthFaces.Split.train.index(0))
        a.hat = true
        #expect(Swift.abs(GANTrainer.realWeight(a, boosts: boosts) - 8) < 1e-4)
        #expect(Swift.abs(GANTrainer.realWeight(a, boosts: boosts, cap: 16) - 20) < 1e-3)
        // Under cap 16 a plain sample passes with probability 1/32: the stream is read four times as fast.
        let zero = AttributeHeads.coverageHeads.map { [Float](repeating: 0, count: $0.values.count) }
        var read = 0, o = 0
        for _ in 0..<20 { let s = try GANTrainer.selectReal(dataSeed: 0, seed: 1, batch: 16, from: o, boosts: zero, cap: 16); o = s.next }
        read = o
        #expect(read > 320 * 32 * 3 / 4 && read < 320 * 32 * 5 / 4, "\(read) samples read for 320")
    }

    @Test func trainerMeasuresThinsAndResumesBitIdentically() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ganrb-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let g = GANTests.tinyG
        let reader = try GANBalanceTests.balance(count: 500)
        func trainer() throws -> GANTrainer {
            let t = try GANTrainer(generator: g, discriminator: .init(matching: g), options: .init(batch: 4, r1Every: 2))
            try t.setRealBalance(rate: 0.5, every: 2, reader, priorCount: 200)
            return t
        }
        let a = try trainer()
        let measured = try (0..<4).map { _ in try a.trainStep().generatedFrequencies }
        #expect(measured.map { $0 != nil } == [true, false, true, false])
        if let f = measured[0] { for head in f { #expect(Swift.abs(head.reduce(0, +) - 1) < 1e-5) } }
        #expect(a.realBoosts?.count == AttributeHeads.coverageHeads.count)
        // The real stream was thinned: 4 batches of 4 took more than 16 train samples.
        #expect(a.dataOffset > 16)
        #expect(a.realBalanceReport() != nil)
        let b = try trainer()
        for _ in 0..<2 { _ = try b.trainStep() }
        let ck = b.checkpoint
        #expect(ck.metadata["gan.real_balance"] == "0.5" && ck.metadata["gan.real_balance_every"] == "2" && ck.metadata["gan.attr_net_sha256"] == "tiny-5")
        #expect(ck.optimizer["rb.\(Self.hat)"]?.count == 2 && ck.optimizer["rbp.\(Self.hat)"]?.count == 2)
        // The prior is the network's reading of renders, not the labels.
        let direct = try GANTrainer.readFrequencies(reader.net, dataSeed: 0, count: 200)
        #expect(b.realPrior == direct && direct != reader.prior.map { $0 })
        try ck.write(to: path)
        let c = try GANTrainer(checkpoint: TrainingCheckpoint.read(path), path: path)
        #expect(c.options.realBalance == 0.5 && c.realBoosts == b.realBoosts && c.realPrior == b.realPrior)
        #expect(throws: ModelError.self) { try c.trainStep() }   // the rate without the network
        try c.setRealBalance(rate: 0.5, reader)
        for _ in 0..<2 { _ = try c.trainStep() }
        #expect(c.dataOffset == a.dataOffset)
        for (k, v) in a.checkpoint.params { #expect(c.checkpoint.params[k]?.scalars == v.scalars, "\(k)") }
        for (k, v) in a.checkpoint.optimizer { #expect(c.checkpoint.optimizer[k]?.scalars == v.scalars, "\(k)") }
        // Off: plain order again; the boosts stay in the checkpoint for a later switch back on.
        try c.setRealBalance(rate: 0, nil)
        let before = c.dataOffset
        #expect(try c.trainStep().generatedFrequencies == nil)
        #expect(c.dataOffset == before + 4)
        #expect(throws: ModelError.self) {
            try c.setRealBalance(rate: 1, AttributeBalance(net: AttributeNet(config: .init(), seed: 1), netDigest: "", dataSeed: 0, count: 10))
        }
    }
}
