/// Elementwise arithmetic with NumPy broadcasting (shapes aligned at the right; a dimension of 1
/// stretches), and unary maps. Each op records its gradient rule next to its forward pass.

/// Output shape of broadcasting `a` with `b`, or a shape error naming the op.
func broadcastShape(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
    let r = max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        guard da == db || da == 1 || db == 1 else {
            throw TensorError.shape(op: op, "shapes \(a) and \(b) do not broadcast (dimension \(i): \(da) vs \(db))")
        }
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Strides of `shape` seen from a broadcast output of rank `rank` (0 where the dim stretches).
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    let r = out.count
    var strides = [Int](repeating: 0, count: r)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let oi = i + (r - shape.count)
        strides[oi] = shape[i] == 1 && out[oi] != 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

/// Visits the output of a broadcast row by row (all dimensions but the last), passing the base
/// offsets of each operand, the row length and each operand's stride along the last dimension.
func forEachBroadcastRow(_ out: [Int], _ sa: [Int], _ sb: [Int],
                         _ body: (_ o: Int, _ a: Int, _ b: Int, _ n: Int, _ ia: Int, _ ib: Int) -> Void) {
    guard let n = out.last else { body(0, 0, 0, 1, 0, 0); return }
    let rows = out.dropLast().reduce(1, *)
    if rows == 0 || n == 0 { return }
    let r = out.count
    var idx = [Int](repeating: 0, count: r - 1)
    var oa = 0, ob = 0
    for row in 0..<rows {
        body(row * n, oa, ob, n, sa[r - 1], sb[r - 1])
        var d = r - 2
        while d >= 0 {
            idx[d] += 1
            oa += sa[d]; ob += sb[d]
            if idx[d] < out[d] { break }
            oa -= sa[d] * out[d]; ob -= sb[d] * out[d]
            idx[d] = 0
            d -= 1
        }
    }
}

extension Tensor {
    /// Sums `self` (a broadcast result) down to `shape` — the gradient rule of broadcasting.
    public func sumToShape(_ target: [Int]) throws -> Tensor {
        if target == shape { return self.detached }
        _ = try broadcastShape(target, shape, op: "sumToShape")
        let strides = broadcastStrides(target, to: shape)
        var out = [Float](repeating: 0, count: target.reduce(1, *))
        let zero = [Int](repeating: 0, count: shape.count)
        scalars.withUnsafeBufferPointer { g in
            out.withUnsafeMutableBufferPointer { o in
                forEachBroadcastRow(shape, strides, zero) { go, ao, _, n, ia, _ in
                    if ia == 0 {
                        var s: Float = 0
                        for j in 0..<n { s += g[go + j] }
                        o[ao] += s
                    } else {
                        for j in 0..<n { o[ao + j * ia] += g[go + j] }
                    }
                }
            }
        }
        return Tensor(uncheckedShape: target, scalars: out)
    }

    /// `self` broadcast (copied) to `target`.
    public func broadcast(to target: [Int]) throws -> Tensor {
        if target == shape { return self }
        let out = try broadcastShape(shape, target, op: "broadcast")
        guard out == target else { throw TensorError.shape(op: "broadcast", "cannot broadcast \(shape) to \(target)") }
        var o = [Float](repeating: 0, count: target.reduce(1, *))
        let strides = broadcastStrides(shape, to: target)
        let zero = [Int](repeating: 0, count: target.count)
        scalars.withUnsafeBufferPointer { x in
            o.withUnsafeMutableBufferPointer { po in
                forEachBroadcastRow(target, strides, zero) { oo, xo, _, n, ix, _ in
                    for j in 0..<n { po[oo + j] = x[xo + j * ix] }
                }
            }
        }
        var result = Tensor(uncheckedShape: target, scalars: o)
        let inShape = shape
        result.tapeRef = Tape.record(inputs: [self], shape: target) { g in [try g.sumToShape(inShape)] }
        return result
    }
}

/// When `b` equals `out` in its leading dimensions and is 1 in all the rest, the number of
/// elements of `out` each of `b`'s values covers; else nil.
func rowBroadcastInner(_ b: [Int], _ out: [Int]) -> Int? {
    guard b.count == out.count, let last = b.lastIndex(where: { $0 != 1 }) else { return nil }
    guard b[...last] == out[...last] else { return nil }
    let inner = out[(last + 1)...].reduce(1, *)
    return inner > 0 ? inner : nil
}

/// A broadcasting binary op with its gradient rule. `pullback(g, a, b)` returns gradients shaped
/// like the broadcast output; they are summed down to each input's shape here.
@inline(__always)
func binary(_ a: Tensor, _ b: Tensor, op: String, _ f: @escaping (Float, Float) -> Float,
            pullback: @escaping (Tensor, Tensor, Tensor) throws -> (Tensor?, Tensor?)) throws -> Tensor {
    let outShape = try broadcastShape(a.shape, b.shape, op: op)
    let n = outShape.reduce(1, *)
    var out = [Float](repeating: 0, count: n)
    out.withUnsafeMutableBufferPointer { o in
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                let po = o.baseAddress!, xa = pa.baseAddress!, xb = pb.baseAddress!
                if a.shape == outShape && b.shape == outShape {
                    parallelChunks(n) { r in for i in r { po[i] = f(xa[i], xb[i]) } }
                } else if b.count == 1 {
                    let s = xb[0]
                    parallelChunks(n) { r in for i in r { po[i] = f(xa[i], s) } }
                } else if a.count == 1 && b.shape == outShape {
                    let s = xa[0]
                    parallelChunks(n) { r in for i in r { po[i] = f(s, xb[i]) } }
                } else if a.shape == outShape, let inner = rowBroadcastInner(b.shape, outShape) {
                    // b holds one value per row of `inner` elements (e.g. (N,C,1,1) against (N,C,H,W)).
                    parallelChunks(n / inner, grain: Swift.max(1, 16384 / inner)) { r in
                        for row in r {
                            let s = xb[row], base = row * inner
                            for j in 0..<inner { po[base + j] = f(xa[base + j], s) }
                        }
                    }
                } else {
                    let sa = broadcastStrides(a.shape, to: outShape), sb = broadcastStrides(b.shape, to: outShape)
                    forEachBroadcastRow(outShape, sa, sb) { oo, ao, bo, len, ia, ib in
                        for j in 0..<len { po[oo + j] = f(xa[ao + j * ia], xb[bo + j * ib]) }
                    }
                }
            }
        }
    }
    var result = Tensor(uncheckedShape: outShape, scalars: out)
    let av = a.detached, bv = b.detached
    result.tapeRef = Tape.record(inputs: [a, b], shape: outShape) { g in
        let (ga, gb) = try pullback(g, av, bv)
        return [try ga?.sumToShape(av.shape), try gb?.sumToShape(bv.shape)]
    }
    return result
}

/// An elementwise unary op. `derivative(x, y)` is dy/dx given input and output.
@inline(__always)
func unary(_ x: Tensor, _ f: @escaping (Float) -> Float, derivative: @escaping (Float, Float) -> Float) -> Tensor {
    let n = x.count
    var out = [Float](repeating: 0, count: n)
    out.withUnsafeMutableBufferPointer { o in
        x.scalars.withUnsafeBufferPointer { px in
            let po = o.baseAddress!, xi = px.baseAddress!
            parallelChunks(n, grain: 1 << 14) { r in for i in r { po[i] = f(xi[i]) } }
        }
    }
    var result = Tensor(uncheckedShape: x.shape, scalars: out)
    let xv = x.detached, yv = result.detached
    result.tapeRef = Tape.record(inputs: [x], shape: x.shape) { g in
        var d = [Float](repeating: 0, count: n)
        d.withUnsafeMutableBufferPointer { pd in
            g.scalars.withUnsafeBufferPointer { pg in
                xv.scalars.withUnsafeBufferPointer { px in
                    yv.scalars.withUnsafeBufferPointer { py in
                        let od = pd.baseAddress!, gg = pg.baseAddress!, xx = px.baseAddress!, yy = py.baseAddress!
                        parallelChunks(n, grain: 1 << 14) { r in
                            for i in r { od[i] = gg[i] * derivative(xx[i], yy[i]) }
                        }
                    }
                }
            }
        }
        return [Tensor(uncheckedShape: xv.shape, scalars: d)]
    }
    return result
}

extension Tensor {
    public static func + (a: Tensor, b: Tensor) throws -> Tensor {
        try binary(a, b, op: "add", { $0 + $1 }) { g, _, _ in (g, g) }
    }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor {
        try binary(a, b, op: "sub", { $0 - $1 }) { g, _, _ in (g, g.scaled(-1)) }
    }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor {
        try binary(a, b, op: "mul", { $0 * $1 }) { g, a, b in
            (try g * b.broadcast(to: g.shape), try g * a.broadcast(to: g.shape))
        }
    }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor {
        try binary(a, b, op: "div", { $0 / $1 }) { g, a, b in
            let bb = try b.broadcast(to: g.shape), ab = try a.broadcast(to: g.shape)
            return (try g / bb, try (g * ab / (bb * bb)).scaled(-1))
        }
    }
    public static prefix func - (x: Tensor) -> Tensor { x.scaled(-1) }

    /// `self * s` for a constant `s`.
    public func scaled(_ s: Float) -> Tensor { unary(self, { $0 * s }, derivative: { _, _ in s }) }
    /// `self + s` for a constant `s`.
    public func adding(_ s: Float) -> Tensor { unary(self, { $0 + s }, derivative: { _, _ in 1 }) }

    public func exp() -> Tensor { unary(self, { Foundation.exp($0) }, derivative: { _, y in y }) }
    public func log() -> Tensor { unary(self, { Foundation.log($0) }, derivative: { x, _ in 1 / x }) }
    public func sqrt() -> Tensor { unary(self, { $0.squareRoot() }, derivative: { _, y in 0.5 / y }) }
    public func squared() -> Tensor { unary(self, { $0 * $0 }, derivative: { x, _ in 2 * x }) }
    public func abs() -> Tensor { unary(self, { Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }) }
    public func tanh() -> Tensor { unary(self, { Foundation.tanh($0) }, derivative: { _, y in 1 - y * y }) }
    public func sigmoid() -> Tensor {
        unary(self, { 1 / (1 + Foundation.exp(-$0)) }, derivative: { _, y in y * (1 - y) })
    }
    public func relu() -> Tensor { unary(self, { max($0, 0) }, derivative: { x, _ in x > 0 ? 1 : 0 }) }
    /// `softplus(x) = log(1 + e^x)`, computed stably (used by the non-saturating GAN loss).
    public func softplus() -> Tensor {
        unary(self, { x in max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x))) },
              derivative: { x, _ in 1 / (1 + Foundation.exp(-x)) })
    }
    /// Leaky ReLU times `gain`: `gain * (x > 0 ? x : slope * x)`.
    public func leakyReLU(slope: Float = 0.2, gain: Float = 1) -> Tensor {
        unary(self, { $0 > 0 ? gain * $0 : gain * slope * $0 }, derivative: { x, _ in x > 0 ? gain : gain * slope })
    }
}

import Foundation
