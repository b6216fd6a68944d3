import Foundation
import Models
import TensorCore

/// `tedi train encoder`: an encoder into the frozen generator's W+.
enum TrainEncoderCommand: TrainSubcommand {
    static let name = "encoder"
    static let usage = """
    usage: tedi train encoder --out DIR [--modality image|sketch|label|text] [--steps N | --minutes M] [--resume]
                              [--generator Models/synthfaces64.safetensors] [--attributes Models/attributes.safetensors]
                              [--teacher Models/image_encoder.safetensors] [--parser Models/face_parser.safetensors]
                              [--batch 8] [--lr 0.0005] [--seed S] [--data-seed K] [--lr-decay N]
                              [--sample-fraction 0.5] [--mixing 0.5] [--pixel 1] [--feature 0.8] [--latent 1] [--w-norm 0.005]
                              [--layout 0 | 1] [--augment 0.6] [--from ENCODER.safetensors] [--checkpoint-minutes 5] [--export FILE]
    Trains an image encoder E into the frozen generator G's W+ (pSp's objective): each batch holds
    SynthFaces renders (train split, rendered in memory) and, --sample-fraction of it, G's own samples
    (w+ known; two codes crossed at a random layer with probability --mixing). Loss = --pixel ×
    ‖G(E(x)) − x‖² + --feature × the perceptual distance in the attribute network's conv maps + --latent ×
    ‖E(x) − w+‖² (samples) + --w-norm × ‖E(x) − w̄‖. DIR gets checkpoint.safetensors (atomic; every
    --checkpoint-minutes, on Ctrl-C or SIGTERM and at the end), encoder.safetensors (the weights, loadable
    by encode.image), log.csv, loss.png and reconstructions.png (8 held-out renders above G(E(x))).
    --modality sketch|label trains on SynthFaces pairs instead (no generator samples): the render's
    sketch (--augment of them perturbed like a person's: thicker, lighter, strokes left out, stray
    strokes, offset, or Sobel edges of the photo) or one-hot label map in, the render as the target,
    --latent pulling E(s) toward the image encoder's code of the render (--teacher), and --layout × the
    face parser's cross-entropy of G(E(s)) against the render's label map (--parser; default 1 for
    these modalities, 0 for images).
    --modality text trains the text encoder (Models/TextEncoder.swift): captions → what they state
    about each attribute, on SynthFaces' grammar captions reworded and captions in other shapes
    (fragments, negations, typos); only --batch (64), --lr (0.002), --seed, --data-seed, --lr-decay and
    --export apply, and no generator runs (the codes come from the conditioned generator at run time).
    --resume continues bit-identically with the frozen models the run recorded (path and SHA-256;
    give --generator / --attributes / --teacher / --parser if they moved).
    --from FILE starts from an encoder file's weights (fine-tuning with a fresh Adam, e.g. against a
    newer --parser); its modality must match, and its SHA-256 is recorded in the checkpoint.
    --lr-decay N decays the learning rate along a cosine to 2% at step N (default: --steps of a new run).
    --export FILE also writes the encoder's weights as F16 to FILE (as shipped), also when the run is
    already at its step target.
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let session = try SessionOptions(&args)
        let modalityArg = try args.option("modality"), modality = modalityArg ?? "image"
        let generatorArg = try args.option("generator"), attributesArg = try args.option("attributes")
        let batchArg = try args.option("batch"), lrArg = try args.option("lr")
        let seedArg = try args.option("seed"), dataSeedArg = try args.option("data-seed"), decayArg = try args.option("lr-decay")
        let export = try args.option("export")
        var weights: [String: String] = [:]
        for k in ["sample-fraction", "mixing", "pixel", "feature", "latent", "w-norm", "layout", "augment"] { weights[k] = try args.option(k) }
        let teacherArg = try args.option("teacher"), parserArg = try args.option("parser"), fromArg = try args.option("from")
        try finish(args)
        if modality == "text" || (session.resume && modalityArg == nil && (try? TrainingCheckpoint.read(session.checkpointPath).metadata["arch"]) == TextEncoder.arch) {
            guard weights.isEmpty, generatorArg == nil, attributesArg == nil, teacherArg == nil, parserArg == nil, fromArg == nil else {
                throw UsageError("--modality text trains on captions alone; it takes --batch, --lr, --seed, --data-seed, --lr-decay and --export, not the image losses or frozen models")
            }
            return try runText(session, batch: batchArg, lr: lrArg, seed: seedArg, dataSeed: dataSeedArg, decay: decayArg, export: export)
        }
        guard let inChannels = EncoderTrainer.modalityChannels[modality] else {
            throw UsageError("--modality is image, sketch or label, got '\(modality)'")
        }
        let paired = modality != "image"
        try session.prepare()
        let trainer: EncoderTrainer
        if session.resume {
            guard [batchArg, lrArg, seedArg, dataSeedArg, decayArg, modalityArg, fromArg].allSatisfy({ $0 == nil }), weights.isEmpty else {
                throw UsageError("--resume takes the architecture and options from the checkpoint; give only --out, --steps/--minutes, --checkpoint-minutes, --export, --generator, --attributes, --teacher and --parser")
            }
            let c = try TrainingCheckpoint.read(session.checkpointPath)
            func recorded(_ given: String?, _ key: String, _ flag: String) throws -> String {
                if let given { return given }
                guard let p = c.metadata[key] else { throw UsageError("the checkpoint records no \(flag) file; give --\(flag)") }
                guard FileManager.default.fileExists(atPath: p) else { throw UsageError("the \(flag) this run trained with, \(p), is gone; give its file as --\(flag)") }
                return p
            }
            trainer = try EncoderTrainer(checkpoint: c, path: session.checkpointPath,
                                         generator: frozenGenerator(recorded(generatorArg, "enc.generator_path", "generator")),
                                         attributes: frozenAttributes(recorded(attributesArg, "enc.attributes_path", "attributes")),
                                         teacher: c.metadata["enc.teacher_sha256"] == nil ? nil
                                             : frozenEncoder(recorded(teacherArg, "enc.teacher_path", "teacher")),
                                         parser: c.metadata["enc.parser_sha256"] == nil ? nil
                                             : frozenParser(recorded(parserArg, "enc.parser_path", "parser")))
            if session.alreadyDone(trainer, note: export.map { "; exported \($0)" } ?? "") {
                if let export { try trainer.encoder.save(to: export, dtype: .f16, extraMetadata: trainer.provenance) }
                return 0
            }
        } else {
            let batch = try SessionOptions.int(batchArg, "batch", 8)
            guard let lr = Float(lrArg ?? "0.0005"), lr > 0, lr < 1 else { throw UsageError("--lr expects a number in (0, 1)") }
            let seeds = try SessionOptions.seeds(seedArg, dataSeedArg)
            let decay = try SessionOptions.int(decayArg, "lr-decay", session.target.steps ?? 0)
            func number(_ k: String, _ fallback: Float) throws -> Float {
                guard let s = weights[k] else { return fallback }
                guard let v = Float(s), v.isFinite else { throw UsageError("--\(k) expects a number, got '\(s)'") }
                return v
            }
            let options = EncoderTrainer.Options(batch: batch, learningRate: lr, dataSeed: seeds.data, seed: seeds.seed,
                                                 sampleFraction: try number("sample-fraction", paired ? 0 : 0.5), mixing: try number("mixing", 0.5),
                                                 pixel: try number("pixel", 1), feature: try number("feature", 0.8),
                                                 latent: try number("latent", 1), wNorm: try number("w-norm", 0.005), decaySteps: decay,
                                                 layout: try number("layout", paired ? 1 : 0), augment: try number("augment", 0.6),
                                                 startedFrom: try fromArg.map { path in
                                                     guard FileManager.default.fileExists(atPath: path) else { throw UsageError("--from \(path) does not exist") }
                                                     return try SHA256.hexDigest(ofFile: path)
                                                 })
            do { try options.validate() } catch let e as ModelError { throw UsageError(e.description) }
            let g = try frozenGenerator(generatorArg ?? shippedModelPath("synthfaces64.safetensors"))
            let config = LatentEncoder.Config(size: g.model.config.size, inChannels: inChannels, modality: modality,
                                              nLatent: g.model.nLatent, styleDim: g.model.styleDim)
            let teacher = paired && options.latent > 0 ? try frozenEncoder(teacherArg ?? shippedModelPath("image_encoder.safetensors")) : nil
            // An image run with --layout is refused by the trainer's check (below), before any parser is needed.
            let parser = paired && options.layout > 0 ? try frozenParser(parserArg ?? shippedModelPath("face_parser.safetensors")) : nil
            do {
                trainer = try EncoderTrainer(config: config, options: options, generator: g,
                                             attributes: frozenAttributes(attributesArg ?? shippedModelPath("attributes.safetensors")), teacher: teacher, parser: parser,
                                             initial: try fromArg.map(LatentEncoder.load))
            } catch let e as ModelError { throw UsageError(e.description) }
        }
        let code = try session.run(trainer, command: "encoder")
        if let export { try trainer.encoder.save(to: export, dtype: .f16, extraMetadata: trainer.provenance) }
        return code
    }

    static func runText(_ session: SessionOptions, batch batchArg: String?, lr lrArg: String?, seed seedArg: String?, dataSeed dataSeedArg: String?,
                        decay decayArg: String?, export: String?) throws -> Int32 {
        try session.prepare()
        let trainer: TextTrainer
        if session.resume {
            guard [batchArg, lrArg, seedArg, dataSeedArg, decayArg].allSatisfy({ $0 == nil }) else {
                throw UsageError("--resume takes the options from the checkpoint; give only --out, --steps/--minutes, --checkpoint-minutes and --export")
            }
            trainer = try TextTrainer(checkpoint: try TrainingCheckpoint.read(session.checkpointPath), path: session.checkpointPath)
            if session.alreadyDone(trainer, note: export.map { "; exported \($0)" } ?? "") {
                if let export { try trainer.encoder.save(to: export, extraMetadata: trainer.provenance, dtype: .f16) }
                return 0
            }
        } else {
            let batch = try SessionOptions.int(batchArg, "batch", 64)
            guard let lr = Float(lrArg ?? "0.002"), lr > 0, lr < 1 else { throw UsageError("--lr expects a number in (0, 1)") }
            let seeds = try SessionOptions.seeds(seedArg, dataSeedArg)
            let options = TextTrainer.Options(batch: batch, learningRate: lr, dataSeed: seeds.data, seed: seeds.seed,
                                              decaySteps: try SessionOptions.int(decayArg, "lr-decay", session.target.steps ?? 0))
            do {
                try options.validate()
                trainer = try TextTrainer(config: TextEncoder.Config(vocabulary: TextTrainer.vocabulary(dataSeed: seeds.data)), options: options)
            } catch let e as ModelError { throw UsageError(e.description) }
        }
        let code = try session.run(trainer, command: "encoder")
        if let export { try trainer.encoder.save(to: export, extraMetadata: trainer.provenance, dtype: .f16) }
        return code
    }

    static func frozenGenerator(_ path: String) throws -> FrozenModel<StyleGAN2Generator> {
        guard FileManager.default.fileExists(atPath: path) else { throw UsageError("--generator \(path) does not exist") }
        return try FrozenModel(path: path) { try StyleGAN2Generator.load(path: $0) }
    }

    static func frozenEncoder(_ path: String) throws -> FrozenModel<LatentEncoder> {
        guard FileManager.default.fileExists(atPath: path) else { throw UsageError("--teacher \(path) does not exist") }
        return try FrozenModel(path: path) { try LatentEncoder.load($0) }
    }

    static func frozenParser(_ path: String) throws -> FrozenModel<FaceParser> {
        guard FileManager.default.fileExists(atPath: path) else { throw UsageError("--parser \(path) does not exist (train one with `tedi train parser`)") }
        return try FrozenModel(path: path) { try FaceParser.load($0) }
    }

    static func frozenAttributes(_ path: String) throws -> FrozenModel<AttributeNet> {
        guard FileManager.default.fileExists(atPath: path) else { throw UsageError("--attributes \(path) does not exist") }
        return try FrozenModel(path: path) { try AttributeNet.load($0) }
    }
}
