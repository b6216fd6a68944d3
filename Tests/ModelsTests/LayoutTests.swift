import Foundation
import SynthFaces
import Testing
@testable import Models
import TensorCore

/// The face parser, its trainer and score, sketch perturbations, the sketch and label encoders'
/// training, and optimize's label term, on tiny models.
@Suite struct LayoutTests {
    static let parser = try! FaceParser(config: .tiny, seed: 6)

    @Test func parserShapesAndCrossEntropyGradient() throws {
        let x = try Tensor.randomNormal([2, 3, 16, 16], seed: 1).scaled(0.5)
        let logits = try Self.parser(x)
        #expect(logits.shape == [2, 19, 16, 16])
        #expect(throws: TensorError.self) { try Self.parser(Tensor.zeros([1, 3, 8, 8])) }
        // The pixel cross-entropy's gradient in the logits against central differences (it is
        // smooth there; the network's own ops have their gradient tests, and the label term below
        // checks the chain through G and the parser).
        var rng = Philox(seed: 3, stream: 0)
        let targets = (0..<2).map { _ in (0..<256).map { _ in UInt8(rng.int(below: 19)) } }
        let z = logits.detached
        let tape = Tape()
        let zz = tape.watch(z)
        let g = try tape.gradients(of: try FaceParser.pixelCrossEntropy(zz, targets: targets), wrt: [zz])[0]
        let checks = try directionalDerivatives(of: { Double(try FaceParser.pixelCrossEntropy($0, targets: targets).item()) }, at: z, gradient: g,
                                                seeds: 4..<6, h: 1e-2)
        for (trial, (analytic, fd)) in checks.enumerated() {
            #expect(abs(fd - analytic) <= 1e-2 * abs(analytic) + 1e-4, "direction \(trial): tape \(analytic), finite difference \(fd)")
        }
        // The soft Dice loss likewise (its sums run over the whole batch, so every logit feeds every class's ratio).
        let dg = try tape.gradients(of: try FaceParser.softDiceLoss(zz, targets: targets), wrt: [zz])[0]
        let diceChecks = try directionalDerivatives(of: { Double(try FaceParser.softDiceLoss($0, targets: targets).item()) }, at: z, gradient: dg,
                                                    seeds: 4..<6, h: 1e-2)
        for (trial, (analytic, fd)) in diceChecks.enumerated() {
            #expect(abs(fd - analytic) <= 1e-2 * abs(analytic) + 1e-5, "dice direction \(trial): tape \(analytic), finite difference \(fd)")
        }
        // Confident and right: Dice loss near 0 whatever the classes' areas. Classes absent from the
        // truth do not count: a uniform prediction is scored on classes 0 and 5 alone.
        let truth: [[UInt8]] = [[0, 0, 0, 5]]
        var sharp = [Float](repeating: -20, count: 19 * 4)
        for (p, t) in truth[0].enumerated() { sharp[Int(t) * 4 + p] = 20 }
        #expect(try FaceParser.softDiceLoss(Tensor(shape: [1, 19, 2, 2], scalars: sharp), targets: truth).item() < 1e-4)
        // Uniform p = 1/19: class 0 → 2·(3/19)/(4/19 + 3), class 5 → 2·(1/19)/(4/19 + 1).
        let uniform: Double = 1 - ((6.0 / 19) / (4.0 / 19 + 3) + (2.0 / 19) / (4.0 / 19 + 1)) / 2
        #expect(abs(Double(try FaceParser.softDiceLoss(Tensor.zeros([1, 19, 2, 2]), targets: truth).item()) - uniform) < 1e-5)
        #expect(throws: TensorError.self) { try FaceParser.softDiceLoss(Tensor.zeros([1, 19, 2, 2]), targets: [[0, 1, 2, 19]]) }
        // Cross-entropy of a uniform prediction is log 19; wrong-sized targets are refused.
        let flat = try FaceParser.pixelCrossEntropy(Tensor.zeros([1, 19, 2, 2]), targets: [[0, 1, 2, 18]])
        #expect(abs(try flat.item() - Float(log(19.0))) < 1e-5)
        #expect(throws: TensorError.self) { try FaceParser.pixelCrossEntropy(Tensor.zeros([1, 19, 2, 2]), targets: [[0, 1, 2]]) }
        #expect(throws: TensorError.self) { try FaceParser.pixelCrossEntropy(Tensor.zeros([1, 19, 2, 2]), targets: [[0, 1, 2, 19]]) }
    }

    @Test func layoutScoreCountsIntersectionOverUnion() {
        var s = LayoutScore(classes: 3)
        s.add(predicted: [0, 0, 1, 1], truth: [0, 1, 1, 1])
        #expect(s.iou(0) == 0.5 && s.iou(1) == 2.0 / 3.0 && s.iou(2) == nil)
        let expected: Double = (0.5 + 2.0 / 3.0) / 2
        #expect(abs(s.meanIoU - expected) < 1e-12)
        #expect(s.pixelAccuracy == 0.75)
    }

    @Test func parserTrainingLearnsAndResumesBitIdentically() throws {
        let options = ParserTrainer.Options(batch: 4, learningRate: 5e-3, seed: 2)
        let config = FaceParser.Config(size: 16, channels: [8, 16, 16])
        let straight = try ParserTrainer(config: config, options: options)
        var losses: [Float] = []
        for _ in 0..<24 { losses.append(try straight.trainStep().loss) }
        let first: Float = losses.prefix(4).reduce(0, +), last: Float = losses.suffix(4).reduce(0, +)
        #expect(last < 0.7 * first, "\(losses)")
        let part = try ParserTrainer(config: config, options: options)
        for _ in 0..<14 { _ = try part.trainStep() }
        let resumed = try ParserTrainer(checkpoint: part.checkpoint)
        for _ in 0..<10 { _ = try resumed.trainStep() }
        #expect(try SafeTensors.encode(resumed.parser.params) == SafeTensors.encode(straight.parser.params))
        // Held out, it beats chance: more than the share of the commonest class is not asked of 24 steps.
        let score = try ParserEval.run(straight.parser, count: 16)
        #expect(score.pixelAccuracy > 0.3, "pixel accuracy \(score.pixelAccuracy)")
        #expect(throws: ModelError.self) { try ParserTrainer.Options(batch: 0).validate() }
        #expect(throws: ModelError.self) { try FaceParser.Config(size: 18, channels: [4, 8, 8]).validate() }
        #expect(throws: ModelError.self) { try FaceParser.Config(size: 16, channels: [4, 8, 8], decoderDepth: 3).validate() }
        #expect(throws: ModelError.self) { try ParserTrainer.Options(dice: -1).validate() }
    }

    /// A deeper decoder and the Dice term: both train, resume bit-identically, and survive a save;
    /// a file without `decoder_depth` (written before it existed) loads as depth 1.
    @Test func deeperDecoderAndDiceTrainAndRoundTrip() throws {
        let options = ParserTrainer.Options(batch: 4, learningRate: 5e-3, seed: 2, dice: 1)
        let config = FaceParser.Config(size: 16, channels: [8, 16, 16], decoderDepth: 2)
        let straight = try ParserTrainer(config: config, options: options)
        #expect(straight.parser.params["dec0b.weight"]?.shape == [8, 8, 3, 3] && straight.parser.params["dec1b.weight"]?.shape == [16, 16, 3, 3])
        var losses: [Float] = []
        for _ in 0..<24 { losses.append(try straight.trainStep().loss) }
        let first: Float = losses.prefix(4).reduce(0, +), last: Float = losses.suffix(4).reduce(0, +)
        #expect(last < 0.8 * first, "\(losses)")
        let part = try ParserTrainer(config: config, options: options)
        for _ in 0..<14 { _ = try part.trainStep() }
        let resumed = try ParserTrainer(checkpoint: part.checkpoint)
        #expect(resumed.options == options && resumed.parser.config == config)
        for _ in 0..<10 { _ = try resumed.trainStep() }
        #expect(try SafeTensors.encode(resumed.parser.params) == SafeTensors.encode(straight.parser.params))
        let dir = NSTemporaryDirectory() + "tedi-parser-depth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try straight.parser.save(to: dir + "/p.safetensors")
        #expect(try FaceParser.load(dir + "/p.safetensors").config == config)
        // Fine-tuning starts from the given weights and records the file's hash; a config mismatch is refused.
        var tuning = options
        tuning.startedFrom = "0123abcd"
        let tuned = try ParserTrainer(config: config, options: tuning, initial: straight.parser)
        #expect(try SafeTensors.encode(tuned.parser.params) == SafeTensors.encode(straight.parser.params))
        #expect(try ParserTrainer(checkpoint: tuned.checkpoint).options.startedFrom == "0123abcd")
        #expect(throws: ModelError.self) { try ParserTrainer(config: .tiny, options: options, initial: straight.parser) }
        var old = FaceParser.Config.tiny.metadata
        old["decoder_depth"] = nil
        #expect(try FaceParser.Config(metadata: old, path: "old.safetensors") == .tiny)
    }

    @Test func degradingBlursAndIsDeterministic() throws {
        let x = try SynthFaces.imageTensor(SynthFaces.samples(seed: 0, indices: 0..<4, size: 16))
        let a = try ParserTrainer.degrade(x, seed: 9, probability: 1), b = try ParserTrainer.degrade(x, seed: 9, probability: 1)
        #expect(a == b && a != x)
        #expect(try ParserTrainer.degrade(x, seed: 9, probability: 0) == x)
        #expect(a.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
    }

    @Test func sketchPerturbationsChangeStrokesDeterministically() throws {
        let s = try SynthFaces.sample(seed: 0, index: 5, size: 64)
        var shifted = SketchAugment.Draw(); shifted.dx = 2
        let moved = try SketchAugment.apply(shifted, sketch: s.sketch, image: s.image, size: 64, seed: 1)
        for y in 0..<64 { for x in 2..<64 { #expect(moved[y * 64 + x] == s.sketch[y * 64 + x - 2]) } }
        #expect(try SketchAugment.apply(SketchAugment.Draw(), sketch: s.sketch, image: s.image, size: 64, seed: 1) == s.sketch)
        var thick = SketchAugment.Draw(); thick.thicken = 1
        let ink = { (p: [UInt8]) in p.reduce(0) { $0 + 255 - Int($1) } }
        #expect(ink(try SketchAugment.apply(thick, sketch: s.sketch, image: s.image, size: 64, seed: 1)) > ink(s.sketch))
        var holes = SketchAugment.Draw(); holes.holes = 3
        #expect(ink(try SketchAugment.apply(holes, sketch: s.sketch, image: s.image, size: 64, seed: 1)) < ink(s.sketch))
        var edges = SketchAugment.Draw(); edges.edges = true
        #expect(try SketchAugment.apply(edges, sketch: s.sketch, image: s.image, size: 64, seed: 1) != s.sketch)
        let draws = (0..<200).map { SketchAugment.draw(seed: 4, index: $0, probability: 0.6) }
        #expect(draws == (0..<200).map { SketchAugment.draw(seed: 4, index: $0, probability: 0.6) })
        let plain = draws.filter { $0 == SketchAugment.Draw() }.count
        #expect(plain > 60 && plain < 120, "\(plain) of 200 untouched at probability 0.6")
    }

    /// Sketch and label encoders train on pairs with the latent pull toward an image encoder and the
    /// layout term; the loss goes down, a resume is bit-identical, and what they need is checked.
    @Test func sketchAndLabelEncodersTrain() throws {
        let (dir, g, a) = try EncoderTests.frozen()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try LatentEncoder(config: .tiny, latentAverage: g.model.meanLatent(count: 64, seed: 0), seed: 5).save(to: dir + "/t.safetensors")
        try Self.parser.save(to: dir + "/p.safetensors")
        let teacher = try FrozenModel(path: dir + "/t.safetensors") { try LatentEncoder.load($0) }
        let parser = try FrozenModel(path: dir + "/p.safetensors") { try FaceParser.load($0) }
        for (modality, channels) in [("sketch", 1), ("label", 19)] {
            var config = LatentEncoder.Config.tiny
            config.modality = modality; config.inChannels = channels
            let options = EncoderTrainer.Options(batch: 4, learningRate: 3e-3, seed: 2, sampleFraction: 0, layout: 1, augment: 0.5)
            let t = try EncoderTrainer(config: config, options: options, generator: g, attributes: a, teacher: teacher, parser: parser)
            var losses: [EncoderTrainer.StepMetrics] = []
            for _ in 0..<16 { losses.append(try t.trainStep()) }
            #expect(losses.allSatisfy { $0.layout.isFinite && $0.latent.isFinite }, "\(modality)")
            let first: Float = losses.prefix(4).map(\.loss).reduce(0, +), last: Float = losses.suffix(4).map(\.loss).reduce(0, +)
            #expect(last < first, "\(modality): loss \(first / 4) → \(last / 4)")
            let part = try EncoderTrainer(config: config, options: options, generator: g, attributes: a, teacher: teacher, parser: parser)
            for _ in 0..<10 { _ = try part.trainStep() }
            let resumed = try EncoderTrainer(checkpoint: part.checkpoint, generator: g, attributes: a, teacher: teacher, parser: parser)
            for _ in 0..<6 { _ = try resumed.trainStep() }
            #expect(try SafeTensors.encode(resumed.encoder.params) == SafeTensors.encode(t.encoder.params), "\(modality): resume differs")
            // Fine-tuning starts from the given encoder's weights and records its hash; another modality's encoder is refused.
            var tuning = options
            tuning.startedFrom = "feed"
            let tuned = try EncoderTrainer(config: config, options: tuning, generator: g, attributes: a, teacher: teacher, parser: parser, initial: t.encoder)
            #expect(try SafeTensors.encode(tuned.encoder.params) == SafeTensors.encode(t.encoder.params))
            #expect(try EncoderTrainer(checkpoint: tuned.checkpoint, generator: g, attributes: a, teacher: teacher, parser: parser).options.startedFrom == "feed")
            var image = LatentEncoder.Config.tiny
            image.modality = modality == "sketch" ? "label" : "sketch"; image.inChannels = modality == "sketch" ? 19 : 1
            #expect(throws: ModelError.self) {
                try EncoderTrainer(config: image, options: options, generator: g, attributes: a, teacher: teacher, parser: parser, initial: t.encoder)
            }
            // Without the parser the layout term cannot run; with generator samples a paired encoder cannot either.
            #expect(throws: ModelError.self) { try EncoderTrainer(config: config, options: options, generator: g, attributes: a, teacher: teacher) }
            var mixed = options; mixed.sampleFraction = 0.5
            #expect(throws: ModelError.self) { try EncoderTrainer(config: config, options: mixed, generator: g, attributes: a, teacher: teacher, parser: parser) }
            var wrong = config; wrong.inChannels = 3
            #expect(throws: ModelError.self) { try EncoderTrainer(config: wrong, options: options, generator: g, attributes: a, teacher: teacher, parser: parser) }
        }
    }

    /// optimize's label term: its gradient in w against finite differences, and steps that raise
    /// the parser's agreement with the target layout.
    @Test func labelTermGradientAndDescent() throws {
        let g = LatentOptimizerTests.g
        let w0 = try g.broadcastLatent(g.mapping(Tensor.randomNormal([2, 16], seed: 11)))
        let labels = try SynthFaces.samples(seed: 0, indices: 3..<5, size: 16).map(\.label)
        let opt = try LatentOptimizer(options: .init(steps: 20, learningRate: 0.05, pixel: 0, feature: 0, label: 1), generator: g,
                                      initial: w0, labels: labels, parser: Self.parser)
        let w = try w0 + Tensor.randomNormal(w0.shape, seed: 13).scaled(0.1)
        let tape = Tape()
        let ww = tape.watch(w)
        let (l, parts) = try opt.loss(ww)
        #expect(parts.label > 0 && parts.pixel.isNaN, "\(parts)")
        let grad = try tape.gradients(of: l, wrt: [ww])[0]
        let checks = try directionalDerivatives(of: { Double(try opt.loss($0).1.total) }, at: w, gradient: grad, seeds: 30..<32, h: 1e-3)
        for (trial, (analytic, fd)) in checks.enumerated() {
            // 5%: leaky-ReLU kinks in G and the parser crossed within ±h show up at this size.
            #expect(abs(fd - analytic) <= 5e-2 * abs(analytic) + 1e-6, "direction \(trial): tape \(analytic), finite difference \(fd)")
        }
        var losses: [Float] = []
        _ = try opt.run { _, p in losses.append(p.label) }
        #expect(losses.last! < losses.first!, "\(losses)")
        #expect(throws: ModelError.self) { try LatentOptimizer(options: .init(label: 1), generator: g, initial: w0, labels: labels) }
        #expect(throws: ModelError.self) { try LatentOptimizer(options: .init(label: 1), generator: g, initial: w0, labels: [labels[0]], parser: Self.parser) }
    }
}
