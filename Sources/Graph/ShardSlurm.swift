/// The submission script of `tedi slurm`: a bash script that submits a job array whose task K
/// runs `tedi run … --shard K/N --only-missing`, then a gather job that waits for the whole
/// array (`--dependency=afterok`) and writes the sweep manifest and a contact sheet.
///
/// The array and gather job scripts are embedded as quoted here-documents fed to `sbatch
/// --parsable`, so the printed text is both readable and runnable (`bash submit.sh`), and
/// `tedi slurm --submit` runs exactly this text. Every path in it is absolute: tasks start in
/// whatever folder Slurm gives them.
public struct SlurmScript {
    /// Command that runs tedi on the compute nodes (absolute path, or a wrapper).
    public var tedi: String
    /// Absolute path of the graph file.
    public var graph: String
    /// `--set` pairs, in order.
    public var sets: [(String, String)] = []
    /// Seeds as `--seeds` text.
    public var seeds: String
    /// Number of array tasks (shards).
    public var tasks: Int
    /// Absolute `--out` and `--cache` (nil = `--no-cache`); both must be on a shared filesystem.
    public var out: String
    public var cache: String?
    public var partition: String?
    public var time: String?
    public var cpus: Int?
    public var mem: String?
    /// Job name (sbatch `--job-name`).
    public var name: String

    public init(tedi: String, graph: String, seeds: String, tasks: Int, out: String, cache: String?, name: String) {
        self.tedi = tedi; self.graph = graph; self.seeds = seeds; self.tasks = tasks
        self.out = out; self.cache = cache; self.name = name
    }

    /// Where task logs and reports go: `OUT/.tedi/slurm`.
    public var logDirectory: String { out + "/.tedi/slurm" }

    /// Refuses values that would break the script (newlines, quotes in sbatch options).
    public static func checkOption(_ name: String, _ value: String) throws {
        let ok = !value.isEmpty && value.allSatisfy { $0.isLetter || $0.isNumber || "-_:.,+/@%".contains($0) }
        guard ok else {
            throw ShardError("--\(name) '\(value)' has characters sbatch options cannot take (use letters, digits and -_:.,+/@%)")
        }
    }

    /// Refuses paths and values the script cannot carry: newlines, double quotes, `$`, backquotes
    /// and backslashes (they would break its here-documents and echo lines).
    public static func checkText(_ what: String, _ value: String) throws {
        if let bad = value.first(where: { "\n\r\"$`\\".contains($0) }) {
            throw ShardError("\(what) '\(value)' contains \(bad == "\n" ? "a newline" : "'\(bad)'"), which the Slurm script cannot carry; rename or move it")
        }
    }

    private var sbatchHeader: [String] {
        var h: [String] = []
        if let partition { h.append("#SBATCH --partition=\(partition)") }
        if let time { h.append("#SBATCH --time=\(time)") }
        if let cpus { h.append("#SBATCH --cpus-per-task=\(cpus)") }
        if let mem { h.append("#SBATCH --mem=\(mem)") }
        return h
    }

    /// The job-array script (task K runs shard K of N).
    public var arrayScript: String {
        var run = ["\(q(tedi)) run \(q(graph))"]
        for (k, v) in sets { run.append("--set \(q("\(k)=\(v)"))") }
        run.append("--seeds \(q(seeds)) --shard \"$SLURM_ARRAY_TASK_ID/\(tasks)\" --only-missing")
        run.append("--out \(q(out)) \(cache.map { "--cache \(q($0))" } ?? "--no-cache")")
        run.append("--report \(q(logDirectory))/report-\"$SLURM_ARRAY_TASK_ID\".json --quiet")
        return ([
            "#!/bin/bash",
            "#SBATCH --job-name=\(name)",
            "#SBATCH --array=0-\(tasks - 1)",
            "#SBATCH --output=\(logDirectory)/%A_%a.log",
        ] + sbatchHeader + [
            "# One shard of \(tasks): seeds at positions K, K+\(tasks), … of --seeds (K = array task id).",
            "export TEDI_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"",
            "exec " + run.joined(separator: " \\\n    "),
        ]).joined(separator: "\n") + "\n"
    }

    /// The gather job: checks every seed is done, writes the manifest and contact sheet.
    public var gatherScript: String {
        ([
            "#!/bin/bash",
            "#SBATCH --job-name=\(name)-gather",
            "#SBATCH --output=\(logDirectory)/gather_%j.log",
            "#SBATCH --kill-on-invalid-dep=yes",
        ] + sbatchHeader.filter { !$0.contains("--cpus-per-task") } + [
            "exec \(q(tedi)) status \(q(out)) --strict --manifest \(q(out + "/sweep-manifest.json")) --contact-sheet \(q(out + "/contact-sheet.png"))",
        ]).joined(separator: "\n") + "\n"
    }

    /// The submission script: submits the array, then the gather job after it, and prints the
    /// job ids (`array JOBID` / `gather JOBID` lines) and the commands to follow progress.
    public var text: String {
        """
        #!/bin/bash
        # Written by `tedi slurm`: a \(tasks)-task job array over seeds \(seeds) of \(graph),
        # then a gather job once every task succeeded. Run it with bash (or use --submit).
        set -euo pipefail
        mkdir -p \(q(logDirectory))
        array=$(sbatch --parsable <<'TEDI_ARRAY'
        \(arrayScript)TEDI_ARRAY
        )
        array=${array%%;*}
        gather=$(sbatch --parsable --dependency=afterok:"$array" <<'TEDI_GATHER'
        \(gatherScript)TEDI_GATHER
        )
        gather=${gather%%;*}
        echo "array $array"
        echo "gather $gather"
        echo "follow:  squeue -j $array,$gather"
        echo \(q("status:  \(q(tedi)) status \(q(out))"))
        echo "logs:    \(logDirectory)/${array}_*.log"
        echo 'if a task fails or is cancelled, the gather job is cancelled too; finish the holes with'
        echo \(q("  " + finishCommand))
        echo \(q("  (or rerun this script: tasks skip seeds already done), then \(q(tedi)) status \(q(out)) --manifest \(q(out + "/sweep-manifest.json"))"))

        """
    }

    /// The command that fills the holes of the sweep from one machine.
    public var finishCommand: String {
        "\(q(tedi)) run \(q(graph))" + sets.map { " --set \(q("\($0.0)=\($0.1)"))" }.joined()
            + " --seeds \(q(seeds)) --out \(q(out))" + (cache.map { " --cache \(q($0))" } ?? " --no-cache") + " --only-missing"
    }

    private func q(_ s: String) -> String { SlurmScript.quote(s) }

    /// Single-quotes `s` for bash unless it is plainly safe.
    public static func quote(_ s: String) -> String {
        if !s.isEmpty && s.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0)) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
