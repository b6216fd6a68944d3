import Foundation
import TensorCore

/// The record of a seed sweep in its output folder, so any interruption can be resumed.
///
/// Layout: `OUT/.tedi/sweeps/ID/sweep.json` (graph, params, every seed of the sweep) and one
/// marker per finished or failed seed, `OUT/.tedi/sweeps/ID/seeds/SEED.json`, holding its status
/// (`done` / `failed`), the reason of a failure, the SHA-256 of its recipe, and every output
/// (path relative to OUT → SHA-256). Each file is written atomically by the shard that ran the
/// seed, so shards never write the same file with different bytes. ID is the SHA-256 of the
/// graph path, source and params (not the seeds), so reruns of a sweep with other `--set`
/// values keep separate records.
///
/// A seed counts as done only when its marker says so, its recipe (graph, params, input-file
/// hashes) is unchanged, and every output it listed is present with the same bytes.
public final class SweepManifest {
    public let outDirectory: URL
    public let id: String
    public var directory: URL { SweepManifest.root(outDirectory).appendingPathComponent(id) }

    /// `OUT/.tedi/sweeps`.
    public static func root(_ out: URL) -> URL { out.appendingPathComponent(".tedi/sweeps") }

    /// The manifest of the sweep whose recipe (for any seed) is `recipe`.
    public init(outDirectory: URL, recipe: Recipe) {
        self.outDirectory = outDirectory
        id = SweepManifest.id(recipe)
    }

    /// The manifest of the sweep with this id (see `summaries`).
    public init(outDirectory: URL, id: String) {
        self.outDirectory = outDirectory
        self.id = id
    }

    /// Sweep identity: graph path, source and params; not the seed nor input-file hashes (those
    /// are checked per seed through the recipe hash).
    public static func id(_ r: Recipe) -> String {
        var h = SHA256()
        h.update("tedi-sweep-v1\n\(r.graphPath)\n")
        for k in r.params.keys.sorted() { h.update("p \(k)=\(r.params[k]!)\n") }
        h.update("s \(r.source)")
        return h.hexDigest()
    }

    func seedURL(_ seed: Int) -> URL { directory.appendingPathComponent("seeds/\(seed).json") }

    static func sha(_ bytes: [UInt8]) -> String { SHA256.hex(of: bytes) }

    /// Records the sweep's graph, params and full seed list (every shard writes the same bytes).
    /// `merge`: keep the seeds an earlier run recorded too (a plain rerun of a few seeds must not
    /// shrink the record of a larger sweep); new seeds go after them.
    public func writeSweep(graph: String, params: [String: String], seeds: [Int], cache: String?, merge: Bool = false) throws {
        var seeds = seeds
        if merge, let data = try? Data(contentsOf: directory.appendingPathComponent("sweep.json")),
           let old = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any], let before = old["seeds"] as? [Int] {
            let known = Set(before)
            seeds = before + seeds.filter { !known.contains($0) }
        }
        var obj: [String: Any] = ["tedi-sweep": 1, "graph": graph, "params": params, "seeds": seeds]
        if let cache { obj["cache"] = cache }
        try write(obj, to: directory.appendingPathComponent("sweep.json"))
    }

    /// Marks `seed` done with its outputs (path relative to OUT, bytes).
    public func recordDone(seed: Int, recipeText: String, outputs: [(path: String, bytes: [UInt8])], shard: String?) throws {
        var files: [String: String] = [:]
        for o in outputs { files[o.path] = SweepManifest.sha(o.bytes) }
        var obj: [String: Any] = ["seed": seed, "status": "done", "recipe": SweepManifest.sha(Array(recipeText.utf8)),
                                  "outputs": files, "host": LockDirectory.hostName]
        if let shard { obj["shard"] = shard }
        try write(obj, to: seedURL(seed))
    }

    /// Marks `seed` as being run by this process (pid, host, start time), so `tedi status` can
    /// tell a seed in progress from one never reached, or from one whose process died.
    public func recordRunning(seed: Int, shard: String?) throws {
        let pid = getpid()
        var obj: [String: Any] = ["seed": seed, "status": "running", "pid": Int(pid), "host": LockDirectory.hostName,
                                  "started": Int(Date().timeIntervalSince1970)]
        if let ticks = LockDirectory.startTicks(pid) { obj["start_ticks"] = ticks }
        if let shard { obj["shard"] = shard }
        try write(obj, to: seedURL(seed))
    }

    /// Marks `seed` failed (a node error, a cancelled task) with the reason.
    public func recordFailed(seed: Int, reason: String, shard: String?) throws {
        var obj: [String: Any] = ["seed": seed, "status": "failed", "reason": reason, "host": LockDirectory.hostName]
        if let shard { obj["shard"] = shard }
        try write(obj, to: seedURL(seed))
    }

    private func write(_ obj: [String: Any], to url: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted])
        try AtomicFile.write([UInt8](data) + [10], to: url)
    }

    /// What is known about one seed.
    public enum SeedState: Equatable {
        case done(outputs: [String: String], recipe: String)
        case failed(String)
        case missing(String)
    }

    /// The state of `seed`; with `recipeText`, a done seed whose recipe changed counts as missing.
    public func state(seed: Int, recipeText: String? = nil) -> SeedState {
        SweepManifest.state(markerAt: seedURL(seed), out: outDirectory, recipeText: recipeText)
    }

    static func state(markerAt url: URL, out: URL, recipeText: String?) -> SeedState {
        guard let data = FileManager.default.contents(atPath: url.path) else { return .missing("not run") }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let status = obj["status"] as? String else {
            return .missing("unreadable marker \(url.lastPathComponent)")
        }
        if status == "failed" { return .failed(obj["reason"] as? String ?? "no reason recorded") }
        if status == "running" { return .missing(runningReason(obj)) }
        guard status == "done", let outputs = obj["outputs"] as? [String: String] else { return .missing("marker has status '\(status)'") }
        if let recipeText, obj["recipe"] as? String != sha(Array(recipeText.utf8)) {
            return .missing("graph, params or inputs changed since it ran")
        }
        for (path, hash) in outputs.sorted(by: { $0.key < $1.key }) {
            guard let bytes = FileManager.default.contents(atPath: out.appendingPathComponent(path).path) else {
                return .missing("output \(path) is missing")
            }
            if sha([UInt8](bytes)) != hash { return .missing("output \(path) changed since it was written") }
        }
        return .done(outputs: outputs, recipe: obj["recipe"] as? String ?? "")
    }

    /// "running …" while the recorded process is alive (or on another host, where it cannot be
    /// checked), "interrupted …" when it has gone without finishing the seed.
    static func runningReason(_ obj: [String: Any]) -> String {
        let host = obj["host"] as? String ?? "?", pid = obj["pid"] as? Int ?? 0
        var started = ""
        if let t = obj["started"] as? Int {
            let f = DateFormatter()
            f.dateFormat = "yyyy-MM-dd HH:mm:ss"
            started = f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
        }
        let since = started.isEmpty ? "" : " since \(started)"
        guard host == LockDirectory.hostName else { return "running or interrupted on \(host) (pid \(pid)\(since))" }
        let p = Int32(truncatingIfNeeded: pid)
        let gone = pid <= 0 || (kill(p, 0) != 0 && errno == ESRCH)
        let reused = !gone && (obj["start_ticks"] as? String).map { $0 != LockDirectory.startTicks(p) } == true
        if gone || reused { return "interrupted (pid \(pid) on \(host) stopped before finishing it\(started.isEmpty ? "" : "; started \(started)"))" }
        return "running (pid \(pid) on \(host)\(since))"
    }

    /// A sweep as recorded in an output folder: its seeds by state.
    public struct Summary {
        public var id: String
        public var graph: String
        public var params: [String: String]
        public var seeds: [Int]
        /// The `--cache` of the shards that recorded it (nil = none recorded).
        public var cache: String?
        public var done: [(seed: Int, outputs: [String: String], recipe: String)] = []
        public var failed: [(seed: Int, reason: String)] = []
        public var missing: [(seed: Int, reason: String)] = []
    }

    /// Every sweep recorded under `out`, oldest graph path first. Throws when `out` has no record.
    public static func summaries(out: URL) throws -> [Summary] {
        let root = SweepManifest.root(out)
        guard let ids = try? FileManager.default.contentsOfDirectory(atPath: root.path), !ids.isEmpty else {
            throw NodeError("\(out.path) holds no sweep record (\(root.path) is missing); run `tedi run GRAPH --seeds … --out \(out.path)` first")
        }
        var out2: [Summary] = []
        for id in ids.sorted() {
            let dir = root.appendingPathComponent(id)
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent("sweep.json").path),
                  let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let seeds = obj["seeds"] as? [Int] else { continue }
            var s = Summary(id: id, graph: obj["graph"] as? String ?? "?", params: obj["params"] as? [String: String] ?? [:], seeds: seeds,
                            cache: obj["cache"] as? String)
            for seed in seeds {
                switch state(markerAt: dir.appendingPathComponent("seeds/\(seed).json"), out: out, recipeText: nil) {
                case .done(let o, let r): s.done.append((seed, o, r))
                case .failed(let r): s.failed.append((seed, r))
                case .missing(let r): s.missing.append((seed, r))
                }
            }
            out2.append(s)
        }
        guard !out2.isEmpty else { throw NodeError("\(root.path) holds no readable sweep.json") }
        return out2.sorted { ($0.graph, $0.id) < ($1.graph, $1.id) }
    }
}

/// Seeds as compact text: `0-3,7,9-12`.
public func compactSeedList(_ seeds: [Int]) -> String {
    var parts: [String] = []
    var i = 0
    while i < seeds.count {
        var j = i
        while j + 1 < seeds.count && seeds[j + 1] == seeds[j] + 1 { j += 1 }
        parts.append(j > i ? "\(seeds[i])-\(seeds[j])" : "\(seeds[i])")
        i = j + 1
    }
    return parts.joined(separator: ",")
}
