import Foundation
import SynthFaces
import TensorCore

/// D's attribute classifier (`--condition-classifier W`, conditioned runs only), the AC-GAN form
/// of conditioning: a softmax head per categorical attribute on D's last hidden layer
/// (`final_linear.0`, C₄ features) learns the real batch's attributes (D's loss adds W × its mean
/// cross-entropy), and G pays W × the same heads' cross-entropy of its images against the
/// attributes their z drew — plus, with the geometry head on, its squared error against the drawn
/// face width, yaw and tilt. The projection term alone moves G's conditioning slowly (its
/// gradient starts at zero with D's projection weights); the classifier gives every fake a
/// direct push toward the attributes it was asked for, from D's own features, not from the
/// attribute network that `tedi eval` reads. Kept outside rosinality's state dict: `dcls.*`
/// tensors and Adam state in the checkpoint.
extension GANTrainer {
    /// Tensor names of head h: `h.weight` (K_h, C₄) and `h.bias` (K_h).
    static func classNames(_ h: Int) -> (weight: String, bias: String) { ("\(h).weight", "\(h).bias") }

    /// The heads' shapes for D of config `dc`.
    static func classShapes(_ dc: StyleGAN2Discriminator.Config) -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for (h, head) in AttributeHeads.categorical.enumerated() {
            out[classNames(h).weight] = [head.values.count, dc.channels(atResolution: 4)]
            out[classNames(h).bias] = [head.values.count]
        }
        return out
    }

    /// New heads: Philox N(0,1) weights (stream = head) under the run's `seed`, zero biases.
    static func newClassHead(_ dc: StyleGAN2Discriminator.Config, seed: UInt64) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, shape) in classShapes(dc) {
            if name.hasSuffix("bias") { out[name] = try Tensor.zeros(shape); continue }
            let h = UInt64(name.split(separator: ".")[0])!
            out[name] = try Tensor.randomNormal(shape, seed: seed ^ 0xC1A5_5EAD_0000_0002, stream: h)
        }
        return out
    }

    /// Checks saved heads against D's width.
    static func checkClassHead(_ head: [String: Tensor], discriminator dc: StyleGAN2Discriminator.Config, path: String) throws {
        guard head.mapValues(\.shape) == classShapes(dc) else {
            throw ModelError("\(path): D's attribute classifier (dcls.*) does not fit \(dc): expected \(AttributeHeads.categorical.count) heads on \(dc.channels(atResolution: 4)) features")
        }
    }

    /// Mean over the categorical heads of the cross-entropy of `hidden (N,C₄)` read by `head`
    /// (logits `hidden · (W/√C₄)ᵀ + b`) against the attributes `attrs`.
    static func classError(_ hidden: Tensor, head: [String: Tensor], attributes attrs: [FaceAttributes]) throws -> Tensor {
        guard hidden.rank == 2, hidden.shape[0] == attrs.count else {
            throw ModelError("D's attribute classifier: \(attrs.count) attribute rows for hidden features \(hidden.shape)")
        }
        let targets = AttributeHeads.classTargets(attrs)
        var total: Tensor?
        for h in AttributeHeads.categorical.indices {
            let n = classNames(h)
            guard let w = head[n.weight], let b = head[n.bias] else { throw ModelError("D's attribute classifier lacks head \(h)") }
            let logits = try Tensor.linear(hidden, weight: w.scaled(1 / Float(w.shape[1]).squareRoot()), bias: b)
            let ce = try Tensor.crossEntropy(logits, targets: targets[h])
            total = try total.map { try $0 + ce } ?? ce
        }
        return total!.scaled(1 / Float(AttributeHeads.categorical.count))
    }

    /// The refusal of a step whose options train the classifier without it or without conditioning.
    func checkClassifierReady() throws {
        guard options.conditionClassifier > 0 else { return }
        guard generator.config.conditioning, discriminator.config.conditioning else {
            throw ModelError("D's attribute classifier (weight \(options.conditionClassifier)) needs a conditioned run; turn conditioning on first (--condition)")
        }
        guard classHead != nil else { throw ModelError("this run trains D's attribute classifier (weight \(options.conditionClassifier)) but has none; turn it on with setConditionClassifier") }
    }

    /// Turns D's attribute classifier on (weight > 0; new heads from Philox) or off (0) from the
    /// next step on; a conditioned run only. A resumed run may change it; heads once trained stay
    /// in the checkpoint.
    public func setConditionClassifier(_ weight: Float) throws {
        var o = options
        o.conditionClassifier = weight
        try o.validate()
        if weight > 0 {
            guard generator.config.conditioning else { throw ModelError("--condition-classifier needs a conditioned run (--condition)") }
            if classHead == nil { classHead = try GANTrainer.newClassHead(discriminator.config, seed: options.seed) }
        }
        options = o
    }
}
