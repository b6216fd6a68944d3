import Testing
@testable import TensorCore

/// tedi's sgemm: blocks fixed by the shape, so results are the same bytes at any thread count,
/// and still the product (against a Double reference).
@Suite struct GemmTests {
    /// (transA, transB, m, k, n, beta): shapes that split along columns, along rows, not at all,
    /// with a ragged last block, and accumulating into C.
    static let cases: [(Bool, Bool, Int, Int, Int, Float)] = [
        (false, false, 64, 576, 4100, 0), (false, true, 40, 288, 1000, 1), (true, false, 1300, 64, 300, 0),
        (true, true, 600, 96, 520, 0.5), (false, false, 8, 512, 512, 0), (false, false, 3, 5, 7, 0),
        (false, false, 1300, 64, 300, 0), (false, false, 4, 0, 6, 0.5), (true, false, 5, 0, 3, 0),
    ]

    func product(_ c: (Bool, Bool, Int, Int, Int, Float), threads: Int) -> (out: [Float], a: [Float], b: [Float], c0: [Float]) {
        let (ta, tb, m, k, n, beta) = c
        // One spare element each, so an empty operand still has a valid base address.
        let a = Philox.normals(count: m * k + 1, seed: 11), b = Philox.normals(count: k * n + 1, seed: 12)
        let c0 = Philox.normals(count: m * n, seed: 13)
        var out = c0
        let saved = Threads.count
        Threads.count = threads
        defer { Threads.count = saved }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in
                    sgemm(transA: ta, transB: tb, m: m, n: n, k: k, pa.baseAddress!, lda: Swift.max(1, ta ? m : k),
                          pb.baseAddress!, ldb: Swift.max(1, tb ? k : n), beta: beta, po.baseAddress!, ldc: n)
                }
            }
        }
        return (out, a, b, c0)
    }

    @Test func sameBytesAtAnyThreadCountAndStillTheProduct() {
        for c in Self.cases {
            let (ta, tb, m, k, n, beta) = c
            let one = product(c, threads: 1)
            for t in [2, 3, 4, 8] {
                #expect(product(c, threads: t).out == one.out, "m \(m) k \(k) n \(n) at \(t) threads")
            }
            // Double reference on a sample of entries, tolerance scaled by √k.
            var worst = 0.0
            for idx in stride(from: 0, to: m * n, by: Swift.max(1, m * n / 997)) {
                let (i, j) = (idx / n, idx % n)
                var s = 0.0
                for p in 0..<k {
                    let av = ta ? one.a[p * m + i] : one.a[i * k + p]
                    let bv = tb ? one.b[j * k + p] : one.b[p * n + j]
                    s += Double(av) * Double(bv)
                }
                s += Double(beta) * Double(one.c0[idx])
                worst = Swift.max(worst, Swift.abs(s - Double(one.out[idx])))
            }
            #expect(worst <= 1e-5 * Double(k).squareRoot() * 4, "m \(m) k \(k) n \(n): max error \(worst)")
        }
    }

    @Test func splitDependsOnTheShapeAlone() {
        let big = GemmSplit(m: 512, n: 1024, k: 4608)
        #expect(big.alongColumns && big.count > 1 && big.block % 16 == 0 && big.block * big.count >= 1024)
        let tall = GemmSplit(m: 4608, n: 300, k: 512)
        #expect(!tall.alongColumns && tall.count > 1)
        let small = GemmSplit(m: 8, n: 512, k: 512)
        #expect(small.count == 1)
    }
}
