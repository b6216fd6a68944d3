import TensorCore

/// How style mixing splits a generator's w+ layers, read by the attribute network: for pairs of
/// faces A and B, the images of A with B's coarse, middle and fine layers (`mixingBands`, as in
/// `mixingGrid`; at 64 px 0–3, 4–7 and 8–9). For each categorical attribute and each
/// group, the share of pairs whose mix is read as B's value, among the pairs where A and B are
/// read differently. A layer group "carries" an attribute when that share is high.
public enum MixingTransfer {
    public struct Row: Sendable {
        public var attribute: String
        /// Pairs where A and B are read differently.
        public var pairs: Int
        /// Per group (coarse, middle, fine): share of those pairs whose mix is read as B's value.
        public var takesB: [Double]
    }

    /// `count` pairs (z from Philox `seed`, streams 0 and 1 per batch of 50), truncation ψ toward
    /// the mean of 4,096 w (seed 0) as the graphs use it, stored noise.
    public static func measure(_ g: StyleGAN2Generator, net: AttributeNet, count: Int, seed: UInt64 = 4321,
                               truncation psi: Float = 0.7) throws -> [Row] {
        guard count >= 1, count <= 100_000 else { throw ModelError("mixing count must be in 1...100000, got \(count)") }
        let heads = AttributeHeads.categorical
        let groups = g.mixingBands
        let mean = psi == 1 ? nil : try g.meanLatent(count: 4096, seed: 0)
        var differ = [Int](repeating: 0, count: heads.count)
        var took = [[Int]](repeating: [Int](repeating: 0, count: groups.count), count: heads.count)
        var done = 0
        func read(_ wplus: Tensor) throws -> [[Int]] {
            AttributeNet.predictions(try net(try g.synthesis(wplus, noise: .const))).map(\.classes)
        }
        while done < count {
            let n = min(50, count - done), batch = UInt64(done / 50)
            func wplus(_ stream: UInt64) throws -> Tensor {
                var w = try g.mapping(try Tensor.randomNormal([n, g.styleDim], seed: seed, stream: 2 * batch + stream))
                if let mean { w = try g.truncate(w, psi: psi, mean: mean) }
                return try g.broadcastLatent(w)
            }
            let a = try wplus(0), b = try wplus(1)
            let pa = try read(a), pb = try read(b)
            var mixed: [[[Int]]] = []
            for grp in groups {
                mixed.append(grp.layers.isEmpty ? pa : try read(StyleGAN2Generator.mixLayers(a, b, layers: grp.layers)))
            }
            for i in 0..<n {
                for h in heads.indices where pa[i][h] != pb[i][h] {
                    differ[h] += 1
                    for k in groups.indices where mixed[k][i][h] == pb[i][h] { took[h][k] += 1 }
                }
            }
            done += n
        }
        return heads.indices.map { h in
            Row(attribute: heads[h].name, pairs: differ[h],
                takesB: took[h].map { differ[h] > 0 ? Double($0) / Double(differ[h]) : .nan })
        }
    }

    /// The rows as a Markdown table, the group that carries each attribute most in bold; rows with
    /// fewer than `minPairs` informative pairs are named below the table instead (too few to say).
    public static func markdown(_ rows: [Row], bands: [(name: String, layers: Range<Int>)], minPairs: Int = 10) -> String {
        let names = bands.map { g in g.layers.isEmpty ? "\(g.name) (none)" : "\(g.name) (\(g.layers.lowerBound)–\(g.layers.upperBound - 1))" }
        var s = "| attribute | pairs A≠B | " + names.map { "\($0) takes B" }.joined(separator: " | ") + " |\n|---|---|" + String(repeating: "---|", count: names.count) + "\n"
        for r in rows where r.pairs >= minPairs {
            let best = r.takesB.indices.max { (r.takesB[$0].isNaN ? -1 : r.takesB[$0]) < (r.takesB[$1].isNaN ? -1 : r.takesB[$1]) }
            let cells = r.takesB.indices.map { k -> String in
                let v = r.takesB[k]
                guard v.isFinite else { return "–" }
                let t = String(format: "%.0f%%", 100 * v)
                return k == best ? "**\(t)**" : t
            }
            s += "| \(r.attribute) | \(r.pairs) | " + cells.joined(separator: " | ") + " |\n"
        }
        let few = rows.filter { $0.pairs < minPairs }.map { "\($0.attribute) (\($0.pairs))" }
        if !few.isEmpty { s += "\nFewer than \(minPairs) pairs read differently, left out: " + few.joined(separator: ", ") + "\n" }
        return s
    }
}
