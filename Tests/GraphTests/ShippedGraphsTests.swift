import Foundation
import Testing
import Graph
import Imaging
import Models
import Nodes

/// Every recipe in Graphs/ validates and runs, and running it twice gives the same bytes.
@Suite struct ShippedGraphsTests {
    static let graphsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Graphs")

    static func graphFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: graphsDirectory.path)) ?? []
        // ffhq_1024.yaml needs a converted checkpoint tedi does not ship (FFHQ1024Tests).
        return names.filter { $0.hasSuffix(".yaml") && $0 != "ffhq_1024.yaml" }.sorted()
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
        // Rerun seed 1 from the recipe in its first PNG, as `tedi run RESULT.png` does: the same bytes.
        let png = try #require(first.written.filter { $0.hasSuffix("_1.png") }.sorted().first, "\(name) writes no PNG for seed 1")
        let pngPath = tmp.appendingPathComponent("a/" + png).path
        let recipe = try Recipe.parse(try #require(try PNG.read(pngPath).text[Recipe.textKey]), path: pngPath)
        var locator = RecipeLocator()
        let again = try locator.plan(recipe, pngPath: pngPath, catalog: NodeCatalog.standard,
                                     sets: recipe.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, seed: recipe.seed)
        _ = try GraphRunner(plan: again, cache: nil, outDirectory: tmp.appendingPathComponent("c")).run(seeds: [recipe.seed])
        #expect(FileManager.default.contents(atPath: tmp.appendingPathComponent("c/" + png).path) == FileManager.default.contents(atPath: pngPath),
                "\(name): \(png) rerun from its recipe differs")
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

/// `Graphs/ffhq_1024.yaml` without its checkpoint says which file is missing and how to give it;
/// with a random-weight 1024 px rosinality-layout model made here it runs and writes the sheet.
@Suite struct FFHQ1024Tests {
    @Test func missingCheckpointIsAClearErrorAndARandomModelRuns() throws {
        let path = ShippedGraphsTests.graphsDirectory.appendingPathComponent("ffhq_1024.yaml").path
        let file = try GraphFile.load(path: path)
        if !FileManager.default.fileExists(atPath: ShippedGraphsTests.graphsDirectory.appendingPathComponent("../Models/ffhq.safetensors").path) {
            do {
                _ = try GraphValidator.validate(file, catalog: NodeCatalog.standard)
                Issue.record("ffhq_1024.yaml should not validate without its checkpoint")
            } catch let e as GraphErrors {
                #expect(e.diagnostics.count == 1)
                let m = e.diagnostics.first?.message ?? ""
                #expect(m.hasPrefix("model 'ffhq': no such file '../Models/ffhq.safetensors'") && m.hasSuffix("; give the file with --set checkpoint=PATH"), "\(m)")
            }
        }
        // An attribute network given as the checkpoint: said, beside the error it causes.
        let attributes = ShippedGraphsTests.graphsDirectory.deletingLastPathComponent().appendingPathComponent("Models/attributes.safetensors").path
        do {
            _ = try GraphValidator.validate(file, catalog: NodeCatalog.standard, sets: [("checkpoint", attributes)])
            Issue.record("an attribute network is not a generator")
        } catch let e as GraphErrors {
            #expect(e.diagnostics.contains { $0.message == "model 'ffhq' is an attribute network, and no node here takes one (they take a generator); is it the file you meant?" }, "\(e)")
        }
        let dir = try TempDir("ffhq1024")
        let model = dir.path("random_1024.safetensors")
        try StyleGAN2Generator.random(config: try StyleGAN2Config(size: 1024, channelMultiplier: 1), seed: 3).save(to: model)
        let plan = try GraphValidator.validate(file, catalog: NodeCatalog.standard, sets: [("checkpoint", model), ("count", "1")])
        let report = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        #expect(report.written == ["mixing_1024_0.png"])
        let (sheet, text) = try PNG.read(dir.path("out/mixing_1024_0.png"))
        #expect(sheet.height > 256 && sheet.height < 300 && sheet.width > 5 * 256 && sheet.width < 5 * 256 + 40, "\(sheet.width)×\(sheet.height)")
        #expect(try Recipe.parse(try #require(text[Recipe.textKey]), path: "sheet").shipped.isEmpty)
    }
}
