import Foundation
import SynthFaces
import TensorCore

/// D's geometry head (`--d-geometry W`), against the pose collapse.
///
/// Every sample of the shipped run faces the camera (yaw readings sd 0.21 against the data's
/// 0.56), and D is why: it scores turned and tilted renders exactly like frontal ones
/// (`tools/d_scores_by_attribute.py`), so G gets no push toward them and balancing the real
/// stream changes nothing. The head is one linear layer on D's last hidden layer
/// (`final_linear.0`, C₄ features) that regresses the real batch's face width, yaw and tilt
/// (normalized as `AttributeHeads.continuous`, about [-1, 1]); D's loss adds W × its mean squared
/// error. It is trained on reals only, whose geometry SynthFaces knows exactly; G's loss does not
/// read it. The head makes D's last features carry the geometry, so that D's logit, which reads
/// the same features, can tell a batch of frontal fakes from reals that turn. The head is not part
/// of rosinality's state dict: checkpoints keep it as `dgeo.weight`, `dgeo.bias` (and its Adam as
/// `dgeo.*` optimizer state), and the discriminator itself keeps rosinality's names.
extension GANTrainer {
    /// The head's tensors, sorted.
    static let geometryNames = ["bias", "weight"]

    /// Normalized face width, yaw and tilt of `samples`, `(N,3)`.
    static func geometryTargets(_ samples: [FaceSample]) throws -> Tensor { try geometryTargets(samples.map(\.attributes)) }

    /// Normalized face width, yaw and tilt of `attributes`, `(N,3)`.
    static func geometryTargets(_ attributes: [FaceAttributes]) throws -> Tensor {
        try Tensor(shape: [attributes.count, AttributeHeads.continuous.count], scalars: AttributeHeads.regressionTargets(attributes))
    }

    /// Mean squared error of the head's prediction `hidden · (W/√C₄)ᵀ + b` against `targets`.
    static func geometryError(_ hidden: Tensor, head: [String: Tensor], targets: Tensor) throws -> Tensor {
        guard let w = head["weight"], let b = head["bias"] else { throw ModelError("D's geometry head lacks weight or bias") }
        let pred = try Tensor.linear(hidden, weight: w.scaled(1 / Float(w.shape[1]).squareRoot()), bias: b)
        guard pred.shape == targets.shape else { throw ModelError("D's geometry head predicts \(pred.shape), the targets are \(targets.shape)") }
        let d = try pred - targets
        return try (d * d).mean()
    }

    /// The head's shapes for D of config `dc`: weight (3, C₄), bias (3).
    static func geometryShapes(_ dc: StyleGAN2Discriminator.Config) -> [String: [Int]] {
        let k = AttributeHeads.continuous.count
        return ["weight": [k, dc.channels(atResolution: 4)], "bias": [k]]
    }

    /// Checks a saved head against D's width.
    static func checkGeometryHead(_ head: [String: Tensor], discriminator dc: StyleGAN2Discriminator.Config, path: String) throws {
        let want = geometryShapes(dc)
        guard head.mapValues(\.shape) == want else {
            throw ModelError("\(path): D's geometry head (dgeo.*) should be \(want), got \(head.mapValues(\.shape))")
        }
    }

    /// The refusal of a step whose options train the head while the trainer has none.
    var missingGeometryHead: ModelError {
        ModelError("this run trains D's geometry head (weight \(options.dGeometry)) but has none; turn it on with setDGeometry")
    }

    /// Turns D's geometry head on (weight > 0; a new head starts from Philox N(0,1) weights and zero
    /// bias) or off (0) from the next step on. A resumed run may change it; a head once trained
    /// stays in the checkpoint, and turning it on again continues it.
    public func setDGeometry(_ weight: Float) throws {
        var o = options
        o.dGeometry = weight
        try o.validate()
        if weight > 0 && geometryHead == nil { geometryHead = try GANTrainer.newGeometryHead(discriminator.config, seed: options.seed) }
        options = o
    }

    /// A new head for D of config `dc`: Philox N(0,1) weights under the run's `seed`, zero bias.
    static func newGeometryHead(_ dc: StyleGAN2Discriminator.Config, seed: UInt64) throws -> [String: Tensor] {
        let shapes = geometryShapes(dc)
        return ["weight": try Tensor.randomNormal(shapes["weight"]!, seed: seed ^ 0xD6E0_11EA_D000_0001, stream: 0), "bias": try Tensor.zeros(shapes["bias"]!)]
    }
}
