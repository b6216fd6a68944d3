/// 2-D convolution and transposed convolution as im2col + sgemm, tiled over output rows so the
/// column buffer stays bounded (see `ConvKernels.swift`: at most max(4 MiB, K·(1024+Wo)·4 bytes)).
/// Each op records its pullback; the transposed conv is the exact adjoint of conv2d, so each one's
/// forward pass is the other's input gradient.

/// Largest accepted stride, padding and kernel side: far beyond any real layer, small enough that
/// size arithmetic cannot overflow.
let convParameterLimit = 1 << 16

/// Checks an integer conv parameter and names it in the error.
func checkConvParameter(_ value: Int, _ name: String, op: String, min: Int) throws {
    guard value >= min, value <= convParameterLimit else {
        throw TensorError.invalid("\(op): \(name) must be in \(min)...\(convParameterLimit), got \(value)")
    }
}

/// Refuses geometries whose one-row column tile (K × Wo floats, per thread) would itself be huge.
func checkColumnTile(_ g: ConvGeometry, op: String) throws {
    let (rowTile, overflow) = g.k.multipliedReportingOverflow(by: g.wo)
    guard !overflow, rowTile <= 1 << 28 else {
        throw TensorError.tooLarge("\(op): one output row needs a \(g.k)×\(g.wo) column buffer (Cin·kh·kw × output width); split the input into narrower pieces")
    }
}

/// `count` floats left as the allocator gave them, for buffers the caller overwrites in full.
@inline(__always)
func uninitializedFloats(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}

extension Tensor {
    /// 2-D convolution (cross-correlation, like PyTorch's `conv2d`): `x (N,Cin,H,W)`,
    /// `weight (Cout,Cin,kh,kw)`, optional `bias (Cout)` → `(N,Cout,Ho,Wo)`, `Ho = (H+2p−kh)/stride+1`.
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) throws -> Tensor {
        try conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, maxTileRows: nil)
    }

    /// `conv2d` with the im2col tile forced to at most `maxTileRows` output rows (tests use this to
    /// check that tiling does not change the result).
    static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int, maxTileRows: Int?,
                       direct: Bool = false) throws -> Tensor {
        let op = "conv2d"
        try checkConvParameter(stride, "stride", op: op, min: 1)
        try checkConvParameter(padding, "padding", op: op, min: 0)
        guard x.rank == 4, x.shape[1...].allSatisfy({ $0 > 0 }) else {
            throw TensorError.shape(op: op, "input must be (N,Cin,H,W) with positive C, H, W; got \(x.shape)")
        }
        guard weight.rank == 4, weight.shape.allSatisfy({ $0 > 0 }) else {
            throw TensorError.shape(op: op, "weight must be (Cout,Cin,kh,kw) with positive sizes; got \(weight.shape)")
        }
        guard weight.shape[1] == x.shape[1] else {
            throw TensorError.shape(op: op, "weight \(weight.shape) expects \(weight.shape[1]) input channels but input \(x.shape) has \(x.shape[1])")
        }
        if let bias, bias.shape != [weight.shape[0]] {
            throw TensorError.shape(op: op, "bias \(bias.shape) does not match weight \(weight.shape) (expected [\(weight.shape[0])])")
        }
        let g = try convGeometry(input: x.shape, cout: weight.shape[0], kh: weight.shape[2], kw: weight.shape[3],
                                 stride: stride, padding: padding, op: op)
        return try convGeneral(x, weight: weight, perSample: false, bias: bias, g, maxTileRows: maxTileRows, direct: direct)
    }

    /// Transposed 2-D convolution (PyTorch's `conv_transpose2d`): `x (N,Cin,H,W)`,
    /// `weight (Cin,Cout,kh,kw)` as PyTorch stores it → `(N,Cout,(H−1)·stride−2p+kh,(W−1)·stride−2p+kw)`.
    /// It is the adjoint of `conv2d` with the same weight tensor (no flip).
    public static func convTranspose2d(_ x: Tensor, weight: Tensor, stride: Int = 2, padding: Int = 0) throws -> Tensor {
        try convTranspose2d(x, weight: weight, stride: stride, padding: padding, maxTileRows: nil)
    }

    static func convTranspose2d(_ x: Tensor, weight: Tensor, stride: Int, padding: Int, maxTileRows: Int?) throws -> Tensor {
        let op = "convTranspose2d"
        guard x.rank == 4, x.shape[1...].allSatisfy({ $0 > 0 }) else {
            throw TensorError.shape(op: op, "input must be (N,Cin,H,W) with positive C, H, W; got \(x.shape)")
        }
        guard weight.rank == 4, weight.shape.allSatisfy({ $0 > 0 }) else {
            throw TensorError.shape(op: op, "weight must be (Cin,Cout,kh,kw) with positive sizes; got \(weight.shape)")
        }
        guard weight.shape[0] == x.shape[1] else {
            throw TensorError.shape(op: op, "weight \(weight.shape) expects \(weight.shape[0]) input channels (dimension 0, PyTorch layout) but input \(x.shape) has \(x.shape[1])")
        }
        return try convTransposeGeneral(x, weight: weight, perSample: false, cout: weight.shape[1],
                                        kh: weight.shape[2], kw: weight.shape[3], stride: stride, padding: padding,
                                        maxTileRows: maxTileRows, op: op)
    }

    /// Geometry of a conv over `input (N,Cin,H,W)`; throws when the window does not fit.
    static func convGeometry(input: [Int], cout: Int, kh: Int, kw: Int, stride: Int, padding: Int, op: String) throws -> ConvGeometry {
        try checkConvParameter(kh, "kernel height", op: op, min: 1)
        try checkConvParameter(kw, "kernel width", op: op, min: 1)
        let (h, w) = (input[2], input[3])
        guard h + 2 * padding >= kh, w + 2 * padding >= kw else {
            throw TensorError.shape(op: op, "kernel \(kh)×\(kw) is larger than the padded input \(h + 2 * padding)×\(w + 2 * padding) (input \(input), padding \(padding))")
        }
        let g = ConvGeometry(cin: input[1], h: h, w: w, cout: cout, kh: kh, kw: kw, stride: stride, pad: padding)
        _ = try Tensor.elementCount([input[0], cout, g.ho, g.wo])
        try checkColumnTile(g, op: op)
        return g
    }

    /// Convolution with one weight `(Cout,Cin,kh,kw)` for the batch, or, when `perSample`, one
    /// weight per sample `(N,Cout,Cin,kh,kw)`. Shapes are checked by the callers.
    /// `direct` forces im2col + sgemm where Winograd would apply (tests and `tedi bench conv` compare the two).
    static func convGeneral(_ x: Tensor, weight: Tensor, perSample: Bool, bias: Tensor?, _ g: ConvGeometry,
                            maxTileRows: Int?, direct: Bool = false) throws -> Tensor {
        let n = x.shape[0]
        let outShape = [n, g.cout, g.ho, g.wo]
        let rows = g.tileRows(override: maxTileRows)
        let workers = tileWorkers(g, tileRows: rows, threads: Threads.count)
        let wStride = perSample ? g.cout * g.k : 0
        let (xStride, oStride) = (g.cin * g.inPlane, g.cout * g.outPlane)
        // Every element is written below (sgemm with beta 0, or Winograd's output transform).
        var out = uninitializedFloats(n * oStride)
        // Shared 3×3 weights: Winograd F(4×4, 3×3) for the whole batch (Winograd.swift).
        let winograd = !perSample && !direct && WinogradPlan.applies(g, batch: n)
        var col = winograd ? [] : columnScratch(g, tileRows: rows, copies: workers)
        x.scalars.withUnsafeBufferPointer { px in
            weight.scalars.withUnsafeBufferPointer { pw in
                out.withUnsafeMutableBufferPointer { po in
                    if winograd {
                        let u = Winograd.transformWeights(pw.baseAddress!, cout: g.cout, cin: g.cin, adjoint: false)
                        u.withUnsafeBufferPointer { pu in
                            Winograd.conv(px.baseAddress!, batch: n, g, u: pu.baseAddress!, po.baseAddress!)
                        }
                    }
                    col.withUnsafeMutableBufferPointer { pc in
                        for s in 0..<n {
                            if !winograd {
                                convForwardSample(px.baseAddress! + s * xStride, pw.baseAddress! + s * wStride,
                                                  po.baseAddress! + s * oStride, g, tileRows: rows, col: pc.baseAddress, workers: workers)
                            }
                            if let bias {
                                bias.scalars.withUnsafeBufferPointer { pb in
                                    addChannelBias(po.baseAddress! + s * oStride, pb.baseAddress!, channels: g.cout, plane: g.outPlane)
                                }
                            }
                        }
                    }
                }
            }
        }
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        let xv = x.detached, wv = weight.detached
        let needX = x.isTracked, needW = weight.isTracked
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        result.tapeRef = Tape.record(inputs: inputs, shape: outShape) { gy in
            // Winograd writes every element of the input gradient; im2col adds into zeros.
            var dx = needX ? (winograd ? uninitializedFloats(xv.count) : [Float](repeating: 0, count: xv.count)) : []
            var dw = needW ? [Float](repeating: 0, count: wv.count) : []
            var db = [Float](repeating: 0, count: bias == nil ? 0 : g.cout)
            // One tile buffer for the input gradient; one per group the weight gradient runs at once.
            let copies = needW ? Swift.max(1, Swift.min(weightGradGroups(g, tileRows: rows), Threads.count)) : 1
            var col = needW || !winograd ? columnScratch(g, tileRows: rows, copies: copies) : []
            gy.scalars.withUnsafeBufferPointer { pg in
                xv.scalars.withUnsafeBufferPointer { px in
                    wv.scalars.withUnsafeBufferPointer { pw in
                        dx.withUnsafeMutableBufferPointer { pdx in
                            dw.withUnsafeMutableBufferPointer { pdw in
                                db.withUnsafeMutableBufferPointer { pdb in
                                    if needX && winograd {
                                        // The input gradient of a 3×3 "same" conv is one too, with the kernel
                                        // flipped and the channels swapped.
                                        let adj = ConvGeometry(cin: g.cout, h: g.ho, w: g.wo, cout: g.cin, kh: 3, kw: 3, stride: 1, pad: 1)
                                        let u = Winograd.transformWeights(pw.baseAddress!, cout: g.cout, cin: g.cin, adjoint: true)
                                        u.withUnsafeBufferPointer { pu in
                                            Winograd.conv(pg.baseAddress!, batch: n, adj, u: pu.baseAddress!, pdx.baseAddress!)
                                        }
                                    }
                                    col.withUnsafeMutableBufferPointer { pc in
                                        for s in 0..<n {
                                            let gs = pg.baseAddress! + s * oStride
                                            if needX && !winograd {
                                                convInputGradSample(gs, pw.baseAddress! + s * wStride, pdx.baseAddress! + s * xStride,
                                                                    g, tileRows: rows, col: pc.baseAddress)
                                            }
                                            if needW {
                                                convWeightGradSample(px.baseAddress! + s * xStride, gs, pdw.baseAddress! + s * wStride, g,
                                                                     accumulate: !perSample && s > 0, tileRows: rows, col: pc.baseAddress,
                                                                     columnCopies: copies)
                                            }
                                            if bias != nil {
                                                accumulateChannelSums(gs, pdb.baseAddress!, channels: g.cout, plane: g.outPlane)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            var grads: [Tensor?] = [needX ? Tensor(uncheckedShape: xv.shape, scalars: dx) : nil,
                                    needW ? Tensor(uncheckedShape: wv.shape, scalars: dw) : nil]
            if bias != nil { grads.append(Tensor(uncheckedShape: [g.cout], scalars: db)) }
            return grads
        }
        return result
    }

    /// Transposed convolution with one weight `(Cin,Cout,kh,kw)`, or, when `perSample`, one weight
    /// per sample `(N,Cin,Cout,kh,kw)`. Computed as the input gradient of the adjoint conv, whose
    /// input is this op's output `(Cout,Ho,Wo)` and whose output is `x`'s plane `(Cin,H,W)`.
    static func convTransposeGeneral(_ x: Tensor, weight: Tensor, perSample: Bool, cout: Int, kh: Int, kw: Int,
                                     stride: Int, padding: Int, maxTileRows: Int?, op: String) throws -> Tensor {
        try checkConvParameter(stride, "stride", op: op, min: 1)
        try checkConvParameter(padding, "padding", op: op, min: 0)
        try checkConvParameter(kh, "kernel height", op: op, min: 1)
        try checkConvParameter(kw, "kernel width", op: op, min: 1)
        let (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ho = (h - 1) * stride - 2 * padding + kh, wo = (w - 1) * stride - 2 * padding + kw
        guard ho > 0, wo > 0 else {
            throw TensorError.shape(op: op, "padding \(padding) crops the whole output of input \(x.shape) with kernel \(kh)×\(kw), stride \(stride)")
        }
        let outShape = [n, cout, ho, wo]
        _ = try Tensor.elementCount(outShape)
        // The adjoint conv: from (cout, ho, wo) to (cin, h, w).
        let g = ConvGeometry(cin: cout, h: ho, w: wo, cout: cin, kh: kh, kw: kw, stride: stride, pad: padding)
        guard g.ho == h, g.wo == w else {
            throw TensorError.shape(op: op, "internal: adjoint geometry \(g.ho)×\(g.wo) differs from input \(h)×\(w)")
        }
        try checkColumnTile(g, op: op)
        let rows = g.tileRows(override: maxTileRows)
        let wStride = perSample ? g.cout * g.k : 0
        let (xStride, oStride) = (g.cout * g.outPlane, g.cin * g.inPlane)
        var out = [Float](repeating: 0, count: n * oStride)
        var col = columnScratch(g, tileRows: rows)
        x.scalars.withUnsafeBufferPointer { px in
            weight.scalars.withUnsafeBufferPointer { pw in
                out.withUnsafeMutableBufferPointer { po in
                    col.withUnsafeMutableBufferPointer { pc in
                        for s in 0..<n {
                            convInputGradSample(px.baseAddress! + s * xStride, pw.baseAddress! + s * wStride,
                                                po.baseAddress! + s * oStride, g, tileRows: rows, col: pc.baseAddress)
                        }
                    }
                }
            }
        }
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        let xv = x.detached, wv = weight.detached
        let needX = x.isTracked, needW = weight.isTracked
        result.tapeRef = Tape.record(inputs: [x, weight], shape: outShape) { gy in
            var dx = needX ? [Float](repeating: 0, count: xv.count) : []
            var dw = needW ? [Float](repeating: 0, count: wv.count) : []
            // Tile buffers for the input gradient's workers and the weight gradient's groups, from
            // one reading of the thread count.
            let threads = Threads.count
            let workers = needX ? tileWorkers(g, tileRows: rows, threads: threads) : 1
            let copies = Swift.max(workers, needW ? Swift.min(weightGradGroups(g, tileRows: rows), threads) : 1)
            var col = columnScratch(g, tileRows: rows, copies: copies)
            gy.scalars.withUnsafeBufferPointer { pg in
                xv.scalars.withUnsafeBufferPointer { px in
                    wv.scalars.withUnsafeBufferPointer { pw in
                        dx.withUnsafeMutableBufferPointer { pdx in
                            dw.withUnsafeMutableBufferPointer { pdw in
                                col.withUnsafeMutableBufferPointer { pc in
                                    for s in 0..<n {
                                        let gs = pg.baseAddress! + s * oStride
                                        if needX {
                                            convForwardSample(gs, pw.baseAddress! + s * wStride, pdx.baseAddress! + s * xStride,
                                                              g, tileRows: rows, col: pc.baseAddress, workers: workers)
                                        }
                                        if needW {
                                            convWeightGradSample(gs, px.baseAddress! + s * xStride, pdw.baseAddress! + s * wStride, g,
                                                                 accumulate: !perSample && s > 0, tileRows: rows, col: pc.baseAddress,
                                                                 columnCopies: copies)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return [needX ? Tensor(uncheckedShape: xv.shape, scalars: dx) : nil,
                    needW ? Tensor(uncheckedShape: wv.shape, scalars: dw) : nil]
        }
        return result
    }
}
