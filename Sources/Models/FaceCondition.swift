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
/// `w = mapping(z) + cond.weight · c · λ/√K` (λ = `generatorLRMultiplier`, an equalized-lr
/// multiplier: at λ = 1 the embedding grew so slowly that after 900 steps each attribute moved w
/// by 1–3% of its spread); the discriminator sees the real batch's true attributes
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
        out.replaceSubrange(o..., with: AttributeHeads.regressionTargets([a]))
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

    /// The generator embedding's learning-rate multiplier λ (as rosinality's `lr_mul`: the stored
    /// weight is scaled by λ/√K at run time, so Adam's steps move w λ times faster).
    public static let generatorLRMultiplier: Float = 10

    /// The conditioning term `c · (W·λ/√K)ᵀ`, `(N, W.shape[0])`, for `c (N,K)` and a weight `(out,K)`.
    static func project(_ c: Tensor, weight w: Tensor, multiplier: Float = 1, what: String) throws -> Tensor {
        guard c.rank == 2, c.shape[1] == dimension, w.rank == 2, w.shape[1] == dimension else {
            throw ModelError("\(what): the condition must be (N,\(dimension)) for a (·,\(dimension)) weight, got \(c.shape) and \(w.shape)")
        }
        return try Tensor.linear(c, weight: w.scaled(multiplier / Float(dimension).squareRoot()))
    }

    /// The `__metadata__` value that marks a conditioned model.
    static let metadataValue = "synthfaces"
}

/// Attribute values asked of a conditioned generator (`sample`'s `attributes`, e.g.
/// `"clothing=red, eyeglasses=true, yaw=0.5"`): categorical values by name (as `tedi dataset`'s
/// attributes.jsonl spells them), continuous ones (face_width, yaw, tilt) as numbers in their range.
public struct AttributePins: Equatable, Sendable {
    /// (head index in `AttributeHeads.categorical`, value index).
    public private(set) var categorical: [Pin] = []
    /// (index in `AttributeHeads.continuous`, value in native units).
    public private(set) var continuous: [Pin] = []

    public struct Pin: Equatable, Sendable {
        public let index: Int
        public let value: Float
    }

    /// Most draws tried for one code before a combination counts as impossible.
    public static let maxDraws = 200_000

    public var isEmpty: Bool { categorical.isEmpty && continuous.isEmpty }

    /// No pins.
    public init() {}

    /// Parses `name=value` items separated by commas or spaces; throws naming the item and what is allowed.
    public init(parsing text: String) throws {
        var seen = Set<String>()
        let items = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ModelError("attributes: '\(item)' is not name=value (e.g. clothing=red, yaw=0.5)")
            }
            let (name, value) = (parts[0], parts[1])
            guard seen.insert(name).inserted else { throw ModelError("attributes: \(name) is given twice") }
            if let h = AttributeHeads.categorical.firstIndex(where: { $0.name == name }) {
                let head = AttributeHeads.categorical[h]
                guard let v = head.values.firstIndex(of: value) else {
                    throw ModelError("attributes: \(name)=\(value) is not a value of \(name); it is one of \(head.values.joined(separator: ", "))")
                }
                categorical.append(Pin(index: h, value: Float(v)))
            } else if let c = AttributeHeads.continuous.firstIndex(where: { $0.name == name }) {
                let spec = AttributeHeads.continuous[c]
                let (lo, hi) = (spec.center - spec.halfRange, spec.center + spec.halfRange)
                guard let v = Float(value), v >= lo, v <= hi else {
                    throw ModelError("attributes: \(name)=\(value) must be a number in [\(lo), \(hi)]")
                }
                continuous.append(Pin(index: c, value: v))
            } else {
                let names = AttributeHeads.categorical.map(\.name) + AttributeHeads.continuous.map(\.name)
                throw ModelError("attributes: unknown attribute '\(name)'; known: \(names.joined(separator: ", "))")
            }
        }
    }

    /// Whether `a` shows every categorical pin.
    func matches(_ a: FaceAttributes) -> Bool {
        categorical.allSatisfy { AttributeHeads.categorical[$0.index].index(a) == Int($0.value) }
    }

    /// z `(N,D)` whose attributes show the pins, for a conditioned generator: a row whose drawn
    /// attributes miss a categorical pin gets new draw entries (its first `FaceAttributes.drawCount`
    /// values) from Philox (`seed`, stream = row) until they show it — rejection sampling, so the
    /// other attributes follow the data's priors given the pins (glasses are more likely on
    /// old faces) — and a continuous pin sets its entry to the quantile of its value. The rest of z is kept.
    public func apply(to z: Tensor, seed: UInt64) throws -> Tensor {
        let k = FaceAttributes.drawCount
        guard z.rank == 2, z.shape[1] >= k else { throw ModelError("attributes: z must be (N, ≥\(k)), got \(z.shape)") }
        let d = z.shape[1]
        var out = z.scalars
        for r in 0..<z.shape[0] {
            var row = Array(out[(r * d)..<(r * d + k)])
            var rng = Philox(seed: seed ^ 0xA77_1B0_7E5, stream: UInt64(r))
            var tries = 0
            while !matches(FaceAttributes.draw(normals: row[...])) {
                tries += 1
                guard tries < Self.maxDraws else {
                    let asked = categorical.map { "\(AttributeHeads.categorical[$0.index].name)=\(AttributeHeads.categorical[$0.index].values[Int($0.value)])" }
                    throw ImpossiblePins(description: "attributes: no face in \(Self.maxDraws) draws has \(asked.joined(separator: ", ")): SynthFaces' priors make the combination impossible (e.g. a beard on a feminine face) or rarer than that")
                }
                for i in 0..<k { row[i] = rng.normal() }
            }
            for p in continuous {
                let spec = AttributeHeads.continuous[p.index]
                guard let i = FaceAttributes.drawOrder.firstIndex(of: spec.name) else { throw ModelError("attributes: \(spec.name) is not drawn") }
                let u = (p.value - (spec.center - spec.halfRange)) / (2 * spec.halfRange)
                row[i] = Float(FaceCondition.normalQuantile(Double(Swift.min(Swift.max(u, 1e-6), 1 - 1e-6))))
            }
            out.replaceSubrange((r * d)..<(r * d + k), with: row)
        }
        return try Tensor(shape: z.shape, scalars: out)
    }
}

/// Pins no draw shows within `AttributePins.maxDraws`: SynthFaces' priors rule the combination
/// out (a beard on a feminine face) or make it rarer than that. Its own type, so a caller can drop
/// a pin and try again without reading the message.
public struct ImpossiblePins: Error, CustomStringConvertible {
    public let description: String
}

extension FaceCondition {
    /// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation, then one Halley step on erfc
    /// (relative error below 1e-12).
    static func normalQuantile(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let lo = 0.02425
        var x: Double
        if p < lo {
            let q = (-2 * Foundation.log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - lo {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * Foundation.log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * Foundation.exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}

extension AttributePins {
    /// For a conditioned generator: the share of `count` images (Philox z `seed`, random noise,
    /// ψ = 1) asked for these pins that the attribute network reads as showing all of them
    /// (continuous pins: within the network's tolerance), and the same share among `count`
    /// images not asked for them — the base rate the pins should beat.
    public func followed(by g: StyleGAN2Generator, net: AttributeNet, count: Int = 100, seed: UInt64 = 4321) throws -> (pinned: Double, free: Double) {
        guard g.config.conditioning else { throw ModelError("attributes: \(g.config) is not conditioned") }
        let z = try g.randomZ(count: count, seed: seed)
        func share(_ z: Tensor) throws -> Double {
            let preds = try net.predict(g.generate(z: z, noise: .random(seed: seed)))
            let hits = preds.filter { p in
                categorical.allSatisfy { p.classes[$0.index] == Int($0.value) }
                    && continuous.allSatisfy { Swift.abs(p.values[$0.index] - $0.value) <= AttributeHeads.continuous[$0.index].tolerance }
            }
            return Double(hits.count) / Double(count)
        }
        return (try share(apply(to: z, seed: seed)), try share(z))
    }
}
