import Foundation
import SynthFaces
import TensorCore

/// Balanced sampling of the real batches against mode dropping (`--real-balance RATE`).
///
/// Every `realBalanceEvery` steps the frozen attribute network reads 256 images of the current G;
/// where G shows an attribute value (a categorical value, or a quarter of the range of face width,
/// yaw or tilt: `AttributeHeads.coverageHeads`) less often than the data, the real batches show it more often
/// (and less often where G overshoots), so D keeps asking for it. Each value v of head h carries a
/// log boost b_hv, an integral controller on the gap:
///
///     b_hv ← clamp(b_hv + RATE · log((p_hv + 0.01) / (g_hv + 0.01)), ±log C)   (values with p ≥ 1%)
///     b_h  ← b_h − log Σ_v p_hv·exp(b_hv)                                      (the data mean stays 1)
///
/// with p the data's frequency and g G's, both as the attribute network reads them (p from 1,000
/// train renders, read once and kept in the checkpoint), so the network's own biases cancel: it
/// reads 30% of the middle-aged renders as young, and a prior of true labels would have the
/// controller chase that forever. The real stream is then thinned: train sample o joins the
/// batch when u_o < w/2C, w = exp(clamp(Σ_h b_h,a_h(o), ±log 2C)), u_o a Philox uniform of (seed, o).
/// C is `--real-balance-cap` (4 by default): a larger one moves rarer values, and costs more
/// attribute draws per batch (attributes only, so little next to a step).
/// Unlike `--attr-balance`, G gets no gradient from the attribute network: it only steers which
/// renders D sees, so G cannot satisfy it with patterns that fool the network, only by drawing
/// what D's reals show. The boosts are checkpoint state (`rb.H`), so a resume stays bit-identical.
extension GANTrainer {
    /// Number of G images the attribute network reads at each real-balance measurement.
    public static let realBalanceSamples = 256
    /// The default `--real-balance-cap`: the largest boost of one value (a sample's weight: twice it).
    public static let defaultRealBalanceCap: Float = 4

    /// Attribute-value frequencies `[head][value]` of `count` images of the current G (Philox seeds
    /// of step `step`, batches of 64), as the attribute network reads them (arg-max).
    func generatedFrequencies(_ net: AttributeNet, count: Int = GANTrainer.realBalanceSamples) throws -> [[Float]] {
        try GANMetrics.frequencies(count: count, batch: 64, net: net) { done, n in
            let z = try Tensor.randomNormal([n, generator.styleDim], seed: drawSeed(.balanceZ, step: step), stream: UInt64(done / 64))
            return try generator.generate(z: z, noise: .random(seed: drawSeed(.balanceNoise, step: step) &+ UInt64(done)))
        }
    }

    /// Attribute-value frequencies `[head][value]` of train samples `[0, count)` of SynthFaces seed
    /// `dataSeed` as the network reads them (arg-max), in batches of 100.
    public static func readFrequencies(_ net: AttributeNet, dataSeed: UInt64, count: Int) throws -> [[Float]] {
        try GANMetrics.frequencies(count: count, batch: 100, net: net) { done, n in
            let lo = try SynthFaces.Split.train.index(done)
            return try SynthFaces.imageTensor(SynthFaces.samples(seed: dataSeed, indices: lo..<(lo + n), size: net.config.size))
        }
    }

    /// One controller update of the log boosts (nil: all zero) toward G's frequencies matching the prior.
    public static func updatedBoosts(_ boosts: [[Float]]?, generated g: [[Float]], prior p: [[Float]], rate: Float, cap boostCap: Float = defaultRealBalanceCap) throws -> [[Float]] {
        guard g.count == p.count, zip(g, p).allSatisfy({ $0.count == $1.count }) else {
            throw ModelError("real balance: generated frequencies do not match the attribute heads")
        }
        var b = boosts ?? p.map { [Float](repeating: 0, count: $0.count) }
        guard b.count == p.count, zip(b, p).allSatisfy({ $0.count == $1.count }) else {
            throw ModelError("real balance: the boosts do not match the attribute heads")
        }
        let cap = Foundation.log(boostCap)
        for h in p.indices {
            for v in p[h].indices {
                // A value rarer than 1% is not steered; it only follows the head's normalization
                // (reset here, or the shifts would pile up on it and starve it from the reals).
                guard p[h][v] >= 0.01 else { b[h][v] = 0; continue }
                let step = rate * Foundation.log((p[h][v] + 0.01) / (g[h][v] + 0.01))
                b[h][v] = min(cap, max(-cap, b[h][v] + step))
            }
            var mean: Float = 0
            for v in p[h].indices { mean += p[h][v] * Foundation.exp(b[h][v]) }
            let c = Foundation.log(mean)
            for v in b[h].indices { b[h][v] -= c }
        }
        return b
    }

    /// The sampling weight of a sample with attributes `a` under log boosts `b`, at most `2·cap`.
    public static func realWeight(_ a: FaceAttributes, boosts b: [[Float]], cap boostCap: Float = defaultRealBalanceCap) -> Float {
        var s: Float = 0
        for (h, head) in AttributeHeads.coverageHeads.enumerated() where h < b.count {
            let v = head.index(a)
            if v < b[h].count { s += b[h][v] }
        }
        let cap = Foundation.log(2 * boostCap)
        return Foundation.exp(min(cap, max(-cap, s)))
    }

    /// The global indices of the next `batch` train samples from split offset `offset` that pass the
    /// thinning under `boosts`, and the offset after the last one looked at. Attributes only; nothing is rendered.
    public static func selectReal(dataSeed: UInt64, seed: UInt64, batch: Int, from offset: Int,
                                  boosts: [[Float]], cap: Float = defaultRealBalanceCap) throws -> (indices: [Int], next: Int) {
        var out: [Int] = [], o = offset
        let limit = offset + batch * 10_000
        while out.count < batch {
            guard o < limit else { throw ModelError("real balance: no full batch in \(limit - offset) train samples from offset \(offset)") }
            let index = try SynthFaces.Split.train.index(o)
            let w = realWeight(try SynthFaces.attributes(seed: dataSeed, index: index), boosts: boosts, cap: cap)
            var rng = Philox(seed: seed ^ 0x5EA1_BA1A_0F_5EED, stream: UInt64(o))
            if rng.uniform() * (2 * cap) < w { out.append(index) }
            o += 1
        }
        return (out, o)
    }

    /// Turns balanced real sampling on (rate > 0, with the attribute network of `b`) or off (0)
    /// from the next step on; `every` and `cap` nil keep the interval and the cap. A resumed run may change it.
    /// The data's frequencies come from `priorCount` renders the first time it is turned on.
    public func setRealBalance(rate: Float, every: Int? = nil, cap: Float? = nil, _ b: AttributeBalance?, priorCount: Int = 1_000) throws {
        var o = options
        o.realBalance = rate
        if let every { o.realBalanceEvery = every }
        if let cap { o.realBalanceCap = cap }
        try o.validate()
        if rate > 0 {
            let b = try usableNetwork(b, for: "balanced real sampling")
            // Checkpoints from before the binned continuous heads hold 19 heads: read the prior again
            // and start the new heads' boosts at zero.
            let heads = AttributeHeads.coverageHeads
            if realPrior?.count != heads.count { realPrior = try GANTrainer.readFrequencies(b.net, dataSeed: o.dataSeed, count: priorCount) }
            if let old = realBoosts, old.count < heads.count {
                realBoosts = old + heads[old.count...].map { [Float](repeating: 0, count: $0.values.count) }
            }
            reader = b
        } else {
            reader = nil
        }
        options = o
    }

    /// The values furthest below their data frequency in G's last measurement, as
    /// `name=value generated/data (boost ×b)` strings, worst first, and how many are under 50%.
    public func realBalanceReport(limit: Int = 5) -> (worst: [String], under: Int)? {
        guard let g = lastGenerated, let p = realPrior else { return nil }
        var rows: [(String, Float, Float)] = []
        for (h, head) in AttributeHeads.coverageHeads.enumerated() {
            for (v, name) in head.values.enumerated() where p[h][v] >= 0.01 {
                rows.append(("\(head.name)=\(name)", g[h][v] / p[h][v], Foundation.exp(realBoosts?[h][v] ?? 0)))
            }
        }
        rows.sort { $0.1 < $1.1 }
        return (rows.prefix(limit).map { String(format: "%@ %.2f (×%.1f)", $0.0, $0.1, $0.2) }, rows.filter { $0.1 < 0.5 }.count)
    }
}
