import Foundation
import TensorCore

/// The fully resolved recipe embedded in every PNG a graph writes (tEXt chunk `tedi.graph`):
/// the graph's source text, where it was (inputs resolve against that directory), the seed, every
/// param value, and the SHA-256 of every input file it read. `tedi run RESULT.png` reloads it,
/// refuses when an input is missing or changed, and otherwise reproduces the same bytes.
///
/// The text is a small YAML document (strings double-quoted and escaped), so it reads well in
/// `tedi.graph` dumps and parses with the same loader as graph files.
public struct Recipe: Equatable {
    public var graphPath: String
    public var source: String
    public var seed: Int
    /// Param values as `--set` text, by name.
    public var params: [String: String]
    /// Absolute input path → SHA-256.
    public var files: [String: String]

    public static let textKey = "tedi.graph"

    public var text: String {
        var t = "tedi-recipe: 1\n"
        t += "graph: \(Recipe.quote(graphPath))\n"
        t += "seed: \(seed)\n"
        t += "params:\n"
        for k in params.keys.sorted() { t += "  \(Recipe.quote(k)): \(Recipe.quote(params[k]!))\n" }
        t += "files:\n"
        for k in files.keys.sorted() { t += "  \(Recipe.quote(k)): \(Recipe.quote(files[k]!))\n" }
        t += "source: \(Recipe.quote(source))\n"
        return t
    }

    /// Parses recipe text; errors name what is missing.
    public static func parse(_ text: String, path: String) throws -> Recipe {
        let root = try YAML.parse(text, path: path)
        guard let m = root.mapping, m.first(where: { $0.keyText == "tedi-recipe" })?.value.int == 1 else {
            throw NodeError("\(path): the '\(textKey)' text is not a tedi recipe (version 1)")
        }
        func get(_ k: String) -> YAMLNode? { m.first { $0.keyText == k }?.value }
        func map(_ k: String) -> [String: String] {
            var out: [String: String] = [:]
            for p in get(k)?.mapping ?? [] { out[p.keyText] = p.value.text ?? "" }
            return out
        }
        guard let graph = get("graph")?.text, let seed = get("seed")?.int, let source = get("source")?.text else {
            throw NodeError("\(path): the recipe lacks graph, seed or source")
        }
        return Recipe(graphPath: graph, source: source, seed: seed, params: map("params"), files: map("files"))
    }

    /// YAML double-quoted scalar: a JSON string literal is one (JSON's escapes are a subset of YAML's).
    static func quote(_ s: String) -> String { JSONValue.quoted(s) }
}
