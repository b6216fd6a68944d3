import Foundation
import Graph

/// `tedi slurm`: a seed sweep as a Slurm job array (one shard per task) plus a gather job.
/// Prints the submission script; `--submit` runs it and prints the job ids.
enum SlurmCommand: Command {
    static let name = "slurm"
    static let summary = "run a seed sweep as a Slurm job array (print the sbatch script, or --submit it)"
    static let usage = """
    usage: tedi slurm GRAPH.yaml --seeds SPEC --array N [--set k=v]... [--out DIR] [--cache DIR | --no-cache]
                      [--partition P] [--time T] [--cpus C] [--mem M] [--name JOB] [--tedi PATH] [--submit]
    Task K of the array runs `tedi run GRAPH --shard K/N --only-missing`; a gather job runs after
    the whole array succeeded (--dependency=afterok) and writes OUT/sweep-manifest.json and
    OUT/contact-sheet.png. --out and --cache must be on a filesystem every node sees.
    Without --submit the script is printed (run it with bash); with --submit it is run and the
    job ids are printed.
    """

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let out = try args.option("out") ?? "out"
        let submit = args.flag("submit")
        let tasks = try args.int("array", default: 0)
        let partition = try args.option("partition"), time = try args.option("time"), mem = try args.option("mem")
        let cpus = try args.option("cpus").map { s -> Int in
            guard let c = Int(s), c >= 1, c <= 4096 else { throw UsageError("--cpus expects an integer in 1...4096, got '\(s)'") }
            return c
        }
        let jobName = try args.option("name")
        let tediPath = try args.option("tedi") ?? selfPath()
        let cache = try cacheFromArguments(&args)
        let seedsText = argv.firstIndex(of: "--seeds").flatMap { argv.indices.contains($0 + 1) ? argv[$0 + 1] : nil }
            ?? argv.first { $0.hasPrefix("--seeds=") }.map { String($0.dropFirst(8)) }
        let options = try LoadedGraph.options(&args)
        let rest = args.positionals()
        try args.finish()
        guard rest.count == 1 else { throw UsageError("give one graph file") }
        guard let seeds = options.seeds, let seedsText, seeds.count > 1 else {
            throw UsageError("give the sweep's seeds with --seeds (e.g. --seeds 0-999); a Slurm array needs at least 2 seeds")
        }
        guard tasks >= 1 else { throw UsageError("give the number of array tasks with --array N (N ≥ 1)") }
        guard tasks <= seeds.count else {
            throw UsageError("--array \(tasks) is more tasks than the \(seeds.count) seeds; use --array \(seeds.count) or fewer")
        }
        guard tasks <= Shard.maxCount else { throw UsageError("--array must be at most \(Shard.maxCount)") }
        // Validate now: a broken graph should fail here, not in a thousand array tasks.
        let loaded = try LoadedGraph.load(rest[0], options: options)
        let runner = GraphRunner(plan: loaded.plan, cache: nil, outDirectory: URL(fileURLWithPath: out))
        try runner.checkSweepOutputs(seeds: seeds)

        func abs(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.path }
        let graphName = URL(fileURLWithPath: rest[0]).deletingPathExtension().lastPathComponent
        var script = SlurmScript(tedi: tediPath, graph: abs(rest[0]), seeds: seedsText, tasks: tasks, out: abs(out),
                                 cache: cache.map { $0.root.standardizedFileURL.path }, name: jobName ?? "tedi-\(graphName)")
        script.sets = options.sets
        script.partition = partition; script.time = time; script.cpus = cpus; script.mem = mem
        do {
            for (n, v) in [("partition", partition), ("time", time), ("mem", mem), ("name", jobName)] { if let v { try SlurmScript.checkOption(n, v) } }
            for (n, v) in [("--tedi", tediPath), ("the graph path", script.graph), ("--out", script.out), ("--cache", script.cache ?? ""), ("--seeds", seedsText)] {
                try SlurmScript.checkText(n, v)
            }
            for (k, v) in options.sets { try SlurmScript.checkText("--set", "\(k)=\(v)") }
        } catch let e as ShardError {
            throw UsageError(e.description)
        }

        guard submit else {
            print(script.text, terminator: "")
            return 0
        }
        guard findExecutable("sbatch") != nil else {
            FileHandle.standardError.write("tedi: error: sbatch not found on PATH; run this on a Slurm login node (or bring up a local one: tools/slurm-local up)\n".data(using: .utf8)!)
            return 1
        }
        let dir = URL(fileURLWithPath: script.logDirectory)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("submit-\(Int(Date().timeIntervalSince1970)).sh")
        try AtomicFile.write(Array(script.text.utf8), to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [file.path]
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            FileHandle.standardError.write("tedi: error: submitting failed (exit \(p.terminationStatus)); the script is \(file.path)\n".data(using: .utf8)!)
            return 1
        }
        return 0
    }

    /// The running executable's absolute path (what the array tasks should run).
    static func selfPath() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    static func findExecutable(_ name: String) -> String? {
        for d in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(d)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}
