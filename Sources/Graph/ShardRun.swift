import Foundation

/// Sets a `GraphRunner` up for one slice of a sweep (`tedi run --shard I/N --only-missing`):
/// picks the slice's seeds, drops seeds already done, shares seed-independent work through
/// lock files in the cache, and records each seed in the sweep manifest in `--out` (any sweep of
/// several seeds, sharded or not, so `tedi status` and `--only-missing` work after a plain one).
public final class SweepRun {
    /// Seeds this process will run.
    public private(set) var seeds: [Int]
    /// Seeds of the slice skipped by `--only-missing` because they are done.
    public private(set) var skipped = 0
    public let shard: Shard?
    /// Where seeds are recorded: with several seeds, `--shard` or `--only-missing` (not for a
    /// single-seed run, which leaves `--out` holding just its outputs).
    public let manifest: SweepManifest?
    private let runner: GraphRunner

    /// `shardText` is `I/N` or nil; throws `ShardError` for a bad one.
    public init(runner: GraphRunner, seeds all: [Int], shardText: String?, onlyMissing: Bool, quiet: Bool) throws {
        self.runner = runner
        shard = try shardText.map(Shard.parse)
        seeds = shard?.select(all) ?? all
        runner.sweepSeeds = all
        if let cache = runner.cache {
            let locks = LockDirectory(cacheRoot: cache.root)
            if !quiet { locks.onTakeover = { FileHandle.standardError.write("tedi: note: \($0)\n".data(using: .utf8)!) } }
            runner.locks = locks
        }
        guard shard != nil || onlyMissing || all.count > 1, let first = all.first else { manifest = nil; return }
        let recipe = try runner.recipe(seed: first)
        let m = SweepManifest(outDirectory: runner.outDirectory, recipe: recipe)
        manifest = m
        if onlyMissing {
            let before = seeds.count
            seeds = try seeds.filter { seed in
                if case .done = m.state(seed: seed, recipeText: try runner.recipe(seed: seed).text) { return false }
                return true
            }
            skipped = before - seeds.count
        }
        // A plain sweep records on a best-effort basis: its outputs are what was asked for, and
        // a record that cannot be written (read-only or full disk) must not fail or preempt them.
        let required = shard != nil || onlyMissing
        func record(_ body: () throws -> Void) throws {
            if required { try body() } else { try? body() }
        }
        let cachePath = runner.cache.map { $0.root.standardizedFileURL.path }
        // The record is this machine's, so it names the graph where it is here (`tedi status` prints a command to finish).
        let graphHere = URL(fileURLWithPath: runner.plan.file.path).standardizedFileURL.path
        if required {
            try m.writeSweep(graph: graphHere, params: recipe.params, seeds: all, cache: cachePath)
        }
        // A plain sweep writes its record when its first seed starts, so one the runner rejects
        // up front leaves none; its seeds join those an earlier run of the same sweep recorded.
        var pending = !required
        let label = shard?.description
        runner.onSeedStarted = { seed in
            try record {
                if pending {
                    pending = false
                    try m.writeSweep(graph: graphHere, params: recipe.params, seeds: all, cache: cachePath, merge: true)
                }
                try m.recordRunning(seed: seed, shard: label)
            }
        }
        runner.onSeedFinished = { seed, recipeText, files in
            try record { try m.recordDone(seed: seed, recipeText: recipeText, outputs: files, shard: label) }
        }
    }

    /// Records the seed that was running as failed (best effort: the run is failing anyway).
    public func recordFailure(_ reason: String) {
        guard let manifest, let seed = runner.currentSeed else { return }
        try? manifest.recordFailed(seed: seed, reason: reason, shard: shard?.description)
    }
}
