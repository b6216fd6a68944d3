extension Tensor {
    /// Concatenates tensors along `axis`; all other dimensions must agree.
    public static func concat(_ xs: [Tensor], axis: Int) throws -> Tensor {
        guard let first = xs.first else { throw TensorError.invalid("concat: no tensors") }
        let ax = axis < 0 ? axis + first.rank : axis
        guard ax >= 0 && ax < first.rank else { throw TensorError.shape(op: "concat", "axis \(axis) out of range for shape \(first.shape)") }
        for x in xs {
            var a = x.shape, b = first.shape
            guard a.count == b.count else { throw TensorError.shape(op: "concat", "ranks differ: \(x.shape) vs \(first.shape)") }
            a[ax] = 0; b[ax] = 0
            guard a == b else { throw TensorError.shape(op: "concat", "shapes \(x.shape) and \(first.shape) differ outside axis \(ax)") }
        }
        let outer = first.shape[..<ax].reduce(1, *), inner = first.shape[(ax + 1)...].reduce(1, *)
        let sizes = xs.map { $0.shape[ax] }
        let total = sizes.reduce(0, +)
        var outShape = first.shape
        outShape[ax] = total
        var out = [Float](repeating: 0, count: outer * total * inner)
        var offset = 0
        for x in xs {
            let len = x.shape[ax] * inner
            x.scalars.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { po in
                    for o in 0..<outer {
                        let dst = po.baseAddress! + o * total * inner + offset * inner
                        dst.update(from: px.baseAddress! + o * len, count: len)
                    }
                }
            }
            offset += x.shape[ax]
        }
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        result.tapeRef = Tape.record(inputs: xs, shape: outShape) { g in
            var start = 0
            return try sizes.map { s in
                defer { start += s }
                return try g.slice(axis: ax, start ..< start + s)
            }
        }
        return result
    }

    /// The sub-tensor with indices `range` along `axis` (a copy).
    public func slice(axis: Int, _ range: Range<Int>) throws -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        guard ax >= 0 && ax < rank else { throw TensorError.shape(op: "slice", "axis \(axis) out of range for shape \(shape)") }
        guard range.lowerBound >= 0 && range.upperBound <= shape[ax] else {
            throw TensorError.shape(op: "slice", "range \(range) out of bounds for axis \(ax) of shape \(shape)")
        }
        let outer = shape[..<ax].reduce(1, *), inner = shape[(ax + 1)...].reduce(1, *), n = shape[ax]
        var outShape = shape
        outShape[ax] = range.count
        var out = [Float](repeating: 0, count: outer * range.count * inner)
        scalars.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                for o in 0..<outer {
                    (po.baseAddress! + o * range.count * inner)
                        .update(from: px.baseAddress! + (o * n + range.lowerBound) * inner, count: range.count * inner)
                }
            }
        }
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        let inShape = shape
        result.tapeRef = Tape.record(inputs: [self], shape: outShape) { g in
            var full = [Float](repeating: 0, count: inShape.reduce(1, *))
            g.scalars.withUnsafeBufferPointer { pg in
                full.withUnsafeMutableBufferPointer { pf in
                    for o in 0..<outer {
                        (pf.baseAddress! + (o * n + range.lowerBound) * inner)
                            .update(from: pg.baseAddress! + o * range.count * inner, count: range.count * inner)
                    }
                }
            }
            return [Tensor(uncheckedShape: inShape, scalars: full)]
        }
        return result
    }

    /// Reorders dimensions: output dimension i is input dimension `dims[i]`.
    public func permuted(_ dims: [Int]) throws -> Tensor {
        guard dims.sorted() == Array(0..<rank) else {
            throw TensorError.shape(op: "permute", "\(dims) is not a permutation of the \(rank) dimensions of \(shape)")
        }
        let outShape = dims.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let strides = dims.map { inStrides[$0] }
        var out = [Float](repeating: 0, count: count)
        let zero = [Int](repeating: 0, count: rank)
        scalars.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                forEachBroadcastRow(outShape, strides, zero) { oo, xo, _, n, ix, _ in
                    for j in 0..<n { po[oo + j] = px[xo + j * ix] }
                }
            }
        }
        var result = Tensor(uncheckedShape: outShape, scalars: out)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, d) in dims.enumerated() { inverse[d] = i }
        result.tapeRef = Tape.record(inputs: [self], shape: outShape) { g in [try g.permuted(inverse)] }
        return result
    }

    /// The transpose of a 2-D tensor.
    public func transposed() throws -> Tensor {
        guard rank == 2 else { throw TensorError.shape(op: "transpose", "expected a 2-D tensor, got \(shape)") }
        return try permuted([1, 0])
    }
}
