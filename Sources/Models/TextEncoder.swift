import Foundation
import SynthFaces
import TensorCore
import Text

/// tedi's text encoder T: a caption → what it says about each attribute → codes in W+.
///
/// The network reads a caption into one distribution per categorical attribute over its values
/// plus "not stated" (`AttributeHeads.categorical`, 19 heads):
/// ```
/// ids (N,L)                       word ids (Vocabulary), 0 = padding
/// embed (V,d)                     e (N,L,d), padding rows zeroed
/// conv1 [e₋₁, e, e₊₁] 3d → h       relu                        windows of 3 words ("without a hat")
/// conv2 [h₋₁, h, h₊₁] 3h → h       relu, + the input (residual)   windows of 5
/// attn h → 19                     per attribute, softmax over the words → pooled (N,19,h)
/// head.<name> h → values + 1      logits; the last class is "not stated"
/// ```
/// Each attribute attends to the words about it, so "a woman without glasses, red sweater" puts
/// eyeglasses on "without glasses" and clothing on "red sweater".
///
/// Codes: `latent` turns the stated values into a conditioned generator's W+ codes: z from the
/// seed, its attribute draws resampled until they show what the caption states
/// (`AttributePins.apply`, so the rest follow the data's priors given those), then w =
/// mapping(z) + the condition term — the code lies where the generator puts faces with those
/// attributes, and everything the caption leaves open varies with the seed. This is TediGAN's
/// visual-linguistic alignment through the generator's own condition embedding: the text's
/// code and the image encoder's code of a face it describes share the condition term of the
/// stated attributes (`tedi eval text` measures how much closer T(c) is to E(x) of matching faces).
public struct TextEncoder {
    public struct Config: Equatable, Sendable {
        public var vocabulary: Vocabulary
        public var embedding: Int
        public var hidden: Int

        public init(vocabulary: Vocabulary, embedding: Int = 64, hidden: Int = 128) {
            self.vocabulary = vocabulary; self.embedding = embedding; self.hidden = hidden
        }

        public func validate() throws {
            guard vocabulary.count >= 3, vocabulary.count <= 100_000 else { throw ModelError("text encoder: the vocabulary has \(vocabulary.count) ids; expected 3...100000") }
            guard (1...1024).contains(embedding), (1...2048).contains(hidden) else {
                throw ModelError("text encoder: embedding \(embedding) and hidden \(hidden) must be in 1...1024 and 1...2048")
            }
        }

        public var metadata: [String: String] {
            ["arch": TextEncoder.arch, "embedding": String(embedding), "hidden": String(hidden), "text.vocab": vocabulary.metadataValue,
             "heads": AttributeHeads.categorical.map { "\($0.name):\($0.values.count)" }.joined(separator: ",")]
        }

        public init(metadata m: [String: String], path: String) throws {
            guard m["arch"] == TextEncoder.arch else {
                throw ModelError("\(path): not a tedi text encoder (metadata arch is '\(m["arch"] ?? "missing")', expected '\(TextEncoder.arch)')")
            }
            let heads = AttributeHeads.categorical.map { "\($0.name):\($0.values.count)" }.joined(separator: ",")
            guard m["heads"] == heads else { throw ModelError("\(path): the text encoder's attribute heads (\(m["heads"] ?? "missing")) are not this tedi's (\(heads))") }
            guard let v = m["text.vocab"] else { throw ModelError("\(path): the text encoder has no vocabulary (metadata text.vocab)") }
            let meta = MetadataReader(m, path: path)
            self.init(vocabulary: Vocabulary(metadata: v), embedding: try meta.int("embedding"), hidden: try meta.int("hidden"))
            try validate()
        }
    }

    public static let arch = "tedi-text-encoder-v1"

    public let config: Config
    public var params: [String: Tensor]

    public static func shapes(_ c: Config) -> [String: [Int]] {
        var s: [String: [Int]] = [
            "embed.weight": [c.vocabulary.count, c.embedding],
            "conv1.weight": [c.hidden, 3 * c.embedding], "conv1.bias": [c.hidden],
            "conv2.weight": [c.hidden, 3 * c.hidden], "conv2.bias": [c.hidden],
            "attn.weight": [AttributeHeads.categorical.count, c.hidden],
        ]
        for h in AttributeHeads.categorical {
            s["head.\(h.name).weight"] = [h.values.count + 1, c.hidden]
            s["head.\(h.name).bias"] = [h.values.count + 1]
        }
        return s
    }

    public init(config: Config, seed: UInt64) throws {
        try config.validate()
        self.config = config
        // Embeddings start at N(0, 1) (fan-in 1: the table is a lookup, not a product).
        params = try ModelParams.initialized(TextEncoder.shapes(config), seed: seed, gain: { $0 == "embed.weight" ? Float(config.embedding).squareRoot() : 1 })
    }

    public init(config: Config, params: [String: Tensor], path: String = "<params>") throws {
        try config.validate()
        self.config = config
        self.params = try ModelParams.checked(params, shapes: TextEncoder.shapes(config), path: path)
    }

    public static func load(_ path: String) throws -> TextEncoder {
        let (p, m) = try ModelParams.read(path)
        return try TextEncoder(config: try Config(metadata: m, path: path), params: p, path: path)
    }

    public func save(to path: String, extraMetadata: [String: String] = [:], dtype: SafeTensors.DType = .f32) throws {
        try ModelParams.save(params, metadata: config.metadata, extra: extraMetadata, to: path, dtype: dtype)
    }

    /// Captions as a padded id batch `(N·L)` row-major with L the longest, and a 0/1 mask of real words.
    static func batch(_ texts: [EncodedText]) throws -> (ids: [Int], mask: [Float], length: Int) {
        guard !texts.isEmpty else { throw ModelError("text encoder: no captions") }
        let l = texts.map(\.ids.count).max()!
        var ids = [Int](repeating: Vocabulary.padding, count: texts.count * l)
        var mask = [Float](repeating: 0, count: texts.count * l)
        for (n, t) in texts.enumerated() {
            for (i, id) in t.ids.enumerated() { ids[n * l + i] = id; mask[n * l + i] = 1 }
        }
        return (ids, mask, l)
    }

    /// `x (N,L,C)` with each position's neighbours: `(N·L, 3C)` = [x₋₁, x, x₊₁], zeros beyond the ends.
    static func windows(_ x: Tensor) throws -> Tensor {
        let (n, l, c) = (x.shape[0], x.shape[1], x.shape[2])
        guard l > 1 else {
            let z = try Tensor.zeros([n, 1, c])
            return try Tensor.concat([z, x, z], axis: 2).reshaped([n * l, 3 * c])
        }
        let z = try Tensor.zeros([n, 1, c])
        let prev = try Tensor.concat([z, x.slice(axis: 1, 0..<(l - 1))], axis: 1)
        let next = try Tensor.concat([x.slice(axis: 1, 1..<l), z], axis: 1)
        return try Tensor.concat([prev, x, next], axis: 2).reshaped([n * l, 3 * c])
    }

    /// The word features `(N,L,hidden)` (zero at padding) of the embedding and the two window
    /// convolutions, with the padding mask `(N·L)`; parameters named `prefix` + "embed.weight", ….
    static func trunk(_ texts: [EncodedText], embedding: Int, hidden: Int, params p: [String: Tensor], prefix: String = "") throws -> (h: Tensor, mask: [Float]) {
        let (ids, maskValues, l) = try batch(texts)
        let n = texts.count
        let mask = try Tensor(shape: [n, l, 1], scalars: maskValues)
        let e = try Tensor.embedding(ids, table: p[prefix + "embed.weight"]!).reshaped([n, l, embedding]) * mask
        let h1 = try (Tensor.linear(windows(e), weight: p[prefix + "conv1.weight"]!, bias: p[prefix + "conv1.bias"]!).relu().reshaped([n, l, hidden])) * mask
        let h2 = try (Tensor.linear(windows(h1), weight: p[prefix + "conv2.weight"]!, bias: p[prefix + "conv2.bias"]!).relu().reshaped([n, l, hidden]) + h1) * mask
        return (h2, maskValues)
    }

    /// Attention pooling of word features `h (N,L,C)`: one softmax over the words per row of
    /// `queries (Q,C)` (padding excluded), `(N,Q,C)`.
    static func pool(_ h: Tensor, mask: [Float], queries: Tensor) throws -> Tensor {
        let (n, l, c) = (h.shape[0], h.shape[1], h.shape[2]), q = queries.shape[0]
        let scores = try Tensor.linear(h.reshaped([n * l, c]), weight: queries).reshaped([n, l, q]).permuted([0, 2, 1])
        // Padding gets −1e4 so the softmax ignores it.
        let padBias = try Tensor(shape: [n, 1, l], scalars: mask.map { $0 > 0 ? 0 : -1e4 })
        return try Tensor.matmul(try (scores + padBias).softmax(), h)
    }

    /// Per-attribute logits `[(N, values + 1)]` in `AttributeHeads.categorical` order (differentiable in `params`).
    public static func forward(_ texts: [EncodedText], config c: Config, params p: [String: Tensor]) throws -> [Tensor] {
        let (h, mask) = try trunk(texts, embedding: c.embedding, hidden: c.hidden, params: p)
        let n = texts.count
        let pooled = try pool(h, mask: mask, queries: p["attn.weight"]!) // (N,heads,hidden)
        return try AttributeHeads.categorical.enumerated().map { j, head in
            let x = try pooled.slice(axis: 1, j..<(j + 1)).reshaped([n, c.hidden])
            return try Tensor.linear(x, weight: p["head.\(head.name).weight"]!, bias: p["head.\(head.name).bias"]!)
        }
    }

    /// Class targets per head for stated captions: the value's index, or `values.count` ("not stated").
    public static func targets(_ captions: [StatedCaption]) throws -> [[Int]] {
        try AttributeHeads.categorical.map { h in
            try captions.map { c in
                guard let v = c.stated[h.name] else { return h.values.count }
                guard let i = h.values.firstIndex(of: v) else { throw ModelError("text encoder: '\(v)' is not a value of \(h.name)") }
                return i
            }
        }
    }

    /// Mean over heads of the cross-entropy against `targets` (from `targets(_:)`).
    public static func loss(_ logits: [Tensor], targets: [[Int]]) throws -> Tensor {
        var total: Tensor?
        for (l, t) in zip(logits, targets) {
            let ce = try Tensor.crossEntropy(l, targets: t)
            total = try total.map { try $0 + ce } ?? ce
        }
        return total!.scaled(1 / Float(logits.count))
    }

    /// What a caption states, as read by the network.
    public struct Reading: Equatable, Sendable {
        /// Stated values by attribute name (the most likely class when it is not "not stated").
        public var stated: [String: String]
        /// Per head: the probability of each value and of "not stated" (last).
        public var probabilities: [[Float]]
        /// Unknown words, corrections, dropped symbols.
        public var text: EncodedText

        /// The probability of each stated value, by attribute name.
        public var confidence: [String: Float] {
            var c: [String: Float] = [:]
            for (h, head) in AttributeHeads.categorical.enumerated() {
                if let v = stated[head.name], let i = head.values.firstIndex(of: v) { c[head.name] = probabilities[h][i] }
            }
            return c
        }

        /// "hair_color=blond, eyeglasses=true" in head order, as `sample`'s `attributes`.
        public var pins: String {
            AttributeHeads.categorical.compactMap { h in stated[h.name].map { "\(h.name)=\($0)" } }.joined(separator: ", ")
        }
    }

    /// Reads captions (each tokenized by the model's vocabulary; throws for an unreadable one).
    public func read(_ captions: [String]) throws -> [Reading] {
        let texts = try captions.map { try config.vocabulary.encode($0) }
        return try read(encoded: texts)
    }

    func read(encoded texts: [EncodedText]) throws -> [Reading] {
        let logits = try TextEncoder.forward(texts, config: config, params: params).map { try $0.detached.softmax() }
        let marks = Set([",", "."].compactMap { config.vocabulary.id($0) })
        return texts.enumerated().map { n, t in
            var stated: [String: String] = [:]
            var probs: [[Float]] = []
            // A caption with no word the model knows ("un homme chauve") states nothing: the heads
            // would otherwise answer from their biases alone.
            let knowsAWord = t.ids.contains { $0 > Vocabulary.unknown && !marks.contains($0) }
            for (h, head) in AttributeHeads.categorical.enumerated() {
                let k = head.values.count + 1
                let row = Array(logits[h].scalars[(n * k)..<((n + 1) * k)])
                probs.append(row)
                let best = row.indices.max { row[$0] < row[$1] }!
                if best < head.values.count && knowsAWord { stated[head.name] = head.values[best] }
            }
            return Reading(stated: stated, probabilities: probs, text: t)
        }
    }

    /// W+ codes `(count, layers, dim)` that show `stated` (attribute name → value): codes of seed
    /// `seed` whose attribute draws are resampled until they show the values (the rest follow
    /// the data's priors given them), mapped and broadcast to every layer. When SynthFaces'
    /// priors rule the combination out (a beard on a feminine face), the least sure value whose
    /// removal alone makes it possible is dropped, with a note (the least sure of all when no single
    /// one does, then again). Throws for a generator that is not conditioned.
    public static func latent(stated: [String: String], confidence: [String: Float] = [:], generator g: StyleGAN2Generator,
                              count: Int, seed: UInt64) throws -> (codes: Tensor, notes: [String]) {
        guard g.config.conditioning else {
            throw ModelError("text codes come from a generator conditioned on attributes (tedi train generator --condition); this one is not")
        }
        let z0 = try g.randomZ(count: count, seed: seed)
        func pins(_ values: [String: String]) throws -> AttributePins {
            try AttributePins(parsing: AttributeHeads.categorical.compactMap { h in values[h.name].map { "\(h.name)=\($0)" } }.joined(separator: ", "))
        }
        var kept = stated, notes: [String] = []
        while true {
            do {
                let p = try pins(kept)
                let z = p.isEmpty ? z0 : try p.apply(to: z0, seed: seed)
                return (try g.broadcastLatent(try g.mapping(z)).detached, notes)
            } catch is ImpossiblePins where kept.count > 1 {
                // Probe on one row: the least sure value whose removal alone makes the rest possible.
                let order = kept.keys.sorted().sorted { (confidence[$0] ?? 1) < (confidence[$1] ?? 1) }
                var culprit = order[0]
                for k in order {
                    var rest = kept
                    rest[k] = nil
                    do {
                        _ = try pins(rest).apply(to: z0.slice(axis: 0, 0..<1), seed: seed)
                        culprit = k
                        break
                    } catch is ImpossiblePins { continue }
                }
                notes.append("\(culprit)=\(kept[culprit]!) dropped: SynthFaces' faces never show it with \(kept.filter { $0.key != culprit }.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: ", "))")
                kept[culprit] = nil
            }
        }
    }
}
