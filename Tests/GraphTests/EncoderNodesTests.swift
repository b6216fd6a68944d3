import Foundation
import Graph
import Imaging
import Models
@testable import Nodes
import TensorCore
import Testing

/// `encode.image` and `optimize` in graphs, on tiny random models: notes for resized inputs,
/// same bytes on every run, refusals at the param's line, a resumed optimization equal to a
/// straight one; and the shipped models by name.
@Suite struct EncoderNodesTests {
    static let gConfig = try! StyleGAN2Config(size: 16, styleDim: 16, nMLP: 2, channelMultiplier: 1, channelDivisor: 128)

    /// A tiny generator, encoder and attribute network in `dir`, and the `models:` lines naming them.
    static func models(in dir: TempDir) throws -> String {
        let g = try StyleGAN2Generator.random(config: gConfig, seed: 3)
        try g.save(to: dir.path("g.safetensors"))
        try LatentEncoder(config: .tiny, latentAverage: g.meanLatent(count: 64, seed: 0), seed: 5).save(to: dir.path("e.safetensors"))
        try AttributeNet(config: .tiny, seed: 4).save(to: dir.path("a.safetensors"))
        return "models:\n  g: g.safetensors\n  e: e.safetensors\n  a: a.safetensors\n"
    }

    @Test func encodeAndOptimizeRunWithNotesAndSameBytes() throws {
        let dir = try TempDir("encoder-nodes")
        let yaml = "tedi: 1\n" + (try Self.models(in: dir)) + """
        nodes:
          face:  { op: synthfaces.sample, index: 7, size: 40 }
          codes: { op: encode.image, in: face.image }
          opt:   { op: optimize, in: { init: codes, target: face.image }, steps: 4, lambda_dom: 0.5, layers: "0-3" }
          w0:    { op: write.npy, in: codes, path: codes.npy }
          w1:    { op: write.npy, in: opt, path: opt.npy }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        let first = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("a")).run(seeds: [0])
        #expect(first.notes.contains("node 'codes': in: resized 40×40 → 16×16 (area) for the model"), "\(first.notes)")
        #expect(first.notes.contains { $0.hasPrefix("node 'opt': target: resized") }, "\(first.notes)")
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("b")).run(seeds: [0])
        let codes = try Npy.readTensor(dir.path("a/codes.npy")), opt = try Npy.readTensor(dir.path("a/opt.npy"))
        #expect(codes.shape == [1, 6, 16] && opt.shape == [1, 6, 16])
        #expect(codes != opt, "optimize moved the codes")
        // Layers 4–5 stay where the encoder put them.
        #expect(Array(codes.scalars[64...]) == Array(opt.scalars[64...]))
        for f in ["codes.npy", "opt.npy"] {
            #expect(FileManager.default.contents(atPath: dir.path("a/" + f)) == FileManager.default.contents(atPath: dir.path("b/" + f)), "\(f) differs between runs")
        }
    }

    /// A user's PNG: not square, not 64 px, with alpha. It is composited, cropped and resized, each
    /// said in a note; a truncated PNG is refused naming the file.
    @Test func aUsersPNGIsTakenWithNotes() throws {
        let dir = try TempDir("encoder-nodes-png")
        let models = try Self.models(in: dir)
        var px = [UInt8](repeating: 0, count: 80 * 60 * 4)
        for i in 0..<(80 * 60) { px[i * 4] = UInt8(i % 251); px[i * 4 + 3] = i % 80 < 10 ? 0 : 255 }
        try PNG.write(try Image(width: 80, height: 60, channels: 4, pixels: px), to: dir.path("me.png"))
        let yaml = "tedi: 1\n" + models + """
        nodes:
          me:    { op: input.image, path: me.png }
          codes: { op: encode.image, in: me }
          w:     { op: write.npy, in: codes, path: codes.npy }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        let r = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        #expect(r.notes == ["node 'me': me.png has an alpha channel: composited over white",
                            "node 'codes': in: cropped 80×60 to its centre 60×60",
                            "node 'codes': in: resized 60×60 → 16×16 (area) for the model"], "\(r.notes)")
        #expect(try Npy.readTensor(dir.path("out/codes.npy")).shape == [1, 6, 16])
        let bytes = try Data(contentsOf: dir.sub("me.png"))
        try bytes.prefix(bytes.count / 2).write(to: dir.sub("me.png"))
        do {
            _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out2")).run(seeds: [0])
            Issue.record("a truncated PNG should fail")
        } catch {
            #expect("\(error)".contains("me.png"), "\(error)")
        }
    }

    @Test func badParamsAreRefusedAtTheirLine() throws {
        let dir = try TempDir("encoder-nodes-bad")
        let models = try Self.models(in: dir)
        func refused(_ params: String, _ fragment: String, line: Int) throws {
            let yaml = "tedi: 1\n" + models + """
            nodes:
              face:  { op: synthfaces.sample, size: 16 }
              codes: { op: encode.image, in: face.image }
              opt:   { op: optimize, in: { init: codes, target: face.image }, \(params) }
              w:     { op: write.npy, in: opt, path: opt.npy }
            """
            do {
                _ = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
                Issue.record("\(params) should be refused")
            } catch let e as GraphErrors {
                #expect(e.diagnostics.contains { $0.message.contains(fragment) && $0.location?.line == line }, "\(params): \(e.diagnostics)")
            }
        }
        try refused("lr: -0.1", "below the minimum", line: 9)
        try refused("steps: 0", "below the minimum", line: 9)
        try refused("attributes: \"hair_color=purple\"", "not a value of hair_color", line: 9)
        try refused("layers: \"7\"", "layer 7", line: 9)
        try refused("encoder: g", "is a generator, but param 'encoder' takes an encoder", line: 9)
        // Nothing to optimize toward.
        let bare = "tedi: 1\n" + models + """
        nodes:
          w0:  { op: sample, space: w+ }
          opt: { op: optimize, in: { init: w0 } }
          w:   { op: write.npy, in: opt, path: opt.npy }
        """
        #expect(throws: GraphErrors.self) { try loadPlan(bare, in: dir, catalog: NodeCatalog.standard) }
    }

    /// Stopped after 4 of 10 steps (as Ctrl-C does) and run again, the node's checkpoint resumes
    /// at step 4 and ends on the same bytes as a straight run.
    @Test func interruptedOptimizationResumesToTheSameBytes() throws {
        let dir = try TempDir("encoder-nodes-resume")
        let g = try StyleGAN2Generator.random(config: Self.gConfig, seed: 3)
        let w0 = try g.broadcastLatent(g.mapping(Tensor.randomNormal([1, 16], seed: 1)))
        let target = try g.synthesis(g.broadcastLatent(g.mapping(Tensor.randomNormal([1, 16], seed: 2))), noise: .const)
        let opt = try LatentOptimizer(options: .init(steps: 10, feature: 0), generator: g, initial: w0, target: target)
        let straight = try opt.run()
        let c = Checkpoint(directory: dir.url, key: String(repeating: "ab", count: 32))
        func run(stopAt: Int?) throws -> (LatentOptimizer.State, Int) {
            var done = 0
            let r = try c.run(steps: 10, every: 2, initial: { opt.start() }, encode: EncoderOps.encodeState, decode: EncoderOps.decodeState,
                              isCancelled: { stopAt.map { done >= $0 } ?? false }) { s, _ in _ = try opt.step(&s); done += 1 }
            return (r.state, r.resumedAt)
        }
        #expect(throws: NodeCancelled.self) { try run(stopAt: 4) }
        let (resumed, at) = try run(stopAt: nil)
        #expect(at == 4)
        #expect(resumed.w.scalars == straight.w.scalars && resumed.step == 10)
    }

    /// Without a `models:` section a graph uses the shipped models (when this checkout has them).
    @Test(.enabled(if: ShippedModels.directory() != nil)) func graphsWithoutModelsUseTheShippedOnes() throws {
        let dir = try TempDir("shipped")
        let yaml = """
        tedi: 1
        nodes:
          w:   { op: sample }
          img: { op: synthesize, in: w }
          out: { op: write.png, in: img, path: a.png }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        let i = try #require(plan.nodes.firstIndex { $0.id == "w" })
        let params = try plan.resolvedParams(i, seed: 0)
        #expect(params["model"]?.stringValue == "synthfaces64", "\(params)")
        #expect(plan.models["synthfaces64"]?.shipped == true)
        #expect(try ShippedModels.entries().map(\.name).contains("image_encoder"))
    }

    /// `tedi models` lists the shipped set; a TEDI_MODELS without the manifest is refused, and a
    /// graph then finds no shipped generator.
    @Test(.enabled(if: tediBinary != nil && ShippedModels.directory() != nil)) func modelsCommandListsTheShippedSet() throws {
        let dir = try TempDir("models-cli")
        let r = try tedi(["models"], in: dir.url)
        #expect(r.code == 0 && r.stdout.contains("synthfaces64") && r.stdout.contains("image_encoder") && r.stdout.contains("encoder"), "\(r.stdout)\n\(r.stderr)")
        let bad = try TediProcess(["models"], in: dir.url, environment: ["TEDI_MODELS": dir.path("nothing")]).finish()
        #expect(bad.code == 2 && bad.stderr.contains("has no shipped.json"), "\(bad.stderr)")
        _ = try dir.write("tedi: 1\nnodes:\n  w: { op: sample }\n  s: { op: write.npy, in: w, path: w.npy }\n", to: "g.yaml")
        let check = try TediProcess(["check", "g.yaml"], in: dir.url, environment: ["TEDI_MODELS": dir.path("nothing")]).finish()
        #expect(check.code == 1 && check.stderr.contains("none is shipped"), "\(check.stderr)")
    }

    /// A stop request (SIGTERM; Ctrl-C sets the same flag) during a long optimize through the real
    /// executable: exit 130, a checkpoint is left;
    /// the rerun resumes from it and writes the same bytes as an uninterrupted run.
    @Test(.enabled(if: tediBinary != nil)) func stoppedMidOptimizeResumesToTheSameBytes() throws {
        let dir = try TempDir("encoder-nodes-sigint")
        let yaml = "tedi: 1\n" + (try Self.models(in: dir)) + """
        nodes:
          face:  { op: synthfaces.sample, index: 7, size: 16 }
          codes: { op: encode.image, in: face.image }
          opt:   { op: optimize, in: { init: codes, target: face.image }, steps: 6000 }
          w:     { op: write.npy, in: opt, path: opt.npy }
        """
        _ = try dir.write(yaml, to: "g.yaml")
        // Stop it once a checkpoint of the optimize node exists. SIGTERM sets the same flag as
        // Ctrl-C's SIGINT (a shell's background job has SIGINT ignored); the run exits 130.
        let bin = tediBinary!.path
        let script = """
            '\(bin)' run g.yaml --cache cache --out a > out.txt 2> err.txt & pid=$!
            i=0; while [ $i -lt 600 ] && [ -z "$(find cache/checkpoints -type f 2>/dev/null | head -1)" ]; do sleep 0.05; i=$((i+1)); done
            kill -TERM $pid; wait $pid; echo "code $?"
            """
        let r = try runTool("/bin/sh", ["-c", script], in: dir.url)
        let err = (try? String(contentsOfFile: dir.path("err.txt"), encoding: .utf8)) ?? ""
        #expect(r.stdout.contains("code 130") && err.contains("interrupted"), "\(r.stdout) \(err)")
        let checkpoints = dir.path("cache/checkpoints")
        #expect(!FileManager.default.fileExists(atPath: dir.path("a/opt.npy")), "an interrupted run writes no output")
        #expect(!(FileManager.default.subpaths(atPath: checkpoints) ?? []).filter({ $0.count > 40 }).isEmpty, "the checkpoint stays for the rerun")
        let resumed = try tedi(["run", "g.yaml", "--cache", "cache", "--out", "a"], in: dir.url)
        #expect(resumed.code == 0, "\(resumed.stderr)")
        let straight = try tedi(["run", "g.yaml", "--no-cache", "--out", "b"], in: dir.url)
        #expect(straight.code == 0, "\(straight.stderr)")
        let a = FileManager.default.contents(atPath: dir.path("a/opt.npy")), b = FileManager.default.contents(atPath: dir.path("b/opt.npy"))
        #expect(a != nil && a == b, "the resumed optimization differs from an uninterrupted one")
    }
}
