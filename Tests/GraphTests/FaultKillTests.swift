import Foundation
import Graph
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` at random moments of a real `tedi run` sweep (20 kills; 100 with TEDI_SLOW=1).
/// The delays come from a fixed-seed generator and are printed, so a failing schedule replays.
///
/// Each round starts from an empty cache and output folder, kills two runs in a row (the second
/// starts from what the first left), checks what is on disk after every kill, then lets a run
/// finish. After every kill: no cache entry fails the format/checksum check, and every output
/// under its final name is byte-identical to an uninterrupted run's (temp files `.NAME.tmp-*`
/// are allowed). After the finishing run: exit 0, all outputs identical, and no node whose result
/// was already in the cache ran again (checked against the `--report`).
@Suite(.serialized) struct FaultKillTests {
    @Test func killNineDuringSweepLosesNothing() throws {
        _ = try requireTedi()
        let kills = slowFaultTests ? 100 : 20
        let dir = try TempDir("kill")
        try dir.write(FaultGraphs.a, to: "a.yaml")
        let run = ["run", "a.yaml", "--seeds", "0-3", "--cache", "cache", "--out", "out", "--quiet"]

        // Reference outputs, and the length of a warm uninterrupted run (the fastest of two
        // fresh-cache runs; the first launch of the binary is slower) to spread kills over.
        var fullRun = Double.infinity
        for k in 0..<2 {
            let start = DispatchTime.now().uptimeNanoseconds
            let ref = try tedi(["run", "a.yaml", "--seeds", "0-3", "--cache", "refcache\(k)", "--out", "ref", "--quiet"], in: dir.url)
            try #require(ref.code == 0, "\(ref.stderr)")
            fullRun = min(fullRun, seconds(since: start))
        }
        let reference = sweepOutputs(dir.sub("ref"))
        try #require(reference.count == 8)

        var rng = SplitMix64(state: 0x7ED1_2021)
        var injected = 0, finishedFirst = 0, rounds = 0
        var resumedNodesReused = 0, resumedNodesRan = 0, tempFiles = 0, tempBytes = 0, outTempFiles = 0
        var schedule: [String] = []
        // Until `kills` signals have hit running processes (runs that finish first do not count).
        while injected < kills && injected + finishedFirst < 5 * kills {
            rounds += 1
            try? FileManager.default.removeItem(at: dir.sub("cache"))
            try? FileManager.default.removeItem(at: dir.sub("out"))
            for k in 0..<2 where injected < kills {
                // The second run of a round has less left to do, so its kill comes sooner.
                let delay = rng.unit() * fullRun * (k == 0 ? 0.9 : 0.6)
                schedule.append(String(format: "%.3f", delay))
                let p = try TediProcess(run, in: dir.url)
                usleep(useconds_t(delay * 1e6))
                kill(p.process.processIdentifier, SIGKILL)
                let r = p.finish()
                if p.process.terminationReason == .uncaughtSignal {
                    injected += 1
                } else {
                    finishedFirst += 1   // done before the signal arrived: still a valid state to check
                    #expect(r.code == 0, "\(r.stderr)")
                    // Runs are quicker now than when timed (less load, warm files): aim earlier.
                    fullRun *= 0.8
                }
                let cache = CacheScan(dir.sub("cache"))
                #expect(cache.corrupt.isEmpty, "kill after \(delay) s left corrupt cache entries: \(cache.corrupt)")
                let outs = OutputScan(dir.sub("out"), reference: reference)
                #expect(outs.problems.isEmpty, "kill after \(delay) s: \(outs.problems)")
            }
            let before = CacheScan(dir.sub("cache"))
            tempFiles += before.temps.count
            tempBytes += before.tempBytes
            let resumed = try tedi(run + ["--report", "resume.json"], in: dir.url)
            #expect(resumed.code == 0, "\(resumed.stderr)")
            #expect(resumed.stderr.isEmpty, "\(resumed.stderr)")   // nothing corrupt to warn about
            let outs = OutputScan(dir.sub("out"), reference: reference)
            #expect(outs.problems.isEmpty && outs.complete == reference.count, "after resuming: \(outs.problems), \(outs.complete) complete")
            outTempFiles += outs.temps
            let rows = try #require(reportRows(dir.read("resume.json")))
            #expect(rows.count == 24)
            let recomputed = rows.filter { $0.status == "ran" && before.valid.contains($0.key) }
            #expect(recomputed.isEmpty, "finished nodes ran again: \(recomputed.map { "\($0.id)@\($0.seed)" })")
            resumedNodesReused += rows.filter { $0.status != "ran" }.count
            resumedNodesRan += rows.filter { $0.status == "ran" }.count
            // gc clears what killed writers left (age 0 here; an hour by default), and nothing else.
            let after = CacheScan(dir.sub("cache"))
            #expect(after.corrupt.isEmpty)
            let (removed, _) = DiskCache(root: dir.sub("cache")).gc(maxBytes: Int.max, staleTempAge: 0)
            let swept = CacheScan(dir.sub("cache"))
            #expect(removed == after.temps.count && swept.temps.isEmpty && swept.valid == after.valid)
        }
        // The delays must actually land inside runs, or the test proves nothing.
        #expect(injected == kills, "only \(injected) of \(kills) kills hit a running process")
        print("""
            fault kill-9: \(injected) kills injected (\(finishedFirst) runs finished before their signal) in \(rounds) rounds, \
            full run \(String(format: "%.2f", fullRun)) s; after kills: 0 corrupt cache entries, 0 half-written outputs, \
            \(tempFiles) stray temp files (\(tempBytes) bytes) left in the cache (removed by gc) and \(outTempFiles) in --out; resumed runs reused \(resumedNodesReused) \
            node results and ran \(resumedNodesRan); bytes lost: 0; delays (s): \(schedule.joined(separator: " "))
            """)
    }

    /// Temp files of killed writers are never read as entries; `gc` removes those older than its
    /// age limit and leaves younger ones (possibly a write in progress) and every entry alone.
    @Test func gcRemovesStaleTempFilesOnly() throws {
        let dir = try TempDir("stale-temps")
        let cache = DiskCache(root: dir.sub("cache"))
        let key = String(repeating: "cd", count: 32)
        try cache.write(key, [1, 2, 3])
        let folder = dir.sub("cache/objects/cd")
        let old = folder.appendingPathComponent(".\(key).tmp-1-2"), young = folder.appendingPathComponent(".\(key).tmp-3-4")
        try Data(repeating: 7, count: 100).write(to: old)
        try Data(repeating: 7, count: 50).write(to: young)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: old.path)
        #expect(cache.info().entries == 1)   // temps are not entries
        let (removed, freed) = cache.gc(maxBytes: Int.max)
        #expect(removed == 1 && freed == 100)
        #expect(!FileManager.default.fileExists(atPath: old.path))
        #expect(FileManager.default.fileExists(atPath: young.path))
        #expect(cache.read(key) == [1, 2, 3])
    }
}
