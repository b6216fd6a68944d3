import Foundation

/// Where a tracked tensor sits on its tape. The tape is held weakly so that pullbacks (which
/// capture tensors) never keep their tape alive: a tensor whose tape is gone acts as a constant.
struct TapeRef {
    weak var tape: Tape?
    let index: Int
}

/// A reverse-mode autodiff tape.
///
/// `watch` marks a leaf; every op on a tracked tensor records a pullback (the rule that maps the
/// output's gradient to its inputs' gradients) in execution order; `gradients(of:wrt:)` walks the
/// entries backwards. While unwinding it releases each entry's pullback and gradient as soon as
/// they are used, so the activations the pullbacks captured are freed along the way and peak
/// memory stays near that of the forward pass. A tape is for one differentiation; make a new one
/// (cheap) per step. Entries are appended under a lock, so ops on one tape may run concurrently.
public final class Tape: @unchecked Sendable {
    typealias Pullback = (Tensor) throws -> [Tensor?]

    struct Entry {
        var inputs: [Int]           // tape index of each op input, -1 where untracked
        var pullback: Pullback?     // nil for leaves (and after use)
        var shape: [Int]            // shape of the value this entry produced
    }

    private var entries: [Entry] = []
    private let lock = NSLock()

    public init() {}

    /// Number of recorded entries (leaves included).
    public var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    /// Returns `x` as a leaf of this tape: gradients with respect to it can be requested.
    public func watch(_ x: Tensor) -> Tensor {
        var out = x.detached
        out.tapeRef = TapeRef(tape: self, index: append(Entry(inputs: [], pullback: nil, shape: x.shape)))
        return out
    }

    private func append(_ e: Entry) -> Int {
        lock.lock(); defer { lock.unlock() }
        entries.append(e)
        return entries.count - 1
    }

    /// Records an op whose inputs are `inputs`. Returns nil (and drops the pullback) when no input
    /// is tracked on a live tape. `pullback` maps the output gradient to one gradient per input
    /// (nil = zero), each shaped like its input.
    static func record(inputs: [Tensor], shape: [Int], pullback: @escaping Pullback) -> TapeRef? {
        var tape: Tape?
        for x in inputs { if let t = x.tapeRef?.tape { tape = t; break } }
        guard let tape else { return nil }
        let ids = inputs.map { x -> Int in
            if let r = x.tapeRef, r.tape === tape { return r.index }
            return -1
        }
        return TapeRef(tape: tape, index: tape.append(Entry(inputs: ids, pullback: pullback, shape: shape)))
    }

    /// Gradients of `output` with respect to each tensor of `wrt` (zeros for one `output` does not
    /// depend on). `seed` is the gradient of the final objective with respect to `output`
    /// (default: ones, i.e. d(sum of output)). Consumes the tape: pullbacks are released as used.
    public func gradients(of output: Tensor, wrt: [Tensor], seed: Tensor? = nil) throws -> [Tensor] {
        guard let ref = output.tapeRef, ref.tape === self else {
            throw TensorError.invalid("gradients(of:): the output is not tracked on this tape (did you watch the inputs?)")
        }
        if let seed, seed.shape != output.shape {
            throw TensorError.shape(op: "gradients", "seed shape \(seed.shape) differs from output shape \(output.shape)")
        }
        lock.lock(); defer { lock.unlock() }
        var wanted = Set<Int>()
        for x in wrt {
            if let r = x.tapeRef, r.tape === self { wanted.insert(r.index) }
        }
        var grads = [Tensor?](repeating: nil, count: entries.count)
        grads[ref.index] = try seed ?? Tensor.ones(output.shape)
        var i = ref.index
        while i >= 0 {
            defer { i -= 1 }
            guard let g = grads[i] else { continue }
            guard let pullback = entries[i].pullback else { continue }
            entries[i].pullback = nil
            if !wanted.contains(i) { grads[i] = nil }
            let inputGrads = try pullback(g)
            for (k, src) in entries[i].inputs.enumerated() where src >= 0 {
                guard k < inputGrads.count, let gi = inputGrads[k] else { continue }
                guard gi.shape == entries[src].shape else {
                    throw TensorError.shape(op: "backward", "internal: gradient of shape \(gi.shape) for an input of shape \(entries[src].shape)")
                }
                if var acc = grads[src] {
                    grads[src] = nil
                    acc.scalars.withUnsafeMutableBufferPointer { a in
                        gi.scalars.withUnsafeBufferPointer { b in
                            for j in 0..<a.count { a[j] += b[j] }
                        }
                    }
                    grads[src] = acc
                } else {
                    grads[src] = gi.detached
                }
            }
        }
        return try wrt.map { x in
            if let r = x.tapeRef, r.tape === self, let g = grads[r.index] { return g }
            return try Tensor.zeros(x.shape)
        }
    }
}
