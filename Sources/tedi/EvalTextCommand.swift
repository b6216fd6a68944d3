import Foundation
import Models
import SynthFaces
import TensorCore
import Text

extension EvalCommand {
    /// `tedi eval text`.
    static func runText(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        func path(_ flag: String, _ fallback: String) throws -> String {
            let p = try args.option(flag) ?? fallback
            guard FileManager.default.fileExists(atPath: p) else { throw UsageError("--\(flag) \(p) does not exist") }
            return p
        }
        let generator = try path("generator", "Models/synthfaces64.safetensors"), attributes = try path("attributes", "Models/attributes.safetensors")
        let text = try path("text-encoder", "Models/text_encoder.safetensors")
        let paraphrases = try path("paraphrases", "Examples/captions/paraphrases.tsv")
        var o = TextEval.Options()
        o.count = try args.int("count", default: 1000)
        o.diversityCount = try args.int("diversity", default: 64)
        let dataSeed = try args.int("data-seed", default: 0), seed = try args.int("seed", default: 11)
        try args.finish()
        guard (2...SynthFaces.Split.test.range.count).contains(o.count) else { throw UsageError("--count must be in 2...\(SynthFaces.Split.test.range.count)") }
        guard o.diversityCount >= 1 else { throw UsageError("--diversity must be at least 1") }
        guard dataSeed >= 0, seed >= 0 else { throw UsageError("--data-seed and --seed must be non-negative") }
        o.dataSeed = UInt64(dataSeed); o.seed = UInt64(seed)
        let models = TextEval.Models(generator: try StyleGAN2Generator.load(path: generator), attributes: try AttributeNet.load(attributes),
                                     text: try TextEncoder.load(text))
        let paraphraseSet: [StatedCaption]
        do { paraphraseSet = try TextEval.captions(file: paraphrases) } catch let e as ModelError { throw UsageError(e.description) }
        let start = Date()
        let log = { (s: String) in FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
        var rows = try TextEval.run(models, set: "grammar (\(o.count) test faces)", captions: try TextEval.grammarCaptions(count: o.count, dataSeed: o.dataSeed),
                                    options: o, log: log)
        rows += try TextEval.run(models, set: "paraphrases (\(paraphraseSet.count), by hand)", captions: paraphraseSet, options: o, log: log)
        print("text → face, eval seed \(seed), data seed \(dataSeed); \(String(format: "%.0f", Date().timeIntervalSince(start))) s\n")
        print(TextEval.markdown(rows), terminator: "")
        return 0
    }
}
