import Foundation
import Graph
import Imaging
import Models
import TensorCore
import Text

/// Inversion into W+: an encoder's codes for faces (`encode.image`), and instance-level
/// optimization of codes toward a target image or attribute values (`optimize`).
enum EncoderOps {
    static let encoderParam = ParamSpec("encoder", .model, default: .string(""),
                                        doc: "an encoder (default: the graph's only one, else the shipped image_encoder)", modelKind: "encoder")
    static let attributesParam = ParamSpec("attributes_model", .model, default: .string(""),
                                           doc: "the attribute network of the feature and attribute terms (default: the shipped one)", modelKind: "attributes")

    /// Faces as a batch `(N,3,size,size)` in [-1, 1], from an Image (any size: centre-cropped to a
    /// square and area-resized, each said in a note) or a `(N,3,H,W)` tensor such as `synthesize`'s `raw`.
    static func faces(_ v: Value, size: Int, what: String) throws -> (Tensor, [String]) {
        switch v {
        case let .image(img):
            let (square, notes) = try fitted(img, size: size, what: what)
            return (try square.withChannels(3).tensor().reshaped([1, 3, size, size]), notes)
        case let .tensor(t):
            guard t.rank == 4, t.shape[1] == 3, t.shape[0] >= 1 else {
                throw NodeError("\(what): expected images (N,3,H,W) in [-1,1] (e.g. synthesize's raw), got \(t.shape)")
            }
            if t.shape[2] == size && t.shape[3] == size { return (t, []) }
            guard t.shape[2] == t.shape[3] else { throw NodeError("\(what): the images are \(t.shape[3])×\(t.shape[2]); the model reads square \(size)×\(size)") }
            return (try t.resized(height: size, width: size, method: .area),
                    ["\(what): resized \(t.shape[3])×\(t.shape[2]) → \(size)×\(size) (area) for the model"])
        default:
            throw NodeError("\(what): expected an image, got \(v.kind.rawValue)")
        }
    }

    /// The centre square of `pixels` (`width·height·channels`), so a non-square input keeps its middle.
    static func centreSquare<T>(_ pixels: [T], width: Int, height: Int, channels: Int) -> (pixels: [T], side: Int) {
        let side = min(width, height)
        guard width != height else { return (pixels, side) }
        let (x0, y0) = ((width - side) / 2, (height - side) / 2)
        var out: [T] = []
        out.reserveCapacity(side * side * channels)
        for y in 0..<side {
            let src = ((y0 + y) * width + x0) * channels
            out += pixels[src..<(src + side * channels)]
        }
        return (out, side)
    }

    /// `img` centre-cropped to a square and area-resized to `size`, with a note for each change.
    static func fitted(_ img: Image, size: Int, what: String) throws -> (Image, [String]) {
        var notes: [String] = []
        var img = img
        if img.width != img.height {
            let (px, side) = centreSquare(img.pixels, width: img.width, height: img.height, channels: img.channels)
            notes.append("\(what): cropped \(img.width)×\(img.height) to its centre \(side)×\(side)")
            img = try Image(width: side, height: side, channels: img.channels, pixels: px)
        }
        if img.width != size {
            notes.append("\(what): resized \(img.width)×\(img.height) → \(size)×\(size) (area) for the model")
            img = try img.resized(width: size, height: size, method: .area)
        }
        return (img, notes)
    }

    static let encodeImage = NodeSpec(
        name: "encode.image", summary: "faces → their W+ codes by an image encoder (StyleGAN inversion, one pass)",
        inputs: [PortSpec("in", accepts: [.image, .tensor], doc: "a face (any size: centre-cropped and resized to the encoder's) or a batch (N,3,H,W) in [-1,1]")],
        outputs: [("out", .latent)],
        params: [encoderParam],
        inferTypes: { ctx in
            var t = ValueType(.latent, latentSpace: "w+")
            if let name = ctx.params["encoder"]?.stringValue, let m = ctx.models[name] { t.layers = ModelStore.encoderLayers(m) }
            return ["out": t]
        },
        run: { ctx in
            let e = try ModelStore.shared.encoder(try ctx.model("encoder"))
            let (x, notes) = try faces(try ctx.input("in"), size: e.config.size, what: "in")
            return NodeResult(outputs: ["out": .latent(Latent(space: "w+", codes: try e(x).detached))], notes: notes)
        })

    static let optimize = NodeSpec(
        name: "optimize", summary: "refine W+ codes by Adam toward a target image, a layout, a caption and/or attribute values (TediGAN's instance-level optimization)",
        inputs: [
            PortSpec("init", accepts: [.latent], doc: "start codes: w+ (e.g. encode.image's), or w (every layer)"),
            PortSpec("target", accepts: [.image, .tensor], optional: true, doc: "the face(s) to reconstruct, one per code, or one for all"),
            PortSpec("label", accepts: [.labelMap, .tensor], optional: true, doc: "a layout to enforce: a label map (or parse.face's ids), one per code, or one for all"),
            PortSpec("text", accepts: [.text], optional: true, doc: "a caption the faces should fit (generation) or an instruction (editing: with lambda_reg)"),
        ],
        outputs: [("out", .latent), ("image", .image)],
        params: [
            GeneratorOps.modelParam, encoderParam, attributesParam, LayoutOps.optimizeParserParam, TextOps.similarityParam,
            ParamSpec("steps", .int(min: 1, max: 100_000), default: .int(100), doc: "Adam steps (TediGAN: 100–200 from the encoder's codes)"),
            ParamSpec("lr", .float(min: 1e-6, max: 10), default: .float(0.01), doc: "Adam's learning rate"),
            ParamSpec("lambda_pix", .float(min: 0, max: nil), default: .float(1), doc: "weight of ‖G(w) − target‖² (mean over pixels, images in [-1,1])"),
            ParamSpec("lambda_feat", .float(min: 0, max: nil), default: .float(0.5), doc: "weight of the perceptual distance in the attribute network's features"),
            ParamSpec("lambda_dom", .float(min: 0, max: nil), default: .float(0), doc: "weight of ‖w − E(G(w))‖², keeping w in the encoder's domain (TediGAN: 2)"),
            ParamSpec("lambda_reg", .float(min: 0, max: nil), default: .float(0), doc: "weight of ‖w − init‖², keeping what an edit does not ask for"),
            ParamSpec("lambda_attr", .float(min: 0, max: nil), default: .float(1), doc: "weight of the attribute heads' error against `attributes`"),
            ParamSpec("lambda_label", .float(min: 0, max: nil), default: .float(1), doc: "weight of the face parser's cross-entropy of G(w) against `label`"),
            ParamSpec("lambda_text", .float(min: 0, max: nil), default: .float(1), doc: "weight of 1 − S(text, G(w)), the similarity model's cosine"),
            ParamSpec("layers", .string, default: .string("all"), doc: "W+ layers that move: \"all\", \"0-3\", \"4,5,8\""),
            ParamSpec("attributes", .string, default: .string(""), doc: "attribute values to push G(w) toward, e.g. \"hair_color=gray, eyeglasses=true\""),
        ],
        inferTypes: { ctx in
            var t = ValueType(.latent, latentSpace: "w+")
            if let name = ctx.params["model"]?.stringValue, let m = ctx.models[name] { t.layers = ModelStore.layers(m) }
            return ["out": t, "image": ValueType(.image)]
        },
        check: { ctx in
            var problems: [(message: String, param: String?)] = []
            if let text = ctx.params["attributes"]?.stringValue, !text.contains("${") {
                do { _ = try AttributePins(parsing: text) } catch { problems.append(("\(error)", "attributes")) }
            }
            if let text = ctx.params["layers"]?.stringValue, !text.contains("${") {
                let count = ctx.params["model"]?.stringValue.flatMap { ctx.models[$0] }.flatMap(ModelStore.layers)
                if case let .failure(e) = LatentOps.parseLayers(text, count: count) { problems.append((e.message, "layers")) }
            }
            if let t = ctx.inputTypes["init"], t.latentSpace == "z" { problems.append(("optimize starts from w or w+ codes; map z first", nil)) }
            let usesLabel = ctx.inputTypes["label"] != nil && (ctx.params["lambda_label"]?.doubleValue ?? 1) > 0
            let usesText = ctx.inputTypes["text"] != nil && (ctx.params["lambda_text"]?.doubleValue ?? 1) > 0
            if usesText, case let .failure(e)? = TextOps.inlineCaption(ctx, port: "text", param: "similarity") { problems.append((e.description, nil)) }
            let hasTarget = ctx.inputTypes["target"] != nil || usesLabel || usesText
            let hasPins = !(ctx.params["attributes"]?.stringValue ?? "").trimmingCharacters(in: .whitespaces).isEmpty
            if !hasTarget && !hasPins && (ctx.params["lambda_dom"]?.doubleValue ?? 0) == 0 {
                problems.append(("nothing to optimize toward: connect a `target` image, `label` map or `text`, or give `attributes`", nil))
            }
            return problems
        },
        advise: { ctx in
            guard case let .success(e)? = TextOps.inlineCaption(ctx, port: "text", param: "similarity") else { return [] }
            return e.notes
        },
        run: { ctx in
            guard case let .latent(l) = try ctx.input("init") else { throw NodeError("optimize needs latent codes on `init`") }
            guard l.space != "z" else { throw NodeError("optimize starts from w or w+ codes; map z first") }
            let g = try ModelStore.shared.generator(try ctx.model())
            let w0 = try l.space == "w+" ? l.codes : g.broadcastLatent(l.codes)
            var notes: [String] = []
            var target: Tensor?
            if let v = ctx.inputs["target"]?.first {
                let (t, n) = try faces(v, size: g.config.size, what: "target")
                notes += n
                guard t.shape[0] == w0.shape[0] || t.shape[0] == 1 else {
                    throw NodeError("optimize: \(w0.shape[0]) code\(w0.shape[0] == 1 ? "" : "s") on `init` but \(t.shape[0]) target images; give one per code, or one for all")
                }
                // One target for every code.
                target = t.shape[0] == w0.shape[0] ? t : try Tensor.concat([Tensor](repeating: t, count: w0.shape[0]), axis: 0)
            }
            var labels: [[UInt8]]?
            if let v = ctx.inputs["label"]?.first {
                let (m, n) = try LayoutOps.labelMaps(v, size: g.config.size, what: "label")
                notes += n
                guard m.count == w0.shape[0] || m.count == 1 else {
                    throw NodeError("optimize: \(w0.shape[0]) code\(w0.shape[0] == 1 ? "" : "s") on `init` but \(m.count) label maps; give one per code, or one for all")
                }
                labels = m.count == w0.shape[0] ? m : [[UInt8]](repeating: m[0], count: w0.shape[0])   // one layout for every code
            }
            let layers = try LatentOps.parseLayers(ctx.string("layers"), count: g.nLatent).get()
            let options = LatentOptimizer.Options(
                steps: ctx.int("steps"), learningRate: Float(ctx.double("lr")), pixel: Float(ctx.double("lambda_pix")),
                feature: Float(ctx.double("lambda_feat")), domain: Float(ctx.double("lambda_dom")),
                regularization: Float(ctx.double("lambda_reg")), attribute: Float(ctx.double("lambda_attr")),
                label: Float(ctx.double("lambda_label")), text: Float(ctx.double("lambda_text")), layers: layers.count == g.nLatent ? nil : layers)
            let pins = try AttributePins(parsing: ctx.string("attributes"))
            var text: (model: SimilarityModel, embeddings: Tensor)?
            if case let .text(caption)? = ctx.inputs["text"]?.first, options.text > 0 {
                let s = try ModelStore.shared.similarity(try ctx.model("similarity"))
                do {
                    let (e, n) = try s.embed(texts: [caption])
                    text = (s, e)
                    notes += n[0]
                } catch let e as TextError { throw NodeError("text: \(e.description)") }
            }
            let needsNet = (target != nil && options.feature > 0) || (!pins.isEmpty && options.attribute > 0) || text != nil
            let opt = try LatentOptimizer(options: options, generator: g, initial: w0.detached, target: target,
                                          attributes: needsNet ? ModelStore.shared.attributes(try ctx.model("attributes_model")) : nil,
                                          encoder: options.domain > 0 ? ModelStore.shared.encoder(try ctx.model("encoder")) : nil, pins: pins,
                                          labels: labels, parser: labels != nil && options.label > 0 ? ModelStore.shared.parser(try ctx.model("parser")) : nil,
                                          text: text)
            var state: LatentOptimizer.State
            if let c = ctx.checkpoint {
                state = try c.run(steps: options.steps, every: 10, initial: { opt.start() }, encode: encodeState, decode: decodeState,
                                  isCancelled: ctx.isCancelled) { s, i in
                    _ = try opt.step(&s)
                    ctx.progress(i + 1, options.steps)
                }.state
            } else {
                state = opt.start()
                while state.step < options.steps {
                    if ctx.isCancelled() { throw NodeCancelled() }
                    _ = try opt.step(&state)
                    ctx.progress(state.step, options.steps)
                }
            }
            let images = try Image.images(from: g.synthesis(state.w, noise: .const).detached)
            let sheet = images.count == 1 ? images[0] : try Image.grid(images, columns: min(8, images.count), padding: 2, background: [255])
            return NodeResult(outputs: ["out": .latent(Latent(space: "w+", codes: state.w.detached)), "image": .image(sheet)], notes: notes)
        })

    /// The optimizer's state as safetensors bytes (`w`, Adam's `opt.*`, `step`).
    static func encodeState(_ s: LatentOptimizer.State) -> [UInt8] {
        var t: [String: Tensor] = ["w": s.w]
        for (k, v) in s.adam { t["opt." + k] = v }
        return (try? SafeTensors.encode(t, metadata: ["step": String(s.step)])) ?? []
    }

    static func decodeState(_ b: [UInt8]) -> LatentOptimizer.State? {
        guard let f = try? SafeTensors.File(bytes: b), let step = f.metadata["step"].flatMap(Int.init), let w = try? f.tensor("w") else { return nil }
        var adam: [String: Tensor] = [:]
        for name in f.names where name.hasPrefix("opt.") { adam[String(name.dropFirst(4))] = try? f.tensor(name) }
        return LatentOptimizer.State(w: w, adam: adam, step: step)
    }
}
