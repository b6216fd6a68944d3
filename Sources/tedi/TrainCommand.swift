import Dispatch
import Foundation
import Imaging
import Models
import TensorCore

/// `tedi train attributes`: trains the attribute network on SynthFaces streamed in memory, with
/// checkpoints (every few minutes, on Ctrl-C and at the end), a CSV log and a loss plot.
enum TrainCommand: Command {
    static let name = "train"
    static let summary = "train a model on SynthFaces (attributes, generator)"
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

    usage: tedi train generator --out DIR [--size 64] [--steps N | --minutes M] [--resume]
                                [--batch 16] [--lr 0.002] [--seed S] [--data-seed K] [--r1 0.2]
                                [--r1-every 16] [--mixing 0.9] [--ema-kimg 10] [--ema-rampup 0.05]
                                [--channel-divisor 4]
                                [--channel-multiplier 1] [--style-dim 256] [--n-mlp 4]
                                [--attr-balance W] [--attr-balance-beta 0.9] [--attributes Models/attributes.safetensors]
                                [--real-balance RATE] [--real-balance-every 100] [--real-balance-cap 4]
                                [--d-geometry W] [--condition [--condition-classifier W]] [--r1-patterns frozen|own] [--checkpoint-minutes 5]
    Trains a StyleGAN2 generator (rosinality layout, narrowed by --channel-divisor) against a
    residual discriminator on the SynthFaces train split: non-saturating loss, lazy R1, style
    mixing, EMA of G, Adam β (0, 0.99). DIR gets checkpoint.safetensors (G, D, EMA, both Adam
    states, step, data position; atomic; every --checkpoint-minutes, on Ctrl-C or SIGTERM and at the end),
    generator.safetensors (the EMA, loadable by the synthesize node) and a copy per checkpoint
    under snapshots/, log.csv, loss.png, samples.png (EMA on fixed z; one per checkpoint under
    snapshots/) and mixing.png (6 rows of pairs; columns: A, B, A with B's coarse / middle / fine
    layers of w+). log.csv's r1 is nan on steps without R1 (it runs every --r1-every steps).
    R1's parameter gradient is a finite-difference Hessian-vector product; --r1-patterns frozen
    (default) evaluates it with the real batch's leaky-ReLU patterns, as PyTorch's double backward
    does; own (runs from before 2026-12-06) lets each evaluation use its own. May be changed on --resume.
    --attr-balance W (default 0 = off) adds W × L_bal to G's loss against mode dropping: the KL
    divergence from the data's attribute-value frequencies to the running mean (memory β,
    --attr-balance-beta) of the predictions of the frozen attribute network --attributes on G's
    batches. It may be set or changed on --resume; the checkpoint records the weight, β, the
    running means and the network's path and SHA-256 (--resume reads that file again unless
    --attributes names another).
    --real-balance RATE (default 0 = off) samples the real batches balanced against mode dropping:
    every --real-balance-every steps the attribute network reads 256 images of G, and attribute
    values G shows less often than the data get shown more often to D (and less where G overshoots),
    by boosts (at most ×C a value, C = --real-balance-cap, and ×2C a sample) that move by
    RATE × log(data / generated) per measurement. G gets
    no gradient from the network, so it cannot game it. It prints the values furthest below the data
    at each measurement; it may be set or changed on --resume (the boosts are saved in the checkpoint).
    --d-geometry W (default 0 = off) gives D a head that regresses the real batch's face width, yaw
    and tilt from its last hidden layer, adding W × its mean squared error to D's loss (log.csv:
    d_geometry; d_loss stays the adversarial part), so D's features see pose and D can ask G for
    turned and tilted heads. It may be set or changed on --resume.
    --condition conditions G and D on SynthFaces attributes: G draws each face's attributes from the
    first 22 entries of z (as quantiles of the data's priors) and adds their embedding to w; D scores
    reals with their true attributes and fakes with the drawn ones (a projection term). G stays a
    function of z, so every graph works unchanged, and each attribute value is asked for at its data
    frequency. Both embeddings start at zero, so --resume --condition turns a plain run conditioned
    where it stands (for good: the checkpoint and generator.safetensors carry the weights).
    --condition-classifier W (conditioned runs; default 0 = off) gives D a softmax head per attribute
    on its last hidden layer, trained on the reals' attributes (W × its cross-entropy in D's loss;
    log.csv: d_classes), and has G pay W × the same heads' error on its images against the
    attributes z drew, plus the geometry head's error against the drawn width, yaw and tilt when
    --d-geometry is on (log.csv: g_classes). May be set or changed on --resume.
    --ema-kimg K: the half-life of G's EMA (generator.safetensors) in thousands of images. May be
    changed on --resume: a conditioned run learns its attributes faster than a 10k EMA follows.
    """

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        guard let out = try args.option("out") else { throw UsageError("--out DIR is required") }
        let resume = args.flag("resume")
        let condition = args.flag("condition")
        let stepsArg = try args.option("steps"), minutesArg = try args.option("minutes")
        let sizeArg = try args.option("size"), batchArg = try args.option("batch"), lrArg = try args.option("lr")
        let seedArg = try args.option("seed"), dataSeedArg = try args.option("data-seed")
        let ckptMinutes = try Double(args.option("checkpoint-minutes") ?? "5")
        let export = try args.option("export")
        let decayArg = try args.option("lr-decay")
        var gan = GeneratorOptions()
        for (k, _) in GeneratorOptions.names { gan.values[k] = try args.option(k) }
        gan.attrBalance = try args.option("attr-balance")
        gan.attrBalanceBeta = try args.option("attr-balance-beta")
        gan.attributes = try args.option("attributes")
        gan.r1Patterns = try args.option("r1-patterns")
        gan.realBalance = try args.option("real-balance")
        gan.realBalanceEvery = try args.option("real-balance-every")
        gan.realBalanceCap = try args.option("real-balance-cap")
        gan.dGeometry = try args.option("d-geometry")
        gan.conditionClassifier = try args.option("condition-classifier")
        let what = args.positionals()
        try args.finish()
        if what == ["generator"] {
            gan.condition = condition
            guard let ckptMinutes, ckptMinutes > 0 else { throw UsageError("--checkpoint-minutes expects a positive number") }
            guard export == nil, decayArg == nil else { throw UsageError("--export and --lr-decay are for `tedi train attributes`") }
            return try runGenerator(out: out, resume: resume, steps: stepsArg, minutes: minutesArg, size: sizeArg, batch: batchArg,
                                    lr: lrArg, seed: seedArg, dataSeed: dataSeedArg, checkpointMinutes: ckptMinutes, gan: gan)
        }
        if let k = gan.values.first(where: { $0.value != nil })?.key { throw UsageError("--\(k) is for `tedi train generator`") }
        if gan.attrBalance != nil || gan.attributes != nil || gan.attrBalanceBeta != nil || gan.r1Patterns != nil
            || gan.realBalance != nil || gan.realBalanceEvery != nil || gan.realBalanceCap != nil || gan.dGeometry != nil || condition || gan.conditionClassifier != nil {
            throw UsageError("--attr-balance, --attr-balance-beta, --real-balance, --real-balance-every, --real-balance-cap, --d-geometry, --condition, --condition-classifier, --attributes and --r1-patterns are for `tedi train generator`")
        }
        guard what == ["attributes"] else {
            throw UsageError(what.isEmpty ? "say what to train: `tedi train attributes` or `tedi train generator`" : "unknown model '\(what.joined(separator: " "))'; `attributes` and `generator` can be trained")
        }
        guard let ckptMinutes, ckptMinutes > 0 else { throw UsageError("--checkpoint-minutes expects a positive number") }
        let (stepTarget, deadline) = try stopCondition(steps: stepsArg, minutes: minutesArg)

        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let ckptPath = out + "/checkpoint.safetensors"
        let trainer: AttributeTrainer
        if resume {
            guard [sizeArg, batchArg, lrArg, seedArg, dataSeedArg, decayArg].allSatisfy({ $0 == nil }) else {
                throw UsageError("--resume takes the architecture and options from the checkpoint; drop --size/--batch/--lr/--seed/--data-seed/--lr-decay")
            }
            try checkCheckpoint(ckptPath, resume: true)
            trainer = try AttributeTrainer(checkpoint: TrainingCheckpoint.read(ckptPath), path: ckptPath)
        } else {
            try checkCheckpoint(ckptPath, resume: false)
            let int = intOption
            let size = try int(sizeArg, "size", 64)
            guard [16, 32, 64, 128].contains(size) else { throw UsageError("--size is 16, 32, 64 or 128, got \(size)") }
            var config = AttributeNet.Config()
            if size != 64 {
                // Same channels; drop stride-1 layers so the final map stays ≥ 1 px at small sizes.
                config = size == 128 ? AttributeNet.Config(size: 128, channels: [32, 32, 64, 64, 128, 128, 256], strides: [2, 2, 2, 1, 2, 1, 2])
                                     : size == 32 ? AttributeNet.Config(size: 32, channels: [32, 64, 128, 256], strides: [2, 2, 2, 1])
                                                  : AttributeNet.Config(size: 16, channels: [32, 64, 128], strides: [2, 2, 1])
            }
            let batch = try int(batchArg, "batch", 32)
            guard (1...1024).contains(batch) else { throw UsageError("--batch must be in 1...1024, got \(batch)") }
            guard let lr = Float(lrArg ?? "0.001"), lr > 0, lr < 1 else { throw UsageError("--lr expects a number in (0, 1)") }
            let seed = try int(seedArg, "seed", 1), dataSeed = try int(dataSeedArg, "data-seed", 0)
            guard seed >= 0, dataSeed >= 0 else { throw UsageError("--seed and --data-seed must be non-negative") }
            let decay = try int(decayArg, "lr-decay", stepTarget ?? 0)
            guard decay >= 0 else { throw UsageError("--lr-decay must be non-negative") }
            trainer = try AttributeTrainer(config: config, options: .init(batch: batch, learningRate: lr, dataSeed: UInt64(dataSeed),
                                                                          initSeed: UInt64(seed), decaySteps: decay))
        }
        if let t = stepTarget, t <= trainer.step {
            if let export { try trainer.net.save(to: export, dtype: .f16, extraMetadata: provenance(trainer)) }
            print("already at step \(trainer.step) (target \(t)); nothing to train\(export.map { "; exported \($0)" } ?? "")")
            return 0
        }

        let log = try TrainingLog(path: out + "/log.csv", columns: ["step", "seconds", "loss", "cross_entropy", "mse", "train_accuracy"],
                                  resumeStep: resume ? trainer.step : nil)
        let stop = StopFlag.onInterrupt()
        defer { stop.release() }

        let tty = isatty(2) != 0
        let clock = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        let start = clock(), startStep = trainer.step, startElapsed = trainer.elapsedSeconds
        var lastCkpt = start
        var last: AttributeTrainer.StepMetrics?
        func save() throws {
            trainer.elapsedSeconds = startElapsed + (clock() - start)
            try trainer.checkpoint.write(to: ckptPath)
            try trainer.net.save(to: out + "/model.safetensors", extraMetadata: provenance(trainer))
            try PNG.write(try plot(log), to: out + "/loss.png")
            lastCkpt = clock()
        }
        while !stop.isSet {
            if let t = stepTarget, trainer.step >= t { break }
            if let d = deadline, clock() - start >= d { break }
            let m = try trainer.trainStep()
            last = m
            try log.append([Double(m.step), startElapsed + clock() - start, Double(m.loss), Double(m.crossEntropy), Double(m.mse), Double(m.accuracy)])
            guard m.loss.isFinite else {
                try save()
                throw ModelError("the loss became \(m.loss) at step \(m.step); lower --lr and start again")
            }
            if clock() - lastCkpt >= ckptMinutes * 60 { try save() }
            if tty {
                let t = clock() - start, done = trainer.step - startStep
                let per = t / Double(max(done, 1))
                var eta = ""
                if let st = stepTarget { eta = String(format: ", ETA %@", duration(per * Double(st - trainer.step))) }
                if let d = deadline { eta = String(format: ", %@ left", duration(max(0, d - t))) }
                let total = stepTarget.map { "/\($0)" } ?? ""
                FileHandle.standardError.write(String(format: "\r\u{1B}[Kstep %d%@  loss %.4f  acc %.1f%%  %.2f s/step%@",
                                                      trainer.step, total, m.loss, m.accuracy * 100, per, eta).data(using: .utf8)!)
            }
        }
        if tty { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        try save()
        if let export { try trainer.net.save(to: export, dtype: .f16, extraMetadata: provenance(trainer)) }
        let secs = clock() - start
        let done = trainer.step - startStep
        print(String(format: "%@ at step %d (%d steps in %@, %.3f s/step; %@ in total); loss %.4f, batch accuracy %.1f%%",
                     stop.isSet ? "interrupted" : "stopped", trainer.step, done, duration(secs), secs / Double(max(done, 1)),
                     duration(trainer.elapsedSeconds), last?.loss ?? .nan, (last?.accuracy ?? .nan) * 100))
        print("checkpoint \(ckptPath); continue with `tedi train attributes --out \(out) --resume --steps N`")
        return stop.exitCode
    }

    /// Training facts stored next to the config in exported model files.
    static func provenance(_ t: AttributeTrainer) -> [String: String] {
        ["train.steps": String(t.step), "train.batch": String(t.options.batch), "train.lr": String(t.options.learningRate),
         "train.data_seed": String(t.options.dataSeed), "train.init_seed": String(t.options.initSeed),
         "train.decay_steps": String(t.options.decaySteps), "train.seconds": String(format: "%.0f", t.elapsedSeconds)]
    }

    /// The loss plot: total loss (log scale) above batch accuracy.
    static func plot(_ log: TrainingLog) throws -> Image {
        let loss = log.rows.map { ($0[0], $0[2]) }, acc = log.rows.map { ($0[0], $0[5]) }
        return try TrainingPlot.render([
            .init(series: [.init(name: "loss", points: loss, color: (200, 40, 40))], logY: true),
            .init(series: [.init(name: "train accuracy", points: acc, color: (30, 90, 200))], logY: false),
        ])
    }

    static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, t / 60 % 60) : t >= 60 ? String(format: "%dm%02ds", t / 60, t % 60) : "\(t)s"
    }
}

/// A flag set from a signal handler's queue and read by the training loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var signalNumber: Int32?
    private var sources: [DispatchSourceSignal] = []
    func set(_ sig: Int32) { lock.lock(); if signalNumber == nil { signalNumber = sig }; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return signalNumber != nil }
    /// The shell's code for a run stopped by a signal: 130 after Ctrl-C, 143 after SIGTERM.
    var exitCode: Int32 { lock.lock(); defer { lock.unlock() }; return signalNumber.map { 128 + $0 } ?? 0 }

    /// The signals that stop a training run cleanly: Ctrl-C, and SIGTERM (`kill`, Slurm's
    /// `scancel` and time limit, `docker stop`).
    static let signals: [Int32] = [SIGINT, SIGTERM]

    /// A flag that Ctrl-C or SIGTERM sets (instead of killing the process), so a training loop can
    /// finish its step and checkpoint. Call `release()` to restore the default handling.
    static func onInterrupt() -> StopFlag {
        let stop = StopFlag()
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.set(sig) }
            source.resume()
            stop.sources.append(source)
        }
        return stop
    }

    func release() {
        for s in sources { s.cancel() }
        sources = []
        for sig in StopFlag.signals { signal(sig, SIG_DFL) }
    }
}

/// The generator-only options of `tedi train generator` (raw strings until validated).
struct GeneratorOptions {
    static let names: [(String, String)] = [("r1", "0.2"), ("r1-every", "16"), ("mixing", "0.9"), ("ema-kimg", "10"), ("ema-rampup", "0.05"),
                                            ("channel-divisor", "4"), ("channel-multiplier", "1"), ("style-dim", "256"), ("n-mlp", "4")]
    var values: [String: String?] = [:]
    /// `--attr-balance` and `--attributes` (allowed with --resume too).
    var attrBalance: String?
    var attrBalanceBeta: String?
    var attributes: String?
    /// `--r1-patterns frozen|own` (allowed with --resume too).
    var r1Patterns: String?
    /// `--real-balance RATE`, `--real-balance-every N` and `--real-balance-cap C` (allowed with --resume too).
    var realBalance: String?
    var realBalanceEvery: String?
    var realBalanceCap: String?
    /// `--d-geometry W` (allowed with --resume too).
    var dGeometry: String?
    /// `--condition` (allowed with --resume too).
    var condition = false
    /// `--condition-classifier W` (allowed with --resume too).
    var conditionClassifier: String?

    /// The R1 form asked for: true = frozen activation patterns; nil when not given.
    func r1Frozen() throws -> Bool? {
        guard let s = r1Patterns else { return nil }
        guard s == "frozen" || s == "own" else { throw UsageError("--r1-patterns is 'frozen' or 'own', got '\(s)'") }
        return s == "frozen"
    }

    func double(_ k: String) throws -> Double {
        let s = (values[k] ?? nil) ?? GeneratorOptions.names.first { $0.0 == k }!.1
        guard let v = Double(s), v.isFinite else { throw UsageError("--\(k) expects a number, got '\(s)'") }
        return v
    }

    func int(_ k: String) throws -> Int {
        let v = try double(k)
        guard v == v.rounded(), Swift.abs(v) < 1e9 else { throw UsageError("--\(k) expects an integer, got \(v)") }
        return Int(v)
    }

    /// Whether option `key` was given.
    func given(_ key: String) -> Bool { (values[key] ?? nil) != nil }

    /// `--ema-kimg` in images, checked to be positive and finite.
    func emaHalfLife() throws -> Float {
        let images = Float(try double("ema-kimg") * 1000)
        guard images > 0, images.isFinite else { throw UsageError("--ema-kimg expects a positive number of thousands of images") }
        return images
    }

    /// Whether any option but those in `allowed` was given.
    func anyGiven(except allowed: Set<String> = []) -> Bool { values.contains { $0.value != nil && !allowed.contains($0.key) } }
}

extension TrainCommand {
    /// `tedi train generator`: the GAN loop with checkpoints, log, plots and sample grids.
    static func runGenerator(out: String, resume: Bool, steps stepsArg: String?, minutes minutesArg: String?, size sizeArg: String?,
                             batch batchArg: String?, lr lrArg: String?, seed seedArg: String?, dataSeed dataSeedArg: String?,
                             checkpointMinutes ckptMinutes: Double, gan: GeneratorOptions) throws -> Int32 {
        let (stepTarget, deadline) = try stopCondition(steps: stepsArg, minutes: minutesArg)
        func headWeight(_ text: String?, _ flag: String) throws -> Float? {
            try text.map { s in
                guard let w = Float(s), w >= 0, w <= 100 else { throw UsageError("--\(flag) expects a weight in [0, 100], got '\(s)'") }
                return w
            }
        }
        let geometryWeight = try headWeight(gan.dGeometry, "d-geometry")
        let classifierWeight = try headWeight(gan.conditionClassifier, "condition-classifier")
        try FileManager.default.createDirectory(atPath: out + "/snapshots", withIntermediateDirectories: true)
        let ckptPath = out + "/checkpoint.safetensors"
        let trainer: GANTrainer
        var resumedMetadata: [String: String] = [:]
        if resume {
            guard [sizeArg, batchArg, lrArg, seedArg, dataSeedArg].allSatisfy({ $0 == nil }), !gan.anyGiven(except: ["ema-kimg"]) else {
                throw UsageError("--resume takes the architecture and options from the checkpoint; give only --out, --steps/--minutes, --checkpoint-minutes, --ema-kimg, --r1-patterns, --d-geometry, --condition, --condition-classifier and the --attr-balance, --real-balance and --attributes options")
            }
            try checkCheckpoint(ckptPath, resume: true)
            let ckpt = try TrainingCheckpoint.read(ckptPath)
            resumedMetadata = ckpt.metadata
            trainer = try GANTrainer(checkpoint: ckpt, path: ckptPath)
            // Before any option changes, so none is announced for a run that saves nothing.
            if let t = stepTarget, t <= trainer.step {
                print("already at step \(trainer.step) (target \(t)); nothing to train")
                return 0
            }
            if gan.given("ema-kimg") {
                let images = try gan.emaHalfLife(), was = trainer.options.emaHalfLife
                try trainer.setEMAHalfLife(images)
                if images != was { print("EMA half-life \(was / 1000) → \(images / 1000) kimg from step \(trainer.step) on (recorded in the next checkpoint)") }
            }
            if let frozen = try gan.r1Frozen(), frozen != trainer.options.r1FrozenPatterns {
                trainer.setR1FrozenPatterns(frozen)
                print("R1 activation patterns: \(frozen ? "own → frozen" : "frozen → own") from step \(trainer.step) on (recorded in the next checkpoint)")
            }
        } else {
            try checkCheckpoint(ckptPath, resume: false)
            let int = intOption
            let size = try int(sizeArg, "size", 64)
            guard [16, 32, 64, 128, 256].contains(size) else { throw UsageError("--size is 16, 32, 64, 128 or 256, got \(size)") }
            let batch = try int(batchArg, "batch", 16)
            guard let lr = Float(lrArg ?? "0.002"), lr > 0, lr < 1 else { throw UsageError("--lr expects a number in (0, 1)") }
            let seed = try int(seedArg, "seed", 1), dataSeed = try int(dataSeedArg, "data-seed", 0)
            guard seed >= 0, dataSeed >= 0 else { throw UsageError("--seed and --data-seed must be non-negative") }
            let gc = try StyleGAN2Config(size: size, styleDim: gan.int("style-dim"), nMLP: gan.int("n-mlp"),
                                         channelMultiplier: gan.int("channel-multiplier"), channelDivisor: gan.int("channel-divisor"))
            let options = GANTrainer.Options(batch: batch, learningRate: lr, r1Gamma: Float(try gan.double("r1")),
                                             r1Every: try gan.int("r1-every"), mixing: Float(try gan.double("mixing")),
                                             emaHalfLife: try gan.emaHalfLife(),
                                             emaRampup: Float(try gan.double("ema-rampup")),
                                             dataSeed: UInt64(dataSeed), seed: UInt64(seed), r1FrozenPatterns: try gan.r1Frozen() ?? true)
            trainer = try GANTrainer(generator: gc, discriminator: .init(matching: gc), options: options)
        }
        try attachBalance(trainer, gan: gan, resumedMetadata: resume ? resumedMetadata : nil)
        if gan.condition && !trainer.generator.config.conditioning {
            if resume { print("conditioning on SynthFaces attributes from step \(trainer.step) on (recorded in the next checkpoint)") }
            try trainer.setConditioning()
        }
        if let w = classifierWeight {
            if w > 0 && !trainer.generator.config.conditioning {
                throw UsageError("--condition-classifier needs a conditioned run: add --condition")
            }
            if resume && w != trainer.options.conditionClassifier {
                print("D attribute classifier \(trainer.options.conditionClassifier) → \(w) from step \(trainer.step) on (recorded in the next checkpoint)")
            }
            try trainer.setConditionClassifier(w)
        }
        if let w = geometryWeight {
            if resume && w != trainer.options.dGeometry {
                print("D geometry head \(trainer.options.dGeometry) → \(w) from step \(trainer.step) on (recorded in the next checkpoint)")
            }
            try trainer.setDGeometry(w)
        }
        let log = try TrainingLog(path: out + "/log.csv", columns: ["step", "seconds", "d_loss", "g_loss", "r1", "real_score", "fake_score", "attr_kl", "d_geometry", "d_classes", "g_classes"],
                                  resumeStep: resume ? trainer.step : nil)
        let stop = StopFlag.onInterrupt()
        defer { stop.release() }

        let tty = isatty(2) != 0
        let clock = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
        let start = clock(), startStep = trainer.step, startElapsed = trainer.elapsedSeconds
        var lastCkpt = start
        var last: GANTrainer.StepMetrics?
        func save() throws {
            trainer.elapsedSeconds = startElapsed + (clock() - start)
            try trainer.checkpoint.write(to: ckptPath)
            var g = trainer.ema
            g.parameters = g.parameters.mapValues { $0.detached }
            try g.save(to: out + "/generator.safetensors")
            let tag = String(format: "%08d", trainer.step)
            try g.save(to: out + "/snapshots/generator_\(tag).safetensors")
            let grid = try Image.grid(Image.images(from: trainer.samples(count: 64)), columns: 8)
            try PNG.write(grid, to: out + "/samples.png")
            try PNG.write(grid, to: out + "/snapshots/samples_\(tag).png")
            try PNG.write(try Image.grid(Image.images(from: g.mixingGrid(rows: 6, seed: 77)), columns: 5), to: out + "/mixing.png")
            if !log.rows.isEmpty { try PNG.write(try ganPlot(log), to: out + "/loss.png") }
            lastCkpt = clock()
        }
        while !stop.isSet {
            if let t = stepTarget, trainer.step >= t { break }
            if let d = deadline, clock() - start >= d { break }
            let m = try trainer.trainStep()
            last = m
            try log.append([Double(m.step), startElapsed + clock() - start, Double(m.dLoss), Double(m.gLoss), Double(m.r1),
                            Double(m.realScore), Double(m.fakeScore), Double(m.balance), Double(m.geometry),
                            Double(m.classes), Double(m.generatorClasses)])
            guard m.dLoss.isFinite, m.gLoss.isFinite, m.balance.isFinite || trainer.options.attrBalance == 0,
                  m.geometry.isFinite || trainer.options.dGeometry == 0,
                  (m.classes.isFinite && m.generatorClasses.isFinite) || trainer.options.conditionClassifier == 0 else {
                try save()
                throw ModelError("the GAN losses became D \(m.dLoss), G \(m.gLoss), balance \(m.balance), D geometry \(m.geometry), D classes \(m.classes), G classes \(m.generatorClasses) at step \(m.step); lower --lr or raise --r1 and start again")
            }
            if m.generatedFrequencies != nil, let r = trainer.realBalanceReport() {
                if tty { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
                print("step \(m.step - 1) real balance: \(r.under) values under 50% of data; lowest generated/data: \(r.worst.joined(separator: ", "))")
                fflush(stdout)
            }
            if clock() - lastCkpt >= ckptMinutes * 60 { try save() }
            if tty {
                let t = clock() - start, done = trainer.step - startStep
                let per = t / Double(max(done, 1))
                var eta = ""
                if let st = stepTarget { eta = ", ETA " + duration(per * Double(st - trainer.step)) }
                if let d = deadline { eta = ", " + duration(max(0, d - t)) + " left" }
                let total = stepTarget.map { "/\($0)" } ?? ""
                FileHandle.standardError.write(String(format: "\r\u{1B}[Kstep %d%@  D %.3f  G %.3f  %.2f s/step%@",
                                                      trainer.step, total, m.dLoss, m.gLoss, per, eta).data(using: .utf8)!)
            }
        }
        if tty { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        try save()
        let secs = clock() - start, done = trainer.step - startStep
        print(String(format: "%@ at step %d (%d steps in %@, %.3f s/step; %@ in total); D loss %.4f, G loss %.4f",
                     stop.isSet ? "interrupted" : "stopped", trainer.step, done, duration(secs), secs / Double(max(done, 1)),
                     duration(trainer.elapsedSeconds), last?.dLoss ?? .nan, last?.gLoss ?? .nan))
        print("checkpoint \(ckptPath), EMA generator \(out)/generator.safetensors; continue with `tedi train generator --out \(out) --resume --minutes M`")
        return stop.exitCode
    }

    /// Loads the attribute network for `--attr-balance` and `--real-balance` (or the settings a
    /// resumed checkpoint trains with) and hands it to the trainer; a resumed run must use the same network.
    static func attachBalance(_ trainer: GANTrainer, gan: GeneratorOptions, resumedMetadata: [String: String]?) throws {
        var weight = trainer.options.attrBalance, beta = trainer.options.attrBalanceBeta
        var rate = trainer.options.realBalance, every = trainer.options.realBalanceEvery, cap = trainer.options.realBalanceCap
        if let s = gan.attrBalance {
            guard let v = Float(s), v >= 0, v <= 100 else { throw UsageError("--attr-balance expects a number in [0, 100], got '\(s)'") }
            weight = v
        }
        if let s = gan.attrBalanceBeta {
            guard let v = Float(s), v >= 0, v < 1 else { throw UsageError("--attr-balance-beta expects a number in [0, 1), got '\(s)'") }
            beta = v
        }
        if let s = gan.realBalance {
            guard let v = Float(s), v >= 0, v <= 10 else { throw UsageError("--real-balance expects a rate in [0, 10], got '\(s)'") }
            rate = v
        }
        if let s = gan.realBalanceEvery {
            guard let v = Int(s), (1...100_000).contains(v) else { throw UsageError("--real-balance-every expects a step count in 1...100000, got '\(s)'") }
            every = v
        }
        if let s = gan.realBalanceCap {
            guard let v = Float(s), v >= 1, v <= 64 else { throw UsageError("--real-balance-cap expects a factor in [1, 64], got '\(s)'") }
            cap = v
        }
        if gan.attrBalanceBeta != nil && weight == 0 { throw UsageError("--attr-balance-beta is only read with --attr-balance W > 0") }
        if (gan.realBalanceEvery != nil || gan.realBalanceCap != nil) && rate == 0 {
            throw UsageError("--real-balance-every and --real-balance-cap are only read with --real-balance RATE > 0")
        }
        let resumed = resumedMetadata != nil
        func announce() {
            guard resumed else { return }
            let o = trainer.options
            if weight != o.attrBalance || beta != o.attrBalanceBeta {
                print(weight == 0 ? "attribute balance off from step \(trainer.step) on (recorded in the next checkpoint)"
                                  : "attribute balance \(o.attrBalance) (β \(o.attrBalanceBeta)) → \(weight) (β \(beta)) from step \(trainer.step) on (recorded in the next checkpoint)")
            }
            if rate != o.realBalance || every != o.realBalanceEvery || (rate > 0 && cap != o.realBalanceCap) {
                print(rate == 0 ? "balanced real sampling off from step \(trainer.step) on (recorded in the next checkpoint)"
                                : "balanced real sampling rate \(o.realBalance) → \(rate), every \(every) steps, cap ×\(o.realBalanceCap) → ×\(cap), from step \(trainer.step) on (recorded in the next checkpoint)")
            }
        }
        guard weight > 0 || rate > 0 else {
            if gan.attributes != nil { throw UsageError("--attributes is only read with --attr-balance W > 0 or --real-balance RATE > 0") }
            announce()
            try trainer.setAttributeBalance(weight: 0, nil)
            try trainer.setRealBalance(rate: 0, nil)
            return
        }
        // Default: on --resume the file the run trained with (its digest is checked below), else the shipped one.
        let recorded = resumedMetadata?["gan.attr_net_path"].flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        let path = gan.attributes ?? recorded ?? "Models/attributes.safetensors"
        guard FileManager.default.fileExists(atPath: path) else {
            if gan.attributes == nil, let was = resumedMetadata?["gan.attr_net_path"] {
                throw UsageError("the attribute network this run trained with, \(was), is gone, and \(path) does not exist either; give the network's file as --attributes FILE")
            }
            throw UsageError("--attributes \(path) does not exist (the attribute balance reads G's images with it)")
        }
        var h = SHA256()
        h.update(try FileIO.readAll(path, limit: 1 << 30))
        let digest = h.hexDigest()
        if let old = resumedMetadata?["gan.attr_net_sha256"], old != digest {
            // Another network changes what the balance asks for: only on purpose, by naming it.
            guard gan.attributes != nil else {
                throw UsageError("this run trained its attribute balance with another attribute network (SHA-256 \(old.prefix(12))…); give that file as --attributes, or name a new one with --attributes on purpose")
            }
            print("attribute balance: switching to the network \(path) (SHA-256 \(digest.prefix(12))…) from step \(trainer.step) on")
        }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let balance = try AttributeBalance(net: AttributeNet.load(path), netDigest: digest, netPath: absolute, dataSeed: trainer.options.dataSeed)
        announce()
        try trainer.setAttributeBalance(weight: weight, beta: beta, balance)
        try trainer.setRealBalance(rate: rate, every: every, cap: cap, balance)
    }

    /// The GAN loss plot: D and G losses, and R1 (log scale) where it was computed.
    static func ganPlot(_ log: TrainingLog) throws -> Image {
        let d = log.rows.map { ($0[0], $0[2]) }, g = log.rows.map { ($0[0], $0[3]) }
        let r1 = log.rows.filter { $0[4].isFinite && $0[4] > 0 }.map { ($0[0], $0[4]) }
        var panels: [TrainingPlot.Panel] = [
            .init(series: [.init(name: "D loss", points: d, color: (200, 40, 40)), .init(name: "G loss", points: g, color: (30, 90, 200))], logY: false),
        ]
        if !r1.isEmpty { panels.append(.init(series: [.init(name: "R1", points: r1, color: (40, 150, 60))], logY: true)) }
        let kl = log.rows.filter { $0.count > 7 && $0[7].isFinite }.map { ($0[0], $0[7]) }
        if !kl.isEmpty { panels.append(.init(series: [.init(name: "attribute KL", points: kl, color: (150, 60, 160))], logY: false)) }
        let geo = log.rows.filter { $0.count > 8 && $0[8].isFinite }.map { ($0[0], $0[8]) }
        if !geo.isEmpty { panels.append(.init(series: [.init(name: "D geometry MSE", points: geo, color: (200, 130, 20))], logY: true)) }
        let dc = log.rows.filter { $0.count > 10 && $0[9].isFinite }.map { ($0[0], $0[9]) }
        let gc = log.rows.filter { $0.count > 10 && $0[10].isFinite }.map { ($0[0], $0[10]) }
        if !dc.isEmpty {
            panels.append(.init(series: [.init(name: "D attribute CE (reals)", points: dc, color: (120, 70, 20)),
                                         .init(name: "G classifier term (fakes)", points: gc, color: (20, 140, 160))], logY: true))
        }
        return try TrainingPlot.render(panels)
    }
}

extension TrainCommand {
    /// `--steps N` or `--minutes M` (exactly one): a step target or a deadline in seconds.
    static func stopCondition(steps: String?, minutes: String?) throws -> (steps: Int?, seconds: Double?) {
        guard (steps == nil) != (minutes == nil) else { throw UsageError("give exactly one of --steps N or --minutes M") }
        if let s = steps {
            guard let v = Int(s), v >= 1, v <= 100_000_000 else { throw UsageError("--steps expects an integer in 1...100000000, got '\(s)'") }
            return (v, nil)
        }
        guard let m = minutes, let v = Double(m), v > 0, v <= 100_000 else {
            throw UsageError("--minutes expects a positive number, got '\(minutes ?? "")'")
        }
        return (nil, v * 60)
    }

    /// With `--resume` the checkpoint must exist; without it, it must not (nothing is overwritten).
    static func checkCheckpoint(_ path: String, resume: Bool) throws {
        let exists = FileManager.default.fileExists(atPath: path)
        if resume && !exists { throw UsageError("--resume: \(path) does not exist; start a run without --resume first") }
        if !resume && exists { throw UsageError("\(path) exists; add --resume to continue it, or choose another --out") }
    }

    /// An integer option's value, `fallback` when absent.
    static func intOption(_ s: String?, _ name: String, _ fallback: Int) throws -> Int {
        guard let s else { return fallback }
        guard let v = Int(s) else { throw UsageError("--\(name) expects an integer, got '\(s)'") }
        return v
    }
}
