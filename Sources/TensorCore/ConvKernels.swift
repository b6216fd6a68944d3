import CBLAS

/// Raw-pointer kernels shared by the convolution ops: im2col / col2im over a band of output rows,
/// and the three per-sample GEMM passes (forward, input gradient, weight gradient).
///
/// Memory bound: the column buffer holds one *tile* of `K × (rows · Wo)` floats, `K = Cin·kh·kw`,
/// where `rows` is chosen so the tile stays within `ConvTiling.budgetElements` (4 MiB) unless that
/// would leave fewer than `ConvTiling.minColumns` (1024) GEMM columns; so a tile is at most
/// `max(4 MiB, K · (1024 + Wo) · 4 bytes)` — about 19 MiB for 512 channels 3×3, about 3.4 MiB for
/// a 3×3 conv at 1024² with 32 channels — whatever the image size. When the forward pass or the
/// weight gradient runs tiles on several threads at once (`tileWorkers`, `weightGradGroups`), each thread has its own
/// tile buffer, so the bound is per thread.

/// Tile-size policy of the im2col buffer (see the file comment for the resulting bound).
enum ConvTiling {
    /// Preferred largest column tile, in floats (4 MiB): small enough to stay in cache between the
    /// im2col write and the GEMM's read of it.
    static let budgetElements = 1 << 20
    /// Fewest GEMM columns per tile, so the weight matrix packing is amortized over enough work.
    static let minColumns = 1024
}

/// Shape of one sample's convolution: input plane `(cin, h, w)`, output `(cout, ho, wo)`.
struct ConvGeometry {
    let cin: Int, h: Int, w: Int
    let cout: Int
    let kh: Int, kw: Int
    let stride: Int, pad: Int
    let ho: Int, wo: Int

    init(cin: Int, h: Int, w: Int, cout: Int, kh: Int, kw: Int, stride: Int, pad: Int) {
        self.cin = cin; self.h = h; self.w = w; self.cout = cout
        self.kh = kh; self.kw = kw; self.stride = stride; self.pad = pad
        ho = (h + 2 * pad - kh) / stride + 1
        wo = (w + 2 * pad - kw) / stride + 1
    }

    /// Rows of the im2col matrix (the GEMM's inner dimension).
    var k: Int { cin * kh * kw }
    var inPlane: Int { h * w }
    var outPlane: Int { ho * wo }
    /// A 1×1 stride-1 unpadded conv reads the input directly as its column matrix.
    var isPointwise: Bool { kh == 1 && kw == 1 && stride == 1 && pad == 0 }

    /// Output rows per tile: the policy of `ConvTiling`, or `override` (tests force small tiles).
    func tileRows(override: Int? = nil) -> Int {
        if let override { return Swift.max(1, Swift.min(ho, override)) }
        let rowElements = Swift.max(1, k * wo)
        var rows = ConvTiling.budgetElements / rowElements
        rows = Swift.max(rows, (ConvTiling.minColumns + wo - 1) / Swift.max(wo, 1))
        return Swift.max(1, Swift.min(ho, rows))
    }

    /// Output columns `[lo, hi)` whose input column `ox·stride + kx − pad` lies inside `[0, w)`.
    @inline(__always)
    func validColumns(kx: Int) -> (Int, Int) {
        let first = pad - kx
        var lo = first <= 0 ? 0 : (first + stride - 1) / stride
        let last = w - 1 + pad - kx
        var hi = last < 0 ? 0 : last / stride + 1
        lo = Swift.min(lo, wo)
        hi = Swift.max(lo, Swift.min(hi, wo))
        return (lo, hi)
    }
}

/// Fills `col` (K × n, n = (r1 − r0)·wo) with the receptive fields of output rows `[r0, r1)` of
/// one sample `x` (cin × h × w); zero where the window leaves the padded image.
func im2colTile(_ x: UnsafePointer<Float>, _ g: ConvGeometry, rows r0: Int, _ r1: Int, _ col: UnsafeMutablePointer<Float>,
                parallel: Bool = true) {
    let n = (r1 - r0) * g.wo
    let khw = g.kh * g.kw
    let grain = parallel ? Swift.max(1, 8192 / Swift.max(n, 1)) : Int.max
    parallelChunks(g.k, grain: grain) { range in
        for kidx in range {
            let kx = kidx % g.kw, ky = (kidx / g.kw) % g.kh, ci = kidx / khw
            let plane = x + ci * g.inPlane
            let (lo, hi) = g.validColumns(kx: kx)
            var dst = col + kidx * n
            for r in r0..<r1 {
                let iy = r * g.stride + ky - g.pad
                if iy < 0 || iy >= g.h {
                    dst.update(repeating: 0, count: g.wo)
                } else {
                    if lo > 0 { dst.update(repeating: 0, count: lo) }
                    if hi < g.wo { (dst + hi).update(repeating: 0, count: g.wo - hi) }
                    let src = plane + iy * g.w + kx - g.pad
                    if g.stride == 1 {
                        if hi > lo { (dst + lo).update(from: src + lo, count: hi - lo) }
                    } else {
                        let s = g.stride
                        for ox in lo..<hi { dst[ox] = src[ox * s] }
                    }
                }
                dst += g.wo
            }
        }
    }
}

/// Adds the columns `col` (K × n) of output rows `[r0, r1)` back onto the image `dx`
/// (cin × h × w) — the adjoint of `im2colTile`. Channels are split across threads, so no two
/// threads write the same plane.
func col2imTile(_ col: UnsafePointer<Float>, _ g: ConvGeometry, rows r0: Int, _ r1: Int, _ dx: UnsafeMutablePointer<Float>) {
    let n = (r1 - r0) * g.wo
    let khw = g.kh * g.kw
    parallelChunks(g.cin, grain: Swift.max(1, 8192 / Swift.max(n * khw, 1))) { range in
        for ci in range {
            let plane = dx + ci * g.inPlane
            for ky in 0..<g.kh {
                for kx in 0..<g.kw {
                    let (lo, hi) = g.validColumns(kx: kx)
                    if hi <= lo { continue }
                    var src = col + ((ci * g.kh + ky) * g.kw + kx) * n
                    for r in r0..<r1 {
                        let iy = r * g.stride + ky - g.pad
                        if iy >= 0 && iy < g.h {
                            let dst = plane + iy * g.w + kx - g.pad
                            if g.stride == 1 {
                                for ox in lo..<hi { dst[ox] += src[ox] }
                            } else {
                                let s = g.stride
                                for ox in lo..<hi { dst[ox * s] += src[ox] }
                            }
                        }
                        src += g.wo
                    }
                }
            }
        }
    }
}

/// Scratch column buffers for one call: `copies × K × tileRows·wo` floats (empty for pointwise convs).
func columnScratch(_ g: ConvGeometry, tileRows: Int, copies: Int = 1) -> [Float] {
    g.isPointwise ? [] : [Float](repeating: 0, count: copies * g.k * tileRows * g.wo)
}

/// How many of `threads` should each run whole tiles (im2col + single-threaded sgemm) at once:
/// with at least two tiles per thread (small Cout, large images), whole tiles per thread beat
/// splitting each tile's im2col and sgemm across threads. 1 means: one tile at a time, im2col
/// and sgemm each parallel inside. Either way gives the same bytes. Callers read `Threads.count`
/// once and size their tile buffers from the same value.
func tileWorkers(_ g: ConvGeometry, tileRows: Int, threads: Int) -> Int {
    let tiles = (g.ho + tileRows - 1) / tileRows
    return !g.isPointwise && threads > 1 && tiles >= 2 * threads ? threads : 1
}

/// `out (cout × ho·wo) = wmat (cout × K) · im2col(x)`, one sample, tile by tile.
/// `workers > 1` runs that many tiles at once (see `tileWorkers`); `col` must then hold as many tiles.
func convForwardSample(_ x: UnsafePointer<Float>, _ wmat: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                       _ g: ConvGeometry, tileRows: Int, col: UnsafeMutablePointer<Float>?, workers: Int = 1) {
    if g.isPointwise {
        sgemm(m: g.cout, n: g.inPlane, k: g.cin, wmat, lda: g.cin, x, ldb: g.inPlane, out, ldc: g.outPlane)
        return
    }
    guard let col else { return }
    if workers > 1 {
        // `col` holds `workers` tile buffers; tiles write disjoint output columns.
        let tiles = (g.ho + tileRows - 1) / tileRows
        let tileSize = g.k * tileRows * g.wo
        parallelFor(workers) { wk in
            var t = wk
            while t < tiles {
                let r0 = t * tileRows, r1 = Swift.min(g.ho, r0 + tileRows)
                let n = (r1 - r0) * g.wo, c = col + wk * tileSize
                im2colTile(x, g, rows: r0, r1, c, parallel: false)
                sgemm(m: g.cout, n: n, k: g.k, wmat, lda: g.k, c, ldb: n, out + r0 * g.wo, ldc: g.outPlane,
                      parallel: false)
                t += workers
            }
        }
        return
    }
    var r0 = 0
    while r0 < g.ho {
        let r1 = Swift.min(g.ho, r0 + tileRows)
        let n = (r1 - r0) * g.wo
        im2colTile(x, g, rows: r0, r1, col)
        sgemm(m: g.cout, n: n, k: g.k, wmat, lda: g.k, col, ldb: n, out + r0 * g.wo, ldc: g.outPlane)
        r0 = r1
    }
}

/// `dx (cin × h × w) += col2im(wmatᵀ · gout)` for one sample; `dx` must hold zeros or a partial sum.
func convInputGradSample(_ gout: UnsafePointer<Float>, _ wmat: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                         _ g: ConvGeometry, tileRows: Int, col: UnsafeMutablePointer<Float>?) {
    if g.isPointwise {
        sgemm(transA: true, m: g.cin, n: g.inPlane, k: g.cout, wmat, lda: g.cin, gout, ldb: g.outPlane,
              beta: 1, dx, ldc: g.inPlane)
        return
    }
    guard let col else { return }
    var r0 = 0
    while r0 < g.ho {
        let r1 = Swift.min(g.ho, r0 + tileRows)
        let n = (r1 - r0) * g.wo
        sgemm(transA: true, m: g.k, n: n, k: g.cout, wmat, lda: g.k, gout + r0 * g.wo, ldb: g.outPlane, col, ldc: n)
        col2imTile(col, g, rows: r0, r1, dx)
        r0 = r1
    }
}

/// Partial sums the weight gradient of one sample is split into: the tiles' GEMMs are a sum over
/// output pixels, and with many tiles of a small weight (few channels, large images) one partial
/// per group of tiles lets the groups run on separate threads. Depends on the shape alone, so the
/// order of the additions, and the result, is the same at every thread count.
func weightGradGroups(_ g: ConvGeometry, tileRows: Int) -> Int {
    let tiles = (g.ho + tileRows - 1) / tileRows
    return !g.isPointwise && tiles >= 4 && g.cout * g.k <= 1 << 18 ? Swift.min(tiles, 8) : 1
}

/// `dw (cout × K) (+)= gout · im2col(x)ᵀ` for one sample; accumulates when `accumulate`.
/// With `weightGradGroups` > 1, tile t adds into partial t mod groups and the partials are summed
/// in order at the end; up to `columnCopies` groups run at once, one per tile buffer in `col`.
func convWeightGradSample(_ x: UnsafePointer<Float>, _ gout: UnsafePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
                          _ g: ConvGeometry, accumulate: Bool, tileRows: Int, col: UnsafeMutablePointer<Float>?,
                          columnCopies: Int) {
    if g.isPointwise {
        sgemm(transB: true, m: g.cout, n: g.cin, k: g.inPlane, gout, lda: g.outPlane, x, ldb: g.inPlane,
              beta: accumulate ? 1 : 0, dw, ldc: g.cin)
        return
    }
    guard let col else { return }
    let groups = weightGradGroups(g, tileRows: tileRows)
    if groups > 1 {
        let tiles = (g.ho + tileRows - 1) / tileRows
        let tileSize = g.k * tileRows * g.wo, dwSize = g.cout * g.k
        let workers = Swift.max(1, Swift.min(groups, columnCopies))
        var partials = [Float](repeating: 0, count: groups * dwSize)
        partials.withUnsafeMutableBufferPointer { pp in
            let parts = pp.baseAddress!
            // Worker wk runs groups wk, wk + workers, …, each with the worker's own tile buffer.
            parallelFor(workers) { wk in
                let c = col + wk * tileSize
                var grp = wk
                while grp < groups {
                    var t = grp
                    while t < tiles {
                        let r0 = t * tileRows, r1 = Swift.min(g.ho, r0 + tileRows)
                        let n = (r1 - r0) * g.wo
                        im2colTile(x, g, rows: r0, r1, c, parallel: false)
                        sgemm(transB: true, m: g.cout, n: g.k, k: n, gout + r0 * g.wo, lda: g.outPlane, c, ldb: n,
                              beta: 1, parts + grp * dwSize, ldc: g.k, parallel: false)
                        t += groups
                    }
                    grp += workers
                }
            }
            parallelChunks(dwSize) { range in
                for i in range {
                    var s: Float = accumulate ? dw[i] : 0
                    for grp in 0..<groups { s += parts[grp * dwSize + i] }
                    dw[i] = s
                }
            }
        }
        return
    }
    var r0 = 0
    var first = !accumulate
    while r0 < g.ho {
        let r1 = Swift.min(g.ho, r0 + tileRows)
        let n = (r1 - r0) * g.wo
        im2colTile(x, g, rows: r0, r1, col)
        sgemm(transB: true, m: g.cout, n: g.k, k: n, gout + r0 * g.wo, lda: g.outPlane, col, ldb: n,
              beta: first ? 0 : 1, dw, ldc: g.k)
        first = false
        r0 = r1
    }
}

/// Adds `bias[c]` to every element of channel `c` of `out` (channels × plane).
func addChannelBias(_ out: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, channels: Int, plane: Int) {
    parallelChunks(channels, grain: Swift.max(1, 16384 / Swift.max(plane, 1))) { range in
        for c in range {
            let b = bias[c], p = out + c * plane
            for i in 0..<plane { p[i] += b }
        }
    }
}

/// Sum of each channel of `g` (channels × plane) added into `db`.
func accumulateChannelSums(_ g: UnsafePointer<Float>, _ db: UnsafeMutablePointer<Float>, channels: Int, plane: Int) {
    parallelChunks(channels, grain: Swift.max(1, 16384 / Swift.max(plane, 1))) { range in
        for c in range {
            var s: Float = 0
            let p = g + c * plane
            for i in 0..<plane { s += p[i] }
            db[c] += s
        }
    }
}
