import Dispatch

/// One 3×3 stride-1 "same" convolution shape of the StyleGAN2 synthesis network (batch 1).
public struct ConvBenchShape: Sendable {
    public var cin: Int, cout: Int, size: Int
    public init(cin: Int, cout: Int, size: Int) { self.cin = cin; self.cout = cout; self.size = size }

    /// The equivalent GEMM: M = Cout, K = Cin·9, N = H·W.
    public var gemm: (m: Int, k: Int, n: Int) { (cout, cin * 9, size * size) }
    /// Multiply-adds ×2 of one forward pass.
    public var flops: Double { 2 * Double(cout) * Double(cin * 9) * Double(size * size) }
    public var label: String { "\(cin)->\(cout) 3x3 @\(size)" }
}

/// Timings of the conv kernels against raw sgemm, for `tedi bench`.
public enum KernelBenchmark {
    /// StyleGAN2 (1024 px, channel multiplier 2) conv shapes: 512 channels up to 64 px, then halving.
    public static let styleGAN2Shapes: [ConvBenchShape] = [
        ConvBenchShape(cin: 512, cout: 512, size: 8), ConvBenchShape(cin: 512, cout: 512, size: 16),
        ConvBenchShape(cin: 512, cout: 512, size: 32), ConvBenchShape(cin: 512, cout: 512, size: 64),
        ConvBenchShape(cin: 256, cout: 256, size: 128), ConvBenchShape(cin: 128, cout: 128, size: 256),
        ConvBenchShape(cin: 64, cout: 64, size: 512), ConvBenchShape(cin: 32, cout: 32, size: 1024),
    ]

    /// GEMM columns sgemm benchmarks use at most: beyond this the rate no longer depends on N, and
    /// the B matrix of a 1024² layer (1.2 GB) is not worth allocating.
    public static let maxGemmColumns = 1 << 16

    /// Median wall time in seconds of `runs` calls of `body`, after one warm-up call.
    public static func medianSeconds(runs: Int, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var times: [Double] = []
        for _ in 0..<max(1, runs) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        return times[times.count / 2]
    }

    /// GFLOPS of `C (m×n) = A (m×k) · B (k×n)` through `sgemm`, median of `runs`.
    public static func sgemmGFLOPS(m: Int, k: Int, n: Int, runs: Int) -> Double {
        let a = Philox.normals(count: m * k, seed: 1), b = Philox.normals(count: k * n, seed: 2)
        var c = [Float](repeating: 0, count: m * n)
        let t = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    medianSeconds(runs: runs) {
                        sgemm(m: m, n: n, k: k, pa.baseAddress!, lda: k, pb.baseAddress!, ldb: n, pc.baseAddress!, ldc: n)
                    }
                }
            }
        }
        return 2 * Double(m) * Double(k) * Double(n) / t / 1e9
    }

    /// GEMM columns of one im2col tile of `shape` (the N of each sgemm call conv2d makes).
    public static func tileColumns(_ shape: ConvBenchShape) -> Int {
        let g = ConvGeometry(cin: shape.cin, h: shape.size, w: shape.size, cout: shape.cout, kh: 3, kw: 3, stride: 1, pad: 1)
        return g.tileRows() * g.wo
    }

    /// Median seconds of each body over `runs` rounds, the bodies interleaved within a round so that
    /// load from other processes hits them alike (one warm-up round first).
    public static func interleavedMedians(runs: Int, _ bodies: [() throws -> Void]) throws -> [Double] {
        var times = [[Double]](repeating: [], count: bodies.count)
        for round in 0...max(1, runs) {
            for (i, body) in bodies.enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                if round > 0 { times[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
            }
        }
        return times.map { $0.sorted()[$0.count / 2] }
    }

    /// Median seconds of the equivalent sgemm (N capped at `maxGemmColumns`, scaled up to the full
    /// N), of `conv2d` with bias, of a demodulated `modulatedConv2d`, and of `conv2d` forced to
    /// im2col + sgemm (no Winograd), on `shape`, batch 1.
    public static func convSeconds(_ shape: ConvBenchShape, runs: Int) throws -> (sgemm: Double, conv2d: Double, modulated: Double, direct: Double) {
        let (m, k, n) = shape.gemm
        let nGemm = min(n, maxGemmColumns)
        let a = Philox.normals(count: m * k, seed: 1), bm = Philox.normals(count: k * nGemm, seed: 2)
        var c = [Float](repeating: 0, count: m * nGemm)
        let x = try Tensor.randomNormal([1, shape.cin, shape.size, shape.size], seed: 3)
        let w = try Tensor.randomNormal([shape.cout, shape.cin, 3, 3], seed: 4)
        let w5 = try w.reshaped([1, shape.cout, shape.cin, 3, 3])
        let b = try Tensor.randomNormal([shape.cout], seed: 5)
        let s = try Tensor.randomNormal([1, shape.cin], seed: 6).adding(1)
        let t = try a.withUnsafeBufferPointer { pa in
            try bm.withUnsafeBufferPointer { pb in
                try c.withUnsafeMutableBufferPointer { pc in
                    let (ap, bp, cp) = (pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
                    return try interleavedMedians(runs: runs, [
                        { sgemm(m: m, n: nGemm, k: k, ap, lda: k, bp, ldb: nGemm, cp, ldc: nGemm) },
                        { _ = try Tensor.conv2d(x, weight: w, bias: b, padding: 1) },
                        { _ = try Tensor.modulatedConv2d(x, weight: w5, style: s, demodulate: true) },
                        { _ = try Tensor.conv2d(x, weight: w, bias: b, stride: 1, padding: 1, maxTileRows: nil, direct: true) },
                    ])
                }
            }
        }
        return (t[0] * Double(n) / Double(nGemm), t[1], t[2], t[3])
    }

    /// Median seconds of the StyleGAN2 blur (`outer([1,3,3,1])`, pad 2/1, as the discriminator's
    /// downsampling runs it) over `planes` planes of `size`², by planes (`blurPlanes`) and by the
    /// row-by-row path it replaced; both give the same bytes.
    public static func blurSeconds(size: Int, planes: Int, runs: Int) throws -> (planes: Double, rows: Double) {
        let x = Philox.normals(count: planes * size * size, seed: 7)
        let taps: [Float] = [1, 3, 3, 1]
        let k = taps.flatMap { a in taps.map { a * $0 / 64 } }
        let t = try interleavedMedians(runs: runs, [
            { _ = upfirdnPlanes(x, planes: planes, h: size, w: size, ho: size, wo: size, kernel: k, kh: 4, kw: 4, up: 1, down: 1, x0: 2, y0: 2) },
            { _ = upfirdnPlanes(x, planes: planes, h: size, w: size, ho: size, wo: size, kernel: k, kh: 4, kw: 4, up: 1, down: 1, x0: 2, y0: 2, rowPasses: true) },
        ])
        return (t[0], t[1])
    }
}
