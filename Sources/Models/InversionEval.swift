import Dispatch
import Foundation
import SynthFaces
import TensorCore

/// `tedi eval inversion`: how well codes found for faces reproduce them, per method (the mean
/// face, the encoder alone, encoder + optimize, optimize from the mean), on held-out SynthFaces
/// renders and on the generator's own samples (whose true w+ is known).
public enum InversionEval {
    /// Codes for every face by `codes(batch, index)` over batches of `batch` faces, with the
    /// seconds per face it took; `codes` may return several results (e.g. an optimization's codes
    /// at step 100 and at step 200) with the seconds each took.
    public static func codes(for images: Tensor, batch: Int = 16,
                             _ codes: (Tensor) throws -> [(codes: Tensor, seconds: Double)]) throws -> [(codes: Tensor, secondsPerImage: Double)] {
        let n = images.shape[0]
        var parts: [[Tensor]] = [], seconds: [Double] = []
        var lo = 0
        while lo < n {
            let hi = min(n, lo + batch)
            let r = try codes(try images.slice(axis: 0, lo..<hi))
            if parts.isEmpty { parts = r.map { _ in [] }; seconds = r.map { _ in 0 } }
            for (k, c) in r.enumerated() { parts[k].append(c.codes.detached); seconds[k] += c.seconds }
            lo = hi
        }
        return try zip(parts, seconds).map { (try Tensor.concat($0, axis: 0), $1 / Double(n)) }
    }

    /// Seconds `body` takes, with its result.
    public static func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let r = try body()
        return (r, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// One row of the table.
    public struct Row: Sendable {
        public var set: String
        public var method: String
        public var count: Int
        /// Pixel MSE with images in [-1, 1], and PSNR (dB, peak-to-peak 2) from each image's MSE, means.
        public var mse: Double
        public var psnr: Double
        /// `Perceptual` distance, mean.
        public var feature: Double
        /// Per categorical attribute, the share of faces whose reconstruction the attribute network
        /// reads as the face's attribute (renders: their labels; samples: the network's reading of the sample).
        public var agreement: [Double]
        /// MSE of the codes against the true w+ (generator samples only).
        public var latentError: Double?
        public var secondsPerImage: Double
        public var meanAgreement: Double { agreement.reduce(0, +) / Double(max(agreement.count, 1)) }
    }

    /// Held-out faces: `count` test-split renders (data seed `dataSeed`) with their attributes, or
    /// `count` generator samples (Philox `seed`, ψ 1, stored noise) with their w+.
    public struct Faces {
        public var name: String
        public var images: Tensor
        public var attributes: [FaceAttributes]?
        public var truth: Tensor?

        public static func renders(count: Int, size: Int, dataSeed: UInt64) throws -> Faces {
            let lo = try SynthFaces.Split.test.index(0)
            _ = try SynthFaces.Split.test.index(count - 1)
            let s = try SynthFaces.samples(seed: dataSeed, indices: lo..<(lo + count), size: size)
            return Faces(name: "held-out renders", images: try SynthFaces.imageTensor(s), attributes: s.map(\.attributes), truth: nil)
        }

        public static func samples(count: Int, generator g: StyleGAN2Generator, seed: UInt64) throws -> Faces {
            let w = try g.broadcastLatent(g.mapping(g.randomZ(count: count, seed: seed)))
            return Faces(name: "generator samples", images: try g.synthesis(w, noise: .const), attributes: nil, truth: w)
        }
    }

    /// The row of `method`, whose `codes (N,nLatent,styleDim)` for `faces` took `secondsPerImage`.
    public static func evaluate(_ method: String, codes w: Tensor, secondsPerImage: Double, on faces: Faces,
                                generator g: StyleGAN2Generator, net: AttributeNet, batch: Int = 16) throws -> Row {
        let n = faces.images.shape[0]
        guard w.shape.first == n else { throw ModelError("inversion eval: \(w.shape.first ?? 0) codes for \(n) faces") }
        var mse = 0.0, psnr = 0.0, feat = 0.0, lat = 0.0
        let heads = AttributeHeads.categorical
        var agree = [Double](repeating: 0, count: heads.count)
        var lo = 0
        while lo < n {
            let hi = min(n, lo + batch)
            let x = try faces.images.slice(axis: 0, lo..<hi), wb = try w.slice(axis: 0, lo..<hi)
            let y = try g.synthesis(wb, noise: .const)
            let per = x.count / (hi - lo)
            for i in 0..<(hi - lo) {
                var s = 0.0
                for j in 0..<per { let d = Double(y.scalars[i * per + j] - x.scalars[i * per + j]); s += d * d }
                let m = s / Double(per)
                mse += m
                psnr += 10 * log10(4 / max(m, 1e-12))
            }
            feat += try Perceptual.distances(y, x, net: net).scalars.reduce(0) { $0 + Double($1) }
            let read = try net.predict(y)
            let reference: [[Int]]
            if let a = faces.attributes {
                reference = a[lo..<hi].map { attrs in heads.map { $0.index(attrs) } }
            } else {
                reference = try net.predict(x).map(\.classes)
            }
            for (p, r) in zip(read, reference) { for h in heads.indices where p.classes[h] == r[h] { agree[h] += 1 } }
            if let t = faces.truth {
                for (a, b) in zip(wb.scalars, try t.slice(axis: 0, lo..<hi).scalars) { let d = Double(a - b); lat += d * d }
            }
            lo = hi
        }
        return Row(set: faces.name, method: method, count: n, mse: mse / Double(n), psnr: psnr / Double(n), feature: feat / Double(n),
                   agreement: agree.map { $0 / Double(n) }, latentError: faces.truth.map { lat / Double($0.count) },
                   secondsPerImage: secondsPerImage)
    }

    /// The table as Markdown: one row per (set, method).
    public static func markdown(_ rows: [Row]) -> String {
        var s = "| faces | method | MSE | PSNR (dB) | feature distance | attribute agreement | latent MSE | s / image |\n|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += String(format: "| %@ | %@ | %.4f | %.2f | %.3f | %.3f | %@ | %.3f |\n", r.set, r.method, r.mse, r.psnr, r.feature, r.meanAgreement,
                        r.latentError.map { String(format: "%.3f", $0) } ?? "–", r.secondsPerImage)
        }
        return s
    }

    /// Per-attribute agreement of each row, as Markdown (attributes as rows).
    public static func agreementMarkdown(_ rows: [Row]) -> String {
        var s = "| attribute | " + rows.map { "\($0.method) (\($0.set == "held-out renders" ? "renders" : "samples"))" }.joined(separator: " | ") + " |\n"
        s += "|---|" + rows.map { _ in "---|" }.joined() + "\n"
        for (h, head) in AttributeHeads.categorical.enumerated() {
            s += "| \(head.name) | " + rows.map { String(format: "%.2f", $0.agreement[h]) }.joined(separator: " | ") + " |\n"
        }
        return s
    }
}
