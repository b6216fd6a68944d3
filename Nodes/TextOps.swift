import Foundation
import Graph
import Models
import TensorCore
import Text

/// Text into W+: `encode.text` reads a caption with the text encoder and writes codes that show
/// what it states, seeded for everything it leaves open.
enum TextOps {
    static let encoderParam = ParamSpec("encoder", .model, default: .string(""),
                                        doc: "a text encoder (default: the graph's only one, else the shipped text_encoder)", modelKind: "text encoder")

    /// optimize's similarity model: needed only when a `text` is connected.
    static let similarityParam = ParamSpec("similarity", .model, default: .string(""),
                                           doc: "the text–image similarity model of the text term (default: the graph's only one, else the shipped similarity)",
                                           modelKind: "similarity", modelFor: "text")

    /// The vocabulary in a text model's file header (nil when unreadable).
    static func vocabulary(_ m: ModelRef) -> Vocabulary? {
        guard let f = try? SafeTensors.File(path: m.url.path), let v = f.metadata["text.vocab"] else { return nil }
        return Vocabulary(metadata: v)
    }

    /// A caption known at check time, read by the vocabulary of model param `param`: its notes, or the tokenizer's error.
    static func inlineCaption(_ ctx: NodeTypingContext, port: String, param: String) -> Result<EncodedText, TextError>? {
        guard let text = ctx.inputTypes[port]?.text, let name = ctx.params[param]?.stringValue, let m = ctx.models[name],
              let v = vocabulary(m) else { return nil }
        do { return .success(try v.encode(text)) } catch let e as TextError { return .failure(e) } catch { return nil }
    }

    /// What the text encoder reads in a caption known at check time, as `encode.text` will say
    /// it when it runs ("read: …"), so `tedi check` and `tedi plan` preview it; nil when the
    /// caption or the model is not known yet or cannot be read.
    static func preview(_ ctx: NodeTypingContext, port: String) -> String? {
        guard let text = ctx.inputTypes[port]?.text, let name = ctx.params["encoder"]?.stringValue, let m = ctx.models[name],
              let t = try? ModelStore.shared.textEncoder(m), let r = try? t.read([text]).first else { return nil }
        return r.stated.isEmpty ? "read no attribute in the caption; the faces follow the seed alone" : "read: \(r.pins)"
    }

    static let encodeText = NodeSpec(
        name: "encode.text", summary: "a caption → W+ codes of faces that show what it states; the seed picks everything it leaves open",
        inputs: [PortSpec("in", accepts: [.text], doc: "a caption in your own words (\"a smiling woman with long blond hair, no glasses\")")],
        outputs: [("out", .latent), ("read", .text)],
        params: [
            GeneratorOps.modelParam, encoderParam,
            ParamSpec("seed", .int(min: 0, max: nil), default: .string("${seed}"), doc: "seed of what the caption leaves open (default: the run's seed)"),
            ParamSpec("count", .int(min: 1, max: 256), default: .int(1), doc: "how many codes (faces) from consecutive draws of the seed"),
        ],
        inferTypes: { ctx in
            var t = ValueType(.latent, latentSpace: "w+")
            if let name = ctx.params["model"]?.stringValue, let m = ctx.models[name] { t.layers = ModelStore.layers(m) }
            return ["out": t]
        },
        check: { ctx in
            if case let .failure(e)? = inlineCaption(ctx, port: "in", param: "encoder") { return [(e.description, nil)] }
            if let name = ctx.params["model"]?.stringValue, let m = ctx.models[name], let c = ModelStore.knownConfig(m), !c.conditioning {
                return [("model '\(name)' is not conditioned on attributes; encode.text writes codes through a generator trained with `tedi train generator --condition` (e.g. the shipped synthfaces64)", "model")]
            }
            return []
        },
        advise: { ctx in
            guard case let .success(e)? = inlineCaption(ctx, port: "in", param: "encoder") else { return [] }
            return e.notes + (preview(ctx, port: "in").map { [$0] } ?? [])
        },
        run: { ctx in
            guard case let .text(caption) = try ctx.input("in") else { throw NodeError("in: expected a caption") }
            let t = try ModelStore.shared.textEncoder(try ctx.model("encoder"))
            let g = try ModelStore.shared.generator(try ctx.model())
            let reading: TextEncoder.Reading
            do { reading = try t.read([caption])[0] } catch let e as TextError { throw NodeError("in: \(e.description)") }
            let (codes, dropped) = try TextEncoder.latent(stated: reading.stated, confidence: reading.confidence, generator: g,
                                                           count: ctx.int("count"), seed: UInt64(ctx.int("seed")))
            var notes = reading.text.notes + dropped
            notes.append(reading.stated.isEmpty ? "read no attribute in the caption; the faces follow the seed alone" : "read: \(reading.pins)")
            return NodeResult(outputs: ["out": .latent(Latent(space: "w+", codes: codes)), "read": .text(reading.pins)], notes: notes)
        })

    static let editText = NodeSpec(
        name: "edit.text", summary: "edit W+ codes as an instruction says (\"make her hair blond\", \"remove the glasses\"), keeping what it does not mention",
        inputs: [
            PortSpec("in", accepts: [.latent], doc: "the codes of the faces to edit: w+ (e.g. encode.image's) or w"),
            PortSpec("text", accepts: [.text], doc: "the instruction or a description of what should change"),
        ],
        outputs: [("out", .latent), ("read", .text)],
        params: [
            GeneratorOps.modelParam, encoderParam, EncoderOps.attributesParam,
            ParamSpec("strength", .float(min: 0, max: 10), default: .float(1), doc: "how far to move along the attribute direction (1: from what the face shows to what is asked)"),
            ParamSpec("layers", .string, default: .string("all"), doc: "W+ layers that change: \"all\", \"0-3\", \"4,5,8\""),
        ],
        inferTypes: { ctx in
            var t = ValueType(.latent, latentSpace: "w+")
            if let name = ctx.params["model"]?.stringValue, let m = ctx.models[name] { t.layers = ModelStore.layers(m) }
            return ["out": t]
        },
        check: { ctx in
            var problems: [(message: String, param: String?)] = []
            if case let .failure(e)? = inlineCaption(ctx, port: "text", param: "encoder") { problems.append((e.description, nil)) }
            if let text = ctx.params["layers"]?.stringValue, !text.contains("${") {
                let count = ctx.params["model"]?.stringValue.flatMap { ctx.models[$0] }.flatMap(ModelStore.layers)
                if case let .failure(e) = LatentOps.parseLayers(text, count: count) { problems.append((e.message, "layers")) }
            }
            if let t = ctx.inputTypes["in"], t.latentSpace == "z" { problems.append(("edit.text edits w or w+ codes; map z first", nil)) }
            if let name = ctx.params["model"]?.stringValue, let m = ctx.models[name], let c = ModelStore.knownConfig(m), !c.conditioning {
                problems.append(("model '\(name)' is not conditioned on attributes; edit.text moves codes along the attribute embedding of a generator trained with `tedi train generator --condition` (e.g. the shipped synthfaces64)", "model"))
            }
            return problems
        },
        advise: { ctx in
            guard case let .success(e)? = inlineCaption(ctx, port: "text", param: "encoder") else { return [] }
            return e.notes
        },
        run: { ctx in
            guard case let .latent(l) = try ctx.input("in") else { throw NodeError("in: expected latent codes") }
            guard l.space != "z" else { throw NodeError("edit.text edits w or w+ codes; map z first") }
            guard case let .text(instruction) = try ctx.input("text") else { throw NodeError("text: expected an instruction") }
            let g = try ModelStore.shared.generator(try ctx.model())
            let t = try ModelStore.shared.textEncoder(try ctx.model("encoder"))
            let reading: TextEncoder.Reading
            do { reading = try t.read([instruction])[0] } catch let e as TextError { throw NodeError("text: \(e.description)") }
            var notes = reading.text.notes
            let w = try l.space == "w+" ? l.codes : g.broadcastLatent(l.codes)
            guard !reading.stated.isEmpty else {
                notes.append("read no attribute in the instruction; the codes are unchanged")
                return NodeResult(outputs: ["out": .latent(Latent(space: "w+", codes: w)), "read": .text("")], notes: notes)
            }
            let layers = try LatentOps.parseLayers(ctx.string("layers"), count: g.nLatent).get()
            let (codes, changes) = try TextEdit.apply(w, stated: reading.stated, generator: g,
                                                      net: try ModelStore.shared.attributes(try ctx.model("attributes_model")),
                                                      strength: Float(ctx.double("strength")), layers: layers.count == g.nLatent ? nil : layers)
            notes.append("read: \(reading.pins)")
            for (i, c) in changes.enumerated() where !c.isEmpty { notes.append("face \(i): \(c.joined(separator: ", "))") }
            if changes.allSatisfy(\.isEmpty) { notes.append("every face already shows what the instruction asks; moved toward it anyway") }
            return NodeResult(outputs: ["out": .latent(Latent(space: "w+", codes: codes)), "read": .text(reading.pins)], notes: notes)
        })
}
