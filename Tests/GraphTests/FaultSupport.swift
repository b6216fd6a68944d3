import Foundation
import Graph
import TensorCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

// Helpers for the fault tests: graphs that keep `tedi run` busy for a while, an independent
// check of the cache's on-disk format, output checks against a reference run, and small
// file systems (tmpfs) for disk-full and read-only cases.

/// True when the slow variants should run (`TEDI_SLOW=1`).
let slowFaultTests = ProcessInfo.processInfo.environment["TEDI_SLOW"] == "1"

/// The `tedi` binary, or a test failure saying how to get it. `swift test` builds every product
/// of the package, so it sits beside the test bundle in `.build/<config>/`.
func requireTedi(sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> URL {
    try #require(tediBinary, """
        the tedi executable was not found beside the test bundle; build it with the same \
        configuration (`swift build` or `swift build -c release`) and rerun the tests
        """, sourceLocation: sourceLocation)
}

/// Two sweep graphs that share the seed-independent `reference` face (so concurrent runs race on
/// the same cache keys) and differ elsewhere. Each seed runs several nodes and writes two files.
enum FaultGraphs {
    static let a = """
    tedi: 1
    params: { size: 64 }
    nodes:
      face:      { op: synthfaces.sample, index: 3, size: "${size}" }
      edges:     { op: sketch.edges, in: face.image }
      reference: { op: synthfaces.sample, seed: 2021, index: 7, size: "${size}" }
      blended:   { op: image.blend, in: { a: face.image, b: reference.image }, alpha: 0.5 }
      sheet:     { op: write.grid, in: { in: [face.image, edges, blended] }, columns: 3, path: "sheet_${seed}.png" }
      caption:   { op: write.text, in: face.caption, path: "cap_${seed}.txt" }
    """

    static let b = """
    tedi: 1
    params: { size: 64 }
    nodes:
      reference: { op: synthfaces.sample, seed: 2021, index: 7, size: "${size}" }
      face:      { op: synthfaces.sample, index: 5, size: "${size}" }
      labels:    { op: label.colorize, in: face.label }
      small:     { op: image.resize, in: reference.image, width: 32 }
      mixed:     { op: image.blend, in: { a: face.image, b: reference.image }, alpha: 0.3 }
      sheet:     { op: write.grid, in: { in: [labels, mixed, face.sketch] }, columns: 3, path: "b_${seed}.png" }
      thumb:     { op: write.png, in: small, path: "ref_${seed}.png" }
    """
}

/// What a cache directory holds, checked without the cache's own reader: every entry must be
/// `"TEDC1\n"`, the SHA-256 of the payload, then the payload, and be named by a 64-hex key.
struct CacheScan {
    var valid: Set<String> = []
    var corrupt: [String] = []
    /// Leftover `.NAME.tmp-*` files of writers that were killed (never read as entries).
    var temps: [String] = []
    var tempBytes = 0

    init(_ root: URL) {
        let objects = root.appendingPathComponent("objects")
        guard let e = FileManager.default.enumerator(at: objects, includingPropertiesForKeys: [.isRegularFileKey, .fileSizeKey]) else { return }
        let magic = Array("TEDC1\n".utf8)
        for case let u as URL in e {
            guard (try? u.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            let name = u.lastPathComponent
            if name.hasPrefix(".") {
                temps.append(u.path)
                tempBytes += (try? u.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0) ?? 0
                continue
            }
            guard let data = FileManager.default.contents(atPath: u.path) else { corrupt.append(name); continue }
            let b = [UInt8](data)
            guard name.count == 64, name.allSatisfy(\.isHexDigit), b.count >= magic.count + 32,
                  Array(b[0..<magic.count]) == magic else { corrupt.append(name); continue }
            var h = SHA256()
            h.update(b[(magic.count + 32)...])
            if h.finalize() == Array(b[magic.count..<(magic.count + 32)]) { valid.insert(name) } else { corrupt.append(name) }
        }
    }
}

/// Output files compared with a reference run: every file under its final name must be
/// byte-identical to the reference's file of that name (complete, never half-written).
struct OutputScan {
    var complete = 0
    var temps = 0
    var problems: [String] = []

    init(_ dir: URL, reference: [String: [UInt8]]) {
        for (name, bytes) in filesUnder(dir) where !name.hasPrefix(".tedi/") {   // sweep records are not outputs
            if (name.split(separator: "/").last ?? "").hasPrefix(".") {
                temps += 1
                if !(name.split(separator: "/").last ?? "").contains(".tmp-") { problems.append("unexpected hidden file \(name)") }
                continue
            }
            guard let want = reference[name] else { problems.append("\(name) is not an output of the graph"); continue }
            if bytes == want { complete += 1 } else { problems.append("\(name) differs from the reference (\(bytes.count) vs \(want.count) bytes)") }
        }
    }
}

/// The parsed `--report` JSON: (node id, seed, key, status) rows.
func reportRows(_ bytes: [UInt8]?) -> [(id: String, seed: Int, key: String, status: String)]? {
    guard let bytes, let json = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
          let nodes = json["nodes"] as? [[String: Any]] else { return nil }
    return nodes.compactMap { n in
        guard let id = n["id"] as? String, let seed = n["seed"] as? Int, let key = n["key"] as? String,
              let status = n["status"] as? String else { return nil }
        return (id, seed, key, status)
    }
}

/// Runs `tedi` to completion, through `/bin/sh -c "PREFIX; exec tedi …"` when a shell prefix is
/// given (so limits such as `ulimit -f` and ignored signals apply to tedi alone); (exit code, stdout, stderr).
func tediEnv(_ args: [String], in dir: URL, shellPrefix: String? = nil) throws -> (code: Int32, stdout: String, stderr: String) {
    guard let prefix = shellPrefix, let bin = tediBinary else { return try tedi(args, in: dir) }
    let quoted = ([bin.path] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    return try runTool("/bin/sh", ["-c", "\(prefix); exec \(quoted)"], in: dir,
                       env: ["TEDI_CACHE": dir.appendingPathComponent("default-cache").path])
}

/// A tmpfs mounted at `dir` (created), unmounted and removed on `unmount()`; nil when mounting
/// is not permitted (not root, or no CAP_SYS_ADMIN in a container), or when
/// `TEDI_TEST_NO_MOUNT=1` asks the tests to try their fallbacks.
final class SmallFileSystem {
    let url: URL
    private var mounted = true

    init?(at url: URL, size: String) {
        self.url = url
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        guard ProcessInfo.processInfo.environment["TEDI_TEST_NO_MOUNT"] != "1",
              SmallFileSystem.mount(["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", url.path]) else { return nil }
    }

    /// Remounts with new options, e.g. "ro" or "size=8m".
    @discardableResult
    func remount(_ options: String) -> Bool {
        SmallFileSystem.mount(["-o", "remount,\(options)", url.path])
    }

    func unmount() {
        guard mounted else { return }
        mounted = false
        _ = SmallFileSystem.run("/bin/umount", [url.path])
    }

    deinit { unmount() }

    static func mount(_ args: [String]) -> Bool { run("/bin/mount", args) }

    private static func run(_ tool: String, _ args: [String]) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: tool) else { return false }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }
}

/// A small deterministic generator (SplitMix64) for kill delays, so a failing schedule can be replayed.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
