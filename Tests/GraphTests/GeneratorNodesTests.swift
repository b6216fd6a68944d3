import Foundation
import Graph
import Models
import Nodes
import TensorCore
import Testing

/// The generator ops in graphs, on the small PyTorch fixtures of Tests/ModelsTests (rosinality's
/// Generator with random weights, size 16, channel multiplier 2, channels divided by 32).
@Suite struct GeneratorNodesTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelsTests/Fixtures/s16_cm2")
    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// `input.latent → synthesize → write.npy` writes the raw generator output, equal to PyTorch's.
    @Test func latentToRawOutputMatchesPyTorch() throws {
        let dir = try TempDir("gen-npy")
        let yaml = """
        tedi: 1
        models:
          faces: \(Self.fixture("weights.safetensors"))
        nodes:
          codes: { op: input.latent, path: \(Self.fixture("wplus.npy")), space: w+ }
          image: { op: synthesize, in: codes, noise: const }
          raw:   { op: write.npy, in: image.raw, path: out.npy }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        let ours = try Npy.readTensor(dir.path("out/out.npy")), torch = try Npy.readTensor(Self.fixture("out_wplus.npy"))
        #expect(ours.shape == torch.shape)
        let err = zip(ours.scalars, torch.scalars).map { Swift.abs($0 - $1) }.max() ?? .infinity
        #expect(err <= 1e-3, "max abs error \(err)")
    }

    @Test func samplingIsSeededAndModelChangesInvalidateKeys() throws {
        let dir = try TempDir("gen-sample")
        try FileManager.default.copyItem(atPath: Self.fixture("weights.safetensors"), toPath: dir.path("g.safetensors"))
        let yaml = """
        tedi: 1
        models:
          faces: g.safetensors
        nodes:
          w:     { op: sample, count: 2, truncation: 0.7 }
          image: { op: synthesize, in: w }
          save:  { op: write.png, in: image, path: "face_${seed}.png" }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        let r1 = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("a")).run(seeds: [0, 1])
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("b")).run(seeds: [0, 1])
        #expect(dir.read("a/face_0.png") == dir.read("b/face_0.png"))
        #expect(dir.read("a/face_0.png") != dir.read("a/face_1.png"))
        // Other weights under the same name: every node that reads the model gets a new key.
        var g = try SafeTensors.read(dir.path("g.safetensors"))
        g.tensors["style.1.bias"] = g.tensors["style.1.bias"]!.adding(0.5)
        try SafeTensors.write(g.tensors, metadata: g.metadata, to: dir.path("g.safetensors"))
        let r2 = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("c")).run(seeds: [0])
        #expect(r2.nodes[0].key != r1.nodes[0].key && r2.nodes[1].key != r1.nodes[1].key)
    }

    /// `noise_seed` (default `${seed}`) matters only with `noise: random`: with the stored noise a
    /// synthesize of a fixed latent has one key for every seed, so a sweep computes it once.
    @Test func noiseSeedMattersOnlyForRandomNoise() throws {
        let dir = try TempDir("gen-noise-seed")
        func keys(_ noise: String) throws -> [[String]] {
            let yaml = """
            tedi: 1
            models:
              faces: \(Self.fixture("weights.safetensors"))
            nodes:
              codes: { op: input.latent, path: \(Self.fixture("wplus.npy")), space: w+ }
              image: { op: synthesize, in: codes, noise: \(noise) }
              raw:   { op: write.npy, in: image.raw, path: "out_${seed}.npy" }
            """
            let runner = GraphRunner(plan: try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard), cache: nil, outDirectory: dir.sub("out-\(noise)"))
            let report = try runner.run(seeds: [0, 1])
            return report.nodes.filter { $0.id == "image" }.map { [$0.key, $0.status.rawValue] }
        }
        let stored = try keys("const"), random = try keys("random"), zero = try keys("zero")
        // One key for both seeds, computed once; random noise: two keys, two runs.
        #expect(stored.count == 2 && stored[0][0] == stored[1][0] && stored.map { $0[1] } == ["ran", "memo"], "\(stored)")
        #expect(zero.count == 2 && zero[0][0] == zero[1][0], "\(zero)")
        #expect(random.count == 2 && random[0][0] != random[1][0] && random.map { $0[1] } == ["ran", "ran"], "\(random)")
        #expect(stored[0][0] != zero[0][0] && stored[0][0] != random[0][0])
    }

    /// `sample`'s `attributes` steer a generator trained with --condition (every code shows them),
    /// are refused for a plain one, and bad values are an error at the parameter before anything runs.
    @Test func attributesSteerAConditionedGenerator() throws {
        let dir = try TempDir("gen-attributes")
        var config = try StyleGAN2Config(size: 16, styleDim: 32, nMLP: 1, channelMultiplier: 1, channelDivisor: 128)
        config.conditioning = true
        var g = try StyleGAN2Generator.random(config: config, seed: 3)
        g.parameters["cond.weight"] = try Tensor.randomNormal([32, FaceCondition.dimension], seed: 4)
        try g.save(to: dir.path("cond.safetensors"))
        try SafeTensors.write(g.parameters.filter { $0.key != "cond.weight" }, metadata: StyleGAN2Config(size: 16, styleDim: 32, nMLP: 1, channelMultiplier: 1, channelDivisor: 128).metadata,
                              to: dir.path("plain.safetensors"))
        func graph(_ model: String, _ attributes: String) -> String {
            """
            tedi: 1
            models:
              faces: \(model)
            nodes:
              z:     { op: sample, count: 6, space: z, attributes: "\(attributes)" }
              image: { op: synthesize, in: z }
              save:  { op: write.npy, in: z, path: "z_${seed}.npy" }
              png:   { op: write.png, in: image, path: "f_${seed}.png" }
            """
        }
        let plan = try loadPlan(graph("cond.safetensors", "clothing=red, eyeglasses=true, tilt=3.5"), in: dir, catalog: NodeCatalog.standard)
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("a")).run(seeds: [0, 1])
        for seed in [0, 1] {
            let attrs = try FaceCondition.attributes(z: Npy.readTensor(dir.path("a/z_\(seed).npy")))
            #expect(attrs.count == 6 && attrs.allSatisfy { $0.clothing == .red && $0.eyeglasses && Swift.abs($0.tilt - 3.5) < 1e-3 }, "\(attrs)")
        }
        let free = try loadPlan(graph("cond.safetensors", ""), in: dir, name: "free.yaml", catalog: NodeCatalog.standard)
        _ = try GraphRunner(plan: free, cache: nil, outDirectory: dir.sub("b")).run(seeds: [0])
        #expect(dir.read("a/f_0.png") != dir.read("b/f_0.png"))
        expectOneError(graph(dir.path("plain.safetensors"), "clothing=red"), at: 5, 56, "model 'faces' is not conditioned on attributes", "--condition",
                       catalog: NodeCatalog.standard)
        expectOneError(graph(dir.path("cond.safetensors"), "clothing=purple"), at: 5, 56, "clothing=purple is not a value of clothing", catalog: NodeCatalog.standard)
    }

    /// A graph whose only model file is missing gets that one error, not one per node using it.
    @Test func missingModelFileIsOneError() {
        expectOneError("""
        tedi: 1
        models:
          faces: ../Models/nowhere.safetensors
        nodes:
          w:     { op: sample, space: w+ }
          image: { op: synthesize, in: w }
          save:  { op: write.png, in: image, path: x.png }
        """, at: 3, 10, "model 'faces': no such file '../Models/nowhere.safetensors'")
    }

    @Test func modelsAreCheckedBeforeRunning() throws {
        let dir = try TempDir("gen-bad")
        let yaml = """
        tedi: 1
        models:
          faces: \(Self.fixture("weights.safetensors"))
          other: missing.safetensors
        nodes:
          w:     { op: sample, model: facez, space: w+ }
          style: { op: sample, model: faces, seed: 3, space: w+ }
          m:     { op: mix, in: { base: w, style: style }, layers: "5-6" }
          image: { op: synthesize, in: m }
          save:  { op: write.png, in: image, path: x.png }
        """
        do {
            _ = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
            Issue.record("validation should fail")
        } catch let e as GraphErrors {
            let messages = e.diagnostics.map(\.message)
            #expect(messages.contains { $0.hasPrefix("model 'other': no such file 'missing.safetensors'") }, "\(messages)")
            #expect(messages.contains("node 'w': no model 'facez' in the graph's models or the shipped ones (did you mean 'faces'?)"), "\(messages)")
            // The size-16 model has 6 W+ layers (0–5), read from its file's __metadata__.
            #expect(messages.contains("node 'm': layer 6 is outside the latent's 6 layers (0–5)"), "\(messages)")
            #expect(messages.count == 3, "\(messages)")
        }
        // With two usable models, a node must say which one it means.
        let two = """
        tedi: 1
        models:
          a: \(Self.fixture("weights.safetensors"))
          b: \(Self.fixture("weights.safetensors"))
        nodes:
          w:    { op: sample }
          save: { op: write.npy, in: w, path: w.npy }
        """
        do {
            _ = try loadPlan(two, in: dir, name: "two.yaml", catalog: NodeCatalog.standard)
            Issue.record("validation should fail")
        } catch let e as GraphErrors {
            #expect(e.diagnostics.map(\.message) == ["node 'w' (sample) needs param 'model': the graph declares several generators (a, b)"])
        }
    }
}
