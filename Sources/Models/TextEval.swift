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
        public init(generator: StyleGAN2Generator, attributes: AttributeNet, text: TextEncoder) {
            self.generator = generator; self.attributes = attributes; self.text = text
        }
    }

    public struct Options: Sendable {
        public var count = 1000
        /// Captions whose diversity is measured (two seeds each).
        public var diversityCount = 64
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
    /// skipped), values checked against the attribute heads; errors name the line.
    public static func captions(file path: String) throws -> [StatedCaption] {
        let bytes = try FileIO.readAll(path, limit: 16 << 20)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ModelError("\(path) is not UTF-8 text") }
        var out: [StatedCaption] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let l = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if l.isEmpty || l.hasPrefix("#") { continue }
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw ModelError("\(path):\(n + 1): expected a caption, a TAB and name=value pairs, got \(parts.count - 1) TABs") }
            var stated: [String: String] = [:]
            for item in parts[1].split(separator: ",") {
                let kv = item.trimmingCharacters(in: .whitespaces).split(separator: "=").map(String.init)
                guard kv.count == 2, let h = AttributeHeads.categorical.first(where: { $0.name == kv[0] }), h.values.contains(kv[1]) else {
                    throw ModelError("\(path):\(n + 1): '\(item.trimmingCharacters(in: .whitespaces))' is not an attribute=value of SynthFaces (e.g. hair_color=blond)")
                }
                guard stated[kv[0]] == nil else { throw ModelError("\(path):\(n + 1): \(kv[0]) is given twice") }
                stated[kv[0]] = kv[1]
            }
            out.append(StatedCaption(text: String(parts[0]).trimmingCharacters(in: .whitespaces), stated: stated))
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

    /// Acc: share of the stated values the attribute network reads in `images`.
    static func acc(_ captions: [StatedCaption], _ images: Tensor, net: AttributeNet) throws -> Double {
        let preds = try batchedPredictions(images, net: net)
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

    static func batchedPredictions(_ images: Tensor, net: AttributeNet) throws -> [AttributeNet.Prediction] {
        var out: [AttributeNet.Prediction] = []
        var lo = 0
        while lo < images.shape[0] {
            let hi = min(images.shape[0], lo + 16)
            out += try net.predict(images.slice(axis: 0, lo..<hi))
            lo = hi
        }
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

        /// A row from what each caption is read as (nil: random samples).
        func row(_ method: String, readings: [[String: String]]?, confidence: [[String: Float]] = [], readSeconds: Double) throws -> Row {
            let start = DispatchTime.now().uptimeNanoseconds
            func codes(_ i: Int, seed: UInt64) throws -> Tensor {
                try TextEncoder.latent(stated: readings?[i] ?? [:], confidence: i < confidence.count ? confidence[i] : [:], generator: g, count: 1, seed: seed).codes
            }
            let w = try Tensor.concat(try (0..<n).map { try codes($0, seed: o.seed &+ UInt64($0)) }, axis: 0)
            let images = try synth(w)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 + readSeconds
            // Diversity: caption i with a second seed beside the first.
            let second = try synth(try Tensor.concat(try (0..<nd).map { try codes($0, seed: o.seed &+ 1_000_000 &+ UInt64($0)) }, axis: 0))
            let pairs = try Tensor.concat((0..<nd).flatMap { i in [try images.slice(axis: 0, i..<(i + 1)), try second.slice(axis: 0, i..<(i + 1))] }, axis: 0)
            let f = try LayoutEval.batched(images) { try m.attributes.features($0) }
            let r = Row(set: set, method: method, read: readings.map { readShare(captions, $0) }, acc: try acc(captions, images, net: m.attributes),
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
        return rows
    }

    public static func markdown(_ rows: [Row]) -> String {
        var s = "| captions | method | read | Acc | FID | Real | diversity | s / image |\n|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += String(format: "| %@ | %@ | %@ | %.3f | %.1f | %.3f | %.3f | %.3f |\n", r.set, r.method, r.read.map { String(format: "%.3f", $0) } ?? "–",
                        r.acc, r.fid, r.real, r.diversity, r.secondsPerImage)
        }
        return s
    }
}
