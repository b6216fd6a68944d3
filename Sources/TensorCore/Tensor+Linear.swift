import CBLAS

extension Tensor {
    /// Matrix product. 2-D `(m,k)·(k,n) → (m,n)`, or batched 3-D `(B,m,k)·(B,k,n) → (B,m,n)`.
    /// `transposeA` / `transposeB` use the transpose of the last two dimensions of that operand.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) throws -> Tensor {
        guard (a.rank == 2 && b.rank == 2) || (a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0]) else {
            throw TensorError.shape(op: "matmul", "expected two 2-D or two 3-D tensors with equal batch, got \(a.shape) and \(b.shape)")
        }
        let batch = a.rank == 3 ? a.shape[0] : 1
        let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        guard k == k2 else {
            throw TensorError.shape(op: "matmul", "inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        }
        let outShape = a.rank == 3 ? [batch, m, n] : [m, n]
        var out = [Float](repeating: 0, count: batch * m * n)
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in
                    for i in 0..<batch {
                        sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                              pa.baseAddress! + i * ar * ac, lda: ac, pb.baseAddress! + i * br * bc, ldb: bc,
                              po.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        let av = a.detached, bv = b.detached
        result.tapeRef = Tape.record(inputs: [a, b], shape: outShape) { g in
            // C = op(A)·op(B): dop(A) = G·op(B)ᵀ, dop(B) = op(A)ᵀ·G, then undo the op.
            let ga = transposeA ? try matmul(bv, g, transposeA: transposeB, transposeB: true)
                                : try matmul(g, bv, transposeA: false, transposeB: !transposeB)
            let gb = transposeB ? try matmul(g, av, transposeA: true, transposeB: transposeA)
                                : try matmul(av, g, transposeA: !transposeA, transposeB: false)
            return [ga, gb]
        }
        return result
    }

    /// Fully connected layer `x·Wᵀ + b` for `x (N,in)`, `weight (out,in)`, `bias (out)`.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        guard x.rank == 2, weight.rank == 2, x.shape[1] == weight.shape[1] else {
            throw TensorError.shape(op: "linear", "input \(x.shape) does not fit weight \(weight.shape) (expected (N,\(weight.rank == 2 ? weight.shape[1] : -1)))")
        }
        let y = try matmul(x, weight, transposeB: true)
        guard let bias else { return y }
        guard bias.shape == [weight.shape[0]] else {
            throw TensorError.shape(op: "linear", "bias \(bias.shape) does not fit weight \(weight.shape)")
        }
        return try y + bias
    }
}
