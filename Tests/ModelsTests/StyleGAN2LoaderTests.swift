import Foundation
import Testing
import TensorCore
@testable import Models

/// Weight loading, config parsing, and the input and noise contracts of the generator.
@Suite struct StyleGAN2LoaderTests {
    static let small = try! StyleGAN2Config(size: 8, styleDim: 4, nMLP: 2, channelMultiplier: 1, channelDivisor: 128)

    func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tedi-sg2-\(getpid())-\(name)").path
    }

    @Test func stateDictNamesFollowRosinality() throws {
        let shapes = Dictionary(uniqueKeysWithValues: Self.small.expectedShapes.map { ($0.name, $0.shape) })
        let fixture = try SafeTensors.File(path: fixtureRoot + "/s16_cm2/weights.safetensors")
        let cfg = try #require(try StyleGAN2Config.fromMetadata(fixture.metadata, source: "fixture"))
        // The names PyTorch wrote are exactly the names the config expects, with the same shapes.
        #expect(Set(fixture.names) == Set(cfg.expectedShapes.map(\.name)))
        for (name, shape) in cfg.expectedShapes { #expect(fixture.infos[name]?.shape == shape, "\(name)") }
        #expect(shapes["noises.noise_0"] == [1, 1, 4, 4])
        #expect(shapes["noises.noise_2"] == [1, 1, 8, 8])
        #expect(shapes["convs.0.conv.blur.kernel"] == [4, 4])
        #expect(shapes["convs.1.conv.blur.kernel"] == nil)
        #expect(shapes["to_rgbs.0.upsample.kernel"] == [4, 4])
        #expect(shapes["style.2.weight"] == [4, 4])
        #expect(shapes["style.0.weight"] == nil)
    }

    @Test func channelsAndLatentCountMatchRosinality() throws {
        let c = try StyleGAN2Config(size: 1024, channelMultiplier: 2)
        #expect(c.nLatent == 18)
        #expect(c.numLayers == 17)
        #expect([4, 32, 64, 128, 256, 512, 1024].map { c.channels(atResolution: $0) } == [512, 512, 512, 256, 128, 64, 32])
        #expect(try StyleGAN2Config(size: 256, channelMultiplier: 1).nLatent == 14)
        #expect(try StyleGAN2Config(size: 4).nLatent == 2)
    }

    @Test func invalidConfigsAreRejected() throws {
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config(size: 48) }
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config(size: 2048) }
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config(size: 64, styleDim: 0) }
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config(size: 64, channelMultiplier: 0) }
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config(size: 64, lrMLP: .nan) }
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config.fromMetadata(["size": "64", "style_dim": "x"], source: "m") }
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Config.fromMetadata(["size": "64", "arch": "stylegan3"], source: "m") }
        #expect(try StyleGAN2Config.fromMetadata(["format": "pt"], source: "m") == nil)
    }

    @Test func oneErrorListsMissingUnexpectedAndMisShapedTensors() throws {
        var params = try StyleGAN2Generator.random(config: Self.small, seed: 1).parameters
        params["convs.1.noise.weight"] = nil
        params["to_rgbs.0.bias"] = nil
        params["style.9.weight"] = try Tensor.zeros([4, 4])
        params["conv1.conv.weight"] = try Tensor.zeros([1, 4, 4, 3, 1])
        let path = tempPath("bad.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.write(params, metadata: Self.small.metadata, to: path)
        for attempt in 0..<2 {
            do {
                _ = attempt == 0 ? try StyleGAN2Generator.load(path: path)
                                 : try StyleGAN2Generator(config: Self.small, parameters: params, source: path)
                Issue.record("loading bad weights did not throw")
            } catch let e as StyleGAN2Error {
                guard case let .weights(source, _, missing, unexpected, misShaped) = e else {
                    Issue.record("wrong error \(e)"); continue
                }
                #expect(source == path)
                #expect(Set(missing) == ["convs.1.noise.weight", "to_rgbs.0.bias"])
                #expect(unexpected == ["style.9.weight"])
                #expect(misShaped.count == 1 && misShaped[0].hasPrefix("conv1.conv.weight is [1, 4, 4, 3, 1], expected [1, 4, 4, 3, 3]"))
                let text = e.description
                for s in ["missing (2)", "unexpected (1)", "mis-shaped (1)", "style.9.weight", "channel_multiplier"] {
                    #expect(text.contains(s), "message lacks \(s): \(text)")
                }
            }
        }
    }

    @Test func configComesFromMetadataOrCaller() throws {
        let g = try StyleGAN2Generator.random(config: Self.small, seed: 2)
        let with = tempPath("meta.safetensors"), without = tempPath("nometa.safetensors")
        defer { for p in [with, without] { try? FileManager.default.removeItem(atPath: p) } }
        try g.save(to: with)
        try SafeTensors.write(g.parameters, to: without)
        #expect(try StyleGAN2Generator.load(path: with).config == Self.small)
        #expect(try StyleGAN2Generator.load(path: without, config: Self.small).config == Self.small)
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Generator.load(path: without) }
        let other = try StyleGAN2Config(size: 8, styleDim: 4, nMLP: 3, channelMultiplier: 1, channelDivisor: 128)
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Generator.load(path: with, config: other) }
        // Wrong config for the file: the error lists the tensors, not a crash.
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Generator.load(path: without, config: other) }
        #expect(throws: (any Error).self) { try StyleGAN2Generator.load(path: tempPath("absent.safetensors")) }
    }

    @Test func nonStandardBlurKernelIsRejected() throws {
        var params = try StyleGAN2Generator.random(config: Self.small, seed: 3).parameters
        params["convs.0.conv.blur.kernel"] = try Tensor.ones([4, 4])
        #expect(throws: StyleGAN2Error.self) { try StyleGAN2Generator(config: Self.small, parameters: params) }
    }

    @Test func badLatentsAndNoiseAreRejected() throws {
        let g = try StyleGAN2Generator.random(config: Self.small, seed: 4)
        #expect(throws: StyleGAN2Error.self) { try g.mapping(Tensor.zeros([2, 5])) }
        #expect(throws: StyleGAN2Error.self) { try g.synthesis(Tensor.zeros([2, 3, 4])) }
        #expect(throws: StyleGAN2Error.self) { try g.synthesis(Tensor.zeros([0, 4])) }
        #expect(throws: StyleGAN2Error.self) { try g.synthesis(Tensor.zeros([1, 4]), noise: .maps([])) }
        #expect(throws: StyleGAN2Error.self) { try g.generate(z: Tensor.zeros([1, 4]), truncation: 0.5) }
        #expect(throws: StyleGAN2Error.self) { try g.truncate(Tensor.zeros([1, 4]), psi: .infinity, mean: Tensor.zeros([1, 4])) }
        #expect(throws: StyleGAN2Error.self) { try g.meanLatent(count: 0) }
    }

    @Test func noiseModes() throws {
        let f = try Fixture("s16_cm2")
        let g = f.generator
        let wplus = try f.array("wplus")
        let stored = try (0..<g.config.numLayers).map { try g.parameter("noises.noise_\($0)") }
        #expect(try g.synthesis(wplus, noise: .maps(stored)) == g.synthesis(wplus, noise: .const))
        let zeros = try stored.map { try Tensor.zeros($0.shape) }
        #expect(try g.synthesis(wplus, noise: .maps(zeros)) == g.synthesis(wplus, noise: .zero))
        let a = try g.synthesis(wplus, noise: .random(seed: 5)), b = try g.synthesis(wplus, noise: .random(seed: 5))
        let c = try g.synthesis(wplus, noise: .random(seed: 6))
        #expect(a == b)
        #expect(try maxAbsDiff(a, c) > 1e-3)
        // Random noise is drawn per sample: identical codes give different images.
        let twin = try Tensor.concat([wplus.slice(axis: 0, 0..<1), wplus.slice(axis: 0, 0..<1)], axis: 0)
        let t = try g.synthesis(twin, noise: .random(seed: 5))
        #expect(try maxAbsDiff(t.slice(axis: 0, 0..<1), t.slice(axis: 0, 1..<2)) > 1e-3)
    }

    @Test func inferenceAndTapePathsAgree() throws {
        // Untracked inputs take a fused noise + bias + lrelu epilogue; tracked ones the separate ops.
        let f = try Fixture("s64_cm1")
        let wplus = try f.array("wplus")
        for noise in [StyleGAN2Noise.const, .zero, .random(seed: 3)] {
            let plain = try f.generator.synthesis(wplus, noise: noise)
            let tape = Tape()
            let tracked = try f.generator.synthesis(tape.watch(wplus), noise: noise)
            #expect(tracked.isTracked && !plain.isTracked)
            #expect(try maxAbsDiff(plain, tracked) == 0)
        }
    }

    @Test func meanLatentIsTheMeanOfMappedPhiloxNormals() throws {
        let g = try StyleGAN2Generator.random(config: Self.small, seed: 6)
        let m = try g.meanLatent(count: 600, seed: 9)
        // The same z, drawn by hand: 512 rows from stream 0, then 88 from stream 1.
        let z = try Tensor.concat([Tensor.randomNormal([512, 4], seed: 9, stream: 0),
                                   Tensor.randomNormal([88, 4], seed: 9, stream: 1)], axis: 0)
        let w = try g.mapping(z)
        var ref = [Double](repeating: 0, count: 4)
        for r in 0..<600 { for j in 0..<4 { ref[j] += Double(w.scalars[r * 4 + j]) / 600 } }
        #expect(m.shape == [1, 4])
        for j in 0..<4 { #expect(Swift.abs(Double(m.scalars[j]) - ref[j]) < 1e-5) }
        #expect(try g.meanLatent(count: 600, seed: 9) == m)
    }

    @Test func randomZIsSeededAndPrefixStable() throws {
        let g = try StyleGAN2Generator.random(config: Self.small, seed: 8)
        let a = try g.randomZ(count: 3, seed: 11), b = try g.randomZ(count: 5, seed: 11)
        #expect(a.shape == [3, 4])
        #expect(Array(b.scalars.prefix(12)) == a.scalars)
        #expect(try g.randomZ(count: 3, seed: 12) != a)
        #expect(throws: StyleGAN2Error.self) { try g.randomZ(count: 0, seed: 1) }
    }

    @Test func truncationMovesTowardTheMean() throws {
        let g = try StyleGAN2Generator.random(config: Self.small, seed: 7)
        let w = try Tensor(shape: [1, 4], scalars: [1, 2, 3, 4]), mean = try Tensor(shape: [1, 4], scalars: [1, 0, -1, 2])
        #expect(try g.truncate(w, psi: 0.5, mean: mean).scalars == [1, 1, 1, 3])
        #expect(try g.truncate(w, psi: 1, mean: mean) == w)
        let wp = try g.broadcastLatent(w)
        #expect(wp.shape == [1, g.nLatent, 4])
        #expect(try g.truncate(wp, psi: 0, mean: mean).slice(axis: 1, 2..<3).scalars == mean.scalars)
    }
}
