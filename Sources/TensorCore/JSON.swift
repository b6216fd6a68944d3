/// A parsed JSON value: a small, strict RFC 8259 parser and a deterministic writer, used for
/// safetensors headers and other machine-written JSON.
///
/// The parser is built for untrusted input: nesting depth is capped (recursion is bounded by
/// `maxDepth`), duplicate object keys are an error, the text must be valid UTF-8, and every error
/// names the byte offset. Numbers keep their source text so integers of any size can be checked
/// exactly (`intValue`) instead of passing through `Double`.
public enum JSONValue: Equatable, Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// The number's source text, already checked against the JSON number grammar.
    case number(String)
    /// A string with escapes resolved.
    case string(String)
    /// Items in source order.
    case array([JSONValue])
    /// Members in source order; keys are unique.
    case object([JSONMember])

    /// The value as an exact `Int`, or nil when it is not an integer literal or does not fit.
    public var intValue: Int? {
        guard case let .number(text) = self else { return nil }
        var digits = Substring(text)
        let negative = digits.hasPrefix("-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        var n = 0
        for c in digits.utf8 {
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            n = s
        }
        return negative ? -n : n
    }

    /// The value of a `.string`, else nil.
    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// The JSON type name, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Parses one JSON value from UTF-8 `bytes`; only whitespace may follow it.
    /// Throws `JSONError` with the byte offset of the first problem.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws -> JSONValue {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw JSONError(offset: 0, message: "text is not valid UTF-8")
        }
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.pos == bytes.count else {
            throw JSONError(offset: parser.pos, message: "unexpected \(parser.describeByte()) after the JSON value")
        }
        return value
    }

    /// Compact JSON text with members in their stored order (no whitespace), so equal values
    /// always give identical bytes.
    public var serialized: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(n): out += n
        case let .string(s): out += JSONValue.quoted(s)
        case let .array(items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case let .object(members):
            out += "{"
            for (i, m) in members.enumerated() {
                if i > 0 { out += "," }
                out += JSONValue.quoted(m.key)
                out += ":"
                m.value.write(to: &out)
            }
            out += "}"
        }
    }

    /// `s` as a JSON string literal: quotes, backslashes and control characters escaped, other
    /// characters written as UTF-8.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

/// One `"key": value` pair of a JSON object.
public struct JSONMember: Equatable, Sendable {
    /// The member's key.
    public var key: String
    /// The member's value.
    public var value: JSONValue
    /// A member `key: value`.
    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A JSON syntax error at a byte offset of the input.
public struct JSONError: Error, CustomStringConvertible, Equatable {
    /// Byte offset of the problem in the input.
    public let offset: Int
    /// What is wrong there.
    public let message: String
    public var description: String { "\(message) at byte \(offset)" }
}

/// Recursive descent over bytes; `depth` bounds the recursion, so hostile nesting costs at most
/// `maxDepth` stack frames.
private struct JSONParser {
    let bytes: [UInt8]
    let maxDepth: Int
    var pos = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func describeByte() -> String {
        guard pos < bytes.count else { return "end of text" }
        let b = bytes[pos]
        if b >= 0x21 && b < 0x7F { return "character '\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16)
    }

    func fail(_ message: String) -> JSONError { JSONError(offset: pos, message: message) }

    mutating func skipWhitespace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 {
            pos += 1
        }
    }

    mutating func parseValue(depth: Int) throws -> JSONValue {
        guard pos < bytes.count else { throw fail("unexpected end of text, expected a value") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected \(describeByte()), expected a value")
        }
    }

    mutating func expectWord(_ word: String) throws {
        for c in word.utf8 {
            guard pos < bytes.count, bytes[pos] == c else { throw fail("invalid literal, expected '\(word)'") }
            pos += 1
        }
    }

    mutating func parseObject(depth: Int) throws -> JSONValue {
        guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        pos += 1  // "{"
        var members: [JSONMember] = []
        var seen = Set<String>()
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
            pos += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                throw fail("unexpected \(describeByte()), expected a quoted object key")
            }
            let keyOffset = pos
            let key = try parseString()
            guard seen.insert(key).inserted else {
                throw JSONError(offset: keyOffset, message: "duplicate key \(JSONValue.quoted(key))")
            }
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
                throw fail("unexpected \(describeByte()), expected ':' after key \(JSONValue.quoted(key))")
            }
            pos += 1
            skipWhitespace()
            members.append(JSONMember(key, try parseValue(depth: depth)))
            skipWhitespace()
            guard pos < bytes.count else { throw fail("unexpected end of text inside an object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw fail("unexpected \(describeByte()), expected ',' or '}'")
        }
    }

    mutating func parseArray(depth: Int) throws -> JSONValue {
        guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
        pos += 1  // "["
        var items: [JSONValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
            pos += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard pos < bytes.count else { throw fail("unexpected end of text inside an array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw fail("unexpected \(describeByte()), expected ',' or ']'")
        }
    }

    mutating func parseNumber() throws -> JSONValue {
        let start = pos
        func digits() -> Int {
            let s = pos
            while pos < bytes.count, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") { pos += 1 }
            return pos - s
        }
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < bytes.count, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") else {
            throw fail("invalid number: expected a digit")
        }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
        } else {
            _ = digits()
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard digits() > 0 else { throw fail("invalid number: expected a digit after '.'") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard digits() > 0 else { throw fail("invalid number: expected a digit in the exponent") }
        }
        return .number(String(decoding: bytes[start..<pos], as: UTF8.self))
    }

    mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    mutating func parseString() throws -> String {
        pos += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard pos < bytes.count else { throw fail("unterminated string") }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                // The whole text was checked to be UTF-8 and escapes append valid UTF-8.
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw fail("unescaped control character 0x\(String(b, radix: 16)) in string") }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                pos += 1
                continue
            }
            pos += 1
            guard pos < bytes.count else { throw fail("unterminated escape in string") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if code >= 0xD800 && code < 0xDC00 {
                    guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired high surrogate in \\u escape")
                    }
                    pos += 2
                    let low = try parseHex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw fail("invalid low surrogate in \\u escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if code >= 0xDC00 && code < 0xE000 {
                    throw fail("unpaired low surrogate in \\u escape")
                }
                guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                pos -= 1
                throw fail("invalid escape: \(describeByte()) after a backslash")
            }
        }
    }
}
