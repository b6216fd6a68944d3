import Foundation
import Graph
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Full disks and read-only folders under a real `tedi run`: clear errors, nothing corrupt or
/// half-written left behind, and a later run with room completes with identical bytes.
///
/// Uses a 64 KiB tmpfs (the test runs as root in CI). Without permission to mount, the disk-full
/// cases fall back to a per-file size limit (`ulimit -f` in /bin/sh's 512-byte blocks, with
/// SIGXFSZ ignored so writes fail with EFBIG) and the read-only cases to `chmod 555`
/// (meaningless for root, so skipped then). Outputs here are at most ~16 KB, cache entries up to
/// ~25 KB.
@Suite(.serialized) struct FaultDiskTests {
    let seeds = ["--seeds", "0-3"]

    /// A folder with graph `a.yaml` and the outputs of an uninterrupted run of it.
    func setUp(_ label: String) throws -> (TempDir, [String: [UInt8]]) {
        _ = try requireTedi()
        let dir = try TempDir(label)
        try dir.write(FaultGraphs.a, to: "a.yaml")
        let ref = try tedi(["run", "a.yaml", "--cache", "refcache", "--out", "ref", "--quiet"] + seeds, in: dir.url)
        try #require(ref.code == 0, "\(ref.stderr)")
        let reference = sweepOutputs(dir.sub("ref"))
        try #require(reference.count == 8)
        return (dir, reference)
    }

    @Test func outputDiskFull() throws {
        let (dir, reference) = try setUp("full-out")
        let fs = SmallFileSystem(at: dir.sub("small"), size: "64k")
        defer { fs?.unmount() }
        // 8 outputs (4 sheets of ~15 KB, 4 captions) need more than 64 KiB of 4 KiB blocks.
        let r = try tediEnv(["run", "a.yaml", "--cache", "cache", "--out", "small/out", "--quiet"] + seeds, in: dir.url,
                            shellPrefix: fs == nil ? "trap '' XFSZ; ulimit -f 16" : nil)   // 8 KB per file
        #expect(r.code == 3, "exit \(r.code): \(r.stderr)")
        let expected = fs == nil ? "File too large" : "No space left on device"
        // (With the per-file limit the cache stores fail too, each with a warning line first.)
        let last = r.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("tedi: error: node '"), "\(r.stderr)")
        #expect(r.stderr.contains("could not write"), "\(r.stderr)")
        #expect(r.stderr.contains(expected), "\(r.stderr)")
        #expect(r.stderr.contains("nothing was left under that name"), "\(r.stderr)")
        let outs = OutputScan(dir.sub("small/out"), reference: reference)
        #expect(outs.problems.isEmpty, "\(outs.problems)")
        #expect(outs.temps == 0, "a failed write left its temp file")
        #expect(outs.complete < reference.count)
        let cache = CacheScan(dir.sub("cache"))
        #expect(cache.corrupt.isEmpty && cache.temps.isEmpty)

        // With room again: completes, identical bytes, and what was computed is reused.
        if let fs { #expect(fs.remount("size=4m")) }
        let again = try tedi(["run", "a.yaml", "--cache", "cache", "--out", "small/out", "--quiet", "--report", "r.json"] + seeds, in: dir.url)
        #expect(again.code == 0, "\(again.stderr)")
        #expect(sweepOutputs(dir.sub("small/out")) == reference)
        let rows = try #require(reportRows(dir.read("r.json")))
        #expect(rows.filter { $0.status == "ran" && cache.valid.contains($0.key) }.isEmpty)
        print("fault disk-full (\(fs == nil ? "ulimit -f" : "64 KiB tmpfs")) on --out: exit 3, \(outs.complete) of \(reference.count) outputs complete, 0 partial, \(cache.valid.count) valid cache entries kept; rerun reused \(rows.filter { $0.status != "ran" }.count) of \(rows.count)")
    }

    @Test func cacheDiskFull() throws {
        let (dir, reference) = try setUp("full-cache")
        let fs = SmallFileSystem(at: dir.sub("small"), size: "64k")
        defer { fs?.unmount() }
        // The cache (about 300 KB for this sweep) cannot fit; the run warns and still succeeds.
        let r = try tediEnv(["run", "a.yaml", "--cache", "small/cache", "--out", "out", "--quiet"] + seeds, in: dir.url,
                            shellPrefix: fs == nil ? "trap '' XFSZ; ulimit -f 32" : nil)   // 16 KB: outputs fit, big entries do not
        #expect(r.code == 0, "exit \(r.code): \(r.stderr)")
        let warnings = r.stderr.split(separator: "\n")
        #expect(!warnings.isEmpty)
        #expect(warnings.allSatisfy { $0.hasPrefix("tedi: warning: could not store the result of node '") && $0.hasSuffix("going on without it") }, "\(r.stderr)")
        #expect(r.stderr.contains(fs == nil ? "File too large" : "No space left on device"), "\(r.stderr)")
        #expect(sweepOutputs(dir.sub("out")) == reference)
        let cache = CacheScan(dir.sub("small/cache"))
        #expect(cache.corrupt.isEmpty, "\(cache.corrupt)")
        #expect(cache.temps.isEmpty, "failed cache writes left temp files: \(cache.temps)")
        // A second run on the full cache reads what fit and still produces the same bytes.
        let again = try tediEnv(["run", "a.yaml", "--cache", "small/cache", "--out", "out2", "--quiet"] + seeds, in: dir.url,
                                shellPrefix: fs == nil ? "trap '' XFSZ; ulimit -f 32" : nil)
        #expect(again.code == 0, "\(again.stderr)")
        #expect(sweepOutputs(dir.sub("out2")) == reference)
        print("fault disk-full (\(fs == nil ? "ulimit -f" : "64 KiB tmpfs")) on --cache: exit 0, \(warnings.count) warnings, \(cache.valid.count) valid entries stored, 0 corrupt, outputs identical")
    }

    @Test func readOnlyOutputAndCache() throws {
        let (dir, reference) = try setUp("readonly")
        let ro = dir.sub("ro")
        let fs = SmallFileSystem(at: ro, size: "1m")
        defer { fs?.unmount() }
        if let fs {
            try FileManager.default.createDirectory(at: ro.appendingPathComponent("cache"), withIntermediateDirectories: true)
            #expect(fs.remount("ro"))
        } else {
            guard getuid() != 0 else {
                print("fault read-only: skipped (cannot mount a tmpfs, and chmod does not stop root)")
                return
            }
            try FileManager.default.createDirectory(at: ro.appendingPathComponent("cache"), withIntermediateDirectories: true)
            chmod(ro.appendingPathComponent("cache").path, 0o555)
            chmod(ro.path, 0o555)
        }
        defer { chmod(ro.path, 0o755); chmod(ro.appendingPathComponent("cache").path, 0o755) }
        let reason = fs == nil ? "Permission denied" : "Read-only file system"

        // Output folder read-only: exit 3 at the first file, naming it and why.
        let r = try tedi(["run", "a.yaml", "--cache", "cache", "--out", "ro", "--quiet"] + seeds, in: dir.url)
        #expect(r.code == 3, "exit \(r.code): \(r.stderr)")
        #expect(r.stderr.hasPrefix("tedi: error: node '"), "\(r.stderr)")
        #expect(r.stderr.contains("could not write \(ro.path)/"), "\(r.stderr)")
        #expect(r.stderr.contains(reason), "\(r.stderr)")
        #expect(filesUnder(ro).isEmpty)
        #expect(CacheScan(dir.sub("cache")).corrupt.isEmpty)

        // Output folder missing under a read-only parent: the same kind of error.
        let r2 = try tedi(["run", "a.yaml", "--cache", "cache", "--out", "ro/new/out", "--quiet"] + seeds, in: dir.url)
        #expect(r2.code == 3, "exit \(r2.code): \(r2.stderr)")
        #expect(r2.stderr.contains(reason), "\(r2.stderr)")

        // Cache read-only: every store fails with a warning, the run succeeds with the same bytes.
        let r3 = try tedi(["run", "a.yaml", "--cache", "ro/cache", "--out", "out", "--quiet"] + seeds, in: dir.url)
        #expect(r3.code == 0, "exit \(r3.code): \(r3.stderr)")
        #expect(r3.stderr.contains("tedi: warning: could not store the result of node '"), "\(r3.stderr)")
        #expect(r3.stderr.contains(reason), "\(r3.stderr)")
        #expect(sweepOutputs(dir.sub("out")) == reference)
        #expect(filesUnder(ro).isEmpty)
        print("fault read-only (\(fs == nil ? "chmod 555" : "read-only tmpfs")): --out → exit 3 with '\(reason)', nothing written; --cache → exit 0, \(r3.stderr.split(separator: "\n").count) warnings, outputs identical")
    }
}
