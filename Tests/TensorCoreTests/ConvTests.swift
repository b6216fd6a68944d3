import Testing
@testable import TensorCore

/// The conv family against direct-loop Double references (ConvReference.swift) and finite
/// differences (GradCheck.swift).
@Suite struct ConvTests {
    struct ConvCase: CustomStringConvertible {
        var n = 2, cin = 3, h = 7, w = 5, cout = 4, kh = 3, kw = 3, stride = 1, pad = 1, bias = true
        var description: String { "N\(n) \(cin)->\(cout) \(h)x\(w) k\(kh)x\(kw) s\(stride) p\(pad)" }
    }

    static let convCases: [ConvCase] = [
        ConvCase(),
        ConvCase(stride: 2),
        ConvCase(h: 8, w: 6, stride: 2, pad: 0),
        ConvCase(kh: 1, kw: 1, pad: 0),                       // pointwise: no im2col
        ConvCase(kh: 1, kw: 1, stride: 2, pad: 0, bias: false),
        ConvCase(n: 1, h: 5, w: 9, kh: 2, kw: 3, pad: 2, bias: false),
        ConvCase(n: 2, cin: 2, h: 3, w: 3, cout: 3, kh: 3, kw: 3, stride: 2, pad: 1),
    ]

    @Test(arguments: convCases) func conv2dMatchesDirectLoops(_ c: ConvCase) throws {
        let x = rand([c.n, c.cin, c.h, c.w], seed: 1), w = rand([c.cout, c.cin, c.kh, c.kw], seed: 2)
        let b = c.bias ? rand([c.cout], seed: 3) : nil
        let y = try Tensor.conv2d(x, weight: w, bias: b, stride: c.stride, padding: c.pad)
        let ref = refConv2d(DArray(x), DArray(w), bias: b.map(DArray.init), stride: c.stride, pad: c.pad)
        expectClose(y, ref, "\(c)")
    }

    @Test(arguments: [1, 2, 3]) func conv2dTilingDoesNotChangeResult(_ tileRows: Int) throws {
        for c in [ConvCase(h: 9, w: 11), ConvCase(h: 9, w: 11, stride: 2), ConvCase(h: 6, w: 4, kh: 1, kw: 1, pad: 0)] {
            let x = rand([c.n, c.cin, c.h, c.w], seed: 4), w = rand([c.cout, c.cin, c.kh, c.kw], seed: 5), b = rand([c.cout], seed: 6)
            let whole = try Tensor.conv2d(x, weight: w, bias: b, stride: c.stride, padding: c.pad, maxTileRows: Int.max)
            let tiled = try Tensor.conv2d(x, weight: w, bias: b, stride: c.stride, padding: c.pad, maxTileRows: tileRows)
            expectClose(tiled, DArray(whole), tol: 1e-6, "\(c) tile \(tileRows)")
            expectClose(tiled, refConv2d(DArray(x), DArray(w), bias: DArray(b), stride: c.stride, pad: c.pad), "\(c) tile \(tileRows)")
            // Gradients too: the backward pass tiles the same way.
            func grads(_ rows: Int) throws -> [Tensor] {
                let tape = Tape()
                let (tx, tw, tb) = (tape.watch(x), tape.watch(w), tape.watch(b))
                let y = try Tensor.conv2d(tx, weight: tw, bias: tb, stride: c.stride, padding: c.pad, maxTileRows: rows)
                return try tape.gradients(of: y, wrt: [tx, tw, tb], seed: rand(y.shape, seed: 7))
            }
            for (a, r) in zip(try grads(tileRows), try grads(Int.max)) { expectClose(a, DArray(r), tol: 1e-5, "\(c) gradient") }
        }
    }

    @Test func conv2dDefaultTileIsBounded() {
        // 3x3, 32 -> 32 channels at 1024²: the column buffer must be a few rows, not the whole image.
        let g = ConvGeometry(cin: 32, h: 1024, w: 1024, cout: 32, kh: 3, kw: 3, stride: 1, pad: 1)
        let bytes = g.k * g.tileRows() * g.wo * 4
        #expect(g.tileRows() < g.ho)
        #expect(bytes <= 4 << 20, "column tile \(bytes) bytes")
        let big = ConvGeometry(cin: 512, h: 64, w: 64, cout: 512, kh: 3, kw: 3, stride: 1, pad: 1)
        #expect(big.k * big.tileRows() * big.wo * 4 <= 20 << 20)
    }

    @Test func conv2dGradients() throws {
        let x = rand([2, 3, 5, 4], seed: 10), w = rand([2, 3, 3, 3], seed: 11), b = rand([2], seed: 12)
        try checkGradients([x, w, b]) { try Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: 1, padding: 1) }
        try checkGradients([x, w, b]) { try Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1) }
        try checkGradients([x, rand([4, 3, 1, 1], seed: 13)]) { try Tensor.conv2d($0[0], weight: $0[1]) }
        try checkGradients([x, rand([2, 3, 2, 3], seed: 14)]) { try Tensor.conv2d($0[0], weight: $0[1], stride: 2, padding: 2) }
    }

    @Test func convTranspose2dMatchesDirectLoops() throws {
        for (k, s, p) in [(3, 2, 0), (4, 2, 1), (3, 1, 1), (1, 2, 0), (2, 3, 0)] {
            let x = rand([2, 3, 4, 5], seed: 20), w = rand([3, 2, k, k], seed: 21)
            let y = try Tensor.convTranspose2d(x, weight: w, stride: s, padding: p)
            expectClose(y, refConvTranspose2d(DArray(x), DArray(w), stride: s, pad: p), "k\(k) s\(s) p\(p)")
            let tiled = try Tensor.convTranspose2d(x, weight: w, stride: s, padding: p, maxTileRows: 1)
            expectClose(tiled, DArray(y), tol: 1e-6, "tiled k\(k) s\(s) p\(p)")
        }
        let y = try Tensor.convTranspose2d(rand([1, 3, 4, 4], seed: 22), weight: rand([3, 5, 3, 3], seed: 23))
        #expect(y.shape == [1, 5, 9, 9])   // (H-1)*2 + k: StyleGAN2's upsampling conv before the blur
    }

    @Test func convTranspose2dIsAdjointOfConv2d() throws {
        // <conv(x), y> = <x, convT(y)> with the same weight tensor: no flip, in/out swapped.
        let x = rand([2, 3, 9, 9], seed: 24), w = rand([4, 3, 3, 3], seed: 25)
        let cx = try Tensor.conv2d(x, weight: w, stride: 2, padding: 0)
        let y = rand(cx.shape, seed: 26)
        let ty = try Tensor.convTranspose2d(y, weight: w, stride: 2, padding: 0)
        #expect(ty.shape == x.shape)
        let lhs = zip(cx.scalars, y.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(x.scalars, ty.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(Swift.abs(lhs - rhs) <= 1e-4 * Swift.max(1, Swift.abs(lhs)))
    }

    @Test func convTranspose2dGradients() throws {
        let x = rand([2, 3, 3, 4], seed: 27), w = rand([3, 2, 3, 3], seed: 28)
        try checkGradients([x, w]) { try Tensor.convTranspose2d($0[0], weight: $0[1], stride: 2, padding: 0) }
        try checkGradients([x, rand([3, 2, 4, 4], seed: 29)]) { try Tensor.convTranspose2d($0[0], weight: $0[1], stride: 2, padding: 1) }
    }

    struct FIRCase: CustomStringConvertible {
        var kernel: [Float], kh: Int, kw: Int, up = 1, down = 1, pad = (0, 0, 0, 0)
        var description: String { "k\(kh)x\(kw) up\(up) down\(down) pad\(pad)" }
    }

    static let firCases: [FIRCase] = {
        let blur: [Float] = [1, 3, 3, 1].flatMap { a in [1, 3, 3, 1].map { b in Float(a * b) / 64 * 4 } }
        let asymmetric: [Float] = [1, 2, 0.5].flatMap { a in [3, -1, 0.25, 2].map { b in a * b } }  // rank 1, not symmetric
        let general: [Float] = [0.3, -1.2, 0.7, 2.0, 0.1, -0.5]                                    // rank 2
        return [
            FIRCase(kernel: blur, kh: 4, kw: 4, up: 2, pad: (2, 1, 2, 1)),          // ToRGB skip upsample
            FIRCase(kernel: blur, kh: 4, kw: 4, pad: (1, 1, 1, 1)),                  // blur after the transposed conv
            FIRCase(kernel: blur, kh: 4, kw: 4, down: 2, pad: (1, 1, 1, 1)),         // discriminator-style downsample
            FIRCase(kernel: asymmetric, kh: 3, kw: 4, up: 2, down: 1, pad: (1, 2, 0, 1)),
            FIRCase(kernel: asymmetric, kh: 3, kw: 4, up: 3, down: 2, pad: (-1, 2, 2, -2)),
            FIRCase(kernel: general, kh: 3, kw: 2, up: 1, down: 2, pad: (0, 1, 1, 0)),
            FIRCase(kernel: general, kh: 2, kw: 3, up: 2, down: 3, pad: (-2, 1, 3, -1)),
        ]
    }()

    @Test(arguments: firCases) func upfirdn2dMatchesNative(_ c: FIRCase) throws {
        let x = rand([2, 2, 5, 7], seed: 30)
        let k = try Tensor(shape: [c.kh, c.kw], scalars: c.kernel)
        let y = try x.upfirdn2d(kernel: k, up: c.up, down: c.down, pad: c.pad)
        expectClose(y, refUpfirdn2d(DArray(x), DArray(k), up: c.up, down: c.down, pad: c.pad), "\(c)")
    }

    /// The blur's padded-row path gives the row-by-row path's bytes, pads and crops included.
    @Test func blurPlanesMatchesRowPassesBytes() {
        let x = rand([3, 11, 9], seed: 41).scalars
        for taps in [[Float(1), 3, 3, 1], [1, 2, 1], [0.5, -1]] {
            let kernel = taps.flatMap { a in taps.map { a * $0 } }
            let k = taps.count
            for (x0, x1, y0, y1) in [(2, 1, 2, 1), (1, 2, 1, 2), (0, 0, 0, 0), (-1, 2, 1, -1), (3, 3, 0, 2), (-2, -3, -1, 0)] {
                let ho = 11 + y0 + y1 - k + 1, wo = 9 + x0 + x1 - k + 1
                guard ho > 0, wo > 0 else { continue }
                let fast = upfirdnPlanes(x, planes: 3, h: 11, w: 9, ho: ho, wo: wo, kernel: kernel, kh: k, kw: k, up: 1, down: 1, x0: x0, y0: y0)
                let rows = upfirdnPlanes(x, planes: 3, h: 11, w: 9, ho: ho, wo: wo, kernel: kernel, kh: k, kw: k, up: 1, down: 1, x0: x0, y0: y0,
                                         rowPasses: true)
                #expect(fast.map(\.bitPattern) == rows.map(\.bitPattern), "taps \(taps) pads \((x0, x1, y0, y1))")
            }
        }
    }

    @Test(arguments: firCases) func upfirdn2dGradients(_ c: FIRCase) throws {
        let k = try Tensor(shape: [c.kh, c.kw], scalars: c.kernel)
        try checkGradients([rand([1, 2, 4, 5], seed: 31)]) { try $0[0].upfirdn2d(kernel: k, up: c.up, down: c.down, pad: c.pad) }
    }

    @Test func modulatedConv2dMatchesReference() throws {
        for (k, demod, upsample) in [(3, true, false), (3, false, false), (1, false, false), (1, true, false),
                                     (3, true, true), (3, false, true), (1, true, true)] {
            let x = rand([2, 3, 5, 4], seed: 40), w = rand([1, 4, 3, k, k], seed: 41)
            let style = rand([2, 3], seed: 42).adding(1)
            let y = try Tensor.modulatedConv2d(x, weight: w, style: style, demodulate: demod, upsample: upsample)
            let ref = refModulatedConv2d(DArray(x), DArray(try w.reshaped([4, 3, k, k])), DArray(style),
                                         demodulate: demod, upsample: upsample)
            expectClose(y, ref, "k\(k) demod \(demod) upsample \(upsample)")
            if upsample { #expect(y.shape == [2, 4, 10, 8]) }
            for form in [true, false] where !upsample {
                let forced = try Tensor.modulatedConv2d(x, weight: w, style: style, demodulate: demod, upsample: false,
                                                        blurKernel: [1, 3, 3, 1], forceScaledActivations: form)
                expectClose(forced, ref, "k\(k) demod \(demod) scaled activations \(form)")
            }
        }
    }

    @Test func modulatedUpsampleEqualsTransposedConvThenBlur() throws {
        let (cin, cout, k) = (3, 4, 3)
        let x = rand([2, cin, 4, 5], seed: 43), w = rand([cout, cin, k, k], seed: 44)
        let style = rand([2, cin], seed: 45).adding(1)
        let y = try Tensor.modulatedConv2d(x, weight: w, style: style, demodulate: true, upsample: true)
        // Manual composition per sample: modulated + demodulated weight, swapped to (Cin,Cout,k,k),
        // conv_transpose2d stride 2, then upfirdn2d with make_kernel([1,3,3,1])·4 and pad (1,1).
        let blur = try Tensor.blurKernel2d([1, 3, 3, 1], factor: 2)
        let scale = 1 / Float(cin * k * k).squareRoot()
        var samples: [Tensor] = []
        for b in 0..<2 {
            var wt = [Float](repeating: 0, count: cin * cout * k * k)
            for co in 0..<cout {
                var sum: Float = 0
                for ci in 0..<cin { for t in 0..<(k * k) { let u = w.scalars[(co * cin + ci) * k * k + t] * scale * style[b, ci]; sum += u * u } }
                let d = 1 / (sum + 1e-8).squareRoot()
                for ci in 0..<cin { for t in 0..<(k * k) {
                    wt[(ci * cout + co) * k * k + t] = w.scalars[(co * cin + ci) * k * k + t] * scale * style[b, ci] * d
                } }
            }
            let t = try Tensor.convTranspose2d(try x.slice(axis: 0, b..<(b + 1)), weight: Tensor(shape: [cin, cout, k, k], scalars: wt),
                                               stride: 2, padding: 0)
            samples.append(try t.upfirdn2d(kernel: blur, pad: (1, 1, 1, 1)))
        }
        let manual = try Tensor.concat(samples, axis: 0)
        expectClose(y, DArray(manual), tol: 1e-5, "modulated upsample vs composition")
        #expect(blur.scalars[5] == 9.0 / 64 * 4)
    }

    @Test func modulatedConv2dGradients() throws {
        let x = rand([2, 3, 4, 3], seed: 46), w = rand([2, 3, 3, 3], seed: 47)
        let style = rand([2, 3], seed: 48).scaled(0.3).adding(1)
        for demod in [true, false] {
            for form in [true, false] {
                try checkGradients([x, w, style]) {
                    try Tensor.modulatedConv2d($0[0], weight: $0[1], style: $0[2], demodulate: demod, upsample: false,
                                               blurKernel: [1, 3, 3, 1], forceScaledActivations: form)
                }
            }
            try checkGradients([x, w, style]) {
                try Tensor.modulatedConv2d($0[0], weight: $0[1], style: $0[2], demodulate: demod, upsample: true)
            }
        }
        try checkGradients([x, rand([1, 3, 3, 1, 1], seed: 49), style]) {   // ToRGB: k = 1, no demodulation
            try Tensor.modulatedConv2d($0[0], weight: $0[1], style: $0[2], demodulate: false)
        }
    }

    @Test func noiseInjection() throws {
        let x = rand([2, 3, 4, 5], seed: 50), strength = Tensor(0.7)
        for noise in [rand([1, 1, 4, 5], seed: 51), rand([2, 1, 4, 5], seed: 52)] {
            let y = try Tensor.noiseInjection(x, noise: noise, strength: strength)
            var ref = DArray(x)
            for b in 0..<2 { for c in 0..<3 { for i in 0..<4 { for j in 0..<5 {
                ref[b, c, i, j] += 0.7 * Double(noise[noise.shape[0] == 1 ? 0 : b, 0, i, j])
            } } } }
            expectClose(y, ref, tol: 1e-6, "noise \(noise.shape)")
            try checkGradients([x, noise, try Tensor(shape: [1], scalars: [0.7])]) {
                try Tensor.noiseInjection($0[0], noise: $0[1], strength: $0[2])
            }
        }
    }

    @Test func badShapesThrowClearErrors() throws {
        let x = rand([1, 3, 5, 5], seed: 60)
        func expectError(_ fragment: String, _ body: () throws -> Tensor) {
            do {
                _ = try body()
                Issue.record("expected an error mentioning '\(fragment)'")
            } catch {
                #expect("\(error)".contains(fragment), "error '\(error)' should mention '\(fragment)'")
            }
        }
        expectError("input channels") { try Tensor.conv2d(x, weight: rand([2, 4, 3, 3], seed: 61)) }
        expectError("bias") { try Tensor.conv2d(x, weight: rand([2, 3, 3, 3], seed: 61), bias: rand([3], seed: 62)) }
        expectError("stride") { try Tensor.conv2d(x, weight: rand([2, 3, 3, 3], seed: 61), stride: 0) }
        expectError("larger than") { try Tensor.conv2d(x, weight: rand([2, 3, 7, 7], seed: 61)) }
        expectError("(N,Cin,H,W)") { try Tensor.conv2d(rand([3, 5, 5], seed: 63), weight: rand([2, 3, 3, 3], seed: 61)) }
        expectError("input channels") { try Tensor.convTranspose2d(x, weight: rand([2, 3, 3, 3], seed: 61)) }
        expectError("crops") { try Tensor.convTranspose2d(rand([1, 3, 1, 1], seed: 64), weight: rand([3, 2, 1, 1], seed: 61), padding: 3) }
        expectError("kernel must be 2-D") { try x.upfirdn2d(kernel: rand([4], seed: 65)) }
        expectError("up and down") { try x.upfirdn2d(kernel: rand([2, 2], seed: 65), up: 0) }
        expectError("larger than") { try x.upfirdn2d(kernel: rand([2, 2], seed: 65), pad: (-4, 0, 0, 0)) }
        expectError("style") { try Tensor.modulatedConv2d(x, weight: rand([2, 3, 3, 3], seed: 61), style: rand([1, 4], seed: 66)) }
        expectError("(1,Cout,Cin,k,k)") { try Tensor.modulatedConv2d(x, weight: rand([2, 2, 3, 3, 3], seed: 61), style: rand([1, 3], seed: 66)) }
        expectError("blur kernel") {
            try Tensor.modulatedConv2d(x, weight: rand([2, 3, 3, 3], seed: 61), style: rand([1, 3], seed: 66), upsample: true, blurKernel: [])
        }
        expectError("noise must be") { try Tensor.noiseInjection(x, noise: rand([1, 1, 4, 5], seed: 67), strength: Tensor(1)) }
        expectError("strength") { try Tensor.noiseInjection(x, noise: rand([1, 1, 5, 5], seed: 67), strength: rand([2], seed: 68)) }
    }
}
