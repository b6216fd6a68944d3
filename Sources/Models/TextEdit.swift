import Foundation
import TensorCore

/// Text-guided editing through the conditioned generator's attribute embedding: its mapping is
/// w = mapping(z) + cond.weight·c·λ/√K, so moving c — the attribute vector — from what a face
/// shows toward what an instruction states moves w along the direction the generator learned
/// for exactly that change, and leaves every attribute the instruction does not mention where
/// it was.
public enum TextEdit {
    /// Codes `w (N,layers,dim)` edited toward `stated` (attribute name → value): on `layers` (nil:
    /// all), w + strength·cond.weight·(c_new − c_old)·λ/√K, where c_old holds the attribute
    /// network's softmax reading of each face G(w) and c_new is c_old with the stated attributes
    /// made one-hot. Returns the codes and, per face, the attributes that change (name: from → to).
    public static func apply(_ w: Tensor, stated: [String: String], generator g: StyleGAN2Generator, net: AttributeNet,
                             strength: Float = 1, layers: [Int]? = nil) throws -> (codes: Tensor, changes: [[String]]) {
        guard g.config.conditioning else {
            throw ModelError("text edits move along a conditioned generator's attribute embedding (tedi train generator --condition); this generator has none")
        }
        let (n, nl, sd) = (w.shape[0], g.nLatent, g.styleDim)
        guard w.rank == 3, w.shape[1] == nl, w.shape[2] == sd else { throw ModelError("edit: codes \(w.shape) do not fit the generator's w+ (N,\(nl),\(sd))") }
        guard net.config.size == g.config.size else { throw ModelError("edit: the attribute network reads \(net.config.size) px; the generator makes \(g.config.size) px") }
        if let layers, let bad = layers.first(where: { !(0..<nl).contains($0) }) { throw ModelError("edit: layer \(bad) is outside 0–\(nl - 1)") }
        let out = try net(g.synthesis(w, noise: .const))
        let probabilities = try out.logits.map { try $0.detached.softmax() }
        var delta = [Float](repeating: 0, count: n * FaceCondition.dimension)
        var changes = [[String]](repeating: [], count: n)
        var offset = 0
        for (h, head) in AttributeHeads.categorical.enumerated() {
            let k = head.values.count
            if let v = stated[head.name] {
                guard let target = head.values.firstIndex(of: v) else { throw ModelError("edit: '\(v)' is not a value of \(head.name)") }
                for i in 0..<n {
                    let p = Array(probabilities[h].scalars[(i * k)..<((i + 1) * k)])
                    for j in 0..<k { delta[i * FaceCondition.dimension + offset + j] = (j == target ? 1 : 0) - p[j] }
                    let was = p.indices.max { p[$0] < p[$1] }!
                    if was != target { changes[i].append("\(head.name): \(head.values[was]) → \(v)") }
                }
            }
            offset += k
        }
        let c = try Tensor(shape: [n, FaceCondition.dimension], scalars: delta)
        let dw = try g.conditionTerm(try Tensor.zeros([n, sd]), condition: c)!.scaled(strength)
        var mask = [Float](repeating: 0, count: nl)
        for l in layers ?? Array(0..<nl) { mask[l] = 1 }
        let shift = try dw.reshaped([n, 1, sd]) * (try Tensor(shape: [1, nl, 1], scalars: mask))
        return (try (w + shift).detached, changes)
    }
}
