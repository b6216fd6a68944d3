import Foundation

/// StyleGAN2's modulated convolution (rosinality's `ModulatedConv2d`) and noise injection.
///
/// Two forms of the same function, picked per call by which touches less memory (the conv's GEMM
/// is the same size in both):
/// - per-sample weights: the style is folded into one weight per sample (`w = W/√(Cin·k²) · s`,
///   demodulated), then one tiled im2col + sgemm conv per sample. Costs a `Cout·Cin·k²` weight
///   write per sample; best from 64 px on, where activations outweigh the weights.
/// - scaled activations: `x · s`, one shared conv, output · demodulation (from `Σ_k W²`, read once).
///   Costs two passes over activations; best at 4–32 px with 512 channels, where a per-sample
///   weight (9 MiB) costs as much as the conv itself, and wherever the shared 3×3 conv runs as
///   Winograd F(4×4, 3×3) (a quarter of the multiplies). Used only without upsampling.

/// Floor division (Python's `//`), for rosinality's padding formulas.
@inline(__always) func floorDiv(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

extension Tensor {
    /// rosinality's `ModulatedConv2d.forward`: `x (N,Cin,H,W)`, `weight (1,Cout,Cin,k,k)` or
    /// `(Cout,Cin,k,k)`, `style (N,Cin)` (the modulation's output) → `(N,Cout,H,W)`, or with
    /// `upsample` a stride-2 transposed conv followed by the `blurKernel` blur → `(N,Cout,2H,2W)`.
    public static func modulatedConv2d(_ x: Tensor, weight: Tensor, style: Tensor, demodulate: Bool = true,
                                       upsample: Bool = false, blurKernel: [Float] = [1, 3, 3, 1]) throws -> Tensor {
        try modulatedConv2d(x, weight: weight, style: style, demodulate: demodulate, upsample: upsample,
                            blurKernel: blurKernel, forceScaledActivations: nil)
    }

    /// `modulatedConv2d` with the form forced (tests check both): scaled activations when true,
    /// per-sample weights when false, by cost when nil.
    static func modulatedConv2d(_ x: Tensor, weight: Tensor, style: Tensor, demodulate: Bool, upsample: Bool,
                                blurKernel: [Float], forceScaledActivations: Bool?) throws -> Tensor {
        let op = "modulatedConv2d"
        guard x.rank == 4, x.shape[1...].allSatisfy({ $0 > 0 }) else {
            throw TensorError.shape(op: op, "input must be (N,Cin,H,W) with positive C, H, W; got \(x.shape)")
        }
        var w = weight
        if weight.rank == 5 {
            guard weight.shape[0] == 1 else {
                throw TensorError.shape(op: op, "a 5-D weight must be (1,Cout,Cin,k,k), got \(weight.shape)")
            }
            w = try weight.reshaped(Array(weight.shape.dropFirst()))
        }
        guard w.rank == 4, w.shape.allSatisfy({ $0 > 0 }), w.shape[2] == w.shape[3] else {
            throw TensorError.shape(op: op, "weight must be (Cout,Cin,k,k) or (1,Cout,Cin,k,k) with a square kernel, got \(weight.shape)")
        }
        let (n, cin) = (x.shape[0], x.shape[1])
        let (cout, k) = (w.shape[0], w.shape[2])
        guard w.shape[1] == cin else {
            throw TensorError.shape(op: op, "weight \(weight.shape) expects \(w.shape[1]) input channels but input \(x.shape) has \(cin)")
        }
        guard style.shape == [n, cin] else {
            throw TensorError.shape(op: op, "style must be (N,Cin) = [\(n), \(cin)] for input \(x.shape), got \(style.shape)")
        }
        try checkConvParameter(k, "kernel size", op: op, min: 1)
        if !upsample {
            let g = try convGeometry(input: x.shape, cout: cout, kh: k, kw: k, stride: 1, padding: k / 2, op: op)
            // Memory touched besides the conv: n per-sample weights vs. 2 passes over input and output.
            // The shared-weight conv may run as Winograd F(4×4, 3×3), which beats both.
            let scaleActivations = forceScaledActivations
                ?? (WinogradPlan.applies(g, batch: n) || 2 * (g.cin * g.inPlane + g.cout * g.outPlane) < g.cout * g.k)
            if scaleActivations {
                let f = style.scaled(1 / Float(g.k).squareRoot())                       // (N, Cin)
                let xs = try x * f.reshaped([n, cin, 1, 1])
                let y = try convGeneral(xs, weight: w, perSample: false, bias: nil, g, maxTileRows: nil)
                guard demodulate else { return y }
                // Σ_{ci,k} (W·f)² = (f²) · (Σ_k W²)ᵀ per (n, co).
                let energy = try Tensor.matmul(f.squared(), try kernelSquareSums(w), transposeB: true).adding(1e-8)
                return try y * (Tensor(1) / energy.sqrt()).reshaped([n, cout, 1, 1])
            }
            let perSample = try modulatedWeights(w, style: style, demodulate: demodulate, transposed: false)
            return try convGeneral(x, weight: perSample, perSample: true, bias: nil, g, maxTileRows: nil)
        }
        let blur = try blurKernel2d(blurKernel, factor: 2, op: op)
        let perSample = try modulatedWeights(w, style: style, demodulate: demodulate, transposed: true)
        let y = try convTransposeGeneral(x, weight: perSample, perSample: true, cout: cout, kh: k, kw: k,
                                         stride: 2, padding: 0, maxTileRows: nil, op: op)
        // rosinality: p = (len(blur) − factor) − (k − 1); pad = ((p+1)//2 + factor − 1, p//2 + 1).
        let p = (blurKernel.count - 2) - (k - 1)
        let pad0 = floorDiv(p + 1, 2) + 1, pad1 = floorDiv(p, 2) + 1
        return try y.upfirdn2d(kernel: blur, pad: (pad0, pad1, pad0, pad1))
    }

    /// rosinality's `make_kernel(k) * factor²`: a 1-D kernel becomes `outer(k,k)`, normalized to sum 1.
    public static func blurKernel2d(_ taps: [Float], factor: Int = 1, op: String = "blurKernel2d") throws -> Tensor {
        let sum = taps.reduce(0, +)
        guard !taps.isEmpty, taps.count <= upfirdnLimit, sum.isFinite, sum != 0 else {
            throw TensorError.invalid("\(op): blur kernel \(taps) must be non-empty with a finite, nonzero sum")
        }
        let scale = Float(factor * factor) / (sum * sum)
        var k = [Float](repeating: 0, count: taps.count * taps.count)
        for i in taps.indices { for j in taps.indices { k[i * taps.count + j] = taps[i] * taps[j] * scale } }
        return Tensor(uncheckedShape: [taps.count, taps.count], scalars: k)
    }

    /// `Σ_{kh,kw} W²` of `weight (Cout,Cin,kh,kw)` → `(Cout,Cin)`, read once without a squared copy.
    static func kernelSquareSums(_ weight: Tensor) throws -> Tensor {
        let (cout, cin) = (weight.shape[0], weight.shape[1])
        let kk = weight.shape[2] * weight.shape[3]
        var out = [Float](repeating: 0, count: cout * cin)
        weight.scalars.withUnsafeBufferPointer { pw in
            out.withUnsafeMutableBufferPointer { po in
                let wp = pw.baseAddress!, op = po.baseAddress!
                parallelChunks(cout * cin, grain: Swift.max(1, 16384 / kk)) { range in
                    for r in range {
                        var s: Float = 0
                        for t in 0..<kk { let v = wp[r * kk + t]; s += v * v }
                        op[r] = s
                    }
                }
            }
        }
        var result = Tensor(uncheckedShape: [cout, cin], scalars: out)
        let wv = weight.detached
        result.tapeRef = Tape.record(inputs: [weight], shape: [cout, cin]) { g in
            var dw = [Float](repeating: 0, count: wv.count)
            for r in 0..<(cout * cin) {
                let gr = 2 * g.scalars[r]
                for t in 0..<kk { dw[r * kk + t] = gr * wv.scalars[r * kk + t] }
            }
            return [Tensor(uncheckedShape: wv.shape, scalars: dw)]
        }
        return result
    }

    /// Per-sample modulated (and optionally demodulated) weights from `weight (Cout,Cin,kh,kw)` and
    /// `style (N,Cin)`: `(N,Cout,Cin,kh,kw)`, or `(N,Cin,Cout,kh,kw)` when `transposed` (the layout of a
    /// transposed conv's weight). Differentiable in both inputs.
    static func modulatedWeights(_ weight: Tensor, style: Tensor, demodulate: Bool, transposed: Bool) throws -> Tensor {
        let (cout, cin, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let n = style.shape[0]
        let kk = kh * kw, rowLen = cin * kk
        let scale = 1 / Float(rowLen).squareRoot()
        let outShape = transposed ? [n, cin, cout, kh, kw] : [n, cout, cin, kh, kw]
        _ = try Tensor.elementCount(outShape)
        // factors (N, Cin·kh·kw): scale·s[n, ci] repeated over the kernel taps, so the loops below
        // run over contiguous rows.
        var factors = [Float](repeating: 0, count: n * rowLen)
        for b in 0..<n { for ci in 0..<cin { for t in 0..<kk { factors[b * rowLen + ci * kk + t] = scale * style.scalars[b * cin + ci] } } }
        var demod = [Float](repeating: 1, count: n * cout)     // (N, Cout)
        let out = [Float](unsafeUninitializedCapacity: n * cout * rowLen) { po, initialized in
            weight.scalars.withUnsafeBufferPointer { pw in
                factors.withUnsafeBufferPointer { pf in
                    demod.withUnsafeMutableBufferPointer { pd in
                        let wp = pw.baseAddress!, fp = pf.baseAddress!, op = po.baseAddress!, dp = pd.baseAddress!
                        parallelChunks(n * cout, grain: Swift.max(1, 8192 / rowLen)) { range in
                            for r in range {
                                let (b, co) = (r / cout, r % cout)
                                let wrow = wp + co * rowLen, f = fp + b * rowLen
                                let d: Float = demodulate ? 1 / (dotProduct(wrow, f, wrow, f, rowLen) + 1e-8).squareRoot() : 1
                                dp[r] = d
                                if transposed {
                                    for ci in 0..<cin {
                                        let dst = op + ((b * cin + ci) * cout + co) * kk
                                        for t in 0..<kk { dst[t] = wrow[ci * kk + t] * f[ci * kk + t] * d }
                                    }
                                } else {
                                    let dst = op + r * rowLen
                                    for j in 0..<rowLen { dst[j] = wrow[j] * f[j] * d }
                                }
                            }
                        }
                    }
                }
            }
            initialized = n * cout * rowLen
        }
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        let wv = weight.detached, sv = style.detached, demodValues = demod, factorsCopy = factors
        result.tapeRef = Tape.record(inputs: [weight, style], shape: outShape) { g in
            // w = u·d with u = W·scale·s, d = (Σu² + ε)^(-1/2) per (n, co):
            // du = d·dw − d³·(Σ dw·u)·u;  dW = Σ_n du·scale·s;  ds = Σ_{co,k} du·W·scale.
            var du = [Float](repeating: 0, count: n * cout * rowLen)   // (N, Cout, Cin·kh·kw)
            var dW = [Float](repeating: 0, count: cout * rowLen)
            var ds = [Float](repeating: 0, count: n * cin)
            g.scalars.withUnsafeBufferPointer { pg in
                wv.scalars.withUnsafeBufferPointer { pw in
                    sv.scalars.withUnsafeBufferPointer { ps in
                        du.withUnsafeMutableBufferPointer { pdu in
                          factorsCopy.withUnsafeBufferPointer { pfac in
                            let factorsValues = pfac.baseAddress!
                            let gp = pg.baseAddress!, wp = pw.baseAddress!, sp = ps.baseAddress!, dup = pdu.baseAddress!
                            parallelChunks(n * cout, grain: Swift.max(1, 8192 / rowLen)) { range in
                                for r in range {
                                    let (b, co) = (r / cout, r % cout)
                                    let wrow = wp + co * rowLen, s = sp + b * cin, dst = dup + r * rowLen
                                    for ci in 0..<cin {
                                        let src = transposed ? gp + ((b * cin + ci) * cout + co) * kk : gp + r * rowLen + ci * kk
                                        for t in 0..<kk { dst[ci * kk + t] = src[t] }
                                    }
                                    guard demodulate else { continue }
                                    let d = demodValues[r]
                                    let dot = dotProduct(dst, wrow, factorsValues + b * rowLen, nil, rowLen)
                                    let c3 = d * d * d * dot
                                    for ci in 0..<cin {
                                        let f = scale * s[ci]
                                        for t in 0..<kk { let j = ci * kk + t; dst[j] = d * dst[j] - c3 * wrow[j] * f }
                                    }
                                }
                            }
                            dW.withUnsafeMutableBufferPointer { pdW in
                                let dWp = pdW.baseAddress!
                                parallelChunks(cout, grain: Swift.max(1, 8192 / (rowLen * Swift.max(n, 1)))) { range in
                                    for co in range {
                                        for b in 0..<n {
                                            let src = dup + (b * cout + co) * rowLen, s = sp + b * cin
                                            for ci in 0..<cin {
                                                let f = scale * s[ci]
                                                for t in 0..<kk { dWp[co * rowLen + ci * kk + t] += src[ci * kk + t] * f }
                                            }
                                        }
                                    }
                                }
                            }
                            ds.withUnsafeMutableBufferPointer { pds in
                                let dsp = pds.baseAddress!
                                parallelFor(n) { b in
                                    for co in 0..<cout {
                                        let src = dup + (b * cout + co) * rowLen, wrow = wp + co * rowLen
                                        for ci in 0..<cin {
                                            var acc: Float = 0
                                            for t in 0..<kk { acc += src[ci * kk + t] * wrow[ci * kk + t] }
                                            dsp[b * cin + ci] += acc * scale
                                        }
                                    }
                                }
                            }
                          }
                        }
                    }
                }
            }
            return [Tensor(uncheckedShape: wv.shape, scalars: dW), Tensor(uncheckedShape: sv.shape, scalars: ds)]
        }
        return result
    }

    /// StyleGAN2's `NoiseInjection`: `x + strength · noise` for `x (N,C,H,W)`, `noise (1,1,H,W)` or
    /// `(N,1,H,W)` (shared over channels), and a one-element `strength`. Differentiable in all three.
    public static func noiseInjection(_ x: Tensor, noise: Tensor, strength: Tensor) throws -> Tensor {
        let op = "noiseInjection"
        guard x.rank == 4 else { throw TensorError.shape(op: op, "input must be (N,C,H,W), got \(x.shape)") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        guard noise.rank == 4, noise.shape[0] == 1 || noise.shape[0] == n, noise.shape[1] == 1,
              noise.shape[2] == h, noise.shape[3] == w else {
            throw TensorError.shape(op: op, "noise must be (1,1,\(h),\(w)) or (\(n),1,\(h),\(w)) for input \(x.shape), got \(noise.shape)")
        }
        guard strength.count == 1 else {
            throw TensorError.shape(op: op, "strength must have one element, got shape \(strength.shape)")
        }
        let plane = h * w
        let perSample = noise.shape[0] == n && n > 1
        let s = strength.scalars[0]
        var out = x.scalars
        out.withUnsafeMutableBufferPointer { po in
            noise.scalars.withUnsafeBufferPointer { pn in
                let o = po.baseAddress!, z = pn.baseAddress!
                parallelChunks(n * c, grain: Swift.max(1, 16384 / Swift.max(plane, 1))) { range in
                    for r in range {
                        let src = z + (perSample ? r / c : 0) * plane, dst = o + r * plane
                        for i in 0..<plane { dst[i] += s * src[i] }
                    }
                }
            }
        }
        var result = Tensor(uncheckedShape: x.shape, scalars: out)
        let nv = noise.detached, strengthShape = strength.shape, noiseShape = noise.shape
        result.tapeRef = Tape.record(inputs: [x, noise, strength], shape: x.shape) { g in
            // dnoise = strength · Σ_c g (and over the batch when shared); dstrength = Σ g · noise.
            var dn = [Float](repeating: 0, count: nv.count)
            var ds = 0.0
            g.scalars.withUnsafeBufferPointer { pg in
                nv.scalars.withUnsafeBufferPointer { pn in
                    for r in 0..<(n * c) {
                        let src = pg.baseAddress! + r * plane
                        let zoff = (perSample ? r / c : 0) * plane
                        var acc: Float = 0
                        for i in 0..<plane {
                            dn[zoff + i] += s * src[i]
                            acc += src[i] * pn[zoff + i]
                        }
                        ds += Double(acc)
                    }
                }
            }
            return [g.detached, Tensor(uncheckedShape: noiseShape, scalars: dn),
                    Tensor(uncheckedShape: strengthShape, scalars: [Float(ds)])]
        }
        return result
    }
}

/// `Σ a·b·c·d` over `n` elements (`d` optional), with eight independent SIMD lanes so the
/// reduction is not one long dependency chain.
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>?, _ n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    let (ra, rb, rc) = (UnsafeRawPointer(a), UnsafeRawPointer(b), UnsafeRawPointer(c))
    let stride = MemoryLayout<Float>.stride
    if let d {
        let rd = UnsafeRawPointer(d)
        while i + 8 <= n {
            let o = i * stride
            acc += ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                * rc.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * rd.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            i += 8
        }
    } else {
        while i + 8 <= n {
            let o = i * stride
            acc += ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                * rc.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            i += 8
        }
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i] * c[i] * (d?[i] ?? 1); i += 1 }
    return s
}
