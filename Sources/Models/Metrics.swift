import Foundation
import SynthFaces
import TensorCore

/// Generator metrics in a feature space (the attribute network's 256-d features): FID, k-NN
/// precision / recall, LPIPS-style pair distance, and attribute coverage.
public enum GANMetrics {
    /// Fréchet distance between Gaussians fitted to the rows of `a (N,D)` and `b (M,D)`:
    /// ‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^½), covariances with 1/(n−1). Tr((ΣaΣb)^½) is Σ√λ of
    /// Σa^½ Σb Σa^½ (symmetric), eigenvalues by cyclic Jacobi in float64.
    public static func fid(_ a: Tensor, _ b: Tensor) throws -> Double {
        try checkFeatures(a, b, op: "FID")
        let (ma, ca) = meanCov(a), (mb, cb) = meanCov(b)
        let d = ma.count
        var dm = 0.0
        for j in 0..<d { dm += (ma[j] - mb[j]) * (ma[j] - mb[j]) }
        let (la, va) = symmetricEigen(ca, n: d)
        // Σa^½ = V diag(√λ) Vᵀ
        var sa = [Double](repeating: 0, count: d * d)
        for k in 0..<d {
            let s = max(la[k], 0).squareRoot()
            if s == 0 { continue }
            for i in 0..<d { let vik = va[i * d + k] * s; for j in 0..<d { sa[i * d + j] += vik * va[j * d + k] } }
        }
        let m = matmul(matmul(sa, cb, d), sa, d)
        let (lm, _) = symmetricEigen(m, n: d, vectors: false)
        var tr = 0.0
        for j in 0..<d { tr += ca[j * d + j] + cb[j * d + j] }
        for l in lm { tr -= 2 * max(l, 0).squareRoot() }
        return max(dm + tr, 0)
    }

    /// Improved precision and recall (Kynkäänniemi et al. 2019): a sample is inside the other
    /// set's manifold when it lies within the k-th-nearest-neighbour radius of one of its points.
    /// precision = share of `fake` inside the real manifold; recall = share of `real` inside the fake one.
    public static func precisionRecall(real: Tensor, fake: Tensor, k: Int = 3) throws -> (precision: Double, recall: Double) {
        try checkFeatures(real, fake, op: "precision/recall")
        guard k >= 1, k < real.shape[0], k < fake.shape[0] else {
            throw ModelError("precision/recall: k = \(k) needs more than k samples in each set (got \(real.shape[0]) and \(fake.shape[0]))")
        }
        let rr = distances(real, real), ff = distances(fake, fake), rf = distances(real, fake)
        let nr = real.shape[0], nf = fake.shape[0]
        func radii(_ dd: [Double], _ n: Int) -> [Double] {
            (0..<n).map { i in Array(dd[(i * n)..<((i + 1) * n)]).sorted()[k] }  // index 0 is the point itself
        }
        let radR = radii(rr, nr), radF = radii(ff, nf)
        var inReal = 0, inFake = 0
        for j in 0..<nf where (0..<nr).contains(where: { rf[$0 * nf + j] <= radR[$0] }) { inReal += 1 }
        for i in 0..<nr where (0..<nf).contains(where: { rf[i * nf + $0] <= radF[$0] }) { inFake += 1 }
        return (Double(inReal) / Double(nf), Double(inFake) / Double(nr))
    }

    /// LPIPS-style distance: the mean Euclidean distance between the unit-normalized features of
    /// pairs (2i, 2i+1) — how different two outputs are (the paper's LPIPS use: diversity).
    public static func pairDistance(_ f: Tensor) throws -> Double {
        guard f.rank == 2, f.shape[0] >= 2 else { throw ModelError("pair distance: features must be (N ≥ 2, D), got \(f.shape)") }
        let (n, d) = (f.shape[0], f.shape[1])
        func unit(_ i: Int) -> [Double] {
            let v = (0..<d).map { Double(f.scalars[i * d + $0]) }
            let s = max(v.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-12)
            return v.map { $0 / s }
        }
        var total = 0.0
        for p in 0..<(n / 2) {
            let a = unit(2 * p), b = unit(2 * p + 1)
            total += zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        }
        return total / Double(n / 2)
    }

    static func checkFeatures(_ a: Tensor, _ b: Tensor, op: String) throws {
        guard a.rank == 2, b.rank == 2, a.shape[1] == b.shape[1], a.shape[0] >= 2, b.shape[0] >= 2 else {
            throw ModelError("\(op): features must be (N ≥ 2, D) and (M ≥ 2, D) with the same D, got \(a.shape) and \(b.shape)")
        }
    }

    static func meanCov(_ x: Tensor) -> ([Double], [Double]) {
        let (n, d) = (x.shape[0], x.shape[1])
        var mu = [Double](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mu[j] += Double(x.scalars[i * d + j]) } }
        for j in 0..<d { mu[j] /= Double(n) }
        var c = [Double](repeating: 0, count: d * d)
        var row = [Double](repeating: 0, count: d)
        for i in 0..<n {
            for j in 0..<d { row[j] = Double(x.scalars[i * d + j]) - mu[j] }
            for a in 0..<d { let ra = row[a]; if ra == 0 { continue }; for b in a..<d { c[a * d + b] += ra * row[b] } }
        }
        for a in 0..<d { for b in a..<d { c[a * d + b] /= Double(n - 1); c[b * d + a] = c[a * d + b] } }
        return (mu, c)
    }

    static func matmul(_ a: [Double], _ b: [Double], _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for k in 0..<n { let aik = a[i * n + k]; if aik == 0 { continue }; for j in 0..<n { c[i * n + j] += aik * b[k * n + j] } } }
        return c
    }

    /// Eigenvalues (and column eigenvectors V, row-major) of the symmetric `a (n,n)` by cyclic Jacobi rotations.
    static func symmetricEigen(_ a0: [Double], n: Int, vectors: Bool = true) -> ([Double], [Double]) {
        var a = a0
        var v = [Double](repeating: 0, count: vectors ? n * n : 0)
        if vectors { for i in 0..<n { v[i * n + i] = 1 } }
        for _ in 0..<60 {
            var off = 0.0, diag = 0.0
            for i in 0..<n { diag += a[i * n + i] * a[i * n + i]; for j in (i + 1)..<max(n, i + 1) { off += a[i * n + j] * a[i * n + j] } }
            if off <= 1e-24 * max(diag, 1e-300) { break }
            for p in 0..<n {
                for q in (p + 1)..<max(n, p + 1) {
                    let apq = a[p * n + q]
                    if abs(apq) < 1e-300 { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    if vectors {
                        for k in 0..<n {
                            let vkp = v[k * n + p], vkq = v[k * n + q]
                            v[k * n + p] = c * vkp - s * vkq
                            v[k * n + q] = s * vkp + c * vkq
                        }
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }

    /// Squared-free Euclidean distances `(Na, Nb)` between the rows of `a` and `b`.
    static func distances(_ a: Tensor, _ b: Tensor) -> [Double] {
        let (na, nb, d) = (a.shape[0], b.shape[0], a.shape[1])
        var out = [Double](repeating: 0, count: na * nb)
        a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                for i in 0..<na {
                    for j in 0..<nb {
                        var s: Double = 0
                        for k in 0..<d { let t = Double(pa[i * d + k]) - Double(pb[j * d + k]); s += t * t }
                        out[i * nb + j] = s.squareRoot()
                    }
                }
            }
        }
        return out
    }

    // MARK: Evaluation rows

    /// One row of the eval table.
    public struct Row: Sendable {
        public var name: String
        public var fid: Double
        public var precision: Double
        public var recall: Double
        public var pairDistance: Double
        /// Per attribute value: (attribute, value, frequency in these samples and in the test renders,
        /// both as the attribute network reads them, and the value's frequency in the renders' labels).
        public var coverage: [(attribute: String, value: String, samples: Double, data: Double, labels: Double)]
        /// Per coverage head, the fraction of images the attribute network reads as the attributes
        /// they were made with: the renders' true labels (the floor rows: the reader's own accuracy,
        /// the ceiling), a conditioned generator's attributes drawn from z; nil for a plain generator.
        public var agreement: [Double]? = nil

        /// Mean of `agreement` over the heads.
        public var meanAgreement: Double? { agreement.map { $0.reduce(0, +) / Double(Swift.max($0.count, 1)) } }

        /// Values whose data frequency is ≥ 1% and whose sample frequency is below half of it.
        public var undercovered: [String] {
            coverage.filter { $0.data >= 0.01 && $0.samples < 0.5 * $0.data }.map { "\($0.attribute)=\($0.value)" }
        }
        /// Smallest samples/data ratio over values with data frequency ≥ 1%.
        public var minCoverage: Double {
            coverage.filter { $0.data >= 0.01 }.map { $0.samples / $0.data }.min() ?? .nan
        }
    }

    /// Zero counts for every value of every coverage head (`AttributeHeads.coverageHeads`).
    static func emptyCounts() -> [[Int]] { AttributeHeads.coverageHeads.map { [Int](repeating: 0, count: $0.values.count) } }

    /// Adds the per-head counts `c` to `counts`.
    static func add(_ c: [[Int]], to counts: inout [[Int]]) {
        for h in counts.indices { for v in counts[h].indices { counts[h][v] += c[h][v] } }
    }

    /// Attribute-value frequencies `[head][value]` of `count` images, as the network reads them
    /// (arg-max), from `images(first, n)` in batches of `batch`.
    static func frequencies(count: Int, batch: Int, net: AttributeNet, images: (Int, Int) throws -> Tensor) throws -> [[Float]] {
        var counts = emptyCounts()
        var done = 0
        while done < count {
            let n = min(batch, count - done)
            add(try read(images(done, n), net: net).counts, to: &counts)
            done += n
        }
        return counts.map { $0.map { Float($0) / Float(count) } }
    }

    /// Features, attribute-value counts `[head][value]` and each image's read values `[image][head]`
    /// (coverage heads) of images `(N,3,S,S)` (resized to the net's size if needed).
    static func read(_ images: Tensor, net: AttributeNet) throws -> (features: Tensor, counts: [[Int]], values: [[Int]]) {
        let out = try net(images)
        let preds = AttributeNet.predictions(out)
        var counts = emptyCounts()
        let nc = AttributeHeads.categorical.count
        var values: [[Int]] = []
        for p in preds {
            var v = [Int](repeating: -1, count: counts.count)
            for (h, c) in p.classes.enumerated() where h < nc && c < counts[h].count { counts[h][c] += 1; v[h] = c }
            for (j, b) in AttributeHeads.binned.enumerated() where b.source < p.values.count {
                let k = b.bin(p.values[b.source])
                counts[nc + j][k] += 1
                v[nc + j] = k
            }
            values.append(v)
        }
        return (out.features, counts, values)
    }

    /// Adds to `hits[head]` the images whose read value equals the value of `attributes`.
    static func addAgreement(read: [[Int]], attributes: [FaceAttributes], to hits: inout [Int]) {
        for (v, a) in zip(read, attributes) {
            for (h, head) in AttributeHeads.coverageHeads.enumerated() where v[h] == head.index(a) { hits[h] += 1 }
        }
    }

    /// Name of the eval's second row: the floor's renders under `binomialBlur`.
    public static let blurredRowName = "renders blurred once (3×3 binomial, yardstick)"

    /// Images `(N,C,H,W)` filtered `times` times with the 3×3 binomial kernel [1,2,1]ᵀ[1,2,1]/16,
    /// edges replicated: the mildest blur there is, as a yardstick for how far sharpness alone
    /// moves the feature-space metrics, and the parser's stand-in for the generator's softness.
    public static func binomialBlur(_ x: Tensor, times: Int) throws -> Tensor {
        var y = x
        for _ in 0..<times { y = try binomialBlur(y) }
        return y
    }

    /// Images `(N,C,H,W)` filtered once with the 3×3 binomial kernel (above).
    public static func binomialBlur(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4 else { throw ModelError("binomialBlur expects (N,C,H,W) images, got \(x.shape)") }
        let (h, w) = (x.shape[2], x.shape[3])
        let planes = x.shape[0] * x.shape[1]
        var tmp = x.scalars, out = x.scalars
        let src = x.scalars
        for p in 0..<planes {
            let base = p * h * w
            for y in 0..<h {
                let row = base + y * w
                for i in 0..<w { tmp[row + i] = (src[row + Swift.max(i - 1, 0)] + 2 * src[row + i] + src[row + Swift.min(i + 1, w - 1)]) / 4 }
            }
            for y in 0..<h {
                let up = base + Swift.max(y - 1, 0) * w, mid = base + y * w, down = base + Swift.min(y + 1, h - 1) * w
                for i in 0..<w { out[mid + i] = (tmp[up + i] + 2 * tmp[mid + i] + tmp[down + i]) / 4 }
            }
        }
        return try Tensor(shape: x.shape, scalars: out)
    }

    /// The eval rows: held-out renders (split `reference`) against renders (test split) as the
    /// floor, the same renders blurred once (`binomialBlur`) as a yardstick, then each generator's `count` samples (Philox z seed `seed`, random noise) against
    /// the test renders. Batches of 50.
    public static func evaluate(generators: [(name: String, model: StyleGAN2Generator)], net: AttributeNet, count: Int,
                                dataSeed: UInt64 = 0, seed: UInt64 = 1234) throws -> [Row] {
        guard count >= 4, count <= SynthFaces.Split.val.range.count else { throw ModelError("eval count must be in 4...\(SynthFaces.Split.val.range.count), got \(count)") }
        let size = net.config.size
        // Features and read counts of a split's renders, their labels' counts, and (blurred: true)
        // the features and read counts of the same renders under `binomialBlur`.
        let heads = AttributeHeads.coverageHeads.count
        func renders(_ split: SynthFaces.Split, blurred: Bool = false) throws -> (Tensor, [[Int]], [[Int]], [Int], (Tensor, [[Int]], [Int])?) {
            var feats: [Tensor] = [], pred = emptyCounts()
            var truth = pred, blurPred = pred
            var blurFeats: [Tensor] = []
            var hits = [Int](repeating: 0, count: heads), blurHits = hits
            var done = 0
            while done < count {
                let n = min(50, count - done), lo = try split.index(done)
                let s = try SynthFaces.samples(seed: dataSeed, indices: lo..<(lo + n), size: size)
                let images = try SynthFaces.imageTensor(s)
                let (f, c, v) = try read(images, net: net)
                feats.append(f)
                add(c, to: &pred)
                let attributes = s.map(\.attributes)
                addAgreement(read: v, attributes: attributes, to: &hits)
                if blurred {
                    let (bf, bc, bv) = try read(binomialBlur(images), net: net)
                    blurFeats.append(bf)
                    add(bc, to: &blurPred)
                    addAgreement(read: bv, attributes: attributes, to: &blurHits)
                }
                for smp in s { for (h, cat) in AttributeHeads.coverageHeads.enumerated() { truth[h][cat.index(smp.attributes)] += 1 } }
                done += n
            }
            return (try Tensor.concat(feats, axis: 0), pred, truth, hits, blurred ? (try Tensor.concat(blurFeats, axis: 0), blurPred, blurHits) : nil)
        }
        // Coverage compares like with like: samples and renders both as the network reads them, so
        // its own misreadings (30% of middle-aged renders read as young) do not count against G.
        let (testF, testPred, truth, _, _) = try renders(.test)
        func row(_ name: String, _ f: Tensor, _ counts: [[Int]], _ hits: [Int]?) throws -> Row {
            let (p, r) = try precisionRecall(real: testF, fake: f)
            var cov: [(attribute: String, value: String, samples: Double, data: Double, labels: Double)] = []
            for (h, cat) in AttributeHeads.coverageHeads.enumerated() {
                for (v, name) in cat.values.enumerated() {
                    cov.append((cat.name, name, Double(counts[h][v]) / Double(count), Double(testPred[h][v]) / Double(count),
                                Double(truth[h][v]) / Double(count)))
                }
            }
            return Row(name: name, fid: try fid(testF, f), precision: p, recall: r, pairDistance: try pairDistance(f), coverage: cov,
                       agreement: hits.map { $0.map { Double($0) / Double(count) } })
        }
        let (valF, valPred, _, valHits, blur) = try renders(.val, blurred: true)
        var rows = [try row("renders (val vs test, floor)", valF, valPred, valHits)]
        // A yardstick for the numbers below: the same renders, only a little softer.
        if let (bf, bc, bh) = blur { rows.append(try row(blurredRowName, bf, bc, bh)) }
        for (name, g) in generators {
            guard g.config.size == size else {
                throw ModelError("\(name): generator makes \(g.config.size) px images; the attribute network reads \(size) px")
            }
            var feats: [Tensor] = []
            var counts = emptyCounts()
            var hits = [Int](repeating: 0, count: heads)
            var done = 0
            while done < count {
                let n = min(50, count - done)
                let z = try Tensor.randomNormal([n, g.styleDim], seed: seed, stream: UInt64(done / 50))
                let img = try g.generate(z: z, noise: .random(seed: seed &+ UInt64(done)))
                let (f, c, v) = try read(img, net: net)
                feats.append(f)
                add(c, to: &counts)
                if g.config.conditioning { addAgreement(read: v, attributes: try FaceCondition.attributes(z: z), to: &hits) }
                done += n
            }
            rows.append(try row(name, try Tensor.concat(feats, axis: 0), counts, g.config.conditioning ? hits : nil))
        }
        return rows
    }

    /// The Markdown table of `rows` (FID ↓, precision ↑, recall ↑, LPIPS-style, coverage).
    public static func markdown(_ rows: [Row]) -> String {
        var s = "| model | FID ↓ | precision ↑ | recall ↑ | LPIPS-style | min coverage | values < 50% of data | attributes read as made |\n|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            let under = r.undercovered
            s += String(format: "| %@ | %.2f | %.3f | %.3f | %.3f | %.2f | %@ | %@ |\n", r.name, r.fid, r.precision, r.recall, r.pairDistance,
                        r.minCoverage, under.isEmpty ? "none" : "\(under.count): " + under.prefix(8).joined(separator: ", ") + (under.count > 8 ? ", …" : ""),
                        r.meanAgreement.map { String(format: "%.3f", $0) } ?? "—")
        }
        return s
    }

    /// Per attribute, the share of images read as the attributes they were made with, for the rows
    /// that have it (the floor rows and conditioned generators); nil when no generator is conditioned.
    public static func agreementMarkdown(_ rows: [Row]) -> String? {
        let shown = rows.filter { $0.agreement != nil }
        guard shown.count > 2 else { return nil }
        var s = "| attribute | " + shown.map(\.name).joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: shown.count) + "\n"
        for (h, head) in AttributeHeads.coverageHeads.enumerated() {
            let name = h < AttributeHeads.categorical.count ? head.name : head.name + " (4 bins)"
            s += "| \(name) | " + shown.map { String(format: "%.3f", $0.agreement![h]) }.joined(separator: " | ") + " |\n"
        }
        return s
    }

    /// The rows as JSON (coverage included).
    public static func json(_ rows: [Row]) -> String {
        func num(_ x: Double) -> JSONValue { .number(x.isFinite ? String(format: "%.6g", x) : "null") }
        let arr: [JSONValue] = rows.map { r in
            .object([
                JSONMember("model", .string(r.name)), JSONMember("fid", num(r.fid)), JSONMember("precision", num(r.precision)),
                JSONMember("recall", num(r.recall)), JSONMember("lpips_style", num(r.pairDistance)),
                JSONMember("min_coverage", num(r.minCoverage)),
                JSONMember("agreement", r.agreement.map { a in .object(zip(AttributeHeads.coverageHeads, a).map { JSONMember($0.name, num($1)) }) } ?? .null),
                JSONMember("coverage", .array(r.coverage.map {
                    .object([JSONMember("attribute", .string($0.attribute)), JSONMember("value", .string($0.value)),
                             JSONMember("samples", num($0.samples)), JSONMember("data", num($0.data)), JSONMember("labels", num($0.labels))])
                })),
            ])
        }
        return JSONValue.array(arr).serialized
    }
}
