import Foundation
import Models
import TensorCore

/// `tedi train MODEL`: hands off to the subcommand that trains MODEL. Each parses its own options
/// and builds its trainer; `TrainingSession` runs it (clock, checkpoints, Ctrl-C and SIGTERM, log, ETA).
enum TrainCommand: Command {
    static let name = "train"
    static let summary = "train a model on SynthFaces (attributes, generator, encoder, parser, similarity)"
    static let subcommands: [TrainSubcommand.Type] = [TrainAttributesCommand.self, TrainGeneratorCommand.self, TrainEncoderCommand.self, TrainParserCommand.self, TrainSimilarityCommand.self]
    static var usage: String { subcommands.map { $0.usage }.joined(separator: "\n") }

    static func run(_ argv: [String]) throws -> Int32 {
        let names = subcommands.map { $0.name }
        guard let what = argv.first(where: { !$0.hasPrefix("-") }) else {
            throw UsageError("say what to train: " + names.map { "`tedi train \($0)`" }.joined(separator: ", "))
        }
        guard let sub = subcommands.first(where: { $0.name == what }) else {
            throw UsageError("unknown model '\(what)'; \(names.joined(separator: ", ")) can be trained\(didYouMean(what, in: names))")
        }
        var rest = argv
        rest.remove(at: argv.firstIndex(of: what)!)
        var args = Arguments(rest)
        return try sub.run(&args)
    }

    /// "; did you mean 'x'?" for a near miss, else "".
    static func didYouMean(_ s: String, in names: [String]) -> String {
        names.first { $0.hasPrefix(s) || s.hasPrefix($0) }.map { "; did you mean '\($0)'?" } ?? ""
    }
}

/// One `tedi train` subcommand: its options, their checks, and the hand-off to a trainer.
protocol TrainSubcommand {
    /// The model it trains (`tedi train NAME`).
    static var name: String { get }
    static var usage: String { get }
    static func run(_ args: inout Arguments) throws -> Int32
}

extension TrainSubcommand {
    /// The options its usage text names.
    static var flags: Set<String> {
        var out: Set<String> = []
        var rest = Substring(usage)
        while let r = rest.range(of: "--") {
            let name = rest[r.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if !name.isEmpty { out.insert(String(name)) }
            rest = rest[r.upperBound...]
        }
        return out
    }

    /// `args.finish()`, naming the subcommand an option belongs to when it is another's.
    static func finish(_ args: Arguments) throws {
        for item in args.remaining where item.hasPrefix("--") {
            let flag = String(item.dropFirst(2).prefix { $0 != "=" })
            guard !flags.contains(flag) else { continue }
            let owners = TrainCommand.subcommands.filter { $0.flags.contains(flag) }.map { "`tedi train \($0.name)`" }
            if !owners.isEmpty { throw UsageError("--\(flag) is for \(owners.joined(separator: " and ")), not `tedi train \(name)`") }
        }
        try args.finish()
    }
}

/// The options every `tedi train` subcommand shares: the run folder, resume, when to stop, how often to save.
struct SessionOptions {
    var out: String
    var resume: Bool
    var target: TrainingSession.Target
    var checkpointMinutes: Double

    init(_ args: inout Arguments) throws {
        guard let out = try args.option("out") else { throw UsageError("--out DIR is required") }
        self.out = out
        resume = args.flag("resume")
        let steps = try args.option("steps"), minutes = try args.option("minutes")
        guard (steps == nil) != (minutes == nil) else { throw UsageError("give exactly one of --steps N or --minutes M") }
        if let s = steps {
            guard let v = Int(s), v >= 1, v <= 100_000_000 else { throw UsageError("--steps expects an integer in 1...100000000, got '\(s)'") }
            target = .init(steps: v)
        } else {
            guard let m = minutes, let v = Double(m), v > 0, v <= 100_000 else {
                throw UsageError("--minutes expects a positive number, got '\(minutes ?? "")'")
            }
            target = .init(seconds: v * 60)
        }
        let ckpt = try args.option("checkpoint-minutes") ?? "5"
        guard let c = Double(ckpt), c > 0, c.isFinite else { throw UsageError("--checkpoint-minutes expects a positive number, got '\(ckpt)'") }
        checkpointMinutes = c
    }

    var checkpointPath: String { TrainingSession.checkpointPath(out) }

    /// With `--resume` the checkpoint must exist, without it, it must not (nothing is overwritten).
    /// The folder is made when the session starts, so a refused run leaves nothing behind.
    func prepare() throws {
        let exists = FileManager.default.fileExists(atPath: checkpointPath)
        if resume && !exists { throw UsageError("--resume: \(checkpointPath) does not exist; start a run without --resume first") }
        if !resume && exists { throw UsageError("\(checkpointPath) exists; add --resume to continue it, or choose another --out") }
    }

    /// True (after saying so) when a resumed run is already at its step target.
    func alreadyDone(_ trainer: SessionTrainer, note: String = "") -> Bool {
        guard let t = target.steps, t <= trainer.step else { return false }
        print("already at step \(trainer.step) (target \(t)); nothing to train\(note)")
        return true
    }

    /// Runs a session of `trainer` in the run folder until the target, Ctrl-C or SIGTERM; prints
    /// the summary and how to continue; returns the exit code (130 / 143 when stopped by a signal).
    func run(_ trainer: SessionTrainer, command: String) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let stop = StopFlag.onInterrupt()
        defer { stop.release() }
        let session = try TrainingSession(trainer: trainer, dir: out, resumed: resume, target: target,
                                          checkpointSeconds: checkpointMinutes * 60, shouldStop: { stop.isSet },
                                          progress: isatty(2) != 0 ? FileHandle.standardError : nil)
        let outcome = try session.run()
        print(session.summary(outcome))
        print("checkpoint \(checkpointPath); continue with `tedi train \(command) --out \(out) --resume --steps N` (or --minutes M)")
        return stop.exitCode
    }

    /// An integer option's value, `fallback` when absent.
    static func int(_ s: String?, _ name: String, _ fallback: Int) throws -> Int {
        guard let s else { return fallback }
        guard let v = Int(s) else { throw UsageError("--\(name) expects an integer, got '\(s)'") }
        return v
    }

    /// `--seed` and `--data-seed`, non-negative.
    static func seeds(_ seed: String?, _ dataSeed: String?, seedDefault: Int = 1) throws -> (seed: UInt64, data: UInt64) {
        let s = try int(seed, "seed", seedDefault), d = try int(dataSeed, "data-seed", 0)
        guard s >= 0, d >= 0 else { throw UsageError("--seed and --data-seed must be non-negative") }
        return (UInt64(s), UInt64(d))
    }
}

/// A flag set from a signal handler's queue and read by the training loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var signalNumber: Int32?
    private var sources: [DispatchSourceSignal] = []
    func set(_ sig: Int32) { lock.lock(); if signalNumber == nil { signalNumber = sig }; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return signalNumber != nil }
    /// The shell's code for a run stopped by a signal: 130 after Ctrl-C, 143 after SIGTERM.
    var exitCode: Int32 { lock.lock(); defer { lock.unlock() }; return signalNumber.map { 128 + $0 } ?? 0 }

    /// The signals that stop a training run cleanly: Ctrl-C, and SIGTERM (`kill`, Slurm's
    /// `scancel` and time limit, `docker stop`).
    static let signals: [Int32] = [SIGINT, SIGTERM]

    /// A flag that Ctrl-C or SIGTERM sets (instead of killing the process), so a training loop can
    /// finish its step and checkpoint. Call `release()` to restore the default handling.
    static func onInterrupt() -> StopFlag {
        let stop = StopFlag()
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.set(sig) }
            source.resume()
            stop.sources.append(source)
        }
        return stop
    }

    func release() {
        for s in sources { s.cancel() }
        sources = []
        for sig in StopFlag.signals { signal(sig, SIG_DFL) }
    }
}

