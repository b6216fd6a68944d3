import Foundation
import Graph
import Imaging
import Testing

/// The `tedi` executable built beside this test bundle (same configuration), or nil.
let tediBinary: URL? = {
    var dirs: [URL] = []
    if let first = CommandLine.arguments.first { dirs.append(URL(fileURLWithPath: first).deletingLastPathComponent()) }
    dirs.append(Bundle.main.bundleURL.deletingLastPathComponent())
    if let exe = Bundle.main.executableURL { dirs.append(exe.deletingLastPathComponent()) }
    for d in dirs {
        let u = d.appendingPathComponent("tedi")
        if FileManager.default.isExecutableFile(atPath: u.path) { return u }
    }
    return nil
}()

/// A started `tedi` process; `finish()` waits and returns its exit code and output.
struct TediProcess {
    let process = Process()
    let out = Pipe(), err = Pipe()

    init(_ args: [String], in dir: URL, environment extra: [String: String] = [:]) throws {
        process.executableURL = tediBinary
        process.arguments = args
        process.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env["TEDI_CACHE"] = dir.appendingPathComponent("default-cache").path   // never the user's cache
        env.merge(extra) { _, new in new }
        process.environment = env
        process.standardOutput = out
        process.standardError = err
        try process.run()
    }

    func finish() -> (code: Int32, stdout: String, stderr: String) {
        // Read before waiting so a full pipe cannot stall the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

func tedi(_ args: [String], in dir: URL) throws -> (code: Int32, stdout: String, stderr: String) {
    try TediProcess(args, in: dir).finish()
}

/// End-to-end checks through the real executable: exit codes, compiler-style errors on stderr,
/// two processes on one cache, and a rerun from a written PNG.
@Suite(.enabled(if: tediBinary != nil, "the tedi executable was not built beside the tests"))
struct RunnerCLITests {
    let graph = """
    tedi: 1
    params:
      width: 6
    nodes:
      photo: { op: input.image, path: photo.png }
      small: { op: image.resize, in: photo, width: "${width}" }
      lines: { op: sketch.edges, in: small }
      both:  { op: write.grid, in: { in: [small, lines] }, path: "grid_${seed}.png", columns: 2 }
    """

    @Test func twoProcessesOnOneCacheThenRerunFromPNG() throws {
        let dir = try TempDir("cli")
        try writeFixturePNG(dir, "photo.png")
        try dir.write(graph, to: "g.yaml")
        let common = ["--cache", "cache", "--seeds", "0-3", "--quiet"]
        let a = try TediProcess(["run", "g.yaml", "--out", "outA", "--report", "a.json"] + common, in: dir.url)
        let b = try TediProcess(["run", "g.yaml", "--out", "outB", "--report", "b.json"] + common, in: dir.url)
        let ra = a.finish(), rb = b.finish()
        #expect(ra.code == 0, "\(ra.stderr)")
        #expect(rb.code == 0, "\(rb.stderr)")
        let filesA = sweepOutputs(dir.sub("outA"))
        #expect(filesA.count == 4)
        #expect(filesA == sweepOutputs(dir.sub("outB")))
        for name in ["a.json", "b.json"] {
            let bytes = try #require(dir.read(name))
            let json = try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            #expect(json["seeds"] as? [Int] == [0, 1, 2, 3])
            #expect((json["nodes"] as? [[String: Any]])?.count == 16)
        }

        // Again: nothing executes, the files are up to date.
        let again = try tedi(["run", "g.yaml", "--out", "outA", "--cache", "cache", "--seeds", "0-3"], in: dir.url)
        #expect(again.code == 0)
        // Writers find their inputs cached; what only fed them is not needed at all.
        let summary = again.stdout.split(separator: "\n").first { $0.contains("node runs executed") }.map(String.init) ?? ""
        let counts = summary.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(summary.hasPrefix("0 node runs executed, ") && summary.hasSuffix("(seeds 0-3)") && counts.count == 5 && counts[1] + counts[2] == 16 && counts[2] > 0,
                "\(again.stdout)")
        #expect(again.stdout.components(separatedBy: "up to date").count - 1 == 4)

        // Rerun seed 2 from its PNG with no cache: the same bytes.
        let rerun = try tedi(["run", "outA/grid_2.png", "--out", "outC", "--no-cache", "--quiet"], in: dir.url)
        #expect(rerun.code == 0, "\(rerun.stderr)")
        #expect(dir.read("outC/grid_2.png") == filesA["grid_2.png"])
        #expect(filesUnder(dir.sub("outC")).count == 1)

        // A changed input makes the rerun refuse (exit 1) instead of producing something else.
        try writeFixturePNG(dir, "photo.png", shift: 3)
        let refused = try tedi(["run", "outA/grid_2.png", "--out", "outD", "--no-cache"], in: dir.url)
        #expect(refused.code == 1)
        #expect(refused.stderr.contains("changed since the image was made"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("outD/grid_2.png")))
    }

    @Test func versionNamesTheCommitAndKernels() throws {
        let dir = try TempDir("cli-version")
        let r = try tedi(["--version"], in: dir.url)
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("tedi ") && r.stdout.contains("OpenBLAS") && r.stdout.contains("thread"), "\(r.stdout)")
        // Run from a git checkout (as CI's clone is): the commit its HEAD names.
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: checkout.appendingPathComponent(".git").path) {
            #expect(r.stdout.range(of: "commit [0-9a-f]{12}", options: .regularExpression) != nil, "\(r.stdout)")
        }
    }

    @Test func errorsAndExitCodes() throws {
        let dir = try TempDir("cli-errors")
        let bad = """
        tedi: 1
        nodes:
          photo: { op: input.imag, path: photo.png }
          small: { op: image.resize, in: photo, widht: 4 }
          w: { op: write.png, in: small, path: ../x.png }
        """
        try dir.write(bad, to: "bad.yaml")
        let r = try tedi(["check", "bad.yaml"], in: dir.url)
        #expect(r.code == 1)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(r.stderr)")
        if lines.count == 4 {
            #expect(lines[0].hasPrefix("bad.yaml:3:16: error: unknown op 'input.imag' (did you mean 'input.image'?)"))
            #expect(lines[1].hasPrefix("bad.yaml:4:3: error: node 'small' (image.resize) needs param 'width'"))
            #expect(lines[2].hasPrefix("bad.yaml:4:41: error: op 'image.resize' has no param 'widht' (did you mean 'width'?)"))
            #expect(lines[3].hasPrefix("bad.yaml:5:40: error: param 'path' of 'w' (write.png): output path '../x.png' leaves the --out directory"))
        }
        #expect(r.stdout.isEmpty)

        try writeFixturePNG(dir, "photo.png")
        try dir.write(graph, to: "g.yaml")
        let seeds = try tedi(["run", "g.yaml", "--seeds", "5-2"], in: dir.url)
        #expect(seeds.code == 2)
        #expect(seeds.stderr.contains("--seeds: seed range '5-2' is empty"))
        #expect(seeds.stderr.hasPrefix("tedi: error: "), "\(seeds.stderr)")
        let twoSeeds = try tedi(["check", "g.yaml", "--seed", "1", "--set", "seed=5"], in: dir.url)
        #expect(twoSeeds.code == 2)
        #expect(twoSeeds.stderr.contains("--set seed=… and --seed both set the seed"), "\(twoSeeds.stderr)")
        let negative = try tedi(["check", "g.yaml", "--seed", "-1"], in: dir.url)
        #expect(negative.code == 2 && negative.stderr.hasPrefix("tedi: error: --seed: bad seed '-1' (expected a non-negative integer)"), "\(negative.stderr)")
        let misspelt = try tedi(["check", "g.yaml", "--sed", "1"], in: dir.url)
        #expect(misspelt.code == 2 && misspelt.stderr.hasPrefix("tedi: error: unexpected argument: --sed (did you mean --seed?)"), "\(misspelt.stderr)")
        let family = try tedi(["nodes", "encode"], in: dir.url)
        #expect(family.stderr == "tedi: error: unknown op 'encode'; ops named encode.*: encode.image, encode.label, encode.sketch, encode.text\n", "\(family.stderr)")
        let unknownOp = try tedi(["nodes", "blend"], in: dir.url)
        #expect(unknownOp.code == 1)
        #expect(unknownOp.stderr == "tedi: error: unknown op 'blend' (did you mean 'image.blend'?)\n", "\(unknownOp.stderr)")
        let set = try tedi(["check", "g.yaml", "--set", "width=wide"], in: dir.url)
        #expect(set.code == 1)
        #expect(set.stderr.contains("error: --set width=wide: expected int, got 'wide'"))
        let ok = try tedi(["check", "g.yaml", "--set", "width=4"], in: dir.url)
        #expect(ok.code == 0, "\(ok.stderr)")
        #expect(!ok.stdout.contains("never used") && !ok.stdout.contains("changes nothing"), "\(ok.stdout)")
        // A declared param nothing refers to: check lists it; a --set of it says it changes nothing.
        try dir.write(graph.replacingOccurrences(of: "  width: 6\n", with: "  width: 6\n  height: 4\n  tone: 2\n"), to: "unused.yaml")
        let unused = try tedi(["check", "unused.yaml", "--set", "tone=3"], in: dir.url)
        #expect(unused.code == 0, "\(unused.stderr)")
        #expect(unused.stdout.contains("note: --set tone=…: no node or model refers to ${tone}, so it changes nothing"), "\(unused.stdout)")
        #expect(unused.stdout.contains("note: declared but never used (no node or model refers to ${…}): height\n"), "\(unused.stdout)")
        let planned = try tedi(["plan", "unused.yaml", "--set", "height=5"], in: dir.url)
        #expect(planned.code == 0 && planned.stdout.contains("note: --set height=…: no node or model refers to ${height}"), "\(planned.stdout)")
        #expect(!planned.stdout.contains("tone"), "\(planned.stdout)")
        // A missing input file is the user's to fix: exit 1, located at the path that names it.
        try FileManager.default.removeItem(atPath: dir.path("photo.png"))
        let missing = try tedi(["run", "g.yaml", "--no-cache"], in: dir.url)
        #expect(missing.code == 1)
        #expect(missing.stderr.hasPrefix("g.yaml:5:35: error: node 'photo': no such file: 'photo.png'"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("default-cache")))
    }
}
