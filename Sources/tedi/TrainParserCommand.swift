import Foundation
import Models
import TensorCore

/// `tedi train parser`: the face parser on SynthFaces (render, label map) pairs.
enum TrainParserCommand: TrainSubcommand {
    static let name = "parser"
    static let usage = """
    usage: tedi train parser --out DIR [--steps N | --minutes M] [--resume] [--size 64]
                             [--channels 16,32,64,128] [--decoder-depth 1] [--batch 16] [--lr 0.002] [--augment 0.75]
                             [--unbalanced] [--dice 0] [--from PARSER.safetensors]
                             [--seed S] [--data-seed K]
                             [--lr-decay N] [--checkpoint-minutes 5] [--export FILE]
    Trains the face parser (a U-Net, 19 CelebAMask-HQ classes per pixel) on the SynthFaces train split,
    rendered in memory. --channels are the U-Net's widths, finest level first (one level per halving);
    --decoder-depth 2 gives each decoder level a second 3×3 convolution. Classes are weighted by their
    pixel share^−½ so eyes, brows, lips and glasses count (--unbalanced: plain cross-entropy); --dice W
    adds W × a soft Dice loss, which counts each class once as the mean IoU does. --from starts from a
    parser file's weights (fine-tuning, fresh Adam; its architecture is kept, so --size, --channels and
    --decoder-depth are not given; the file's SHA-256 is recorded in the checkpoint). --augment is the share of faces degraded like the generator's (blurred 0–2 times,
    contrast, brightness, noise). DIR gets checkpoint.safetensors (atomic; every --checkpoint-minutes, on
    Ctrl-C or SIGTERM and at the end), parser.safetensors (the weights, loadable by parse.face), log.csv,
    loss.png and parse.png (8 held-out renders, their label maps, the parser's maps).
    --resume continues bit-identically. --export FILE also writes the weights as F16 to FILE (as shipped).
    """

    static func run(_ args: inout Arguments) throws -> Int32 {
        let session = try SessionOptions(&args)
        let sizeArg = try args.option("size"), batchArg = try args.option("batch"), lrArg = try args.option("lr")
        let augmentArg = try args.option("augment"), seedArg = try args.option("seed"), dataSeedArg = try args.option("data-seed")
        let decayArg = try args.option("lr-decay"), export = try args.option("export")
        let channelsArg = try args.option("channels"), unbalanced = args.flag("unbalanced")
        let depthArg = try args.option("decoder-depth"), diceArg = try args.option("dice"), fromArg = try args.option("from")
        try finish(args)
        try session.prepare()
        let trainer: ParserTrainer
        if session.resume {
            guard [sizeArg, batchArg, lrArg, augmentArg, seedArg, dataSeedArg, decayArg, channelsArg, depthArg, diceArg, fromArg].allSatisfy({ $0 == nil }), !unbalanced else {
                throw UsageError("--resume takes the architecture and options from the checkpoint; give only --out, --steps/--minutes, --checkpoint-minutes and --export")
            }
            trainer = try ParserTrainer(checkpoint: TrainingCheckpoint.read(session.checkpointPath), path: session.checkpointPath)
        } else {
            let size = try SessionOptions.int(sizeArg, "size", 64)
            guard [16, 32, 64, 128].contains(size) else { throw UsageError("--size is 16, 32, 64 or 128, got \(size)") }
            let batch = try SessionOptions.int(batchArg, "batch", 16)
            guard let lr = Float(lrArg ?? "0.002"), lr > 0, lr < 1 else { throw UsageError("--lr expects a number in (0, 1)") }
            guard let augment = Float(augmentArg ?? "0.75"), (0...1).contains(augment) else { throw UsageError("--augment expects a probability in [0, 1]") }
            guard let dice = Float(diceArg ?? "0"), dice >= 0, dice <= 100 else { throw UsageError("--dice expects a weight in [0, 100]") }
            let depth = try SessionOptions.int(depthArg, "decoder-depth", 1)
            let seeds = try SessionOptions.seeds(seedArg, dataSeedArg)
            let decay = try SessionOptions.int(decayArg, "lr-decay", session.target.steps ?? 0)
            var initial: FaceParser?
            if let fromArg {
                guard [sizeArg, channelsArg, depthArg].allSatisfy({ $0 == nil }) else {
                    throw UsageError("--from keeps the architecture of \(fromArg); drop --size, --channels and --decoder-depth")
                }
                guard FileManager.default.fileExists(atPath: fromArg) else { throw UsageError("--from \(fromArg) does not exist") }
                initial = try FaceParser.load(fromArg)
            }
            let options = ParserTrainer.Options(batch: batch, learningRate: lr, dataSeed: seeds.data, seed: seeds.seed, augment: augment,
                                                decaySteps: decay, balanced: !unbalanced, dice: dice,
                                                startedFrom: try fromArg.map { try SHA256.hexDigest(ofFile: $0) })
            let channels = try (channelsArg ?? "16,32,64,128").split(separator: ",").map { part -> Int in
                guard let v = Int(part) else { throw UsageError("--channels expects widths like 16,32,64,128, got '\(channelsArg ?? "")'") }
                return v
            }
            let config = initial?.config ?? FaceParser.Config(size: size, channels: channels, decoderDepth: depth)
            do { try options.validate(); try config.validate() } catch let e as ModelError { throw UsageError(e.description) }
            trainer = try ParserTrainer(config: config, options: options, initial: initial)
        }
        let save = { if let export { try trainer.parser.save(to: export, dtype: .f16, extraMetadata: trainer.provenance) } }
        if session.alreadyDone(trainer, note: export.map { "; exported \($0)" } ?? "") { try save(); return 0 }
        let code = try session.run(trainer, command: name)
        try save()
        return code
    }
}
