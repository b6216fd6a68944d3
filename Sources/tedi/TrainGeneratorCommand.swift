import Foundation
import Models
import TensorCore

/// `tedi train generator`: StyleGAN2 on SynthFaces, with the GAN's optional terms.
enum TrainGeneratorCommand: TrainSubcommand {
    static let name = "generator"
    static let usage = """
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

    static func run(_ args: inout Arguments) throws -> Int32 {
        let session = try SessionOptions(&args)
        let sizeArg = try args.option("size"), batchArg = try args.option("batch"), lrArg = try args.option("lr")
        let seedArg = try args.option("seed"), dataSeedArg = try args.option("data-seed")
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
        gan.condition = args.flag("condition")
        try finish(args)
        func headWeight(_ text: String?, _ flag: String) throws -> Float? {
            try text.map { s in
                guard let w = Float(s), w >= 0, w <= 100 else { throw UsageError("--\(flag) expects a weight in [0, 100], got '\(s)'") }
                return w
            }
        }
        let geometryWeight = try headWeight(gan.dGeometry, "d-geometry")
        let classifierWeight = try headWeight(gan.conditionClassifier, "condition-classifier")
        try session.prepare()
        let ckptPath = session.checkpointPath
        let trainer: GANTrainer
        var resumedMetadata: [String: String] = [:]
        if session.resume {
            guard [sizeArg, batchArg, lrArg, seedArg, dataSeedArg].allSatisfy({ $0 == nil }), !gan.anyGiven(except: ["ema-kimg"]) else {
                throw UsageError("--resume takes the architecture and options from the checkpoint; give only --out, --steps/--minutes, --checkpoint-minutes, --ema-kimg, --r1-patterns, --d-geometry, --condition, --condition-classifier and the --attr-balance, --real-balance and --attributes options")
            }
            let ckpt = try TrainingCheckpoint.read(ckptPath)
            resumedMetadata = ckpt.metadata
            trainer = try GANTrainer(checkpoint: ckpt, path: ckptPath)
            // Before any option changes, so none is announced for a run that saves nothing.
            if session.alreadyDone(trainer) { return 0 }
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
            let int = SessionOptions.int
            let size = try int(sizeArg, "size", 64)
            guard [16, 32, 64, 128, 256].contains(size) else { throw UsageError("--size is 16, 32, 64, 128 or 256, got \(size)") }
            let batch = try int(batchArg, "batch", 16)
            guard let lr = Float(lrArg ?? "0.002"), lr > 0, lr < 1 else { throw UsageError("--lr expects a number in (0, 1)") }
            let seeds = try SessionOptions.seeds(seedArg, dataSeedArg)
            let gc = try StyleGAN2Config(size: size, styleDim: gan.int("style-dim"), nMLP: gan.int("n-mlp"),
                                         channelMultiplier: gan.int("channel-multiplier"), channelDivisor: gan.int("channel-divisor"))
            let options = GANTrainer.Options(batch: batch, learningRate: lr, r1Gamma: Float(try gan.double("r1")),
                                             r1Every: try gan.int("r1-every"), mixing: Float(try gan.double("mixing")),
                                             emaHalfLife: try gan.emaHalfLife(),
                                             emaRampup: Float(try gan.double("ema-rampup")),
                                             dataSeed: seeds.data, seed: seeds.seed, r1FrozenPatterns: try gan.r1Frozen() ?? true)
            trainer = try GANTrainer(generator: gc, discriminator: .init(matching: gc), options: options)
        }
        try attachBalance(trainer, gan: gan, resumedMetadata: session.resume ? resumedMetadata : nil)
        if gan.condition && !trainer.generator.config.conditioning {
            if session.resume { print("conditioning on SynthFaces attributes from step \(trainer.step) on (recorded in the next checkpoint)") }
            try trainer.setConditioning()
        }
        if let w = classifierWeight {
            if w > 0 && !trainer.generator.config.conditioning {
                throw UsageError("--condition-classifier needs a conditioned run: add --condition")
            }
            if session.resume && w != trainer.options.conditionClassifier {
                print("D attribute classifier \(trainer.options.conditionClassifier) → \(w) from step \(trainer.step) on (recorded in the next checkpoint)")
            }
            try trainer.setConditionClassifier(w)
        }
        if let w = geometryWeight {
            if session.resume && w != trainer.options.dGeometry {
                print("D geometry head \(trainer.options.dGeometry) → \(w) from step \(trainer.step) on (recorded in the next checkpoint)")
            }
            try trainer.setDGeometry(w)
        }
        return try session.run(trainer, command: "generator")
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
        let path = gan.attributes ?? recorded ?? shippedModelPath("attributes.safetensors")
        guard FileManager.default.fileExists(atPath: path) else {
            if gan.attributes == nil, let was = resumedMetadata?["gan.attr_net_path"] {
                throw UsageError("the attribute network this run trained with, \(was), is gone, and \(path) does not exist either; give the network's file as --attributes FILE")
            }
            throw UsageError("--attributes \(path) does not exist (the attribute balance reads G's images with it)")
        }
        let digest = try SHA256.hexDigest(ofFile: path, limit: 1 << 30)
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

