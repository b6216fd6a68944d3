import Foundation
import Graph
import Imaging
import Models
@testable import Nodes
import TensorCore
import Testing

/// `encode.text`, `edit.text` and optimize's `text` input in graphs, with the shipped text encoder,
/// similarity model and generator: notes on unknown words before running, seeded codes, clear
/// errors for captions that cannot be read, same bytes on every run.
@Suite struct TextNodesTests {
    static let present = ["text_encoder.safetensors", "similarity.safetensors", "synthfaces64.safetensors"].allSatisfy {
        FileManager.default.fileExists(atPath: ShippedGraphsTests.graphsDirectory.deletingLastPathComponent().appendingPathComponent("Models/" + $0).path)
    }

    @Test(.enabled(if: present)) func encodeTextNotesUnknownWordsAndIsSeeded() throws {
        let dir = try TempDir("text-nodes")
        let yaml = """
        tedi: 1
        nodes:
          caption: { op: input.text, text: "a smilling woman with blond hair and a xylophone, no glasses 😀" }
          codes:   { op: encode.text, in: caption, count: 2 }
          refined: { op: optimize, in: { init: codes, text: caption }, steps: 3, lambda_pix: 0, lambda_feat: 0, lr: 0.02 }
          w1:      { op: write.npy, in: codes, path: "codes_${seed}.npy" }
          w2:      { op: write.npy, in: refined, path: "refined_${seed}.npy" }
          read:    { op: write.text, in: codes.read, path: "read_${seed}.txt" }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        // Known before running: the words the text encoder does not know, and the typo it reads.
        #expect(plan.notes.contains { $0.hasPrefix("node 'codes': unknown words: xylophone") }, "\(plan.notes)")
        #expect(plan.notes.contains("node 'codes': read 'smilling' as 'smiling'"), "\(plan.notes)")
        #expect(plan.notes.contains { $0.hasPrefix("node 'refined': unknown words: xylophone") }, "\(plan.notes)")
        // And what it will read, as the run says it.
        #expect(plan.notes.contains { $0.hasPrefix("node 'codes': read: presentation=feminine") && $0.contains("hair_color=blond") }, "\(plan.notes)")
        let r = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("a")).run(seeds: [0, 1])
        #expect(r.notes.contains { $0.hasPrefix("node 'codes': read: presentation=feminine") && $0.contains("hair_color=blond") && $0.contains("eyeglasses=false") },
                "\(r.notes)")
        let read = try String(contentsOfFile: dir.path("a/read_0.txt"), encoding: .utf8)
        #expect(read.contains("hair_color=blond") && read.contains("expression=smiling"), "\(read)")
        let c0 = try Npy.readTensor(dir.path("a/codes_0.npy")), c1 = try Npy.readTensor(dir.path("a/codes_1.npy"))
        #expect(c0.shape == [2, 10, 256])
        #expect(c0 != c1, "another seed gives other faces")
        #expect(try Npy.readTensor(dir.path("a/refined_0.npy")) != c0, "the text term moved the codes")
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("b")).run(seeds: [0, 1])
        for f in ["codes_0.npy", "codes_1.npy", "refined_0.npy", "read_1.txt"] {
            #expect(FileManager.default.contents(atPath: dir.path("a/" + f)) == FileManager.default.contents(atPath: dir.path("b/" + f)), "\(f) differs")
        }
        // From a disk cache the writers are reused and the encoder is not even loaded (skipped),
        // yet the run still says what the caption was read as.
        let cache = DiskCache(root: dir.sub("cache"))
        _ = try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("c")).run(seeds: [0])
        let again = try GraphRunner(plan: plan, cache: cache, outDirectory: dir.sub("c")).run(seeds: [0])
        #expect(again.nodes.first { $0.id == "codes" }?.status == .skipped, "\(again.nodes)")
        #expect(again.notes.contains { $0.hasPrefix("node 'codes': read: presentation=feminine") }, "\(again.notes)")
    }

    @Test(.enabled(if: present)) func unreadableCaptionsAreErrorsAtTheirNode() throws {
        let dir = try TempDir("text-bad")
        for (caption, message) in [("   ", "has no words"), ("😀 ✨", "has no words"),
                                   (Array(repeating: "blond", count: 70).joined(separator: " "), "at most 64")] {
            let yaml = """
            tedi: 1
            nodes:
              caption: { op: input.text, text: "\(caption)" }
              codes:   { op: encode.text, in: caption }
              w:       { op: write.npy, in: codes, path: c.npy }
            """
            do {
                _ = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
                Issue.record("'\(caption.prefix(20))' was accepted")
            } catch let e as GraphErrors {
                #expect(e.description.contains("node 'codes'") && e.description.contains(message) && e.description.contains("graph.yaml:4:"), "\(e.description)")
            }
        }
        // A caption read from a file is checked when it runs, with the same message.
        _ = try dir.write("😀\n", to: "emoji.txt")
        let plan = try loadPlan("""
        tedi: 1
        nodes:
          caption: { op: input.text, path: emoji.txt }
          codes:   { op: encode.text, in: caption }
          w:       { op: write.npy, in: codes, path: c.npy }
        """, in: dir, catalog: NodeCatalog.standard)
        do {
            _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("o")).run(seeds: [0])
            Issue.record("a caption file of one emoji was read")
        } catch {
            #expect("\(error)".contains("has no words") && "\(error)".contains("codes"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("o/c.npy")))
    }

    @Test(.enabled(if: present)) func editTextMovesTheAskedAttributes() throws {
        let dir = try TempDir("text-edit")
        let yaml = """
        tedi: 1
        nodes:
          face:   { op: synthfaces.sample, index: 3, size: 64 }
          code:   { op: encode.image, in: face.image }
          edited: { op: edit.text, in: { in: code, text: instruction }, strength: 1 }
          instruction: { op: input.text, text: "Make the hair gray." }
          w1:     { op: write.npy, in: code, path: code.npy }
          w2:     { op: write.npy, in: edited, path: edited.npy }
        """
        let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
        let r = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("a")).run(seeds: [0])
        #expect(r.notes.contains { $0.hasPrefix("node 'edited': read: hair_color=gray") }, "\(r.notes)")
        let a = try Npy.readTensor(dir.path("a/code.npy")), b = try Npy.readTensor(dir.path("a/edited.npy"))
        #expect(a.shape == b.shape && a != b)
    }
}
