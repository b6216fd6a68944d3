import SynthFaces

/// The attribute network's outputs: one softmax head per categorical SynthFaces attribute and one
/// regression output per continuous one. The order here is the order of heads in the network,
/// in checkpoints and in reports.
public enum AttributeHeads {
    /// A categorical attribute: its name (as in `FaceAttributes.jsonLine`), its values in class
    /// index order, and how to read the class index of a sample.
    public struct Categorical: Sendable {
        public let name: String
        public let values: [String]
        public let index: @Sendable (FaceAttributes) -> Int
    }

    /// A continuous attribute, regressed as `(value − center) / halfRange` (about [-1, 1]).
    /// `tolerance` (native units) is the error within which a prediction counts as correct.
    public struct Continuous: Sendable {
        public let name: String
        public let center: Float
        public let halfRange: Float
        public let tolerance: Float
        public let value: @Sendable (FaceAttributes) -> Float
    }

    private static func cat<T: CaseIterable & RawRepresentable & Equatable>(
        _ name: String, _ type: T.Type, _ get: @escaping @Sendable (FaceAttributes) -> T
    ) -> Categorical where T.RawValue == String {
        let all = Array(T.allCases)
        return Categorical(name: name, values: all.map(\.rawValue), index: { a in all.firstIndex(of: get(a)) ?? 0 })
    }

    private static func flag(_ name: String, _ get: @escaping @Sendable (FaceAttributes) -> Bool) -> Categorical {
        Categorical(name: name, values: ["false", "true"], index: { get($0) ? 1 : 0 })
    }

    /// Every categorical attribute of `FaceAttributes` (19 heads, 68 classes).
    public static let categorical: [Categorical] = [
        cat("presentation", Presentation.self) { $0.presentation },
        cat("age", AgeGroup.self) { $0.age },
        cat("face_shape", FaceShape.self) { $0.faceShape },
        cat("skin_tone", SkinTone.self) { $0.skinTone },
        cat("hair_color", HairColor.self) { $0.hairColor },
        cat("hair_style", HairStyle.self) { $0.hairStyle },
        cat("eyebrows", Eyebrows.self) { $0.eyebrows },
        cat("eye_color", EyeColor.self) { $0.eyeColor },
        cat("eyes", EyeOpening.self) { $0.eyes },
        cat("expression", MouthExpression.self) { $0.expression },
        flag("lipstick") { $0.lipstick },
        flag("eyeglasses") { $0.eyeglasses },
        flag("hat") { $0.hat },
        cat("facial_hair", FacialHair.self) { $0.facialHair },
        flag("earrings") { $0.earrings },
        flag("necklace") { $0.necklace },
        cat("clothing", ClothingColor.self) { $0.clothing },
        cat("background", BackgroundColor.self) { $0.background },
        flag("wrinkles") { $0.wrinkles },
    ]

    /// The continuous attributes: face width in [0.92, 1.08), yaw in [-1, 1), tilt in [-7°, 7°).
    public static let continuous: [Continuous] = [
        Continuous(name: "face_width", center: 1, halfRange: 0.08, tolerance: 0.02) { $0.faceWidth },
        Continuous(name: "yaw", center: 0, halfRange: 1, tolerance: 0.2) { $0.yaw },
        Continuous(name: "tilt", center: 0, halfRange: 7, tolerance: 1.5) { $0.tilt },
    ]

    /// A continuous attribute cut into `bins` equal intervals of its range [center − halfRange,
    /// center + halfRange), so attribute coverage and balanced real sampling see a generator that
    /// draws every face frontal the way they see one that drops hats.
    public struct Binned: Sendable {
        /// Index of the attribute in `continuous`.
        public let source: Int
        public let bins: Int

        /// The bin of value `v` (values outside the range go to the end bins; nan to bin 0).
        public func bin(_ v: Float) -> Int {
            let c = AttributeHeads.continuous[source]
            let t = (v - (c.center - c.halfRange)) / (2 * c.halfRange) * Float(bins)
            guard t.isFinite else { return 0 }
            return Swift.min(bins - 1, Swift.max(0, Int(Swift.max(-1, Swift.min(Float(bins), t)).rounded(.down))))
        }

        /// The binned attribute as a categorical head whose values are the intervals ("-1..-0.5"),
        /// its class read from a sample's true value.
        public var head: Categorical {
            let c = AttributeHeads.continuous[source], lo = c.center - c.halfRange, w = 2 * c.halfRange / Float(bins)
            let names = (0..<bins).map { String(format: "%g..%g", lo + Float($0) * w, lo + Float($0 + 1) * w) }
            let me = self
            return Categorical(name: c.name, values: names, index: { me.bin(c.value($0)) })
        }
    }

    /// Face width, yaw and tilt in four bins each.
    public static let binned: [Binned] = continuous.indices.map { Binned(source: $0, bins: 4) }

    /// The heads attribute coverage and balanced real sampling count over: the categorical heads,
    /// then the binned continuous attributes.
    public static let coverageHeads: [Categorical] = categorical + binned.map(\.head)

    /// Class indices of every categorical head for a batch: `[head][sample]`.
    public static func classTargets(_ attrs: [FaceAttributes]) -> [[Int]] {
        categorical.map { h in attrs.map { h.index($0) } }
    }

    /// Normalized regression targets, `(N, continuous.count)` row-major.
    public static func regressionTargets(_ attrs: [FaceAttributes]) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(attrs.count * continuous.count)
        for a in attrs { for c in continuous { out.append((c.value(a) - c.center) / c.halfRange) } }
        return out
    }
}
