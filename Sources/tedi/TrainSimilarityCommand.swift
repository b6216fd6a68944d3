import Foundation
import Models
import TensorCore

/// `tedi train similarity`: the text–image similarity model S.
enum TrainSimilarityCommand: TrainSubcommand {
    static let name = "similarity"
    static let usage = """
    usage: tedi train similarity --out DIR [--steps N | --minutes M] [--resume] [--attributes Models/attributes.safetensors]
                                 [--batch 256] [--lr 0.001] [--pool 8192] [--seed S] [--data-seed K]
                                 [--lr-decay N] [--checkpoint-minutes 5] [--export FILE]
    Trains the text–image similarity model (Models/SimilarityModel.swift): captions and faces into one
    embedding, contrastive on (render, caption) pairs where every face in the batch that shows all a
    caption states counts as its match. The image side reads the frozen attribute network's features of
    --pool train renders (computed once; 75% degraded like the generator's faces); captions are drawn
    afresh each step (grammar captions reworded, fragments, negations, typos). DIR gets
    checkpoint.safetensors, similarity.safetensors (loadable by optimize's text term), log.csv and loss.png.
    --resume continues bit-identically. --export FILE also writes the weights as F16 to FILE (as shipped).
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let session = try SessionOptions(&args)
        let batchArg = try args.option("batch"), lrArg = try args.option("lr"), poolArg = try args.option("pool")
        let seedArg = try args.option("seed"), dataSeedArg = try args.option("data-seed"), decayArg = try args.option("lr-decay")
        let export = try args.option("export"), attributesArg = try args.option("attributes")
        try finish(args)
        let attributes = attributesArg ?? shippedModelPath("attributes.safetensors")
        guard FileManager.default.fileExists(atPath: attributes) else { throw UsageError("--attributes \(attributes) does not exist") }
        let net = try AttributeNet.load(attributes)
        try session.prepare()
        let log = { (s: String) in FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
        let trainer: SimilarityTrainer
        if session.resume {
            guard [batchArg, lrArg, poolArg, seedArg, dataSeedArg, decayArg].allSatisfy({ $0 == nil }) else {
                throw UsageError("--resume takes the options from the checkpoint; give only --out, --steps/--minutes, --checkpoint-minutes, --attributes and --export")
            }
            trainer = try SimilarityTrainer(checkpoint: TrainingCheckpoint.read(session.checkpointPath), net: net, path: session.checkpointPath, log: log)
        } else {
            let batch = try SessionOptions.int(batchArg, "batch", 256), pool = try SessionOptions.int(poolArg, "pool", 8192)
            guard let lr = Float(lrArg ?? "0.001"), lr > 0, lr < 1 else { throw UsageError("--lr expects a number in (0, 1)") }
            let seeds = try SessionOptions.seeds(seedArg, dataSeedArg)
            let options = SimilarityTrainer.Options(batch: batch, learningRate: lr, dataSeed: seeds.data, seed: seeds.seed,
                                                    decaySteps: try SessionOptions.int(decayArg, "lr-decay", session.target.steps ?? 0), pool: pool)
            do { try options.validate() } catch let e as ModelError { throw UsageError(e.description) }
            trainer = try SimilarityTrainer(options: options, net: net, log: log)
        }
        let save = { if let export { try trainer.model.save(to: export, extraMetadata: trainer.provenance, dtype: .f16) } }
        if session.alreadyDone(trainer, note: export.map { "; exported \($0)" } ?? "") { try save(); return 0 }
        let code = try session.run(trainer, command: name)
        try save()
        return code
    }
}
