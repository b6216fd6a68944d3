import Foundation

extension Tensor {
    /// StyleGAN2's fused bias + leaky ReLU: `gain * lrelu(x + bias, slope)`, with `bias` of shape
    /// `(C)` added along dimension 1 (x is `(N,C)` or `(N,C,H,W)`). Defaults: slope 0.2, gain √2.
    ///
    /// With `mask`, the slope of element i is `gain` where `mask[i]` and `gain·slope` elsewhere,
    /// whatever the sign of `x + bias`: the activation pattern of another input (where its output
    /// was > 0), frozen, so the network is linear in its input along a finite-difference step
    /// (`GANTrainer.r1Gradients`).
    public func biasLeakyReLU(_ bias: Tensor?, slope: Float = 0.2, gain: Float = Float(2).squareRoot(), mask: [Bool]? = nil) throws -> Tensor {
        guard rank >= 2 else { throw TensorError.shape(op: "biasLeakyReLU", "expected (N,C,…), got \(shape)") }
        let c = shape[1], inner = shape[2...].reduce(1, *), outer = shape[0]
        if let bias, bias.shape != [c] {
            throw TensorError.shape(op: "biasLeakyReLU", "bias \(bias.shape) does not match channels of \(shape) (expected [\(c)])")
        }
        if let mask {
            guard mask.count == count else {
                throw TensorError.shape(op: "biasLeakyReLU", "mask of \(mask.count) elements for input \(shape)")
            }
            return try maskedBiasLeakyReLU(bias, c: c, inner: inner, gain: gain, neg: gain * slope, mask: mask)
        }
        var out = [Float](repeating: 0, count: count)
        let neg = gain * slope
        let bvals = bias?.scalars ?? [Float](repeating: 0, count: c)
        scalars.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                let x = px.baseAddress!, o = po.baseAddress!
                parallelFor(outer * c) { row in
                    let b = bvals[row % c], base = row * inner
                    for i in base..<(base + inner) {
                        let v = x[i] + b
                        o[i] = v > 0 ? gain * v : neg * v
                    }
                }
            }
        }
        var result = Tensor(uncheckedShape: shape, scalars: out)
        let yv = result.detached, inShape = shape
        let inputs = bias.map { [self, $0] } ?? [self]
        result.tapeRef = Tape.record(inputs: inputs, shape: shape) { g in
            // y > 0 exactly when x + b > 0 (gain > 0), so the output decides the slope.
            var dx = [Float](repeating: 0, count: g.count)
            var db = [Float](repeating: 0, count: c)
            g.scalars.withUnsafeBufferPointer { pg in
                yv.scalars.withUnsafeBufferPointer { py in
                    dx.withUnsafeMutableBufferPointer { pd in
                        for row in 0..<(outer * c) {
                            var s: Float = 0
                            for i in (row * inner)..<((row + 1) * inner) {
                                let d = pg[i] * (py[i] > 0 ? gain : neg)
                                pd[i] = d
                                s += d
                            }
                            db[row % c] += s
                        }
                    }
                }
            }
            let gx = Tensor(uncheckedShape: inShape, scalars: dx)
            return bias == nil ? [gx] : [gx, Tensor(uncheckedShape: [c], scalars: db)]
        }
        return result
    }

    /// `biasLeakyReLU` with the slopes taken from `mask` (validated by the caller).
    private func maskedBiasLeakyReLU(_ bias: Tensor?, c: Int, inner: Int, gain: Float, neg: Float, mask: [Bool]) throws -> Tensor {
        let bvals = bias?.scalars ?? [Float](repeating: 0, count: c)
        let x = scalars
        let out = (0..<count).map { i in (mask[i] ? gain : neg) * (x[i] + bvals[(i / inner) % c]) }
        var result = Tensor(uncheckedShape: shape, scalars: out)
        let inShape = shape
        let inputs = bias.map { [self, $0] } ?? [self]
        result.tapeRef = Tape.record(inputs: inputs, shape: shape) { g in
            let gs = g.scalars
            let dx = (0..<gs.count).map { gs[$0] * (mask[$0] ? gain : neg) }
            var db = [Float](repeating: 0, count: c)
            for (i, d) in dx.enumerated() { db[(i / inner) % c] += d }
            let gx = Tensor(uncheckedShape: inShape, scalars: dx)
            return bias == nil ? [gx] : [gx, Tensor(uncheckedShape: [c], scalars: db)]
        }
        return result
    }

    /// StyleGAN's pixel norm: `x * rsqrt(mean(x², dim 1) + eps)` over the channels of `(N,C,…)`.
    public func pixelNorm(eps: Float = 1e-8) throws -> Tensor {
        guard rank >= 2 else { throw TensorError.shape(op: "pixelNorm", "expected (N,C,…), got \(shape)") }
        let n = shape[0], c = shape[1], inner = shape[2...].reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        var rs = [Float](repeating: 0, count: n * inner)   // (N, inner): rsqrt per position
        scalars.withUnsafeBufferPointer { x in
            for b in 0..<n {
                for p in 0..<inner {
                    var s: Float = 0
                    for ch in 0..<c { let v = x[(b * c + ch) * inner + p]; s += v * v }
                    let r = 1 / (s / Float(c) + eps).squareRoot()
                    rs[b * inner + p] = r
                    for ch in 0..<c { let i = (b * c + ch) * inner + p; out[i] = x[i] * r }
                }
            }
        }
        var result = Tensor(uncheckedShape: shape, scalars: out)
        let xv = detached
        result.tapeRef = Tape.record(inputs: [self], shape: shape) { g in
            // dx_j = r g_j - x_j r³ (Σ_i g_i x_i) / C
            var dx = [Float](repeating: 0, count: xv.count)
            for b in 0..<n {
                for p in 0..<inner {
                    let r = rs[b * inner + p]
                    var dot: Float = 0
                    for ch in 0..<c { let i = (b * c + ch) * inner + p; dot += g.scalars[i] * xv.scalars[i] }
                    let k = r * r * r * dot / Float(c)
                    for ch in 0..<c { let i = (b * c + ch) * inner + p; dx[i] = r * g.scalars[i] - xv.scalars[i] * k }
                }
            }
            return [Tensor(uncheckedShape: xv.shape, scalars: dx)]
        }
        return result
    }

    /// Layer norm over the last dimension, then `* gamma + beta` (each of that dimension's size).
    public func layerNorm(gamma: Tensor? = nil, beta: Tensor? = nil, eps: Float = 1e-5) throws -> Tensor {
        guard let d = shape.last, d > 0 else { throw TensorError.shape(op: "layerNorm", "expected a non-empty last dimension, got \(shape)") }
        if let gamma, gamma.shape != [d] { throw TensorError.shape(op: "layerNorm", "gamma \(gamma.shape) does not match last dimension of \(shape)") }
        if let beta, beta.shape != [d] { throw TensorError.shape(op: "layerNorm", "beta \(beta.shape) does not match last dimension of \(shape)") }
        let rows = count / d
        var xhat = [Float](repeating: 0, count: count)
        var rstd = [Float](repeating: 0, count: rows)
        scalars.withUnsafeBufferPointer { x in
            for r in 0..<rows {
                var mean: Float = 0
                for j in 0..<d { mean += x[r * d + j] }
                mean /= Float(d)
                var v: Float = 0
                for j in 0..<d { let t = x[r * d + j] - mean; v += t * t }
                let s = 1 / (v / Float(d) + eps).squareRoot()
                rstd[r] = s
                for j in 0..<d { xhat[r * d + j] = (x[r * d + j] - mean) * s }
            }
        }
        let gv = gamma?.scalars, bv = beta?.scalars
        var out = xhat
        for r in 0..<rows {
            for j in 0..<d {
                var y = out[r * d + j]
                if let gv { y *= gv[j] }
                if let bv { y += bv[j] }
                out[r * d + j] = y
            }
        }
        var result = Tensor(uncheckedShape: shape, scalars: out)
        let inShape = shape
        var inputs = [self]
        if let gamma { inputs.append(gamma) }
        if let beta { inputs.append(beta) }
        result.tapeRef = Tape.record(inputs: inputs, shape: shape) { g in
            var dx = [Float](repeating: 0, count: g.count)
            var dg = [Float](repeating: 0, count: d), db = [Float](repeating: 0, count: d)
            for r in 0..<rows {
                var m1: Float = 0, m2: Float = 0
                for j in 0..<d {
                    let i = r * d + j
                    let dh = g.scalars[i] * (gv?[j] ?? 1)
                    m1 += dh
                    m2 += dh * xhat[i]
                    dg[j] += g.scalars[i] * xhat[i]
                    db[j] += g.scalars[i]
                }
                m1 /= Float(d); m2 /= Float(d)
                for j in 0..<d {
                    let i = r * d + j
                    let dh = g.scalars[i] * (gv?[j] ?? 1)
                    dx[i] = rstd[r] * (dh - m1 - xhat[i] * m2)
                }
            }
            var grads: [Tensor?] = [Tensor(uncheckedShape: inShape, scalars: dx)]
            if gv != nil { grads.append(Tensor(uncheckedShape: [d], scalars: dg)) }
            if bv != nil { grads.append(Tensor(uncheckedShape: [d], scalars: db)) }
            return grads
        }
        return result
    }

    /// Softmax over the last dimension (max-subtracted, so large logits do not overflow).
    public func softmax() throws -> Tensor {
        guard let d = shape.last, d > 0 else { throw TensorError.shape(op: "softmax", "expected a non-empty last dimension, got \(shape)") }
        let rows = count / d
        var out = [Float](repeating: 0, count: count)
        for r in 0..<rows {
            var m = -Float.infinity
            for j in 0..<d { m = Swift.max(m, scalars[r * d + j]) }
            var s: Float = 0
            for j in 0..<d { let e = Foundation.exp(scalars[r * d + j] - m); out[r * d + j] = e; s += e }
            for j in 0..<d { out[r * d + j] /= s }
        }
        var result = Tensor(uncheckedShape: shape, scalars: out)
        let yv = result.detached
        result.tapeRef = Tape.record(inputs: [self], shape: shape) { g in
            var dx = [Float](repeating: 0, count: g.count)
            for r in 0..<rows {
                var dot: Float = 0
                for j in 0..<d { dot += g.scalars[r * d + j] * yv.scalars[r * d + j] }
                for j in 0..<d { let i = r * d + j; dx[i] = yv.scalars[i] * (g.scalars[i] - dot) }
            }
            return [Tensor(uncheckedShape: yv.shape, scalars: dx)]
        }
        return result
    }

    /// Rows of `table (V,D)` picked by `indices`, giving `(indices.count, D)` (a text encoder's token embedding).
    public static func embedding(_ indices: [Int], table: Tensor) throws -> Tensor {
        guard table.rank == 2 else { throw TensorError.shape(op: "embedding", "table must be (V,D), got \(table.shape)") }
        let v = table.shape[0], d = table.shape[1]
        if let bad = indices.first(where: { $0 < 0 || $0 >= v }) {
            throw TensorError.shape(op: "embedding", "index \(bad) out of range for a table of \(v) rows")
        }
        var out = [Float](repeating: 0, count: indices.count * d)
        for (r, idx) in indices.enumerated() {
            for j in 0..<d { out[r * d + j] = table.scalars[idx * d + j] }
        }
        var result = Tensor(uncheckedShape: [indices.count, d], scalars: out)
        result.tapeRef = Tape.record(inputs: [table], shape: result.shape) { g in
            var dt = [Float](repeating: 0, count: v * d)
            for (r, idx) in indices.enumerated() {
                for j in 0..<d { dt[idx * d + j] += g.scalars[r * d + j] }
            }
            return [Tensor(uncheckedShape: [v, d], scalars: dt)]
        }
        return result
    }

    /// Mean squared error `mean((a - b)²)` as a rank-0 tensor; shapes must be equal.
    public static func mse(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.shape == b.shape else { throw TensorError.shape(op: "mse", "shapes differ: \(a.shape) vs \(b.shape)") }
        return try (a - b).squared().mean()
    }

    /// Cosine similarity along the last dimension: `a·b / (max(‖a‖,eps)·max(‖b‖,eps))`, shape
    /// without the last dimension.
    public static func cosineSimilarity(_ a: Tensor, _ b: Tensor, eps: Float = 1e-8) throws -> Tensor {
        guard a.shape == b.shape, let d = a.shape.last, d > 0 else {
            throw TensorError.shape(op: "cosineSimilarity", "expected equal shapes with a non-empty last dimension, got \(a.shape) and \(b.shape)")
        }
        let rows = a.count / d
        var out = [Float](repeating: 0, count: rows)
        var na = [Float](repeating: 0, count: rows), nb = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var dot: Float = 0, sa: Float = 0, sb: Float = 0
            for j in 0..<d {
                let x = a.scalars[r * d + j], y = b.scalars[r * d + j]
                dot += x * y; sa += x * x; sb += y * y
            }
            na[r] = Swift.max(sa.squareRoot(), eps)
            nb[r] = Swift.max(sb.squareRoot(), eps)
            out[r] = dot / (na[r] * nb[r])
        }
        let outShape = Array(a.shape.dropLast())
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        let av = a.detached, bv = b.detached
        result.tapeRef = Tape.record(inputs: [a, b], shape: outShape) { g in
            // dc/da = b/(‖a‖‖b‖) − c·a/‖a‖² (and symmetrically), with the eps-clamped norms.
            var da = [Float](repeating: 0, count: av.count), db = [Float](repeating: 0, count: bv.count)
            for r in 0..<rows {
                let c = out[r], gr = g.scalars[r]
                for j in 0..<d {
                    let i = r * d + j
                    da[i] = gr * (bv.scalars[i] / (na[r] * nb[r]) - c * av.scalars[i] / (na[r] * na[r]))
                    db[i] = gr * (av.scalars[i] / (na[r] * nb[r]) - c * bv.scalars[i] / (nb[r] * nb[r]))
                }
            }
            return [Tensor(uncheckedShape: av.shape, scalars: da), Tensor(uncheckedShape: bv.shape, scalars: db)]
        }
        return result
    }
}
