import Foundation
import Graph
import Testing

/// Runs `executable` with `args` in `dir` with extra environment; (exit code, stdout, stderr).
func runTool(_ executable: String, _ args: [String], in dir: URL, env extra: [String: String] = [:]) throws -> (code: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    p.currentDirectoryURL = dir
    var env = ProcessInfo.processInfo.environment
    env["TEDI_CACHE"] = dir.appendingPathComponent("default-cache").path
    for (k, v) in extra { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// `tedi slurm` without a cluster: the script's text, its syntax, and a run of it against a
/// fake `sbatch` that records each submission; the recorded job scripts are then run as Slurm
/// would (task K with SLURM_ARRAY_TASK_ID=K), and must reproduce a serial sweep.
@Suite(.enabled(if: tediBinary != nil, "the tedi executable was not built beside the tests"))
struct SlurmScriptTests {
    @Test func scriptTextAndAFakeSbatchRun() throws {
        let bin = try requireTedi()
        let dir = try TempDir("slurm-script")
        try dir.write(FaultGraphs.a, to: "g.yaml")
        let root = dir.url.standardizedFileURL.path
        let r = try tedi(["slurm", "g.yaml", "--seeds", "0-7", "--array", "4", "--out", "o", "--cache", "c", "--set", "size=32",
                          "--partition", "short", "--time", "00:10:00", "--cpus", "2", "--mem", "4G"], in: dir.url)
        #expect(r.code == 0, "\(r.stderr)")
        let text = r.stdout
        for line in ["#SBATCH --array=0-3", "#SBATCH --partition=short", "#SBATCH --time=00:10:00", "#SBATCH --cpus-per-task=2",
                     "#SBATCH --mem=4G", "#SBATCH --job-name=tedi-g", "#SBATCH --output=\(root)/o/.tedi/slurm/%A_%a.log",
                     "#SBATCH --kill-on-invalid-dep=yes", "#SBATCH --job-name=tedi-g-gather",
                     "exec \(bin.path) run \(root)/g.yaml \\", "    --seeds 0-7 --shard \"$SLURM_ARRAY_TASK_ID/4\" --only-missing \\",
                     "    --out \(root)/o --cache \(root)/c \\",
                     "gather=$(sbatch --parsable --dependency=afterok:\"$array\" <<'TEDI_GATHER'",
                     "exec \(bin.path) status \(root)/o --strict --manifest \(root)/o/sweep-manifest.json --contact-sheet \(root)/o/contact-sheet.png"] {
            #expect(text.contains(line + "\n"), "missing line: \(line)\n\(text)")
        }
        #expect(text.contains("--set size=32"))
        #expect(text.components(separatedBy: "#SBATCH --cpus-per-task").count == 2)   // the gather job needs one CPU
        try dir.write(text, to: "submit.sh")
        let syntax = try runTool("/bin/bash", ["-n", "submit.sh"], in: dir.url)
        #expect(syntax.code == 0, "\(syntax.stderr)")

        // A fake sbatch: records args and the job script, answers job ids 100, 101, …
        try dir.write("""
        #!/bin/bash
        n=$(ls "$FAKE_SBATCH" | grep -c '^job-' || true)
        printf '%s\\n' "$@" > "$FAKE_SBATCH/args-$n"
        cat > "$FAKE_SBATCH/job-$n"
        echo "$((100 + n));tedi-cluster"
        """, to: "bin/sbatch")
        chmod(dir.path("bin/sbatch"), 0o755)
        try FileManager.default.createDirectory(at: dir.sub("jobs"), withIntermediateDirectories: true)
        let path = dir.path("bin") + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let env = ["PATH": path, "FAKE_SBATCH": dir.path("jobs")]
        let sub = try runTool(bin.path, ["slurm", "g.yaml", "--seeds", "0-7", "--array", "4", "--out", "o", "--cache", "c", "--submit"], in: dir.url, env: env)
        #expect(sub.code == 0, "\(sub.stderr)")
        #expect(sub.stdout.hasPrefix("array 100\ngather 101\nfollow:  squeue -j 100,101\n"), "\(sub.stdout)")
        #expect(sub.stdout.contains("status:  \(bin.path) status \(root)/o"))
        #expect(dir.read("jobs/args-0").map { String(decoding: $0, as: UTF8.self) } == "--parsable\n")
        #expect(dir.read("jobs/args-1").map { String(decoding: $0, as: UTF8.self) } == "--parsable\n--dependency=afterok:100\n")

        // Be Slurm: run the array's tasks (in reverse order, two at a time), then the gather job.
        let serial = try tedi(["run", "g.yaml", "--seeds", "0-7", "--out", "serial", "--no-cache", "--report", "serial.json", "--quiet"], in: dir.url)
        #expect(serial.code == 0, "\(serial.stderr)")
        for pair in [[3, 2], [1, 0]] {
            let group = DispatchGroup()
            let codes = Mutex2()
            for k in pair {
                group.enter()
                DispatchQueue.global().async {
                    let t = try? runTool("/bin/bash", [dir.path("jobs/job-0")], in: dir.url, env: ["SLURM_ARRAY_TASK_ID": "\(k)"])
                    codes.set(k, t?.code ?? -1)
                    group.leave()
                }
            }
            group.wait()
            for k in pair { #expect(codes.get(k) == 0, "task \(k)") }
        }
        #expect(sweepOutputs(dir.sub("o")) == sweepOutputs(dir.sub("serial")))
        let reports = try (0..<4).map { try #require(reportRows(dir.read("o/.tedi/slurm/report-\($0).json"))) }
        #expect(ranCounts(reports)["reference"] == 1)
        #expect(ranCounts(reports) == ranCounts([try #require(reportRows(dir.read("serial.json")))]))
        let gather = try runTool("/bin/bash", [dir.path("jobs/job-1")], in: dir.url)
        #expect(gather.code == 0, "\(gather.stdout)\(gather.stderr)")
        #expect(gather.stdout.contains("seeds 8: 8 done, 0 missing, 0 failed"))
        #expect(FileManager.default.fileExists(atPath: dir.path("o/sweep-manifest.json")))
        #expect(FileManager.default.fileExists(atPath: dir.path("o/contact-sheet.png")))
    }

    @Test func badOptionsAreUsageErrors() throws {
        let dir = try TempDir("slurm-errors")
        try dir.write(FaultGraphs.a, to: "g.yaml")
        let cases: [([String], Int32, String)] = [
            (["--seeds", "0-7", "--array", "9"], 2, "--array 9 is more tasks than the 8 seeds"),
            (["--array", "2"], 2, "give the sweep's seeds with --seeds"),
            (["--seeds", "0-7"], 2, "give the number of array tasks with --array N"),
            (["--seeds", "0-7", "--array", "2", "--partition", "a b"], 2, "--partition 'a b' has characters"),
            (["--seeds", "0-7", "--array", "2", "--cpus", "0"], 2, "--cpus expects an integer in 1...4096"),
            (["--seeds", "0-7", "--array", "2", "--out", "we\"ird"], 2, "which the Slurm script cannot carry"),
        ]
        for (args, code, fragment) in cases {
            let r = try tedi(["slurm", "g.yaml"] + args, in: dir.url)
            #expect(r.code == code, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(fragment), "\(args): \(r.stderr)")
        }
        // A sweep that would overwrite its own outputs is refused before anything is submitted.
        try dir.write(FaultGraphs.a.replacingOccurrences(of: "sheet_${seed}.png", with: "sheet.png"), to: "same.yaml")
        let same = try tedi(["slurm", "same.yaml", "--seeds", "0-3", "--array", "2"], in: dir.url)
        #expect(same.code == 1 && same.stderr.contains("would write 'sheet.png' for seed 0 and seed 1"), "\(same.stderr)")
        let noSbatch = try runTool(try requireTedi().path, ["slurm", "g.yaml", "--seeds", "0-3", "--array", "2", "--submit"], in: dir.url, env: ["PATH": "/nonexistent"])
        #expect(noSbatch.code == 1 && noSbatch.stderr.contains("sbatch not found on PATH"), "\(noSbatch.stderr)")
    }
}

/// The Kubernetes example keeps the shard model consistent: N in `--shard` equals completions.
@Suite struct K8sExampleTests {
    @Test func indexedJobShardsMatchCompletions() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Examples/k8s-indexed-job.yaml"), encoding: .utf8)
        func value(_ key: String) -> Int? {
            text.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(key + ":") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
        }
        let completions = try #require(value("completions"))
        #expect(value("parallelism") == completions)
        #expect(text.contains("completionMode: Indexed"))
        #expect(text.contains("--shard \"$JOB_COMPLETION_INDEX/\(completions)\" --only-missing"))
        _ = try YAML.parse(text, path: "k8s-indexed-job.yaml")   // well-formed YAML
    }
}

/// Exit codes by task, set from several threads.
final class Mutex2: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: Int32] = [:]
    func set(_ k: Int, _ v: Int32) { lock.lock(); values[k] = v; lock.unlock() }
    func get(_ k: Int) -> Int32? { lock.lock(); defer { lock.unlock() }; return values[k] }
}
