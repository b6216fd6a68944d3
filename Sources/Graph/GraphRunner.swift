import Foundation
import Synchronization
import TensorCore

/// What happened to one node for one seed.
public struct NodeReport: Equatable {
    public enum Status: String {
        /// Computed in this run.
        case ran
        /// Reused from this process's memo (e.g. a seed-independent node in a sweep).
        case memo
        /// Read from the disk cache.
        case cached
        /// Not needed: everything downstream of it came from the cache.
        case skipped
    }
    public var id: String
    public var op: String
    public var seed: Int
    public var key: String
    public var status: Status
    public var seconds: Double
}

/// The outcome of `tedi run`; `json` is the `--report` format of the design.
public struct RunReport {
    public var graph: String
    public var seeds: [Int]
    public var nodes: [NodeReport] = []
    /// Files written (relative to --out) and files already up to date.
    public var written: [String] = []
    public var upToDate: [String] = []
    /// Nodes' notes on their inputs, "node 'id': note", each once.
    public var notes: [String] = []

    public var executed: Int { nodes.filter { $0.status == .ran }.count }
    /// Results taken from this process's memo or the disk cache.
    public var reused: Int { nodes.filter { $0.status == .memo || $0.status == .cached }.count }
    /// Nodes not evaluated at all (everything downstream of them came from the cache).
    public var skipped: Int { nodes.filter { $0.status == .skipped }.count }

    public var json: String {
        func s(_ x: String) -> String { JSONValue.quoted(x) }
        let rows = nodes.map { n in
            "    {\"id\": \(s(n.id)), \"op\": \(s(n.op)), \"seed\": \(n.seed), \"key\": \(s(n.key)), \"status\": \(s(n.status.rawValue)), \"seconds\": \(String(format: "%.6f", n.seconds))}"
        }
        return """
        {
          "graph": \(s(graph)),
          "seeds": [\(seeds.map(String.init).joined(separator: ", "))],
          "nodes": [
        \(rows.joined(separator: ",\n"))
          ],
          "executed": \(executed),
          "reused": \(reused),
          "skipped": \(skipped),
          "notes": [\(notes.map(s).joined(separator: ", "))],
          "written": [\(written.map(s).joined(separator: ", "))]
        }

        """
    }
}

/// Set by the SIGINT handler; checked between nodes and by long-running nodes.
/// An atomic, so a loop that polls it sees the handler's store: a plain global may be read once and
/// kept in a register by the optimizer when nothing in the loop writes it (a long node never stopped).
private let interruptFlag = Atomic<Int32>(0)

/// Runs a validated plan over seeds with memoization and the disk cache.
///
/// For each seed it first computes every node's memo key (SHA-256 over op, op version, canonical
/// resolved params, input keys and output ports, content hashes of files read, and for writers
/// the embedded recipe), which needs no values. It then evaluates lazily from the writers back:
/// a result found in the process memo or the disk cache is used as is, and nodes upstream of a
/// cached result are not touched. Files are written atomically and only when their bytes change.
public final class GraphRunner {
    public let plan: GraphPlan
    public var cache: DiskCache?
    public var outDirectory: URL
    /// Called after each output file is written (relative path), so a caller can list files as they
    /// appear, including those written before an interruption.
    public var onWrite: ((String) -> Void)?
    /// Progress lines on a terminal (nil = silent).
    public var progress: Progress?
    private var memo: [String: NodeResult] = [:]
    private var fileHashes: [String: String] = [:]
    /// Cross-process locks for seed-independent nodes, so shards of a sweep compute each once
    /// (the others wait and read the cache). Used only together with `cache`.
    public var locks: LockDirectory?
    /// Every seed of the sweep this run is a slice of (`--shard`); tells seed-independent nodes
    /// apart when the slice itself has a single seed. Defaults to the seeds run.
    public var sweepSeeds: [Int]?
    /// Called after a seed's outputs are all written: seed, recipe text, its files.
    public var onSeedFinished: ((Int, String, [(path: String, bytes: [UInt8])]) throws -> Void)?
    /// Called when a seed starts (before any of its nodes run).
    public var onSeedStarted: ((Int) throws -> Void)?
    /// The seed being run, so a caller can record which one failed or was cancelled.
    public private(set) var currentSeed: Int?

    public init(plan: GraphPlan, cache: DiskCache?, outDirectory: URL) {
        self.plan = plan
        self.cache = cache
        self.outDirectory = outDirectory
    }

    /// Makes Ctrl-C request a clean stop: the current node finishes or notices, nothing half-written remains.
    public static func installInterruptHandler() {
        // A parent may have started tedi with these signals blocked (a test runner, some process
        // managers do); blocked, they would stay pending and a run could not be stopped cleanly.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &set, nil)
        signal(SIGINT) { _ in
            if interruptFlag.load(ordering: .relaxed) != 0 { _exit(130) }   // a second Ctrl-C stops at once; writes are atomic anyway
            interruptFlag.store(1, ordering: .relaxed)
        }
        // scancel and Kubernetes send SIGTERM: the same clean stop, so the sweep manifest records it.
        signal(SIGTERM) { _ in
            if interruptFlag.load(ordering: .relaxed) != 0 { _exit(143) }
            interruptFlag.store(1, ordering: .relaxed)
        }
    }

    public static var isInterrupted: Bool { interruptFlag.load(ordering: .relaxed) != 0 }

    /// An I/O error in words: the errno text of a failed POSIX call or Foundation operation
    /// ("No space left on device", "Read-only file system") rather than a bridged error dump.
    static func describe(_ error: Error) -> String {
        if let e = error as? TensorError, case let .file(_, m) = e { return m }
        let ns = error as NSError
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(u.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return "\(error)"
    }

    /// SHA-256 of a file, computed once per process.
    func hashFile(_ url: URL) throws -> String {
        if let h = fileHashes[url.path] { return h }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw NodeError("cannot read input file '\(url.path)'")
        }
        let h = SHA256.hex(of: [UInt8](data))
        fileHashes[url.path] = h
        return h
    }

    /// Absolute location of every file a node reads: its `inputPath` params, and the weights of
    /// the models its `.model` params name. All of them are hashed into memo keys and recipes.
    public func inputPaths(_ params: [String: ParamValue], spec: NodeSpec) -> [String: URL] {
        plan.fileReferences(params, spec: spec).mapValues(\.url)
    }

    /// The models a node's `.model` params name, by param name.
    func models(_ params: [String: ParamValue], spec: NodeSpec) -> [String: ModelRef] {
        var out: [String: ModelRef] = [:]
        for ps in spec.params where ps.type == .model {
            if let name = params[ps.name]?.stringValue, let m = plan.models[name] { out[ps.name] = m }
        }
        return out
    }

    /// The recipe for `seed`: graph source, resolved params, and hashes of every input file.
    public func recipe(seed: Int) throws -> Recipe {
        var files: [String: String] = [:], shipped: [String: String] = [:]
        var missing: [Diagnostic] = []   // a bad input file is the user's to fix (exit 1), located at its param
        for i in plan.nodes.indices {
            let params = try plan.resolvedParams(i, seed: seed)
            for (name, f) in plan.fileReferences(params, spec: plan.nodes[i].spec).sorted(by: { $0.key < $1.key }) {
                do {
                    let h = try hashFile(f.url)
                    switch f.ref {
                    case let .path(p): files[p] = h
                    case let .shipped(n): shipped[n] = h
                    }
                } catch {
                    let decl = plan.nodes[i].decl
                    let mark = decl.params.first { $0.name == name }?.value.mark
                    missing.append(Diagnostic("node '\(decl.id)': cannot read input file '\(f.url.path)' (param '\(name)')", at: mark.map(plan.file.location)))
                }
            }
        }
        if !missing.isEmpty { throw GraphErrors(missing) }
        var params: [String: String] = [:]
        for (k, v) in plan.params where k != "seed" { params[k] = v.description }
        let graphPath = plan.recipeGraphPath ?? Recipe.portableGraphPath(URL(fileURLWithPath: plan.file.path))
        return Recipe(graphPath: graphPath, source: plan.file.source, seed: seed, params: params, files: files, shipped: shipped)
    }

    /// Memo keys of every planned node for `seed`, plus resolved params and input paths.
    func keys(seed: Int, recipeText: String) throws -> (keys: [String], params: [[String: ParamValue]]) {
        var keys: [String] = []
        var all: [[String: ParamValue]] = []
        for (i, node) in plan.nodes.enumerated() {
            let params = try plan.resolvedParams(i, seed: seed)
            var h = SHA256()
            h.update("tedi-node-v1\n\(node.spec.name)\n\(node.spec.version)\n")
            for k in params.keys.sorted() where node.spec.params.first(where: { $0.name == k })?.matters(params) ?? true {
                h.update("p \(k)=\(params[k]!.canonical)\n")
            }
            for e in node.inputs.sorted(by: { $0.port < $1.port }) {   // stable: list order kept within a port
                h.update("i \(e.port)=\(keys[e.node]).\(e.srcPort)\n")
            }
            for (name, url) in inputPaths(params, spec: node.spec).sorted(by: { $0.key < $1.key }) {
                h.update("f \(name)=\(try hashFile(url))\n")
            }
            for (name, m) in models(params, spec: node.spec).sorted(by: { $0.key < $1.key }) {
                h.update("m \(name)=\(m.canonicalConfig)\n")
            }
            if node.spec.writes { h.update("r \(recipeText)\n") }
            keys.append(h.hexDigest())
            all.append(params)
        }
        return (keys, all)
    }

    /// Refuses a sweep in which one writer would write the same file for several seeds: every
    /// copy embeds its own seed, so the bytes differ and the last seed would silently win (and
    /// concurrent runs with seeds in another order would leave another file). Checked before
    /// anything runs; the error points at the path param.
    public func checkSweepOutputs(seeds: [Int]) throws {
        var problems: [Diagnostic] = []
        // Two writers of one seed naming the same file: one would silently replace the other.
        for seed in seeds.prefix(1) {
            var writer: [String: String] = [:]
            for (i, node) in plan.nodes.enumerated() where node.spec.writes {
                for ps in node.spec.params where ps.type == .outputPath {
                    guard let path = try plan.resolvedParams(i, seed: seed)[ps.name]?.stringValue else { continue }
                    if let other = writer[path] {
                        let mark = node.decl.params.first { $0.name == ps.name }?.value.mark
                        problems.append(Diagnostic("nodes '\(other)' and '\(node.id)' both write '\(path)'; give each output its own path", at: mark.map(plan.file.location)))
                    }
                    writer[path] = node.id
                }
            }
        }
        for (i, node) in plan.nodes.enumerated() where node.spec.writes && seeds.count > 1 {
            for ps in node.spec.params where ps.type == .outputPath {
                var firstSeed: [String: Int] = [:]
                for seed in seeds {
                    guard let path = try plan.resolvedParams(i, seed: seed)[ps.name]?.stringValue else { continue }
                    if let earlier = firstSeed[path] {
                        let mark = node.decl.params.first { $0.name == ps.name }?.value.mark
                        let dot = path.lastIndex(of: ".").map { path.distance(from: path.startIndex, to: $0) } ?? path.count
                        let suggestion = String(path.prefix(dot)) + "_${seed}" + String(path.dropFirst(dot))
                        problems.append(Diagnostic("node '\(node.id)' would write '\(path)' for seed \(earlier) and seed \(seed) of the sweep (each copy records its seed, so the last would overwrite the others); put ${seed} in '\(ps.name)', e.g. \"\(suggestion)\", or run one seed", at: mark.map(plan.file.location)))
                        break
                    }
                    firstSeed[path] = seed
                }
            }
        }
        if !problems.isEmpty { throw GraphErrors(problems) }
    }

    /// Runs every seed; returns the report. Throws `GraphErrors` (exit 1) for a sweep that would
    /// overwrite its own outputs, `NodeError` (exit 3) or `NodeCancelled`.
    public func run(seeds: [Int]) throws -> RunReport {
        try checkSweepOutputs(seeds: seeds)
        var report = RunReport(graph: plan.file.path, seeds: seeds)
        // A node whose key is the same under two seeds does not depend on the seed: its result is
        // kept in the memo for the whole sweep. Other results are dropped after their seed, so a
        // long sweep holds one seed's values at a time.
        var sharedKeys = Set<String>()
        let sweep = sweepSeeds ?? seeds
        if sweep.count > 1 {
            let a = try keys(seed: sweep[0], recipeText: try recipe(seed: sweep[0]).text).keys
            let b = try keys(seed: sweep[1], recipeText: try recipe(seed: sweep[1]).text).keys
            for i in a.indices where a[i] == b[i] { sharedKeys.insert(a[i]) }
        }
        for (si, seed) in seeds.enumerated() {
            defer { memo = memo.filter { sharedKeys.contains($0.key) } }
            currentSeed = seed
            try onSeedStarted?(seed)
            var seedFiles: [(path: String, bytes: [UInt8])] = []
            let recipeText = try recipe(seed: seed).text
            let (keys, params) = try keys(seed: seed, recipeText: recipeText)
            var results = [NodeResult?](repeating: nil, count: plan.nodes.count)
            var status = [NodeReport.Status?](repeating: nil, count: plan.nodes.count)
            var seconds = [Double](repeating: 0, count: plan.nodes.count)

            // Evaluate node i (and what it needs), unless its result can be reused.
            func evaluate(_ i: Int) throws -> NodeResult {
                if let r = results[i] { return r }
                if let r = memo[keys[i]] {
                    results[i] = r; status[i] = .memo
                    return r
                }
                if let bytes = cache?.read(keys[i]), let r = try? ResultCodec.decode(bytes) {
                    memo[keys[i]] = r
                    results[i] = r; status[i] = .cached
                    return r
                }
                // Seed-independent: one process of the sweep computes it, the others wait for its
                // cache entry (see LockDirectory); a lost race only costs duplicated work.
                var lock: LockDirectory.Lock?
                if let locks, let cache, sharedKeys.contains(keys[i]) {
                    var found: NodeResult?
                    lock = try locks.acquire(keys[i], ready: {
                        if let b = cache.read(keys[i]), let r = try? ResultCodec.decode(b) { found = r }
                        return found != nil
                    }, cancelled: { GraphRunner.isInterrupted })
                    if let r = found {
                        memo[keys[i]] = r
                        results[i] = r; status[i] = .cached
                        return r
                    }
                }
                defer { lock?.release() }
                let node = plan.nodes[i]
                var inputs: [String: [Value]] = [:]
                for e in node.inputs {
                    let upstream = try evaluate(e.node)
                    guard let v = upstream.outputs[e.srcPort] else {
                        throw NodeError("node '\(plan.nodes[e.node].id)' produced no output '\(e.srcPort)'")
                    }
                    inputs[e.port, default: []].append(v)
                }
                if GraphRunner.isInterrupted { throw NodeCancelled() }
                progress?.node(node.id, op: node.spec.name, seed: seed, index: si, of: seeds.count)
                let start = DispatchTime.now().uptimeNanoseconds
                let ctx = NodeContext(nodeID: node.id, params: params[i], inputs: inputs, seed: seed,
                                      inputPaths: inputPaths(params[i], spec: node.spec), models: models(params[i], spec: node.spec), recipe: recipeText,
                                      progress: { [progress] step, total in progress?.step(step, total) },
                                      isCancelled: { GraphRunner.isInterrupted },
                                      checkpoint: cache?.checkpoint(key: keys[i]))
                let r: NodeResult
                do {
                    r = try node.spec.run(ctx)
                } catch let e as NodeCancelled {
                    throw e
                } catch {
                    throw NodeError("node '\(node.id)' (\(node.spec.name)) failed\(seeds.count > 1 ? " for seed \(seed)" : ""): \(error)")
                }
                seconds[i] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if GraphRunner.isInterrupted { throw NodeCancelled() }
                if let cache {
                    // The cache only saves time: a full or read-only cache must not fail the run.
                    do {
                        try cache.write(keys[i], ResultCodec.encode(r))
                        ctx.checkpoint?.remove()
                    } catch {
                        cache.onWriteFailure?("could not store the result of node '\(node.id)' in the cache (\(GraphRunner.describe(error))); going on without it")
                    }
                }
                memo[keys[i]] = r
                results[i] = r; status[i] = .ran
                return r
            }

            for (i, node) in plan.nodes.enumerated() where node.spec.writes {
                let r = try evaluate(i)
                seedFiles += r.files
                for f in r.files {
                    let url = f.path.hasPrefix("/") ? URL(fileURLWithPath: f.path) : outDirectory.appendingPathComponent(f.path)
                    if let existing = FileManager.default.contents(atPath: url.path), [UInt8](existing) == f.bytes {
                        report.upToDate.append(f.path)
                        continue
                    }
                    if GraphRunner.isInterrupted { throw NodeCancelled() }
                    do {
                        try AtomicFile.write(f.bytes, to: url)
                    } catch {
                        throw NodeError("node '\(node.id)' could not write \(url.path): \(GraphRunner.describe(error)); nothing was left under that name")
                    }
                    report.written.append(f.path)
                    onWrite?(f.path)
                    AtomicFile.removeStaleTemps(of: url)
                }
            }
            for (i, node) in plan.nodes.enumerated() {
                // A node skipped because its consumers came from the cache still says what it said
                // when it ran (what a caption was read as, what an input was resized from).
                let notes = results[i]?.notes ?? cache?.read(keys[i]).flatMap { try? ResultCodec.notes($0) } ?? []
                for n in notes where !report.notes.contains("node '\(node.id)': \(n)") {
                    report.notes.append("node '\(node.id)': \(n)")
                }
                report.nodes.append(NodeReport(id: node.id, op: node.spec.name, seed: seed, key: keys[i],
                                               status: status[i] ?? .skipped, seconds: seconds[i]))
            }
            try onSeedFinished?(seed, recipeText, seedFiles)
            currentSeed = nil
        }
        progress?.finish()
        return report
    }

    /// Per seed, what a run would do now: each node's key and whether it is in the disk cache.
    public func plan(seeds: [Int]) throws -> [(seed: Int, node: String, op: String, key: String, cached: Bool, sharedWithEarlierSeed: Bool)] {
        var out: [(Int, String, String, String, Bool, Bool)] = []
        var seen = Set<String>()
        for seed in seeds {
            let recipeText = try recipe(seed: seed).text
            let (keys, _) = try keys(seed: seed, recipeText: recipeText)
            for (i, node) in plan.nodes.enumerated() {
                let cached = cache.map { FileManager.default.fileExists(atPath: $0.entryURL(keys[i]).path) } ?? false
                out.append((seed, node.id, node.spec.name, keys[i], cached, !seen.insert(keys[i]).inserted))
            }
        }
        return out
    }
}

/// Disk encoding of a `NodeResult`: outputs (see `ValueCodec`), then the files of a writer.
enum ResultCodec {
    static func encode(_ r: NodeResult) -> [UInt8] {
        var w = ByteWriter()
        w.bytes(ValueCodec.encode(r.outputs))
        w.u32(UInt32(r.files.count))
        for f in r.files { w.string(f.path); w.bytes(f.bytes) }
        // Notes trail the files, so entries written before notes existed still decode.
        if !r.notes.isEmpty {
            w.u32(UInt32(r.notes.count))
            for n in r.notes { w.string(n) }
        }
        return w.out
    }

    static func decode(_ b: [UInt8]) throws -> NodeResult {
        var r = ByteReader(b)
        let outputs = try ValueCodec.decode(try r.bytes())
        var files: [(path: String, bytes: [UInt8])] = []
        for _ in 0..<(try r.u32()) { files.append((try r.string(), try r.bytes())) }
        var notes: [String] = []
        if !r.atEnd { for _ in 0..<(try r.u32()) { notes.append(try r.string()) } }
        guard r.atEnd else { throw ByteReader.Corrupt() }
        return NodeResult(outputs: outputs, files: files, notes: notes)
    }

    /// The notes of an encoded result alone: its outputs and files are stepped over, not decoded.
    static func notes(_ b: [UInt8]) throws -> [String] {
        var r = ByteReader(b)
        try r.skipBytes()
        for _ in 0..<(try r.u32()) { _ = try r.string(); try r.skipBytes() }
        var notes: [String] = []
        if !r.atEnd { for _ in 0..<(try r.u32()) { notes.append(try r.string()) } }
        guard r.atEnd else { throw ByteReader.Corrupt() }
        return notes
    }
}

/// Progress on a terminal: the current node and seed, and step/total with an ETA for long nodes.
/// Prints nothing when stderr is not a terminal.
public final class Progress {
    private var started = DispatchTime.now().uptimeNanoseconds
    private var stepStart = DispatchTime.now().uptimeNanoseconds
    private var label = ""
    private var active = false

    public init?(enabled: Bool) {
        guard enabled, isatty(2) != 0 else { return nil }
    }

    func node(_ id: String, op: String, seed: Int, index: Int, of count: Int) {
        label = count > 1 ? "seed \(seed) (\(index + 1)/\(count)) \(id) [\(op)]" : "\(id) [\(op)]"
        stepStart = DispatchTime.now().uptimeNanoseconds
        line(label)
    }

    func step(_ step: Int, _ total: Int) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e9
        let eta = step > 0 ? elapsed / Double(step) * Double(total - step) : 0
        line("\(label) \(step)/\(total) \(String(format: "%.1fs, ETA %.1fs", elapsed, eta))")
    }

    private func line(_ s: String) {
        let total = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        FileHandle.standardError.write("\r\u{1B}[K[\(String(format: "%.1fs", total))] \(s)".data(using: .utf8)!)
        active = true
    }

    public func finish() {
        if active { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        active = false
    }
}
