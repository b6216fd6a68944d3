import Foundation
import Graph
import Imaging
import Testing
import TensorCore

/// Recipes name the graph, its files and shipped models without machine paths, and a rerun finds
/// each file by path, by name beside the PNG, or by content in a models folder.
@Suite struct PortableRecipeTests {
    static let graph = """
    tedi: 1
    params:
      photo: ../Examples/photo.png
    nodes:
      photo: { op: input.image, path: "${photo}" }
      small: { op: image.resize, in: photo, width: 5 }
      save:  { op: write.png, in: small, path: "out_${seed}.png" }
    """

    /// A folder laid out like a checkout: Graphs/g.yaml and Examples/photo.png.
    static func clone(_ dir: TempDir, _ name: String, shift: Int = 0) throws {
        try dir.write(graph, to: "\(name)/Graphs/g.yaml")
        try writeFixturePNG(dir, "\(name)/Examples/photo.png", shift: shift)
    }

    static func run(_ graphPath: String, out: URL, locations: FileLocations? = nil, recipeGraph: String? = nil) throws -> GraphRunner {
        var plan = try GraphValidator.validate(try GraphFile.load(path: graphPath), catalog: TestOps.catalog(), seed: 1, locations: locations)
        plan.recipeGraphPath = recipeGraph
        let runner = GraphRunner(plan: plan, cache: nil, outDirectory: out)
        _ = try runner.run(seeds: [1])
        return runner
    }

    func locator(checkout: URL, cwd: URL, models: [URL] = []) -> RecipeLocator {
        var l = RecipeLocator(environment: [:])
        l.checkout = checkout
        l.workingDirectory = cwd
        l.modelFolders = models
        return l
    }

    @Test func graphPathIsRelativeToTheCheckoutThenTheWorkingDirectory() {
        let g = URL(fileURLWithPath: "/a/repo/Graphs/demo.yaml")
        #expect(Recipe.portableGraphPath(g, checkout: URL(fileURLWithPath: "/a/repo"), workingDirectory: URL(fileURLWithPath: "/tmp")) == "Graphs/demo.yaml")
        #expect(Recipe.portableGraphPath(g, checkout: URL(fileURLWithPath: "/b/repo"), workingDirectory: URL(fileURLWithPath: "/a")) == "repo/Graphs/demo.yaml")
        #expect(Recipe.portableGraphPath(g, checkout: nil, workingDirectory: URL(fileURLWithPath: "/a/rep")) == "/a/repo/Graphs/demo.yaml")
    }

    @Test func recipeFromOneCloneRerunsInAnotherWithTheSameBytes() throws {
        let dir = try TempDir("portable")
        try Self.clone(dir, "one")
        try Self.clone(dir, "two")
        // Run in clone one as if it were the checkout tedi runs from.
        let first = try Self.run(dir.path("one/Graphs/g.yaml"), out: dir.sub("outA"),
                                 recipeGraph: Recipe.portableGraphPath(dir.sub("one/Graphs/g.yaml"), checkout: dir.sub("one")))
        let recipe = try first.recipe(seed: 1)
        #expect(recipe.graphPath == "Graphs/g.yaml")
        #expect(recipe.files == ["../Examples/photo.png": SHA256.hex(of: try #require(dir.read("one/Examples/photo.png")))])
        #expect(!recipe.text.contains(dir.url.path), "the recipe names a machine path: \(recipe.text)")
        let written = try #require(dir.read("outA/out_1.png"))
        #expect(try PNG.decode(written).text[Recipe.textKey] == recipe.text)
        try FileManager.default.removeItem(at: dir.sub("one"))

        // In clone two, from its root: found by the recorded relative paths, nothing moved.
        var l = locator(checkout: dir.sub("two"), cwd: dir.url)
        let found = l.locate(recipe, pngDirectory: dir.sub("outA"))
        #expect(found.missing.isEmpty)
        #expect(found.graph.path == dir.sub("two/Graphs/g.yaml").standardizedFileURL.path)
        #expect(found.locations.moved.isEmpty)
        let file = try GraphFile.parse(Array(recipe.source.utf8), path: found.graph.path)
        var plan = try GraphValidator.validate(file, catalog: TestOps.catalog(), seed: 1, locations: found.locations)
        plan.recipeGraphPath = recipe.graphPath
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("outB")).run(seeds: [1])
        #expect(dir.read("outB/out_1.png") == written)
    }

    @Test func filesAreFoundBesideThePNGOrByContentAndMissingOnesListWhereTheRerunLooked() throws {
        let dir = try TempDir("portable-find")
        try Self.clone(dir, "one")
        let recipe = try Self.run(dir.path("one/Graphs/g.yaml"), out: dir.sub("outA"), recipeGraph: "Graphs/g.yaml").recipe(seed: 1)
        let bytes = try #require(dir.read("one/Examples/photo.png"))
        let sha = SHA256.hex(of: bytes)

        // Sent with the PNG: found by name beside it.
        try dir.write(bytes, to: "mail/photo.png")
        var l = locator(checkout: dir.sub("nowhere"), cwd: dir.sub("elsewhere"))
        var found = l.locate(recipe, pngDirectory: dir.sub("mail"))
        #expect(found.missing.isEmpty)
        #expect(found.locations.url("../Examples/photo.png").path == dir.sub("mail/photo.png").path)

        // Under another name in a models folder: found by content.
        try dir.write(bytes, to: "store/renamed.png")
        l = locator(checkout: dir.sub("nowhere"), cwd: dir.sub("elsewhere"), models: [dir.sub("store")])
        found = l.locate(recipe, pngDirectory: dir.sub("empty"))
        #expect(found.missing.isEmpty)
        #expect(found.locations.url("../Examples/photo.png").path == dir.sub("store/renamed.png").path)

        // Edited since: refused, saying so, with every place looked at.
        try writeFixturePNG(dir, "two/Examples/photo.png", shift: 5)
        try dir.write(Self.graph, to: "two/Graphs/g.yaml")
        l = locator(checkout: dir.sub("two"), cwd: dir.sub("elsewhere"))
        found = l.locate(recipe, pngDirectory: dir.sub("empty"))
        let m = try #require(found.missing.first)
        #expect(found.missing.count == 1 && m.ref == .path("../Examples/photo.png") && m.sha256 == sha)
        #expect(m.changedAt == dir.sub("two/Examples/photo.png").path)
        #expect(m.message.contains("has changed since the image was made"), "\(m.message)")
        #expect(m.looked.contains(dir.sub("empty/photo.png").path) && m.looked.contains(dir.sub("elsewhere/photo.png").path), "\(m.looked)")
    }

    @Test func versionOneRecipesStillParse() throws {
        let text = """
        tedi-recipe: 1
        graph: "/old/Graphs/g.yaml"
        seed: 4
        params:
        files:
          "/old/Examples/photo.png": "ab"
        source: "tedi: 1"
        """
        let r = try Recipe.parse(text, path: "x.png")
        #expect(r.seed == 4 && r.files == ["/old/Examples/photo.png": "ab"] && r.shipped.isEmpty)
        #expect(throws: NodeError.self) { try Recipe.parse(text.replacingOccurrences(of: "tedi-recipe: 1", with: "tedi-recipe: 3"), path: "x.png") }
    }
}

/// Through the real executable: a graph using a shipped model, a declared model and an input
/// runs in one clone; the clone is deleted; its PNG reruns in a clone elsewhere to the same bytes.
@Suite(.enabled(if: tediBinary != nil, "the tedi executable was not built beside the tests"))
struct PortableRecipeCLITests {
    static let repoModels = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models")

    static let graph = """
    tedi: 1
    params:
      seed: 0
    models:
      mine: ../Models/gen.safetensors
    nodes:
      photo: { op: input.image, path: ../Examples/photo.png }
      a:     { op: sample, count: 1, model: mine }
      b:     { op: sample, count: 1, model: synthfaces64 }
      fa:    { op: synthesize, in: a, model: mine }
      fb:    { op: synthesize, in: b, model: synthfaces64 }
      big:   { op: image.resize, in: photo, width: 64, height: 64 }
      mixed: { op: image.blend, in: { a: fa, b: big }, alpha: 0.5 }
      sheet: { op: write.grid, in: { in: [mixed, fb] }, columns: 2, size: 32, path: "sheet_${seed}.png" }
    """

    static func clone(_ dir: TempDir, _ name: String) throws {
        try dir.write(graph, to: "\(name)/Graphs/g.yaml")
        try writeFixturePNG(dir, "\(name)/Examples/photo.png")
        try FileManager.default.createDirectory(at: dir.sub("\(name)/Models"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: repoModels.appendingPathComponent("synthfaces64.safetensors"), to: dir.sub("\(name)/Models/gen.safetensors"))
    }

    @Test func pngRerunsInAnotherCloneAndMissingFilesAreListed() throws {
        let dir = try TempDir("portable-cli")
        try Self.clone(dir, "one")
        let run = try TediProcess(["run", "Graphs/g.yaml", "--out", "out", "--no-cache", "--quiet"], in: dir.sub("one")).finish()
        #expect(run.code == 0, "\(run.stderr)")
        let sheet = try #require(dir.read("one/out/sheet_0.png"))
        let recipe = try Recipe.parse(try #require(PNG.decode(sheet).text[Recipe.textKey]), path: "sheet_0.png")
        #expect(recipe.graphPath == "Graphs/g.yaml")
        #expect(Set(recipe.files.keys) == ["../Examples/photo.png", "../Models/gen.safetensors"])
        #expect(Set(recipe.shipped.keys) == ["synthfaces64"])
        #expect(!recipe.text.contains(dir.url.path), "a machine path in the recipe: \(recipe.text)")
        try dir.write(sheet, to: "mail/sheet_0.png")
        try FileManager.default.removeItem(at: dir.sub("one"))

        // Another clone, run from its root: the same bytes.
        try Self.clone(dir, "two")
        let again = try TediProcess(["run", dir.path("mail/sheet_0.png"), "--out", "out", "--no-cache", "--quiet"], in: dir.sub("two")).finish()
        #expect(again.code == 0, "\(again.stderr)")
        #expect(dir.read("two/out/sheet_0.png") == sheet)

        // The declared model moved into a TEDI_MODELS folder under another name: found by content.
        try FileManager.default.createDirectory(at: dir.sub("store"), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: dir.sub("two/Models/gen.safetensors"), to: dir.sub("store/old_generator.safetensors"))
        let moved = try TediProcess(["run", dir.path("mail/sheet_0.png"), "--out", "out2", "--no-cache", "--quiet"], in: dir.sub("two"),
                                    environment: ["TEDI_MODELS": "\(Self.repoModels.path):\(dir.path("store"))"]).finish()
        #expect(moved.code == 0, "\(moved.stderr)")
        #expect(dir.read("two/out2/sheet_0.png") == sheet)

        // An input that is nowhere (models are found by content, and this copy of the shipped
        // generator would be): refused (exit 1), naming it and where the rerun looked; nothing written.
        try FileManager.default.removeItem(at: dir.sub("two/Examples/photo.png"))
        let refused = try TediProcess(["run", dir.path("mail/sheet_0.png"), "--out", "out3", "--no-cache"], in: dir.sub("two")).finish()
        #expect(refused.code == 1)
        #expect(refused.stderr.contains("../Examples/photo.png") && refused.stderr.contains("was not found; looked in:"), "\(refused.stderr)")
        #expect(refused.stderr.contains(dir.path("two/Examples/photo.png")) && refused.stderr.contains(dir.path("mail/photo.png")), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("two/out3/sheet_0.png")))
    }

    /// The issue's check, literally: two clones of this repository (its committed HEAD) at two
    /// paths; the demo runs in the first, which is then deleted, and its PNG reruns in the second.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/git"), "needs git"))
    func demoPNGFromADeletedCloneRerunsInAnotherClone() throws {
        let repo = Self.repoModels.deletingLastPathComponent()
        guard FileManager.default.fileExists(atPath: repo.appendingPathComponent(".git").path) else { return }   // not a git checkout
        let dir = try TempDir("two-clones")
        func git(_ args: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/git")
            p.arguments = args
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "git \(args)")
        }
        try git(["clone", "--quiet", "--local", repo.path, dir.path("first/tedi")])
        try git(["clone", "--quiet", "--local", repo.path, dir.path("second/copy")])
        let first = try TediProcess(["run", "Graphs/sketch_plus_text.yaml", "--seed", "2", "--set", "count=2", "--set", "refine_steps=5", "--quiet", "--no-cache"],
                                    in: dir.sub("first/tedi"), environment: ["TEDI_MODELS": dir.path("first/tedi/Models")]).finish()
        #expect(first.code == 0, "\(first.stderr)")
        let png = try #require(dir.read("first/tedi/out/sketch_plus_text_2.png"))
        try dir.write(png, to: "mail/faces.png")
        try FileManager.default.removeItem(at: dir.sub("first"))
        let second = try TediProcess(["run", dir.path("mail/faces.png"), "--out", "rerun", "--quiet", "--no-cache"],
                                     in: dir.sub("second/copy"), environment: ["TEDI_MODELS": dir.path("second/copy/Models")]).finish()
        #expect(second.code == 0, "\(second.stderr)")
        #expect(dir.read("second/copy/rerun/sketch_plus_text_2.png") == png)
    }
}
