/// A 1-based position in a YAML source text (columns count Unicode scalars, as libyaml does).
public struct YAMLMark: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }

    public static func < (a: YAMLMark, b: YAMLMark) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }
}

/// How a scalar was written in the source.
public enum YAMLScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// The typed value of a scalar after YAML 1.2 core-schema resolution (see `YAMLScalar`).
public enum YAMLScalarValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)

    /// Equality where NaN equals NaN, so a resolved tree compares equal to itself.
    public func isEquivalent(to other: YAMLScalarValue) -> Bool {
        if case .float(let a) = self, case .float(let b) = other {
            return a == b || (a.isNaN && b.isNaN)
        }
        return self == other
    }
}

/// A scalar as written (`text`, `style`, `tag`) and as resolved (`value`).
///
/// Resolution follows the YAML 1.2 core schema for plain scalars without a tag:
/// - null: `~`, `null`, `Null`, `NULL` and the empty scalar;
/// - bool: `true`/`True`/`TRUE`, `false`/`False`/`FALSE` only (`yes`, `no`, `on`, `off` are strings);
/// - int: `[-+]?[0-9]+`, `0x[0-9a-fA-F]+`, `0o[0-7]+` (no `_` separators, no sign on hex/octal);
///   a value outside the 64-bit range is an error, not a string;
/// - float: `[-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf`, `.nan` (and the
///   `.Inf`/`.INF`/`.NaN`/`.NAN` spellings the schema allows);
/// - anything else is a string.
/// Quoted and block scalars are always strings unless tagged. The tags `!!str`, `!!int`,
/// `!!float`, `!!bool`, `!!null` force a type (the text must then match it); `!` forces a string.
public struct YAMLScalar: Sendable, Equatable {
    public var text: String
    public var style: YAMLScalarStyle
    /// The tag in short form (`!!int`), or nil when the scalar has none.
    public var tag: String?
    public var value: YAMLScalarValue

    public init(text: String, style: YAMLScalarStyle, tag: String?, value: YAMLScalarValue) {
        self.text = text
        self.style = style
        self.tag = tag
        self.value = value
    }
}

/// One `key: value` entry of a mapping; the key is always a scalar node with its own mark.
public struct YAMLPair: Sendable, Equatable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }

    /// The key's source text (keys are unique by text within a mapping).
    public var keyText: String { key.scalar?.text ?? "" }
}

/// A YAML node with the position where it starts in the source.
///
/// Nodes reached through an alias (`*name`) are copies of the anchored node (copy-on-write, so
/// they cost no memory); the copy's own mark is the alias's position while its children keep
/// the marks of the anchored text.
public struct YAMLNode: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        /// Entries in source order; keys are unique by text.
        case mapping([YAMLPair])
    }

    public var content: Content
    public var mark: YAMLMark

    public init(_ content: Content, mark: YAMLMark) {
        self.content = content
        self.mark = mark
    }

    /// The scalar, or nil for a collection.
    public var scalar: YAMLScalar? {
        if case .scalar(let s) = content { return s }
        return nil
    }

    /// The items, or nil when this is not a sequence.
    public var sequence: [YAMLNode]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    /// The entries in source order, or nil when this is not a mapping.
    public var mapping: [YAMLPair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    /// The scalar's source text whatever its type (`0` gives "0"), or nil for a collection.
    public var text: String? { scalar?.text }

    /// The value when this is a scalar resolved as a string.
    public var string: String? {
        if case .string(let s)? = scalar?.value { return s }
        return nil
    }

    /// The value when this is a scalar resolved as an integer.
    public var int: Int? {
        if case .int(let i)? = scalar?.value { return i }
        return nil
    }

    /// The value when this is a float or an integer scalar.
    public var double: Double? {
        switch scalar?.value {
        case .float(let d)?: return d
        case .int(let i)?: return Double(i)
        default: return nil
        }
    }

    /// The value when this is a scalar resolved as a boolean.
    public var bool: Bool? {
        if case .bool(let b)? = scalar?.value { return b }
        return nil
    }

    /// True for `~`, `null`, an empty plain scalar or `!!null`.
    public var isNull: Bool { scalar?.value == .null }

    /// The entry whose key text is `key`, when this is a mapping that has it.
    public func pair(forKey key: String) -> YAMLPair? {
        mapping?.first { $0.keyText == key }
    }

    /// The value for `key`, when this is a mapping that has it.
    public subscript(key: String) -> YAMLNode? { pair(forKey: key)?.value }

    /// The item at `index`, when this is a sequence that long.
    public subscript(index: Int) -> YAMLNode? {
        guard let items = sequence, items.indices.contains(index) else { return nil }
        return items[index]
    }

    /// Keys of a mapping in source order (empty for other nodes).
    public var keys: [String] { mapping?.map(\.keyText) ?? [] }

    /// What the node is, for messages: "a mapping", "a sequence", "a string", "an integer",
    /// "a float", "a boolean" or "null".
    public var kindDescription: String {
        switch content {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .scalar(let s):
            switch s.value {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int: return "an integer"
            case .float: return "a float"
            case .string: return "a string"
            }
        }
    }

    /// Same resolved content, ignoring marks, scalar styles, tags and the spelling of
    /// non-strings (`0x10` and `16` are equivalent; NaN equals NaN).
    public func isEquivalent(to other: YAMLNode) -> Bool {
        switch (content, other.content) {
        case (.scalar(let a), .scalar(let b)):
            return a.value.isEquivalent(to: b.value)
        case (.sequence(let a), .sequence(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isEquivalent(to: $1) }
        case (.mapping(let a), .mapping(let b)):
            return a.count == b.count && zip(a, b).allSatisfy {
                $0.keyText == $1.keyText && $0.value.isEquivalent(to: $1.value)
            }
        default:
            return false
        }
    }
}
