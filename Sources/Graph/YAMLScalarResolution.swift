/// YAML 1.2 core-schema resolution of scalar text (rules in `YAMLScalar`'s documentation).
enum YAMLCoreSchema {
    /// What went wrong resolving a scalar; the parser adds the position.
    enum Failure: Error {
        case intOutOfRange
        case notA(String)
    }

    static let nulls: Set<String> = ["", "~", "null", "Null", "NULL"]
    static let trues: Set<String> = ["true", "True", "TRUE"]
    static let falses: Set<String> = ["false", "False", "FALSE"]
    static let infinities: Set<String> = [".inf", ".Inf", ".INF"]
    static let nans: Set<String> = [".nan", ".NaN", ".NAN"]

    /// The value of a plain, untagged scalar.
    static func resolvePlain(_ text: String) throws(Failure) -> YAMLScalarValue {
        if nulls.contains(text) { return .null }
        if trues.contains(text) { return .bool(true) }
        if falses.contains(text) { return .bool(false) }
        if let i = try int(text) { return .int(i) }
        if let d = float(text) { return .float(d) }
        return .string(text)
    }

    /// The value of a scalar carrying the standard tag `tag` (short form, e.g. `!!int`).
    static func resolveTagged(_ text: String, tag: String) throws(Failure) -> YAMLScalarValue {
        switch tag {
        case "!!str", "!": return .string(text)
        case "!!null":
            guard nulls.contains(text) else { throw .notA("null (~, null or empty)") }
            return .null
        case "!!bool":
            if trues.contains(text) { return .bool(true) }
            if falses.contains(text) { return .bool(false) }
            throw .notA("a boolean (true or false)")
        case "!!int":
            guard let i = try int(text) else { throw .notA("an integer") }
            return .int(i)
        case "!!float":
            if let d = float(text) { return .float(d) }
            if let i = try int(text) { return .float(Double(i)) }
            throw .notA("a float")
        default:
            throw .notA("a value of a known type")
        }
    }

    /// `[-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+`; nil when the text is not an integer,
    /// `.intOutOfRange` when it is one that does not fit in 64 bits.
    static func int(_ text: String) throws(Failure) -> Int? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var radix = 10
        var start = 0
        var negative = false
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "x") {
            radix = 16
            start = 2
        } else if bytes.count > 2, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "o") {
            radix = 8
            start = 2
        } else if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
            negative = bytes[0] == UInt8(ascii: "-")
            start = 1
        }
        guard start < bytes.count else { return nil }
        var magnitude: UInt64 = 0
        var overflow = false
        for b in bytes[start...] {
            guard let d = digit(b), d < radix else { return nil }
            let (m, o1) = magnitude.multipliedReportingOverflow(by: UInt64(radix))
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            overflow = overflow || o1 || o2
            magnitude = s
        }
        if overflow { throw .intOutOfRange }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw .intOutOfRange }
            return magnitude == UInt64(Int64.max) + 1 ? Int.min : -Int(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw .intOutOfRange }
        return Int(magnitude)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.inf | \.nan` (case variants
    /// as listed above); nil when the text is not a float.
    static func float(_ text: String) -> Double? {
        if nans.contains(text) { return .nan }
        var body = Substring(text)
        var sign = 1.0
        if let f = body.first, f == "-" || f == "+" {
            sign = f == "-" ? -1 : 1
            body = body.dropFirst()
        }
        if infinities.contains(String(body)) { return sign * .infinity }
        let b = Array(body.utf8)
        var i = 0
        func digits() -> Int {
            let s = i
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") { i += 1 }
            return i - s
        }
        let intDigits = digits()
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let frac = digits()
            if intDigits == 0 && frac == 0 { return nil }
        } else if intDigits == 0 {
            return nil
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+") { i += 1 }
            if digits() == 0 { return nil }
        }
        guard i == b.count else { return nil }
        // The grammar above is a subset of what strtod accepts; "1." and ".5" included.
        guard let d = Double(text) else { return nil }
        return d
    }

    private static func digit(_ b: UInt8) -> Int? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(b - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(b - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}
