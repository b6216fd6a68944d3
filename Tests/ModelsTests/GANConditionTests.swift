import Foundation
import SynthFaces
import Testing
@testable import Models
import TensorCore

/// Attribute conditioning (`--condition`, `FaceCondition`): attributes drawn from z follow the data's
/// priors, the condition vector, the generator's and the discriminator's conditioning terms against
/// direct sums, zero weights changing nothing, and a conditioned run that resumes bit-identically.
struct GANConditionTests {
    /// A tiny conditioned-capable config (style_dim ≥ the 22 attribute draws).
    static let g32 = try! StyleGAN2Config(size: 16, styleDim: 32, nMLP: 2, channelMultiplier: 1, channelDivisor: 128)

    /// The uniforms a draw takes, counted.
    struct Counting: UniformSource {
        var calls = 0
        mutating func uniform() -> Float { calls += 1; return 0.37 }
    }

    @Test func drawTakesDrawCountUniforms() {
        var c = Counting()
        _ = FaceAttributes.draw(&c)
        #expect(c.calls == FaceAttributes.drawCount && FaceAttributes.drawOrder.count == FaceAttributes.drawCount)
    }

    /// Uniform i decides attribute drawOrder[i]: moving normal i across the range changes that
    /// attribute and no attribute drawn before it.
    @Test func drawOrderNamesWhatEachUniformDecides() {
        func fields(_ a: FaceAttributes) -> [String: String] {
            let line = a.jsonLine()
            var out: [String: String] = [:]
            for part in line.dropFirst().dropLast().split(separator: ",") {
                let kv = part.split(separator: ":", maxSplits: 1)
                out[String(kv[0].dropFirst().dropLast())] = String(kv[1])
            }
            return out
        }
        // Masculine and old, so every later prior has several values (facial hair, baldness).
        var base = [Float](repeating: 0.1, count: FaceAttributes.drawCount)
        base[0] = 1.5; base[1] = 2.5
        for (i, name) in FaceAttributes.drawOrder.enumerated() {
            var lo = base, hi = base
            lo[i] = -3; hi[i] = 3
            let a = fields(FaceAttributes.draw(normals: lo[...])), b = fields(FaceAttributes.draw(normals: hi[...]))
            #expect(a[name] != nil && a[name] != b[name], "\(name): \(a[name] ?? "?")")
            for earlier in FaceAttributes.drawOrder.prefix(i) { #expect(a[earlier] == b[earlier], "\(name) moved \(earlier)") }
        }
    }

    /// 20,000 faces drawn from normal quantiles against 20,000 data draws (Philox): every categorical
    /// value's frequency within 5 standard errors, and yaw / tilt spread uniformly over their ranges.
    @Test func attributesFromNormalsFollowTheDataPriors() throws {
        let n = 20_000
        let z = try Tensor.randomNormal([n, FaceAttributes.drawCount], seed: 11)
        let fromZ = try FaceCondition.attributes(z: z)
        let data = (0..<n).map { FaceAttributes.draw(seed: 3, index: $0) }
        for head in AttributeHeads.categorical {
            var a = [Double](repeating: 0, count: head.values.count), b = a
            for x in fromZ { a[head.index(x)] += 1 }
            for x in data { b[head.index(x)] += 1 }
            for v in head.values.indices {
                let p = (a[v] + b[v]) / Double(2 * n)
                let se = (2 * p * (1 - p) / Double(n)).squareRoot() + 1e-9
                #expect(Swift.abs(a[v] - b[v]) / Double(n) < 5 * se, "\(head.name)=\(head.values[v]): \(a[v]) from z, \(b[v]) in the data")
            }
        }
        // Dependencies survive: no feminine face with a beard, gray hair mostly on old faces.
        #expect(!fromZ.contains { $0.presentation == .feminine && $0.facialHair != FacialHair.none })
        let oldGray = Double(fromZ.filter { $0.age == .old && $0.hairColor == .gray }.count) / Double(fromZ.filter { $0.age == .old }.count)
        #expect(Swift.abs(oldGray - 0.74) < 0.03, "\(oldGray)")
        let yaws = fromZ.map(\.yaw), tilts = fromZ.map(\.tilt)
        #expect(yaws.allSatisfy { $0 >= -1 && $0 < 1 } && tilts.allSatisfy { $0 >= -7 && $0 < 7 })
        let outer = Double(yaws.filter { $0 < -0.5 }.count) / Double(n)
        #expect(Swift.abs(outer - 0.25) < 0.015, "\(outer)")
        // A continuous attribute moves continuously with its normal; the rest of z is not read.
        var row = [Float](repeating: 0.3, count: 32)
        let a0 = FaceAttributes.draw(normals: row[...])
        row[5] += 0.01
        row[30] = -4
        let a1 = FaceAttributes.draw(normals: row[...])
        #expect(a1.yaw > a0.yaw && a1.yaw - a0.yaw < 0.01 && a1.tilt == a0.tilt && a1.clothing == a0.clothing)
        #expect(throws: StyleGAN2Error.self) { try FaceCondition.attributes(z: Tensor.zeros([2, 21])) }
    }

    @Test func conditionVectorIsOneHotsThenGeometry() throws {
        let a = FaceAttributes.draw(seed: 0, index: 7)
        let v = FaceCondition.vector(a)
        #expect(v.count == FaceCondition.dimension && FaceCondition.dimension == 71)
        let onehots = v.prefix(68)
        #expect(onehots.filter { $0 == 1 }.count == 19 && onehots.allSatisfy { $0 == 0 || $0 == 1 })
        // clothing is head 16; its block starts after the first 16 heads' values.
        let start = AttributeHeads.categorical.prefix(16).reduce(0) { $0 + $1.values.count }
        #expect(v[start + ClothingColor.allCases.firstIndex(of: a.clothing)!] == 1)
        #expect(Array(v.suffix(3)) == [(a.faceWidth - 1) / 0.08, a.yaw, a.tilt / 7])
    }

    /// w = mapping(z) + c·(W·λ/√K)ᵀ, c the attributes z draws; zero weights give the plain mapping.
    @Test func generatorAddsTheConditionToW() throws {
        let plain = try StyleGAN2Generator.random(config: Self.g32, seed: 5)
        var cc = Self.g32
        cc.conditioning = true
        var p = plain.parameters
        p["cond.weight"] = try Tensor.zeros([32, FaceCondition.dimension])
        let zero = try StyleGAN2Generator(config: cc, parameters: p)
        let z = try plain.randomZ(count: 3, seed: 9)
        #expect(try zero.mapping(z).scalars == plain.mapping(z).scalars)
        let weight = try Tensor.randomNormal([32, FaceCondition.dimension], seed: 6)
        p["cond.weight"] = weight
        let cond = try StyleGAN2Generator(config: cc, parameters: p)
        let w = try cond.mapping(z), w0 = try plain.mapping(z)
        let attrs = try FaceCondition.attributes(z: z)
        for r in 0..<3 {
            let c = FaceCondition.vector(attrs[r])
            for j in 0..<32 {
                var s: Double = 0
                for k in c.indices { s += Double(c[k]) * Double(weight.scalars[j * c.count + k]) }
                let want = Double(w0.scalars[r * 32 + j]) + s * Double(FaceCondition.generatorLRMultiplier) / Double(c.count).squareRoot()
                #expect(Swift.abs(Double(w.scalars[r * 32 + j]) - want) < 1e-4)
            }
        }
        // Mixing's second code takes the first code's attributes.
        let z2 = try plain.randomZ(count: 3, seed: 10)
        let shared = try cond.mapping(z2, condition: FaceCondition.vectors(z: z)), own = try cond.mapping(z2)
        let delta = try (shared - own).scalars, plainDelta = try (cond.mapping(z) - zero.mapping(z)).scalars
        let ownDelta = try (own - zero.mapping(z2)).scalars
        for i in delta.indices { #expect(Swift.abs(delta[i] - (plainDelta[i] - ownDelta[i])) < 1e-4) }
        // Truncation keeps each code's condition: w̄ + ψ(w − w̄) + (1 − ψ)(e − ē), so at ψ = 0 every
        // code sits at the mean w moved by its own condition term.
        let mean = try cond.meanLatent(count: 64), eBar = try #require(try cond.meanConditionTerm(count: 64))
        let t0 = try cond.truncate(w, codes: z, psi: 0, mean: mean, meanCondition: eBar)
        let e = try #require(try cond.conditionTerm(z))
        for r in 0..<3 {
            for j in 0..<32 {
                let want = mean.scalars[j] + e.scalars[r * 32 + j] - eBar.scalars[j]
                #expect(Swift.abs(t0.scalars[r * 32 + j] - want) < 1e-4)
            }
        }
        #expect(try cond.truncate(w, codes: z, psi: 1, mean: mean, meanCondition: eBar).scalars == w.scalars)
        #expect(try plain.conditionTerm(z) == nil && plain.meanConditionTerm() == nil)
        // The config round-trips through metadata, and a file of another conditioning is refused.
        #expect(try StyleGAN2Config.fromMetadata(cc.metadata, source: "m") == cc)
        var bad = cc.metadata
        bad["conditioning"] = "celeba"
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config.fromMetadata(bad, source: "m") }
        // The embedding's multiplier is recorded; another one is refused, a file without it (older) is read.
        #expect(cc.metadata["cond_lr_mul"] == "10.0")
        var otherLR = cc.metadata
        otherLR["cond_lr_mul"] = "1.0"
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config.fromMetadata(otherLR, source: "m") }
        otherLR["cond_lr_mul"] = "ten"
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config.fromMetadata(otherLR, source: "m") }
        otherLR["cond_lr_mul"] = nil
        #expect(try StyleGAN2Config.fromMetadata(otherLR, source: "m") == cc)
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config(size: 16, styleDim: 16, conditioning: true) }
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Generator(config: Self.g32, parameters: p) }
    }

    /// logit = plain logit + hᵀ·(P/√K)·c; a conditioned D needs conditions, a plain one refuses them.
    @Test func discriminatorProjectsTheCondition() throws {
        let dc = try StyleGAN2Discriminator.Config(matching: Self.g32)
        let plain = try StyleGAN2Discriminator.random(config: dc, seed: 2)
        var cdc = dc
        cdc.conditioning = true
        var p = plain.parameters
        let proj = try Tensor.randomNormal([dc.channels(atResolution: 4), FaceCondition.dimension], seed: 3)
        p["cond.weight"] = proj
        let cond = try StyleGAN2Discriminator(config: cdc, parameters: p)
        let x = try Tensor.randomNormal([4, 3, 16, 16], seed: 4)
        let attrs = (0..<4).map { FaceAttributes.draw(seed: 1, index: $0) }
        let c = try FaceCondition.vectors(attrs)
        let (l0, h) = try plain.logitsAndHidden(x)
        let l = try cond(x, condition: c)
        let ch = h.shape[1], k = FaceCondition.dimension
        for n in 0..<4 {
            var s: Double = 0
            for i in 0..<ch { for j in 0..<k { s += Double(h.scalars[n * ch + i]) * Double(proj.scalars[i * k + j]) * Double(c.scalars[n * k + j]) } }
            #expect(Swift.abs(Double(l.scalars[n]) - (Double(l0.scalars[n]) + s / Double(k).squareRoot())) < 1e-3)
        }
        #expect(throws: ModelError.self) { try cond(x) }
        #expect(throws: ModelError.self) { try plain(x, condition: c) }
        #expect(throws: ModelError.self) { try cond(x, condition: FaceCondition.vectors(Array(attrs.prefix(2)))) }
        #expect(try StyleGAN2Discriminator.Config(metadata: cdc.metadata, source: "m") == cdc)
    }

    /// A plain run turned conditioned computes what it did (zero weights), then learns the
    /// condition: both conditioning weights move, checkpoints carry them, and a resume is bit-identical.
    @Test func conditionedRunStartsWhereItStoodAndResumes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gancond-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        func trainer() throws -> GANTrainer {
            try GANTrainer(generator: Self.g32, discriminator: .init(matching: Self.g32), options: .init(batch: 4, r1Every: 2))
        }
        let a = try trainer(), b = try trainer()
        for _ in 0..<2 { _ = try a.trainStep(); _ = try b.trainStep() }
        let before = try a.samples(count: 4).scalars
        try b.setConditioning()
        try b.setConditioning()   // harmless when already conditioned
        #expect(b.generator.config.conditioning && b.ema.config.conditioning && b.discriminator.config.conditioning)
        #expect(try b.samples(count: 4).scalars == before, "zero weights: the same faces")
        let m = try b.trainStep()
        #expect(m.dLoss.isFinite && m.gLoss.isFinite)
        for _ in 0..<3 { _ = try b.trainStep() }
        #expect(b.generator.parameters["cond.weight"]!.scalars.contains { $0 != 0 })
        #expect(b.discriminator.parameters["cond.weight"]!.scalars.contains { $0 != 0 })
        #expect(b.ema.parameters["cond.weight"]!.scalars.contains { $0 != 0 })
        // Resume: 2 more steps from a checkpoint equal 2 more steps in memory.
        let ck = b.checkpoint
        #expect(ck.metadata["conditioning"] == "synthfaces" && ck.metadata["d.conditioning"] == "synthfaces")
        #expect(ck.optimizer["g.born.cond.weight"]?.scalars == [2] && ck.optimizer["d.born.cond.weight"] != nil)
        try ck.write(to: path)
        let c = try GANTrainer(checkpoint: TrainingCheckpoint.read(path), path: path)
        for _ in 0..<2 { _ = try b.trainStep(); _ = try c.trainStep() }
        for (k, v) in b.checkpoint.params { #expect(c.checkpoint.params[k]?.scalars == v.scalars, "\(k)") }
        for (k, v) in b.checkpoint.optimizer { #expect(c.checkpoint.optimizer[k]?.scalars == v.scalars, "\(k)") }
        // The shipped EMA loads as a conditioned generator.
        let gpath = path + ".g.safetensors"
        defer { try? FileManager.default.removeItem(atPath: gpath) }
        try c.ema.save(to: gpath)
        let loaded = try StyleGAN2Generator.load(path: gpath)
        #expect(loaded.config.conditioning && loaded.parameters["cond.weight"]?.scalars == c.ema.parameters["cond.weight"]?.scalars)
    }

    /// `tedi eval`'s agreement: renders against their labels (the reader's accuracy), a conditioned
    /// generator against the attributes its z draws, nothing for a plain generator.
    @Test func evalReadsAttributesAsMade() throws {
        let net = try AttributeNet.load(ShippedGeneratorTests.path("attributes.safetensors"))
        let plain = try StyleGAN2Config(size: 64, styleDim: 32, nMLP: 1, channelMultiplier: 1, channelDivisor: 128)
        var cc = plain
        cc.conditioning = true
        let rows = try GANMetrics.evaluate(generators: [("plain", try .random(config: plain, seed: 1)), ("cond", try .random(config: cc, seed: 1))],
                                           net: net, count: 8)
        #expect(rows.count == 4 && rows[2].agreement == nil && rows[3].agreement?.count == AttributeHeads.coverageHeads.count)
        #expect(rows[0].meanAgreement! > 0.8, "the reader on renders: \(rows[0].agreement!)")
        #expect(rows[3].agreement!.allSatisfy { (0...1).contains($0) })
        let table = try #require(GANMetrics.agreementMarkdown(rows))
        #expect(table.contains("| cond |") && table.contains("| clothing |") && table.contains("| yaw (4 bins) |") && !table.contains("plain"))
        #expect(GANMetrics.agreementMarkdown(Array(rows.prefix(3))) == nil)
        #expect(GANMetrics.json(rows).contains("\"agreement\":null") && GANMetrics.json(rows).contains("\"agreement\":{\"presentation\":"))
    }

    /// `sample`'s `attributes`: every code shows the pins, continuous pins land on their value,
    /// the other attributes follow the priors given the pins, codes that already show them keep
    /// their z, and bad text is refused naming what is allowed.
    @Test func pinsSteerTheAttributesZDraws() throws {
        let pins = try AttributePins(parsing: "clothing=red, age=old yaw=0.5,tilt=-7 face_width=1.08")
        #expect(pins.categorical.count == 2 && pins.continuous.count == 3)
        let z = try Tensor.randomNormal([400, 32], seed: 21)
        let pinned = try pins.apply(to: z, seed: 3)
        #expect(try pins.apply(to: z, seed: 3).scalars == pinned.scalars, "deterministic")
        let attrs = try FaceCondition.attributes(z: pinned)
        #expect(attrs.allSatisfy { $0.clothing == .red && $0.age == .old && Swift.abs($0.yaw - 0.5) < 1e-4 && Swift.abs($0.tilt + 7) < 1e-3
                                   && Swift.abs($0.faceWidth - 1.08) < 1e-4 })
        let gray = Double(attrs.filter { $0.hairColor == .gray }.count) / 400
        #expect(Swift.abs(gray - 0.74) < 0.08, "gray hair given old: \(gray)")
        let before = try FaceCondition.attributes(z: z)
        for r in 0..<400 {
            // Entries past the draws are kept; a row that showed the categorical pins keeps its draws but yaw and tilt.
            #expect(Array(pinned.scalars[(r * 32 + 22)..<(r * 32 + 32)]) == Array(z.scalars[(r * 32 + 22)..<(r * 32 + 32)]))
            if before[r].clothing == .red && before[r].age == .old {
                #expect(attrs[r].hairColor == before[r].hairColor && attrs[r].background == before[r].background)
            }
        }
        #expect(try AttributePins(parsing: "").isEmpty && AttributePins(parsing: " , ").isEmpty)
        for (bad, message) in [("clothing=purple", "one of black, white"), ("hair=red", "unknown attribute 'hair'"), ("yaw=2", "in [-1.0, 1.0]"),
                               ("hat", "not name=value"), ("hat=true hat=false", "given twice")] {
            #expect { try AttributePins(parsing: bad) } throws: { "\($0)".contains(message) }
        }
        #expect { try AttributePins(parsing: "facial_hair=beard presentation=feminine").apply(to: z, seed: 1) } throws: { "\($0)".contains("impossible") }
        for p in [1e-9, 0.001, 0.02425, 0.3, 0.5, 0.97575, 0.999999] {
            let x = FaceCondition.normalQuantile(p)
            #expect(Swift.abs(0.5 * erfc(-x / 2.0.squareRoot()) - p) <= 1e-12 * Swift.min(p, 1 - p), "Φ(Φ⁻¹(\(p)))")
        }
    }

    /// The classifier's error is the mean over heads of each head's cross-entropy, checked by hand.
    @Test func classErrorIsTheMeanCrossEntropy() throws {
        let dc = try StyleGAN2Discriminator.Config(matching: Self.g32)
        let head = try GANTrainer.newClassHead(dc, seed: 5)
        let c = dc.channels(atResolution: 4)
        let hidden = try Tensor.randomNormal([3, c], seed: 6)
        let attrs = (0..<3).map { FaceAttributes.draw(seed: 0, index: $0) }
        var sum: Double = 0
        for (h, cat) in AttributeHeads.categorical.enumerated() {
            let w = head["\(h).weight"]!, k = cat.values.count
            for n in 0..<3 {
                let logits = (0..<k).map { v in (0..<c).reduce(0.0) { $0 + Double(hidden.scalars[n * c + $1]) * Double(w.scalars[v * c + $1]) } / Double(c).squareRoot() }
                let m = logits.max()!
                let lse = m + Foundation.log(logits.map { Foundation.exp($0 - m) }.reduce(0, +))
                sum += lse - logits[cat.index(attrs[n])]
            }
        }
        let want = sum / Double(3 * AttributeHeads.categorical.count)
        #expect(Swift.abs(Double(try GANTrainer.classError(hidden, head: head, attributes: attrs).item()) - want) < 1e-4 * Swift.max(1, want))
        #expect(throws: ModelError.self) { try GANTrainer.classError(hidden, head: head, attributes: Array(attrs.prefix(2))) }
        #expect(throws: ModelError.self) { try GANTrainer.checkClassHead(head.filter { $0.key != "0.bias" }, discriminator: dc, path: "x") }
    }

    /// The classifier needs a conditioned run; on one, D's error on a fixed real batch falls, G
    /// reports its term, and the run resumes bit-identically with the heads and their Adam.
    @Test func classifierLearnsTheRealsAndResumes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gancls-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        func trainer() throws -> GANTrainer {
            let t = try GANTrainer(generator: Self.g32, discriminator: .init(matching: Self.g32), options: .init(batch: 4, r1Every: 2))
            #expect(throws: ModelError.self) { try t.setConditionClassifier(1) }
            try t.setConditioning()
            try t.setDGeometry(1)
            try t.setConditionClassifier(1)
            return t
        }
        let a = try trainer()
        let samples = try TrainingData.render(dataSeed: 0, size: 16, indices: Array(20_000..<20_004))
        let real = try SynthFaces.imageTensor(samples)
        let cond = try FaceCondition.vectors(samples.map(\.attributes))
        var errors: [Float] = []
        for _ in 0..<20 { errors.append(try a.discriminatorStep(real: real, condition: cond, attributes: samples.map(\.attributes)).classes) }
        // Adam at lr 0.002 on a 4-feature hidden layer: slow, but every step lowers it.
        #expect(errors.allSatisfy(\.isFinite) && zip(errors, errors.dropFirst()).allSatisfy { $1 < $0 } && errors.last! < errors.first! - 0.02, "\(errors)")
        let b = try trainer(), c = try trainer()
        for _ in 0..<2 { _ = try b.trainStep() }
        let m = try b.trainStep()
        #expect(m.classes.isFinite && m.generatorClasses.isFinite && m.generatorClasses > 0)
        _ = try c.trainStep(); _ = try c.trainStep()
        let ck = c.checkpoint
        #expect(ck.metadata["gan.condition_classifier"] == "1.0" && ck.params["dcls.0.weight"] != nil && ck.optimizer["dcls.step"] != nil)
        try ck.write(to: path)
        let d = try GANTrainer(checkpoint: TrainingCheckpoint.read(path), path: path)
        _ = try d.trainStep()
        for (k, v) in b.checkpoint.params { #expect(d.checkpoint.params[k]?.scalars == v.scalars, "\(k)") }
        for (k, v) in b.checkpoint.optimizer { #expect(d.checkpoint.optimizer[k]?.scalars == v.scalars, "\(k)") }
        // A checkpoint that trains the classifier without its heads is refused by path.
        var broken = ck
        broken.params = broken.params.filter { !$0.key.hasPrefix("dcls.") }
        #expect { try GANTrainer(checkpoint: broken, path: "broken.safetensors") } throws: { "\($0)".contains("broken.safetensors") && "\($0)".contains("dcls") }
    }
}
