import Testing
@testable import TensorCore

/// Direct-loop Double references for the conv family, written from the definitions (PyTorch's
/// conv2d / conv_transpose2d, rosinality's upfirdn2d_native and ModulatedConv2d), independent of
/// the im2col code under test.
struct DArray {
    var shape: [Int]
    var v: [Double]
    init(_ shape: [Int]) { self.shape = shape; v = [Double](repeating: 0, count: shape.reduce(1, *)) }
    init(_ t: Tensor) { shape = t.shape; v = t.scalars.map(Double.init) }
    func idx(_ i: [Int]) -> Int { var f = 0; for (a, d) in zip(i, shape) { f = f * d + a }; return f }
    subscript(_ i: Int...) -> Double {
        get { v[idx(i)] }
        set { v[idx(i)] = newValue }
    }
}

func refConv2d(_ x: DArray, _ w: DArray, bias: DArray?, stride: Int, pad: Int) -> DArray {
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
    let ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1
    var y = DArray([n, cout, ho, wo])
    for b in 0..<n { for co in 0..<cout { for oy in 0..<ho { for ox in 0..<wo {
        var s = bias?[co] ?? 0
        for ci in 0..<cin { for ky in 0..<kh { for kx in 0..<kw {
            let iy = oy * stride + ky - pad, ix = ox * stride + kx - pad
            if iy >= 0 && iy < h && ix >= 0 && ix < wd { s += x[b, ci, iy, ix] * w[co, ci, ky, kx] }
        } } }
        y[b, co, oy, ox] = s
    } } } }
    return y
}

/// Transposed conv by scattering each input sample through the weight `(Cin,Cout,kh,kw)`.
func refConvTranspose2d(_ x: DArray, _ w: DArray, stride: Int, pad: Int) -> DArray {
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, kh, kw) = (w.shape[1], w.shape[2], w.shape[3])
    let ho = (h - 1) * stride - 2 * pad + kh, wo = (wd - 1) * stride - 2 * pad + kw
    var y = DArray([n, cout, ho, wo])
    for b in 0..<n { for ci in 0..<cin { for iy in 0..<h { for ix in 0..<wd {
        for co in 0..<cout { for ky in 0..<kh { for kx in 0..<kw {
            let oy = iy * stride + ky - pad, ox = ix * stride + kx - pad
            if oy >= 0 && oy < ho && ox >= 0 && ox < wo { y[b, co, oy, ox] += x[b, ci, iy, ix] * w[ci, co, ky, kx] }
        } } }
    } } } }
    return y
}

/// rosinality's upfirdn2d_native step by step: zero-insert, pad/crop, correlate with the flipped
/// kernel, subsample.
func refUpfirdn2d(_ x: DArray, _ k: DArray, up: Int, down: Int, pad: (Int, Int, Int, Int)) -> DArray {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (kh, kw) = (k.shape[0], k.shape[1])
    let (x0, x1, y0, y1) = pad
    var result: [[Double]] = []
    var oh = 0, ow = 0
    for plane in 0..<(n * c) {
        let uh = h * up, uw = w * up
        var u = [[Double]](repeating: [Double](repeating: 0, count: uw), count: uh)
        for i in 0..<h { for j in 0..<w { u[i * up][j * up] = x.v[plane * h * w + i * w + j] } }
        // Pad with zeros by the positive parts, then crop by the negative parts.
        let ph = uh + max(y0, 0) + max(y1, 0), pw = uw + max(x0, 0) + max(x1, 0)
        var p = [[Double]](repeating: [Double](repeating: 0, count: pw), count: ph)
        for i in 0..<uh { for j in 0..<uw { p[i + max(y0, 0)][j + max(x0, 0)] = u[i][j] } }
        p = Array(p[max(-y0, 0)..<(ph - max(-y1, 0))]).map { Array($0[max(-x0, 0)..<(pw - max(-x1, 0))]) }
        let ch = p.count - kh + 1, cw = p[0].count - kw + 1
        var conv = [[Double]](repeating: [Double](repeating: 0, count: cw), count: ch)
        for i in 0..<ch { for j in 0..<cw {
            var s = 0.0
            for a in 0..<kh { for b in 0..<kw { s += p[i + a][j + b] * k[kh - 1 - a, kw - 1 - b] } }
            conv[i][j] = s
        } }
        let rows = stride(from: 0, to: ch, by: down).map { conv[$0] }
        let sub = rows.map { r in stride(from: 0, to: cw, by: down).map { r[$0] } }
        oh = sub.count; ow = sub[0].count
        result.append(sub.flatMap { $0 })
    }
    var y = DArray([n, c, oh, ow])
    y.v = result.flatMap { $0 }
    return y
}

/// Per-sample modulated weights `(N,Cout,Cin,k,k)` as in rosinality's ModulatedConv2d.
func refModulatedWeights(_ w: DArray, _ style: DArray, demodulate: Bool) -> DArray {
    let (cout, cin, k) = (w.shape[0], w.shape[1], w.shape[2])
    let n = style.shape[0]
    let scale = 1 / Double(cin * k * k).squareRoot()
    var out = DArray([n, cout, cin, k, k])
    for b in 0..<n { for co in 0..<cout {
        var sum = 0.0
        for ci in 0..<cin { for i in 0..<k { for j in 0..<k {
            let u = scale * w[co, ci, i, j] * style[b, ci]
            out[b, co, ci, i, j] = u
            sum += u * u
        } } }
        let d = demodulate ? 1 / (sum + 1e-8).squareRoot() : 1
        for ci in 0..<cin { for i in 0..<k { for j in 0..<k { out[b, co, ci, i, j] *= d } } }
    } }
    return out
}

/// rosinality's ModulatedConv2d forward (grouped conv with per-sample weights) in Double.
func refModulatedConv2d(_ x: DArray, _ w: DArray, _ style: DArray, demodulate: Bool, upsample: Bool) -> DArray {
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, k) = (w.shape[0], w.shape[2])
    let ws = refModulatedWeights(w, style, demodulate: demodulate)
    var outs: [DArray] = []
    for b in 0..<n {
        var xb = DArray([1, cin, h, wd])
        xb.v = Array(x.v[(b * cin * h * wd)..<((b + 1) * cin * h * wd)])
        var wb = DArray([cout, cin, k, k])
        wb.v = Array(ws.v[(b * wb.v.count)..<((b + 1) * wb.v.count)])
        if upsample {
            // conv_transpose2d takes (Cin,Cout,k,k): swap in/out, no flip.
            var wt = DArray([cin, cout, k, k])
            for co in 0..<cout { for ci in 0..<cin { for i in 0..<k { for j in 0..<k { wt[ci, co, i, j] = wb[co, ci, i, j] } } } }
            let t = refConvTranspose2d(xb, wt, stride: 2, pad: 0)
            var blur = DArray([4, 4])
            let taps = [1.0, 3, 3, 1]
            for i in 0..<4 { for j in 0..<4 { blur[i, j] = taps[i] * taps[j] / 64 * 4 } }
            let p = 2 - (k - 1)
            let pad0 = Int((Double(p + 1) / 2).rounded(.down)) + 1, pad1 = Int((Double(p) / 2).rounded(.down)) + 1
            outs.append(refUpfirdn2d(t, blur, up: 1, down: 1, pad: (pad0, pad1, pad0, pad1)))
        } else {
            outs.append(refConv2d(xb, wb, bias: nil, stride: 1, pad: k / 2))
        }
    }
    var y = DArray([n] + outs[0].shape.dropFirst())
    y.v = outs.flatMap { $0.v }
    return y
}

/// Expects `t` to match the reference within `tol` relative to the reference's largest magnitude.
func expectClose(_ t: Tensor, _ ref: DArray, tol: Double = 1e-5, _ what: String = "",
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(t.shape == ref.shape, "\(what): shape \(t.shape) vs reference \(ref.shape)", sourceLocation: sourceLocation)
    guard t.shape == ref.shape else { return }
    let scale = max(1, ref.v.map { Swift.abs($0) }.max() ?? 0)
    var worst = 0.0
    for (a, b) in zip(t.scalars, ref.v) { worst = max(worst, Swift.abs(Double(a) - b)) }
    #expect(worst <= tol * scale, "\(what): max |error| \(worst) > \(tol * scale)", sourceLocation: sourceLocation)
}
