/// `upfirdn2d`: upsample by zero insertion, pad (negative pads crop), FIR filter, downsample —
/// exactly rosinality's `upfirdn2d_native`, per channel. Rank-1 kernels (the StyleGAN2 blur
/// `outer([1,3,3,1])`) take a separable path: one vertical and one horizontal pass per row.

/// Taps of a 1-D upfirdn along one axis: for output index `o`, the source indices `src` and kernel
/// indices `k` (into the *unflipped* kernel) that touch a nonzero sample of the upsampled input.
struct FIRTaps {
    var start: [Int]    // (outCount + 1): taps of output o are start[o]..<start[o+1]
    var src: [Int]
    var k: [Int]

    /// `out[o] = Σ_t K[kn−1−t] · U[o·down + t − pad0]`, `U[j] = x[j/up]` when `j % up == 0`.
    init(outCount: Int, inCount: Int, kernelCount kn: Int, up: Int, down: Int, pad0: Int) {
        start = [0]
        src = []
        k = []
        start.reserveCapacity(outCount + 1)
        for o in 0..<outCount {
            for t in 0..<kn {
                let j = o * down + t - pad0
                if j >= 0, j % up == 0, j / up < inCount {
                    src.append(j / up)
                    k.append(kn - 1 - t)
                }
            }
            start.append(src.count)
        }
    }
}

/// Largest accepted up/down factor and pad magnitude of `upfirdn2d`.
let upfirdnLimit = 1 << 12

extension Tensor {
    /// rosinality's `upfirdn2d` on `(N,C,H,W)` with a 2-D `kernel (kh,kw)`: insert `up−1` zeros after
    /// each sample, pad by `pad` (negative values crop), correlate with the flipped kernel, keep every
    /// `down`-th sample. Output side `(H·up + y0 + y1 − kh) / down + 1`. The kernel is a constant
    /// (no gradient flows to it).
    public func upfirdn2d(kernel: Tensor, up: Int = 1, down: Int = 1,
                          pad: (x0: Int, x1: Int, y0: Int, y1: Int) = (0, 0, 0, 0)) throws -> Tensor {
        let op = "upfirdn2d"
        guard rank == 4 else { throw TensorError.shape(op: op, "input must be (N,C,H,W), got \(shape)") }
        guard kernel.rank == 2, kernel.shape.allSatisfy({ $0 > 0 && $0 <= upfirdnLimit }) else {
            throw TensorError.shape(op: op, "kernel must be 2-D (kh,kw) with sides in 1...\(upfirdnLimit), got \(kernel.shape)")
        }
        guard (1...upfirdnLimit).contains(up), (1...upfirdnLimit).contains(down) else {
            throw TensorError.invalid("\(op): up and down must be in 1...\(upfirdnLimit), got up \(up), down \(down)")
        }
        let pads = [pad.x0, pad.x1, pad.y0, pad.y1]
        guard pads.allSatisfy({ Swift.abs($0) <= upfirdnLimit }) else {
            throw TensorError.invalid("\(op): pads must be within ±\(upfirdnLimit), got \(pads)")
        }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (kh, kw) = (kernel.shape[0], kernel.shape[1])
        let ph = h * up + pad.y0 + pad.y1, pw = w * up + pad.x0 + pad.x1
        guard ph >= kh, pw >= kw else {
            throw TensorError.shape(op: op, "kernel \(kh)×\(kw) is larger than the upsampled, padded input \(ph)×\(pw) (input \(shape), up \(up), pad \(pads))")
        }
        let ho = (ph - kh) / down + 1, wo = (pw - kw) / down + 1
        let outShape = [n, c, ho, wo]
        _ = try Tensor.elementCount(outShape)
        guard ho * kh <= 1 << 28, wo * kw <= 1 << 28 else {
            throw TensorError.tooLarge("\(op): output \(ho)×\(wo) with kernel \(kh)×\(kw) needs too many filter taps; use a smaller kernel or input")
        }

        let out = upfirdnPlanes(scalars, planes: n * c, h: h, w: w, ho: ho, wo: wo, kernel: kernel.scalars, kh: kh, kw: kw,
                                up: up, down: down, x0: pad.x0, y0: pad.y0)
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        let flipped = Tensor(uncheckedShape: [kh, kw], scalars: kernel.scalars.reversed())
        let inShape = shape
        result.tapeRef = Tape.record(inputs: [self], shape: outShape) { g in
            // The adjoint is another upfirdn (rosinality's UpFirDn2dBackward): flipped kernel, up and
            // down swapped, pads chosen so the result has the input's size.
            let gx0 = kw - pad.x0 - 1, gy0 = kh - pad.y0 - 1
            let gx1 = w * up - wo * down + pad.x0 - up + 1
            let gy1 = h * up - ho * down + pad.y0 - up + 1
            let gx = try g.detached.upfirdn2d(kernel: flipped, up: down, down: up, pad: (gx0, gx1, gy0, gy1))
            guard gx.shape == inShape else {
                throw TensorError.shape(op: op, "internal: adjoint has shape \(gx.shape), expected \(inShape)")
            }
            return [gx]
        }
        return result
    }
}

/// The kernel `(kh,kw)` as `outer(a, b)` when it has rank 1 (to within 1e-6 of its largest entry).
func rankOneFactors(_ kernel: [Float], kh: Int, kw: Int) -> (a: [Float], b: [Float])? {
    guard let (pivot, peak) = kernel.enumerated().max(by: { Swift.abs($0.element) < Swift.abs($1.element) }).map({ ($0.offset, $0.element) }),
          peak != 0 else { return nil }
    let (pi, pj) = (pivot / kw, pivot % kw)
    let a = (0..<kh).map { kernel[$0 * kw + pj] }
    let b = (0..<kw).map { kernel[pi * kw + $0] / peak }
    let tol = 1e-6 * Swift.abs(peak)
    for i in 0..<kh {
        for j in 0..<kw where Swift.abs(kernel[i * kw + j] - a[i] * b[j]) > tol { return nil }
    }
    return (a, b)
}

/// upfirdn of `planes` independent `(h,w)` planes into `(ho,wo)` planes; rows are split across threads.
/// `rowPasses` keeps a separable up = down = 1 kernel on the row-by-row path instead of
/// `blurPlanes` (tests compare the two byte for byte).
func upfirdnPlanes(_ x: [Float], planes: Int, h: Int, w: Int, ho: Int, wo: Int, kernel: [Float], kh: Int, kw: Int,
                   up: Int, down: Int, x0: Int, y0: Int, rowPasses: Bool = false) -> [Float] {
    let rowTaps = FIRTaps(outCount: ho, inCount: h, kernelCount: kh, up: up, down: down, pad0: y0)
    let factors = rankOneFactors(kernel, kh: kh, kw: kw)
    if let f = factors, up == 1, down == 1, !rowPasses {
        return blurPlanes(x, planes: planes, h: h, w: w, ho: ho, wo: wo, a: f.a, b: f.b, rowTaps: rowTaps, x0: x0)
    }
    var out = [Float](repeating: 0, count: planes * ho * wo)
    let cols = FIRTaps(outCount: wo, inCount: w, kernelCount: kw, up: up, down: down, pad0: x0)
    let colWeights = factors.map { f in cols.k.map { f.b[$0] } } ?? []   // separable: b at each column tap
    // With up = down = 1, output column o reads t[o − x0 + tap] with weight b[kw−1−tap] for
    // tap = 0..<kw; where all of them lie inside the row the horizontal pass needs no tap table.
    let interior: Range<Int> = {
        guard factors != nil, up == 1, down == 1 else { return 0..<0 }
        let lo = Swift.min(Swift.max(x0, 0), wo), hi = Swift.max(Swift.min(w - kw + 1 + x0, wo), lo)
        return lo..<hi
    }()
    let edgeColumns = [Int](0..<interior.lowerBound) + [Int](interior.upperBound..<wo)
    let bFlipped: [Float] = factors.map { Array($0.b.reversed()) } ?? []
    let rows = planes * ho
    x.withUnsafeBufferPointer { px in
        out.withUnsafeMutableBufferPointer { po in
            cols.start.withUnsafeBufferPointer { cs in
            cols.src.withUnsafeBufferPointer { csrc in
            cols.k.withUnsafeBufferPointer { ck in
                let xs = px.baseAddress!, os = po.baseAddress!
                parallelChunks(rows, grain: Swift.max(1, 8192 / Swift.max(wo * 4, 1))) { range in
                    if let a = factors?.a {
                        // Separable: t = Σ_ky a · x[row]; out[ox] = Σ_kx b · t[src].
                        var tmp = [Float](repeating: 0, count: w)
                        let colW = colWeights
                        tmp.withUnsafeMutableBufferPointer { pt in
                            let t = pt.baseAddress!
                            for r in range {
                                let (p, oy) = (r / ho, r % ho)
                                let plane = xs + p * h * w
                                t.update(repeating: 0, count: w)
                                for i in rowTaps.start[oy]..<rowTaps.start[oy + 1] {
                                    let wy = a[rowTaps.k[i]], src = plane + rowTaps.src[i] * w
                                    for j in 0..<w { t[j] += wy * src[j] }
                                }
                                let o = os + r * wo
                                for ox in edgeColumns {
                                    var s: Float = 0
                                    for i in cs[ox]..<cs[ox + 1] { s += colW[i] * t[csrc[i]] }
                                    o[ox] = s
                                }
                                // Interior columns (up = down = 1, every tap inside the row): the
                                // same sums in the same tap order, one contiguous pass per tap.
                                if interior.count > 0 {
                                    (o + interior.lowerBound).update(repeating: 0, count: interior.count)
                                    for tap in 0..<kw {
                                        let wt = bFlipped[tap], src = t + interior.lowerBound - x0 + tap
                                        let dst = o + interior.lowerBound
                                        for j in 0..<interior.count { dst[j] += wt * src[j] }
                                    }
                                }
                            }
                        }
                    } else {
                        for r in range {
                            let (p, oy) = (r / ho, r % ho)
                            let plane = xs + p * h * w
                            let o = os + r * wo
                            for i in rowTaps.start[oy]..<rowTaps.start[oy + 1] {
                                let krow = rowTaps.k[i] * kw, src = plane + rowTaps.src[i] * w
                                for ox in 0..<wo {
                                    var s: Float = 0
                                    for t in cs[ox]..<cs[ox + 1] { s += kernel[krow + ck[t]] * src[csrc[t]] }
                                    o[ox] += s
                                }
                            }
                        }
                    }
                }
            }
            }
            }
        }
    }
    return out
}

/// upfirdn with a separable kernel `outer(a, b)` and up = down = 1 (the StyleGAN2 blur), a plane
/// at a time: the vertical pass into zero-padded rows `v` (`v[oy][j] = t[j − x0]`, zero outside the
/// input), then `out[o] = 0 + Σ_tap b[kw−1−tap] · v[o + tap]` for the whole plane in one long pass
/// per tap (the last kw − 1 columns of each padded row are computed and dropped). The padding only
/// adds zero products, so the sums, in the same tap order, are the same bytes as the row path's.
func blurPlanes(_ x: [Float], planes: Int, h: Int, w: Int, ho: Int, wo: Int, a: [Float], b: [Float], rowTaps: FIRTaps, x0: Int) -> [Float] {
    let kw = b.count, padded = wo + kw - 1, span = ho * padded - (kw - 1)
    let bFlipped = Array(b.reversed())
    // Input columns [c0, c1) land at v[oy][c + x0], inside [0, padded).
    let c0 = Swift.min(Swift.max(0, -x0), w), c1 = Swift.max(c0, Swift.min(w, padded - x0))
    var out = uninitializedFloats(planes * ho * wo)
    x.withUnsafeBufferPointer { px in
        out.withUnsafeMutableBufferPointer { po in
            let xs = px.baseAddress!, os = po.baseAddress!
            parallelChunks(planes, grain: Swift.max(1, 16384 / Swift.max(ho * padded, 1))) { range in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * ho * padded) { buf in
                    let v = buf.baseAddress!, sums = v + ho * padded
                    for p in range {
                        let plane = xs + p * h * w
                        v.update(repeating: 0, count: ho * padded)
                        if c1 > c0 {
                            for oy in 0..<ho {
                                let dst = v + oy * padded + c0 + x0
                                for i in rowTaps.start[oy]..<rowTaps.start[oy + 1] {
                                    let wy = a[rowTaps.k[i]], src = plane + rowTaps.src[i] * w + c0
                                    for j in 0..<(c1 - c0) { dst[j] += wy * src[j] }
                                }
                            }
                        }
                        let w0 = bFlipped[0]
                        for j in 0..<span { sums[j] = 0 + w0 * v[j] }
                        for tap in 1..<kw {
                            let wt = bFlipped[tap], src = v + tap
                            for j in 0..<span { sums[j] += wt * src[j] }
                        }
                        let o = os + p * ho * wo
                        for oy in 0..<ho { (o + oy * wo).update(from: sums + oy * padded, count: wo) }
                    }
                }
            }
        }
    }
    return out
}
