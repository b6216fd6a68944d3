import Foundation

/// 3×3 stride-1 "same" convolutions by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray,
/// "Fast Algorithms for Convolutional Neural Networks", 2016): each 4×4 block of outputs comes from
/// a 6×6 input tile with 36 multiplies per input/output channel pair instead of 144, so the GEMM
/// work, which is nearly all of a StyleGAN2 conv, drops to a quarter.
///
/// With `U = G·w·Gᵀ` (6×6 per `(co, ci)`), `V = Bᵀ·d·B` (6×6 per input tile and channel) and
/// `Y = Aᵀ·M·A` where `M[ξ] = Σ_ci U[ξ][co][ci] · V[ξ][ci][tile]` — 36 independent GEMMs of
/// `(Cout × Cin) · (Cin × tiles)`. Tiles are processed in blocks (`WinogradPlan`) so the
/// transformed buffers stay bounded; block sizes, like every other split in tedi, depend on the
/// shape alone, so the bytes do not change with the thread count.
///
/// Accuracy: the transforms' coefficients (up to 8 and down to 1/24) cost a few bits: about
/// 1e-5 of the largest output on 256-channel layers against 1e-7 for im2col (`WinogradTests`);
/// a full 256 px generator's outputs stay within 1e-3 of PyTorch's float64, and its w+ gradient
/// within PyTorch float32's own error (`StyleGAN2ParityTests`, `TEDI_SLOW=1`).

/// How a batch's tiles are grouped into blocks, so that each sample's conv result does not depend
/// on the batch it is in (`WinogradTests`; for a whole generator, `GANTests.mixingGridSwapsBands`). Each
/// sample's tiles fill a slot of `slot` columns (its tile count rounded up to a multiple of 16),
/// a block holds `samplesPerBlock` whole slots, and each slot gets its own GEMMs; a sample too
/// big for one block is instead split into blocks of `rowsPerBlock` rows of tiles, the same
/// split whatever the batch.
/// Buffers: `V (36, Cin, columns)` and `M (36, Cout, columns)` floats, `columns` the widest block.
struct WinogradPlan {
    let tilesH: Int, tilesW: Int
    /// Tiles of one sample, and the GEMM columns its slot takes.
    let perSample: Int, slot: Int
    /// Whole samples per block (0 when one sample takes several blocks).
    let samplesPerBlock: Int
    /// Rows of tiles per block when a sample takes several blocks.
    let rowsPerBlock: Int
    /// Columns of the widest block (the N of the 36 GEMMs).
    let columns: Int

    /// Floats each transformed buffer may hold (16 MiB), unless one row of tiles needs more.
    static let budget = 1 << 22
    /// Fewest tiles per sample (32×32 outputs) for the transform of the weights to pay off
    /// (`tedi bench conv`: at 16×16 with 512 channels it costs more than it saves).
    static let minTiles = 64

    init(_ g: ConvGeometry, batch: Int) {
        tilesH = (g.ho + 3) / 4
        tilesW = (g.wo + 3) / 4
        perSample = tilesH * tilesW
        slot = (perSample + 15) / 16 * 16
        let fit = Swift.min(1024, Self.budget / (36 * Swift.max(g.cin, g.cout)))
        if slot <= fit {
            samplesPerBlock = Swift.min(batch, fit / slot)
            rowsPerBlock = tilesH
            columns = samplesPerBlock * slot
        } else {
            samplesPerBlock = 0
            rowsPerBlock = Swift.max(1, Swift.min(tilesH, fit / tilesW))
            columns = rowsPerBlock * tilesW
        }
    }

    /// One block: rows `[row0, row0 + rows)` of tiles of samples `[sample0, sample0 + samples)`,
    /// sample j's `rows · tilesW` tiles at column `j · slot`.
    struct Block { let sample0: Int, samples: Int, row0: Int, rows: Int }

    func blocks(batch: Int) -> [Block] {
        var out: [Block] = []
        if samplesPerBlock > 0 {
            var s0 = 0
            while s0 < batch {
                let k = Swift.min(samplesPerBlock, batch - s0)
                out.append(Block(sample0: s0, samples: k, row0: 0, rows: tilesH))
                s0 += k
            }
        } else {
            for s in 0..<batch {
                var r0 = 0
                while r0 < tilesH {
                    let rows = Swift.min(rowsPerBlock, tilesH - r0)
                    out.append(Block(sample0: s, samples: 1, row0: r0, rows: rows))
                    r0 += rows
                }
            }
        }
        return out
    }

    /// `TEDI_WINOGRAD=0` turns the path off (every 3×3 conv then runs as im2col + sgemm), to
    /// compare the two; results then differ in the last bits, so do not share a cache across it.
    static let enabled = ProcessInfo.processInfo.environment["TEDI_WINOGRAD"] != "0"

    /// Whether the conv is one this path computes: 3×3, stride 1, padding 1, enough tiles per
    /// sample (not per batch, so a sample's path does not depend on its batch).
    static func applies(_ g: ConvGeometry, batch: Int) -> Bool {
        enabled && g.kh == 3 && g.kw == 3 && g.stride == 1 && g.pad == 1 && g.cin >= 4 && g.cout >= 4
            && ((g.ho + 3) / 4) * ((g.wo + 3) / 4) >= minTiles
    }
}

enum Winograd {
    /// `U (36, Cout, Cin)` from `weight (Cout, Cin, 3, 3)`; with `adjoint`, the weight of the
    /// input gradient instead (channels swapped, kernel flipped): `U (36, Cin, Cout)`.
    static func transformWeights(_ w: UnsafePointer<Float>, cout: Int, cin: Int, adjoint: Bool) -> [Float] {
        let (rows, cols) = adjoint ? (cin, cout) : (cout, cin)
        let plane = rows * cols
        return [Float](unsafeUninitializedCapacity: 36 * plane) { u, initialized in
            let up = u.baseAddress!
            // Four (row, column) pairs per step, one per vector lane; U's 36 planes get 4 contiguous floats each.
            let groups = (plane + 3) / 4
            parallelChunks(groups, grain: 512) { range in
                for grp in range {
                    let r0 = grp * 4, lanes = Swift.min(4, plane - r0)
                    // The 3×3 kernels of the four pairs (flipped for the adjoint), tap by tap; a
                    // missing lane repeats the last pair.
                    @inline(__always) func source(_ l: Int) -> UnsafePointer<Float> {
                        let r = r0 + Swift.min(l, lanes - 1)
                        let (i, j) = (r / cols, r % cols)
                        return adjoint ? w + (j * cin + i) * 9 : w + (i * cin + j) * 9
                    }
                    let (s0, s1, s2, s3) = (source(0), source(1), source(2), source(3))
                    @inline(__always) func tap(_ t: Int) -> SIMD4<Float> {
                        let u = adjoint ? 8 - t : t
                        return SIMD4(s0[u], s1[u], s2[u], s3[u])
                    }
                    // G·k: column c of the 3×3 kernel becomes column c of a 6×3 matrix.
                    let c0 = filterTransform(tap(0), tap(3), tap(6))
                    let c1 = filterTransform(tap(1), tap(4), tap(7))
                    let c2 = filterTransform(tap(2), tap(5), tap(8))
                    // (G·k)·Gᵀ: row q of the 6×3 matrix becomes row q of U.
                    @inline(__always) func store(_ q: Int, _ row: Six4) {
                        let base = up + q * 6 * plane + r0
                        @inline(__always) func put(_ p: Int, _ v: SIMD4<Float>) {
                            if lanes == 4 {
                                UnsafeMutableRawPointer(base + p * plane).storeBytes(of: v, as: SIMD4<Float>.self)
                            } else {
                                for l in 0..<lanes { base[p * plane + l] = v[l] }
                            }
                        }
                        put(0, row.0); put(1, row.1); put(2, row.2); put(3, row.3); put(4, row.4); put(5, row.5)
                    }
                    store(0, filterTransform(c0.0, c1.0, c2.0))
                    store(1, filterTransform(c0.1, c1.1, c2.1))
                    store(2, filterTransform(c0.2, c1.2, c2.2))
                    store(3, filterTransform(c0.3, c1.3, c2.3))
                    store(4, filterTransform(c0.4, c1.4, c2.4))
                    store(5, filterTransform(c0.5, c1.5, c2.5))
                }
            }
            initialized = 36 * plane
        }
    }

    typealias Six4 = (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>)
    typealias Six8 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
    typealias Four8 = (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)

    /// `Bᵀ·(d0 … d5)ᵀ`, Bᵀ the 6×6 input transform of F(4, 3), lane by lane.
    @inline(__always)
    static func inputTransform(_ d0: SIMD8<Float>, _ d1: SIMD8<Float>, _ d2: SIMD8<Float>,
                               _ d3: SIMD8<Float>, _ d4: SIMD8<Float>, _ d5: SIMD8<Float>) -> Six8 {
        (4 * d0 - 5 * d2 + d4, -4 * (d1 + d2) + d3 + d4, 4 * (d1 - d2) - d3 + d4,
         -2 * (d1 - d3) - d2 + d4, 2 * (d1 - d3) - d2 + d4, 4 * d1 - 5 * d3 + d5)
    }

    /// `Aᵀ·(a0 … a5)ᵀ`, Aᵀ the 4×6 output transform of F(4, 3), lane by lane.
    @inline(__always)
    static func outputTransform(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>, _ a2: SIMD8<Float>,
                                _ a3: SIMD8<Float>, _ a4: SIMD8<Float>, _ a5: SIMD8<Float>) -> Four8 {
        let s12 = a1 + a2, d12 = a1 - a2, s34 = a3 + a4, d34 = a3 - a4
        return (a0 + s12 + s34, d12 + 2 * d34, s12 + 4 * s34, d12 + 8 * d34 + a5)
    }

    /// `G·(a, b, c)ᵀ`, G the 6×3 filter transform of F(4, 3), lane by lane.
    @inline(__always)
    static func filterTransform(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ c: SIMD4<Float>) -> Six4 {
        let s = a + c, sixth: Float = 1.0 / 6
        let e = a * (1.0 / 24) + c * sixth, f = b * (1.0 / 12)
        return (a * 0.25, -(s + b) * sixth, -(s - b) * sixth, e + f, e - f, c)
    }

    /// `out (N, Cout, H, W) = conv3×3(x (N, Cin, H, W), padding 1)` with the weights already
    /// transformed (`u (36, Cout, Cin)`). Overwrites `out`.
    static func conv(_ x: UnsafePointer<Float>, batch n: Int, _ g: ConvGeometry, u: UnsafePointer<Float>,
                     _ out: UnsafeMutablePointer<Float>) {
        let plan = WinogradPlan(g, batch: n)
        let (cin, cout, h, w) = (g.cin, g.cout, g.h, g.w)
        let (tilesW, columns, slot) = (plan.tilesW, plan.columns, plan.slot)
        // Uninitialized: the GEMMs read and write only a slot's first `rows · tilesW` columns, which
        // the input transform fills; the columns past them are never read.
        let vp = UnsafeMutablePointer<Float>.allocate(capacity: 36 * cin * columns)
        let mp = UnsafeMutablePointer<Float>.allocate(capacity: 36 * cout * columns)
        defer { vp.deallocate(); mp.deallocate() }
        for blk in plan.blocks(batch: n) {
            let rowItems = blk.samples * blk.rows   // (sample, tile row) pairs of the block
            @inline(__always) func locate(_ item: Int) -> (s: Int, ty: Int, column: Int) {
                let (j, r) = (item / blk.rows, item % blk.rows)
                return (blk.sample0 + j, blk.row0 + r, j * slot + r * tilesW)
            }
            // V[ξ][ci][t] = Bᵀ·d·B for each input tile d (6×6, zero outside the image).
            parallelChunks(cin * rowItems, grain: Swift.max(1, 256 / tilesW)) { range in
                var scratch = [Float](repeating: 0, count: inputScratch(tiles: tilesW))
                scratch.withUnsafeMutableBufferPointer { ps in
                    for item in range {
                        let (ci, at) = (item / rowItems, locate(item % rowItems))
                        inputRow(x + (at.s * cin + ci) * h * w, h: h, w: w, y0: at.ty * 4 - 1, tiles: tilesW,
                                 vp + ci * columns + at.column, stride: cin * columns, scratch: ps.baseAddress!)
                    }
                }
            }
            // M[ξ] (Cout × tiles) = U[ξ] (Cout × Cin) · V[ξ] (Cin × tiles), for each ξ and each
            // sample on its own: OpenBLAS's rounding of a column depends on the product's
            // size, so one product per sample keeps a sample's bytes independent of its batch.
            let sampleColumns = blk.rows * tilesW
            parallelTasks(36 * blk.samples) { task in
                let (xi, j) = (task / blk.samples, task % blk.samples)
                sgemm(m: cout, n: sampleColumns, k: cin, u + xi * cout * cin, lda: cin,
                      vp + xi * cin * columns + j * slot, ldb: columns,
                      mp + xi * cout * columns + j * slot, ldc: columns, parallel: false)
            }
            // Y = Aᵀ·M·A, cropped at the image's right and bottom edges.
            parallelChunks(cout * rowItems, grain: Swift.max(1, 256 / tilesW)) { range in
                for item in range {
                    let (co, at) = (item / rowItems, locate(item % rowItems))
                    outputRow(mp + co * columns + at.column, stride: cout * columns, tiles: tilesW,
                              out + (at.s * cout + co) * h * w, h: h, w: w, y0: at.ty * 4)
                }
            }
        }
    }

    /// Floats of `inputRow`'s scratch for rows of `tiles` tiles.
    static func inputScratch(tiles: Int) -> Int { 48 * phaseLength(tiles) }

    /// Length of one phase array: `tiles + 1` entries, rounded for 8-wide loads at offset 1.
    @inline(__always)
    static func phaseLength(_ tiles: Int) -> Int { (tiles + 7) / 8 * 8 + 8 }

    /// The input transform of one row of tiles of one channel: tile `tx` covers padded columns
    /// `4·tx ..< 4·tx+6` of input rows `y0 ..< y0+6` (padded column c is input column c − 1, zero
    /// outside the plane). The rows are split into four phases (column 4·tx + j of phase j), so that
    /// both passes, Bᵀ down the six rows and B across a tile's six columns, run eight tiles per
    /// vector; tile `tx`'s 36 values go to `v[ξ·stride + tx]`.
    @inline(__always)
    static func inputRow(_ plane: UnsafePointer<Float>, h: Int, w: Int, y0: Int, tiles: Int,
                         _ v: UnsafeMutablePointer<Float>, stride: Int, scratch: UnsafeMutablePointer<Float>) {
        let len = phaseLength(tiles)
        // d[i][j][tx]: input row i, phase j (6 × 4 × len), then t[q][j][tx] = Σ_i Bᵀ[q][i]·d[i][j][tx].
        let d = scratch, t = scratch + 24 * len
        for i in 0..<6 {
            let y = y0 + i
            let rowPhases = d + i * 4 * len
            rowPhases.update(repeating: 0, count: 4 * len)
            guard y >= 0 && y < h else { continue }
            let src = plane + y * w
            for x in 0..<w {
                let c = x + 1
                rowPhases[(c & 3) * len + (c >> 2)] = src[x]
            }
        }
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        }
        @inline(__always) func store(_ p: UnsafeMutablePointer<Float>, _ x: SIMD8<Float>) {
            UnsafeMutableRawPointer(p).storeBytes(of: x, as: SIMD8<Float>.self)
        }
        let plane4 = 4 * len
        var off = 0
        while off < plane4 {
            let d0 = load(d + off), d1 = load(d + plane4 + off), d2 = load(d + 2 * plane4 + off)
            let d3 = load(d + 3 * plane4 + off), d4 = load(d + 4 * plane4 + off), d5 = load(d + 5 * plane4 + off)
            let q = inputTransform(d0, d1, d2, d3, d4, d5)
            store(t + off, q.0); store(t + plane4 + off, q.1); store(t + 2 * plane4 + off, q.2)
            store(t + 3 * plane4 + off, q.3); store(t + 4 * plane4 + off, q.4); store(t + 5 * plane4 + off, q.5)
            off += 8
        }
        // Across each tile's columns 4·tx + 0…5: phases 0–3 at tx, phases 0–1 at tx + 1.
        for q in 0..<6 {
            let r = t + q * plane4, o = v + q * 6 * stride
            var tx = 0
            while tx < tiles {
                let d0 = load(r + tx), d1 = load(r + len + tx), d2 = load(r + 2 * len + tx)
                let d3 = load(r + 3 * len + tx), d4 = load(r + tx + 1), d5 = load(r + len + tx + 1)
                let outs = inputTransform(d0, d1, d2, d3, d4, d5)
                if tx + 8 <= tiles {
                    store(o + tx, outs.0); store(o + stride + tx, outs.1); store(o + 2 * stride + tx, outs.2)
                    store(o + 3 * stride + tx, outs.3); store(o + 4 * stride + tx, outs.4); store(o + 5 * stride + tx, outs.5)
                } else {
                    // The last tiles: scalar stores, so columns of the next row of tiles stay untouched.
                    for l in 0..<(tiles - tx) {
                        o[tx + l] = outs.0[l]; o[stride + tx + l] = outs.1[l]; o[2 * stride + tx + l] = outs.2[l]
                        o[3 * stride + tx + l] = outs.3[l]; o[4 * stride + tx + l] = outs.4[l]; o[5 * stride + tx + l] = outs.5[l]
                    }
                }
                tx += 8
            }
        }
    }

    /// The output transform of one row of tiles of one channel: `Aᵀ·M·A` for tiles whose 36 values
    /// are `m[ξ·stride + t]`, eight tiles per vector, stored into rows `y0 ..< y0+4` of
    /// `plane (h × w)` (the part inside it).
    @inline(__always)
    static func outputRow(_ m: UnsafePointer<Float>, stride: Int, tiles: Int, _ plane: UnsafeMutablePointer<Float>,
                          h: Int, w: Int, y0: Int) {
        var tx = 0
        while tx < tiles {
            let lanes = Swift.min(8, tiles - tx)
            @inline(__always) func load(_ xi: Int) -> SIMD8<Float> {
                let src = m + xi * stride + tx
                if lanes == 8 { return UnsafeRawPointer(src).loadUnaligned(as: SIMD8<Float>.self) }
                var v = SIMD8<Float>()
                for l in 0..<lanes { v[l] = src[l] }
                return v
            }
            // (Aᵀ·M)[i][p] for i < 4, then ·A along p: 16 outputs, each a vector over 8 tiles.
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 24) { cols in
                for p in 0..<6 {
                    let r = outputTransform(load(p), load(6 + p), load(12 + p), load(18 + p), load(24 + p), load(30 + p))
                    cols[p] = r.0; cols[6 + p] = r.1; cols[12 + p] = r.2; cols[18 + p] = r.3
                }
                for i in 0..<4 {
                    let y = y0 + i
                    if y >= h { break }
                    let c = i * 6
                    let (o0, o1, o2, o3) = outputTransform(cols[c], cols[c + 1], cols[c + 2], cols[c + 3], cols[c + 4], cols[c + 5])
                    let row = plane + y * w
                    if lanes == 8 && 4 * (tx + 8) <= w {
                        // Eight whole tiles: two 4×4 transposes give the row's 32 values in order.
                        let raw = UnsafeMutableRawPointer(row + 4 * tx)
                        for half in 0..<2 {
                            let (a, b, c, d) = half == 0 ? (o0.lowHalf, o1.lowHalf, o2.lowHalf, o3.lowHalf)
                                                         : (o0.highHalf, o1.highHalf, o2.highHalf, o3.highHalf)
                            let ab = SIMD8(lowHalf: a, highHalf: b), cd = SIMD8(lowHalf: c, highHalf: d)
                            let e = SIMD8(lowHalf: ab.evenHalf, highHalf: cd.evenHalf)
                            let f = SIMD8(lowHalf: ab.oddHalf, highHalf: cd.oddHalf)
                            let base = half * 64
                            raw.storeBytes(of: e.evenHalf, toByteOffset: base, as: SIMD4<Float>.self)
                            raw.storeBytes(of: f.evenHalf, toByteOffset: base + 16, as: SIMD4<Float>.self)
                            raw.storeBytes(of: e.oddHalf, toByteOffset: base + 32, as: SIMD4<Float>.self)
                            raw.storeBytes(of: f.oddHalf, toByteOffset: base + 48, as: SIMD4<Float>.self)
                        }
                    } else {
                        for l in 0..<lanes {
                            let x0 = 4 * (tx + l)
                            let vals = SIMD4(o0[l], o1[l], o2[l], o3[l])
                            for j in 0..<Swift.min(4, w - x0) { row[x0 + j] = vals[j] }
                        }
                    }
                }
            }
            tx += lanes
        }
    }
}
