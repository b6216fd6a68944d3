import Foundation
import TensorCore

/// One file a graph reads, named the way a recipe records it.
public enum FileRef: Hashable, Comparable, CustomStringConvertible {
    /// An input file or declared model, by path as the graph wrote it (relative to its folder, or absolute).
    case path(String)
    /// A shipped model, by name.
    case shipped(String)

    public var description: String {
        switch self {
        case let .path(p): return p
        case let .shipped(n): return "shipped model '\(n)'"
        }
    }
}

/// Where the files a graph names are: paths as written resolve against the graph's folder,
/// shipped models come from the shipped folder, except those a recipe rerun found elsewhere
/// (`RecipeLocator`: in another folder, by name beside the PNG, or by content hash).
public struct FileLocations: Equatable {
    /// The graph's folder.
    public var base: URL
    /// Files found somewhere other than where the graph's text points.
    public var moved: [FileRef: URL] = [:]

    public init(base: URL, moved: [FileRef: URL] = [:]) {
        self.base = base
        self.moved = moved
    }

    /// Where the file written as `path` is.
    public func url(_ path: String) -> URL {
        if let u = moved[.path(path)] { return u }
        return path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path).standardizedFileURL
    }
}

extension FileLocations {
    /// For a relative `path` that is missing from the graph's folder but exists in the working
    /// directory (a `--set sketch=my.png` typed from there): how to name it from the graph's
    /// folder. "" otherwise.
    public func workingDirectoryHint(_ path: String, workingDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> String {
        guard !path.hasPrefix("/") else { return "" }
        let here = workingDirectory.appendingPathComponent(path).standardizedFileURL
        guard FileManager.default.fileExists(atPath: here.path) else { return "" }
        return "; paths are read from the graph's folder, not the working directory: give '\(FileLocations.relativePath(to: here, from: base))' or an absolute path"
    }

    /// `file` named relative to the folder `dir` ("../Examples/a.png").
    public static func relativePath(to file: URL, from dir: URL) -> String {
        let f = file.standardizedFileURL.pathComponents, d = dir.standardizedFileURL.pathComponents
        var common = 0
        while common < min(f.count, d.count), f[common] == d[common] { common += 1 }
        return (Array(repeating: "..", count: d.count - common) + f[common...]).joined(separator: "/")
    }
}

/// Finds the files a PNG's recipe names on this machine, each checked against its SHA-256:
/// 1. at the path the graph wrote, against the graph's folder under the working directory, then
///    in the checkout tedi uses (`Models/`'s parent) (or at the absolute path as written);
///    a shipped model in the shipped models folder;
/// 2. by file name in the PNG's folder and the working directory;
/// 3. by content anywhere at the top of the models folders (the shipped one and every folder of
///    `TEDI_MODELS`, ':'-separated).
/// What is not found is listed with every place looked at.
public struct RecipeLocator {
    public var checkout: URL?
    public var workingDirectory: URL
    /// Folders searched by content hash.
    public var modelFolders: [URL]
    /// The shipped models folder (nil when none is found).
    public var shippedFolder: URL?
    private var hashes: [String: String?] = [:]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        shippedFolder = ShippedModels.directory(environment: environment)
        checkout = shippedFolder?.deletingLastPathComponent()
        workingDirectory = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        var folders = ShippedModels.searchPath(environment: environment)
        if let s = shippedFolder, !folders.contains(s) { folders.append(s) }
        modelFolders = folders
    }

    /// A file that could not be found, and where it was looked for.
    public struct Missing: Equatable {
        public var ref: FileRef
        public var sha256: String
        public var looked: [String]
        /// A file at the first place looked whose content differs (edited since the image was made).
        public var changedAt: String?

        public var message: String {
            var m = "\(ref) (sha256 \(sha256.prefix(12))…) "
            if let c = changedAt { m += "has changed since the image was made (\(c) holds other bytes); " } else { m += "was not found; " }
            return m + "looked in: " + looked.joined(separator: ", ")
        }
    }

    public struct Result {
        /// The graph's path on this machine (it need not exist: the recipe carries its text).
        public var graph: URL
        public var locations: FileLocations
        public var missing: [Missing]
    }

    public mutating func locate(_ recipe: Recipe, pngDirectory: URL) -> Result {
        // Where the graph may be: in this checkout, under the working directory, or as recorded.
        var graphs: [URL] = []
        if recipe.graphPath.hasPrefix("/") {
            graphs = [URL(fileURLWithPath: recipe.graphPath)]
        } else {
            // The working directory first: a user inside a clone reruns against that clone.
            for dir in [workingDirectory, checkout].compactMap({ $0 }) {
                let u = dir.appendingPathComponent(recipe.graphPath).standardizedFileURL
                if !graphs.contains(u) { graphs.append(u) }
            }
        }
        if graphs.isEmpty { graphs = [workingDirectory.appendingPathComponent(recipe.graphPath).standardizedFileURL] }
        // The folder where most relative files are as recorded; then the first whose graph exists.
        let relative = recipe.files.filter { !$0.key.hasPrefix("/") }
        func score(_ g: URL) -> Int {
            let base = g.deletingLastPathComponent()
            return relative.filter { hash(base.appendingPathComponent($0.key).standardizedFileURL) == $0.value }.count
        }
        let scores = graphs.map(score)
        let best = scores.max() ?? 0
        let graph = best > 0 ? graphs[scores.firstIndex(of: best)!]
            : graphs.first { FileManager.default.fileExists(atPath: $0.path) } ?? graphs[0]
        var locations = FileLocations(base: graph.deletingLastPathComponent())
        var missing: [Missing] = []

        for (path, sha) in recipe.files.sorted(by: { $0.key < $1.key }) {
            var places = path.hasPrefix("/") ? [URL(fileURLWithPath: path)]
                : [locations.base.appendingPathComponent(path).standardizedFileURL]
                  + graphs.map { $0.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL }
            let name = URL(fileURLWithPath: path).lastPathComponent
            places += [pngDirectory, workingDirectory].map { $0.appendingPathComponent(name).standardizedFileURL }
            switch find(sha, at: unique(places)) {
            case let .found(u): if u != locations.url(path) { locations.moved[.path(path)] = u }
            case let .missing(m): missing.append(Missing(ref: .path(path), sha256: sha, looked: m.looked, changedAt: m.changedAt))
            }
        }
        let shipped = ShippedModels.refs()
        for (name, sha) in recipe.shipped.sorted(by: { $0.key < $1.key }) {
            switch find(sha, at: shipped[name].map { [$0.url] } ?? []) {
            case let .found(u): if u != shipped[name]?.url { locations.moved[.shipped(name)] = u }
            case let .missing(m): missing.append(Missing(ref: .shipped(name), sha256: sha, looked: m.looked, changedAt: m.changedAt))
            }
        }
        return Result(graph: graph, locations: locations, missing: missing)
    }

    /// The plan that reruns `recipe` (read from the PNG at `pngPath`) on this machine, with `sets`
    /// (the recipe's params first) and `seed`: its files found by `locate`; refused, listing each
    /// missing file and where it was looked for, when a file the run needs is not found.
    public mutating func plan(_ recipe: Recipe, pngPath: String, catalog: Catalog, sets: [(String, String)], seed: Int?,
                              allowOutsideOut: Bool = false) throws -> GraphPlan {
        let found = locate(recipe, pngDirectory: URL(fileURLWithPath: pngPath).deletingLastPathComponent().standardizedFileURL)
        func missingError() -> GraphErrors {
            GraphErrors(found.missing.map { Diagnostic("\(pngPath): the recipe's \($0.message)", at: nil) }
                        + [Diagnostic("\(pngPath): put the files listed above where the recipe looks (a checkout of the repository the graph came from, beside the PNG, or a TEDI_MODELS folder for models) and rerun", at: nil)])
        }
        let file = try GraphFile.parse(Array(recipe.source.utf8), path: found.graph.path)
        var plan: GraphPlan
        do {
            plan = try GraphValidator.validate(file, catalog: catalog, sets: sets, seed: seed, allowOutsideOut: allowOutsideOut,
                                               locations: found.locations)
        } catch let e as GraphErrors {
            // Missing files are the cause; the graph's own errors would only follow from them.
            throw found.missing.isEmpty ? e : missingError()
        }
        // The new PNG names the graph as the old one did (same bytes); a version 1 recipe's
        // absolute path becomes a portable one.
        plan.recipeGraphPath = recipe.version >= 2 ? recipe.graphPath : Recipe.portableGraphPath(found.graph)
        // A file that no longer matters (its param changed with --set) need not be found.
        if !found.missing.isEmpty {
            var needed = Set<FileRef>()
            let s = seed ?? plan.params["seed"]?.intValue ?? 0
            for i in plan.nodes.indices {
                for f in plan.fileReferences(try plan.resolvedParams(i, seed: s), spec: plan.nodes[i].spec).values { needed.insert(f.ref) }
            }
            if found.missing.contains(where: { needed.contains($0.ref) }) { throw missingError() }
        }
        return plan
    }

    private enum Found { case found(URL), missing(Missing) }

    /// The first of `places` with content `sha`, else the first file of that content at the top
    /// of the model folders.
    private mutating func find(_ sha: String, at places: [URL]) -> Found {
        for u in places where hash(u) == sha { return .found(u) }
        for dir in modelFolders {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
            for n in names where !n.hasPrefix(".") {
                let u = dir.appendingPathComponent(n)
                if hash(u) == sha { return .found(u) }
            }
        }
        let changed = places.first.flatMap { hash($0) != nil ? $0.path : nil }
        var looked = places.map(\.path) + modelFolders.map { "\($0.path)/ (by content)" }
        if modelFolders.isEmpty { looked.append("no models folder (set TEDI_MODELS to the Models folder of a tedi checkout)") }
        return .missing(Missing(ref: .path(""), sha256: sha, looked: looked, changedAt: changed))
    }

    /// SHA-256 of a regular file, nil when there is none; each file hashed once.
    private mutating func hash(_ u: URL) -> String? {
        if let h = hashes[u.path] { return h }
        var isDir: ObjCBool = false
        var h: String?
        if FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir), !isDir.boolValue,
           let data = FileManager.default.contents(atPath: u.path) {
            h = SHA256.hex(of: [UInt8](data))
        }
        hashes[u.path] = h
        return h
    }

    private func unique(_ urls: [URL]) -> [URL] {
        var seen = Set<String>()
        return urls.filter { seen.insert($0.path).inserted }
    }
}
