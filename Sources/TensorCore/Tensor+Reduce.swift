extension Tensor {
    /// Sum of all elements, as a rank-0 tensor.
    public func sum() -> Tensor {
        var s: Double = 0
        for v in scalars { s += Double(v) }
        var out = Tensor(Float(s))
        let inShape = shape
        out.tapeRef = Tape.record(inputs: [self], shape: []) { g in
            [try Tensor(repeating: g.scalars[0], shape: inShape)]
        }
        return out
    }

    /// Mean of all elements, as a rank-0 tensor.
    public func mean() -> Tensor { sum().scaled(1 / Float(Swift.max(count, 1))) }

    /// Sum along `axis` (negative counts from the end); keeps it as size 1 when `keepDims`.
    public func sum(axis: Int, keepDims: Bool = false) throws -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        guard ax >= 0 && ax < rank else { throw TensorError.shape(op: "sum", "axis \(axis) out of range for shape \(shape)") }
        let outer = shape[..<ax].reduce(1, *), n = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var out = [Float](repeating: 0, count: outer * inner)
        scalars.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for a in 0..<outer {
                    for j in 0..<n {
                        let src = (a * n + j) * inner
                        for i in 0..<inner { o[a * inner + i] += x[src + i] }
                    }
                }
            }
        }
        var kept = shape
        kept[ax] = 1
        var outShape = kept
        if !keepDims { outShape.remove(at: ax) }
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        let inShape = shape
        result.tapeRef = Tape.record(inputs: [self], shape: outShape) { g in
            [try Tensor(uncheckedShape: kept, scalars: g.scalars).broadcast(to: inShape)]
        }
        return result
    }

    /// Mean along `axis`.
    public func mean(axis: Int, keepDims: Bool = false) throws -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        guard ax >= 0 && ax < rank else { throw TensorError.shape(op: "mean", "axis \(axis) out of range for shape \(shape)") }
        return try sum(axis: ax, keepDims: keepDims).scaled(1 / Float(Swift.max(shape[ax], 1)))
    }
}
