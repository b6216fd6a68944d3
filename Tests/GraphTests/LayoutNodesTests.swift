import Foundation
import Graph
import Imaging
import Models
@testable import Nodes
import SynthFaces
import TensorCore
import Testing

/// `encode.sketch`, `encode.label`, `parse.face` and optimize's `label` input in graphs, on tiny
/// random models: shapes, notes for resized inputs, one-hot labels, bad ids named, same bytes.
@Suite struct LayoutNodesTests {
    /// Tiny generator, image/sketch/label encoders, attribute network and parser in `dir`.
    static func models(in dir: TempDir) throws -> String {
        var yaml = try EncoderNodesTests.models(in: dir)
        let g = try StyleGAN2Generator.load(path: dir.path("g.safetensors"))
        for (modality, channels) in [("sketch", 1), ("label", 19)] {
            var c = LatentEncoder.Config.tiny
            c.modality = modality; c.inChannels = channels
            try LatentEncoder(config: c, latentAverage: g.meanLatent(count: 64, seed: 0), seed: 7).save(to: dir.path("\(modality).safetensors"))
            yaml += "  \(modality): \(modality).safetensors\n"
        }
        try FaceParser(config: .tiny, seed: 6).save(to: dir.path("p.safetensors"))
        return yaml + "  p: p.safetensors\n"
    }

    @Test func layoutNodesRunWithNotesAndSameBytes() throws {
        let dir = try TempDir("layout-nodes")
        let yaml = "tedi: 1\n" + (try Self.models(in: dir)) + """
        nodes:
          face:   { op: synthfaces.sample, index: 7, size: 40 }
          sk:     { op: encode.sketch, in: face.sketch }
          lab:    { op: encode.label, in: face.label }
          parsed: { op: parse.face, in: face.image }
          relab:  { op: encode.label, in: parsed.ids }
          opt:    { op: optimize, in: { init: lab, label: face.label }, steps: 3, lambda_label: 1 }
          w1:     { op: write.npy, in: sk, path: sk.npy }
          w2:     { op: write.npy, in: lab, path: lab.npy }
          w3:     { op: write.npy, in: relab, path: relab.npy }
          w4:     { op: write.npy, in: opt, path: opt.npy }
          map:    { op: write.png, in: parsed, path: parsed.png }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        let r = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("a")).run(seeds: [0])
        #expect(r.notes.contains("node 'sk': in: resized 40×40 → 16×16 (area) for the model"), "\(r.notes)")
        #expect(r.notes.contains("node 'lab': in: resized 40×40 → 16×16 (nearest) for the model"), "\(r.notes)")
        #expect(r.notes.contains("node 'opt': label: resized 40×40 → 16×16 (nearest) for the model"), "\(r.notes)")
        for f in ["sk.npy", "lab.npy", "relab.npy", "opt.npy"] { #expect(try Npy.readTensor(dir.path("a/" + f)).shape == [1, 6, 16], "\(f)") }
        #expect(try Npy.readTensor(dir.path("a/opt.npy")) != Npy.readTensor(dir.path("a/lab.npy")), "the label term moved the codes")
        let (png, _) = try PNG.read(dir.path("a/parsed.png"))
        #expect(png.width == 16 && png.height == 16)
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("b")).run(seeds: [0])
        for f in ["sk.npy", "lab.npy", "relab.npy", "opt.npy", "parsed.png"] {
            #expect(FileManager.default.contents(atPath: dir.path("a/" + f)) == FileManager.default.contents(atPath: dir.path("b/" + f)), "\(f) differs")
        }
    }

    @Test func oneHotLabelsAndBadIds() throws {
        let maps: [[UInt8]] = [[0, 18, 3, 3]]
        let t = try SynthFaces.labelTensor(maps, size: 2)
        #expect(t.shape == [1, 19, 2, 2])
        for p in 0..<4 {
            for k in 0..<19 { #expect(t.scalars[k * 4 + p] == (Int(maps[0][p]) == k ? 1 : 0)) }
        }
        let bad = LabelMap(width: 3, height: 2, ids: [0, 1, 2, 3, 19, 4])
        #expect(throws: NodeError.self) { try LayoutOps.labelIDs(bad, size: 2, what: "in") }
        do { _ = try LayoutOps.labelIDs(bad, size: 2, what: "in") } catch { #expect("\(error)".contains("pixel (1, 1) has class 19"), "\(error)") }
        // A PNG of ids with 19 in it is refused by input.label, naming the file and the pixel.
        let dir = try TempDir("layout-bad-ids")
        var px = [UInt8](repeating: 1, count: 16 * 16)
        px[5 * 16 + 9] = 23
        try PNG.write(try Image(width: 16, height: 16, channels: 1, pixels: px), to: dir.path("bad.png"))
        let yaml = "tedi: 1\n" + (try Self.models(in: dir)) + """
        nodes:
          m:   { op: input.label, path: bad.png }
          enc: { op: encode.label, in: m }
          w:   { op: write.npy, in: enc, path: w.npy }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        do {
            _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
            Issue.record("class 23 should be refused")
        } catch {
            #expect("\(error)".contains("bad.png") && "\(error)".contains("(9, 5)") && "\(error)".contains("23"), "\(error)")
        }
    }

    @Test func encodersOfAnotherModalityAreRefusedAtTheirLine() throws {
        let dir = try TempDir("layout-kinds")
        let models = try Self.models(in: dir)
        let yaml = "tedi: 1\n" + models + """
        nodes:
          face: { op: synthfaces.sample, size: 16 }
          sk:   { op: encode.sketch, in: face.sketch, encoder: label }
          w:    { op: write.npy, in: sk, path: w.npy }
        """
        do {
            _ = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
            Issue.record("a label encoder on encode.sketch should be refused")
        } catch let e as GraphErrors {
            #expect(e.diagnostics.contains { $0.message.contains("is a label encoder, but param 'encoder' takes a sketch encoder") && $0.location?.line == 11 }, "\(e.diagnostics)")
        }
    }
}

extension LayoutNodesTests {
    /// optimize needs a parser only when a `label` is connected with a positive lambda_label.
    @Test func optimizesParserIsBoundOnlyWhenALabelIsUsed() throws {
        let dir = try TempDir("layout-parser-binding")
        try FaceParser(config: .tiny, seed: 8).save(to: dir.path("p2.safetensors"))
        let models = try Self.models(in: dir) + "  p2: p2.safetensors\n"
        let plain = "tedi: 1\n" + models + """
        nodes:
          face:  { op: synthfaces.sample, size: 16 }
          codes: { op: encode.image, in: face.image }
          opt:   { op: optimize, in: { init: codes, target: face.image }, steps: 2 }
          w:     { op: write.npy, in: opt, path: w.npy }
        """
        _ = try loadPlan(plain, in: dir, catalog: NodeCatalog.standard)   // two parsers declared, none needed
        let zero = "tedi: 1\n" + models + """
        nodes:
          face:  { op: synthfaces.sample, size: 16 }
          codes: { op: encode.label, in: face.label }
          opt:   { op: optimize, in: { init: codes, label: face.label }, lambda_label: 0, parser: p }
          w:     { op: write.npy, in: opt, path: w.npy }
        """
        do {
            _ = try loadPlan(zero, in: dir, catalog: NodeCatalog.standard)
            Issue.record("a label with lambda_label 0 leaves nothing to optimize toward")
        } catch let e as GraphErrors {
            #expect(e.diagnostics.contains { $0.message.contains("nothing to optimize toward") }, "\(e.diagnostics)")
        }
    }
}
