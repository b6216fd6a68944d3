import Foundation
import Models
import SynthFaces
import TensorCore

/// `tedi eval attributes`: per-attribute held-out accuracy of an attribute network.
enum EvalCommand: Command {
    static let name = "eval"
    static let summary = "evaluate a model on held-out SynthFaces (attributes)"
    static let usage = """
    usage: tedi eval attributes [--model Models/attributes.safetensors] [--count 1000]
                                [--split test|val] [--data-seed K]
    Prints a Markdown table: per attribute, the accuracy on the first --count samples of the
    held-out split (continuous attributes: the share within a tolerance, and the mean absolute
    error), next to the accuracy of always guessing the most frequent value.
    """

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let model = try args.option("model") ?? "Models/attributes.safetensors"
        let count = try args.int("count", default: 1000)
        let splitName = try args.option("split") ?? "test"
        let dataSeed = try args.int("data-seed", default: 0)
        let what = args.positionals()
        try args.finish()
        guard what == ["attributes"] else {
            throw UsageError(what.isEmpty ? "say what to evaluate: `tedi eval attributes`" : "unknown model '\(what.joined(separator: " "))'; this build evaluates `attributes`")
        }
        guard let split = SynthFaces.Split(rawValue: splitName), split != .train else { throw UsageError("--split is test or val, got '\(splitName)'") }
        guard (1...split.range.count).contains(count) else { throw UsageError("--count must be in 1...\(split.range.count)") }
        guard dataSeed >= 0 else { throw UsageError("--data-seed must be non-negative") }
        guard FileManager.default.fileExists(atPath: model) else { throw UsageError("--model \(model) does not exist") }
        let net = try AttributeNet.load(model)
        let start = Date()
        let rows = try AttributeEval.run(net, split: split, count: count, dataSeed: UInt64(dataSeed))
        print("\(model) on \(count) \(splitName) samples (data seed \(dataSeed)), \(String(format: "%.1f", Date().timeIntervalSince(start))) s\n")
        print(AttributeEval.markdown(rows), terminator: "")
        return 0
    }
}
