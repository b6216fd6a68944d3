import Foundation
import TensorCore

/// The models that come with tedi (`Models/shipped.json`): a graph with no `models:` section uses
/// them, and a node whose kind of model the graph does not declare falls back to the shipped one.
public enum ShippedModels {
    /// One shipped model.
    public struct Entry: Sendable, Equatable {
        /// The name graphs use (`model: image_encoder`).
        public var name: String
        /// The file, relative to the models folder.
        public var file: String
        /// A `ModelRef.kind`: "generator", "attributes", "encoder", "sketch encoder", "label encoder", "parser",
        /// "text encoder", "similarity".
        public var kind: String
        /// What it was trained for, one line.
        public var about: String
    }

    /// The manifest's name inside the models folder.
    public static let manifest = "shipped.json"

    /// The folders of `TEDI_MODELS` (':'-separated), in order.
    public static func searchPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> [URL] {
        (environment["TEDI_MODELS"] ?? "").split(separator: ":").map { URL(fileURLWithPath: String($0)).standardizedFileURL }
    }

    /// The models folder: when `TEDI_MODELS` is set, its first folder holding the manifest (else
    /// its first folder); otherwise the first `Models/` holding the manifest above the executable
    /// (a build inside the repository) or the working directory.
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        let listed = searchPath(environment: environment)
        if !listed.isEmpty {
            return listed.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent(manifest).path) } ?? listed[0]
        }
        var starts: [URL] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        starts.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent("Models")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent(manifest).path) { return candidate }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }

    /// The manifest's entries (empty when there is no models folder).
    public static func entries(in dir: URL? = directory()) throws -> [Entry] {
        guard let dir else { return [] }
        let url = dir.appendingPathComponent(manifest)
        let bytes = try FileIO.readAll(url.path, limit: 1 << 20)
        guard case let .array(items)? = try? JSONValue.parse(bytes) else {
            throw GraphErrors([Diagnostic("\(url.path): not a JSON array of models", at: nil)])
        }
        return try items.map { item in
            func field(_ k: String) throws -> String {
                guard case let .object(members) = item, let s = members.first(where: { $0.key == k })?.value.stringValue else {
                    throw GraphErrors([Diagnostic("\(url.path): a model entry lacks the string '\(k)'", at: nil)])
                }
                return s
            }
            return Entry(name: try field("name"), file: try field("file"), kind: try field("kind"), about: try field("about"))
        }
    }

    /// The shipped models as graph models, by name (their files must exist).
    public static func refs() -> [String: ModelRef] {
        guard let dir = directory(), let list = try? entries(in: dir) else { return [:] }
        var out: [String: ModelRef] = [:]
        for e in list {
            let url = dir.appendingPathComponent(e.file).standardizedFileURL
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            out[e.name] = ModelRef(name: e.name, url: url, config: [:], kind: e.kind, shipped: true)
        }
        return out
    }
}
