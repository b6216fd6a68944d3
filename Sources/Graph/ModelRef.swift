import Foundation

/// A model declared in a graph's `models:` section: where its weights are and the config given
/// inline (`size`, `style_dim`, `n_mlp`, `channel_multiplier`, `arch`…), which fills in for a
/// weights file that carries no config of its own.
public struct ModelRef: Equatable {
    public var name: String
    /// Absolute location of the weights file.
    public var url: URL
    /// Inline config, by key.
    public var config: [String: ParamValue]

    /// Canonical text of the config, for memo keys.
    public var canonicalConfig: String {
        config.keys.sorted().map { "\($0)=\(config[$0]!.canonical)" }.joined(separator: ";")
    }
}

extension GraphValidator {
    /// Resolves the `models:` section against the graph's folder; missing files and bad config
    /// values are errors at their positions.
    static func resolveModels(_ file: GraphFile, base: URL, params: [String: ParamValue],
                              errors: inout [Diagnostic]) -> [String: ModelRef] {
        var out: [String: ModelRef] = [:]
        for m in file.models {
            if out[m.name] != nil {
                errors.append(Diagnostic("model '\(m.name)' is declared twice", at: file.location(m.mark)))
                continue
            }
            guard let raw = literal(m.path), case let .success(.string(path)) = substitute(raw, params: params), !path.isEmpty else {
                errors.append(Diagnostic("model '\(m.name)': 'path' must be a file name", at: file.location(m.path.mark)))
                continue
            }
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path).standardizedFileURL
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) || isDir.boolValue {
                errors.append(Diagnostic("model '\(m.name)': no such file '\(path)' (looked for \(url.path))", at: file.location(m.path.mark)))
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
            out[m.name] = ModelRef(name: m.name, url: url, config: config)
        }
        return out
    }

    /// Checks and fills the `.model` params of a node: a declared model's name, or "" for the only one.
    static func bindModels(_ params: inout [String: ParamValue], spec: NodeSpec, node: GraphFile.NodeDecl,
                           models: [String: ModelRef], file: GraphFile, errors: inout [Diagnostic]) {
        // A declared model whose file is missing or broken has its own error already; the nodes
        // that use it would only repeat it in a misleading way ("declares no models").
        let declared = Set(file.models.map(\.name))
        for ps in spec.params where ps.type == .model {
            let given = params[ps.name]?.stringValue ?? ""
            let mark = node.params.first { $0.name == ps.name }?.value.mark ?? node.mark
            if given.isEmpty ? declared.count == 1 && models.isEmpty : declared.contains(given) && models[given] == nil { continue }
            if given.isEmpty {
                if models.count == 1 {
                    params[ps.name] = .string(models.keys.first!)
                } else {
                    errors.append(Diagnostic("node '\(node.id)' (\(spec.name)) needs param '\(ps.name)': the graph declares \(models.isEmpty ? "no models (add a 'models:' section)" : "several models (\(models.keys.sorted().joined(separator: ", ")))")", at: file.location(mark)))
                }
            } else if models[given] == nil {
                errors.append(Diagnostic("node '\(node.id)': no model '\(given)' in the graph's models\(didYouMean(given, in: Array(models.keys)))", at: file.location(mark)))
            }
        }
    }
}
