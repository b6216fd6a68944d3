import Foundation
import Graph
import Imaging
import Models
import TensorCore

/// The StyleGAN2 ops: seeded sampling in W, the mapping network, and synthesis. The model is a
/// rosinality-compatible generator named in the graph's `models:` section.
enum GeneratorOps {
    static let modelParam = ParamSpec("model", .model, default: .string(""), doc: "a generator (default: the graph's only one, else the shipped synthfaces64)")
    static let truncationParam = ParamSpec("truncation", .float(min: 0, max: 2), default: .float(1), doc: "ψ: w̄ + ψ(w − w̄) toward the mean latent (1 = none)")

    /// w truncated by the node's ψ; with the codes z of w, a conditioned generator's attributes are kept
    /// (`StyleGAN2Generator.truncate(_:codes:psi:mean:meanCondition:)`).
    static func truncated(_ w: Tensor, codes z: Tensor? = nil, ctx: NodeContext, model: ModelRef, generator g: StyleGAN2Generator) throws -> Tensor {
        let psi = Float(ctx.double("truncation"))
        if psi == 1 { return w }
        let mean = try ModelStore.shared.meanLatent(model, g)
        guard let z, g.config.conditioning else { return try g.truncate(w, psi: psi, mean: mean) }
        return try g.truncate(w, codes: z, psi: psi, mean: mean, meanCondition: try ModelStore.shared.meanConditionTerm(model, g))
    }

    static func notConditioned(_ model: String) -> String {
        "model '\(model)' is not conditioned on attributes, so `attributes` cannot steer it; use a generator trained with `tedi train generator --condition`"
    }

    // Version 2: the tensor core's products no longer depend on the thread count and 3×3 convs run
    // as Winograd, so results differ in the last bits from version 1's; cached version-1 results
    // are not reused.
    static let sample = NodeSpec(
        name: "sample", version: 2, summary: "seeded latent codes: z from Philox, mapped to w (optionally truncated, or broadcast to w+)",
        outputs: [("out", .latent)],
        params: [
            modelParam,
            ParamSpec("seed", .int(min: 0, max: nil), default: .string("${seed}"), doc: "seed of z (default: the run's seed)"),
            ParamSpec("count", .int(min: 1, max: 256), default: .int(1), doc: "how many codes"),
            truncationParam,
            ParamSpec("space", .choice(["z", "w", "w+"]), default: .string("w"), doc: "output z itself, w, or w repeated for every layer (w+)"),
            ParamSpec("attributes", .string, default: .string(""), doc: "for a generator trained with --condition: attribute values every code shows, e.g. \"hair_color=gray, eyeglasses=true, yaw=0.5\" (names and values as in attributes.jsonl; the others follow the data's priors)"),
        ],
        inferTypes: { ctx in
            let space = ctx.params["space"]?.stringValue ?? "w"
            var t = ValueType(.latent, latentSpace: space)
            if space == "w+", let name = ctx.params["model"]?.stringValue, let m = ctx.models[name] { t.layers = ModelStore.layers(m) }
            return ["out": t]
        },
        check: { ctx in
            guard let text = ctx.params["attributes"]?.stringValue, !text.contains("${") else { return [] }
            let pins: AttributePins
            do { pins = try AttributePins(parsing: text) } catch { return [("\(error)", "attributes")] }
            if !pins.isEmpty, let name = ctx.params["model"]?.stringValue, let m = ctx.models[name],
               let c = ModelStore.knownConfig(m), !c.conditioning {
                return [(notConditioned(name), "attributes")]
            }
            return []
        },
        run: { ctx in
            let m = try ctx.model(), g = try ModelStore.shared.generator(m)
            var z = try g.randomZ(count: ctx.int("count"), seed: UInt64(ctx.int("seed")))
            let pins = try AttributePins(parsing: ctx.string("attributes"))
            if !pins.isEmpty {
                guard g.config.conditioning else { throw NodeError(notConditioned(m.name)) }
                z = try pins.apply(to: z, seed: UInt64(ctx.int("seed")))
            }
            let space = ctx.string("space")
            if space == "z" { return NodeResult(outputs: ["out": .latent(Latent(space: "z", codes: z))]) }
            let w = try truncated(try g.mapping(z), codes: z, ctx: ctx, model: m, generator: g)
            let codes = space == "w+" ? try g.broadcastLatent(w).detached : w
            return NodeResult(outputs: ["out": .latent(Latent(space: space, codes: codes))])
        })

    static let map = NodeSpec(
        name: "map", version: 2, summary: "the mapping network: z latents → w",
        inputs: [PortSpec("in", accepts: [.latent], doc: "z codes (n, style_dim)")],
        outputs: [("out", .latent)],
        params: [modelParam, truncationParam],
        inferTypes: { _ in ["out": ValueType(.latent, latentSpace: "w")] },
        check: { ctx in
            if let s = ctx.inputTypes["in"]?.latentSpace, s != "z" { return [("map takes z latents, got \(s)", nil)] }
            return []
        },
        run: { ctx in
            guard case let .latent(l) = try ctx.input("in") else { throw NodeError("map needs a latent") }
            guard l.space == "z" else { throw NodeError("map takes z latents, got \(l.space)") }
            let m = try ctx.model(), g = try ModelStore.shared.generator(m)
            let w = try truncated(try g.mapping(l.codes), codes: l.codes, ctx: ctx, model: m, generator: g)
            return NodeResult(outputs: ["out": .latent(Latent(space: "w", codes: w))])
        })

    static let synthesize = NodeSpec(
        name: "synthesize", version: 2, summary: "the generator: latents (z, w or w+) → images; `raw` is the unclamped (n,3,H,W) output",
        inputs: [PortSpec("in", accepts: [.latent], doc: "codes: z (mapped first), w (every layer) or w+")],
        outputs: [("out", .image), ("raw", .tensor)],
        params: [
            modelParam, truncationParam,
            ParamSpec("noise", .choice(["const", "zero", "random"]), default: .string("const"), doc: "per-layer noise: the stored maps, none, or seeded random"),
            ParamSpec("noise_seed", .int(min: 0, max: nil), default: .string("${seed}"), doc: "seed of random noise (used with noise: random only)",
                      usedWhen: ("noise", ["random"])),
            ParamSpec("columns", .int(min: 1, max: 64), default: .int(8), doc: "grid columns of `out` when there are several codes"),
        ],
        check: { ctx in
            guard let name = ctx.params["model"]?.stringValue, let m = ctx.models[name], let t = ctx.inputTypes["in"] else { return [] }
            if let w = t.width, let d = ModelStore.knownConfig(m)?.styleDim, w != d {
                return [("the latent\(t.origin.map { " from \($0)" } ?? "") is \(w) wide but model '\(name)' takes \(d)", nil)]
            }
            guard let layers = ModelStore.layers(m), let l = t.layers, t.latentSpace == "w+" else { return [] }
            return l == layers ? [] : [("the w+ latent has \(l) layers but model '\(name)' takes \(layers)", nil)]
        },
        run: { ctx in
            guard case let .latent(l) = try ctx.input("in") else { throw NodeError("synthesize needs a latent") }
            let m = try ctx.model(), g = try ModelStore.shared.generator(m)
            var w = l.space == "z" ? try g.mapping(l.codes) : l.codes
            w = try truncated(w, codes: l.space == "z" ? l.codes : nil, ctx: ctx, model: m, generator: g)
            let noise: StyleGAN2Noise
            switch ctx.string("noise") {
            case "zero": noise = .zero
            case "random": noise = .random(seed: UInt64(ctx.int("noise_seed")))
            default: noise = .const
            }
            let raw = try g.synthesis(w, noise: noise).detached
            let images = try Image.images(from: raw)
            let sheet = images.count == 1 ? images[0] : try Image.grid(images, columns: ctx.int("columns"), padding: 2, background: [255])
            return NodeResult(outputs: ["out": .image(sheet), "raw": .tensor(raw)])
        })
}
