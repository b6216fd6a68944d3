import Foundation
import TensorCore

/// Instance-level optimization of W+ codes (TediGAN's inverter, after idinvert): Adam on the
/// codes w `(N,nLatent,styleDim)` of a frozen generator G, started from `w₀` (an encoder's codes),
/// lowering
///
///     L = λ_pix·‖G(w) − x‖² + λ_feat·Perceptual(G(w), x)          (with a target x)
///       + λ_dom·‖w − E(G(w))‖²                                      (stay in the encoder's domain)
///       + λ_reg·‖w − w₀‖²                                           (edits: keep the rest)
///       + λ_attr·(attribute heads' error on G(w) against the pins)  (editing without text)
///       + λ_label·CE(P(G(w)), m)                                    (the face parser P reads layout m)
///       + λ_text·(1 − S(t, G(w)))                                    (the similarity model S: fit caption t)
///
/// (squared norms are means over elements; terms are batch means). Only the `layers` move.
/// G runs with its stored noise, so a step is a pure function of the state: same bytes on every
/// run, at any thread count.
public struct LatentOptimizer {
    public struct Options: Equatable, Sendable {
        public var steps: Int
        public var learningRate: Float
        public var pixel: Float
        public var feature: Float
        public var domain: Float
        public var regularization: Float
        public var attribute: Float
        public var label: Float
        public var text: Float
        /// W+ layers that move (nil: all).
        public var layers: [Int]?

        public init(steps: Int = 100, learningRate: Float = 0.01, pixel: Float = 1, feature: Float = 0.5, domain: Float = 0,
                    regularization: Float = 0, attribute: Float = 1, label: Float = 1, text: Float = 1, layers: [Int]? = nil) {
            self.steps = steps; self.learningRate = learningRate; self.pixel = pixel; self.feature = feature
            self.domain = domain; self.regularization = regularization; self.attribute = attribute; self.label = label; self.text = text
            self.layers = layers
        }
    }

    /// Loss parts of one evaluation (nan where a term is off).
    public struct Parts: Equatable, Sendable {
        public var total: Float
        public var pixel: Float = .nan
        public var feature: Float = .nan
        public var domain: Float = .nan
        public var regularization: Float = .nan
        public var attribute: Float = .nan
        public var label: Float = .nan
        public var text: Float = .nan
    }

    /// The optimization's state between steps (what a checkpoint holds).
    public struct State {
        public var w: Tensor
        /// Adam's state (`m.w`, `v.w`, `step`).
        public var adam: [String: Tensor]
        public var step: Int

        public init(w: Tensor, adam: [String: Tensor], step: Int) { self.w = w; self.adam = adam; self.step = step }
    }

    public let options: Options
    public let generator: StyleGAN2Generator
    /// The start `w₀ (N,nLatent,styleDim)`.
    public let initial: Tensor
    /// The target images `(N,3,S,S)` in [-1, 1] (nil: no pixel or feature terms).
    public let target: Tensor?
    /// Needed for the feature and attribute terms.
    public let attributes: AttributeNet?
    /// Needed for the domain term.
    public let encoder: LatentEncoder?
    public let pins: AttributePins
    /// Target label maps (one `S·S` map of class ids per code) and the parser that reads G(w) for the label term.
    public let labels: [[UInt8]]?
    public let parser: FaceParser?
    /// The similarity model and the captions' unit embeddings `(1 or N, dim)` of the text term.
    public let text: (model: SimilarityModel, embeddings: Tensor)?
    /// The target's perceptual maps, computed once (nil without a feature term).
    let targetReference: Perceptual.Reference?

    /// Checks that every term has what it needs and every shape fits; throws saying what is missing.
    public init(options: Options, generator: StyleGAN2Generator, initial: Tensor, target: Tensor? = nil,
                attributes: AttributeNet? = nil, encoder: LatentEncoder? = nil, pins: AttributePins = AttributePins(),
                labels: [[UInt8]]? = nil, parser: FaceParser? = nil, text: (model: SimilarityModel, embeddings: Tensor)? = nil) throws {
        let (n, nl, sd) = (initial.shape.first ?? 0, generator.nLatent, generator.styleDim)
        guard initial.rank == 3, n >= 1, initial.shape[1] == nl, initial.shape[2] == sd else {
            throw ModelError("optimize: the start codes have shape \(initial.shape); the generator takes w+ (N,\(nl),\(sd))")
        }
        guard (1...100_000).contains(options.steps) else { throw ModelError("optimize: steps must be in 1...100000, got \(options.steps)") }
        guard options.learningRate > 0, options.learningRate <= 10 else { throw ModelError("optimize: lr must be in (0, 10], got \(options.learningRate)") }
        for (name, v) in [("lambda_pix", options.pixel), ("lambda_feat", options.feature), ("lambda_dom", options.domain),
                          ("lambda_reg", options.regularization), ("lambda_attr", options.attribute), ("lambda_label", options.label),
                          ("lambda_text", options.text)] {
            guard v >= 0, v.isFinite else { throw ModelError("optimize: \(name) must be a non-negative number, got \(v)") }
        }
        if let layers = options.layers {
            guard !layers.isEmpty, layers.allSatisfy({ (0..<nl).contains($0) }) else {
                throw ModelError("optimize: layers \(layers) must be within the generator's \(nl) layers (0–\(nl - 1))")
            }
        }
        if let target {
            let s = generator.config.size
            guard target.shape == [n, 3, s, s] else {
                throw ModelError("optimize: the target has shape \(target.shape); expected (\(n),3,\(s),\(s)) for \(n) code\(n == 1 ? "" : "s") of a \(s) px generator")
            }
        }
        let usesTarget = target != nil && (options.pixel > 0 || options.feature > 0)
        let usesAttributes = !pins.isEmpty && options.attribute > 0
        let usesLabels = labels != nil && options.label > 0
        let usesText = text != nil && options.text > 0
        guard usesTarget || usesAttributes || usesLabels || usesText || options.domain > 0 else {
            throw ModelError("optimize: nothing to optimize toward: connect a target image, label map or text, or give attributes")
        }
        if let text, options.text > 0 {
            let e = text.embeddings
            guard e.rank == 2, e.shape[0] == 1 || e.shape[0] == n, e.shape[1] == text.model.config.dim else {
                throw ModelError("optimize: \(e.shape[0]) caption embedding\(e.shape[0] == 1 ? "" : "s") \(e.shape) for \(n) code\(n == 1 ? "" : "s"); give one caption, or one per code")
            }
            guard let a = attributes else { throw ModelError("optimize: the text term needs the attribute network (the similarity model reads its features)") }
            try text.model.check(backbone: a)
        }
        if let labels {
            let s = generator.config.size
            guard labels.count == n, labels.allSatisfy({ $0.count == s * s }) else {
                throw ModelError("optimize: \(labels.count) label map\(labels.count == 1 ? "" : "s") for \(n) code\(n == 1 ? "" : "s"); each must be \(s)×\(s)")
            }
            if options.label > 0 {
                guard let p = parser else { throw ModelError("optimize: the label term needs the face parser") }
                guard p.config.size == s else { throw ModelError("optimize: the face parser reads \(p.config.size) px; the generator makes \(s) px") }
                if let bad = labels.joined().first(where: { Int($0) >= p.config.classes }) {
                    throw ModelError("optimize: the label map holds class \(bad); the parser knows 0–\(p.config.classes - 1)")
                }
            }
        }
        if (target != nil && options.feature > 0) || usesAttributes || usesText {
            guard let a = attributes else { throw ModelError("optimize: the feature and attribute terms need the attribute network") }
            guard a.config.size == generator.config.size else {
                throw ModelError("optimize: the attribute network reads \(a.config.size) px; the generator makes \(generator.config.size) px")
            }
        }
        if options.domain > 0 {
            guard let e = encoder else { throw ModelError("optimize: lambda_dom needs an encoder") }
            guard e.config.nLatent == nl, e.config.styleDim == sd, e.config.size == generator.config.size, e.config.inChannels == 3 else {
                throw ModelError("optimize: the encoder (\(e.config.size) px → \(e.config.nLatent)×\(e.config.styleDim)) does not fit the generator")
            }
        }
        self.options = options; self.generator = generator; self.initial = initial; self.target = target
        self.attributes = attributes; self.encoder = encoder; self.pins = pins; self.labels = labels; self.parser = parser
        self.text = text
        if let target, options.feature > 0, let a = attributes { targetReference = try Perceptual.reference(target, net: a) } else { targetReference = nil }
    }

    /// The loss at `w` (which may be watched on a tape), with its parts.
    public func loss(_ w: Tensor) throws -> (Tensor, Parts) {
        let o = options
        let y = try generator.synthesis(w, noise: .const)
        var total: Tensor?
        var parts = Parts(total: 0)
        func add(_ term: Tensor, _ weight: Float, _ keyPath: WritableKeyPath<Parts, Float>) throws {
            parts[keyPath: keyPath] = try term.item()
            total = try total.map { try $0 + term.scaled(weight) } ?? term.scaled(weight)
        }
        if let x = target {
            if o.pixel > 0 { try add(try Tensor.mse(y, x), o.pixel, \.pixel) }
            if o.feature > 0, let a = attributes, let r = targetReference {
                try add(try Perceptual.distances(y, to: r, net: a).mean(), o.feature, \.feature)
            }
        }
        if o.domain > 0, let e = encoder {
            try add(try Tensor.mse(w, LatentEncoder.forward(y, config: e.config, params: e.params)), o.domain, \.domain)
        }
        if o.regularization > 0 { try add(try Tensor.mse(w, initial), o.regularization, \.regularization) }
        if !pins.isEmpty && o.attribute > 0, let a = attributes {
            try add(try attributeError(y, net: a), o.attribute, \.attribute)
        }
        if o.label > 0, let m = labels, let p = parser {
            try add(try FaceParser.pixelCrossEntropy(try FaceParser.forward(y, config: p.config, params: p.params), targets: m), o.label, \.label)
        }
        if o.text > 0, let (s, t) = text, let a = attributes {
            try add(try textDistance(y, model: s, embeddings: t, net: a), o.text, \.text)
        }
        guard let total else { throw ModelError("optimize: every term has weight 0") }
        parts.total = try total.item()
        return (total, parts)
    }

    /// The attribute heads' error on images `y` against the pins: cross-entropy per categorical
    /// pin plus the squared error of each continuous one (normalized units), summed, batch means.
    func attributeError(_ y: Tensor, net: AttributeNet) throws -> Tensor {
        let out = try AttributeNet.forward(y, config: net.config, params: net.params)
        let n = y.shape[0]
        var e: Tensor?
        for p in pins.categorical {
            let ce = try Tensor.crossEntropy(out.logits[p.index], targets: [Int](repeating: Int(p.value), count: n))
            e = try e.map { try $0 + ce } ?? ce
        }
        for p in pins.continuous {
            let c = AttributeHeads.continuous[p.index]
            let column = try out.regression.slice(axis: 1, p.index..<(p.index + 1))
            let target = try Tensor(shape: [n, 1], scalars: [Float](repeating: (p.value - c.center) / c.halfRange, count: n))
            let se = try Tensor.mse(column, target)
            e = try e.map { try $0 + se } ?? se
        }
        return e!
    }

    /// 1 − S(t, y): one minus the cosine between the captions' embeddings `t (1 or N, dim)` and
    /// those of images `y`, batch mean.
    func textDistance(_ y: Tensor, model s: SimilarityModel, embeddings t: Tensor, net: AttributeNet) throws -> Tensor {
        let v = try SimilarityModel.imageEmbedding(features: AttributeNet.features(y, config: net.config, params: net.params), config: s.config, params: s.params)
        return try (v * t).sum(axis: 1).mean().scaled(-1).adding(1)
    }

    /// The state before the first step.
    public func start() -> State { State(w: initial, adam: [:], step: 0) }

    /// One Adam step; returns the loss parts at the state before it. Throws on a non-finite loss.
    public func step(_ s: inout State) throws -> Parts {
        let tape = Tape()
        let w = tape.watch(s.w)
        let (l, parts) = try loss(w)
        guard parts.total.isFinite else {
            throw ModelError("optimize: the loss became \(parts.total) at step \(s.step) (parts \(parts)); lower lr")
        }
        var g = try tape.gradients(of: l, wrt: [w])[0]
        if let layers = options.layers {
            let (n, nl, sd) = (g.shape[0], g.shape[1], g.shape[2])
            let keep = Set(layers)
            for i in 0..<n { for j in 0..<nl where !keep.contains(j) { for k in 0..<sd { g.scalars[(i * nl + j) * sd + k] = 0 } } }
        }
        let adam = Adam(learningRate: options.learningRate)
        if !s.adam.isEmpty { try adam.load(state: s.adam) }
        var params = ["w": s.w]
        try adam.update(&params, gradients: ["w": g])
        s.w = params["w"]!
        s.adam = adam.state
        s.step += 1
        return parts
    }

    /// Runs every step from `state` (default: the start); `onStep(step, parts)` after each.
    public func run(from state: State? = nil, onStep: (Int, Parts) throws -> Void = { _, _ in }) throws -> State {
        var s = state ?? start()
        while s.step < options.steps {
            let p = try step(&s)
            try onStep(s.step, p)
        }
        return s
    }
}
