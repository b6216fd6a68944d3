import Foundation

/// The non-learned baseline of `tedi eval text`: reads a caption by the exact phrases of
/// SynthFaces' caption grammar (Sources/SynthFaces/Captions.swift) — "long wavy blond hair",
/// "wears eyeglasses", "a five o'clock shadow", "The woman" — and states what they say. It knows
/// the grammar perfectly and nothing else: a synonym, a negation or a typo it does not see.
public enum GrammarReader {
    static let hairColours: [([String], String)] = [
        (["silver", "gray"], "gray"), (["dark", "brown"], "brown"), (["black"], "black"), (["brown"], "brown"), (["blond"], "blond"),
        (["gray"], "gray"), (["grey"], "gray"), (["red"], "red"), (["ginger"], "red"),
    ]
    static let hairStyles: [([String], String)] = [
        (["long", "wavy"], "wavy"), (["long", "straight"], "long"), (["short"], "short"), (["long"], "long"), (["wavy"], "wavy"),
    ]
    static let eyeColours: [([String], String)] = [
        (["dark", "brown"], "dark"), (["dark"], "dark"), (["brown"], "brown"), (["blue"], "blue"), (["green"], "green"), (["hazel"], "hazel"),
    ]
    static let clothing = ["black", "white", "gray", "navy", "red", "green", "beige", "blue"]

    /// Phrases that state one value wherever they appear.
    static let phrases: [([String], String, String)] = [
        (["bald"], "hair_style", "bald"), (["balding"], "hair_style", "bald"), (["bangs"], "hair_style", "bangs"),
        (["bushy", "eyebrows"], "eyebrows", "bushy"), (["thin", "eyebrows"], "eyebrows", "thin"),
        (["narrow", "eyes"], "eyes", "narrow"),
        (["neutral", "expression"], "expression", "neutral"),
        (["smiling", "with", "an", "open", "mouth"], "expression", "grinning"), (["smiling", "broadly"], "expression", "grinning"),
        (["open", "mouthed", "smile"], "expression", "grinning"), (["wide", "smile"], "expression", "grinning"),
        (["smiling"], "expression", "smiling"), (["a", "smile"], "expression", "smiling"), (["gentle", "smile"], "expression", "smiling"),
        (["slightly", "open", "mouth"], "expression", "mouth_open"), (["mouth", "slightly", "open"], "expression", "mouth_open"),
        (["lipstick"], "lipstick", "true"), (["eyeglasses"], "eyeglasses", "true"), (["glasses"], "eyeglasses", "true"),
        (["a", "hat"], "hat", "true"),
        (["stubble"], "facial_hair", "stubble"), (["five", "o'clock", "shadow"], "facial_hair", "stubble"),
        (["mustache"], "facial_hair", "mustache"), (["beard"], "facial_hair", "beard"),
        (["earrings"], "earrings", "true"), (["necklace"], "necklace", "true"),
        (["young"], "age", "young"), (["middle", "aged"], "age", "middle_aged"), (["old"], "age", "old"), (["elderly"], "age", "old"),
        (["wrinkles"], "wrinkles", "true"),
        (["oval", "face"], "face_shape", "oval"), (["round", "face"], "face_shape", "round"), (["long", "face"], "face_shape", "long"),
        (["square", "face"], "face_shape", "square"), (["square", "jaw"], "face_shape", "square"),
        (["pale", "skin"], "skin_tone", "pale"), (["dark", "skin"], "skin_tone", "dark"),
        (["woman"], "presentation", "feminine"), (["lady"], "presentation", "feminine"), (["she"], "presentation", "feminine"),
        (["man"], "presentation", "masculine"), (["gentleman"], "presentation", "masculine"), (["he"], "presentation", "masculine"),
    ]

    /// What `text` states by the grammar's phrases (attribute name → value); the first phrase
    /// about an attribute wins. Throws only for text the tokenizer refuses.
    public static func read(_ text: String) throws -> [String: String] {
        let w = try Tokenizer.words(text).words
        var out: [String: String] = [:]
        func at(_ i: Int, _ p: [String]) -> Bool { i + p.count <= w.count && Array(w[i..<(i + p.count)]) == p }
        func set(_ k: String, _ v: String) { if out[k] == nil { out[k] = v } }
        var i = 0
        while i < w.count {
            // "<style>? <colour> hair": words before "hair" (or "hair with bangs", "hair on the sides").
            if w[i] == "hair" {
                let before = Array(w[max(0, i - 3)..<i])
                for (p, v) in hairColours where before.count >= p.count && Array(before.suffix(p.count)) == p { set("hair_color", v); break }
                for (p, v) in hairStyles {
                    // The style sits before the colour ("long wavy blond hair") or alone before "hair".
                    let colourLength = hairColours.first { before.count >= $0.0.count && Array(before.suffix($0.0.count)) == $0.0 }?.0.count ?? 0
                    let head = Array(before.dropLast(colourLength))
                    if head.count >= p.count && Array(head.suffix(p.count)) == p { set("hair_style", v); break }
                }
            }
            if w[i] == "eyes" {
                let before = Array(w[max(0, i - 2)..<i])
                for (p, v) in eyeColours where before.count >= p.count && Array(before.suffix(p.count)) == p { set("eye_color", v); break }
            }
            if ["shirt", "top", "sweater"].contains(w[i]), i > 0, clothing.contains(w[i - 1]) { set("clothing", w[i - 1]) }
            if let (p, k, v) = phrases.first(where: { at(i, $0.0) }) {
                // "long face" is a face shape; "long hair" is handled above.
                set(k, v)
                i += p.count
                continue
            }
            i += 1
        }
        return out
    }
}
