/// A dense Float32 tensor in row-major (NCHW for images) contiguous storage.
///
/// `Tensor` is a value type: `scalars` is copy-on-write. When it was produced by an op on a
/// watched tensor of a live `Tape`, it also remembers its tape entry, so gradients can flow back
/// to it (see `Tape`). Every op checks shapes and throws `TensorError` with the shapes involved.
public struct Tensor {
    /// Sizes of each dimension, outermost first. A scalar has shape `[]`.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.product`.
    public var scalars: [Float]
    /// The tape entry that produced this value, if it is being differentiated.
    var tapeRef: TapeRef?

    /// Creates a tensor from its shape and row-major scalars.
    public init(shape: [Int], scalars: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.invalid("negative dimension in shape \(shape)")
        }
        let n = try Tensor.elementCount(shape)
        guard n == scalars.count else {
            throw TensorError.invalid("shape \(shape) needs \(n) scalars, got \(scalars.count)")
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// Unchecked initializer for ops that computed `scalars` for `shape` themselves.
    init(uncheckedShape shape: [Int], scalars: [Float]) {
        assert(shape.reduce(1, *) == scalars.count)
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) throws {
        let n = try Tensor.elementCount(shape)
        self.init(uncheckedShape: shape, scalars: [Float](repeating: value, count: n))
    }

    public static func zeros(_ shape: [Int]) throws -> Tensor { try Tensor(repeating: 0, shape: shape) }
    public static func ones(_ shape: [Int]) throws -> Tensor { try Tensor(repeating: 1, shape: shape) }

    /// A rank-0 tensor holding `value`.
    public init(_ value: Float) { self.init(uncheckedShape: [], scalars: [value]) }

    /// Largest element count a tensor may have (2^34 bytes of Float32); larger requests are refused
    /// with an error rather than attempted, so a hostile header cannot trigger a huge allocation.
    public static let maxElementCount = 1 << 32

    /// The number of elements of `shape`, or an error when it overflows or exceeds `maxElementCount`.
    public static func elementCount(_ shape: [Int]) throws -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw TensorError.invalid("negative dimension in shape \(shape)") }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElementCount else {
                throw TensorError.tooLarge("shape \(shape) has more than \(maxElementCount) elements")
            }
            n = p
        }
        return n
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// This value with no tape attached: gradients do not flow through it.
    public var detached: Tensor { Tensor(uncheckedShape: shape, scalars: scalars) }

    /// Whether gradients can flow back through this tensor.
    public var isTracked: Bool { tapeRef?.tape != nil }

    /// The only element of a one-element tensor.
    public func item() throws -> Float {
        guard scalars.count == 1 else { throw TensorError.shape(op: "item", "expected one element, got shape \(shape)") }
        return scalars[0]
    }

    /// Element at a multi-index (bounds-checked; for tests and small tools, not hot loops).
    public subscript(_ index: Int...) -> Float {
        precondition(index.count == shape.count, "index \(index) has rank \(index.count), tensor has shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
            flat = flat * d + i
        }
        return scalars[flat]
    }

    /// Reinterprets the shape without copying (autodiff-aware). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var target = newShape
        let unknown = target.indices.filter { target[$0] == -1 }
        guard unknown.count <= 1, target.allSatisfy({ $0 >= -1 }) else {
            throw TensorError.shape(op: "reshape", "invalid target shape \(newShape)")
        }
        if let u = unknown.first {
            let known = target.filter { $0 != -1 }.reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw TensorError.shape(op: "reshape", "cannot reshape \(shape) to \(newShape)")
            }
            target[u] = count / known
        }
        guard target.reduce(1, *) == count else {
            throw TensorError.shape(op: "reshape", "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        }
        let oldShape = shape
        var out = Tensor(uncheckedShape: target, scalars: scalars)
        out.tapeRef = Tape.record(inputs: [self], shape: target) { g in
            [Tensor(uncheckedShape: oldShape, scalars: g.scalars)]
        }
        return out
    }
}

extension Tensor: Equatable {
    /// Equal when shapes and scalars are equal (tape membership is ignored).
    public static func == (a: Tensor, b: Tensor) -> Bool { a.shape == b.shape && a.scalars == b.scalars }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(scalars.count > 8 ? ", …" : "")])"
    }
}

/// Errors raised by tensor ops and tensor file I/O. Messages name the op and the shapes.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// Shapes that do not fit the op.
    case shape(op: String, String)
    /// A malformed argument or value.
    case invalid(String)
    /// A size above a stated limit.
    case tooLarge(String)
    /// A malformed or unreadable file (path, then what is wrong).
    case file(String, String)

    public var description: String {
        switch self {
        case let .shape(op, m): return "\(op): \(m)"
        case let .invalid(m): return m
        case let .tooLarge(m): return m
        case let .file(path, m): return "\(path): \(m)"
        }
    }
}

extension Array where Element == Int {
    /// Product of the elements (1 for an empty array).
    @inlinable public var product: Int { reduce(1, *) }
}
