import Foundation
import Imaging
import SynthFaces
import TensorCore

/// `tedi eval layout`: how well faces made from a label map or a sketch keep its layout, how
/// real they look, and how much appearance mixing varies them, on held-out SynthFaces pairs.
public enum LayoutEval {
    public struct Row: Sendable {
        public var method: String
        /// Parser mIoU of the outputs against the inputs' label maps.
        public var miou: Double
        public var fid: Double
        public var precision: Double
        public var recall: Double
        /// LPIPS-style distance between mixes of one layout (random samples: between samples); nil when the method is deterministic.
        public var diversity: Double?
        public var secondsPerImage: Double
    }

    /// What the rows are computed with.
    public struct Models {
        public var generator: StyleGAN2Generator
        public var parser: FaceParser
        public var attributes: AttributeNet
        public var label: LatentEncoder?
        public var sketch: LatentEncoder?
        public var image: LatentEncoder?
        public init(generator: StyleGAN2Generator, parser: FaceParser, attributes: AttributeNet, label: LatentEncoder?, sketch: LatentEncoder?,
                    image: LatentEncoder? = nil) {
            self.generator = generator; self.parser = parser; self.attributes = attributes; self.label = label; self.sketch = sketch
            self.image = image
        }
    }

    public struct Options: Sendable {
        public var count = 64
        public var steps = 50
        public var mixes = 8
        /// First layer taken from the random code in the mixed rows (one row group per value).
        public var mixFrom = [6]
        public var dataSeed: UInt64 = 0
        public var seed: UInt64 = 7
        public init() {}
    }

    /// The held-out pairs: test renders 0..<count, their label maps, clean sketches, sketches
    /// perturbed by `SketchAugment` (every one, eval seed), and outline sketches drawn from the label
    /// maps' class boundaries by Sobel (a way of drawing the encoders never trained on).
    struct Pairs {
        var images: Tensor
        var labels: [[UInt8]]
        var sketches: [[UInt8]]
        var perturbed: [[UInt8]]
        var outlines: [[UInt8]]
    }

    static func pairs(count: Int, size: Int, dataSeed: UInt64, seed: UInt64) throws -> Pairs {
        let lo = try SynthFaces.Split.test.index(0)
        _ = try SynthFaces.Split.test.index(count - 1)
        let s = try SynthFaces.samples(seed: dataSeed, indices: lo..<(lo + count), size: size)
        let perturbed = try s.enumerated().map { i, smp in
            try SketchAugment.apply(SketchAugment.draw(seed: seed, index: i, probability: 1), sketch: smp.sketch, image: smp.image,
                                    size: size, seed: seed &+ UInt64(i) &* 7919)
        }
        let outlines = try s.map { smp in
            try Image(width: size, height: size, channels: 1, pixels: smp.label.map { $0 &* 13 }).sobelSketch(threshold: 0.05, softness: 0.1).pixels
        }
        return Pairs(images: try SynthFaces.imageTensor(s), labels: s.map(\.label), sketches: s.map(\.sketch), perturbed: perturbed, outlines: outlines)
    }

    /// `body` over consecutive ranges of at most 16 of `n` rows, in order.
    static func batches(_ n: Int, _ body: (Range<Int>) throws -> Void) rethrows {
        var lo = 0
        while lo < n {
            let hi = min(n, lo + 16)
            try body(lo..<hi)
            lo = hi
        }
    }

    /// `f` over row batches of 16 of `x`, concatenated.
    static func batched(_ x: Tensor, _ f: (Tensor) throws -> Tensor) throws -> Tensor {
        var parts: [Tensor] = []
        try batches(x.shape[0]) { parts.append(try f(try x.slice(axis: 0, $0)).detached) }
        return try Tensor.concat(parts, axis: 0)
    }

    /// Runs every row.
    public static func run(_ m: Models, options o: Options, log: (String) -> Void = { _ in }) throws -> [Row] {
        let g = m.generator, size = g.config.size, nl = g.nLatent
        guard m.parser.config.size == size, m.attributes.config.size == size else { throw ModelError("layout eval: the parser and attribute network must read \(size) px") }
        guard m.parser.config.classes == 19 else { throw ModelError("layout eval: the parser has \(m.parser.config.classes) classes; label maps have 19") }
        if let bad = o.mixFrom.first(where: { $0 < 1 || $0 >= nl }) { throw ModelError("layout eval: --mix-from \(bad) is outside 1...\(nl - 1) (the generator has \(nl) layers)") }
        let p = try pairs(count: o.count, size: size, dataSeed: o.dataSeed, seed: o.seed)
        let realFeatures = try batched(p.images) { try m.attributes.features($0) }
        let synth = { (w: Tensor) throws -> Tensor in try batched(w) { try g.synthesis($0, noise: .const) } }
        func miou(_ images: Tensor, _ truth: [[UInt8]]) throws -> Double {
            var score = LayoutScore()
            let maps = FaceParser.argmax(try batched(images) { try m.parser($0) })
            for (i, pred) in maps.enumerated() { score.add(predicted: pred, truth: truth[i % truth.count]) }
            return score.meanIoU
        }
        /// A row: FID, precision and recall of `images` (count of them), mIoU over `layout` (default: `images` against the label maps).
        func row(_ method: String, images: Tensor, seconds: Double, diversity: Double? = nil, layout: (Tensor, [[UInt8]])? = nil) throws -> Row {
            let f = try batched(images) { try m.attributes.features($0) }
            let pr = try GANMetrics.precisionRecall(real: realFeatures, fake: f)
            let (li, lt) = layout ?? (images, p.labels)
            let r = Row(method: method, miou: try miou(li, lt), fid: try GANMetrics.fid(realFeatures, f), precision: pr.precision,
                        recall: pr.recall, diversity: diversity, secondsPerImage: seconds / Double(o.count))
            log(String(format: "%@: mIoU %.3f", method, r.miou))
            return r
        }
        // Random codes: the baseline, and the appearance mixed into the layouts (mix j of layout i uses code i·mixes + j).
        let randomW = try g.mapping(g.randomZ(count: o.count * o.mixes, seed: o.seed))
        var rows: [Row] = []
        let (baseline, tb) = try InversionEval.timed { try synth(try g.broadcastLatent(randomW.slice(axis: 0, 0..<o.count))) }
        rows.append(try row("random samples (baseline)", images: baseline, seconds: tb,
                            diversity: try GANMetrics.pairDistance(try batched(baseline) { try m.attributes.features($0) })))

        /// Codes → rows: the encoder alone, and with layers ≥ k from random codes for each k.
        func encoded(_ name: String, codes: Tensor, seconds: Double) throws {
            let (images, ts) = try InversionEval.timed { try synth(codes) }
            rows.append(try row(name, images: images, seconds: seconds + ts))
            for k in o.mixFrom {
                // Row r = i·mixes + j: layout i's layers below k, random code r's from k on.
                let (n, sd) = (o.count * o.mixes, g.styleDim)
                let layouts = try codes.reshaped([o.count, 1, nl, sd]).broadcast(to: [o.count, o.mixes, nl, sd]).reshaped([n, nl, sd])
                let mixed = try StyleGAN2Generator.mixLayers(layouts, g.broadcastLatent(randomW), layers: k..<nl)
                let (mixedImages, tm) = try InversionEval.timed { try synth(mixed) }
                // Row r = i·mixes + j shows layout i: truth index r / mixes; FID on mix 0 of each layout.
                let truth = (0..<n).map { p.labels[$0 / o.mixes] }
                let firstMix = try Tensor.concat((0..<o.count).map { try mixedImages.slice(axis: 0, ($0 * o.mixes)..<($0 * o.mixes + 1)) }, axis: 0)
                rows.append(try row("\(name), layers \(k)–\(nl - 1) from random codes", images: firstMix, seconds: seconds + tm / Double(o.mixes),
                                    diversity: try GANMetrics.pairDistance(try batched(mixedImages) { try m.attributes.features($0) }),
                                    layout: (mixedImages, truth)))
            }
        }
        // References: the parser on the renders themselves (its own error: the ceiling of every
        // row), and on G's reconstruction of them by the image encoder (inversion, one pass).
        rows.append(try row("held-out renders themselves (the parser's ceiling)", images: p.images, seconds: 0))
        if let e = m.image {
            let (codes, te) = try InversionEval.timed { try batched(p.images) { try e($0) } }
            let (images, ts) = try InversionEval.timed { try synth(codes) }
            rows.append(try row("image encoder on the renders (inversion, for reference)", images: images, seconds: te + ts))
        }
        if let e = m.label {
            let (codes, te) = try InversionEval.timed { try batched(try SynthFaces.labelTensor(p.labels, size: size)) { try e($0) } }
            try encoded("label → face (encoder)", codes: codes, seconds: te)
            let opt = try LatentOptimizer(options: .init(steps: o.steps, learningRate: 0.01, pixel: 0, feature: 0, label: 1), generator: g,
                                          initial: codes, labels: p.labels, parser: m.parser)
            let (refined, to) = try InversionEval.timed { try opt.run().w }
            let (images, ts) = try InversionEval.timed { try synth(refined) }
            rows.append(try row("label → face (encoder + optimize \(o.steps), label term)", images: images, seconds: te + to + ts))
        }
        if let e = m.sketch {
            for (name, set) in [("clean", p.sketches), ("perturbed", p.perturbed), ("outlines of the label map", p.outlines)] {
                let (codes, te) = try InversionEval.timed { try batched(try SynthFaces.sketchTensor(set, size: size)) { try e($0) } }
                if name == "clean" { try encoded("sketch → face (\(name))", codes: codes, seconds: te) } else {
                    let (images, ts) = try InversionEval.timed { try synth(codes) }
                    rows.append(try row("sketch → face (\(name))", images: images, seconds: te + ts))
                }
            }
        }
        return rows
    }

    public static func markdown(_ rows: [Row]) -> String {
        var s = "| method | layout mIoU | FID | precision | recall | diversity | s / image |\n|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += String(format: "| %@ | %.3f | %.1f | %.3f | %.3f | %@ | %.3f |\n", r.method, r.miou, r.fid, r.precision, r.recall,
                        r.diversity.map { String(format: "%.3f", $0) } ?? "–", r.secondsPerImage)
        }
        return s
    }
}
