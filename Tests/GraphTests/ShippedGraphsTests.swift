import Foundation
import Testing
import Graph
import Imaging
import Nodes

/// Every recipe in Graphs/ validates and runs, and running it twice gives the same bytes.
@Suite struct ShippedGraphsTests {
    static let graphsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Graphs")

    static func graphFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: graphsDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test func thereAreRecipes() {
        #expect(Self.graphFiles().contains("demo.yaml"))
    }

    @Test(arguments: graphFiles())
    func recipeRunsAndReproduces(_ name: String) throws {
        let path = Self.graphsDirectory.appendingPathComponent(name).path
        let plan = try GraphValidator.validate(try GraphFile.load(path: path), catalog: NodeCatalog.standard)
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("tedi-shipped-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let first = try GraphRunner(plan: plan, cache: nil, outDirectory: tmp.appendingPathComponent("a")).run(seeds: [0, 1])
        #expect(!first.written.isEmpty)
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: tmp.appendingPathComponent("b")).run(seeds: [0, 1])
        for f in first.written {
            let a = FileManager.default.contents(atPath: tmp.appendingPathComponent("a/" + f).path)
            let b = FileManager.default.contents(atPath: tmp.appendingPathComponent("b/" + f).path)
            #expect(a != nil && a == b, "\(name): \(f) differs between two runs")
            if f.hasSuffix(".png"), let a {
                let (_, text) = try PNG.decode([UInt8](a))
                #expect(text[Recipe.textKey] != nil, "\(f) carries no recipe")
            }
        }
    }
}

/// The README shows `tedi check Examples/broken.yaml`; these are exactly its errors.
@Suite struct BrokenExampleTests {
    @Test func brokenExampleReportsEveryMistake() throws {
        let path = ShippedGraphsTests.graphsDirectory.deletingLastPathComponent().appendingPathComponent("Examples/broken.yaml").path
        do {
            _ = try GraphValidator.validate(try GraphFile.load(path: path), catalog: NodeCatalog.standard)
            Issue.record("Examples/broken.yaml should not validate")
        } catch let e as GraphErrors {
            let lines = e.diagnostics.map { d in "\(d.location.map { "\($0.line):\($0.column)" } ?? "-") \(d.message)" }
            #expect(lines == [
                "6:52 op 'synthfaces.sample' has no param 'indx' (did you mean 'index'?); params: seed, index, size, caption",
                "7:16 unknown op 'sketch.edge' (did you mean 'sketch.edges'?); run `tedi nodes` for the list",
                "8:33 type mismatch: input 'base' of 'mixed' (mix) takes Latent, but 'face' gives Image",
                "8:52 type mismatch: input 'style' of 'mixed' (mix) takes Latent, but 'face' gives Image",
                "9:3 cycle: a -> b -> a",
                "10:44 unresolved '${sise}': no param 'sise' (did you mean 'size'?)",
                "11:40 param 'path' of 'save' (write.png): output path '../outside.png' leaves the --out directory through '..' (run with --allow-outside-out to permit it)",
            ])
        }
    }
}

/// The pictures in docs/ carry recipes that rerun on another machine: no absolute paths.
@Suite struct DocsRecipesTests {
    @Test func docsPicturesNameNoMachinePaths() throws {
        let docs = ShippedGraphsTests.graphsDirectory.deletingLastPathComponent().appendingPathComponent("docs")
        var checked = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: docs.path).sorted() where name.hasSuffix(".png") {
            let (_, text) = try PNG.read(docs.appendingPathComponent(name).path)
            guard let t = text[Recipe.textKey] else { continue }
            let r = try Recipe.parse(t, path: name)
            #expect(r.version == Recipe.version && !r.graphPath.hasPrefix("/"), "\(name): \(r.graphPath)")
            #expect(!r.files.keys.contains { $0.hasPrefix("/") }, "\(name): \(r.files.keys.sorted())")
            checked += 1
        }
        #expect(checked >= 10)
    }
}
