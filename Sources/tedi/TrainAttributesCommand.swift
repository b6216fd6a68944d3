import Foundation
import Models
import TensorCore

/// `tedi train attributes`: the attribute network on SynthFaces streamed in memory.
enum TrainAttributesCommand: TrainSubcommand {
    static let name = "attributes"
    static let usage = """
    usage: tedi train attributes --out DIR [--size 64] [--steps N | --minutes M] [--resume]
                                 [--batch 32] [--lr 0.001] [--seed S] [--data-seed K]
                                 [--lr-decay N] [--checkpoint-minutes 5] [--export FILE]
    Trains the attribute network on the SynthFaces train split (rendered in memory).
    DIR gets checkpoint.safetensors (parameters + Adam state + step + data position, written
    atomically every --checkpoint-minutes, on Ctrl-C or SIGTERM and at the end), log.csv, loss.png and
    model.safetensors (the weights alone, as shipped; --export also writes them, F16, to FILE).
    --steps N trains until step N in total (with --resume: counting earlier sessions);
    --minutes M trains for M more minutes. --resume continues DIR's checkpoint bit-identically;
    the architecture and options then come from the checkpoint (giving them again is an error).
    --seed S seeds the weight initialization, --data-seed K the SynthFaces stream.
    --lr-decay N decays the learning rate along a cosine to 2% at step N (default: --steps of a
    new run; 0, the default with --minutes, keeps it constant).
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let session = try SessionOptions(&args)
        let sizeArg = try args.option("size"), batchArg = try args.option("batch"), lrArg = try args.option("lr")
        let seedArg = try args.option("seed"), dataSeedArg = try args.option("data-seed")
        let export = try args.option("export"), decayArg = try args.option("lr-decay")
        try finish(args)
        try session.prepare()
        let trainer: AttributeTrainer
        if session.resume {
            guard [sizeArg, batchArg, lrArg, seedArg, dataSeedArg, decayArg].allSatisfy({ $0 == nil }) else {
                throw UsageError("--resume takes the architecture and options from the checkpoint; drop --size/--batch/--lr/--seed/--data-seed/--lr-decay")
            }
            trainer = try AttributeTrainer(checkpoint: TrainingCheckpoint.read(session.checkpointPath), path: session.checkpointPath)
        } else {
            let size = try SessionOptions.int(sizeArg, "size", 64)
            guard [16, 32, 64, 128].contains(size) else { throw UsageError("--size is 16, 32, 64 or 128, got \(size)") }
            var config = AttributeNet.Config()
            if size != 64 {
                // Same channels; drop stride-1 layers so the final map stays ≥ 1 px at small sizes.
                config = size == 128 ? AttributeNet.Config(size: 128, channels: [32, 32, 64, 64, 128, 128, 256], strides: [2, 2, 2, 1, 2, 1, 2])
                                     : size == 32 ? AttributeNet.Config(size: 32, channels: [32, 64, 128, 256], strides: [2, 2, 2, 1])
                                                  : AttributeNet.Config(size: 16, channels: [32, 64, 128], strides: [2, 2, 1])
            }
            let batch = try SessionOptions.int(batchArg, "batch", 32)
            guard (1...1024).contains(batch) else { throw UsageError("--batch must be in 1...1024, got \(batch)") }
            guard let lr = Float(lrArg ?? "0.001"), lr > 0, lr < 1 else { throw UsageError("--lr expects a number in (0, 1)") }
            let seeds = try SessionOptions.seeds(seedArg, dataSeedArg)
            let decay = try SessionOptions.int(decayArg, "lr-decay", session.target.steps ?? 0)
            guard decay >= 0 else { throw UsageError("--lr-decay must be non-negative") }
            trainer = try AttributeTrainer(config: config, options: .init(batch: batch, learningRate: lr, dataSeed: seeds.data,
                                                                          initSeed: seeds.seed, decaySteps: decay))
        }
        if session.alreadyDone(trainer, note: export.map { "; exported \($0)" } ?? "") {
            if let export { try trainer.net.save(to: export, dtype: .f16, extraMetadata: trainer.provenance) }
            return 0
        }
        let code = try session.run(trainer, command: "attributes")
        if let export { try trainer.net.save(to: export, dtype: .f16, extraMetadata: trainer.provenance) }
        return code
    }
}
