import Foundation
import TensorCore

/// Attribute conditioning of a run (`--condition`, `FaceCondition`): G draws each face's
/// attributes from z and D scores images against their attributes, so coverage of every attribute
/// value comes from the prior by construction instead of from what G happens to find.
extension GANTrainer {
    /// Makes the run conditioned from the next step on: G, its EMA and D get zero conditioning
    /// weights (`cond.weight`), so they compute what they did until training moves them; Adam gives
    /// the new weights their own bias correction. A run once conditioned stays so (its checkpoint
    /// and shipped generator carry the weights). A conditioned run calls this harmlessly.
    /// The shape of `cond.weight` in a conditioned config's tensor list.
    static func condShape(_ shapes: [(name: String, shape: [Int])]) throws -> [Int] {
        guard let s = shapes.first(where: { $0.name == "cond.weight" })?.shape else { throw ModelError("a conditioned config lists no cond.weight") }
        return s
    }

    public func setConditioning() throws {
        if !generator.config.conditioning {
            var gc = generator.config
            gc.conditioning = true
            try gc.validate()
            func conditioned(_ g: StyleGAN2Generator) throws -> StyleGAN2Generator {
                var p = g.parameters
                p["cond.weight"] = try Tensor.zeros(GANTrainer.condShape(gc.expectedShapes))
                return try StyleGAN2Generator(config: gc, parameters: p, source: "conditioned generator")
            }
            (generator, ema) = (try conditioned(generator), try conditioned(ema))
        }
        if !discriminator.config.conditioning {
            var dc = discriminator.config
            dc.conditioning = true
            var p = discriminator.parameters
            p["cond.weight"] = try Tensor.zeros(GANTrainer.condShape(dc.expectedShapes))
            discriminator = try StyleGAN2Discriminator(config: dc, parameters: p, source: "conditioned discriminator")
        }
    }
}
