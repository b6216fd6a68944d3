extension YAMLNode {
    /// Deterministic one-line flow-style YAML (`{a: 1, b: [x, "1"]}`) of the resolved tree.
    ///
    /// Keys keep source order; aliases appear expanded; tags, styles and marks are dropped.
    /// Strings are written bare only when they are identifier-like (`[A-Za-z_][A-Za-z0-9_.-]*`)
    /// and would not resolve to another type, otherwise double-quoted with escapes, so parsing the
    /// text gives a tree `isEquivalent(to:)` this one. Integers are decimal, floats use Swift's
    /// shortest round-trip form (`.inf`, `-.inf`, `.nan` for the specials), booleans are
    /// `true`/`false` and null is `null`. Suitable for hashing and for embedding in outputs.
    public var canonicalText: String {
        var out = ""
        YAMLCanonical.write(self, to: &out)
        return out
    }
}

enum YAMLCanonical {
    static func write(_ node: YAMLNode, to out: inout String) {
        switch node.content {
        case .scalar(let s):
            writeScalar(s.value, to: &out)
        case .sequence(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                write(item, to: &out)
            }
            out += "]"
        case .mapping(let pairs):
            out += "{"
            for (i, pair) in pairs.enumerated() {
                if i > 0 { out += ", " }
                // Keys are identified by their text, so a non-string key is written as spelled
                // (`0x10` stays `0x10`); its text always matches a core-schema grammar, which is
                // safe bare in flow context. The empty (null) key is written `""`.
                if let key = pair.key.scalar {
                    if key.value == .string(key.text) || key.text.isEmpty {
                        writeString(key.text, to: &out)
                    } else {
                        out += key.text
                    }
                }
                out += ": "
                write(pair.value, to: &out)
            }
            out += "}"
        }
    }

    static func writeScalar(_ value: YAMLScalarValue, to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let d):
            if d.isNaN {
                out += ".nan"
            } else if d.isInfinite {
                out += d < 0 ? "-.inf" : ".inf"
            } else {
                // Swift prints the shortest text that reads back as the same Double, e.g. "1e-05",
                // "0.1", "100.0"; each of these matches the core-schema float grammar.
                out += "\(d)"
            }
        case .string(let s): writeString(s, to: &out)
        }
    }

    static func isBare(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first,
              first == "_" || ("a"..."z").contains(first) || ("A"..."Z").contains(first) else { return false }
        for c in s.unicodeScalars {
            let ok = c == "_" || c == "." || c == "-" || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
                || ("0"..."9").contains(c)
            if !ok { return false }
        }
        return (try? YAMLCoreSchema.resolvePlain(s)) == .string(s)
    }

    static func writeString(_ s: String, to out: inout String) {
        if isBare(s) {
            out += s
            return
        }
        out += "\""
        for c in s.unicodeScalars {
            switch c.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x09: out += "\\t"
            case 0x0D: out += "\\r"
            case 0x00: out += "\\0"
            case 0x00..<0x20, 0x7F...0x9F:
                out += "\\x" + hex(c.value, digits: 2)
            case 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF:
                // Line/paragraph separators would be folded as line breaks; the others are not printable.
                out += "\\u" + hex(c.value, digits: 4)
            default:
                out.unicodeScalars.append(c)
            }
        }
        out += "\""
    }

    static func hex(_ v: UInt32, digits: Int) -> String {
        let h = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - h.count)) + h
    }
}
