import TensorCore

/// The tape's directional derivatives of a scalar function `f` at `x` (from its `gradient` there)
/// against central differences with step `h`, along random directions drawn from Philox seeds
/// `seeds`: one (tape, finite difference) pair per seed, for the caller to compare at its tolerance.
func directionalDerivatives(of f: (Tensor) throws -> Double, at x: Tensor, gradient g: Tensor, seeds: Range<UInt64>,
                            h: Float) throws -> [(tape: Double, finiteDifference: Double)] {
    try seeds.map { seed in
        let v = try Tensor.randomNormal(x.shape, seed: seed)
        var tape = 0.0
        for i in 0..<v.count { tape += Double(v.scalars[i]) * Double(g.scalars[i]) }
        let fd = (try f(x + v.scaled(h)) - f(x - v.scaled(h))) / (2 * Double(h))
        return (tape, fd)
    }
}
