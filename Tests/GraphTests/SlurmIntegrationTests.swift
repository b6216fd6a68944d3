import Foundation
import Graph
import Testing

/// Whether a local Slurm answers (`tools/slurm-local status` prints "up").
let slurmIsUp: Bool = {
    guard let r = try? runTool("/bin/bash", ["-c", "sinfo -h -N -o %t 2>/dev/null | head -1"], in: URL(fileURLWithPath: "/")) else { return false }
    return ["idle", "mix", "alloc"].contains { r.stdout.hasPrefix($0) }
}()

/// `TEDI_SLURM=1` (set by .ci/run after `tools/slurm-local up`) makes a missing Slurm a failure.
let slurmRequired = ProcessInfo.processInfo.environment["TEDI_SLURM"] == "1"

/// A sweep through a real Slurm (the one-node cluster of `tools/slurm-local up`): a 4-task array
/// submitted by `tedi slurm --submit` must reproduce a serial run byte for byte with every
/// seed-independent node run once; a task cancelled midway leaves a hole that `tedi status`
/// reports and `--only-missing` fills.
///
/// Runs when TEDI_SLURM=1 (then a Slurm that is not up fails the test with the reason) or when
/// `sinfo` answers; otherwise it is reported as skipped with the command that enables it.
@Suite(.enabled(if: tediBinary != nil && (slurmRequired || slurmIsUp),
                "no local Slurm: run `tools/slurm-local up` (root), or set TEDI_SLURM=1 to make this a failure"),
       .serialized)
struct SlurmIntegrationTests {
    func sh(_ cmd: String, in dir: URL) throws -> (code: Int32, stdout: String, stderr: String) {
        try runTool("/bin/bash", ["-c", cmd], in: dir)
    }

    /// Polls `squeue -h -j IDS` every 0.5 s until none of them is queued (at most `limit` s).
    func waitForJobs(_ ids: String, in dir: URL, limit: Double = 120) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        while seconds(since: start) < limit {
            let q = try sh("squeue -h -j \(ids) -o %i 2>/dev/null", in: dir)
            if q.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return }
            usleep(500_000)
        }
        Issue.record("jobs \(ids) still queued after \(limit) s: \(try sh("squeue", in: dir).stdout)")
    }

    func jobIDs(_ out: String) -> (array: String, gather: String)? {
        var a: String?, g: String?
        for line in out.split(separator: "\n") {
            if line.hasPrefix("array ") { a = String(line.dropFirst(6)) }
            if line.hasPrefix("gather ") { g = String(line.dropFirst(7)) }
        }
        guard let a, let g else { return nil }
        return (a, g)
    }

    @Test func arraySweepMatchesSerialAndACancelledTaskIsRefilled() throws {
        try #require(slurmIsUp, "TEDI_SLURM=1 but Slurm is not up: `sinfo` shows no usable node; run `tools/slurm-local up` and read its error")
        _ = try requireTedi()
        // Slurm tasks run as the submitting user in any folder: a temp folder they can all see.
        let dir = try TempDir("slurm-it")
        try dir.write(FaultGraphs.a, to: "g.yaml")
        let serial = try tedi(["run", "g.yaml", "--seeds", "0-7", "--out", "serial", "--no-cache", "--report", "serial.json", "--quiet"], in: dir.url)
        #expect(serial.code == 0, "\(serial.stderr)")
        let serialRows = try #require(reportRows(dir.read("serial.json")))
        let reference = sweepOutputs(dir.sub("serial"))

        // 1. The whole sweep as a 4-task array, then the gather job.
        let sub = try tedi(["slurm", "g.yaml", "--seeds", "0-7", "--array", "4", "--out", "o1", "--cache", "c1", "--cpus", "1", "--submit"], in: dir.url)
        #expect(sub.code == 0, "\(sub.stdout)\(sub.stderr)")
        let ids = try #require(jobIDs(sub.stdout), "no job ids in: \(sub.stdout)")
        try waitForJobs("\(ids.array),\(ids.gather)", in: dir.url)
        #expect(sweepOutputs(dir.sub("o1")) == reference)
        let reports = try (0..<4).map { try #require(reportRows(dir.read("o1/.tedi/slurm/report-\($0).json")), "task \($0) wrote no report") }
        for id in seedIndependentNodes(serialRows) { #expect(ranCounts(reports)[id] == 1, "\(id) ran \(ranCounts(reports)[id] ?? 0) times") }
        #expect(ranCounts(reports) == ranCounts([serialRows]))
        let gatherLog = try sh("cat o1/.tedi/slurm/gather_*.log", in: dir.url).stdout
        #expect(FileManager.default.fileExists(atPath: dir.path("o1/sweep-manifest.json")), "gather job did not run: \(gatherLog)")
        #expect(FileManager.default.fileExists(atPath: dir.path("o1/contact-sheet.png")))

        // 2. Cancel task 1 midway: this test holds the lock of the seed-independent node, so
        // every running task waits for it; task 1 is cancelled while waiting, then the lock goes.
        let key = try #require(serialRows.first { $0.id == "reference" }?.key)
        let lock = try #require(try LockDirectory(cacheRoot: dir.sub("c2")).tryAcquire(key))
        let sub2 = try tedi(["slurm", "g.yaml", "--seeds", "0-7", "--array", "4", "--out", "o2", "--cache", "c2", "--cpus", "1", "--submit"], in: dir.url)
        #expect(sub2.code == 0, "\(sub2.stdout)\(sub2.stderr)")
        let ids2 = try #require(jobIDs(sub2.stdout))
        let start = DispatchTime.now().uptimeNanoseconds
        while try sh("squeue -h -j \(ids2.array)_1 -o %T", in: dir.url).stdout.trimmingCharacters(in: .whitespacesAndNewlines) != "RUNNING" {
            let queue = try sh("squeue", in: dir.url).stdout
            try #require(seconds(since: start) < 60, "task 1 never started: \(queue)")
            usleep(100_000)
        }
        usleep(1_500_000)   // well inside its wait for the lock
        #expect(try sh("scancel \(ids2.array)_1", in: dir.url).code == 0)
        usleep(1_000_000)
        lock.release()
        try waitForJobs("\(ids2.array),\(ids2.gather)", in: dir.url)
        var st = try tedi(["status", "o2", "--strict"], in: dir.url)
        #expect(st.code == 1, "\(st.stdout)")
        #expect(st.stdout.contains("seeds 8: 6 done, 1 missing, 1 failed"), "\(st.stdout)")
        #expect(st.stdout.contains("failed  seed 1: cancelled"), "\(st.stdout)")
        #expect(st.stdout.contains("missing seed 5: not run"), "\(st.stdout)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("o2/sweep-manifest.json")))   // the gather job never ran
        let fill = try tedi(["run", "g.yaml", "--seeds", "0-7", "--out", "o2", "--cache", "c2", "--only-missing", "--report", "fill.json", "--quiet"], in: dir.url)
        #expect(fill.code == 0, "\(fill.stderr)")
        #expect(Set(try #require(reportRows(dir.read("fill.json"))).map(\.seed)) == [1, 5])
        #expect(sweepOutputs(dir.sub("o2")) == reference)
        st = try tedi(["status", "o2", "--strict"], in: dir.url)
        #expect(st.code == 0 && st.stdout.contains("8 done, 0 missing, 0 failed"), "\(st.stdout)")
    }
}
