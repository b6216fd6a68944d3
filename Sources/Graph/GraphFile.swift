import Foundation

/// A graph file as written: top-level sections with every value's source position, before any
/// checking against the node catalog. `GraphValidator` turns it into a runnable `GraphPlan`.
public struct GraphFile {
    /// Path of the file (as given); inputs resolve relative to its directory.
    public var path: String
    /// The text the file was parsed from; embedded in recipes, so a PNG rerun does not depend on
    /// the file still being on disk unchanged.
    public var source: String = ""
    public var name: String?
    public var params: [ParamDecl] = []
    public var models: [ModelDecl] = []
    public var nodes: [NodeDecl] = []

    /// The supported `tedi:` format versions.
    public static let supportedVersions = [1]
    static let topLevelKeys = ["tedi", "name", "description", "params", "models", "nodes"]

    public struct ParamDecl {
        public var name: String
        public var value: YAMLNode
    }

    public struct ModelDecl {
        public var name: String
        public var path: YAMLNode
        /// Inline config (`arch`, `size`, …) in source order.
        public var config: [(key: String, value: YAMLNode)]
        public var mark: YAMLMark
    }

    public struct NodeDecl {
        public var id: String
        public var mark: YAMLMark
        public var op: String
        public var opMark: YAMLMark
        public var inputs: [InputDecl]
        /// Every other key, in source order.
        public var params: [(name: String, value: YAMLNode, keyMark: YAMLMark)]
    }

    /// One `in` connection: `port` (nil for the single-input shorthand `in: node`) from `source`.
    public struct InputDecl {
        public var port: String?
        public var portMark: YAMLMark
        public var source: String
        public var sourcePort: String?
        public var mark: YAMLMark
    }

    func location(_ m: YAMLMark) -> FileLocation { FileLocation(file: path, line: m.line, column: m.column) }

    /// Loads `path` from disk; errors are returned all at once as `GraphErrors`.
    public static func load(path: String) throws -> GraphFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            let why = FileManager.default.fileExists(atPath: path, isDirectory: &isDir) ? (isDir.boolValue ? "is a directory" : "cannot be read") : "no such file"
            throw GraphErrors([Diagnostic("cannot open graph '\(path)': \(why)", at: nil)])
        }
        return try parse([UInt8](data), path: path)
    }

    /// Parses graph text. Structural errors (not a map, unknown section, malformed node) are
    /// collected and thrown together.
    public static func parse(_ bytes: [UInt8], path: String) throws -> GraphFile {
        let root: YAMLNode
        do {
            root = try YAML.parse(bytes, path: path)
        } catch let e as YAMLError {
            throw GraphErrors([Diagnostic(e.message, at: FileLocation(file: path, line: e.line, column: e.column))])
        }
        var file = GraphFile(path: path)
        file.source = String(decoding: bytes, as: UTF8.self)
        var errors: [Diagnostic] = []
        func err(_ m: String, _ at: YAMLMark) { errors.append(Diagnostic(m, at: file.location(at))) }

        guard let top = root.mapping else {
            throw GraphErrors([Diagnostic("a graph file is a map with the keys tedi, params, models and nodes", at: file.location(root.mark))])
        }
        var sawVersion = false
        for pair in top {
            let key = pair.keyText
            switch key {
            case "tedi":
                sawVersion = true
                if let v = pair.value.int {
                    if !supportedVersions.contains(v) {
                        err("unsupported graph format version \(v) (this tedi reads version \(supportedVersions.map(String.init).joined(separator: ", ")))", pair.value.mark)
                    }
                } else {
                    err("'tedi:' must be the format version number, e.g. 'tedi: 1'", pair.value.mark)
                }
            case "name":
                file.name = pair.value.text
            case "description":
                break
            case "params":
                guard let m = pair.value.mapping else {
                    if pair.value.scalar?.value != .null { err("'params' must be a map of name: default value", pair.value.mark) }
                    continue
                }
                for p in m {
                    guard p.value.scalar != nil else {
                        err("param '\(p.keyText)' must have a scalar default (number, string or bool)", p.value.mark)
                        continue
                    }
                    if !isIdentifier(p.keyText) {
                        err("param name '\(p.keyText)' must be letters, digits and _", p.key.mark)
                    }
                    file.params.append(ParamDecl(name: p.keyText, value: p.value))
                }
            case "models":
                guard let m = pair.value.mapping else {
                    if pair.value.scalar?.value != .null { err("'models' must be a map of name: path or name: { path: …, … }", pair.value.mark) }
                    continue
                }
                for p in m {
                    if let s = p.value.scalar, case .string = s.value {
                        file.models.append(ModelDecl(name: p.keyText, path: p.value, config: [], mark: p.key.mark))
                    } else if let cfg = p.value.mapping {
                        guard let pathPair = cfg.first(where: { $0.keyText == "path" }) else {
                            err("model '\(p.keyText)' needs a 'path'", p.value.mark)
                            continue
                        }
                        let rest = cfg.filter { $0.keyText != "path" }.map { (key: $0.keyText, value: $0.value) }
                        file.models.append(ModelDecl(name: p.keyText, path: pathPair.value, config: rest, mark: p.key.mark))
                    } else {
                        err("model '\(p.keyText)' must be a path or a map with 'path'", p.value.mark)
                    }
                }
            case "nodes":
                guard let m = pair.value.mapping else {
                    err("'nodes' must be a map of node id: { op: …, … }", pair.value.mark)
                    continue
                }
                for p in m {
                    if let node = parseNode(p, file: file, err: err) { file.nodes.append(node) }
                }
            default:
                err("unknown top-level key '\(key)'\(didYouMean(key, in: topLevelKeys)); expected one of \(topLevelKeys.joined(separator: ", "))", pair.key.mark)
            }
        }
        if !sawVersion {
            err("missing 'tedi: 1' (the graph format version) at the top of the file", root.mark)
        }
        if !errors.isEmpty { throw GraphErrors(errors) }
        return file
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let f = s.unicodeScalars.first, f == "_" || CharacterSet.letters.contains(f) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || $0 == "-" || CharacterSet.alphanumerics.contains($0) }
    }

    private static func parseNode(_ p: YAMLPair, file: GraphFile, err: (String, YAMLMark) -> Void) -> NodeDecl? {
        let id = p.keyText
        if !isIdentifier(id) || id.contains(".") {
            err("node id '\(id)' must be letters, digits, _ and -", p.key.mark)
            return nil
        }
        guard let body = p.value.mapping else {
            err("node '\(id)' must be a map with at least 'op', e.g. { op: input.text, text: \"…\" }", p.value.mark)
            return nil
        }
        guard let opPair = body.first(where: { $0.keyText == "op" }) else {
            err("node '\(id)' has no 'op'", p.key.mark)
            return nil
        }
        guard let op = opPair.value.string else {
            err("node '\(id)': 'op' must be an op name such as 'write.png'", opPair.value.mark)
            return nil
        }
        var inputs: [InputDecl] = []
        var params: [(name: String, value: YAMLNode, keyMark: YAMLMark)] = []
        for kv in body where kv.keyText != "op" {
            if kv.keyText == "in" {
                if let s = kv.value.string {
                    inputs.append(makeInput(port: nil, portMark: kv.key.mark, source: s, mark: kv.value.mark))
                } else if let m = kv.value.mapping {
                    for e in m {
                        if let list = e.value.sequence {
                            for item in list {
                                guard let s = item.string else {
                                    err("node '\(id)': each source of input '\(e.keyText)' must name a node (node or node.port)", item.mark)
                                    continue
                                }
                                inputs.append(makeInput(port: e.keyText, portMark: e.key.mark, source: s, mark: item.mark))
                            }
                            continue
                        }
                        guard let s = e.value.string else {
                            err("node '\(id)': input '\(e.keyText)' must name a source node (node or node.port)", e.value.mark)
                            continue
                        }
                        inputs.append(makeInput(port: e.keyText, portMark: e.key.mark, source: s, mark: e.value.mark))
                    }
                } else {
                    err("node '\(id)': 'in' must be a source node (node or node.port) or a map port: source", kv.value.mark)
                }
            } else {
                params.append((kv.keyText, kv.value, kv.key.mark))
            }
        }
        return NodeDecl(id: id, mark: p.key.mark, op: op, opMark: opPair.value.mark, inputs: inputs, params: params)
    }

    private static func makeInput(port: String?, portMark: YAMLMark, source: String, mark: YAMLMark) -> InputDecl {
        if let dot = source.firstIndex(of: ".") {
            return InputDecl(port: port, portMark: portMark, source: String(source[..<dot]),
                             sourcePort: String(source[source.index(after: dot)...]), mark: mark)
        }
        return InputDecl(port: port, portMark: portMark, source: source, sourcePort: nil, mark: mark)
    }
}
