import Foundation
import Graph
import Nodes
import TensorCore
import Testing

/// `mix` checks its layer selection against the layer count of the W+ latents feeding it, before anything runs.
@Suite struct MixValidationTests {
    @Test func layerRangeOutsideTheLatentIsAnErrorAtTheParam() throws {
        let dir = try TempDir("mix")
        try Npy.write(try Tensor.randomNormal([1, 6, 4], seed: 1), to: dir.path("a.npy"))
        try Npy.write(try Tensor.randomNormal([1, 6, 4], seed: 2), to: dir.path("b.npy"))
        let yaml = """
        tedi: 1
        nodes:
          a: { op: input.latent, path: a.npy }
          b: { op: input.latent, path: b.npy }
          m: { op: mix, in: { base: a, style: b }, layers: "4-7" }
          w: { op: write.npy, in: m, path: m.npy }
        """
        do {
            _ = try loadPlan(yaml, in: dir, name: "g.yaml", catalog: NodeCatalog.standard)
            Issue.record("validation should fail")
        } catch let e as GraphErrors {
            let (l, c) = loc(yaml, "\"4-7\"")
            #expect(e.description == "\(dir.path("g.yaml")):\(l):\(c): error: node 'm': layer 6 is outside the latent's 6 layers (0–5)")
        }
        // In range: runs, and layers 2-3 come from style at alpha 1.
        let ok = yaml.replacingOccurrences(of: "\"4-7\"", with: "\"2-3\"")
        let plan = try loadPlan(ok, in: dir, name: "g2.yaml", catalog: NodeCatalog.standard)
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        let m = try Npy.readTensor(dir.path("out/m.npy")), a = try Npy.readTensor(dir.path("a.npy")), b = try Npy.readTensor(dir.path("b.npy"))
        #expect(m.shape == [1, 6, 4])
        for l in 0..<6 { for k in 0..<4 { #expect(m[0, l, k] == ((2...3).contains(l) ? b[0, l, k] : a[0, l, k])) } }
    }
}
