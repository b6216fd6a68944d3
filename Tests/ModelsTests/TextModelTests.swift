import Foundation
import SynthFaces
import Testing
@testable import Models
import TensorCore
import Text

/// The text encoder T and the similarity model S: shapes, what a reading states, training that
/// lowers the loss and resumes bit-identically, the text term's gradient against finite
/// differences, and the codes T writes (seeded, conditioned, impossible combinations dropped).
@Suite struct TextModelTests {
    static let vocabulary = Vocabulary(["a", "woman", "man", "with", "blond", "black", "hair", "glasses", "no", "smiling", "beard", ",", "."])

    @Test func encoderGivesOneDistributionPerAttribute() throws {
        let t = try TextEncoder(config: .init(vocabulary: Self.vocabulary, embedding: 8, hidden: 12), seed: 3)
        let texts = try ["a woman with blond hair", "man , beard", "smiling"].map { try Self.vocabulary.encode($0) }
        let logits = try TextEncoder.forward(texts, config: t.config, params: t.params)
        #expect(logits.count == AttributeHeads.categorical.count)
        for (l, h) in zip(logits, AttributeHeads.categorical) { #expect(l.shape == [3, h.values.count + 1]) }
        // Padding does not change a caption's reading: alone or beside a longer one, the same logits.
        let alone = try TextEncoder.forward([texts[2]], config: t.config, params: t.params)
        for (a, b) in zip(alone, logits) {
            let k = a.shape[1]
            let row = Array(b.scalars[(2 * k)..<(3 * k)])
            #expect(zip(a.scalars, row).allSatisfy { abs($0 - $1) < 1e-5 }, "\(a.scalars) vs \(row)")
        }
        let r = try t.read(["a woman with blond hair"])[0]
        #expect(r.probabilities.count == AttributeHeads.categorical.count)
        #expect(r.probabilities.allSatisfy { abs($0.reduce(0, +) - 1) < 1e-4 })
        #expect(throws: TextError.self) { try t.read([""]) }
    }

    @Test func captionFilesReadCRLFAndSpacesAndNameBadLines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tedi-tsv-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.tsv").path
        try "# comment\r\nblond woman\thair_color = blond, presentation=feminine\r\n\r\nno hat\that=false\r\n".write(toFile: good, atomically: true, encoding: .utf8)
        let caps = try TextEval.captions(file: good)
        #expect(caps.map(\.text) == ["blond woman", "no hat"])
        #expect(caps[0].stated == ["hair_color": "blond", "presentation": "feminine"] && caps[1].stated == ["hat": "false"])
        let bad = dir.appendingPathComponent("bad.tsv").path
        try "blond woman\thair_color=blond\nred hair\thair_color=crimson\n".write(toFile: bad, atomically: true, encoding: .utf8)
        do { _ = try TextEval.captions(file: bad); Issue.record("crimson was accepted") } catch let e as ModelError {
            #expect(e.description.contains("bad.tsv:2") && e.description.contains("hair_color=crimson"), "\(e)")
        }
    }

    @Test func targetsStateValuesAndNotStated() throws {
        let c = StatedCaption(text: "x", stated: ["hair_color": "blond", "eyeglasses": "false"])
        let t = try TextEncoder.targets([c])
        for (h, head) in AttributeHeads.categorical.enumerated() {
            switch head.name {
            case "hair_color": #expect(t[h] == [2])
            case "eyeglasses": #expect(t[h] == [0])
            default: #expect(t[h] == [head.values.count])
            }
        }
        #expect(throws: ModelError.self) { try TextEncoder.targets([StatedCaption(text: "x", stated: ["hair_color": "purple"])]) }
    }

    @Test func textTrainingLowersTheLossAndResumesBitIdentically() throws {
        let config = TextEncoder.Config(vocabulary: try TextTrainer.vocabulary(dataSeed: 0), embedding: 16, hidden: 24)
        let a = try TextTrainer(config: config, options: .init(batch: 16, learningRate: 3e-3))
        var losses: [Float] = []
        for _ in 0..<40 { losses.append(try a.trainStep().loss) }
        let last: Float = losses.suffix(5).reduce(0, +), first: Float = losses.prefix(5).reduce(0, +)
        #expect(last < 0.5 * first, "\(losses)")
        let b = try TextTrainer(checkpoint: a.checkpoint)
        for _ in 0..<3 { _ = try a.trainStep(); _ = try b.trainStep() }
        #expect(a.encoder.params == b.encoder.params)
        // The file round-trips, vocabulary included.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tedi-text-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try a.encoder.save(to: path)
        let loaded = try TextEncoder.load(path)
        #expect(loaded.config == a.encoder.config && loaded.params == a.encoder.params)
    }

    /// The contrastive targets: caption i's row is uniform over every face that shows all it states.
    @Test func positivesAreEveryFaceThatFits() throws {
        let faces = try (20_000..<20_006).map { try SynthFaces.attributes(seed: 0, index: $0) }
        let caps = faces.map { StatedCaption(text: "x", stated: ["presentation": $0.presentation.rawValue]) }
        let t = SimilarityTrainer.positives(caps, faces)
        for i in 0..<6 {
            let row = Array(t[(i * 6)..<(i * 6 + 6)])
            let fits = faces.indices.filter { faces[$0].presentation == faces[i].presentation }
            #expect(abs(row.reduce(0, +) - 1) < 1e-6)
            for j in 0..<6 { #expect(row[j] == (fits.contains(j) ? 1 / Float(fits.count) : 0)) }
        }
    }

    /// The text term's gradient: d(1 − S(t, v(f)))/df from the tape against central differences
    /// at random attribute-network features f (the similarity model's image side: a leaky-ReLU
    /// layer, a projection, unit length, the cosine); the generator's and the attribute network's
    /// own gradients are tested against PyTorch and finite differences elsewhere. Then through
    /// them: a few Adam steps on w lower the term.
    @Test func textTermGradientMatchesFiniteDifferencesAndDescends() throws {
        let net = try AttributeNet(config: .tiny, seed: 4)
        let s = try SimilarityModel(config: .init(vocabulary: Self.vocabulary, embedding: 8, hidden: 8, queries: 2, dim: 16,
                                                  featureDim: net.config.featureDim, backbone: net.fingerprint), seed: 6)
        let (t, _) = try s.embed(texts: ["a woman with blond hair"])
        #expect(t.shape == [1, 16])
        #expect(abs(t.scalars.map { $0 * $0 }.reduce(0, +) - 1) < 1e-5)
        func term(_ f: Tensor) throws -> Tensor {
            let v = try SimilarityModel.imageEmbedding(features: f, config: s.config, params: s.params)
            return try (v * t).sum(axis: 1).mean().scaled(-1).adding(1)
        }
        let f0 = try Tensor.randomNormal([3, net.config.featureDim], seed: 8)
        let tape = Tape()
        let f = tape.watch(f0)
        let grad = try tape.gradients(of: try term(f), wrt: [f])[0]
        let pairs = try directionalDerivatives(of: { try Double(term($0).item()) }, at: f0, gradient: grad, seeds: 0..<4, h: 1e-3)
        for (a, b) in pairs { #expect(abs(a - b) <= 0.02 * max(abs(a), abs(b)) + 1e-4, "tape \(a), finite difference \(b)") }

        let g = try StyleGAN2Generator.random(config: try StyleGAN2Config(size: 16, styleDim: 16, nMLP: 2, channelMultiplier: 1, channelDivisor: 128), seed: 2)
        let w0 = try g.broadcastLatent(g.mapping(g.randomZ(count: 2, seed: 1)))
        let opt = try LatentOptimizer(options: .init(steps: 8, learningRate: 0.05, pixel: 0, feature: 0, text: 1), generator: g, initial: w0,
                                      attributes: net, text: (s, t))
        var parts: [Float] = []
        _ = try opt.run { _, p in parts.append(p.text) }
        #expect(parts.count == 8 && parts.last! < parts.first!, "\(parts)")
        // Another attribute network is refused by name.
        let other = try AttributeNet(config: .tiny, seed: 5)
        #expect(throws: ModelError.self) {
            _ = try LatentOptimizer(options: .init(steps: 1, pixel: 0, feature: 0, text: 1), generator: g, initial: w0, attributes: other, text: (s, t))
        }
    }

    /// Codes for what a caption states: seeded, showing the values, and an impossible combination
    /// (a beard on a feminine face) loses its least sure value with a note.
    @Test func codesShowTheStatedValuesAndDropImpossibleOnes() throws {
        var cc = try StyleGAN2Config(size: 16, styleDim: 32, nMLP: 2, channelMultiplier: 1, channelDivisor: 128)
        cc.conditioning = true
        var p = try StyleGAN2Generator.random(config: try StyleGAN2Config(size: 16, styleDim: 32, nMLP: 2, channelMultiplier: 1, channelDivisor: 128), seed: 5).parameters
        p["cond.weight"] = try Tensor.randomNormal([32, FaceCondition.dimension], seed: 6)
        let g = try StyleGAN2Generator(config: cc, parameters: p)
        let stated = ["hair_color": "gray", "eyeglasses": "true"]
        let (a, notes) = try TextEncoder.latent(stated: stated, generator: g, count: 3, seed: 4)
        #expect(notes.isEmpty && a.shape == [3, g.nLatent, 32])
        #expect(try TextEncoder.latent(stated: stated, generator: g, count: 3, seed: 4).codes == a)
        #expect(try TextEncoder.latent(stated: stated, generator: g, count: 3, seed: 5).codes != a)
        let z = try AttributePins(parsing: "hair_color=gray, eyeglasses=true").apply(to: g.randomZ(count: 3, seed: 4), seed: 4)
        #expect(try FaceCondition.attributes(z: z).allSatisfy { $0.hairColor == .gray && $0.eyeglasses })
        #expect(try g.broadcastLatent(g.mapping(z)) == a)
        let (b, dropped) = try TextEncoder.latent(stated: ["presentation": "feminine", "facial_hair": "beard"], confidence: ["presentation": 0.9, "facial_hair": 0.6],
                                                  generator: g, count: 1, seed: 4)
        #expect(dropped.count == 1 && dropped[0].hasPrefix("facial_hair=beard dropped"), "\(dropped)")
        #expect(try TextEncoder.latent(stated: ["presentation": "feminine"], generator: g, count: 1, seed: 4).codes == b)
        // The value in the way goes, not merely the least sure: glasses (0.1) stay, the presentation (0.9) goes.
        let (c, culprit) = try TextEncoder.latent(stated: ["presentation": "feminine", "facial_hair": "beard", "eyeglasses": "true"],
                                                  confidence: ["presentation": 0.9, "facial_hair": 0.95, "eyeglasses": 0.1], generator: g, count: 1, seed: 4)
        #expect(culprit.count == 1 && culprit[0].hasPrefix("presentation=feminine dropped"), "\(culprit)")
        #expect(try TextEncoder.latent(stated: ["facial_hair": "beard", "eyeglasses": "true"], generator: g, count: 1, seed: 4).codes == c)
        // A generator without attributes is refused.
        let plain = try StyleGAN2Generator.random(config: try StyleGAN2Config(size: 16, styleDim: 32, nMLP: 2, channelMultiplier: 1, channelDivisor: 128), seed: 5)
        #expect(throws: ModelError.self) { try TextEncoder.latent(stated: [:], generator: plain, count: 1, seed: 0) }
    }

    @Test func similarityTrainingResumesBitIdentically() throws {
        let net = try AttributeNet(config: .tiny, seed: 4)
        let a = try SimilarityTrainer(options: .init(batch: 8, pool: 16), net: net)
        _ = try a.trainStep()
        let b = try SimilarityTrainer(checkpoint: a.checkpoint, net: net)
        for _ in 0..<2 { _ = try a.trainStep(); _ = try b.trainStep() }
        #expect(a.model.params == b.model.params)
        #expect(throws: ModelError.self) { try SimilarityTrainer(checkpoint: a.checkpoint, net: try AttributeNet(config: .tiny, seed: 9)) }
    }
}
