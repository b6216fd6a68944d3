import Foundation
import Graph
import TensorCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Outputs of a sweep folder, without tedi's own records (`.tedi/`) and gather products.
func sweepOutputs(_ dir: URL) -> [String: [UInt8]] {
    filesUnder(dir).filter { !$0.key.hasPrefix(".tedi/") && $0.key != "sweep-manifest.json" && $0.key != "contact-sheet.png" }
}

/// Per node id, how many report rows say "ran", summed over reports.
func ranCounts(_ reports: [[(id: String, seed: Int, key: String, status: String)]]) -> [String: Int] {
    var out: [String: Int] = [:]
    for r in reports { for row in r where row.status == "ran" { out[row.id, default: 0] += 1 } }
    return out
}

/// Node ids whose memo key is the same for every seed of a serial report (seed-independent).
func seedIndependentNodes(_ rows: [(id: String, seed: Int, key: String, status: String)]) -> Set<String> {
    var keys: [String: Set<String>] = [:]
    for r in rows { keys[r.id, default: []].insert(r.key) }
    return Set(keys.filter { $0.value.count == 1 }.map(\.key))
}

@Suite struct ShardSelectionTests {
    @Test func slicesAreDisjointBalancedAndStrided() throws {
        for seeds in [Array(0..<10), Array(0..<1), [9, 3, 7, 100, 5, 42, 8], Array(1000..<1037)] {
            for n in 1...9 {
                var seen: [Int] = []
                var sizes: [Int] = []
                for i in 0..<n {
                    let slice = try Shard(index: i, count: n).select(seeds)
                    // Independent reference: the seed at position p belongs to shard p mod n.
                    let expected = seeds.indices.filter { $0 % n == i }.map { seeds[$0] }
                    #expect(slice == expected)
                    seen += slice
                    sizes.append(slice.count)
                }
                #expect(seen.sorted() == seeds.sorted())
                #expect(sizes.max()! - sizes.min()! <= 1)
            }
        }
    }

    @Test func parseErrors() throws {
        #expect(try Shard.parse("3/4") == Shard(index: 3, count: 4))
        for (bad, fragment) in [("4/4", "between 0 and N-1 = 3"), ("-1/4", "between 0 and N-1"), ("0/0", "N must be between 1"),
                                ("a/b", "expects I/N"), ("1", "expects I/N"), ("1/2/3", "expects I/N")] {
            #expect(throws: ShardError.self) { try Shard.parse(bad) }
            do { _ = try Shard.parse(bad) } catch { #expect("\(error)".contains(fragment), "\(bad): \(error)") }
        }
        #expect(compactSeedList([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8")
    }
}

@Suite struct LockFileTests {
    @Test func liveHolderBlocksAndStaleHoldersAreTakenOver() throws {
        let dir = try TempDir("locks")
        let locks = LockDirectory(cacheRoot: dir.url, staleAfter: 120)
        let key = String(repeating: "ab", count: 32)
        let held = try #require(try locks.tryAcquire(key))
        #expect(try locks.tryAcquire(key) == nil)   // we are alive: not stale
        let text = try #require(dir.read("locks/\(key).lock"))
        #expect(String(decoding: text, as: UTF8.self).hasPrefix("\(getpid()) \(LockDirectory.hostName) "))
        held.release()
        #expect(!FileManager.default.fileExists(atPath: dir.path("locks/\(key).lock")))

        // A dead holder on this host: a pid that has exited.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run(); p.waitUntilExit()
        try dir.write("\(p.processIdentifier) \(LockDirectory.hostName) 1 \(Date().timeIntervalSince1970)\n", to: "locks/\(key).lock")
        var notes: [String] = []
        locks.onTakeover = { notes.append($0) }
        let taken = try #require(try locks.tryAcquire(key))
        #expect(notes.count == 1 && notes[0].contains("has exited"), "\(notes)")
        taken.release()

        // Our own pid with another start time: the pid was reused, the holder is gone.
        try dir.write("\(getpid()) \(LockDirectory.hostName) 1 0\n", to: "locks/\(key).lock")
        #expect(try locks.tryAcquire(key) != nil)

        // Another host: only age tells. Fresh → wait; untouched for longer than staleAfter → take over.
        let lockPath = dir.path("locks/\(key).lock")
        try dir.write("12345 some-other-host 99 0\n", to: "locks/\(key).lock")
        #expect(try locks.tryAcquire(key) == nil)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-300)], ofItemAtPath: lockPath)
        let old = try #require(try locks.tryAcquire(key))
        old.release()
    }

    @Test func unusableLockFolderMeansGoingOnUnlocked() throws {
        let dir = try TempDir("locks-ro")
        try dir.write("not a folder", to: "cache")   // the cache root is a file: no locks/ folder possible
        let lock = try #require(try LockDirectory(cacheRoot: dir.sub("cache")).tryAcquire(String(repeating: "ef", count: 32)))
        #expect(!lock.isHeld)
        lock.release()
    }

    @Test func waiterReturnsWhenTheHolderStoresTheResult() throws {
        let dir = try TempDir("locks-wait")
        let locks = LockDirectory(cacheRoot: dir.url, staleAfter: 120)
        let key = String(repeating: "cd", count: 32)
        let held = try #require(try locks.tryAcquire(key))
        let done = dir.sub("result")
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            _ = FileManager.default.createFile(atPath: done.path, contents: Data([1]))
            held.release()
        }
        let got = try locks.acquire(key, ready: { FileManager.default.fileExists(atPath: done.path) })
        #expect(got == nil)   // ready: the waiter did not take the lock to compute again
        #expect(seconds(since: start) >= 0.25)
    }
}

/// Shards as separate `tedi run --shard I/N` processes on one cache and one output folder.
@Suite(.enabled(if: tediBinary != nil, "the tedi executable was not built beside the tests"))
struct ShardCLITests {
    @Test func fourShardsMatchSerialAndShareSeedIndependentWork() throws {
        let dir = try TempDir("shards")
        try dir.write(FaultGraphs.a, to: "g.yaml")
        let serial = try tedi(["run", "g.yaml", "--seeds", "0-7", "--out", "serial", "--cache", "c-serial", "--report", "serial.json", "--quiet"], in: dir.url)
        #expect(serial.code == 0, "\(serial.stderr)")
        let serialRows = try #require(reportRows(dir.read("serial.json")))
        // A plain sweep (no --shard) is recorded too, so `tedi status` can tell what it did.
        let serialStatus = try tedi(["status", "serial"], in: dir.url)
        #expect(serialStatus.code == 0 && serialStatus.stdout.contains("seeds 8: 8 done, 0 missing, 0 failed"), "\(serialStatus.stdout)\(serialStatus.stderr)")
        // Rerunning two of its seeds keeps the record of all eight.
        let part = try tedi(["run", "g.yaml", "--seeds", "2,3", "--out", "serial", "--cache", "c-serial", "--quiet"], in: dir.url)
        #expect(part.code == 0, "\(part.stderr)")
        let partStatus = try tedi(["status", "serial"], in: dir.url)
        #expect(partStatus.stdout.contains("seeds 8: 8 done, 0 missing, 0 failed"), "\(partStatus.stdout)\(partStatus.stderr)")
        let shared = seedIndependentNodes(serialRows)
        #expect(shared == ["reference"])

        let procs = try (0..<4).map { i in
            try TediProcess(["run", "g.yaml", "--seeds", "0-7", "--shard", "\(i)/4", "--out", "sharded", "--cache", "c-shared",
                             "--report", "r\(i).json", "--quiet"], in: dir.url)
        }
        for (i, p) in procs.enumerated() {
            let r = p.finish()
            #expect(r.code == 0, "shard \(i): \(r.stderr)")
        }
        let reference = sweepOutputs(dir.sub("serial"))
        #expect(reference.count == 16)
        #expect(sweepOutputs(dir.sub("sharded")) == reference)

        let reports = try (0..<4).map { try #require(reportRows(dir.read("r\($0).json"))) }
        #expect(reports.map { Set($0.map(\.seed)) } == [[0, 4], [1, 5], [2, 6], [3, 7]])
        let ran = ranCounts(reports), ranSerial = ranCounts([serialRows])
        for id in shared { #expect(ran[id] == 1, "\(id) ran \(ran[id] ?? 0) times across shards") }
        #expect(ran == ranSerial)   // duplicated work: none
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path("c-shared/locks")))?.filter { $0.hasSuffix(".lock") } == [])

        // Status, then holes: delete one seed's output, mark another failed.
        var st = try tedi(["status", "sharded"], in: dir.url)
        #expect(st.code == 0 && st.stdout.contains("seeds 8: 8 done, 0 missing, 0 failed"), "\(st.stdout)\(st.stderr)")
        try FileManager.default.removeItem(atPath: dir.path("sharded/sheet_5.png"))
        let id = try #require(try SweepManifest.summaries(out: dir.sub("sharded")).first?.id)
        try SweepManifest(outDirectory: dir.sub("sharded"), id: id).recordFailed(seed: 6, reason: "node 'face' failed: out of memory", shard: "2/4")
        st = try tedi(["status", "sharded", "--strict"], in: dir.url)
        #expect(st.code == 1)
        #expect(st.stdout.contains("seeds 8: 6 done, 1 missing, 1 failed"), "\(st.stdout)")
        #expect(st.stdout.contains("missing seed 5: output sheet_5.png is missing"), "\(st.stdout)")
        #expect(st.stdout.contains("failed  seed 6: node 'face' failed: out of memory"), "\(st.stdout)")
        #expect(st.stdout.contains("--only-missing"))

        // A seed in progress: running while its process lives, interrupted once it is gone.
        let manifest = SweepManifest(outDirectory: dir.sub("sharded"), id: id)
        try manifest.recordRunning(seed: 7, shard: "3/4")
        st = try tedi(["status", "sharded"], in: dir.url)
        #expect(st.stdout.contains("missing seed 7: running (pid \(getpid()) on "), "\(st.stdout)")
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let markerURL = dir.sub("sharded").appendingPathComponent(".tedi/sweeps/\(id)/seeds/7.json")
        var marker = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: markerURL)) as? [String: Any])
        marker["pid"] = Int(dead.processIdentifier)
        try JSONSerialization.data(withJSONObject: marker).write(to: markerURL)
        st = try tedi(["status", "sharded"], in: dir.url)
        #expect(st.stdout.contains("missing seed 7: interrupted (pid \(dead.processIdentifier) on "), "\(st.stdout)")
        #expect(st.stdout.contains("seeds 8: 5 done, 2 missing, 1 failed"), "\(st.stdout)")

        let fill = try tedi(["run", "g.yaml", "--seeds", "0-7", "--out", "sharded", "--cache", "c-shared", "--only-missing", "--report", "fill.json", "--quiet"], in: dir.url)
        #expect(fill.code == 0, "\(fill.stderr)")
        let fillRows = try #require(reportRows(dir.read("fill.json")))
        #expect(Set(fillRows.map(\.seed)) == [5, 6, 7])
        #expect(sweepOutputs(dir.sub("sharded")) == reference)
        st = try tedi(["status", "sharded", "--strict", "--manifest", "m.json"], in: dir.url)
        #expect(st.code == 0 && st.stdout.contains("8 done, 0 missing, 0 failed"), "\(st.stdout)")
        let mBytes = try #require(dir.read("m.json"))
        let m = try #require(try JSONSerialization.jsonObject(with: Data(mBytes)) as? [[String: Any]])
        let done = try #require(m.first?["done"] as? [String: [String: Any]])
        #expect(done.count == 8)
        let outs = try #require(done["3"]?["outputs"] as? [String: String])
        #expect(outs["sheet_3.png"] == SHA256.hex(of: reference["sheet_3.png"] ?? []))

        // Nothing left: --only-missing runs nothing. A changed param is another sweep: all missing.
        let again = try tedi(["run", "g.yaml", "--seeds", "0-7", "--out", "sharded", "--cache", "c-shared", "--only-missing"], in: dir.url)
        #expect(again.code == 0 && again.stdout.contains("nothing to run: 8 seeds"), "\(again.stdout)")
        let other = try tedi(["run", "g.yaml", "--set", "size=32", "--seeds", "0-7", "--shard", "0/2", "--out", "sharded", "--cache", "c-shared", "--only-missing", "--quiet"], in: dir.url)
        #expect(other.code == 0, "\(other.stderr)")
        st = try tedi(["status", "sharded"], in: dir.url)
        #expect(st.stdout.contains("(size=32)") && st.stdout.contains("seeds 8: 4 done, 4 missing, 0 failed"), "\(st.stdout)")

        let bad = try tedi(["run", "g.yaml", "--seeds", "0-7", "--shard", "4/4"], in: dir.url)
        #expect(bad.code == 2 && bad.stderr.contains("I must be between 0 and N-1 = 3"), "\(bad.stderr)")
        _ = try tedi(["run", "g.yaml", "--seed", "0", "--out", "single", "--cache", "c-serial", "--quiet"], in: dir.url)
        let none = try tedi(["status", "single"], in: dir.url)   // one seed: no sweep record
        #expect(none.code == 1 && none.stderr.contains("holds no sweep record"), "\(none.stderr)")
    }

    @Test func staleLockOfAKilledShardIsTakenOver() throws {
        let dir = try TempDir("shards-stale")
        try dir.write(FaultGraphs.a, to: "g.yaml")
        let serial = try tedi(["run", "g.yaml", "--seeds", "0-1", "--out", "serial", "--no-cache", "--report", "serial.json", "--quiet"], in: dir.url)
        #expect(serial.code == 0, "\(serial.stderr)")
        let key = try #require(reportRows(dir.read("serial.json"))?.first { $0.id == "reference" }?.key)
        // A lock left by a shard that was killed: its pid no longer runs on this host.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run(); p.waitUntilExit()
        try dir.write("\(p.processIdentifier) \(LockDirectory.hostName) 1 \(Date().timeIntervalSince1970)\n", to: "cache/locks/\(key).lock")
        let start = DispatchTime.now().uptimeNanoseconds
        let r = try tedi(["run", "g.yaml", "--seeds", "0-1", "--shard", "0/2", "--out", "out", "--cache", "cache", "--report", "r.json"], in: dir.url)
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stderr.contains("took over a stale lock"), "\(r.stderr)")
        #expect(seconds(since: start) < 30)
        #expect(reportRows(dir.read("r.json"))?.first { $0.id == "reference" }?.status == "ran")
        #expect(sweepOutputs(dir.sub("out")) == sweepOutputs(dir.sub("serial")).filter { $0.key.hasSuffix("_0.png") || $0.key.hasSuffix("_0.txt") })
        #expect(!FileManager.default.fileExists(atPath: dir.path("cache/locks/\(key).lock")))
    }
}
