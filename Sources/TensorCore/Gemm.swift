import CBLAS

/// Matrix products with results that do not depend on the thread count.
///
/// OpenBLAS's threaded sgemm partitions the product by the number of threads, and its kernels
/// round edge tiles differently from full ones, so the same product differs in the last bits at
/// 1, 2 or 3 threads (measured on OpenBLAS 0.3.21, Haswell kernels: tens of thousands of the
/// 512×1024 outputs of a 512×4608×1024 product). tedi therefore keeps OpenBLAS single-threaded
/// and splits a large product itself into blocks of C chosen from the shape alone
/// (`GemmSplit`): each block is one single-threaded OpenBLAS call, and tedi's threads take blocks
/// from a shared counter. Every element is computed by the same call on any thread count, so
/// the bytes are the same at `TEDI_THREADS` 1 to 256.

/// How one product is cut into independent blocks of C, from `(m, n, k)` alone.
struct GemmSplit: Equatable {
    /// Splits the columns of C (`n`) when true, its rows (`m`) when false.
    let alongColumns: Bool
    /// Rows or columns per block; the last block may be smaller.
    let block: Int
    let count: Int

    /// Fewest multiply-adds ×2 per block: below this a block's start-up outweighs its work.
    static let minBlockFlops = 1 << 23
    /// Smallest block along the split dimension. Each block repacks the other operand (the
    /// whole of it), so a block must reuse that packing over at least this many rows or columns.
    static let minBlock = 256
    /// Most blocks per product: enough to balance 2–8 threads.
    static let maxBlocks = 8

    init(m: Int, n: Int, k: Int) {
        // Splitting the longer side of C repacks the shorter side's operand once per block.
        alongColumns = n >= m
        let side = alongColumns ? n : m
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let byWork = Int(min(Double(Self.maxBlocks), flops / Double(Self.minBlockFlops)))
        let wanted = max(1, min(byWork, side / Self.minBlock))
        // Whole multiples of 16 so every block but the last keeps the kernels' full tiles.
        let raw = (side + wanted - 1) / wanted
        block = max(1, min(side, (raw + 15) / 16 * 16))
        count = (side + block - 1) / block
    }
}

/// Row-major `C = alpha * op(A) * op(B) + beta * C` through `cblas_sgemm`; `op` transposes when asked.
/// A is m×k after `op`, B is k×n after `op`, C is m×n; leading dimensions are those of the stored
/// matrices. The blocks run on tedi's threads when `parallel` (callers already inside a parallel
/// loop pass false); the result is the same either way, and at any thread count.
public func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                  alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int,
                  _ b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] = 0 } } }
        else if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
        return
    }
    let split = GemmSplit(m: m, n: n, k: k)
    func run(_ i: Int) {
        let lo = i * split.block
        let len = min(split.block, (split.alongColumns ? n : m) - lo)
        if split.alongColumns {
            // Columns [lo, lo+len) of C need columns [lo, lo+len) of op(B).
            let bBlock = transB ? b + lo * ldb : b + lo
            blasSgemm(transA, transB, m, len, k, alpha, a, lda, bBlock, ldb, beta, c + lo, ldc)
        } else {
            // Rows [lo, lo+len) of C need rows [lo, lo+len) of op(A).
            let aBlock = transA ? a + lo : a + lo * lda
            blasSgemm(transA, transB, len, n, k, alpha, aBlock, lda, b, ldb, beta, c + lo * ldc, ldc)
        }
    }
    if parallel && split.count > 1 {
        parallelTasks(split.count, run)
    } else {
        for i in 0..<split.count { run(i) }
    }
}

@inline(__always)
private func blasSgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                       _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                       _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}
