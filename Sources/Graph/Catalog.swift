/// The kinds of value that flow along graph edges.
public enum ValueKind: String, CaseIterable, Sendable {
    case text = "Text"
    case image = "Image"
    case sketch = "Sketch"
    case labelMap = "LabelMap"
    case latent = "Latent"
    case tensor = "Tensor"
}

/// The static type of a port: its kind, and for latents what is known of the space and layer count.
public struct ValueType: Hashable, Sendable, CustomStringConvertible {
    public var kind: ValueKind
    /// `z`, `w` or `w+` when known.
    public var latentSpace: String?
    /// Number of W+ layers when known.
    public var layers: Int?
    /// A caption known before running (`input.text`'s inline `text`), for notes on its words.
    public var text: String?
    /// A latent's width (its last dimension) when known before running, and the file it comes from.
    public var width: Int?
    public var origin: String?

    public init(_ kind: ValueKind, latentSpace: String? = nil, layers: Int? = nil, text: String? = nil) {
        self.kind = kind
        self.latentSpace = latentSpace
        self.layers = layers
        self.text = text
    }

    public var description: String {
        guard kind == .latent, let s = latentSpace else { return kind.rawValue }
        if let layers { return "Latent(\(s), \(layers) layers)" }
        return "Latent(\(s))"
    }
}

/// The type of a node parameter. Validation, `--set` coercion and `tedi nodes` all read it.
public enum ParamType: Hashable, Sendable, CustomStringConvertible {
    case int(min: Int?, max: Int?)
    case float(min: Double?, max: Double?)
    case bool
    case string
    /// One of a fixed set of words.
    case choice([String])
    /// A file the node reads, relative to the graph file; its content hash joins the memo key.
    case inputPath
    /// A file the node writes, relative to `--out`.
    case outputPath
    /// The name of a model declared in the graph's `models:` section or shipped with tedi ("" = the
    /// only one of the param's kind declared, else the shipped one); the model file's content hash
    /// and config join the memo key.
    case model

    public var description: String {
        switch self {
        case let .int(lo, hi): return "int" + Self.range(lo.map(String.init), hi.map(String.init))
        case let .float(lo, hi): return "float" + Self.range(lo.map { "\($0)" }, hi.map { "\($0)" })
        case .bool: return "bool"
        case .string: return "string"
        case let .choice(c): return c.joined(separator: "|")
        case .inputPath: return "input path"
        case .outputPath: return "output path"
        case .model: return "model name"
        }
    }

    private static func range(_ lo: String?, _ hi: String?) -> String {
        switch (lo, hi) {
        case (nil, nil): return ""
        case let (l?, nil): return " ≥ \(l)"
        case let (nil, h?): return " ≤ \(h)"
        case let (l?, h?): return " in \(l)…\(h)"
        }
    }
}

/// A resolved parameter value.
public enum ParamValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case string(String)

    public var description: String {
        switch self {
        case let .int(v): return String(v)
        case let .float(v): return String(v)
        case let .bool(v): return v ? "true" : "false"
        case let .string(v): return v
        }
    }

    /// The name of this value's type, for "expected X, got Y" messages.
    public var typeName: String {
        switch self {
        case .int: return "int"
        case .float: return "float"
        case .bool: return "bool"
        case .string: return "string"
        }
    }

    /// Canonical text used in memo keys and embedded recipes (type-tagged, so 1 and "1" differ).
    public var canonical: String {
        switch self {
        case let .int(v): return "i:\(v)"
        case let .float(v): return "f:\(v.bitPattern == (0.0).bitPattern ? "0.0" : String(v))"
        case let .bool(v): return "b:\(v)"
        case let .string(v): return "s:\(v.utf8.count):\(v)"
        }
    }

    public var intValue: Int? { if case let .int(v) = self { return v }; return nil }
    public var doubleValue: Double? {
        switch self {
        case let .float(v): return v
        case let .int(v): return Double(v)
        default: return nil
        }
    }
    public var stringValue: String? { if case let .string(v) = self { return v }; return nil }
    public var boolValue: Bool? { if case let .bool(v) = self { return v }; return nil }
}

extension ParamType {
    /// Converts a value to this type, or explains why it does not fit ("expected int, got string 'x'").
    public func coerce(_ v: ParamValue) -> Result<ParamValue, ParamTypeMismatch> {
        func mismatch() -> Result<ParamValue, ParamTypeMismatch> {
            .failure(ParamTypeMismatch(message: "expected \(self), got \(v.typeName) '\(v)'"))
        }
        switch self {
        case let .int(lo, hi):
            guard case let .int(x) = v else { return mismatch() }
            if let lo, x < lo { return .failure(ParamTypeMismatch(message: "\(x) is below the minimum \(lo)")) }
            if let hi, x > hi { return .failure(ParamTypeMismatch(message: "\(x) is above the maximum \(hi)")) }
            return .success(v)
        case let .float(lo, hi):
            guard let x = v.doubleValue, x.isFinite else { return mismatch() }
            if let lo, x < lo { return .failure(ParamTypeMismatch(message: "\(x) is below the minimum \(lo)")) }
            if let hi, x > hi { return .failure(ParamTypeMismatch(message: "\(x) is above the maximum \(hi)")) }
            return .success(.float(x))
        case .bool:
            guard case .bool = v else { return mismatch() }
            return .success(v)
        case .string, .inputPath, .outputPath, .model:
            switch v {
            case let .string(s):
                if self == .outputPath && s.isEmpty { return .failure(ParamTypeMismatch(message: "expected a path, got an empty string")) }
                return .success(v)
            case .int, .float: return self == .string ? .success(.string(v.description)) : mismatch()
            case .bool: return mismatch()
            }
        case let .choice(options):
            guard case let .string(s) = v else { return mismatch() }
            guard options.contains(s) else {
                return .failure(ParamTypeMismatch(message: "'\(s)' is not one of \(options.joined(separator: ", "))\(didYouMean(s, in: options))"))
            }
            return .success(v)
        }
    }
}

extension ParamType {
    /// Why an output path would leave `--out` (absolute, or `..`), or nil when it stays inside.
    public static func outputPathEscape(_ s: String) -> String? {
        if s.hasPrefix("/") { return "output path '\(s)' is absolute; outputs are written under --out, so give a relative path (or run with --allow-outside-out)" }
        if s.split(separator: "/").contains("..") { return "output path '\(s)' leaves the --out directory through '..' (run with --allow-outside-out to permit it)" }
        return nil
    }
}

public struct ParamTypeMismatch: Error {
    public let message: String
    public init(message: String) { self.message = message }
}

/// An input port of a node.
public struct PortSpec: Sendable {
    public var name: String
    public var accepts: [ValueKind]
    public var optional: Bool
    /// Takes a list of sources (`in: { images: [a, b, c] }`), in order.
    public var multiple: Bool
    public var doc: String
    public init(_ name: String, accepts: [ValueKind], optional: Bool = false, multiple: Bool = false, doc: String) {
        self.name = name
        self.accepts = accepts
        self.optional = optional
        self.multiple = multiple
        self.doc = doc
    }
}

/// A node parameter: name, type, default (nil = required) and a one-line doc.
public struct ParamSpec: Sendable {
    public var name: String
    public var type: ParamType
    public var defaultValue: ParamValue?
    public var doc: String
    /// For a `.model` param: the kind of model it takes (a `ModelRef.kind`).
    public var modelKind: String
    /// For a `.model` param: the input port that needs the model. When nothing is connected there
    /// and no model of the kind is at hand, the param stays empty instead of being an error.
    public var modelFor: String?
    /// The param matters only while another param has one of these values (e.g. `noise_seed` only
    /// with `noise: random`); otherwise it is left out of the memo key, so a default of `${seed}`
    /// does not make a node that ignores it rerun for every seed.
    public var usedWhen: (param: String, values: [String])?
    public init(_ name: String, _ type: ParamType, default value: ParamValue? = nil, doc: String, modelKind: String = "generator",
                modelFor: String? = nil, usedWhen: (param: String, values: [String])? = nil) {
        self.name = name
        self.type = type
        self.defaultValue = value
        self.doc = doc
        self.modelKind = modelKind
        self.modelFor = modelFor
        self.usedWhen = usedWhen
    }

    /// Whether the param can change the node's result under these resolved params.
    public func matters(_ params: [String: ParamValue]) -> Bool {
        guard let (other, values) = usedWhen else { return true }
        return params[other]?.stringValue.map(values.contains) ?? true
    }
}
