import Foundation

/// Classification losses, computed in a numerically stable form (max-subtracted log-sum-exp)
/// rather than as `softmax().log()`, which underflows to -inf for confident wrong predictions.
extension Tensor {
    /// Log-softmax over the last dimension: `x − max − log Σ exp(x − max)`.
    public func logSoftmax() throws -> Tensor {
        guard let d = shape.last, d > 0 else { throw TensorError.shape(op: "logSoftmax", "expected a non-empty last dimension, got \(shape)") }
        let rows = count / d
        var out = [Float](repeating: 0, count: count)
        scalars.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                for r in 0..<rows { Tensor.logSoftmaxRow(px.baseAddress! + r * d, po.baseAddress! + r * d, d) }
            }
        }
        var result = Tensor(uncheckedShape: shape, scalars: out)
        let yv = result.detached
        result.tapeRef = Tape.record(inputs: [self], shape: shape) { g in
            // d/dx_j = g_j − softmax_j · Σ_k g_k, with softmax = exp(log-softmax).
            var dx = [Float](repeating: 0, count: g.count)
            for r in 0..<rows {
                var s: Float = 0
                for j in 0..<d { s += g.scalars[r * d + j] }
                for j in 0..<d { let i = r * d + j; dx[i] = g.scalars[i] - Foundation.exp(yv.scalars[i]) * s }
            }
            return [Tensor(uncheckedShape: yv.shape, scalars: dx)]
        }
        return result
    }

    /// Mean softmax cross-entropy of `logits (N,C)` against class indices `targets` (N values in
    /// 0..<C), as a rank-0 tensor: `mean_n(−log softmax(logits_n)[targets_n])`.
    public static func crossEntropy(_ logits: Tensor, targets: [Int]) throws -> Tensor {
        guard logits.rank == 2, logits.shape[0] > 0, logits.shape[1] > 0 else {
            throw TensorError.shape(op: "crossEntropy", "logits must be (N,C) with N, C ≥ 1; got \(logits.shape)")
        }
        let n = logits.shape[0], c = logits.shape[1]
        guard targets.count == n else {
            throw TensorError.shape(op: "crossEntropy", "\(targets.count) targets for \(n) rows of logits \(logits.shape)")
        }
        if let bad = targets.firstIndex(where: { $0 < 0 || $0 >= c }) {
            throw TensorError.shape(op: "crossEntropy", "target \(targets[bad]) of row \(bad) is outside 0..<\(c)")
        }
        var logp = [Float](repeating: 0, count: n * c)   // (N, C) log-probabilities
        var total = 0.0
        logits.scalars.withUnsafeBufferPointer { px in
            logp.withUnsafeMutableBufferPointer { po in
                for r in 0..<n {
                    Tensor.logSoftmaxRow(px.baseAddress! + r * c, po.baseAddress! + r * c, c)
                    total -= Double(po[r * c + targets[r]])
                }
            }
        }
        var result = Tensor(Float(total / Double(n)))
        result.tapeRef = Tape.record(inputs: [logits], shape: []) { g in
            // d/dlogits = (softmax − onehot(target)) / N, times the incoming scalar gradient.
            let scale = g.scalars[0] / Float(n)
            var dx = [Float](repeating: 0, count: n * c)
            for r in 0..<n {
                for j in 0..<c { dx[r * c + j] = Foundation.exp(logp[r * c + j]) * scale }
                dx[r * c + targets[r]] -= scale
            }
            return [Tensor(uncheckedShape: [n, c], scalars: dx)]
        }
        return result
    }

    /// Writes the log-softmax of `d` values at `x` to `y`.
    @inline(__always)
    static func logSoftmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ d: Int) {
        var m = -Float.infinity
        for j in 0..<d { m = Swift.max(m, x[j]) }
        var s: Double = 0
        for j in 0..<d { s += Double(Foundation.exp(x[j] - m)) }
        let lse = m + Float(Foundation.log(s))
        for j in 0..<d { y[j] = x[j] - lse }
    }
}
