import Foundation
import Graph
import Imaging
import Nodes
import TensorCore

/// Shared by run / check / plan: load a graph (or the recipe embedded in a PNG) and validate it.
struct LoadedGraph {
    var plan: GraphPlan
    /// Seeds to run: from the recipe, `--seed`/`--seeds`, or the graph's `seed` param.
    var seeds: [Int]
    /// `--set` keys of the command line that name a param no node or model uses.
    var uselessSets: [String] = []

    /// Notes on declared params nothing uses: every one (for `check`), or only those the command
    /// line sets (for `run` and `plan`, where a `--set` that changes nothing is the surprise).
    func paramNotes(all: Bool) -> [String] {
        var notes = uselessSets.map { "--set \($0)=…: no node or model refers to ${\($0)}, so it changes nothing" }
        let rest = plan.unusedParams.filter { !uselessSets.contains($0) }
        if all && !rest.isEmpty {
            notes.append("declared but never used (no node or model refers to ${…}): \(rest.joined(separator: ", "))")
        }
        return notes
    }

    /// `--set` pairs and seeds from the command line (parse before taking positionals).
    struct Options {
        var sets: [(String, String)]
        var seeds: [Int]?
        /// `--allow-outside-out`: writers may use absolute paths and `..`.
        var allowOutsideOut = false
    }

    static func options(_ args: inout Arguments) throws -> Options {
        var sets: [(String, String)] = []
        for s in try args.options("set") {
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                throw UsageError("--set expects key=value, got '\(s)'")
            }
            sets.append((String(s[..<eq]), String(s[s.index(after: eq)...])))
        }
        let seedOption = try args.option("seed")
        let seedsOption = try args.option("seeds")
        if seedOption != nil && seedsOption != nil { throw UsageError("give --seed or --seeds, not both") }
        if seedOption != nil || seedsOption != nil, sets.contains(where: { $0.0 == "seed" }) {
            throw UsageError("--set seed=… and --\(seedOption != nil ? "seed" : "seeds") both set the seed; give one of them")
        }
        var seeds: [Int]?
        do {
            if let s = seedOption { seeds = try SeedSpec.parse(s); if seeds!.count != 1 { throw UsageError("--seed takes one seed; use --seeds for a sweep") } }
            if let s = seedsOption { seeds = try SeedSpec.parse(s) }
        } catch let e as SeedSpecError {
            // The message names --seeds; say --seed when that is what was given.
            throw UsageError(seedOption != nil && seedsOption == nil ? "--seed" + e.description.dropFirst("--seeds".count) : e.description)
        }
        return Options(sets: sets, seeds: seeds, allowOutsideOut: args.flag("allow-outside-out"))
    }

    static func load(_ path: String, options: Options) throws -> LoadedGraph {
        var sets = options.sets, seeds = options.seeds

        guard path.lowercased().hasSuffix(".png") else {
            let plan = try GraphValidator.validate(try GraphFile.load(path: path), catalog: NodeCatalog.standard, sets: sets,
                                                   seed: seeds?.first, allowOutsideOut: options.allowOutsideOut)
            return LoadedGraph(plan: plan, seeds: seeds ?? [plan.params["seed"]?.intValue ?? 0],
                               uselessSets: uselessSets(options, plan))
        }
        let (_, text) = try PNG.read(path)
        guard let recipeText = text[Recipe.textKey] else {
            throw GraphErrors([Diagnostic("\(path) carries no tedi recipe (no '\(Recipe.textKey)' text chunk); only PNGs written by `tedi run` can be rerun", at: nil)])
        }
        let r = try Recipe.parse(recipeText, path: path)
        // The recipe's params come first, so explicit --set still wins.
        sets = r.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } + sets
        // The recipe's seed, unless the command line sets one (--seed/--seeds or --set seed=).
        if seeds == nil && !options.sets.contains(where: { $0.0 == "seed" }) { seeds = [r.seed] }
        var locator = RecipeLocator()
        let plan = try locator.plan(r, pngPath: path, catalog: NodeCatalog.standard, sets: sets, seed: seeds?.first,
                                    allowOutsideOut: options.allowOutsideOut)
        return LoadedGraph(plan: plan, seeds: seeds ?? [plan.params["seed"]?.intValue ?? 0], uselessSets: uselessSets(options, plan))
    }

    private static func uselessSets(_ options: Options, _ plan: GraphPlan) -> [String] {
        var keys: [String] = []
        for (k, _) in options.sets where plan.unusedParams.contains(k) && !keys.contains(k) { keys.append(k) }
        return keys
    }

    /// The usual command line of a graph command: `--set`/`--seed(s)` options, then exactly one
    /// graph (or PNG) argument; anything left over is a usage error.
    static func fromCommandLine(_ args: inout Arguments) throws -> LoadedGraph {
        let options = try LoadedGraph.options(&args)
        let rest = args.positionals()
        guard rest.count == 1 else {
            try args.finish()   // an unknown flag is the likelier mistake: name it
            throw UsageError(rest.isEmpty ? "give a graph file (or a PNG written by tedi)" : "give one graph file, not \(rest.count): \(rest.joined(separator: " "))")
        }
        let loaded = try LoadedGraph.load(rest[0], options: options)
        try args.finish()
        return loaded
    }

}

func cacheFromArguments(_ args: inout Arguments) throws -> DiskCache? {
    let dir = try args.option("cache")
    if args.flag("no-cache") {
        if dir != nil { throw UsageError("give --cache or --no-cache, not both") }
        return nil
    }
    let cache = DiskCache(root: dir.map { URL(fileURLWithPath: $0) } ?? DiskCache.defaultRoot())
    cache.onCorruption = { FileHandle.standardError.write("tedi: warning: \($0)\n".data(using: .utf8)!) }
    cache.onWriteFailure = cache.onCorruption
    return cache
}

enum RunCommand: Command {
    static let name = "run"
    static let summary = "run a graph (or rerun the recipe embedded in a PNG it wrote)"
    static let usage = """
    usage: tedi run GRAPH.yaml|RESULT.png [--set k=v]... [--seed N | --seeds A-B | --seeds 1,5,9]
                    [--out DIR] [--cache DIR | --no-cache] [--report FILE.json] [--quiet]
                    [--shard I/N] [--only-missing] [--allow-outside-out]
    --shard I/N     run the I-th of N slices of the seeds (seeds at positions I, I+N, …); all
                    shards share --out and --cache, seed-independent nodes run once across them
    --only-missing  skip seeds the sweep record in --out marks done with unchanged outputs
    --allow-outside-out  let writers use absolute paths and '..' (never stored in recipes)
    With several seeds, --shard or --only-missing, each seed's result is recorded in
    OUT/.tedi/sweeps/ (see `tedi status OUT`).
    Exit codes: 0 ok, 1 invalid graph or input, 2 usage, 3 a node failed, 130 interrupted.
    """

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let out = try args.option("out") ?? "out"
        let reportPath = try args.option("report")
        let quiet = args.flag("quiet")
        let shardText = try args.option("shard")
        let onlyMissing = args.flag("only-missing")
        do { _ = try shardText.map(Shard.parse) } catch let e as ShardError { throw UsageError(e.description) }
        let cache = try cacheFromArguments(&args)
        let loaded = try LoadedGraph.fromCommandLine(&args)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw UsageError("--out \(out) is a file; give a directory (it is created when missing)")
        }
        let runner = GraphRunner(plan: loaded.plan, cache: cache, outDirectory: URL(fileURLWithPath: out))
        runner.progress = Progress(enabled: !quiet)
        // List files as they are written, so an interrupted run still says what it left.
        if !quiet { runner.onWrite = { [progress = runner.progress] f in progress?.finish(); print("wrote \(URL(fileURLWithPath: out).appendingPathComponent(f).path)") } }
        let sweep = try SweepRun(runner: runner, seeds: loaded.seeds, shardText: shardText, onlyMissing: onlyMissing, quiet: quiet)
        guard !sweep.seeds.isEmpty else {
            if !quiet { print("nothing to run: \(sweep.skipped) seed\(sweep.skipped == 1 ? "" : "s") of this slice already done") }
            return 0
        }
        GraphRunner.installInterruptHandler()
        let report: RunReport
        do {
            report = try runner.run(seeds: sweep.seeds)
        } catch let e as NodeCancelled {
            runner.progress?.finish()
            sweep.recordFailure("cancelled (\(e)) while running")
            FileHandle.standardError.write("tedi: \(e): stopped cleanly; finished nodes are cached, no partial outputs were written\n".data(using: .utf8)!)
            return 130
        } catch let e as NodeError {
            runner.progress?.finish()
            sweep.recordFailure("\(e)")
            FileHandle.standardError.write("tedi: error: \(e)\n".data(using: .utf8)!)
            return 3
        }
        if let reportPath { try AtomicFile.write(Array(report.json.utf8), to: URL(fileURLWithPath: reportPath)) }
        if !quiet {
            for n in loaded.paramNotes(all: false) + report.notes { print("note: \(n)") }
            for f in report.upToDate { print("up to date \(URL(fileURLWithPath: out).appendingPathComponent(f).path)") }
            print("\(report.executed) node run\(report.executed == 1 ? "" : "s") executed, \(report.reused) reused\(report.skipped > 0 ? ", \(report.skipped) not needed" : "") (seed\(sweep.seeds.count == 1 ? "" : "s") \(compactSeedList(sweep.seeds))\(sweep.skipped > 0 ? ", \(sweep.skipped) already done" : ""))")
        }
        return 0
    }
}

enum CheckCommand: Command {
    static let name = "check"
    static let summary = "validate a graph without running it"
    static let usage = "usage: tedi check GRAPH.yaml [--set k=v]... [--seed N | --seeds SPEC]"

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let loaded = try LoadedGraph.fromCommandLine(&args)
        let plan = loaded.plan
        try GraphRunner(plan: plan, cache: nil, outDirectory: URL(fileURLWithPath: "out")).checkSweepOutputs(seeds: loaded.seeds)
        print("\(plan.file.path): ok — \(plan.nodes.count) node\(plan.nodes.count == 1 ? "" : "s") to run, params: \(plan.paramOrder.map { "\($0)=\(plan.params[$0]!)" }.joined(separator: ", "))")
        if !plan.unusedNodes.isEmpty { print("note: not feeding any output, so never run: \(plan.unusedNodes.joined(separator: ", "))") }
        for n in loaded.paramNotes(all: true) + plan.notes { print("note: \(n)") }
        return 0
    }
}

enum PlanCommand: Command {
    static let name = "plan"
    static let summary = "show, per seed, which nodes would run and which are reused"
    static let usage = "usage: tedi plan GRAPH.yaml|RESULT.png [--set k=v]... [--seed N | --seeds SPEC] [--cache DIR | --no-cache]"

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let cache = try cacheFromArguments(&args)
        let loaded = try LoadedGraph.fromCommandLine(&args)
        let runner = GraphRunner(plan: loaded.plan, cache: cache, outDirectory: URL(fileURLWithPath: "out"))
        let rows = try runner.plan(seeds: loaded.seeds)
        var lastSeed: Int?
        var toRun = 0
        let idWidth = rows.map(\.node.count).max() ?? 0, opWidth = rows.map(\.op.count).max() ?? 0
        for r in rows {
            if r.seed != lastSeed { print("seed \(r.seed):"); lastSeed = r.seed }
            let what = r.cached ? "cached" : (r.sharedWithEarlierSeed ? "reused (same as an earlier seed)" : "run")
            if what == "run" { toRun += 1 }
            print("  \(r.node.padding(toLength: idWidth, withPad: " ", startingAt: 0))  \(r.op.padding(toLength: opWidth, withPad: " ", startingAt: 0))  \(what.padding(toLength: 32, withPad: " ", startingAt: 0))  \(r.key.prefix(12))")
        }
        // Files read from outside the graph's folder, each once, with the nodes that read it.
        var outside: [(path: String, readers: [String])] = []
        for i in loaded.plan.nodes.indices {
            for (name, url) in runner.inputPaths(try loaded.plan.resolvedParams(i, seed: loaded.seeds[0]), spec: loaded.plan.nodes[i].spec).sorted(by: { $0.key < $1.key })
            where !url.path.hasPrefix(loaded.plan.baseDirectory.path + "/") {
                let reader = "\(loaded.plan.nodes[i].id).\(name)"
                if let k = outside.firstIndex(where: { $0.path == url.path }) { outside[k].readers.append(reader) } else { outside.append((url.path, [reader])) }
            }
        }
        for o in outside { print("note: outside the graph's folder: \(o.path) (read by \(o.readers.joined(separator: ", ")))") }
        for n in loaded.paramNotes(all: false) + loaded.plan.notes { print("note: \(n)") }
        print("\(toRun) node run\(toRun == 1 ? "" : "s") to execute across \(loaded.seeds.count) seed\(loaded.seeds.count == 1 ? "" : "s")")
        return 0
    }
}

enum GraphCommand: Command {
    static let name = "graph"
    static let summary = "print a graph as Graphviz dot or Mermaid"
    static let usage = "usage: tedi graph GRAPH.yaml [--format dot|mermaid]"

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let format = try args.option("format") ?? "dot"
        guard format == "dot" || format == "mermaid" else { throw UsageError("--format is dot or mermaid, got '\(format)'") }
        let loaded = try LoadedGraph.fromCommandLine(&args)
        let plan = loaded.plan
        var lines: [String] = []
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        if format == "dot" {
            lines.append("digraph \(q(plan.file.name ?? "graph")) {")
            lines.append("  rankdir=LR;")
            for n in plan.nodes { lines.append("  \(q(n.id)) [label=\(q("\(n.id)\\n\(n.spec.name)")), shape=\(n.spec.writes ? "note" : "box")];") }
            for n in plan.nodes {
                for e in n.inputs {
                    lines.append("  \(q(plan.nodes[e.node].id)) -> \(q(n.id)) [label=\(q(edgeLabel(e, plan)))];")
                }
            }
            lines.append("}")
        } else {
            lines.append("flowchart LR")
            for n in plan.nodes { lines.append("  \(n.id)[\"\(n.id)<br/>\(n.spec.name)\"]") }
            for n in plan.nodes {
                for e in n.inputs {
                    lines.append("  \(plan.nodes[e.node].id) -->|\(edgeLabel(e, plan))| \(n.id)")
                }
            }
        }
        print(lines.joined(separator: "\n"))
        return 0
    }
}

/// "port" for a connection from a node's default output, "srcPort → port" otherwise.
func edgeLabel(_ e: (port: String, node: Int, srcPort: String), _ plan: GraphPlan) -> String {
    e.srcPort == plan.nodes[e.node].spec.outputs.first?.name ? e.port : "\(e.srcPort) → \(e.port)"
}

enum NodesCommand: Command {
    static let name = "nodes"
    static let summary = "list the node catalog, or show one op's ports and params"
    static let usage = "usage: tedi nodes [OP]"

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let rest = args.positionals()
        try args.finish()
        let catalog = NodeCatalog.standard
        if rest.isEmpty {
            let width = catalog.names.map(\.count).max() ?? 0
            for name in catalog.names {
                let s = catalog[name]!
                print("\(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(s.summary)")
            }
            return 0
        }
        guard rest.count == 1 else { throw UsageError("give at most one op") }
        guard let s = catalog[rest[0]] else {
            // A namespace (`encode`) lists its ops; otherwise the closest name.
            let family = catalog.names.filter { $0.hasPrefix(rest[0] + ".") }
            let hint = family.isEmpty ? didYouMean(rest[0], in: catalog.names) : "; ops named \(rest[0]).*: \(family.joined(separator: ", "))"
            FileHandle.standardError.write("tedi: error: unknown op '\(rest[0])'\(hint)\n".data(using: .utf8)!)
            return 1
        }
        print("\(s.name) (version \(s.version)) — \(s.summary)")
        print("inputs:")
        if s.inputs.isEmpty { print("  (none)") }
        for p in s.inputs { print("  \(p.name): \(p.accepts.map(\.rawValue).joined(separator: " | "))\(p.optional ? " (optional)" : "") — \(p.doc)") }
        print("outputs:")
        for o in s.outputs { print("  \(o.name): \(o.kind.rawValue)") }
        print("params:")
        if s.params.isEmpty { print("  (none)") }
        for p in s.params {
            let def = p.defaultValue.map { " = \($0.stringValue.map { "\"\($0)\"" } ?? $0.description)" } ?? " (required)"
            print("  \(p.name): \(p.type)\(def) — \(p.doc)")
        }
        return 0
    }
}

enum CacheCommand: Command {
    static let name = "cache"
    static let summary = "inspect or trim the result cache: info | gc --max-size SIZE | clear"
    static let usage = "usage: tedi cache info | gc --max-size SIZE | clear  [--cache DIR]   (SIZE like 500M, 2G)"

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let dir = try args.option("cache")
        let maxSize = try args.option("max-size")
        let rest = args.positionals()
        try args.finish()
        let cache = DiskCache(root: dir.map { URL(fileURLWithPath: $0) } ?? DiskCache.defaultRoot())
        switch rest.first {
        case "info" where rest.count == 1:
            let (n, bytes) = cache.info()
            print("\(cache.root.path): \(n) entr\(n == 1 ? "y" : "ies"), \(formatBytes(bytes))")
        case "gc" where rest.count == 1:
            guard let maxSize else { throw UsageError("gc needs --max-size SIZE (e.g. 500M)") }
            guard let limit = DiskCache.parseSize(maxSize) else { throw UsageError("bad size '\(maxSize)' (use e.g. 500M, 2G, 1024)") }
            let (removed, freed) = cache.gc(maxBytes: limit)
            print("removed \(removed) least recently used entr\(removed == 1 ? "y" : "ies"), freed \(formatBytes(freed))")
        case "clear" where rest.count == 1:
            try cache.clear()
            print("cleared \(cache.root.path)")
        default:
            throw UsageError("expected info, gc or clear")
        }
        return 0
    }

    static func formatBytes(_ b: Int) -> String {
        if b >= 1 << 30 { return String(format: "%.2f GiB", Double(b) / Double(1 << 30)) }
        if b >= 1 << 20 { return String(format: "%.2f MiB", Double(b) / Double(1 << 20)) }
        if b >= 1 << 10 { return String(format: "%.1f KiB", Double(b) / Double(1 << 10)) }
        return "\(b) B"
    }
}
