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
        let generator = try path("generator", shippedModelPath("synthfaces64.safetensors")), attributes = try path("attributes", shippedModelPath("attributes.safetensors"))
        let text = try path("text-encoder", shippedModelPath("text_encoder.safetensors"))
        let paraphrases = try path("paraphrases", checkoutFilePath("Examples/captions/paraphrases.tsv")), edits = try path("edits", checkoutFilePath("Examples/captions/edits.tsv"))
        let negations = try path("negations", checkoutFilePath("Examples/captions/negations.tsv"))
        let similarity = try path("similarity", shippedModelPath("similarity.safetensors")), image = try path("image-encoder", shippedModelPath("image_encoder.safetensors"))
        var o = TextEval.Options()
        o.count = try args.int("count", default: 1000)
        o.diversityCount = try args.int("diversity", default: 64)
        o.optimizeCount = try args.int("optimize-count", default: 128)
        o.steps = try args.int("steps", default: 20)
        o.editCount = try args.int("edit-count", default: 200)
        let strength = try args.option("strength") ?? "1"
        guard let st = Float(strength), st >= 0, st <= 10 else { throw UsageError("--strength expects a number in [0, 10], got '\(strength)'") }
        o.strength = st
        guard let ef = Float(try args.option("edit-feature") ?? "1"), ef >= 0, let er = Float(try args.option("edit-reg") ?? "0"), er >= 0 else {
            throw UsageError("--edit-feature and --edit-reg expect non-negative numbers")
        }
        o.editFeature = ef; o.editRegularization = er
        let dataSeed = try args.int("data-seed", default: 0), seed = try args.int("seed", default: 11)
        try args.finish()
        guard (2...SynthFaces.Split.test.range.count).contains(o.count) else { throw UsageError("--count must be in 2...\(SynthFaces.Split.test.range.count)") }
        guard o.diversityCount >= 1 else { throw UsageError("--diversity must be at least 1") }
        guard o.optimizeCount == 0 || o.optimizeCount >= 4, (1...10_000).contains(o.steps) else {
            throw UsageError("--optimize-count must be 0 (no optimize rows) or at least 4, and --steps in 1...10000")
        }
        guard (0...SynthFaces.Split.test.range.count).contains(o.editCount) else { throw UsageError("--edit-count must be in 0...\(SynthFaces.Split.test.range.count)") }
        guard dataSeed >= 0, seed >= 0 else { throw UsageError("--data-seed and --seed must be non-negative") }
        o.dataSeed = UInt64(dataSeed); o.seed = UInt64(seed)
        let models = TextEval.Models(generator: try StyleGAN2Generator.load(path: generator), attributes: try AttributeNet.load(attributes),
                                     text: try TextEncoder.load(text), similarity: try SimilarityModel.load(similarity), image: try LatentEncoder.load(image))
        let paraphraseSet: [StatedCaption], negationSet: [StatedCaption], editSet: [StatedCaption]
        do {
            paraphraseSet = try TextEval.captions(file: paraphrases)
            negationSet = try TextEval.captions(file: negations)
            editSet = try TextEval.captions(file: edits)
            try models.similarity?.check(backbone: models.attributes)
        } catch let e as ModelError { throw UsageError(e.description) }
        let start = Date()
        let log = { (s: String) in FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
        var rows = try TextEval.run(models, set: "grammar (\(o.count) test faces)", captions: try TextEval.grammarCaptions(count: o.count, dataSeed: o.dataSeed),
                                    options: o, log: log)
        rows += try TextEval.run(models, set: "paraphrases (\(paraphraseSet.count), by hand)", captions: paraphraseSet, options: o, log: log)
        rows += try TextEval.run(models, set: "negations and everyday words (\(negationSet.count), by hand)", captions: negationSet, options: o, log: log)
        print("text → face, eval seed \(seed), data seed \(dataSeed); \(String(format: "%.0f", Date().timeIntervalSince(start))) s\n")
        print(TextEval.markdown(rows), terminator: "")
        let a = try TextEval.alignment(models, count: min(o.count, 200), dataSeed: o.dataSeed, seed: o.seed)
        print(String(format: "\nW+ alignment on %d held-out (render, caption) pairs: mean squared distance from T(caption) to the image encoder's code of its render %.4f, to renders it contradicts %.4f; closer to its own render for %.3f of captions (random codes: %.3f)\n",
                     a.count, a.matched, a.contradicting, a.closerShare, a.randomCloserShare))
        if let s = models.similarity {
            let report = try TextEval.similarity(s, net: models.attributes, count: min(o.count, 1000), dataSeed: o.dataSeed)
            print("\nsimilarity model \(similarity):\n")
            print(TextEval.similarityMarkdown(report), terminator: "")
        }
        if o.editCount > 0 {
            let editRows = try TextEval.runEdits(models, instructions: editSet, options: o, log: log)
            print("\nediting \(o.editCount) held-out test faces, instructions from \(edits) (\(editSet.count), by hand); \(String(format: "%.0f", Date().timeIntervalSince(start))) s in all\n")
            print(TextEval.editMarkdown(editRows), terminator: "")
        }
        return 0
    }
}
