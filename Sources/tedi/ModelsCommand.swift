import Foundation
import Graph
import TensorCore

/// `tedi models`: the shipped models, what each is for, and where they are.
enum ModelsCommand: Command {
    static let name = "models"
    static let summary = "list the shipped models (a graph without a models: section uses them)"
    static let usage = """
    usage: tedi models
    Lists the models that come with tedi (Models/shipped.json): the name a graph uses, the kind
    (generator, attributes, encoder), the file with its size and SHA-256, and what it was trained
    for (Models/README.md has each one's card). A graph with no `models:` section uses them; a node
    whose kind of model the graph does not declare takes the shipped one of that kind. The folder
    is TEDI_MODELS when set, else the Models/ folder of the checkout tedi was built in.
    """

    static func run(_ argv: [String]) throws -> Int32 {
        let args = Arguments(argv)
        try args.finish()
        guard let dir = ShippedModels.directory() else {
            throw UsageError("no models folder found: set TEDI_MODELS to the Models/ folder of a tedi checkout")
        }
        guard FileManager.default.fileExists(atPath: dir.appendingPathComponent(ShippedModels.manifest).path) else {
            throw UsageError("\(dir.path) has no \(ShippedModels.manifest); TEDI_MODELS must name the Models/ folder of a tedi checkout")
        }
        let entries = try ShippedModels.entries(in: dir)
        print("models in \(dir.path):")
        let width = max(4, entries.map(\.name.count).max() ?? 0)
        for e in entries {
            let url = dir.appendingPathComponent(e.file)
            var facts = "missing"
            if let attrs = try? FileManager.default.attributesOfItem(atPath: url.path), let size = attrs[.size] as? Int {
                facts = String(format: "%.1f MB, sha256 %@…", Double(size) / 1e6, String(try SHA256.hexDigest(ofFile: url.path).prefix(12)))
            }
            print("  \(e.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(e.kind.padding(toLength: 14, withPad: " ", startingAt: 0))  \(e.file) (\(facts))")
            print("  \(String(repeating: " ", count: width))  \(e.about)")
        }
        return 0
    }
}

/// A shipped model's file in the models folder tedi uses (`ShippedModels.directory`), so the
/// train and eval commands find their default models from any working directory; `Models/FILE`
/// when there is no models folder (the error then names that path).
func shippedModelPath(_ file: String) -> String {
    ShippedModels.directory().map { $0.appendingPathComponent(file).path } ?? "Models/" + file
}

/// A file of the checkout (`Examples/captions/edits.tsv`) as a default path: in the working
/// directory if it is there, else beside the models folder tedi uses, so the default works from any folder.
func checkoutFilePath(_ relative: String) -> String {
    if FileManager.default.fileExists(atPath: relative) { return relative }
    return ShippedModels.directory().map { $0.deletingLastPathComponent().appendingPathComponent(relative).path } ?? relative
}
