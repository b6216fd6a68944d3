import Testing
@testable import TensorCore

/// Winograd F(4×4, 3×3) convolutions (3×3, stride 1, padding 1 with enough tiles) against the
/// direct-loop Double reference, against the im2col path, and by finite differences.
@Suite struct WinogradTests {
    /// (n, cin, cout, h, w): square and ragged sizes (cropped edge tiles), one tile row per sample,
    /// a batch in one block, and a shape whose samples take two blocks each.
    static let cases: [(Int, Int, Int, Int, Int)] = [
        (1, 4, 5, 32, 32), (2, 6, 4, 29, 33), (1, 5, 6, 3, 260), (5, 8, 8, 32, 32), (2, 256, 8, 200, 66),
    ]

    @Test func matchesDirectLoopsAndIm2col() throws {
        for (n, cin, cout, h, w) in Self.cases {
            let g = ConvGeometry(cin: cin, h: h, w: w, cout: cout, kh: 3, kw: 3, stride: 1, pad: 1)
            #expect(WinogradPlan.applies(g, batch: n), "N\(n) \(cin)->\(cout) \(h)x\(w) should run as Winograd")
            let x = rand([n, cin, h, w], seed: 1), wt = rand([cout, cin, 3, 3], seed: 2), b = rand([cout], seed: 3)
            let y = try Tensor.conv2d(x, weight: wt, bias: b, padding: 1)
            let what = "N\(n) \(cin)->\(cout) \(h)x\(w)"
            // Relative to the largest output: F(4,3)'s transforms cost a few bits (im2col: about 1e-7).
            // Rounding grows with the sum over input channels: 2e-6·√Cin (measured 1.2e-5 at 256).
            let tol = 2e-6 * Double(cin).squareRoot()
            expectClose(y, refConv2d(DArray(x), DArray(wt), bias: DArray(b), stride: 1, pad: 1), tol: tol, what)
            let direct = try Tensor.conv2d(x, weight: wt, bias: b, stride: 1, padding: 1, maxTileRows: nil, direct: true)
            expectClose(y, DArray(direct), tol: tol, what + " vs im2col")
        }
        let split = WinogradPlan(ConvGeometry(cin: 256, h: 200, w: 66, cout: 8, kh: 3, kw: 3, stride: 1, pad: 1), batch: 2)
        #expect(split.samplesPerBlock == 0 && split.blocks(batch: 2).count == 4)
        #expect(WinogradPlan(ConvGeometry(cin: 8, h: 32, w: 32, cout: 8, kh: 3, kw: 3, stride: 1, pad: 1), batch: 5).blocks(batch: 5).count == 1)
    }

    @Test func aSampleGivesTheSameBytesAloneAndInABatch() throws {
        for (cin, size) in [(8, 32), (32, 34), (128, 200)] {
            let x = rand([3, cin, size, size], seed: 13), wt = rand([cin, cin, 3, 3], seed: 14)
            let batch = try Tensor.conv2d(x, weight: wt, padding: 1)
            for s in 0..<3 {
                let alone = try Tensor.conv2d(x.slice(axis: 0, s..<(s + 1)), weight: wt, padding: 1)
                #expect(try alone.scalars == batch.slice(axis: 0, s..<(s + 1)).scalars, "sample \(s) of \(cin) channels at \(size)²")
            }
        }
    }

    @Test func fewTilesAndOtherGeometriesStayOnIm2col() {
        #expect(!WinogradPlan.applies(ConvGeometry(cin: 8, h: 8, w: 8, cout: 8, kh: 3, kw: 3, stride: 1, pad: 1), batch: 16))
        #expect(!WinogradPlan.applies(ConvGeometry(cin: 512, h: 16, w: 16, cout: 512, kh: 3, kw: 3, stride: 1, pad: 1), batch: 8))
        #expect(!WinogradPlan.applies(ConvGeometry(cin: 8, h: 64, w: 64, cout: 8, kh: 3, kw: 3, stride: 2, pad: 1), batch: 1))
        #expect(!WinogradPlan.applies(ConvGeometry(cin: 8, h: 64, w: 64, cout: 8, kh: 3, kw: 3, stride: 1, pad: 0), batch: 1))
    }

    @Test func inputGradientMatchesIm2colAndFiniteDifferences() throws {
        let x = rand([2, 6, 33, 31], seed: 4), wt = rand([5, 6, 3, 3], seed: 5), b = rand([5], seed: 6)
        func grads(direct: Bool) throws -> [Tensor] {
            let tape = Tape()
            let (tx, tw, tb) = (tape.watch(x), tape.watch(wt), tape.watch(b))
            let y = try Tensor.conv2d(tx, weight: tw, bias: tb, stride: 1, padding: 1, maxTileRows: nil, direct: direct)
            return try tape.gradients(of: y, wrt: [tx, tw, tb], seed: rand(y.shape, seed: 7))
        }
        for (a, r) in zip(try grads(direct: false), try grads(direct: true)) { expectClose(a, DArray(r), tol: 1e-5, "gradient") }
        // 4 channels at 32×32: the smallest conv that runs as Winograd, input and weight by finite differences.
        #expect(WinogradPlan.applies(ConvGeometry(cin: 4, h: 32, w: 32, cout: 4, kh: 3, kw: 3, stride: 1, pad: 1), batch: 1))
        try checkGradients([rand([1, 4, 32, 32], seed: 8), rand([4, 4, 3, 3], seed: 9)]) {
            try Tensor.conv2d($0[0], weight: $0[1], padding: 1)
        }
    }

    @Test func modulatedConvBothFormsMatchReference() throws {
        // 32×32 with 4 channels: the scaled-activation form's shared conv runs as Winograd.
        let x = rand([2, 4, 32, 32], seed: 10), w = rand([1, 5, 4, 3, 3], seed: 11)
        let style = rand([2, 4], seed: 12).adding(1)
        let ref = refModulatedConv2d(DArray(x), DArray(try w.reshaped([5, 4, 3, 3])), DArray(style), demodulate: true, upsample: false)
        for form in [true, false] {
            let y = try Tensor.modulatedConv2d(x, weight: w, style: style, demodulate: true, upsample: false,
                                               blurKernel: [1, 3, 3, 1], forceScaledActivations: form)
            expectClose(y, ref, tol: 1e-5, "scaled activations \(form)")
        }
    }
}
