import Foundation
import SynthFaces
import TensorCore

/// The attribute-balance loss against mode dropping: the frozen attribute network reads G's batch,
/// and G pays the KL divergence from the data's frequency of every attribute value to the batch's
/// mean predicted probability of it, averaged over the 19 categorical heads:
///
///     L_bal = (1/H) Σ_h KL(p_h ‖ q̄_h),   q̄_h = (1/N) Σ_n softmax(logits_h(G(z_n)))
///
/// A generator that drops gray hair or hats has q̄ near 0 where p is not, so the loss pushes the
/// batch toward every value at its data frequency, while the adversarial loss keeps each image
/// realistic. It reads only batch statistics, so single images stay free to be anything.
public struct AttributeBalance {
    /// The frozen attribute network (its 64 px input must match the generator's size).
    public let net: AttributeNet
    /// Data frequency of every value of every categorical head (`AttributeHeads.categorical` order).
    public let prior: [[Float]]
    /// SHA-256 of the attribute network file, recorded in checkpoints so a resumed run uses the same net.
    public let netDigest: String

    /// The balance term for `net`, with the value frequencies of the first `count` train-split
    /// samples of SynthFaces seed `dataSeed` (attributes only; nothing is rendered).
    public init(net: AttributeNet, netDigest: String, dataSeed: UInt64, count: Int = 20_000) throws {
        self.net = net
        self.netDigest = netDigest
        var counts = AttributeHeads.categorical.map { [Double](repeating: 0, count: $0.values.count) }
        for i in 0..<count {
            let a = try SynthFaces.attributes(seed: dataSeed, index: SynthFaces.Split.train.index(i))
            for (h, head) in AttributeHeads.categorical.enumerated() { counts[h][head.index(a)] += 1 }
        }
        prior = counts.map { c in c.map { Float($0 / Double(count)) } }
    }

    /// L_bal of `images (N,3,S,S)` in [-1, 1]; differentiable with respect to the images.
    public func loss(_ images: Tensor) throws -> Tensor {
        let out = try AttributeNet.forward(images, config: net.config, params: net.params)
        return try AttributeBalance.klOfBatchMeans(out.logits, prior: prior)
    }

    /// (1/H) Σ_h KL(p_h ‖ q̄_h) for logits `[(N, K_h)]` and priors `[[K_h]]`, q̄ offset by 1e-6.
    public static func klOfBatchMeans(_ logits: [Tensor], prior: [[Float]]) throws -> Tensor {
        guard !logits.isEmpty, logits.count == prior.count else {
            throw ModelError("attribute balance: \(logits.count) heads of logits for \(prior.count) priors")
        }
        var total: Tensor?
        var constant: Float = 0
        for (h, l) in logits.enumerated() {
            let p = prior[h]
            guard l.rank == 2, l.shape[1] == p.count else { throw TensorError.shape(op: "attribute balance", "head \(h): logits \(l.shape) for \(p.count) values") }
            let q = try l.softmax().mean(axis: 0)
            let eps = try Tensor(shape: [p.count], scalars: [Float](repeating: 1e-6, count: p.count))
            // KL(p ‖ q̄) = Σ p log p − Σ p log q̄; the first sum is a constant.
            let cross = try ((q + eps).log() * Tensor(shape: [p.count], scalars: p)).sum().scaled(-1)
            for v in p where v > 0 { constant += v * Foundation.log(v) }
            total = try total.map { try $0 + cross } ?? cross
        }
        return try (total! + Tensor(constant)).scaled(1 / Float(logits.count))
    }
}
