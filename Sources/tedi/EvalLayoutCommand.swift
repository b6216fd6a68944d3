import Foundation
import Models
import SynthFaces
import TensorCore

extension EvalCommand {
    /// `tedi eval parser`.
    static func runParser(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let model = try args.option("model") ?? shippedModelPath("face_parser.safetensors")
        let count = try args.int("count", default: 1000)
        let dataSeed = try args.int("data-seed", default: 0)
        try args.finish()
        guard (1...SynthFaces.Split.test.range.count).contains(count) else { throw UsageError("--count must be in 1...\(SynthFaces.Split.test.range.count)") }
        guard dataSeed >= 0 else { throw UsageError("--data-seed must be non-negative") }
        guard FileManager.default.fileExists(atPath: model) else { throw UsageError("--model \(model) does not exist (train one with `tedi train parser`)") }
        let parser = try FaceParser.load(model)
        let start = Date()
        let scores = try [("clean", 0), ("blurred once", 1), ("blurred twice", 2)].map { name, blurs in
            (name: name, score: try ParserEval.run(parser, count: count, dataSeed: UInt64(dataSeed), blurs: blurs))
        }
        print("\(model) on \(count) test renders (data seed \(dataSeed)), \(String(format: "%.1f", Date().timeIntervalSince(start))) s\n")
        print(ParserEval.markdown(scores), terminator: "")
        return 0
    }
}

extension EvalCommand {
    /// `tedi eval layout`.
    static func runLayout(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        func path(_ flag: String, _ fallback: String) throws -> String {
            let p = try args.option(flag) ?? fallback
            guard FileManager.default.fileExists(atPath: p) else { throw UsageError("--\(flag) \(p) does not exist") }
            return p
        }
        let generator = try path("generator", shippedModelPath("synthfaces64.safetensors")), parser = try path("parser", shippedModelPath("face_parser.safetensors"))
        let attributes = try path("attributes", shippedModelPath("attributes.safetensors"))
        let label = try path("label-encoder", shippedModelPath("label_encoder.safetensors")), sketch = try path("sketch-encoder", shippedModelPath("sketch_encoder.safetensors"))
        let image = try path("image-encoder", shippedModelPath("image_encoder.safetensors"))
        var o = LayoutEval.Options()
        o.count = try args.int("count", default: 64)
        o.steps = try args.int("steps", default: 50)
        o.mixes = try args.int("mixes", default: 8)
        let mixFrom = try args.option("mix-from") ?? "6"
        let dataSeed = try args.int("data-seed", default: 0), seed = try args.int("seed", default: 7)
        try args.finish()
        guard (4...SynthFaces.Split.test.range.count).contains(o.count) else { throw UsageError("--count must be in 4...\(SynthFaces.Split.test.range.count)") }
        guard (1...10_000).contains(o.steps) else { throw UsageError("--steps must be in 1...10000") }
        guard (2...64).contains(o.mixes), o.mixes % 2 == 0 else { throw UsageError("--mixes must be an even number in 2...64") }
        guard dataSeed >= 0, seed >= 0 else { throw UsageError("--data-seed and --seed must be non-negative") }
        o.mixFrom = try mixFrom.split(separator: ",").map { s -> Int in
            guard let v = Int(s), v >= 1 else { throw UsageError("--mix-from expects layers like 4,6,8, got '\(mixFrom)'") }
            return v
        }
        o.dataSeed = UInt64(dataSeed); o.seed = UInt64(seed)
        let models = LayoutEval.Models(generator: try StyleGAN2Generator.load(path: generator), parser: try FaceParser.load(parser),
                                       attributes: try AttributeNet.load(attributes), label: try LatentEncoder.load(label), sketch: try LatentEncoder.load(sketch),
                                       image: try LatentEncoder.load(image))
        for (e, want) in [(models.label, "label"), (models.sketch, "sketch"), (models.image, "image")] where e?.config.modality != want {
            throw UsageError("--\(want)-encoder reads \(e?.config.modality ?? "?")s, not \(want)s")
        }
        let start = Date()
        let rows = try LayoutEval.run(models, options: o) { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }
        print("\(o.count) held-out test renders (data seed \(dataSeed)), mixes \(o.mixes), optimize \(o.steps) steps, eval seed \(seed); \(String(format: "%.0f", Date().timeIntervalSince(start))) s\n")
        print(LayoutEval.markdown(rows), terminator: "")
        return 0
    }
}
