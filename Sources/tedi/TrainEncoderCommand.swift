import Foundation
import Models
import TensorCore

/// `tedi train encoder`: an encoder into the frozen generator's W+.
enum TrainEncoderCommand: TrainSubcommand {
    static let name = "encoder"
    static let usage = """
    usage: tedi train encoder --out DIR [--modality image] [--steps N | --minutes M] [--resume]
                              [--generator Models/synthfaces64.safetensors] [--attributes Models/attributes.safetensors]
                              [--batch 8] [--lr 0.0005] [--seed S] [--data-seed K] [--lr-decay N]
                              [--sample-fraction 0.5] [--mixing 0.5] [--pixel 1] [--feature 0.8] [--latent 1] [--w-norm 0.005]
                              [--checkpoint-minutes 5] [--export FILE]
    Trains an image encoder E into the frozen generator G's W+ (pSp's objective): each batch holds
    SynthFaces renders (train split, rendered in memory) and, --sample-fraction of it, G's own samples
    (w+ known; two codes crossed at a random layer with probability --mixing). Loss = --pixel ×
    ‖G(E(x)) − x‖² + --feature × the perceptual distance in the attribute network's conv maps + --latent ×
    ‖E(x) − w+‖² (samples) + --w-norm × ‖E(x) − w̄‖. DIR gets checkpoint.safetensors (atomic; every
    --checkpoint-minutes, on Ctrl-C or SIGTERM and at the end), encoder.safetensors (the weights, loadable
    by encode.image), log.csv, loss.png and reconstructions.png (8 held-out renders above G(E(x))).
    --resume continues bit-identically with the generator and attribute network the run recorded
    (path and SHA-256; give --generator / --attributes if they moved).
    --lr-decay N decays the learning rate along a cosine to 2% at step N (default: --steps of a new run).
    --export FILE also writes the encoder's weights as F16 to FILE (as shipped), also when the run is
    already at its step target.
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let session = try SessionOptions(&args)
        let modality = try args.option("modality") ?? "image"
        let generatorArg = try args.option("generator"), attributesArg = try args.option("attributes")
        let batchArg = try args.option("batch"), lrArg = try args.option("lr")
        let seedArg = try args.option("seed"), dataSeedArg = try args.option("data-seed"), decayArg = try args.option("lr-decay")
        let export = try args.option("export")
        var weights: [String: String] = [:]
        for k in ["sample-fraction", "mixing", "pixel", "feature", "latent", "w-norm"] { weights[k] = try args.option(k) }
        try finish(args)
        guard modality == "image" else {
            throw UsageError("--modality \(modality): only image encoders train so far (sketch and label maps come with their encoders)")
        }
        try session.prepare()
        let trainer: EncoderTrainer
        if session.resume {
            guard [batchArg, lrArg, seedArg, dataSeedArg, decayArg].allSatisfy({ $0 == nil }), weights.isEmpty else {
                throw UsageError("--resume takes the architecture and options from the checkpoint; give only --out, --steps/--minutes, --checkpoint-minutes, --generator and --attributes")
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
                                         attributes: frozenAttributes(recorded(attributesArg, "enc.attributes_path", "attributes")))
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
                                                 sampleFraction: try number("sample-fraction", 0.5), mixing: try number("mixing", 0.5),
                                                 pixel: try number("pixel", 1), feature: try number("feature", 0.8),
                                                 latent: try number("latent", 1), wNorm: try number("w-norm", 0.005), decaySteps: decay)
            do { try options.validate() } catch let e as ModelError { throw UsageError(e.description) }
            let g = try frozenGenerator(generatorArg ?? "Models/synthfaces64.safetensors")
            let config = LatentEncoder.Config(size: g.model.config.size, nLatent: g.model.nLatent, styleDim: g.model.styleDim)
            trainer = try EncoderTrainer(config: config, options: options, generator: g,
                                         attributes: frozenAttributes(attributesArg ?? "Models/attributes.safetensors"))
        }
        let code = try session.run(trainer, command: "encoder")
        if let export { try trainer.encoder.save(to: export, dtype: .f16, extraMetadata: trainer.provenance) }
        return code
    }

    static func frozenGenerator(_ path: String) throws -> FrozenModel<StyleGAN2Generator> {
        guard FileManager.default.fileExists(atPath: path) else { throw UsageError("--generator \(path) does not exist") }
        return try FrozenModel(path: path) { try StyleGAN2Generator.load(path: $0) }
    }

    static func frozenAttributes(_ path: String) throws -> FrozenModel<AttributeNet> {
        guard FileManager.default.fileExists(atPath: path) else { throw UsageError("--attributes \(path) does not exist") }
        return try FrozenModel(path: path) { try AttributeNet.load($0) }
    }
}
