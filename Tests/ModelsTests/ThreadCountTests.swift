import Testing
@testable import Models
@testable import TensorCore

/// Every result is the same bytes at any `Threads.count`: a generator forward pass, a style mix,
/// the backward pass to w+ (what instance-level optimization runs) and a training step's weight
/// gradients, at 1, 2, 3 and 4 threads.
@Suite(.serialized) struct ThreadCountTests {
    static let threadCounts = [1, 2, 3, 4]

    func atEachThreadCount<T: Equatable>(_ body: () throws -> T) throws -> [T] {
        let saved = Threads.count
        defer { Threads.count = saved }
        return try Self.threadCounts.map { t in
            Threads.count = t
            return try body()
        }
    }

    @Test func generatorForwardMixAndBackwardToWPlus() throws {
        // 128 channels at 32 px: products big enough that sgemm splits them.
        let config = try StyleGAN2Config(size: 32, styleDim: 64, nMLP: 2, channelMultiplier: 1, channelDivisor: 4)
        let g = try StyleGAN2Generator.random(config: config, seed: 3)
        let runs = try atEachThreadCount { () -> [[Float]] in
            let a = try g.broadcastLatent(g.mapping(g.randomZ(count: 3, seed: 1)))
            let b = try g.broadcastLatent(g.mapping(g.randomZ(count: 3, seed: 2)))
            let mixed = try StyleGAN2Generator.mixLayers(a, b, layers: 2...5)
            let image = try g.synthesis(mixed, noise: .random(seed: 4))
            let tape = Tape()
            let w = tape.watch(mixed)
            let out = try g.synthesis(w, noise: .const)
            let loss = try (out * out).mean()
            let grad = try tape.gradients(of: loss, wrt: [w])[0]
            return [image.scalars, out.scalars, grad.scalars]
        }
        #expect(runs[0][2].contains { $0 != 0 })
        for (i, r) in runs.enumerated().dropFirst() {
            #expect(r[0] == runs[0][0], "image at \(Self.threadCounts[i]) threads")
            #expect(r[1] == runs[0][1], "tracked forward at \(Self.threadCounts[i]) threads")
            #expect(r[2] == runs[0][2], "w+ gradient at \(Self.threadCounts[i]) threads")
        }
    }

    @Test func convWeightGradientsOverManyTiles() throws {
        // 16 channels at 192²: many im2col tiles and a small weight, the grouped weight gradient.
        let x0 = try Tensor.randomNormal([2, 16, 192, 192], seed: 5)
        let w0 = try Tensor.randomNormal([16, 16, 3, 3], seed: 6)
        let g = ConvGeometry(cin: 16, h: 192, w: 192, cout: 16, kh: 3, kw: 3, stride: 1, pad: 1)
        #expect(weightGradGroups(g, tileRows: g.tileRows()) > 1)
        let runs = try atEachThreadCount { () -> [[Float]] in
            let tape = Tape()
            let (x, w) = (tape.watch(x0), tape.watch(w0))
            let y = try Tensor.conv2d(x, weight: w, padding: 1)
            let up = try Tensor.convTranspose2d(y, weight: w, stride: 2, padding: 1)
            let grads = try tape.gradients(of: (up * up).mean(), wrt: [x, w])
            return [y.scalars, up.scalars, grads[0].scalars, grads[1].scalars]
        }
        for (i, r) in runs.enumerated().dropFirst() {
            #expect(r == runs[0], "at \(Self.threadCounts[i]) threads")
        }
    }
}
