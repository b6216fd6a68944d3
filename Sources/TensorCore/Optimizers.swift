/// Adam (Kingma & Ba) with bias correction, over named parameters.
///
/// Parameters are visited in sorted name order, so an update is deterministic. The moment
/// estimates and the step count are exposed through `state` / `load(state:)` so a checkpoint can
/// save and restore them exactly. A parameter first updated at a later step (one added to a model
/// mid-run) gets its own bias correction, counted from its first update, as a fresh Adam would give it.
public final class Adam {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public private(set) var step: Int = 0
    private var m: [String: [Float]] = [:]
    private var v: [String: [Float]] = [:]
    /// Steps before a parameter's first update, for parameters whose moments began after step 1.
    private var born: [String: Int] = [:]

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    /// Applies one step: `p -= lr · m̂ / (√v̂ + ε)` for every parameter that has a gradient.
    public func update(_ params: inout [String: Tensor], gradients: [String: Tensor]) throws {
        step += 1
        let c1 = 1 - Float(Double(beta1).power(step)), c2 = 1 - Float(Double(beta2).power(step))
        for name in params.keys.sorted() {
            guard let g = gradients[name] else { continue }
            guard var p = params[name] else { continue }
            guard g.shape == p.shape else {
                throw TensorError.shape(op: "Adam", "gradient of '\(name)' has shape \(g.shape), parameter has \(p.shape)")
            }
            if m[name] == nil && step > 1 { born[name] = step - 1 }
            var (c1, c2) = (c1, c2)
            if let b = born[name] { (c1, c2) = (1 - Float(Double(beta1).power(step - b)), 1 - Float(Double(beta2).power(step - b))) }
            try checkMoments(name, fit: p)
            var mi = m[name] ?? [Float](repeating: 0, count: p.count)
            var vi = v[name] ?? [Float](repeating: 0, count: p.count)
            params[name] = nil   // keep `p` uniquely referenced so the update is in place
            p.tapeRef = nil
            let (lr, b1, b2, eps) = (learningRate, beta1, beta2, epsilon)
            p.scalars.withUnsafeMutableBufferPointer { pp in
                g.scalars.withUnsafeBufferPointer { pg in
                    for i in 0..<pp.count {
                        let gi = pg[i]
                        mi[i] = b1 * mi[i] + (1 - b1) * gi
                        vi[i] = b2 * vi[i] + (1 - b2) * gi * gi
                        pp[i] -= lr * (mi[i] / c1) / ((vi[i] / c2).squareRoot() + eps)
                    }
                }
            }
            params[name] = p
            m[name] = mi
            v[name] = vi
        }
    }

    /// The optimizer state as tensors (`m.NAME`, `v.NAME`, and `step`), for checkpoints.
    public var state: [String: Tensor] {
        var s: [String: Tensor] = ["step": Tensor(Float(step))]
        for (k, x) in m { s["m." + k] = Tensor(uncheckedShape: [x.count], scalars: x) }
        for (k, x) in v { s["v." + k] = Tensor(uncheckedShape: [x.count], scalars: x) }
        for (k, b) in born { s["born." + k] = Tensor(Float(b)) }
        return s
    }

    /// Refuses saved moments of `name` whose size does not fit parameter `p`.
    private func checkMoments(_ name: String, fit p: Tensor) throws {
        let (mc, vc) = (m[name]?.count ?? p.count, v[name]?.count ?? p.count)
        guard mc == p.count, vc == p.count else {
            throw TensorError.shape(op: "Adam", "the saved moments of '\(name)' hold \(mc) and \(vc) values for a parameter of \(p.count) (\(p.shape)); the optimizer state belongs to another model")
        }
    }

    /// Restores state saved by `state`; with `parameters`, also refuses moments that do not fit the
    /// parameter of their name now, rather than at the first update.
    public func load(state s: [String: Tensor], for parameters: [String: Tensor]? = nil) throws {
        guard let st = s["step"], st.count == 1 else { throw TensorError.invalid("Adam state has no 'step'") }
        step = Int(st.scalars[0])
        m = [:]; v = [:]; born = [:]
        for (k, x) in s {
            if k.hasPrefix("born.") {
                guard x.count == 1, let b = Int(exactly: x.scalars[0]), (0..<step).contains(b) else {
                    throw TensorError.invalid("Adam state '\(k)' must be one whole step count in 0..<\(step)")
                }
                born[String(k.dropFirst(5))] = b
            }
            if k.hasPrefix("m.") { m[String(k.dropFirst(2))] = x.scalars }
            if k.hasPrefix("v.") { v[String(k.dropFirst(2))] = x.scalars }
        }
        for (k, p) in parameters ?? [:] { try checkMoments(k, fit: p) }
    }
}

/// Stochastic gradient descent with optional momentum: `b = μ·b + g; p -= lr·b`.
public final class SGD {
    public var learningRate: Float
    public var momentum: Float
    private var buffers: [String: [Float]] = [:]

    public init(learningRate: Float, momentum: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
    }

    public func update(_ params: inout [String: Tensor], gradients: [String: Tensor]) throws {
        for name in params.keys.sorted() {
            guard let g = gradients[name], var p = params[name] else { continue }
            guard g.shape == p.shape else {
                throw TensorError.shape(op: "SGD", "gradient of '\(name)' has shape \(g.shape), parameter has \(p.shape)")
            }
            var b = buffers[name] ?? [Float](repeating: 0, count: p.count)
            params[name] = nil
            p.tapeRef = nil
            for i in 0..<p.count {
                b[i] = momentum * b[i] + g.scalars[i]
                p.scalars[i] -= learningRate * b[i]
            }
            params[name] = p
            if momentum != 0 { buffers[name] = b }
        }
    }
}

extension Double {
    /// `self` to an integer power (exact repeated squaring; avoids libm differences across machines).
    func power(_ n: Int) -> Double {
        var result = 1.0, base = self, e = n
        while e > 0 {
            if e & 1 == 1 { result *= base }
            base *= base
            e >>= 1
        }
        return result
    }
}
