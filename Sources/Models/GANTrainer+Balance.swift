import Foundation
import SynthFaces
import TensorCore

/// The attribute-balance loss against mode dropping: the frozen attribute network reads G's batch,
/// and G pays the KL divergence from the data's frequency of every attribute value to a running
/// mean of the network's predicted probabilities, averaged over the 19 categorical heads:
///
///     q̄_h ← β·q̄_h + (1−β)·(1/N) Σ_n softmax(logits_h(G(z_n)))      (the old q̄ held constant)
///     L_bal = (1/H) Σ_h KL(p_h ‖ q̄_h)
///
/// A generator that drops gray hair or hats keeps q̄ low where p is not, and the gradient (through
/// this batch's share, 1−β) raises those values in the next images; the adversarial loss keeps each
/// image realistic. The running mean matters: a batch of 16 often holds no sample of a 5% value,
/// and a KL of the batch mean alone (β = 0) would then reward every image for hedging — looking a
/// little like everything — instead of showing each value clearly at its data frequency.
public struct AttributeBalance {
    /// The frozen attribute network (its 64 px input must match the generator's size).
    public let net: AttributeNet
    /// Data frequency of every value of every categorical head (`AttributeHeads.categorical` order).
    public let prior: [[Float]]
    /// SHA-256 of the attribute network file, recorded in checkpoints so a resumed run uses the same net.
    public let netDigest: String
    /// Where the network was read from (absolute), recorded so `--resume` finds it again.
    public let netPath: String?

    /// The balance term for `net`, with the value frequencies of the first `count` train-split
    /// samples of SynthFaces seed `dataSeed` (attributes only; nothing is rendered).
    public init(net: AttributeNet, netDigest: String, netPath: String? = nil, dataSeed: UInt64, count: Int = 20_000) throws {
        self.net = net
        self.netDigest = netDigest
        self.netPath = netPath
        var counts = AttributeHeads.categorical.map { [Double](repeating: 0, count: $0.values.count) }
        for i in 0..<count {
            let a = try SynthFaces.attributes(seed: dataSeed, index: SynthFaces.Split.train.index(i))
            for (h, head) in AttributeHeads.categorical.enumerated() { counts[h][head.index(a)] += 1 }
        }
        prior = counts.map { c in c.map { Float($0 / Double(count)) } }
    }

    /// L_bal of `images (N,3,S,S)` in [-1, 1] and the updated running means; differentiable with
    /// respect to the images. `history` nil (the first step) starts the mean at this batch's.
    public func loss(_ images: Tensor, history: [[Float]]? = nil, beta: Float = 0) throws -> (Tensor, [[Float]]) {
        let out = try AttributeNet.forward(images, config: net.config, params: net.params)
        return try AttributeBalance.klOfRunningMeans(out.logits, prior: prior, history: history, beta: beta)
    }

    /// (1/H) Σ_h KL(p_h ‖ q̄_h) for logits `[(N, K_h)]` and priors `[[K_h]]`, with
    /// q̄_h = β·history_h + (1−β)·mean_n softmax(logits_h) (history nil or β 0: the batch mean),
    /// offset by 1e-6; also returns the q̄ values.
    public static func klOfRunningMeans(_ logits: [Tensor], prior: [[Float]], history: [[Float]]? = nil, beta: Float = 0) throws -> (Tensor, [[Float]]) {
        guard !logits.isEmpty, logits.count == prior.count else {
            throw ModelError("attribute balance: \(logits.count) heads of logits for \(prior.count) priors")
        }
        if let history, history.count != prior.count || zip(history, prior).contains(where: { $0.count != $1.count }) {
            throw ModelError("attribute balance: the running means do not match the attribute heads")
        }
        var total: Tensor?
        var constant: Float = 0
        var means: [[Float]] = []
        for (h, l) in logits.enumerated() {
            let p = prior[h]
            guard l.rank == 2, l.shape[1] == p.count else { throw TensorError.shape(op: "attribute balance", "head \(h): logits \(l.shape) for \(p.count) values") }
            var q = try l.softmax().mean(axis: 0)
            if let history, beta > 0 {
                q = try q.scaled(1 - beta) + Tensor(shape: [p.count], scalars: history[h]).scaled(beta)
            }
            means.append(q.scalars)
            let eps = try Tensor(shape: [p.count], scalars: [Float](repeating: 1e-6, count: p.count))
            // KL(p ‖ q̄) = Σ p log p − Σ p log q̄; the first sum is a constant.
            let cross = try ((q + eps).log() * Tensor(shape: [p.count], scalars: p)).sum().scaled(-1)
            for v in p where v > 0 { constant += v * Foundation.log(v) }
            total = try total.map { try $0 + cross } ?? cross
        }
        return (try (total! + Tensor(constant)).scaled(1 / Float(logits.count)), means)
    }
}
