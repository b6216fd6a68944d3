import Foundation
import Models
import SynthFaces
import TensorCore

/// `tedi eval attributes`: per-attribute held-out accuracy of an attribute network.
enum EvalCommand: Command {
    static let name = "eval"
    static let summary = "evaluate a model on held-out SynthFaces (attributes, generator, inversion, parser, layout, text)"
    static let usage = """
    usage: tedi eval attributes [--model Models/attributes.safetensors] [--count 1000]
                                [--split test|val] [--data-seed K]
    Prints a Markdown table: per attribute, the accuracy on the first --count samples of the
    held-out split (continuous attributes: the share within a tolerance, and the mean absolute
    error), next to the accuracy of always guessing the most frequent value.

    usage: tedi eval generator [--model G.safetensors]... [--count 1000]
                               [--attributes Models/attributes.safetensors] [--data-seed K] [--seed S] [--json]
                               [--mixing PAIRS]
    Compares --count samples of each generator (z from Philox --seed) with --count test-split
    renders in the attribute network's feature space: FID, k-NN precision and recall (k 3),
    LPIPS-style distance, attribute coverage and (renders and conditioned generators) the share of
    images whose attributes are read as made: the floor row (val renders against the test
    renders), a yardstick row (the same val renders blurred once with a 3×3 binomial: how far
    sharpness alone moves the numbers), then one row per model. Markdown table, or JSON with
    --json. Without --model: the shipped Models/synthfaces64.safetensors and its early checkpoint
    Models/synthfaces64_early.safetensors (the weak baseline). --mixing PAIRS adds, for the
    first model, what its w+ layer groups carry: over PAIRS pairs of faces A and B, per attribute,
    the share of pairs (among those read differently) whose mix of A with B's coarse (0-3),
    middle (4-7) or fine (8-) layers the attribute network reads as B's value.

    usage: tedi eval inversion [--encoder Models/image_encoder.safetensors] [--generator Models/synthfaces64.safetensors]
                               [--attributes Models/attributes.safetensors] [--count 64] [--steps 100,200]
                               [--lr 0.01] [--lambda-feat 0.5] [--lambda-dom 0] [--data-seed K] [--seed S]
    How well codes reproduce faces, on --count held-out test renders and --count generator samples
    (true w+ known; Philox --seed): rows for the mean face (w̄), the encoder alone, encoder + optimize
    at each of --steps, and optimize from w̄ for the most steps (optimize: Adam --lr, pixel MSE +
    --lambda-feat × perceptual + --lambda-dom × ‖w − E(G(w))‖², batches of 16). Columns: pixel MSE
    (images in [-1,1]), PSNR, perceptual distance, attribute agreement (the attribute network reads the
    reconstruction as the render's labels, or as it reads the sample), latent MSE (samples), seconds per
    image on this machine. Then the per-attribute agreement.

    usage: tedi eval parser [--model Models/face_parser.safetensors] [--count 1000] [--data-seed K]
    Per-class IoU of the face parser on --count held-out test renders: clean, and blurred once and
    twice with a 3×3 binomial (softer faces, as the generator makes); mean IoU over the classes
    present and pixel accuracy.

    usage: tedi eval layout [--count 64] [--steps 50] [--mixes 8] [--mix-from 6] [--data-seed K] [--seed S]
                            [--generator G] [--parser P] [--label-encoder E] [--sketch-encoder E] [--image-encoder E]
                            [--attributes A]
    How well faces made from a label map or sketch keep its layout, on --count held-out test
    renders' label maps and sketches. Rows: random samples (the baseline); the renders themselves
    (the parser's own error: the ceiling) and the image encoder's reconstructions of them;
    label → face (encoder; + optimize --steps with the label term); sketch → face (clean;
    perturbed as SketchAugment does, seed S; outlines of the label map, a way of drawing the
    encoders never saw); and each encoder with the layers from each --mix-from layer on (e.g.
    4,6,8) taken from --mixes random codes. Columns: layout mIoU (the parser on the output against
    the input's label map), FID / precision / recall against the held-out renders in the attribute
    network's features, diversity (LPIPS-style distance between mixes of one layout), seconds per
    image.

    usage: tedi eval text [--count 1000] [--paraphrases Examples/captions/paraphrases.tsv] [--negations Examples/captions/negations.tsv] [--diversity 64]
                          [--optimize-count 128] [--steps 20] [--edit-count 200] [--edits Examples/captions/edits.tsv]
                          [--strength 1] [--edit-feature 1] [--edit-reg 0] [--data-seed K] [--seed S] [--generator G] [--attributes A] [--text-encoder T]
                          [--similarity S] [--image-encoder E]
    Text → face on held-out captions: the first grammar caption of each of --count test faces, and
    every caption of --paraphrases and of --negations (written by hand apart from training:
    `caption<TAB>name=value, …`, with `name!=value` for a value a caption rules out, "not bald").
    Rows: random samples; the grammar's exact phrases read by a parser → the conditioned generator
    (a baseline that knows the grammar and nothing else); the text encoder T → W+. Columns: read
    (share of the stated attributes the method read as stated), Acc (share of them the attribute
    network reads in the output), FID and Real (k-NN precision) against test renders in the attribute
    network's features, diversity (LPIPS-style distance between two seeds of one caption, over the
    first --diversity captions), seconds per image. T + optimize (--steps of the similarity model's text
    term from T's codes) runs on the first --optimize-count captions, beside T on the same captions.
    Then editing: --edit-count test faces, each encoded by the image encoder and edited by an
    instruction of --edits (by hand): along the generator's attribute direction as T reads it
    (edit.text, --strength), that plus optimize's text term, and the text term alone; columns: the
    share of asked values the source lacked that the edit shows, the share of other attributes kept,
    the perceptual distance to the source. --optimize-count 0 skips every optimize row.
    """

    static func run(_ argv: [String]) throws -> Int32 {
        if argv.first == "generator" { return try runGenerator(Array(argv.dropFirst())) }
        if argv.first == "inversion" { return try runInversion(Array(argv.dropFirst())) }
        if argv.first == "parser" { return try runParser(Array(argv.dropFirst())) }
        if argv.first == "layout" { return try runLayout(Array(argv.dropFirst())) }
        if argv.first == "text" { return try runText(Array(argv.dropFirst())) }
        var args = Arguments(argv)
        let model = try args.option("model") ?? shippedModelPath("attributes.safetensors")
        let count = try args.int("count", default: 1000)
        let splitName = try args.option("split") ?? "test"
        let dataSeed = try args.int("data-seed", default: 0)
        let what = args.positionals()
        try args.finish()
        guard what == ["attributes"] else {
            throw UsageError(what.isEmpty ? "say what to evaluate: `tedi eval attributes`, `generator`, `inversion`, `parser`, `layout` or `text`" : "unknown model '\(what.joined(separator: " "))'; evaluate `attributes`, `generator`, `inversion`, `parser`, `layout` or `text`")
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

extension EvalCommand {
    /// `tedi eval generator`.
    static func runGenerator(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let modelArgs = try args.options("model")
        let attrs = try args.option("attributes") ?? shippedModelPath("attributes.safetensors")
        let count = try args.int("count", default: 1000)
        let dataSeed = try args.int("data-seed", default: 0)
        let seed = try args.int("seed", default: 1234)
        let json = args.flag("json")
        let mixingPairs = try args.int("mixing", default: 0)
        let rest = args.positionals()
        try args.finish()
        guard rest.isEmpty else { throw UsageError("unexpected argument '\(rest[0])'") }
        guard (0...10_000).contains(mixingPairs) else { throw UsageError("--mixing expects a number of pairs in 1...10000 (0: no mixing table), got \(mixingPairs)") }
        var models = modelArgs
        if models.isEmpty {
            // The shipped generator and its early checkpoint: the README's table.
            models = [shippedModelPath("synthfaces64.safetensors"), shippedModelPath("synthfaces64_early.safetensors")].filter { FileManager.default.fileExists(atPath: $0) }
            guard !models.isEmpty else { throw UsageError("give at least one --model G.safetensors (a generator from `tedi train generator`); or set TEDI_MODELS to the Models folder of a tedi checkout") }
        }
        guard (4...SynthFaces.Split.val.range.count).contains(count) else { throw UsageError("--count must be in 4...\(SynthFaces.Split.val.range.count)") }
        guard dataSeed >= 0, seed >= 0 else { throw UsageError("--data-seed and --seed must be non-negative") }
        for m in models where !FileManager.default.fileExists(atPath: m) { throw UsageError("\(m) does not exist") }
        guard FileManager.default.fileExists(atPath: attrs) else {
            throw UsageError("\(attrs) does not exist: run from the repository root, or give the attribute network as --attributes FILE")
        }
        let net = try AttributeNet.load(attrs)
        let gens = try models.map { (name: $0, model: try StyleGAN2Generator.load(path: $0)) }
        let start = Date()
        let rows = try GANMetrics.evaluate(generators: gens, net: net, count: count, dataSeed: UInt64(dataSeed), seed: UInt64(seed))
        if json { print(GANMetrics.json(rows)); return 0 }
        print("\(count) samples per row against \(count) test renders (data seed \(dataSeed)), features of \(attrs), \(String(format: "%.1f", Date().timeIntervalSince(start))) s\n")
        print(GANMetrics.markdown(rows), terminator: "")
        if let table = GANMetrics.agreementMarkdown(rows) {
            print("\nAttributes read as made: per attribute, the share of images the attribute network reads as the attributes they were made with (renders: their labels, the reader's own accuracy; a conditioned generator: the attributes its z draws)\n")
            print(table, terminator: "")
        }
        if mixingPairs > 0, let first = gens.first {
            let mix = try MixingTransfer.measure(first.model, net: net, count: mixingPairs)
            print("\nStyle mixing, \(first.name): \(mixingPairs) pairs (A, B; ψ 0.7, stored noise); per attribute, the share of the pairs read differently whose mix of A with B's layers is read as B's value\n")
            print(MixingTransfer.markdown(mix, bands: first.model.mixingBands), terminator: "")
        }
        return 0
    }
}

extension EvalCommand {
    /// `tedi eval inversion`.
    static func runInversion(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let encPath = try args.option("encoder") ?? shippedModelPath("image_encoder.safetensors")
        let genPath = try args.option("generator") ?? shippedModelPath("synthfaces64.safetensors")
        let attrPath = try args.option("attributes") ?? shippedModelPath("attributes.safetensors")
        let count = try args.int("count", default: 64)
        let stepsText = try args.option("steps") ?? "100,200"
        let lrText = try args.option("lr") ?? "0.01", featText = try args.option("lambda-feat") ?? "0.5", domText = try args.option("lambda-dom") ?? "0"
        let dataSeed = try args.int("data-seed", default: 0), seed = try args.int("seed", default: 4321)
        try args.finish()
        let steps = stepsText.split(separator: ",").map { Int($0) }
        guard !steps.isEmpty, steps.allSatisfy({ $0 != nil && $0! >= 1 && $0! <= 10_000 }) else { throw UsageError("--steps expects step counts like 100,200, got '\(stepsText)'") }
        let stops = steps.map { $0! }.sorted()
        guard let lr = Float(lrText), lr > 0, lr <= 10, let feat = Float(featText), feat >= 0, let dom = Float(domText), dom >= 0 else {
            throw UsageError("--lr must be in (0, 10], --lambda-feat and --lambda-dom non-negative numbers")
        }
        guard (1...SynthFaces.Split.test.range.count).contains(count) else { throw UsageError("--count must be in 1...\(SynthFaces.Split.test.range.count)") }
        guard dataSeed >= 0, seed >= 0 else { throw UsageError("--data-seed and --seed must be non-negative") }
        for (flag, p) in [("encoder", encPath), ("generator", genPath), ("attributes", attrPath)] where !FileManager.default.fileExists(atPath: p) {
            throw UsageError("--\(flag) \(p) does not exist (run from the repository root, or give the file)")
        }
        let g = try StyleGAN2Generator.load(path: genPath), e = try LatentEncoder.load(encPath), net = try AttributeNet.load(attrPath)
        let mean = try g.meanLatent(count: 4096, seed: 0)
        let start = Date()
        var rows: [InversionEval.Row] = []
        for faces in [try InversionEval.Faces.renders(count: count, size: g.config.size, dataSeed: UInt64(dataSeed)),
                      try InversionEval.Faces.samples(count: count, generator: g, seed: UInt64(seed))] {
            FileHandle.standardError.write("\(faces.name)…\n".data(using: .utf8)!)
            func optimized(_ x: Tensor, from w0: Tensor) throws -> [(codes: Tensor, seconds: Double)] {
                let opt = try LatentOptimizer(options: .init(steps: stops.last!, learningRate: lr, pixel: 1, feature: feat, domain: dom),
                                              generator: g, initial: w0, target: x, attributes: net, encoder: e)
                var out: [(codes: Tensor, seconds: Double)] = []
                var s = opt.start()
                var seconds = 0.0
                for stop in stops {
                    let (_, t) = try InversionEval.timed { while s.step < stop { _ = try opt.step(&s) } }
                    seconds += t
                    out.append((s.w, seconds))
                }
                return out
            }
            let meanCodes = try InversionEval.codes(for: faces.images) { x in
                [(try g.broadcastLatent(mean.broadcast(to: [x.shape[0], g.styleDim])), 0)]
            }[0]
            rows.append(try InversionEval.evaluate("mean face", codes: meanCodes.codes, secondsPerImage: 0, on: faces, generator: g, net: net))
            let enc = try InversionEval.codes(for: faces.images) { x in
                let (w, t) = try InversionEval.timed { try e(x) }
                return [(w, t)]
            }[0]
            rows.append(try InversionEval.evaluate("encoder", codes: enc.codes, secondsPerImage: enc.secondsPerImage, on: faces, generator: g, net: net))
            let fromEncoder = try InversionEval.codes(for: faces.images) { x in
                let (w0, t0) = try InversionEval.timed { try e(x) }
                return try optimized(x, from: w0.detached).map { ($0.codes, $0.seconds + t0) }
            }
            for (stop, r) in zip(stops, fromEncoder) {
                rows.append(try InversionEval.evaluate("encoder + optimize \(stop)", codes: r.codes, secondsPerImage: r.secondsPerImage, on: faces, generator: g, net: net))
            }
            let fromMean = try InversionEval.codes(for: faces.images) { x in
                try optimized(x, from: g.broadcastLatent(mean.broadcast(to: [x.shape[0], g.styleDim]))).suffix(1)
            }[0]
            rows.append(try InversionEval.evaluate("optimize \(stops.last!) from w̄", codes: fromMean.codes, secondsPerImage: fromMean.secondsPerImage, on: faces, generator: g, net: net))
        }
        print("inversion of \(count) held-out renders (data seed \(dataSeed)) and \(count) generator samples (seed \(seed)); \(encPath); optimize: Adam lr \(lr), pixel 1, feature \(feat), domain \(dom); \(String(format: "%.0f", Date().timeIntervalSince(start))) s\n")
        print(InversionEval.markdown(rows))
        print(InversionEval.agreementMarkdown(rows), terminator: "")
        return 0
    }
}
