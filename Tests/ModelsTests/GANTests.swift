import Foundation
import SynthFaces
import Testing
@testable import Models
import TensorCore

/// A float64 reference of rosinality's discriminator, written from its PyTorch source with naive
/// loops: EqualConv2d, Blur (upfirdn2d), FusedLeakyReLU, ResBlock, minibatch stddev, EqualLinear.
struct ReferenceD {
    let p: [String: [Double]]
    let cfg: StyleGAN2Discriminator.Config

    init(_ d: StyleGAN2Discriminator) {
        var p: [String: [Double]] = [:]
        for (k, v) in d.parameters { p[k] = v.scalars.map(Double.init) }
        self.p = p; cfg = d.config
    }

    /// x (N,C,H,W) flat.
    struct Map { var n: Int, c: Int, h: Int, w: Int, v: [Double] }

    func conv(_ x: Map, _ name: String, cout: Int, k: Int, stride: Int, pad: Int, p q: [String: [Double]]) -> Map {
        let w = q[name]!
        let scale = 1 / Double(x.c * k * k).squareRoot()
        let ho = (x.h + 2 * pad - k) / stride + 1, wo = (x.w + 2 * pad - k) / stride + 1
        var out = [Double](repeating: 0, count: x.n * cout * ho * wo)
        for n in 0..<x.n { for o in 0..<cout { for i in 0..<ho { for j in 0..<wo {
            var s = 0.0
            for c in 0..<x.c { for a in 0..<k { for b in 0..<k {
                let y = i * stride + a - pad, xx = j * stride + b - pad
                if y < 0 || y >= x.h || xx < 0 || xx >= x.w { continue }
                s += w[((o * x.c + c) * k + a) * k + b] * x.v[((n * x.c + c) * x.h + y) * x.w + xx]
            } } }
            out[((n * cout + o) * ho + i) * wo + j] = s * scale
        } } } }
        return Map(n: x.n, c: cout, h: ho, w: wo, v: out)
    }

    func blur(_ x: Map, pad: (Int, Int)) -> Map {
        let t: [Double] = [1, 3, 3, 1]
        let ho = x.h + pad.0 + pad.1 - 3, wo = x.w + pad.0 + pad.1 - 3
        var out = [Double](repeating: 0, count: x.n * x.c * ho * wo)
        for nc in 0..<(x.n * x.c) { for i in 0..<ho { for j in 0..<wo {
            var s = 0.0
            for a in 0..<4 { for b in 0..<4 {
                let y = i + a - pad.0, xx = j + b - pad.0
                if y < 0 || y >= x.h || xx < 0 || xx >= x.w { continue }
                s += t[a] * t[b] / 64 * x.v[(nc * x.h + y) * x.w + xx]
            } }
            out[(nc * ho + i) * wo + j] = s
        } } }
        return Map(n: x.n, c: x.c, h: ho, w: wo, v: out)
    }

    func act(_ x: Map, _ bias: String, p q: [String: [Double]]) -> Map {
        let b = q[bias]!
        var y = x
        let plane = x.h * x.w
        for i in 0..<y.v.count {
            let v = y.v[i] + b[(i / plane) % x.c]
            y.v[i] = (v > 0 ? v : 0.2 * v) * 2.0.squareRoot()
        }
        return y
    }

    /// Sum of the logits of the batch, with parameters `q` (default: the network's).
    func logits(_ xs: [Double], n: Int, p q0: [String: [Double]]? = nil) -> [Double] {
        let q = q0 ?? p
        let s = cfg.size
        var h = act(conv(Map(n: n, c: 3, h: s, w: s, v: xs), "convs.0.0.weight", cout: cfg.channels(atResolution: s), k: 1, stride: 1, pad: 0, p: q),
                    "convs.0.1.bias", p: q)
        for b in 1...cfg.blocks {
            let pre = "convs.\(b)", cout = cfg.channels(atResolution: s >> b)
            var a = act(conv(h, "\(pre).conv1.0.weight", cout: h.c, k: 3, stride: 1, pad: 1, p: q), "\(pre).conv1.1.bias", p: q)
            a = act(conv(blur(a, pad: (2, 2)), "\(pre).conv2.1.weight", cout: cout, k: 3, stride: 2, pad: 0, p: q), "\(pre).conv2.2.bias", p: q)
            let sk = conv(blur(h, pad: (1, 1)), "\(pre).skip.1.weight", cout: cout, k: 1, stride: 2, pad: 0, p: q)
            h = Map(n: n, c: cout, h: a.h, w: a.w, v: zip(a.v, sk.v).map { ($0 + $1) / 2.0.squareRoot() })
        }
        // Minibatch stddev: sample n = g·M + m is grouped with the others of the same m.
        let g = min(n, 4), m = n / g, inner = h.c * h.h * h.w
        var feat = [Double](repeating: 0, count: m)
        for mm in 0..<m {
            var acc = 0.0
            for i in 0..<inner {
                let vals = (0..<g).map { h.v[($0 * m + mm) * inner + i] }
                let mu = vals.reduce(0, +) / Double(g)
                acc += (vals.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / Double(g) + 1e-8).squareRoot()
            }
            feat[mm] = acc / Double(inner)
        }
        var cat = [Double]()
        for nn in 0..<n {
            cat += h.v[(nn * inner)..<((nn + 1) * inner)]
            cat += [Double](repeating: feat[nn % m], count: h.h * h.w)
        }
        let c4 = cfg.channels(atResolution: 4)
        h = act(conv(Map(n: n, c: h.c + 1, h: h.h, w: h.w, v: cat), "final_conv.0.weight", cout: c4, k: 3, stride: 1, pad: 1, p: q),
                "final_conv.1.bias", p: q)
        func linear(_ x: [Double], _ w: String, out: Int) -> [Double] {
            let wt = q[w]!, inn = x.count / n
            var y = [Double](repeating: 0, count: n * out)
            for i in 0..<n { for o in 0..<out {
                var s = 0.0
                for j in 0..<inn { s += wt[o * inn + j] * x[i * inn + j] }
                y[i * out + o] = s / Double(inn).squareRoot()
            } }
            return y
        }
        var f = linear(h.v, "final_linear.0.weight", out: c4)
        let b0 = q["final_linear.0.bias"]!
        for i in 0..<f.count { let v = f[i] + b0[i % c4]; f[i] = (v > 0 ? v : 0.2 * v) * 2.0.squareRoot() }
        let b1 = q["final_linear.1.bias"]![0]
        return linear(f, "final_linear.1.weight", out: 1).map { $0 + b1 }
    }

    /// R1 = (1/N) Σ ‖∂S/∂x‖², ∂S/∂x by central differences.
    func r1(_ xs: [Double], n: Int, p q: [String: [Double]]? = nil, h: Double = 1e-3) -> Double {
        var x = xs, ss = 0.0
        for i in 0..<x.count {
            let x0 = x[i]
            x[i] = x0 + h; let a = logits(x, n: n, p: q).reduce(0, +)
            x[i] = x0 - h; let b = logits(x, n: n, p: q).reduce(0, +)
            x[i] = x0
            let g = (a - b) / (2 * h)
            ss += g * g
        }
        return ss / Double(n)
    }
}

@Suite struct GANTests {
    /// A tiny D (8 px, 4 channels) with nonzero biases so every term is exercised.
    func tinyD(size: Int = 8) throws -> StyleGAN2Discriminator {
        var d = try StyleGAN2Discriminator.random(config: .init(size: size, channelMultiplier: 1, channelDivisor: 128), seed: 3)
        for (i, name) in d.trainableNames.enumerated() where name.hasSuffix("bias") {
            d.parameters[name] = try Tensor.randomNormal(d.parameters[name]!.shape, seed: 11, stream: UInt64(i)).scaled(0.3)
        }
        return d
    }

    @Test func discriminatorNamesFollowRosinality() throws {
        let c = try StyleGAN2Discriminator.Config(size: 64, channelMultiplier: 1, channelDivisor: 4)
        let shapes = Dictionary(uniqueKeysWithValues: c.expectedShapes.map { ($0.name, $0.shape) })
        #expect(c.blocks == 4)
        #expect(shapes["convs.0.0.weight"] == [64, 3, 1, 1])
        #expect(shapes["convs.1.conv2.1.weight"] == [128, 64, 3, 3])
        #expect(shapes["convs.4.skip.1.weight"] == [128, 128, 1, 1])
        #expect(shapes["final_conv.0.weight"] == [128, 129, 3, 3])
        #expect(shapes["final_linear.0.weight"] == [128, 2048])
        #expect(shapes["final_linear.1.weight"] == [1, 128])
        var d = try StyleGAN2Discriminator.random(config: c, seed: 1)
        d.parameters["convs.0.1.bias"] = try Tensor.zeros([3])
        #expect(throws: ModelError.self) { try StyleGAN2Discriminator(config: c, parameters: d.parameters) }
        #expect(throws: ModelError.self) { try d.callAsFunction(Tensor.zeros([5, 3, 64, 64])) }
        #expect(throws: ModelError.self) { try StyleGAN2Discriminator.Config(size: 48) }
    }

    @Test func discriminatorMatchesFloat64Reference() throws {
        let d = try tinyD(size: 16)
        let x = try Tensor.randomUniform([8, 3, 16, 16], -1, 1, seed: 5)
        let got = try d(x).scalars
        let want = ReferenceD(d).logits(x.scalars.map(Double.init), n: 8)
        for (a, b) in zip(got, want) { #expect(abs(Double(a) - b) <= 1e-4 * max(1, abs(b)), "\(a) vs \(b)") }
    }

    @Test func r1MatchesFloat64FiniteDifferences() throws {
        // Biases ±6 pin every leaky ReLU to one side near x: R1's θ-gradient has jumps where a unit
        // changes sides, which would make any finite-difference comparison (reference or HVP) noise.
        var d = try tinyD()
        for (i, name) in d.trainableNames.enumerated() where name.hasSuffix("bias") {
            let r = try Tensor.randomUniform(d.parameters[name]!.shape, -1, 1, seed: 12, stream: UInt64(i))
            d.parameters[name] = try Tensor(shape: r.shape, scalars: r.scalars.map { $0 > 0 ? 6 : -6 })
        }
        let n = 2
        let x = try Tensor.randomUniform([n, 3, 8, 8], -1, 1, seed: 9)
        let ref = ReferenceD(d)
        let xd = x.scalars.map(Double.init)
        let (r1, grads) = try GANTrainer.r1Gradients(d, real: x, epsilon: 1e-2)
        let r1Ref = ref.r1(xd, n: n)
        #expect(abs(Double(r1) - r1Ref) <= 1e-3 * r1Ref, "R1 \(r1) vs \(r1Ref)")
        // ∂R1/∂θ for one entry of several tensors, by central differences on the float64 reference.
        let probes = [("convs.0.0.weight", 1), ("convs.1.conv1.0.weight", 17), ("convs.1.conv2.2.bias", 2),
                      ("final_conv.0.weight", 40), ("final_linear.0.weight", 5)]
        var got: [Double] = [], want: [Double] = []
        for (name, i) in probes {
            var q = ref.p
            let h = 1e-3, v = q[name]![i]
            q[name]![i] = v + h; let a = ref.r1(xd, n: n, p: q)
            q[name]![i] = v - h; let b = ref.r1(xd, n: n, p: q)
            want.append((a - b) / (2 * h))
            got.append(Double(grads[name]!.scalars[i]))
        }
        let scale = want.map { abs($0) }.max()!
        #expect(scale > 1e-5)
        for (k, (a, b)) in zip(got, want).enumerated() {
            #expect(abs(a - b) <= 2e-2 * scale, "\(probes[k]): \(a) vs \(b)")
        }
        #expect(grads["final_linear.1.bias"].map { $0.scalars.allSatisfy { abs($0) < 1e-3 * Float(scale) } } == true,
                "R1 does not depend on the last bias")
    }

    static let tinyG = try! StyleGAN2Config(size: 16, styleDim: 16, nMLP: 2, channelMultiplier: 1, channelDivisor: 128)

    func tinyTrainer(_ o: GANTrainer.Options = .init(batch: 4, r1Every: 2)) throws -> GANTrainer {
        try GANTrainer(generator: Self.tinyG, discriminator: .init(matching: Self.tinyG), options: o)
    }

    @Test func lossesMoveTheRightWay() throws {
        let t = try tinyTrainer(.init(batch: 8, learningRate: 0.002))
        let real = try SynthFaces.imageTensor(t.render(offset: 0))
        // G frozen (same fakes every time): D's loss falls.
        var dl: [Float] = []
        for _ in 0..<12 { dl.append(try t.discriminatorStep(real: real).loss) }
        let dFirst: Float = dl.prefix(3).reduce(0, +), dLast: Float = dl.suffix(3).reduce(0, +)
        #expect(dLast < 0.9 * dFirst, "D loss \(dl)")
        // D frozen (same z every time): G's loss falls.
        var gl: [Float] = []
        for _ in 0..<12 { gl.append(try t.generatorStep().0) }
        let gFirst: Float = gl.prefix(3).reduce(0, +), gLast: Float = gl.suffix(3).reduce(0, +)
        #expect(gLast < 0.95 * gFirst, "G loss \(gl)")
    }

    @Test func resumeIsBitIdentical() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gan-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a = try tinyTrainer()
        for _ in 0..<4 { _ = try a.trainStep() }
        let b = try tinyTrainer()
        for _ in 0..<2 { _ = try b.trainStep() }
        try b.checkpoint.write(to: path)
        let c = try GANTrainer(checkpoint: TrainingCheckpoint.read(path), path: path)
        for _ in 0..<2 { _ = try c.trainStep() }
        let ca = a.checkpoint, cc = c.checkpoint
        #expect(cc.step == 4 && cc.dataOffset == 16)
        #expect(Set(ca.params.keys) == Set(cc.params.keys) && Set(ca.optimizer.keys) == Set(cc.optimizer.keys))
        for (k, v) in ca.params { #expect(cc.params[k]?.scalars == v.scalars, "\(k)") }
        for (k, v) in ca.optimizer { #expect(cc.optimizer[k]?.scalars == v.scalars, "\(k)") }
        // Training moved G, D and the EMA.
        let fresh = try tinyTrainer().checkpoint
        #expect(fresh.params["g.convs.0.conv.weight"]!.scalars != ca.params["g.convs.0.conv.weight"]!.scalars)
        #expect(fresh.params["ema.convs.0.conv.weight"]!.scalars != ca.params["ema.convs.0.conv.weight"]!.scalars)
        #expect(fresh.params["d.final_linear.1.weight"]!.scalars != ca.params["d.final_linear.1.weight"]!.scalars)
    }

    @Test func minibatchStddevMatchesNaive() throws {
        let x = try Tensor.randomNormal([8, 2, 3, 3], seed: 2)
        let y = try StyleGAN2Discriminator.minibatchStddev(x)
        #expect(y.shape == [8, 3, 3, 3])
        for n in 0..<8 {
            let m = n % 2
            var acc = 0.0
            for i in 0..<18 {
                let v = (0..<4).map { Double(x.scalars[($0 * 2 + m) * 18 + i]) }
                let mu = v.reduce(0, +) / 4
                acc += (v.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 4 + 1e-8).squareRoot()
            }
            #expect(abs(Double(y[n, 2, 1, 1]) - acc / 18) < 1e-5)
            #expect(y[n, 1, 2, 0] == x[n, 1, 2, 0])
        }
    }

    @Test func mixingGridSwapsBands() throws {
        let g = try StyleGAN2Generator.random(config: Self.tinyG, seed: 4)
        let bands = g.mixingBands
        let total: Int = bands.map { $0.layers.count }.reduce(0, +)
        #expect(total == g.nLatent)
        #expect(bands[0].layers.lowerBound == 0)
        #expect(bands[1].layers.lowerBound == bands[0].layers.upperBound)
        #expect(bands[2].layers.upperBound == g.nLatent)
        #expect(bands.allSatisfy { !$0.layers.isEmpty })
        let grid = try g.mixingGrid(rows: 2, seed: 5)
        #expect(grid.shape == [10, 3, 16, 16])
        let za = try Tensor.randomNormal([2, g.styleDim], seed: 5, stream: 0), zb = try Tensor.randomNormal([2, g.styleDim], seed: 5, stream: 1)
        let a = try g.generate(z: za), b = try g.generate(z: zb)
        let plane = 3 * 16 * 16
        func img(_ t: Tensor, _ k: Int) -> [Float] { Array(t.scalars[(k * plane)..<((k + 1) * plane)]) }
        for r in 0..<2 {
            let ia: [Float] = img(a, r), ib: [Float] = img(b, r)
            let sameA = img(grid, 5 * r) == ia, sameB = img(grid, 5 * r + 1) == ib
            #expect(sameA)
            #expect(sameB)
            // Each swap changes the image, and differs from both A and B.
            for c in 2..<5 {
                let m: [Float] = img(grid, 5 * r + c)
                let differs = m != ia && m != ib
                #expect(differs, "row \(r) column \(c)")
            }
        }
    }
}
