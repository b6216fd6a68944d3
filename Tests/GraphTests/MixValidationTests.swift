import Foundation
import Graph
import Imaging
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

/// Writers stay under --out unless the user passes --allow-outside-out.
@Suite struct OutsideOutTests {
    @Test func absoluteAndDotDotPathsNeedTheFlag() throws {
        let dir = try TempDir("outside")
        try writeFixturePNG(dir, "in.png")
        let target = dir.path("elsewhere/x.png")
        let yaml = """
        tedi: 1
        nodes:
          a: { op: input.image, path: in.png }
          w: { op: write.png, in: a, path: "\(target)" }
          v: { op: write.png, in: a, path: "../up.png" }
        """
        do {
            _ = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
            Issue.record("validation should fail")
        } catch let e as GraphErrors {
            #expect(e.diagnostics.count == 2)
            #expect(e.diagnostics.allSatisfy { $0.message.contains("--allow-outside-out") })
        }
        let path = try dir.write(yaml, to: "g.yaml")
        let plan = try GraphValidator.validate(try GraphFile.load(path: path), catalog: NodeCatalog.standard, allowOutsideOut: true)
        let report = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        #expect(report.written.count == 2)
        #expect(FileManager.default.fileExists(atPath: target))
        #expect(FileManager.default.fileExists(atPath: dir.path("up.png")))
    }
}

/// A killed writer's temp file beside an output is collected by the next write of that output once it is old.
@Test func staleOutputTempFilesAreCollected() throws {
    let dir = try TempDir("stale-out")
    let target = dir.sub("out/x.png")
    try FileManager.default.createDirectory(at: dir.sub("out"), withIntermediateDirectories: true)
    let old = dir.sub("out/.x.png.tmp-999999-1"), young = dir.sub("out/.x.png.tmp-999999-2"), other = dir.sub("out/.y.png.tmp-1-1")
    for u in [old, young, other] { try Data([1, 2, 3]).write(to: u) }
    try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: old.path)
    try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: other.path)
    try AtomicFile.write([9], to: target)
    AtomicFile.removeStaleTemps(of: target)
    #expect(!FileManager.default.fileExists(atPath: old.path))
    #expect(FileManager.default.fileExists(atPath: young.path))
    #expect(FileManager.default.fileExists(atPath: other.path))
}

/// Two writers naming one file in the same run is refused before anything runs (check and run alike).
@Test func twoWritersOfOneFileAreRefused() throws {
    let dir = try TempDir("clash")
    try writeFixturePNG(dir, "in.png")
    let yaml = """
    tedi: 1
    nodes:
      a: { op: input.image, path: in.png }
      u: { op: write.png, in: a, path: same.png }
      v: { op: write.png, in: a, path: same.png }
    """
    let plan = try loadPlan(yaml, in: dir, catalog: NodeCatalog.standard)
    do {
        _ = try GraphRunner(plan: plan, cache: nil, outDirectory: dir.sub("out")).run(seeds: [0])
        Issue.record("the run should be refused")
    } catch let e as GraphErrors {
        #expect(e.diagnostics.map(\.message) == ["nodes 'u' and 'v' both write 'same.png'; give each output its own path"])
        #expect(e.diagnostics.first?.location?.line == 5)
    }
    #expect(!FileManager.default.fileExists(atPath: dir.path("out")))
}

/// `input.latent` refuses codes no generator of the graph takes and values that are not finite,
/// when the graph is checked, at its `path` line and naming the file; a shipped generator fed a
/// latent of another width is an error at the node that uses it.
@Suite struct LatentInputTests {
    static let generator = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/synthfaces64.safetensors").path

    func errors(_ yaml: String, _ dir: TempDir, _ name: String) -> String {
        do {
            _ = try loadPlan(yaml, in: dir, name: name, catalog: NodeCatalog.standard)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func wrongWidthAndNonFiniteLatentsAreRefusedAtCheck() throws {
        let dir = try TempDir("latent-input")
        try Npy.write(try Tensor(shape: [1, 63], scalars: [Float](repeating: 0.1, count: 63)), to: dir.path("w63.npy"))
        var bad = [Float](repeating: 0, count: 2 * 256)
        bad[256 + 3] = .nan; bad[300] = .infinity
        try Npy.write(try Tensor(shape: [2, 256], scalars: bad), to: dir.path("nan.npy"))
        let declared = """
        tedi: 1
        models:
          g: \(Self.generator)
        nodes:
          w:   { op: input.latent, path: w63.npy, space: w }
          img: { op: synthesize, in: w }
          png: { op: write.png, in: img, path: a.png }
        """
        let (l, c) = loc(declared, "w63.npy"), (l1, c1) = loc(declared, "img: ")
        #expect(errors(declared, dir, "a.yaml") == """
            \(dir.path("a.yaml")):\(l):\(c): error: node 'w': w63.npy holds codes 63 wide, but the generators this graph declares take 256; were they made for another model?
            \(dir.path("a.yaml")):\(l1):\(c1): error: node 'img': the latent from w63.npy is 63 wide but model 'g' takes 256
            """)

        // The shipped generator: the error is at synthesize, naming the file.
        let shipped = declared.replacingOccurrences(of: "models:\n  g: \(Self.generator)\n", with: "")
        let (l2, c2) = loc(shipped, "img: ")
        #expect(errors(shipped, dir, "b.yaml") == "\(dir.path("b.yaml")):\(l2):\(c2): error: node 'img': the latent from w63.npy is 63 wide but model 'synthfaces64' takes 256")

        let nan = shipped.replacingOccurrences(of: "w63.npy", with: "nan.npy")
        let (l3, c3) = loc(nan, "nan.npy")
        #expect(errors(nan, dir, "c.yaml") == "\(dir.path("c.yaml")):\(l3):\(c3): error: node 'w': nan.npy: holds NaN at [1, 3] and 1 more values that are not finite; a latent must be finite numbers (was it saved from a run that diverged?)")

        // Integers are not codes (ids or labels saved by mistake): refused, not converted.
        try Npy.write(NpyArray(shape: [1, 256], dtype: .int32, data: [UInt8](repeating: 0, count: 4 * 256)), to: dir.path("ints.npy"))
        let ints = shipped.replacingOccurrences(of: "w63.npy", with: "ints.npy")
        let (l4, c4) = loc(ints, "ints.npy")
        #expect(errors(ints, dir, "d.yaml") == "\(dir.path("d.yaml")):\(l4):\(c4): error: node 'w': ints.npy: holds int32 values (<i4); latent codes are floating point — save them as float32 (numpy: codes.astype(np.float32))")
    }
}

/// Input PNGs are read when the graph is checked: a JPEG renamed .png or a truncated file is an
/// error at its `path` line saying what it is; a relative path that exists only in the working
/// directory gets the name to use from the graph's folder.
@Suite struct InputFileChecksTests {
    @Test func badPNGsAreErrorsAtCheckAndWorkingDirectoryPathsGetAHint() throws {
        let dir = try TempDir("input-files")
        try dir.write([0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + Array("JFIF".utf8) + [UInt8](repeating: 0, count: 40), to: "photo.png")
        let good = try PNG.encode(try fixtureImage())
        try dir.write(Array(good.prefix(good.count / 2)), to: "cut.png")
        let yaml = """
        tedi: 1
        nodes:
          a: { op: input.image, path: photo.png }
          b: { op: input.sketch, path: cut.png }
          w: { op: write.grid, in: { in: [a, b] }, path: g.png }
        """
        do {
            _ = try loadPlan(yaml, in: dir, name: "g.yaml", catalog: NodeCatalog.standard)
            Issue.record("validation should fail")
        } catch let e as GraphErrors {
            #expect(e.diagnostics.count == 2)
            let (la, ca) = loc(yaml, "photo.png"), (lb, cb) = loc(yaml, "cut.png")
            #expect(e.diagnostics.map { $0.location.map { "\($0.line):\($0.column)" } ?? "-" } == ["\(la):\(ca)", "\(lb):\(cb)"])
            #expect(e.diagnostics[0].message.contains("not a PNG file") && e.diagnostics[0].message.hasSuffix("it is a JPEG file: tedi reads PNG only, so convert it (e.g. `convert in.jpeg out.png`)"), "\(e.diagnostics[0].message)")
            #expect(e.diagnostics[1].message.contains("cut.png"), "\(e.diagnostics[1].message)")
        }

        // The graph in a subfolder, the file beside the working directory's: the hint names it from the graph's folder.
        try dir.write(good, to: "mine.png")
        let files = FileLocations(base: dir.sub("Graphs"))
        #expect(files.workingDirectoryHint("mine.png", workingDirectory: dir.url) == "; paths are read from the graph's folder, not the working directory: give '../mine.png' or an absolute path")
        #expect(files.workingDirectoryHint("absent.png", workingDirectory: dir.url) == "")
        #expect(FileLocations.relativePath(to: URL(fileURLWithPath: "/a/b/c.png"), from: URL(fileURLWithPath: "/a/x/y")) == "../../b/c.png")
    }
}
