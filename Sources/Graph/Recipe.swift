import Foundation
import TensorCore

/// The fully resolved recipe embedded in every PNG a graph writes (tEXt chunk `tedi.graph`):
/// the graph's source text, where it was, the seed, every param value, and the SHA-256 of every
/// file it read. `tedi run RESULT.png` reloads it, finds the files (`RecipeLocator`), refuses when
/// one is missing or changed, and otherwise reproduces the same bytes.
///
/// Nothing in it depends on the machine: the graph is named relative to the checkout whose
/// `Models/` tedi uses (or the working directory), files as the graph wrote them (relative to the
/// graph's folder), shipped models by name. So the same run in two clones embeds the same text and
/// writes the same bytes. (Version 1 recipes named everything by absolute path; they still rerun.)
///
/// The text is a small YAML document (strings double-quoted and escaped), so it reads well in
/// `tedi.graph` dumps and parses with the same loader as graph files.
public struct Recipe: Equatable {
    /// Relative to the checkout or the working directory where it ran (see `portableGraphPath`),
    /// absolute only for a graph outside both.
    public var graphPath: String
    public var source: String
    public var seed: Int
    /// Param values as `--set` text, by name.
    public var params: [String: String]
    /// Files read, by path as the graph wrote it (relative to the graph's folder, or absolute) → SHA-256.
    public var files: [String: String]
    /// Shipped models used, by name → SHA-256 of their weights.
    public var shipped: [String: String] = [:]
    /// The format it was read in (1: absolute paths).
    public var version = Recipe.version

    public static let textKey = "tedi.graph"
    public static let version = 2

    public init(graphPath: String, source: String, seed: Int, params: [String: String],
                files: [String: String], shipped: [String: String] = [:]) {
        self.graphPath = graphPath; self.source = source; self.seed = seed
        self.params = params; self.files = files; self.shipped = shipped
    }

    public var text: String {
        var t = "tedi-recipe: \(Recipe.version)\n"
        t += "graph: \(Recipe.quote(graphPath))\n"
        t += "seed: \(seed)\n"
        t += "params:\n"
        for k in params.keys.sorted() { t += "  \(Recipe.quote(k)): \(Recipe.quote(params[k]!))\n" }
        t += "files:\n"
        for k in files.keys.sorted() { t += "  \(Recipe.quote(k)): \(Recipe.quote(files[k]!))\n" }
        t += "shipped:\n"
        for k in shipped.keys.sorted() { t += "  \(Recipe.quote(k)): \(Recipe.quote(shipped[k]!))\n" }
        t += "source: \(Recipe.quote(source))\n"
        return t
    }

    /// Parses recipe text (version 1 or 2); errors name what is missing.
    public static func parse(_ text: String, path: String) throws -> Recipe {
        let root = try YAML.parse(text, path: path)
        guard let m = root.mapping, let v = m.first(where: { $0.keyText == "tedi-recipe" })?.value.int, (1...version).contains(v) else {
            throw NodeError("\(path): the '\(textKey)' text is not a tedi recipe (version 1 or \(version)); a newer tedi may have written it")
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
        var r = Recipe(graphPath: graph, source: source, seed: seed, params: map("params"), files: map("files"), shipped: map("shipped"))
        r.version = v
        return r
    }

    /// How a recipe names the graph at `url`: relative to the checkout holding the models folder
    /// tedi uses (`Graphs/demo.yaml`), else relative to the working directory, else absolute.
    public static func portableGraphPath(_ url: URL, checkout: URL? = ShippedModels.directory()?.deletingLastPathComponent(),
                                         workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> String {
        let path = url.standardizedFileURL.path
        for dir in [checkout, workingDirectory].compactMap({ $0?.standardizedFileURL.path }) {
            let prefix = dir.hasSuffix("/") ? dir : dir + "/"
            if path.hasPrefix(prefix) { return String(path.dropFirst(prefix.count)) }
        }
        return path
    }

    /// YAML double-quoted scalar: a JSON string literal is one (JSON's escapes are a subset of YAML's).
    static func quote(_ s: String) -> String { JSONValue.quoted(s) }
}
