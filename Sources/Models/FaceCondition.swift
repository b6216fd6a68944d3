import Foundation
import SynthFaces
import TensorCore

/// SynthFaces attributes as a generator's condition (`tedi train generator --condition`).
///
/// A conditioned generator draws a face's attributes from z itself: the first
/// `FaceAttributes.drawCount` entries of z, taken as standard-normal quantiles, replace the
/// uniforms of the SynthFaces prior (`FaceAttributes.draw(normals:)`), so z ~ N(0, I) gives
/// attributes distributed exactly as the data's — red clothing 1/8 of the time, turned heads as
/// often as the renders turn — and G(z) stays a function of z alone: every graph, truncation,
/// style-mixing and W-space tool works unchanged. The attributes are encoded as a vector c
/// (one-hot per categorical head, then the normalized face width, yaw and tilt) and
/// `w = mapping(z) + cond.weight · c / √K`; the discriminator sees the real batch's true attributes
/// and the fakes' drawn ones through a projection term `hᵀ · D.cond.weight · c / √K` (Miyato &
/// Koyama 2018), so a face that ignores its condition loses to the renders that show it.
/// Both weights start at zero, so a plain checkpoint turned conditional starts as it was.
public enum FaceCondition {
    /// K: one entry per categorical value (68) plus the 3 continuous attributes.
    public static let dimension = AttributeHeads.categorical.reduce(0) { $0 + $1.values.count } + AttributeHeads.continuous.count

    /// The condition vector of one face.
    public static func vector(_ a: FaceAttributes) -> [Float] {
        var out = [Float](repeating: 0, count: dimension)
        var o = 0
        for h in AttributeHeads.categorical {
            out[o + h.index(a)] = 1
            o += h.values.count
        }
        for c in AttributeHeads.continuous {
            out[o] = (c.value(a) - c.center) / c.halfRange
            o += 1
        }
        return out
    }

    /// Condition vectors `(N,K)` of `attributes`.
    public static func vectors(_ attributes: [FaceAttributes]) throws -> Tensor {
        try Tensor(shape: [attributes.count, dimension], scalars: attributes.flatMap(vector))
    }

    /// The attributes each row of z `(N,D)` draws (D ≥ `FaceAttributes.drawCount`).
    public static func attributes(z: Tensor) throws -> [FaceAttributes] {
        let k = FaceAttributes.drawCount
        guard z.rank == 2, z.shape[1] >= k else {
            throw StyleGAN2Error.input("a conditioned generator reads its attributes from the first \(k) entries of z, got z \(z.shape)")
        }
        let d = z.shape[1]
        return (0..<z.shape[0]).map { FaceAttributes.draw(normals: z.scalars[($0 * d)..<($0 * d + k)]) }
    }

    /// Condition vectors `(N,K)` of the attributes z draws.
    public static func vectors(z: Tensor) throws -> Tensor { try vectors(attributes(z: z)) }

    /// The conditioning term `c · (W/√K)ᵀ`, `(N, W.shape[0])`, for `c (N,K)` and a weight `(out,K)`.
    static func project(_ c: Tensor, weight w: Tensor, what: String) throws -> Tensor {
        guard c.rank == 2, c.shape[1] == dimension, w.rank == 2, w.shape[1] == dimension else {
            throw ModelError("\(what): the condition must be (N,\(dimension)) for a (·,\(dimension)) weight, got \(c.shape) and \(w.shape)")
        }
        return try Tensor.linear(c, weight: w.scaled(1 / Float(dimension).squareRoot()))
    }

    /// The `__metadata__` value that marks a conditioned model.
    static let metadataValue = "synthfaces"
}
