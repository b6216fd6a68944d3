import Foundation
import Testing
@testable import Models
import SynthFaces
import TensorCore

/// The attribute network: heads, shapes, gradients, model files, and the shipped weights.
@Suite struct AttributeNetTests {
    @Test func headsReadTheAttributesJSON() throws {
        // Each head's class name must equal the attribute's value as SynthFaces writes it.
        for i in 0..<20 {
            let a = FaceAttributes.draw(seed: 3, index: i)
            guard case .object(let members) = try JSONValue.parse(Array(a.jsonLine().utf8)) else { Issue.record("not an object"); return }
            let json = Dictionary(uniqueKeysWithValues: members.map { ($0.key, $0.value) })
            for h in AttributeHeads.categorical {
                let v = try #require(json[h.name], "no \(h.name) in \(a.jsonLine())")
                let text: String
                switch v {
                case .string(let s): text = s
                case .bool(let b): text = String(b)
                default: Issue.record("unexpected JSON for \(h.name)"); continue
                }
                #expect(h.values[h.index(a)] == text, "\(h.name)")
            }
        }
        #expect(AttributeHeads.categorical.count == 19)
        #expect(AttributeHeads.categorical.map(\.values.count).reduce(0, +) == 68)
    }

    @Test func shapesAndFeatures() throws {
        let net = try AttributeNet(config: .tiny, seed: 5)
        let x = try Tensor.randomUniform([3, 3, 16, 16], -1, 1, seed: 1)
        let out = try net(x)
        #expect(out.features.shape == [3, 32])
        #expect(out.logits.map(\.shape) == AttributeHeads.categorical.map { [3, $0.values.count] })
        #expect(out.regression.shape == [3, 3])
        #expect(try net.features(x) == out.features)
        // Features are differentiable in the images (the perceptual loss needs that).
        let tape = Tape()
        let wx = tape.watch(x)
        let g = try tape.gradients(of: try net.features(wx).squared().sum(), wrt: [wx])[0]
        #expect(g.shape == x.shape)
        #expect(g.scalars.contains { $0 != 0 })
        // Same seed, same weights; another seed, other weights.
        #expect(try AttributeNet(config: .tiny, seed: 5).params == net.params)
        #expect(try AttributeNet(config: .tiny, seed: 6).params["conv0.weight"] != net.params["conv0.weight"])
        #expect(throws: TensorError.self) { try net(try Tensor.zeros([1, 3, 32, 32])) }
        #expect(throws: TensorError.self) { try net.features(try Tensor.zeros([1, 1, 16, 16])) }
    }

    @Test func predictionsAreArgmaxAndDenormalized() throws {
        // Hand-made output: the arg-max of each head and value·halfRange + center.
        let heads = AttributeHeads.categorical
        let logits = try heads.map { h -> Tensor in
            var s = [Float](repeating: 0, count: h.values.count)
            s[h.values.count - 1] = 2
            return try Tensor(shape: [1, h.values.count], scalars: s)
        }
        let out = AttributeNet.Output(features: try Tensor.zeros([1, 4]), logits: logits,
                                      regression: try Tensor(shape: [1, 3], scalars: [0.5, -1, 1]))
        let p = AttributeNet.predictions(out)[0]
        #expect(p.classes == heads.map { $0.values.count - 1 })
        #expect(Swift.abs(p.values[0] - 1.04) < 1e-6)
        #expect(p.values[1] == -1)
        #expect(p.values[2] == 7)
    }

    @Test func lossGradientMatchesFiniteDifference() throws {
        // Directional derivative of the training loss along a random direction, in Double sums.
        let net = try AttributeNet(config: .tiny, seed: 2)
        let samples = try SynthFaces.samples(seed: 0, indices: 20_000..<20_004, size: 16)
        let x = try SynthFaces.imageTensor(samples), attrs = samples.map(\.attributes)
        let trainer = try AttributeTrainer(config: .tiny, options: .init(batch: 4))
        let (_, _, _, _, grads) = try trainer.lossAndGradients(images: x, attributes: attrs, params: net.params, config: .tiny, regressionWeight: 1)
        for name in ["conv0.weight", "fc.bias", "head.hair_color.weight", "regress.weight"] {
            let p = net.params[name]!
            let d = try Tensor.randomNormal(p.shape, seed: 9, stream: 3)
            // Small steps: leaky-ReLU kinks sit near zero pre-activations in a fresh net, and a
            // larger step crosses them (the tolerance covers Float32 loss rounding at this h).
            let h: Float = 1e-3
            func loss(_ sign: Float) throws -> Double {
                var q = net.params
                q[name] = try p + d.scaled(sign * h)
                return Double(try trainer.lossAndGradients(images: x, attributes: attrs, params: q, config: .tiny, regressionWeight: 1).0)
            }
            let numeric = (try loss(1) - loss(-1)) / (2 * Double(h))
            var analytic = 0.0
            for (g, v) in zip(grads[name]!.scalars, d.scalars) { analytic += Double(g) * Double(v) }
            #expect(Swift.abs(numeric - analytic) <= 0.05 * Swift.max(Swift.abs(analytic), 0.2), "\(name): tape \(analytic), finite difference \(numeric)")
        }
    }

    @Test func modelFileRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attrnet-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let net = try AttributeNet(config: .tiny, seed: 4)
        try net.save(to: dir + "/a.safetensors")
        let back = try AttributeNet.load(dir + "/a.safetensors")
        #expect(back.config == net.config)
        #expect(back.params == net.params)
        try net.save(to: dir + "/h.safetensors", dtype: .f16)
        let half = try AttributeNet.load(dir + "/h.safetensors")
        for (k, v) in net.params {
            for (a, b) in zip(v.scalars, half.params[k]!.scalars) { #expect(Swift.abs(a - b) <= 1e-3 * Swift.max(1, Swift.abs(a))) }
        }
        // A file of another kind, or with a tensor missing, is refused with a message.
        try SafeTensors.write(["x": Tensor(1)], metadata: ["arch": "stylegan2"], to: dir + "/g.safetensors")
        #expect(throws: ModelError.self) { try AttributeNet.load(dir + "/g.safetensors") }
        var partial = net.params
        partial["fc.weight"] = nil
        try SafeTensors.write(partial, metadata: net.config.metadata, to: dir + "/p.safetensors")
        let e = #expect(throws: ModelError.self) { try AttributeNet.load(dir + "/p.safetensors") }
        #expect(e?.description.contains("fc.weight") == true)
        var bad = net.config.metadata
        bad["strides"] = "2,x"
        try SafeTensors.write(net.params, metadata: bad, to: dir + "/b.safetensors")
        #expect(throws: ModelError.self) { try AttributeNet.load(dir + "/b.safetensors") }
    }

    /// The shipped model at `Models/attributes.safetensors`, found from this file's path.
    static var shippedPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Models/attributes.safetensors").path
    }

    @Test func shippedModelScoresOnHeldOutRenders() throws {
        let net = try AttributeNet.load(AttributeNetTests.shippedPath)
        #expect(net.config == AttributeNet.Config())
        let rows = try AttributeEval.run(net, split: .test, count: 64)
        let mean = AttributeEval.meanCategoricalAccuracy(rows)
        // The shipped weights score 96.0% here (and on 1,000 samples); the margin absorbs
        // floating-point differences between BLAS builds, not a weaker model.
        #expect(mean >= 0.93, "mean categorical accuracy \(mean) on 64 test samples\n\(AttributeEval.markdown(rows))")
        // Clearly visible attributes must be (nearly) always right.
        for name in ["background", "clothing", "hat", "hair_color"] {
            let r = try #require(rows.first { $0.name == name })
            #expect(r.accuracy >= 0.97, "\(name): \(r.accuracy)")
        }
    }
}
