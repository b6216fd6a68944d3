import Dispatch
import Foundation
import SynthFaces
import TensorCore

/// StyleGAN2 training on SynthFaces renders streamed in memory (train split): non-saturating
/// logistic loss, lazy R1 on reals, style mixing, EMA of G, Adam (lr 0.002, β (0, 0.99)) for both
/// nets, with rosinality's lazy-regularization correction on D's Adam.
///
/// The run is a pure function of (configs, options, step count): batch k is train samples
/// `[k·batch, (k+1)·batch)`, and every random draw of step s (z codes, noise, mixing) comes from
/// Philox under (seed, s), so a checkpoint of the weights, both Adam states, the EMA, the step and
/// the data offset resumes bit-identically.
public final class GANTrainer {
    /// Training hyper-parameters; stored in checkpoints.
    public struct Options: Equatable, Sendable {
        public var batch: Int
        public var learningRate: Float
        /// R1 weight γ (rosinality's `--r1`); 0 turns R1 off.
        public var r1Gamma: Float
        /// Lazy regularization interval: R1 every this many D steps (rosinality's `d_reg_every`).
        public var r1Every: Int
        /// Probability of style mixing (two z codes, one crossover layer) per G batch.
        public var mixing: Float
        /// EMA half-life in images (rosinality's `ema_kimg`·1000): β = 0.5^(batch / halfLife).
        public var emaHalfLife: Float
        /// EMA ramp-up (StyleGAN2-ADA): the half-life is at most this fraction of the images seen so
        /// far, so the EMA of a short run follows G instead of staying near the initialization; 0 = off.
        public var emaRampup: Float
        /// Size of the finite-difference step of the R1 Hessian-vector product, relative to rms(∇ₓD).
        public var r1Epsilon: Float
        /// SynthFaces seed of the training data.
        public var dataSeed: UInt64
        /// Seed of the initialization and of every per-step random draw.
        public var seed: UInt64
        /// Weight of the attribute-balance loss on G (`AttributeBalance`); 0 turns it off.
        public var attrBalance: Float
        /// Memory of the balance's running mean prediction: q̄ ← β·q̄ + (1−β)·(batch mean); 0 = this batch only.
        public var attrBalanceBeta: Float
        /// R1's finite-difference evaluations replay the activation patterns of the real batch, as
        /// double backward does (true, the default); false: each evaluation uses its own (runs from
        /// before 2026-12-06, whose checkpoints lack `gan.r1_patterns`).
        public var r1FrozenPatterns: Bool
        /// Rate of the balanced real sampling's controller (`GANTrainer+RealBalance`); 0 turns it off.
        public var realBalance: Float
        /// Steps between its measurements of G's attribute frequencies.
        public var realBalanceEvery: Int
        /// Largest boost of one attribute value under balanced real sampling (×4 by default); one
        /// sample's weight is capped at twice it, so a sample of weight 1 is accepted with probability 1/(2·cap).
        public var realBalanceCap: Float
        /// Weight of D's geometry head (`GANTrainer+GeometryHead`): D also regresses the real
        /// batch's face width, yaw and tilt from its last hidden layer; 0 turns it off.
        public var dGeometry: Float
        /// Weight of D's attribute classifier (`GANTrainer+ClassHead`, conditioned runs): D learns
        /// the reals' attributes and G pays its error on the attributes z drew; 0 turns it off.
        public var conditionClassifier: Float

        public init(batch: Int = 16, learningRate: Float = 0.002, r1Gamma: Float = 0.2, r1Every: Int = 16, mixing: Float = 0.9,
                    emaHalfLife: Float = 10_000, emaRampup: Float = 0.05, r1Epsilon: Float = 1e-2, dataSeed: UInt64 = 0, seed: UInt64 = 1, attrBalance: Float = 0,
                    attrBalanceBeta: Float = 0.9, r1FrozenPatterns: Bool = true, realBalance: Float = 0, realBalanceEvery: Int = 100, realBalanceCap: Float = GANTrainer.defaultRealBalanceCap, dGeometry: Float = 0,
                    conditionClassifier: Float = 0) {
            self.batch = batch; self.learningRate = learningRate; self.r1Gamma = r1Gamma; self.r1Every = r1Every
            self.mixing = mixing; self.emaHalfLife = emaHalfLife; self.emaRampup = emaRampup; self.r1Epsilon = r1Epsilon
            self.dataSeed = dataSeed; self.seed = seed; self.attrBalance = attrBalance
            self.attrBalanceBeta = attrBalanceBeta
            self.r1FrozenPatterns = r1FrozenPatterns
            self.realBalance = realBalance; self.realBalanceEvery = realBalanceEvery; self.realBalanceCap = realBalanceCap
            self.dGeometry = dGeometry
            self.conditionClassifier = conditionClassifier
        }

        func validate() throws {
            guard (1...1024).contains(batch) else { throw ModelError("GAN batch must be in 1...1024, got \(batch)") }
            guard batch % Swift.min(batch, StyleGAN2Discriminator.stddevGroup) == 0 else {
                throw ModelError("GAN batch \(batch) must be a multiple of 4 (the discriminator's minibatch-stddev group), or below 4")
            }
            guard learningRate > 0, learningRate < 1 else { throw ModelError("learning rate must be in (0, 1), got \(learningRate)") }
            guard r1Gamma >= 0, r1Gamma.isFinite else { throw ModelError("R1 γ must be a non-negative number, got \(r1Gamma)") }
            guard (1...10_000).contains(r1Every) else { throw ModelError("R1 interval must be in 1...10000, got \(r1Every)") }
            guard (0...1).contains(mixing) else { throw ModelError("mixing probability must be in [0, 1], got \(mixing)") }
            guard emaHalfLife > 0, emaHalfLife.isFinite else { throw ModelError("EMA half-life must be positive, got \(emaHalfLife)") }
            guard emaRampup >= 0, emaRampup <= 1 else { throw ModelError("EMA ramp-up must be in [0, 1], got \(emaRampup)") }
            guard r1Epsilon > 0, r1Epsilon < 1 else { throw ModelError("R1 epsilon must be in (0, 1), got \(r1Epsilon)") }
            guard attrBalance >= 0, attrBalance <= 100 else { throw ModelError("attribute-balance weight must be in [0, 100], got \(attrBalance)") }
            guard attrBalanceBeta >= 0, attrBalanceBeta < 1 else { throw ModelError("attribute-balance β must be in [0, 1), got \(attrBalanceBeta)") }
            guard realBalance >= 0, realBalance <= 10 else { throw ModelError("real-balance rate must be in [0, 10], got \(realBalance)") }
            guard (1...100_000).contains(realBalanceEvery) else { throw ModelError("real-balance interval must be in 1...100000, got \(realBalanceEvery)") }
            guard realBalanceCap >= 1, realBalanceCap <= 64 else { throw ModelError("real-balance cap must be in [1, 64], got \(realBalanceCap)") }
            guard dGeometry >= 0, dGeometry <= 100 else { throw ModelError("D geometry-head weight must be in [0, 100], got \(dGeometry)") }
            guard conditionClassifier >= 0, conditionClassifier <= 100 else { throw ModelError("attribute-classifier weight must be in [0, 100], got \(conditionClassifier)") }
        }

        var metadata: [String: String] {
            ["gan.batch": String(batch), "gan.lr": String(learningRate), "gan.r1": String(r1Gamma), "gan.r1_every": String(r1Every),
             "gan.mixing": String(mixing), "gan.ema_half_life": String(emaHalfLife), "gan.ema_rampup": String(emaRampup), "gan.r1_epsilon": String(r1Epsilon),
             "gan.data_seed": String(dataSeed), "gan.seed": String(seed), "gan.attr_balance": String(attrBalance),
             "gan.attr_balance_beta": String(attrBalanceBeta), "gan.r1_patterns": r1FrozenPatterns ? "frozen" : "own",
             "gan.real_balance": String(realBalance), "gan.real_balance_every": String(realBalanceEvery),
             "gan.real_balance_cap": String(realBalanceCap), "gan.d_geometry": String(dGeometry),
             "gan.condition_classifier": String(conditionClassifier)]
        }

        init(metadata m: [String: String], path: String) throws {
            let meta = MetadataReader(m, path: path)
            self.init(batch: try meta.value("gan.batch"), learningRate: try meta.value("gan.lr"), r1Gamma: try meta.value("gan.r1"),
                      r1Every: try meta.value("gan.r1_every"), mixing: try meta.value("gan.mixing"), emaHalfLife: try meta.value("gan.ema_half_life"),
                      emaRampup: m["gan.ema_rampup"] == nil ? 0 : try meta.value("gan.ema_rampup"), r1Epsilon: try meta.value("gan.r1_epsilon"), dataSeed: try meta.value("gan.data_seed"), seed: try meta.value("gan.seed"),
                      attrBalance: m["gan.attr_balance"] == nil ? 0 : try meta.value("gan.attr_balance"),
                      // Checkpoints from before β existed used the batch mean alone.
                      attrBalanceBeta: m["gan.attr_balance_beta"] == nil ? 0 : try meta.value("gan.attr_balance_beta"),
                      r1FrozenPatterns: m["gan.r1_patterns"] == "frozen",
                      // Older checkpoints sampled reals in plain order.
                      realBalance: m["gan.real_balance"] == nil ? 0 : try meta.value("gan.real_balance"),
                      realBalanceEvery: m["gan.real_balance_every"] == nil ? 100 : try meta.value("gan.real_balance_every"),
                      realBalanceCap: m["gan.real_balance_cap"] == nil ? GANTrainer.defaultRealBalanceCap : try meta.value("gan.real_balance_cap"),
                      dGeometry: m["gan.d_geometry"] == nil ? 0 : try meta.value("gan.d_geometry"),
                      conditionClassifier: m["gan.condition_classifier"] == nil ? 0 : try meta.value("gan.condition_classifier"))
            if let v = m["gan.r1_patterns"], v != "frozen", v != "own" {
                throw ModelError("\(path): checkpoint metadata 'gan.r1_patterns' is '\(v)', expected 'frozen' or 'own'")
            }
            try validate()
        }
    }

    /// Losses of one step.
    public struct StepMetrics {
        public var step: Int
        /// softplus(D(fake)) + softplus(−D(real)), batch means.
        public var dLoss: Float
        /// softplus(−D(G(z))), batch mean.
        public var gLoss: Float
        /// R1 = mean over reals of ‖∇ₓD‖² (nan on steps without R1).
        public var r1: Float
        /// Mean D logit on reals and on fakes of the D step.
        public var realScore: Float
        public var fakeScore: Float
        /// The attribute-balance loss L_bal of the G batch (nan when it is off).
        public var balance: Float
        /// G's attribute-value frequencies when balanced real sampling measured them before this step.
        public var generatedFrequencies: [[Float]]? = nil
        /// Mean squared error of D's geometry head on the real batch (normalized units; nan when off).
        public var geometry: Float = .nan
        /// Mean cross-entropy of D's attribute classifier on the real batch (nan when off).
        public var classes: Float = .nan
        /// G's classifier term: cross-entropy (plus the geometry head's error) of its images against
        /// the attributes their z drew (nan when off).
        public var generatorClasses: Float = .nan
    }

    public internal(set) var generator: StyleGAN2Generator
    public internal(set) var discriminator: StyleGAN2Discriminator
    /// Exponential moving average of the generator (what gets shipped).
    public internal(set) var ema: StyleGAN2Generator
    public internal(set) var options: Options
    /// The attribute-balance term; set (with its weight) by `setAttributeBalance`.
    public private(set) var balance: AttributeBalance?
    /// The balance's running mean prediction q̄ per head (nil until the first balanced step);
    /// saved in checkpoints as optimizer state `bal.H`.
    public private(set) var balanceMean: [[Float]]?
    /// The attribute network of balanced real sampling; set by `setRealBalance`.
    public internal(set) var reader: AttributeBalance?
    /// Log boost per attribute value of balanced real sampling (nil until its first measurement);
    /// saved in checkpoints as optimizer state `rb.H`.
    public internal(set) var realBoosts: [[Float]]?
    /// The data's attribute-value frequencies as the reader network reads them (set when balanced
    /// real sampling is first turned on); saved in checkpoints as `rbp.H`.
    public internal(set) var realPrior: [[Float]]?
    /// G's attribute-value frequencies at the last real-balance measurement (for reports; not saved).
    public internal(set) var lastGenerated: [[Float]]?
    /// Training steps (one D step + one G step each) taken so far.
    public private(set) var step: Int
    /// Offset within the train split of the next real batch.
    public private(set) var dataOffset: Int
    /// Training seconds accumulated over sessions (the caller adds to it).
    public var elapsedSeconds: Double
    let gAdam: Adam
    let dAdam: Adam
    /// D's geometry head (`weight` (3, C₄), `bias` (3)) once it has been turned on; saved as `dgeo.*`.
    public internal(set) var geometryHead: [String: Tensor]?
    /// The head's own Adam (D's settings), so D's step count stays that of D's updates.
    let geometryAdam: Adam
    /// D's attribute classifier (`GANTrainer+ClassHead`) once turned on; saved as `dcls.*`.
    public internal(set) var classHead: [String: Tensor]?
    /// Its own Adam (D's settings).
    let classAdam: Adam
    private let prefetcher = Prefetcher()

    /// A fresh run: G from rosinality's init under `seed`, D under `seed + 1`, EMA = G.
    public init(generator gc: StyleGAN2Config, discriminator dc: StyleGAN2Discriminator.Config, options: Options) throws {
        try options.validate()
        guard dc.size == gc.size else { throw ModelError("generator size \(gc.size) differs from discriminator size \(dc.size)") }
        guard dc.conditioning == gc.conditioning else { throw ModelError("the generator and the discriminator must both be conditioned, or neither") }
        self.options = options
        generator = try StyleGAN2Generator.random(config: gc, seed: options.seed)
        discriminator = try StyleGAN2Discriminator.random(config: dc, seed: options.seed &+ 1)
        ema = generator
        (gAdam, dAdam) = GANTrainer.optimizers(options)
        geometryAdam = GANTrainer.optimizers(options).1
        classAdam = GANTrainer.optimizers(options).1
        if options.dGeometry > 0 { geometryHead = try GANTrainer.newGeometryHead(discriminator.config, seed: options.seed) }
        step = 0
        dataOffset = 0
        elapsedSeconds = 0
    }

    /// Continues the run saved in `checkpoint`.
    public init(checkpoint c: TrainingCheckpoint, path: String = "<checkpoint>") throws {
        options = try Options(metadata: c.metadata, path: path)
        guard let gc = try StyleGAN2Config.fromMetadata(c.metadata, source: path) else {
            throw ModelError("\(path): no generator config in the checkpoint metadata; is it a `tedi train generator` checkpoint?")
        }
        let dc = try StyleGAN2Discriminator.Config(metadata: c.metadata, source: path)
        guard dc.conditioning == gc.conditioning else {
            throw ModelError("\(path): the generator is \(gc.conditioning ? "" : "not ")conditioned but the discriminator is \(dc.conditioning ? "" : "not"); the checkpoint is inconsistent")
        }
        func part(_ prefix: String, _ from: [String: Tensor]) -> [String: Tensor] {
            var out: [String: Tensor] = [:]
            for (k, v) in from where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = v }
            return out
        }
        generator = try StyleGAN2Generator(config: gc, parameters: part("g.", c.params), source: path + " (g)")
        ema = try StyleGAN2Generator(config: gc, parameters: part("ema.", c.params), source: path + " (ema)")
        discriminator = try StyleGAN2Discriminator(config: dc, parameters: part("d.", c.params), source: path + " (d)")
        (gAdam, dAdam) = GANTrainer.optimizers(options)
        try gAdam.load(state: part("g.", c.optimizer))
        try dAdam.load(state: part("d.", c.optimizer))
        geometryAdam = GANTrainer.optimizers(options).1
        classAdam = GANTrainer.optimizers(options).1
        // D's auxiliary heads: their tensors, checked against D, with their own Adam state.
        func auxiliary(_ prefix: String, _ adam: Adam, weight: Float, option: String, what: String,
                       check: ([String: Tensor]) throws -> Void) throws -> [String: Tensor]? {
            let head = part(prefix, c.params)
            guard !head.isEmpty else {
                if weight > 0 { throw ModelError("\(path): the checkpoint trains \(what) (\(option) \(weight)) but holds no \(prefix)* tensors") }
                return nil
            }
            try check(head)
            do { try adam.load(state: part(prefix, c.optimizer), for: head) } catch {
                throw ModelError("\(path): the Adam state of \(what) (\(prefix)*) is unreadable: \(error)")
            }
            return head
        }
        classHead = try auxiliary("dcls.", classAdam, weight: options.conditionClassifier, option: "gan.condition_classifier",
                                  what: "D's attribute classifier") { try GANTrainer.checkClassHead($0, discriminator: dc, path: path) }
        geometryHead = try auxiliary("dgeo.", geometryAdam, weight: options.dGeometry, option: "gan.d_geometry",
                                     what: "D's geometry head") { try GANTrainer.checkGeometryHead($0, discriminator: dc, path: path) }
        func perHead(_ prefix: String) throws -> [[Float]]? {
            let heads = part(prefix, c.optimizer)
            if heads.isEmpty { return nil }
            return try (0..<heads.count).map { h in
                guard let t = heads[String(h)] else { throw ModelError("\(path): checkpoint balance state lacks \(prefix)\(h)") }
                return t.scalars
            }
        }
        balanceMean = try perHead("bal.")
        realBoosts = try perHead("rb.")
        realPrior = try perHead("rbp.")
        step = c.step
        dataOffset = c.dataOffset
        elapsedSeconds = c.elapsedSeconds
    }

    /// rosinality: G's Adam as given; D's lr and betas raised to the lazy-regularization ratio r/(r+1).
    static func optimizers(_ o: Options) -> (Adam, Adam) {
        let ratio = Float(o.r1Every) / Float(o.r1Every + 1)
        let g = Adam(learningRate: o.learningRate, beta1: 0, beta2: 0.99)
        let d = Adam(learningRate: o.learningRate * ratio, beta1: 0, beta2: Float(pow(0.99, Double(ratio))))
        return (g, d)
    }

    /// The current state as a checkpoint (params `g.*`, `d.*`, `ema.*`; optimizer `g.*`, `d.*`).
    public var checkpoint: TrainingCheckpoint {
        var params: [String: Tensor] = [:], opt: [String: Tensor] = [:]
        for (k, v) in generator.parameters { params["g." + k] = v }
        for (k, v) in ema.parameters { params["ema." + k] = v }
        for (k, v) in discriminator.parameters { params["d." + k] = v }
        for (k, v) in gAdam.state { opt["g." + k] = v }
        for (k, v) in dAdam.state { opt["d." + k] = v }
        for (k, v) in geometryHead ?? [:] { params["dgeo." + k] = v }
        if geometryHead != nil { for (k, v) in geometryAdam.state { opt["dgeo." + k] = v } }
        for (k, v) in classHead ?? [:] { params["dcls." + k] = v }
        if classHead != nil { for (k, v) in classAdam.state { opt["dcls." + k] = v } }
        for (h, q) in (balanceMean ?? []).enumerated() { opt["bal.\(h)"] = try? Tensor(shape: [q.count], scalars: q) }
        for (h, b) in (realBoosts ?? []).enumerated() { opt["rb.\(h)"] = try? Tensor(shape: [b.count], scalars: b) }
        for (h, p) in (realPrior ?? []).enumerated() { opt["rbp.\(h)"] = try? Tensor(shape: [p.count], scalars: p) }
        var meta = generator.config.metadata.merging(discriminator.config.metadata) { a, _ in a }
        meta.merge(options.metadata) { a, _ in a }
        if let b = balance ?? reader {
            meta["gan.attr_net_sha256"] = b.netDigest
            if let p = b.netPath { meta["gan.attr_net_path"] = p }
        }
        return TrainingCheckpoint(params: params, optimizer: opt, step: step, dataOffset: dataOffset,
                                  elapsedSeconds: elapsedSeconds, metadata: meta)
    }

    /// Names of G's trained tensors: all but blur kernels and the stored noise buffers.
    public var generatorTrainableNames: [String] {
        generator.parameters.keys.filter { !$0.hasSuffix(".kernel") && !$0.hasPrefix("noises.") }.sorted()
    }

    // MARK: Randomness

    /// Purposes of the per-step Philox draws.
    enum Draw: UInt64 { case dZ1 = 0, dZ2, dNoise, gZ1, gZ2, gNoise, mixing, balanceZ, balanceNoise }

    /// A seed for draw `d` of step `s` (splitmix64 of seed, step and purpose).
    func drawSeed(_ d: Draw, step s: Int) -> UInt64 { TrainingData.stepSeed(options.seed, step: s, purpose: d.rawValue) }

    /// The w+ `(N,nLatent,styleDim)` of step `s` for G `g`: mapping of one z, or with probability
    /// `mixing` two z codes crossed over at a layer in 1..<nLatent; and the conditions `(N,K)` of the
    /// images when G is conditioned (nil otherwise): the attributes the first z draws, which the
    /// second code's mapping shares. Records on the tape when g is watched.
    func latents(_ g: StyleGAN2Generator, count n: Int, z1: Draw, z2: Draw, step s: Int) throws -> (latent: Tensor, condition: Tensor?, attributes: [FaceAttributes]) {
        let sd = g.styleDim, nl = g.nLatent
        let zc = try Tensor.randomNormal([n, sd], seed: drawSeed(z1, step: s))
        let attributes = g.config.conditioning ? try FaceCondition.attributes(z: zc) : []
        let condition = g.config.conditioning ? try FaceCondition.vectors(attributes) : nil
        let w1 = try g.mapping(zc, condition: condition)
        var rng = Philox(seed: drawSeed(.mixing, step: s), stream: z1.rawValue)
        guard nl > 1, rng.uniform() < options.mixing else { return (try g.broadcastLatent(w1), condition, attributes) }
        let k = 1 + rng.int(below: nl - 1)
        let w2 = try g.mapping(Tensor.randomNormal([n, sd], seed: drawSeed(z2, step: s)), condition: condition)
        let a = try w1.reshaped([n, 1, sd]).broadcast(to: [n, k, sd])
        let b = try w2.reshaped([n, 1, sd]).broadcast(to: [n, nl - k, sd])
        return (try Tensor.concat([a, b], axis: 1), condition, attributes)
    }

    // MARK: Steps

    /// Takes one training step: a D step on the next real batch (plus R1 when due), a G step, the EMA update.
    public func trainStep() throws -> StepMetrics {
        // Checked before anything moves, so a refused step leaves the run as it was.
        if options.attrBalance > 0 && balance == nil {
            throw ModelError("this run trains with attribute balance \(options.attrBalance) but no attribute network was given")
        }
        if options.realBalance > 0 && reader == nil {
            throw ModelError("this run samples reals balanced (rate \(options.realBalance)) but no attribute network was given")
        }
        if options.dGeometry > 0 && geometryHead == nil { throw missingGeometryHead }
        try checkClassifierReady()
        if generator.config.conditioning && (options.realBalance > 0 || options.attrBalance > 0) {
            // The reals' attributes would no longer follow the priors that the fakes' conditions
            // follow, and D's projection could tell them apart by the condition alone.
            throw ModelError("a conditioned run draws its attributes from the priors; turn balanced real sampling and the attribute balance off (--real-balance 0 --attr-balance 0)")
        }
        var measured: [[Float]]?
        if let r = reader, let p = realPrior, options.realBalance > 0, step % options.realBalanceEvery == 0 {
            let g = try generatedFrequencies(r.net)
            realBoosts = try GANTrainer.updatedBoosts(realBoosts, generated: g, prior: p, rate: options.realBalance, cap: options.realBalanceCap)
            lastGenerated = g
            measured = g
        }
        // The background render gets plain values, never `self` (whose state the step mutates).
        let (dataSeed, size) = (options.dataSeed, generator.config.size)
        let render = TrainingData.renderer(dataSeed: dataSeed, size: size)
        let (indices, next) = try realIndices(from: dataOffset)
        let samples = try prefetcher.take(indices, render)
        // The next batch as the boosts stand now; a measurement before it makes `take` render afresh.
        prefetcher.start(try realIndices(from: next).indices, render)
        let real = try SynthFaces.imageTensor(samples)
        let attributes = samples.map(\.attributes)
        let condition = discriminator.config.conditioning ? try FaceCondition.vectors(attributes) : nil
        let d = try discriminatorStep(real: real, condition: condition, geometry: options.dGeometry > 0 ? GANTrainer.geometryTargets(attributes) : nil,
                                      attributes: options.conditionClassifier > 0 ? attributes : nil)
        var r1 = Float.nan
        if options.r1Gamma > 0 && step % options.r1Every == 0 { r1 = try r1Step(real: real, condition: condition) }
        let (gl, bal, gc) = try generatorStep()
        updateEMA()
        step += 1
        dataOffset = next
        return StepMetrics(step: step, dLoss: d.loss, gLoss: gl, r1: r1, realScore: d.real, fakeScore: d.fake, balance: bal,
                           generatedFrequencies: measured, geometry: d.geometry, classes: d.classes, generatorClasses: gc)
    }

    /// Global indices of the real batch that starts at split offset `offset`, and the offset after it:
    /// `[offset, offset + batch)`, or thinned by the real-balance boosts while that is on.
    func realIndices(from offset: Int) throws -> (indices: [Int], next: Int) {
        if options.realBalance > 0, let b = realBoosts {
            return try GANTrainer.selectReal(dataSeed: options.dataSeed, seed: options.seed, batch: options.batch, from: offset, boosts: b,
                                              cap: options.realBalanceCap)
        }
        return (try TrainingData.trainIndices(from: offset, count: options.batch), offset + options.batch)
    }

    /// Renders the real batch at split offset `offset` (the same whatever the thread count).
    func render(offset: Int) throws -> [FaceSample] {
        try TrainingData.render(dataSeed: options.dataSeed, size: generator.config.size, indices: realIndices(from: offset).indices)
    }

    /// One D update on `real` (with its `condition` vectors when D is conditioned) against fakes of
    /// the current G; returns the loss and mean logits.
    /// With `geometry` targets (N,3) and the geometry head on, D's loss adds
    /// dGeometry × the head's mean squared error on the real batch; `loss` is the adversarial part.
    @discardableResult
    func discriminatorStep(real: Tensor, condition: Tensor? = nil, geometry targets: Tensor? = nil,
                           attributes: [FaceAttributes]? = nil) throws -> (loss: Float, real: Float, fake: Float, geometry: Float, classes: Float) {
        let n = real.shape[0]
        let (latent, fakeCondition, _) = try latents(generator, count: n, z1: .dZ1, z2: .dZ2, step: step)
        let fake = try generator.synthesis(latent, noise: .random(seed: drawSeed(.dNoise, step: step)))
        let tape = Tape()
        let names = discriminator.trainableNames
        let dw = try discriminator.watchingParameters(on: tape, names: names)
        let fp = try dw(fake, condition: fakeCondition)
        let (rp, hidden) = try dw.logitsAndHidden(real, condition: condition)
        let adv = try fp.softplus().mean() + (-rp).softplus().mean()
        var loss = adv
        var wrt = names.map { dw.parameters[$0]! }
        // D's auxiliary heads read the real batch's hidden layer; each adds weight × its error to D's
        // loss and is updated by its own Adam.
        var heads: [(path: ReferenceWritableKeyPath<GANTrainer, [String: Tensor]?>, names: [String], adam: Adam)] = []
        func auxiliary(_ path: ReferenceWritableKeyPath<GANTrainer, [String: Tensor]?>, _ adam: Adam, weight: Float, missing: ModelError,
                       error: ([String: Tensor]) throws -> Tensor) throws -> Float {
            guard let h = self[keyPath: path] else { throw missing }
            let watched = h.mapValues { tape.watch($0) }, headNames = h.keys.sorted()
            let e = try error(watched)
            loss = try loss + e.scaled(weight)
            wrt += headNames.map { watched[$0]! }
            heads.append((path, headNames, adam))
            return try e.item()
        }
        var mse = Float.nan, ce = Float.nan
        if let targets, options.dGeometry > 0 {
            mse = try auxiliary(\.geometryHead, geometryAdam, weight: options.dGeometry, missing: missingGeometryHead) {
                try GANTrainer.geometryError(hidden, head: $0, targets: targets)
            }
        }
        if let attributes, options.conditionClassifier > 0 {
            ce = try auxiliary(\.classHead, classAdam, weight: options.conditionClassifier,
                               missing: ModelError("this run trains D's attribute classifier but has none")) {
                try GANTrainer.classError(hidden, head: $0, attributes: attributes)
            }
        }
        let g = try tape.gradients(of: loss, wrt: wrt)
        try dAdam.update(&discriminator.parameters, gradients: Dictionary(uniqueKeysWithValues: zip(names, g)))
        var used = names.count
        for head in heads {
            guard var h = self[keyPath: head.path] else { continue }
            try head.adam.update(&h, gradients: Dictionary(uniqueKeysWithValues: zip(head.names, g[used...])))
            self[keyPath: head.path] = h
            used += head.names.count
        }
        return (try adv.item(), try rp.mean().item(), try fp.mean().item(), mse, ce)
    }

    /// The lazy R1 update (weight γ/2 · r1Every); returns R1.
    func r1Step(real: Tensor, condition: Tensor? = nil) throws -> Float {
        let (r1, grads) = try GANTrainer.r1Gradients(discriminator, real: real, condition: condition, epsilon: options.r1Epsilon,
                                                     frozenPatterns: options.r1FrozenPatterns)
        let w = options.r1Gamma / 2 * Float(options.r1Every)
        try dAdam.update(&discriminator.parameters, gradients: grads.mapValues { $0.scaled(w) })
        return r1
    }

    /// R1 = (1/N) Σₙ ‖∇ₓₙ S‖² with S = Σ D(x) and its gradient with respect to D's trainable
    /// parameters, by the finite-difference Hessian-vector form: with g = ∇ₓS held constant,
    /// ∇θ R1 = (2/N) ∇θ gᵀ∇ₓS ≈ (2/N) ∇θ [(S(x + εg) − S(x − εg)) / 2ε], ε = `epsilon` / rms(g).
    /// Both evaluations replay the leaky-ReLU activation patterns of x, as double backward does
    /// (it treats each unit's slope as a constant); evaluated with their own patterns, units that
    /// change sides within ±εg add terms that double backward does not have (on a realistic D the
    /// result then differed from PyTorch's by more than the gradient itself;
    /// `DiscriminatorParityTests`). The frozen D is linear in x but for the minibatch stddev,
    /// so the quotient is exact to O(ε²). `frozenPatterns: false` gives the older form. A conditioned
    /// D scores the reals with their `condition` vectors (constants: the gradient is still in x).
    public static func r1Gradients(_ d: StyleGAN2Discriminator, real: Tensor, condition: Tensor? = nil, epsilon: Float,
                                   frozenPatterns: Bool = true) throws -> (Float, [String: Tensor]) {
        let n = real.shape[0]
        let tx = Tape()
        let x = tx.watch(real)
        let patterns = frozenPatterns ? StyleGAN2Discriminator.ActivationPatterns() : nil
        let g = try tx.gradients(of: d(x, condition: condition, patterns: patterns).sum(), wrt: [x])[0]
        var ss: Double = 0
        for v in g.scalars { ss += Double(v) * Double(v) }
        let r1 = Float(ss / Double(n))
        let names = d.trainableNames
        guard ss > 0 else { return (r1, Dictionary(uniqueKeysWithValues: try names.map { ($0, try Tensor.zeros(d.parameters[$0]!.shape)) })) }
        let eps = epsilon / Float((ss / Double(g.count)).squareRoot())
        let tape = Tape()
        let dw = try d.watchingParameters(on: tape, names: names)
        let step = g.scaled(eps)
        patterns?.replay()
        let plus = try dw(real + step, condition: condition, patterns: patterns).sum()
        patterns?.replay()
        let minus = try dw(real - step, condition: condition, patterns: patterns).sum()
        let q = try (plus - minus).scaled(1 / (2 * eps))
        let grads = try tape.gradients(of: q, wrt: names.map { dw.parameters[$0]! })
        var out: [String: Tensor] = [:]
        for (k, t) in zip(names, grads) { out[k] = t.scaled(2 / Float(n)) }
        return (r1, out)
    }

    /// Switches R1 between frozen and own activation patterns from the next step on (a resumed run
    /// may; the checkpoint records it).
    public func setR1FrozenPatterns(_ frozen: Bool) { options.r1FrozenPatterns = frozen }

    /// Sets the EMA's half-life (images) from the next step on; a resumed run may change it (the
    /// checkpoint records it). A conditioned run still learning its attributes moves faster than a
    /// 10k-image EMA follows (at step 18,610 the raw G drew red clothing when asked 91% of the time,
    /// the EMA never), so a shorter half-life lets the EMA keep what G has learned.
    public func setEMAHalfLife(_ images: Float) throws {
        var o = options
        o.emaHalfLife = images
        try o.validate()
        options = o
    }

    /// Turns the attribute-balance loss on (weight > 0, with `b`) or off (weight 0) from the next
    /// step on; a resumed run may change it (the checkpoint records the weight and the net's digest).
    public func setAttributeBalance(weight: Float, beta: Float? = nil, _ b: AttributeBalance?) throws {
        var o = options
        o.attrBalance = weight
        if let beta { o.attrBalanceBeta = beta }
        try o.validate()
        if weight > 0 { _ = try usableNetwork(b, for: "an attribute-balance weight") }
        options = o
        balance = weight > 0 ? b : nil
    }

    /// `b`, checked to read images of this generator's size.
    func usableNetwork(_ b: AttributeBalance?, for what: String) throws -> AttributeBalance {
        guard let b else { throw ModelError("\(what) needs the attribute network") }
        guard b.net.config.size == generator.config.size else {
            throw ModelError("the attribute network reads \(b.net.config.size) px images; the generator makes \(generator.config.size) px")
        }
        return b
    }

    /// One G update against the current D; returns the adversarial loss, L_bal and the classifier
    /// term (nan when off).
    @discardableResult
    func generatorStep() throws -> (Float, Float, Float) {
        let tape = Tape()
        let names = generatorTrainableNames
        let gw = try generator.watchingParameters(on: tape, names: names)
        let (latent, condition, attributes) = try latents(gw, count: options.batch, z1: .gZ1, z2: .gZ2, step: step)
        let img = try gw.synthesis(latent, noise: .random(seed: drawSeed(.gNoise, step: step)))
        let (logits, hidden) = try discriminator.logitsAndHidden(img, condition: condition)
        let adv = try (-logits).softplus().mean()
        var loss = adv, bal = Float.nan, cls = Float.nan
        if options.conditionClassifier > 0 {
            guard let h = classHead, !attributes.isEmpty else { throw ModelError("this run trains D's attribute classifier but has none, or G is not conditioned") }
            var e = try GANTrainer.classError(hidden, head: h, attributes: attributes)
            if options.dGeometry > 0, let geo = geometryHead {
                e = try e + GANTrainer.geometryError(hidden, head: geo, targets: GANTrainer.geometryTargets(attributes))
            }
            cls = try e.item()
            loss = try loss + e.scaled(options.conditionClassifier)
        }
        var newMean: [[Float]]?
        if options.attrBalance > 0 {
            guard let b = balance else { throw ModelError("this run trains with attribute balance \(options.attrBalance) but no attribute network was given") }
            let (l, q) = try b.loss(img, history: balanceMean, beta: options.attrBalanceBeta)
            bal = try l.item()
            newMean = q
            loss = try adv + l.scaled(options.attrBalance)
        }
        let g = try tape.gradients(of: loss, wrt: names.map { gw.parameters[$0]! })
        try gAdam.update(&generator.parameters, gradients: Dictionary(uniqueKeysWithValues: zip(names, g)))
        if let newMean { balanceMean = newMean }
        return (try adv.item(), bal, cls)
    }

    /// ema ← β·ema + (1−β)·G with β = 0.5^(batch / halfLife), over G's trained tensors; halfLife
    /// is `emaHalfLife`, capped at `emaRampup` × the images seen after this step.
    func updateEMA() {
        var halfLife = Double(options.emaHalfLife)
        if options.emaRampup > 0 { halfLife = min(halfLife, Double((step + 1) * options.batch) * Double(options.emaRampup)) }
        let beta = Float(pow(0.5, Double(options.batch) / halfLife))
        for name in generatorTrainableNames {
            guard var e = ema.parameters[name], let p = generator.parameters[name] else { continue }
            ema.parameters[name] = nil
            for i in 0..<e.scalars.count { e.scalars[i] = beta * e.scalars[i] + (1 - beta) * p.scalars[i] }
            ema.parameters[name] = e
        }
    }

    /// Images `(count,3,S,S)` of the EMA generator for the fixed sample codes (Philox seed
    /// `seed`, the stored noise buffers): the same faces at every checkpoint.
    public func samples(count: Int, seed: UInt64 = 0x5A3B1E) throws -> Tensor {
        try ema.generate(z: ema.randomZ(count: count, seed: seed))
    }
}
