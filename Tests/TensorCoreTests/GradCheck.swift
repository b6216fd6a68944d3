import Testing
@testable import TensorCore

/// Result of comparing a tape gradient with central finite differences.
struct GradCheckReport {
    var maxAbsError: Double = 0
    var maxRelError: Double = 0
    var worst = ""
}

/// Compares the tape's gradient of `L = Σ f(x) ⊙ r` (r a fixed random projection, so every
/// output element matters) with central differences `(L(x+h) − L(x−h)) / 2h`, where L is
/// accumulated in Double. An element passes when
/// `|analytic − numeric| ≤ atol + rtol · max(|numeric|, scale)`, `scale` being the largest
/// numeric gradient magnitude of that input, since Float32 forward passes limit the absolute
/// precision of differences to about 1e-3 of the gradient scale.
@discardableResult
func checkGradients(_ inputs: [Tensor], h: Float = 1e-2, rtol: Double = 2e-2, atol: Double = 1e-4,
                    sourceLocation: SourceLocation = #_sourceLocation,
                    _ f: ([Tensor]) throws -> Tensor) throws -> GradCheckReport {
    let y0 = try f(inputs)
    let r = try Tensor.randomNormal(y0.shape, seed: 99, stream: 7)
    func loss(_ xs: [Tensor]) throws -> Double {
        let y = try f(xs)
        var s = 0.0
        for (a, b) in zip(y.scalars, r.scalars) { s += Double(a) * Double(b) }
        return s
    }
    let tape = Tape()
    let watched = inputs.map { tape.watch($0) }
    let y = try f(watched)
    #expect(y.isTracked, "output is not tracked: the op recorded nothing", sourceLocation: sourceLocation)
    let grads = try tape.gradients(of: y, wrt: watched, seed: r)
    var report = GradCheckReport()
    for (k, x) in inputs.enumerated() {
        var numeric = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            var xs = inputs
            xs[k].scalars[i] = x.scalars[i] + h
            let lp = try loss(xs)
            xs[k].scalars[i] = x.scalars[i] - h
            let lm = try loss(xs)
            numeric[i] = (lp - lm) / (2 * Double(h))
        }
        let scale = numeric.map { Swift.abs($0) }.max() ?? 0
        for i in 0..<x.count {
            let a = Double(grads[k].scalars[i]), n = numeric[i]
            let err = Swift.abs(a - n)
            let allowed = atol + rtol * Swift.max(Swift.abs(n), scale)
            report.maxAbsError = Swift.max(report.maxAbsError, err)
            report.maxRelError = Swift.max(report.maxRelError, err / Swift.max(scale, 1e-12))
            if err > allowed {
                report.worst = "input \(k) element \(i): analytic \(a), numeric \(n)"
                Issue.record("gradient mismatch for input \(k) (shape \(x.shape)) element \(i): tape \(a), finite difference \(n)", sourceLocation: sourceLocation)
                return report
            }
        }
    }
    return report
}

/// A small random tensor for gradient checks (values in about ±2).
func rand(_ shape: [Int], seed: UInt64) -> Tensor {
    try! Tensor.randomNormal(shape, seed: seed, stream: 1)
}
