import Foundation
import SynthFaces
import TensorCore
import Text

/// `tedi eval text`: text → face on held-out captions (TediGAN's table on our data), for
/// SynthFaces grammar captions of test faces and for a paraphrase set written by hand.
public enum TextEval {
    public struct Row: Sendable {
        public var set: String
        public var method: String
        /// Share of the attributes the captions state that the method read as stated (nil: it reads nothing).
        public var read: Double?
        /// Acc: share of the attributes the captions state that the attribute network reads in the output.
        public var acc: Double
        /// For captions that rule values out ("not bald"): the share of those values the method did
        /// not read, and the share the attribute network does not read in the output (nil: none ruled out).
        public var readAvoided: Double?
        public var accAvoided: Double?
        public var fid: Double
        /// Real: k-NN precision against the renders.
        public var real: Double
        /// LPIPS-style distance between two seeds of one caption (random samples: between samples).
        public var diversity: Double
        public var secondsPerImage: Double
    }

    public struct Models {
        public var generator: StyleGAN2Generator
        public var attributes: AttributeNet
        public var text: TextEncoder
        /// For the optimize rows and the edits.
        public var similarity: SimilarityModel?
        public var image: LatentEncoder?
        public init(generator: StyleGAN2Generator, attributes: AttributeNet, text: TextEncoder, similarity: SimilarityModel? = nil, image: LatentEncoder? = nil) {
            self.generator = generator; self.attributes = attributes; self.text = text; self.similarity = similarity; self.image = image
        }
    }

    public struct Options: Sendable {
        public var count = 1000
        /// Captions whose diversity is measured (two seeds each).
        public var diversityCount = 64
        /// Captions (from the first) refined by optimize, and its steps.
        public var optimizeCount = 128
        public var steps = 20
        /// Faces edited, and the strength of the attribute direction.
        public var editCount = 200
        public var strength: Float = 1
        /// The edit refinement's feature weight (toward the source) and ‖w − w_edit‖² weight.
        public var editFeature: Float = 1
        public var editRegularization: Float = 0
        public var dataSeed: UInt64 = 0
        public var seed: UInt64 = 11
        public init() {}
    }

    /// The held-out grammar captions: one per test face 0..<count (its first), with what it states.
    public static func grammarCaptions(count: Int, dataSeed: UInt64) throws -> [StatedCaption] {
        try (0..<count).map { i in
            let index = try SynthFaces.Split.test.index(i)
            return Paraphraser.stated(try SynthFaces.captions(seed: dataSeed, index: index)[0], try SynthFaces.attributes(seed: dataSeed, index: index))
        }
    }

    /// Captions from a file of `caption<TAB>name=value, …` lines (`#` lines and blank lines
    /// skipped; `name!=value` for a value the caption rules out while leaving the attribute open),
    /// values checked against the attribute heads; errors name the line.
    public static func captions(file path: String) throws -> [StatedCaption] {
        let bytes = try FileIO.readAll(path, limit: 16 << 20)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ModelError("\(path) is not UTF-8 text") }
        var out: [StatedCaption] = []
        for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let l = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if l.isEmpty || l.hasPrefix("#") { continue }
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw ModelError("\(path):\(n + 1): expected a caption, a TAB and name=value pairs, got \(parts.count - 1) TABs") }
            var stated: [String: String] = [:], excluded: [String: String] = [:]
            for item in parts[1].split(separator: ",") {
                var kv = item.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
                let not = kv.count == 2 && kv[0].hasSuffix("!")
                if not { kv[0] = String(kv[0].dropLast()).trimmingCharacters(in: .whitespaces) }
                guard kv.count == 2, let h = AttributeHeads.categorical.first(where: { $0.name == kv[0] }), h.values.contains(kv[1]) else {
                    throw ModelError("\(path):\(n + 1): '\(item.trimmingCharacters(in: .whitespaces))' is not an attribute=value (or attribute!=value) of SynthFaces (e.g. hair_color=blond)")
                }
                guard stated[kv[0]] == nil, excluded[kv[0]] == nil else { throw ModelError("\(path):\(n + 1): \(kv[0]) is given twice") }
                if not { excluded[kv[0]] = kv[1] } else { stated[kv[0]] = kv[1] }
            }
            out.append(StatedCaption(text: String(parts[0]).trimmingCharacters(in: .whitespaces), stated: stated, excluded: excluded))
        }
        guard out.count >= 2 else { throw ModelError("\(path): needs at least 2 captions, has \(out.count)") }
        return out
    }

    /// Share of `truth`'s stated values among `read`'s, over all captions.
    static func readShare(_ truth: [StatedCaption], _ read: [[String: String]]) -> Double {
        var right = 0, total = 0
        for (t, r) in zip(truth, read) {
            for (k, v) in t.stated { total += 1; if r[k] == v { right += 1 } }
        }
        return total == 0 ? 0 : Double(right) / Double(total)
    }

    /// Share of `truth`'s ruled-out values that `read` does not read as stated; nil when none is ruled out.
    static func readAvoided(_ truth: [StatedCaption], _ read: [[String: String]]) -> Double? {
        var avoided = 0, total = 0
        for (t, r) in zip(truth, read) {
            for (k, v) in t.excluded { total += 1; if r[k] != v { avoided += 1 } }
        }
        return total == 0 ? nil : Double(avoided) / Double(total)
    }

    /// Acc: share of the stated values the attribute network reads in `images`.
    static func acc(_ captions: [StatedCaption], _ images: Tensor, net: AttributeNet) throws -> Double {
        acc(captions, predictions: try batchedPredictions(images, net: net))
    }

    /// Acc from the attribute network's predictions of the images.
    static func acc(_ captions: [StatedCaption], predictions preds: [AttributeNet.Prediction]) -> Double {
        var right = 0, total = 0
        for (c, p) in zip(captions, preds) {
            for (h, head) in AttributeHeads.categorical.enumerated() {
                guard let v = c.stated[head.name] else { continue }
                total += 1
                if head.values[p.classes[h]] == v { right += 1 }
            }
        }
        return total == 0 ? 0 : Double(right) / Double(total)
    }

    /// Share of the ruled-out values the attribute network does not read in the images it
    /// predicted `preds` for; nil when none is ruled out.
    static func accAvoided(_ captions: [StatedCaption], predictions preds: [AttributeNet.Prediction]) -> Double? {
        readAvoided(captions, preds.map { p in
            Dictionary(uniqueKeysWithValues: AttributeHeads.categorical.enumerated().map { ($0.element.name, $0.element.values[p.classes[$0.offset]]) })
        })
    }

    static func batchedPredictions(_ images: Tensor, net: AttributeNet) throws -> [AttributeNet.Prediction] {
        var out: [AttributeNet.Prediction] = []
        try LayoutEval.batches(images.shape[0]) { out += try net.predict(images.slice(axis: 0, $0)) }
        return out
    }

    /// Rows for one caption set: random samples, the grammar's reading → conditioned sample, the text encoder.
    public static func run(_ m: Models, set: String, captions: [StatedCaption], options o: Options, log: (String) -> Void = { _ in }) throws -> [Row] {
        let g = m.generator, n = captions.count, size = g.config.size
        guard g.config.conditioning else { throw ModelError("text eval: the generator is not conditioned on attributes") }
        guard m.attributes.config.size == size else { throw ModelError("text eval: the attribute network reads \(m.attributes.config.size) px, the generator makes \(size) px") }
        let lo = try SynthFaces.Split.test.index(0)
        _ = try SynthFaces.Split.test.index(max(n, 2) - 1)
        let renders = try SynthFaces.imageTensor(try SynthFaces.samples(seed: o.dataSeed, indices: lo..<(lo + max(n, 2)), size: size))
        let realFeatures = try LayoutEval.batched(renders) { try m.attributes.features($0) }
        let synth = { (w: Tensor) throws -> Tensor in try LayoutEval.batched(w) { try g.synthesis($0, noise: .const) } }
        let nd = min(o.diversityCount, n)

        /// A row from what each caption is read as (nil: random samples); `refine` rewrites the codes of caption i.
        func row(_ method: String, readings: [[String: String]]?, confidence: [[String: Float]] = [], readSeconds: Double, count n: Int = n,
                 refine: ((Tensor, Int) throws -> Tensor)? = nil) throws -> Row {
            let captions = Array(captions.prefix(n)), nd = min(nd, n)
            let start = DispatchTime.now().uptimeNanoseconds
            func codes(_ i: Int, seed: UInt64) throws -> Tensor {
                let w = try TextEncoder.latent(stated: readings?[i] ?? [:], confidence: i < confidence.count ? confidence[i] : [:], generator: g, count: 1, seed: seed).codes
                return try refine.map { try $0(w, i) } ?? w
            }
            let w = try Tensor.concat(try (0..<n).map { try codes($0, seed: o.seed &+ UInt64($0)) }, axis: 0)
            let images = try synth(w)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 + readSeconds
            // Diversity: caption i with a second seed beside the first.
            let second = try synth(try Tensor.concat(try (0..<nd).map { try codes($0, seed: o.seed &+ 1_000_000 &+ UInt64($0)) }, axis: 0))
            let pairs = try Tensor.concat((0..<nd).flatMap { i in [try images.slice(axis: 0, i..<(i + 1)), try second.slice(axis: 0, i..<(i + 1))] }, axis: 0)
            let f = try LayoutEval.batched(images) { try m.attributes.features($0) }
            let preds = try batchedPredictions(images, net: m.attributes)
            let r = Row(set: set, method: method, read: readings.map { readShare(captions, $0) }, acc: acc(captions, predictions: preds),
                        readAvoided: readings.flatMap { readAvoided(captions, $0) }, accAvoided: accAvoided(captions, predictions: preds),
                        fid: try GANMetrics.fid(realFeatures, f), real: try GANMetrics.precisionRecall(real: realFeatures, fake: f).precision,
                        diversity: try GANMetrics.pairDistance(try LayoutEval.batched(pairs) { try m.attributes.features($0) }),
                        secondsPerImage: seconds / Double(n))
            log(String(format: "%@ / %@: Acc %.3f", set, method, r.acc))
            return r
        }
        var rows = [try row("random samples (baseline)", readings: nil, readSeconds: 0)]
        let (grammar, tg) = try InversionEval.timed { try captions.map { try GrammarReader.read($0.text) } }
        rows.append(try row("grammar parser → conditioned sample", readings: grammar, readSeconds: tg))
        let (readings, tt) = try InversionEval.timed { try m.text.read(captions.map(\.text)) }
        rows.append(try row("text encoder T → W+", readings: readings.map(\.stated), confidence: readings.map(\.confidence), readSeconds: tt))
        if let s = m.similarity, o.optimizeCount > 0 {
            let k = min(o.optimizeCount, n)
            let ((embeddings, _), ts) = try InversionEval.timed { try s.embed(texts: captions.prefix(k).map(\.text)) }
            // The reading time of the first k captions: their share of all n.
            let tk = tt * Double(k) / Double(n)
            rows.append(try row("text encoder T → W+ (first \(k) captions)", readings: readings.map(\.stated), confidence: readings.map(\.confidence), readSeconds: tk, count: k))
            rows.append(try row("T + optimize \(o.steps) steps, text term (first \(k) captions)", readings: readings.map(\.stated), confidence: readings.map(\.confidence),
                                readSeconds: tk + ts, count: k) { w, i in
                let opt = try LatentOptimizer(options: .init(steps: o.steps, learningRate: 0.02, pixel: 0, feature: 0, regularization: 1, text: 1), generator: g,
                                              initial: w, attributes: m.attributes, text: (s, try embeddings.slice(axis: 0, i..<(i + 1))))
                return try opt.run().w
            })
        }
        return rows
    }

    /// W-space alignment (TediGAN's visual–linguistic similarity): for `count` test renders and
    /// their first grammar caption, the mean squared distance in W+ between T's code of the
    /// caption and the image encoder's code of the render it describes, against the mean over
    /// renders it contradicts (some stated value differs); and the share of captions whose code
    /// lies closer to its own face than to the contradicting ones. Random codes (no caption) of the
    /// same seeds are the baseline (share ≈ 0.5).
    public struct Alignment: Sendable {
        public var count: Int
        public var matched: Double
        public var contradicting: Double
        public var closerShare: Double
        public var randomCloserShare: Double
    }

    public static func alignment(_ m: Models, count n: Int, dataSeed: UInt64, seed: UInt64) throws -> Alignment {
        guard let e = m.image else { throw ModelError("alignment: needs the image encoder") }
        let g = m.generator
        let lo = try SynthFaces.Split.test.index(0)
        _ = try SynthFaces.Split.test.index(n - 1)
        let samples = try SynthFaces.samples(seed: dataSeed, indices: lo..<(lo + n), size: g.config.size)
        let codes = try LayoutEval.batched(try SynthFaces.imageTensor(samples)) { try e($0) }
        let captions = samples.map { Paraphraser.stated($0.captions[0], $0.attributes) }
        let values = samples.map { Paraphraser.values($0.attributes) }
        let readings = try m.text.read(captions.map(\.text))
        let d = codes.count / n
        func distance(_ a: Tensor, _ j: Int) -> Double {
            var s = 0.0
            for k in 0..<d { let x = Double(a.scalars[k] - codes.scalars[j * d + k]); s += x * x }
            return s / Double(d)
        }
        var matched = 0.0, contradicting = 0.0, closer = 0, randomCloser = 0, counted = 0
        for i in 0..<n {
            let others = (0..<n).filter { j in j != i && captions[i].stated.contains { values[j][$0.key] != $0.value } }
            guard !others.isEmpty else { continue }
            let t = try TextEncoder.latent(stated: readings[i].stated, confidence: readings[i].confidence, generator: g, count: 1, seed: seed &+ UInt64(i)).codes
            let r = try TextEncoder.latent(stated: [:], generator: g, count: 1, seed: seed &+ UInt64(i)).codes
            let dm = distance(t, i), dc = others.map { distance(t, $0) }.reduce(0, +) / Double(others.count)
            matched += dm; contradicting += dc; counted += 1
            if dm < dc { closer += 1 }
            if distance(r, i) < others.map({ distance(r, $0) }).reduce(0, +) / Double(others.count) { randomCloser += 1 }
        }
        let c = Double(max(counted, 1))
        return Alignment(count: counted, matched: matched / c, contradicting: contradicting / c, closerShare: Double(closer) / c, randomCloserShare: Double(randomCloser) / c)
    }

    /// One editing method over the held-out faces.
    public struct EditRow: Sendable {
        public var method: String
        /// Share of (face, asked value) pairs the source did not show that the edited face shows.
        public var changed: Double
        /// Share of the other attributes read the same on the edited face as on the unedited reconstruction.
        public var kept: Double
        /// Perceptual distance (tedi's, the attribute network's conv maps) between the edited face and the source render.
        public var distance: Double
        public var secondsPerImage: Double
    }

    /// Editing on `editCount` test renders, instruction i mod count for face i: the image
    /// encoder's codes, edited by the instruction as T reads it along the generator's attribute
    /// direction (`TextEdit`), then refined by optimize's text term; and optimize's text term
    /// alone from the encoder's codes (TediGAN's way, with CLIP). Scored against the instruction's
    /// own labels.
    public static func runEdits(_ m: Models, instructions: [StatedCaption], options o: Options, log: (String) -> Void = { _ in }) throws -> [EditRow] {
        guard let e = m.image else { throw ModelError("edit eval: needs the image encoder") }
        let g = m.generator, n = o.editCount, size = g.config.size
        let lo = try SynthFaces.Split.test.index(0)
        _ = try SynthFaces.Split.test.index(n - 1)
        let x = try SynthFaces.imageTensor(try SynthFaces.samples(seed: o.dataSeed, indices: lo..<(lo + n), size: size))
        let asked = (0..<n).map { instructions[$0 % instructions.count] }
        let (w0, te) = try InversionEval.timed { try LayoutEval.batched(x) { try e($0) } }
        let synth = { (w: Tensor) throws -> Tensor in try LayoutEval.batched(w) { try g.synthesis($0, noise: .const) } }
        let before = try batchedPredictions(try synth(w0), net: m.attributes)
        let (readings, tr) = try InversionEval.timed { try m.text.read(asked.map(\.text)) }
        func score(_ method: String, _ w: Tensor, seconds: Double) throws -> EditRow {
            let y = try synth(w)
            let after = try batchedPredictions(y, net: m.attributes)
            var changed = 0, toChange = 0, kept = 0, others = 0
            for i in 0..<n {
                for (h, head) in AttributeHeads.categorical.enumerated() {
                    if let v = asked[i].stated[head.name] {
                        guard head.values[before[i].classes[h]] != v else { continue }
                        toChange += 1
                        if head.values[after[i].classes[h]] == v { changed += 1 }
                    } else {
                        others += 1
                        if after[i].classes[h] == before[i].classes[h] { kept += 1 }
                    }
                }
            }
            var total = 0.0
            try LayoutEval.batches(n) { r in
                total += Double(try Perceptual.distances(try y.slice(axis: 0, r), x.slice(axis: 0, r), net: m.attributes).detached.scalars.reduce(0, +))
            }
            let r = EditRow(method: method, changed: toChange == 0 ? 0 : Double(changed) / Double(toChange), kept: Double(kept) / Double(max(others, 1)),
                            distance: total / Double(n), secondsPerImage: seconds / Double(n))
            log(String(format: "edit / %@: changed %.3f kept %.3f", method, r.changed, r.kept))
            return r
        }
        var rows = [try score("no edit (the encoder's reconstruction)", w0, seconds: te)]
        let (edited, ta) = try InversionEval.timed {
            try Tensor.concat(try (0..<n).map { i in
                try TextEdit.apply(w0.slice(axis: 0, i..<(i + 1)), stated: readings[i].stated, generator: g, net: m.attributes, strength: o.strength).codes
            }, axis: 0)
        }
        rows.append(try score(String(format: "attribute direction (edit.text, strength %.1f)", o.strength), edited, seconds: te + tr + ta))
        if let s = m.similarity, o.optimizeCount > 0 {
            let (embeddings, _) = try s.embed(texts: asked.map(\.text))
            func refined(_ start: Tensor) throws -> (Tensor, Double) {
                try InversionEval.timed {
                    try Tensor.concat(try (0..<n).map { i in
                        let opt = try LatentOptimizer(options: .init(steps: o.steps, learningRate: 0.02, pixel: 0, feature: o.editFeature,
                                                                     regularization: o.editRegularization, text: 1), generator: g,
                                                      initial: start.slice(axis: 0, i..<(i + 1)), target: x.slice(axis: 0, i..<(i + 1)), attributes: m.attributes,
                                                      text: (s, try embeddings.slice(axis: 0, i..<(i + 1))))
                        return try opt.run().w
                    }, axis: 0)
                }
            }
            let (both, tb) = try refined(edited)
            rows.append(try score("attribute direction + optimize \(o.steps) steps (text term, features toward the source ×\(o.editFeature), lambda_reg \(o.editRegularization))",
                                  both, seconds: te + tr + ta + tb))
            let (alone, tc) = try refined(w0)
            rows.append(try score("optimize \(o.steps) steps alone from the encoder's codes (TediGAN's way, S for CLIP)", alone, seconds: te + tc))
        }
        return rows
    }

    public static func editMarkdown(_ rows: [EditRow]) -> String {
        var s = "| method | asked attribute changed | others kept | distance to the source | s / image |\n|---|---|---|---|---|\n"
        for r in rows { s += String(format: "| %@ | %.3f | %.3f | %.3f | %.3f |\n", r.method, r.changed, r.kept, r.distance, r.secondsPerImage) }
        return s
    }

    /// The similarity model on held-out (render, caption) pairs: retrieval, and attributes read zero-shot by prompts.
    public struct SimilarityReport: Sendable {
        public var pairs: Int
        /// Text → image: share of captions whose own render ranks in the top 1 / 5 / 10.
        public var recall: [Int: Double]
        /// Share of captions whose top-ranked render shows all the caption states (often another face: captions fit many).
        public var topFits: Double
        /// Per attribute: (zero-shot accuracy of S with one prompt per value, the attribute network's accuracy).
        public var zeroShot: [(name: String, similarity: Double, network: Double)]
        /// Negated prompts: on the faces that show either value, the share for which S ranks the
        /// right one of "not X" and "X" first ("a person who is not smiling" / "a smiling person").
        public var negations: [(prompt: String, faces: Int, right: Double)]
    }

    /// Negated prompt, plain prompt, attribute, the values "not" means, the values the plain prompt means.
    static let negationPrompts: [(String, String, String, Set<String>, Set<String>)] = [
        ("a person who is not smiling", "a smiling person", "expression", ["neutral"], ["smiling", "grinning"]),
        ("a person who isn't wearing glasses", "a person wearing glasses", "eyeglasses", ["false"], ["true"]),
        ("someone who does not wear a hat", "someone wearing a hat", "hat", ["false"], ["true"]),
        ("a man who doesn't have a beard", "a man with a beard", "facial_hair", ["none"], ["beard"]),
    ]

    /// Prompts of the zero-shot reading, one per value in `AttributeHeads` order.
    static let prompts: [(String, [String])] = [
        ("presentation", ["a woman", "a man"]),
        ("age", ["a young person", "a middle-aged person", "an old person"]),
        ("hair_color", ["a person with black hair", "a person with brown hair", "a person with blond hair", "a person with gray hair", "a person with red hair"]),
        ("hair_style", ["a person with short hair", "a person with long hair", "a person with bangs", "a person with wavy hair", "a bald person"]),
        ("expression", ["a person with a neutral expression", "a smiling person", "a person with a big open-mouthed smile", "a person with the mouth slightly open"]),
        ("eyeglasses", ["a person without glasses", "a person wearing glasses"]),
        ("hat", ["a person without a hat", "a person wearing a hat"]),
        ("facial_hair", ["a clean-shaven person", "a person with stubble", "a person with a mustache", "a person with a beard"]),
        ("clothing", ["a person in a black sweater", "a person in a white sweater", "a person in a gray sweater", "a person in a navy sweater",
                      "a person in a red sweater", "a person in a green sweater", "a person in a beige sweater", "a person in a blue sweater"]),
    ]

    public static func similarity(_ s: SimilarityModel, net: AttributeNet, count: Int, dataSeed: UInt64) throws -> SimilarityReport {
        try s.check(backbone: net)
        let lo = try SynthFaces.Split.test.index(0)
        _ = try SynthFaces.Split.test.index(count - 1)
        let samples = try SynthFaces.samples(seed: dataSeed, indices: lo..<(lo + count), size: net.config.size)
        let x = try SynthFaces.imageTensor(samples)
        let v = try LayoutEval.batched(x) { try s.embed(images: $0, net: net) }
        let captions = samples.map { Paraphraser.stated($0.captions[0], $0.attributes) }
        let (t, _) = try s.embed(texts: captions.map(\.text))
        let sim = try SimilarityModel.similarity(t, v)
        let values = samples.map { Paraphraser.values($0.attributes) }
        var recall: [Int: Double] = [1: 0, 5: 0, 10: 0]
        var fits = 0
        for i in 0..<count {
            let row = Array(sim.scalars[(i * count)..<((i + 1) * count)])
            let rank = row.filter { $0 > row[i] }.count
            for k in [1, 5, 10] where rank < k { recall[k]! += 1 / Double(count) }
            let best = row.indices.max { row[$0] < row[$1] }!
            if captions[i].stated.allSatisfy({ values[best][$0.key] == $0.value }) { fits += 1 }
        }
        let preds = try batchedPredictions(x, net: net)
        var zero: [(String, Double, Double)] = []
        for (name, texts) in prompts {
            guard let h = AttributeHeads.categorical.firstIndex(where: { $0.name == name }) else { continue }
            let head = AttributeHeads.categorical[h]
            let (pt, _) = try s.embed(texts: texts)
            let ps = try SimilarityModel.similarity(v, pt) // (count, values)
            var right = 0, netRight = 0
            for i in 0..<count {
                let row = Array(ps.scalars[(i * texts.count)..<((i + 1) * texts.count)])
                let truth = head.index(samples[i].attributes)
                if row.indices.max(by: { row[$0] < row[$1] }) == truth { right += 1 }
                if preds[i].classes[h] == truth { netRight += 1 }
            }
            zero.append((name, Double(right) / Double(count), Double(netRight) / Double(count)))
        }
        var negations: [(String, Int, Double)] = []
        for (not, plain, name, notValues, plainValues) in negationPrompts {
            let (pt, _) = try s.embed(texts: [not, plain])
            let ps = try SimilarityModel.similarity(v, pt) // (count, 2)
            var right = 0, faces = 0
            for i in 0..<count {
                let value = values[i][name]!, first = ps.scalars[2 * i] > ps.scalars[2 * i + 1]
                if notValues.contains(value) { faces += 1; if first { right += 1 } }
                if plainValues.contains(value) { faces += 1; if !first { right += 1 } }
            }
            negations.append((not, faces, faces == 0 ? 0 : Double(right) / Double(faces)))
        }
        return SimilarityReport(pairs: count, recall: recall, topFits: Double(fits) / Double(count), zeroShot: zero, negations: negations)
    }

    public static func similarityMarkdown(_ r: SimilarityReport) -> String {
        var s = String(format: "text → image retrieval on %d held-out pairs: R@1 %.3f, R@5 %.3f, R@10 %.3f; the top-ranked render shows all the caption states for %.3f\n\n",
                       r.pairs, r.recall[1]!, r.recall[5]!, r.recall[10]!, r.topFits)
        s += "| attribute | zero-shot (similarity model, one prompt per value) | attribute network |\n|---|---|---|\n"
        for z in r.zeroShot { s += String(format: "| %@ | %.3f | %.3f |\n", z.name, z.similarity, z.network) }
        s += "\n| negated prompt (against the plain one) | faces | ranked right |\n|---|---|---|\n"
        for n in r.negations { s += String(format: "| \"%@\" | %d | %.3f |\n", n.prompt, n.faces, n.right) }
        return s
    }

    /// The rows as a table; captions that rule values out add two columns (what the reader and
    /// the faces avoided).
    public static func markdown(_ rows: [Row]) -> String {
        let avoid = rows.contains { $0.accAvoided != nil }
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "–" }
        var s = "| captions | method | read | Acc |" + (avoid ? " ruled out, not read | ruled out, not shown |" : "") + " FID | Real | diversity | s / image |\n"
        s += "|---|---|---|---|" + (avoid ? "---|---|" : "") + "---|---|---|---|\n"
        for r in rows {
            s += "| \(r.set) | \(r.method) | \(f(r.read)) | \(f(r.acc)) |" + (avoid ? " \(f(r.readAvoided)) | \(f(r.accAvoided)) |" : "")
            s += String(format: " %.1f | %.3f | %.3f | %.3f |\n", r.fid, r.real, r.diversity, r.secondsPerImage)
        }
        return s
    }
}
