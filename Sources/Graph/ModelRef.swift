import Foundation
import TensorCore

/// A model declared in a graph's `models:` section: where its weights are and the config given
/// inline (`size`, `style_dim`, `n_mlp`, `channel_multiplier`, `arch`…), which fills in for a
/// weights file that carries no config of its own.
public struct ModelRef: Equatable {
    public var name: String
    /// Absolute location of the weights file.
    public var url: URL
    /// Inline config, by key.
    public var config: [String: ParamValue]
    /// "generator", "attributes", "encoder" (images), "sketch encoder", "label encoder", "parser",
    /// "text encoder" or "similarity"
    /// (from the file's `arch` and `modality` metadata; a file without one is taken for a generator,
    /// as rosinality checkpoints carry none).
    public var kind: String
    /// Whether it is one of tedi's shipped models (`ShippedModels`) rather than declared by the graph.
    public var shipped: Bool
    /// The path as the graph's `models:` section writes it (nil for a shipped model).
    public var written: String?

    public init(name: String, url: URL, config: [String: ParamValue], kind: String? = nil, shipped: Bool = false, written: String? = nil) {
        self.name = name; self.url = url; self.config = config; self.shipped = shipped; self.written = written
        self.kind = kind ?? ModelRef.kind(of: url)
    }

    /// "a generator", "an attribute network", "an encoder".
    static func phrase(_ kind: String) -> String {
        switch kind {
        case "attributes": return "an attribute network"
        case "encoder": return "an encoder"
        case "parser": return "a face parser"
        case "similarity": return "a text–image similarity model"
        default: return "a " + kind
        }
    }

    /// The kind of the model file at `url`, read from its header's `arch`.
    public static func kind(of url: URL) -> String {
        guard let f = try? SafeTensors.File(path: url.path) else { return "generator" }
        switch f.metadata["arch"] {
        case "tedi-attributes-v1": return "attributes"
        case "tedi-encoder-v1":
            switch f.metadata["modality"] {
            case "sketch": return "sketch encoder"
            case "label": return "label encoder"
            default: return "encoder"
            }
        case "tedi-parser-v1": return "parser"
        case "tedi-text-encoder-v1": return "text encoder"
        case "tedi-similarity-v1": return "similarity"
        default: return "generator"
        }
    }

    /// How a recipe names this model's file.
    public var fileRef: FileRef { shipped ? .shipped(name) : .path(written ?? url.path) }

    /// Canonical text of the config, for memo keys.
    public var canonicalConfig: String {
        config.keys.sorted().map { "\($0)=\(config[$0]!.canonical)" }.joined(separator: ";")
    }
}

extension GraphValidator {
    /// Resolves the `models:` section against the graph's folder; missing files and bad config
    /// values are errors at their positions.
    static func resolveModels(_ file: GraphFile, files: FileLocations, params: [String: ParamValue],
                              errors: inout [Diagnostic]) -> [String: ModelRef] {
        var out: [String: ModelRef] = [:]
        for m in file.models {
            if out[m.name] != nil {
                errors.append(Diagnostic("model '\(m.name)' is declared twice", at: file.location(m.mark)))
                continue
            }
            guard let rawValue = literal(m.path), case let .success(.string(path)) = substitute(rawValue, params: params), !path.isEmpty else {
                errors.append(Diagnostic("model '\(m.name)': 'path' must be a file name", at: file.location(m.path.mark)))
                continue
            }
            let url = files.url(path)
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) || isDir.boolValue {
                // A path from a param: say how to point it elsewhere.
                let named = paramNames(in: rawValue).filter { params[$0] != nil }
                var hint = files.workingDirectoryHint(path)
                if hint.isEmpty && !named.isEmpty { hint = "; give the file with " + named.map { "--set \($0)=PATH" }.joined(separator: " ") }
                errors.append(Diagnostic("model '\(m.name)': no such file '\(path)' (looked for \(url.path))\(hint)", at: file.location(m.path.mark)))
                continue
            }
            var config: [String: ParamValue] = [:]
            for (key, value) in m.config {
                guard let v = literal(value), value.scalar != nil else {
                    errors.append(Diagnostic("model '\(m.name)': config '\(key)' must be a number, string or bool", at: file.location(value.mark)))
                    continue
                }
                config[key] = v
            }
            out[m.name] = ModelRef(name: m.name, url: url, config: config, written: path)
        }
        // The shipped models under their names, unless the graph uses a name for its own.
        for (name, var ref) in ShippedModels.refs() where out[name] == nil && !file.models.contains(where: { $0.name == name }) {
            if let moved = files.moved[.shipped(name)] { ref.url = moved }
            out[name] = ref
        }
        return out
    }

    /// The names inside `${…}` in a param value's text.
    static func paramNames(in value: ParamValue) -> [String] {
        guard let text = value.stringValue else { return [] }
        var out: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${"), let close = rest[open.upperBound...].firstIndex(of: "}") {
            out.append(String(rest[open.upperBound..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    /// Checks and fills the `.model` params of a node: a model's name, or "" for the only declared
    /// model of the param's kind, else the shipped one of that kind.
    static func bindModels(_ params: inout [String: ParamValue], spec: NodeSpec, node: GraphFile.NodeDecl,
                           models: [String: ModelRef], file: GraphFile, errors: inout [Diagnostic]) {
        // A declared model whose file is missing or broken has its own error already; the nodes
        // that use it would only repeat it in a misleading way ("declares no models").
        let declared = Set(file.models.map(\.name))
        for ps in spec.params where ps.type == .model {
            let given = params[ps.name]?.stringValue ?? ""
            let mark = node.params.first { $0.name == ps.name }?.value.mark ?? node.mark
            let ofKind = models.values.filter { $0.kind == ps.modelKind && !$0.shipped }.map(\.name).sorted()
            let brokenOfKind = declared.count > models.values.filter { !$0.shipped }.count
            if given.isEmpty ? ofKind.isEmpty && brokenOfKind : declared.contains(given) && (models[given] == nil || models[given]!.shipped) { continue }
            // A model only one input port needs is left unbound when nothing is connected there.
            if given.isEmpty, let port = ps.modelFor, !node.inputs.contains(where: { $0.port == port }) {
                if ofKind.count == 1 { params[ps.name] = .string(ofKind[0]) }
                continue
            }
            if given.isEmpty {
                if ofKind.count == 1 {
                    params[ps.name] = .string(ofKind[0])
                } else if ofKind.isEmpty, let s = models.values.filter({ $0.kind == ps.modelKind && $0.shipped }).map(\.name).sorted().first {
                    params[ps.name] = .string(s)
                } else {
                    let why = ofKind.isEmpty
                        ? "the graph declares no \(ps.modelKind) and none is shipped (add a 'models:' section, or set TEDI_MODELS to tedi's Models folder)"
                        : "the graph declares several \(ps.modelKind)s (\(ofKind.joined(separator: ", ")))"
                    errors.append(Diagnostic("node '\(node.id)' (\(spec.name)) needs param '\(ps.name)': \(why)", at: file.location(mark)))
                }
            } else if let m = models[given] {
                if m.kind != ps.modelKind {
                    errors.append(Diagnostic("node '\(node.id)': model '\(given)' is \(ModelRef.phrase(m.kind)), but param '\(ps.name)' takes \(ModelRef.phrase(ps.modelKind))", at: file.location(mark)))
                }
            } else {
                errors.append(Diagnostic("node '\(node.id)': no model '\(given)' in the graph's models or the shipped ones\(didYouMean(given, in: Array(models.keys)))", at: file.location(mark)))
            }
        }
    }
}
