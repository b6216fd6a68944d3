import Foundation
import TensorCore

/// Gender presentation of a rendered face (drives captions' "woman"/"man" and several priors).
public enum Presentation: String, CaseIterable, Sendable { case feminine, masculine }
/// Coarse age group; drives gray hair, wrinkles, baldness and eyeglasses priors.
public enum AgeGroup: String, CaseIterable, Sendable { case young, middleAged = "middle_aged", old }
/// Outline of the face.
public enum FaceShape: String, CaseIterable, Sendable { case oval, round, long, square }
/// Skin tone, lightest to darkest.
public enum SkinTone: String, CaseIterable, Sendable { case pale, light, medium, olive, tan, dark }
/// Hair colour (also used for eyebrows and facial hair).
public enum HairColor: String, CaseIterable, Sendable { case black, brown, blond, gray, red }
/// Hair style. `wavy` is shoulder-length wavy hair; `bald` is a bald crown with a receding hairline.
public enum HairStyle: String, CaseIterable, Sendable { case short, long, bangs, wavy, bald }
/// Eyebrow thickness.
public enum Eyebrows: String, CaseIterable, Sendable { case thin, bushy }
/// Iris colour.
public enum EyeColor: String, CaseIterable, Sendable { case brown, dark, blue, green, hazel }
/// Eye opening.
public enum EyeOpening: String, CaseIterable, Sendable { case open, narrow }
/// Mouth expression: `grinning` is smiling with the mouth open (teeth), `mouthOpen` is slightly open without a smile.
public enum MouthExpression: String, CaseIterable, Sendable { case neutral, smiling, grinning, mouthOpen = "mouth_open" }
/// Facial hair; `beard` is a full beard with mustache.
public enum FacialHair: String, CaseIterable, Sendable { case none, stubble, mustache, beard }
/// Colour of the shirt / top.
public enum ClothingColor: String, CaseIterable, Sendable { case black, white, gray, navy, red, green, beige, blue }
/// Backdrop colour.
public enum BackgroundColor: String, CaseIterable, Sendable { case gray, blue, beige, green, pink, teal }

/// The semantic attributes of one SynthFaces sample, drawn from the priors in `FaceAttributes.Priors`.
public struct FaceAttributes: Equatable, Sendable {
    public var presentation: Presentation
    public var age: AgeGroup
    public var faceShape: FaceShape
    /// Face width multiplier, uniform in [0.92, 1.08).
    public var faceWidth: Float
    public var skinTone: SkinTone
    /// Head turn in [-1, 1) (±1 is about ±20°; positive turns the face toward the image's right).
    public var yaw: Float
    /// Head roll in degrees, uniform in [-7, 7) (positive is clockwise in the image).
    public var tilt: Float
    public var hairColor: HairColor
    public var hairStyle: HairStyle
    public var eyebrows: Eyebrows
    public var eyeColor: EyeColor
    public var eyes: EyeOpening
    public var expression: MouthExpression
    public var lipstick: Bool
    public var eyeglasses: Bool
    public var hat: Bool
    public var facialHair: FacialHair
    public var earrings: Bool
    public var necklace: Bool
    public var clothing: ClothingColor
    public var background: BackgroundColor
    public var wrinkles: Bool

    /// True when the face smiles (closed or open mouth).
    public var isSmiling: Bool { expression == .smiling || expression == .grinning }
    /// True when the lips are parted (grin or slightly open mouth).
    public var isMouthOpen: Bool { expression == .grinning || expression == .mouthOpen }
}

/// A source of uniforms in [0, 1) for `FaceAttributes.draw`.
public protocol UniformSource {
    mutating func uniform() -> Float
}

extension UniformSource {
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }
    /// True with probability p.
    mutating func chance(_ p: Float) -> Bool { uniform() < p }
}

extension Philox: UniformSource {}

/// Uniforms Φ(x) of standard-normal values x, one per call, in order (0.5 once they run out).
struct NormalQuantiles: UniformSource {
    let normals: ArraySlice<Float>
    var next: Int

    init(_ normals: ArraySlice<Float>) { self.normals = normals; next = normals.startIndex }

    mutating func uniform() -> Float {
        guard next < normals.endIndex else { return 0.5 }
        let x = Double(normals[next])
        next += 1
        // Φ(x) = erfc(−x/√2)/2, kept below 1 so a uniform(lo, hi) stays below hi.
        let u = Float(0.5 * erfc(-x / 2.0.squareRoot()))
        return u.isFinite ? Swift.min(Swift.max(u, 0), 1 - Float.ulpOfOne / 2) : 0.5
    }
}

extension FaceAttributes {
    /// The priors attributes are drawn from, as (value, probability) tables. Draw order (one
    /// `Philox` stream per sample, see `FaceAttributes.draw`): presentation, age, faceShape,
    /// faceWidth, skinTone, yaw, tilt, hairColor, hairStyle, eyebrows, eyeColor, eyes, expression,
    /// lipstick, eyeglasses, hat, facialHair, earrings, necklace, clothing, background, wrinkles.
    public enum Priors {
        /// | value | p |
        /// |---|---|
        /// | feminine | 0.52 |
        /// | masculine | 0.48 |
        public static let presentation: [(Presentation, Double)] = [(.feminine, 0.52), (.masculine, 0.48)]

        /// | young | middle_aged | old |
        /// |---|---|---|
        /// | 0.60 | 0.27 | 0.13 |
        public static let age: [(AgeGroup, Double)] = [(.young, 0.60), (.middleAged, 0.27), (.old, 0.13)]

        /// | presentation | oval | round | long | square |
        /// |---|---|---|---|---|
        /// | feminine | 0.45 | 0.27 | 0.20 | 0.08 |
        /// | masculine | 0.32 | 0.22 | 0.18 | 0.28 |
        public static func faceShape(_ p: Presentation) -> [(FaceShape, Double)] {
            p == .feminine ? [(.oval, 0.45), (.round, 0.27), (.long, 0.20), (.square, 0.08)]
                           : [(.oval, 0.32), (.round, 0.22), (.long, 0.18), (.square, 0.28)]
        }

        /// | pale | light | medium | olive | tan | dark |
        /// |---|---|---|---|---|---|
        /// | 0.12 | 0.30 | 0.24 | 0.14 | 0.12 | 0.08 |
        public static let skinTone: [(SkinTone, Double)] = [(.pale, 0.12), (.light, 0.30), (.medium, 0.24), (.olive, 0.14), (.tan, 0.12), (.dark, 0.08)]

        /// | age | black | brown | blond | gray | red |
        /// |---|---|---|---|---|---|
        /// | young | 0.32 | 0.36 | 0.24 | 0.01 | 0.07 |
        /// | middle_aged | 0.30 | 0.34 | 0.16 | 0.15 | 0.05 |
        /// | old | 0.08 | 0.10 | 0.06 | 0.74 | 0.02 |
        public static func hairColor(_ a: AgeGroup) -> [(HairColor, Double)] {
            switch a {
            case .young: return [(.black, 0.32), (.brown, 0.36), (.blond, 0.24), (.gray, 0.01), (.red, 0.07)]
            case .middleAged: return [(.black, 0.30), (.brown, 0.34), (.blond, 0.16), (.gray, 0.15), (.red, 0.05)]
            case .old: return [(.black, 0.08), (.brown, 0.10), (.blond, 0.06), (.gray, 0.74), (.red, 0.02)]
            }
        }

        /// | presentation, age | short | long | bangs | wavy | bald |
        /// |---|---|---|---|---|---|
        /// | feminine, young | 0.12 | 0.42 | 0.18 | 0.28 | 0.00 |
        /// | feminine, middle_aged | 0.22 | 0.34 | 0.16 | 0.28 | 0.00 |
        /// | feminine, old | 0.42 | 0.20 | 0.10 | 0.26 | 0.02 |
        /// | masculine, young | 0.66 | 0.08 | 0.10 | 0.10 | 0.06 |
        /// | masculine, middle_aged | 0.58 | 0.04 | 0.04 | 0.08 | 0.26 |
        /// | masculine, old | 0.45 | 0.02 | 0.02 | 0.06 | 0.45 |
        public static func hairStyle(_ p: Presentation, _ a: AgeGroup) -> [(HairStyle, Double)] {
            switch (p, a) {
            case (.feminine, .young): return [(.short, 0.12), (.long, 0.42), (.bangs, 0.18), (.wavy, 0.28), (.bald, 0.00)]
            case (.feminine, .middleAged): return [(.short, 0.22), (.long, 0.34), (.bangs, 0.16), (.wavy, 0.28), (.bald, 0.00)]
            case (.feminine, .old): return [(.short, 0.42), (.long, 0.20), (.bangs, 0.10), (.wavy, 0.26), (.bald, 0.02)]
            case (.masculine, .young): return [(.short, 0.66), (.long, 0.08), (.bangs, 0.10), (.wavy, 0.10), (.bald, 0.06)]
            case (.masculine, .middleAged): return [(.short, 0.58), (.long, 0.04), (.bangs, 0.04), (.wavy, 0.08), (.bald, 0.26)]
            case (.masculine, .old): return [(.short, 0.45), (.long, 0.02), (.bangs, 0.02), (.wavy, 0.06), (.bald, 0.45)]
            }
        }

        /// P(bushy): feminine 0.10, masculine 0.40; otherwise thin.
        public static func bushyBrows(_ p: Presentation) -> Double { p == .feminine ? 0.10 : 0.40 }

        /// | brown | dark | blue | green | hazel |
        /// |---|---|---|---|---|
        /// | 0.42 | 0.20 | 0.16 | 0.10 | 0.12 |
        public static let eyeColor: [(EyeColor, Double)] = [(.brown, 0.42), (.dark, 0.20), (.blue, 0.16), (.green, 0.10), (.hazel, 0.12)]

        /// P(narrow eyes): young 0.15, middle_aged 0.20, old 0.30.
        public static func narrowEyes(_ a: AgeGroup) -> Double { a == .young ? 0.15 : a == .middleAged ? 0.20 : 0.30 }

        /// | neutral | smiling | grinning | mouth_open |
        /// |---|---|---|---|
        /// | 0.40 | 0.32 | 0.16 | 0.12 |
        public static let expression: [(MouthExpression, Double)] = [(.neutral, 0.40), (.smiling, 0.32), (.grinning, 0.16), (.mouthOpen, 0.12)]

        /// P(lipstick): feminine 0.60, masculine 0.02.
        public static func lipstick(_ p: Presentation) -> Double { p == .feminine ? 0.60 : 0.02 }
        /// P(eyeglasses): young 0.10, middle_aged 0.20, old 0.40.
        public static func eyeglasses(_ a: AgeGroup) -> Double { a == .young ? 0.10 : a == .middleAged ? 0.20 : 0.40 }
        /// P(hat): 0.10.
        public static let hat = 0.10

        /// | presentation | none | stubble | mustache | beard |
        /// |---|---|---|---|---|
        /// | feminine | 1.00 | 0 | 0 | 0 |
        /// | masculine | 0.45 | 0.20 | 0.10 | 0.25 |
        public static func facialHair(_ p: Presentation) -> [(FacialHair, Double)] {
            p == .feminine ? [(.none, 1.0), (.stubble, 0), (.mustache, 0), (.beard, 0)]
                           : [(.none, 0.45), (.stubble, 0.20), (.mustache, 0.10), (.beard, 0.25)]
        }

        /// P(earrings): feminine 0.50, masculine 0.06.
        public static func earrings(_ p: Presentation) -> Double { p == .feminine ? 0.50 : 0.06 }
        /// P(necklace): feminine 0.28, masculine 0.04.
        public static func necklace(_ p: Presentation) -> Double { p == .feminine ? 0.28 : 0.04 }
        /// Clothing colour: uniform over the 8 `ClothingColor` values (0.125 each).
        public static let clothing: [(ClothingColor, Double)] = ClothingColor.allCases.map { ($0, 1.0 / 8) }
        /// Background colour: uniform over the 6 `BackgroundColor` values.
        public static let background: [(BackgroundColor, Double)] = BackgroundColor.allCases.map { ($0, 1.0 / 6) }
        /// P(wrinkles): young 0.03, middle_aged 0.35, old 0.90.
        public static func wrinkles(_ a: AgeGroup) -> Double { a == .young ? 0.03 : a == .middleAged ? 0.35 : 0.90 }
    }

    /// Draws attributes for sample `index` under `seed` (stream `SynthFaces.stream(index:purpose: .attributes)`).
    public static func draw(seed: UInt64, index: Int) -> FaceAttributes {
        var rng = Philox(seed: seed, stream: SynthFaces.stream(index: index, purpose: .attributes))
        return draw(&rng)
    }

    /// Draws attributes from `rng` in the documented order: exactly `drawCount` uniforms, one per
    /// attribute (a categorical pick, a chance or a uniform value each take one).
    public static func draw<R: UniformSource>(_ rng: inout R) -> FaceAttributes {
        let presentation = pick(Priors.presentation, &rng)
        let age = pick(Priors.age, &rng)
        let faceShape = pick(Priors.faceShape(presentation), &rng)
        let faceWidth = rng.uniform(0.92, 1.08)
        let skin = pick(Priors.skinTone, &rng)
        let yaw = rng.uniform(-1, 1)
        let tilt = rng.uniform(-7, 7)
        let hairColor = pick(Priors.hairColor(age), &rng)
        let hairStyle = pick(Priors.hairStyle(presentation, age), &rng)
        let brows: Eyebrows = rng.chance(Float(Priors.bushyBrows(presentation))) ? .bushy : .thin
        let eyeColor = pick(Priors.eyeColor, &rng)
        let eyes: EyeOpening = rng.chance(Float(Priors.narrowEyes(age))) ? .narrow : .open
        let expression = pick(Priors.expression, &rng)
        let lipstick = rng.chance(Float(Priors.lipstick(presentation)))
        let glasses = rng.chance(Float(Priors.eyeglasses(age)))
        let hat = rng.chance(Float(Priors.hat))
        let facialHair = pick(Priors.facialHair(presentation), &rng)
        let earrings = rng.chance(Float(Priors.earrings(presentation)))
        let necklace = rng.chance(Float(Priors.necklace(presentation)))
        let clothing = pick(Priors.clothing, &rng)
        let background = pick(Priors.background, &rng)
        let wrinkles = rng.chance(Float(Priors.wrinkles(age)))
        return FaceAttributes(presentation: presentation, age: age, faceShape: faceShape, faceWidth: faceWidth,
                              skinTone: skin, yaw: yaw, tilt: tilt, hairColor: hairColor, hairStyle: hairStyle,
                              eyebrows: brows, eyeColor: eyeColor, eyes: eyes, expression: expression,
                              lipstick: lipstick, eyeglasses: glasses, hat: hat, facialHair: facialHair,
                              earrings: earrings, necklace: necklace, clothing: clothing, background: background,
                              wrinkles: wrinkles)
    }

    /// Number of uniforms one `draw` takes.
    public static let drawCount = 22
    /// The attribute each of a draw's uniforms decides, in order (names as in `jsonLine`).
    public static let drawOrder = ["presentation", "age", "face_shape", "face_width", "skin_tone", "yaw", "tilt", "hair_color",
                                   "hair_style", "eyebrows", "eye_color", "eyes", "expression", "lipstick", "eyeglasses", "hat",
                                   "facial_hair", "earrings", "necklace", "clothing", "background", "wrinkles"]

    /// Attributes from the priors with the draw's uniforms given as standard-normal quantiles:
    /// uniform i is Φ(normals[i]), so `normals` drawn N(0,1) give attributes distributed exactly as
    /// the data's, and a continuous attribute (yaw, tilt, width) moves continuously with its normal.
    /// A conditioned generator reads its attributes this way from the first `drawCount` entries of z.
    public static func draw(normals: ArraySlice<Float>) -> FaceAttributes {
        var q = NormalQuantiles(normals)
        return draw(&q)
    }

    /// Categorical draw from a (value, probability) table; probabilities need not sum exactly to 1.
    static func pick<T, R: UniformSource>(_ table: [(T, Double)], _ rng: inout R) -> T {
        let total = table.reduce(0) { $0 + $1.1 }
        var u = Double(rng.uniform()) * total
        for (value, p) in table {
            if u < p { return value }
            u -= p
        }
        return table[table.count - 1].0
    }

    /// One JSON object on one line, keys in a fixed order (`index` first when given), floats with 4 decimals.
    public func jsonLine(index: Int? = nil) -> String {
        func f(_ x: Float) -> String {
            // Fixed-point formatting by integer arithmetic, so no locale or platform printf differences.
            let scaled = Int((Double(x) * 10_000).rounded())
            let sign = scaled < 0 ? "-" : ""
            let a = abs(scaled)
            let frac = String(a % 10_000)
            return "\(sign)\(a / 10_000).\(String(repeating: "0", count: 4 - frac.count))\(frac)"
        }
        var parts: [String] = []
        if let index { parts.append("\"index\":\(index)") }
        let fields: [(String, String)] = [
            ("presentation", "\"\(presentation.rawValue)\""), ("age", "\"\(age.rawValue)\""),
            ("face_shape", "\"\(faceShape.rawValue)\""), ("face_width", f(faceWidth)),
            ("skin_tone", "\"\(skinTone.rawValue)\""), ("yaw", f(yaw)), ("tilt", f(tilt)),
            ("hair_color", "\"\(hairColor.rawValue)\""), ("hair_style", "\"\(hairStyle.rawValue)\""),
            ("eyebrows", "\"\(eyebrows.rawValue)\""), ("eye_color", "\"\(eyeColor.rawValue)\""),
            ("eyes", "\"\(eyes.rawValue)\""), ("expression", "\"\(expression.rawValue)\""),
            ("lipstick", "\(lipstick)"), ("eyeglasses", "\(eyeglasses)"), ("hat", "\(hat)"),
            ("facial_hair", "\"\(facialHair.rawValue)\""), ("earrings", "\(earrings)"),
            ("necklace", "\(necklace)"), ("clothing", "\"\(clothing.rawValue)\""),
            ("background", "\"\(background.rawValue)\""), ("wrinkles", "\(wrinkles)"),
        ]
        for (k, v) in fields { parts.append("\"\(k)\":\(v)") }
        return "{" + parts.joined(separator: ",") + "}"
    }
}
