import Dispatch
import Foundation
import TensorCore

/// What one training step reports to the session.
public struct TrainingStepReport {
    /// The log row's values after `step` and `seconds`, in `SessionTrainer.logColumns` order.
    public var values: [Double]
    /// The progress line's metrics ("loss 0.1234  acc 56.7%").
    public var progress: String
    /// Lines to print above the progress line (measurements the trainer made this step).
    public var messages: [String] = []
    /// Why the run cannot go on (a loss became nan), said to the user after the session saved.
    public var failure: String? = nil

    public init(values: [Double], progress: String, messages: [String] = [], failure: String? = nil) {
        self.values = values; self.progress = progress; self.messages = messages; self.failure = failure
    }
}

/// A trainer that `TrainingSession` drives: it steps, reports, and writes its checkpoint and
/// artifacts into the run's folder. Everything about time, stopping and logging is the session's.
public protocol SessionTrainer: AnyObject {
    /// Optimizer steps taken so far (counting earlier sessions).
    var step: Int { get }
    /// Training seconds accumulated over sessions; the session adds this session's time before each save.
    var elapsedSeconds: Double { get set }
    /// Names of the log columns after `step` and `seconds`.
    var logColumns: [String] { get }
    /// Takes one step and reports it.
    func sessionStep() throws -> TrainingStepReport
    /// Writes `checkpoint.safetensors` (atomically) and the run's other files into `dir`.
    func save(to dir: String, log: TrainingLog) throws
}

/// One session of a training run: steps a trainer until a step target, a deadline or a stop
/// request, saving every `checkpointSeconds`, at the end and when stopped; appends one log row
/// per step; shows progress with an ETA on a terminal.
public final class TrainingSession {
    /// When the session ends: at a total step count or after some seconds of this session.
    public struct Target: Equatable, Sendable {
        public var steps: Int?
        public var seconds: Double?
        public init(steps: Int? = nil, seconds: Double? = nil) { self.steps = steps; self.seconds = seconds }
    }

    /// How a session ended.
    public struct Outcome {
        /// Steps taken in this session.
        public var steps: Int
        /// Wall seconds of this session.
        public var seconds: Double
        /// The last step's report (nil when no step ran).
        public var last: TrainingStepReport?
        /// Whether a stop request ended it.
        public var interrupted: Bool
    }

    public let trainer: SessionTrainer
    public let dir: String
    public let log: TrainingLog
    public let target: Target
    public let checkpointSeconds: Double
    /// Polled before every step; true ends the session (Ctrl-C, SIGTERM).
    public let shouldStop: () -> Bool
    /// Where the progress line goes (nil: nowhere).
    public let progress: FileHandle?

    /// A session over `trainer` writing into `dir`; the log gets `step`, `seconds` and the trainer's
    /// columns, keeping the rows up to the trainer's step when `resumed`.
    public init(trainer: SessionTrainer, dir: String, resumed: Bool, target: Target, checkpointSeconds: Double,
                shouldStop: @escaping () -> Bool = { false }, progress: FileHandle? = nil) throws {
        guard checkpointSeconds > 0 else { throw ModelError("the checkpoint interval must be positive, got \(checkpointSeconds) s") }
        self.trainer = trainer
        self.dir = dir
        self.target = target
        self.checkpointSeconds = checkpointSeconds
        self.shouldStop = shouldStop
        self.progress = progress
        log = try TrainingLog(path: dir + "/log.csv", columns: ["step", "seconds"] + trainer.logColumns,
                              resumeStep: resumed ? trainer.step : nil)
    }

    /// The checkpoint's path inside a run folder.
    public static func checkpointPath(_ dir: String) -> String { dir + "/checkpoint.safetensors" }

    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Runs the session; a step's `failure` saves and then throws it.
    public func run() throws -> Outcome {
        let start = TrainingSession.now(), startStep = trainer.step, startElapsed = trainer.elapsedSeconds
        var lastSave = start
        var last: TrainingStepReport?
        func save() throws {
            trainer.elapsedSeconds = startElapsed + (TrainingSession.now() - start)
            try trainer.save(to: dir, log: log)
            lastSave = TrainingSession.now()
        }
        var interrupted = false
        while true {
            if shouldStop() { interrupted = true; break }
            if let t = target.steps, trainer.step >= t { break }
            if let d = target.seconds, TrainingSession.now() - start >= d { break }
            let r = try trainer.sessionStep()
            last = r
            try log.append([Double(trainer.step), startElapsed + TrainingSession.now() - start] + r.values)
            if let failure = r.failure {
                try save()
                throw ModelError(failure)
            }
            if !r.messages.isEmpty {
                progress?.write("\r\u{1B}[K".data(using: .utf8)!)
                for m in r.messages { print(m) }
                fflush(stdout)
            }
            if TrainingSession.now() - lastSave >= checkpointSeconds { try save() }
            if let progress {
                let t = TrainingSession.now() - start, done = trainer.step - startStep
                let per = t / Double(max(done, 1))
                var eta = ""
                if let st = target.steps { eta = ", ETA " + TrainingSession.duration(per * Double(st - trainer.step)) }
                if let d = target.seconds { eta = ", " + TrainingSession.duration(max(0, d - t)) + " left" }
                let total = target.steps.map { "/\($0)" } ?? ""
                progress.write(String(format: "\r\u{1B}[Kstep %d%@  %@  %.2f s/step%@", trainer.step, total, r.progress, per, eta).data(using: .utf8)!)
            }
        }
        progress?.write("\r\u{1B}[K".data(using: .utf8)!)
        try save()
        return Outcome(steps: trainer.step - startStep, seconds: TrainingSession.now() - start, last: last,
                       interrupted: interrupted || shouldStop())
    }

    /// The summary line of a finished session: "stopped at step 5 (5 steps in 3s, 0.600 s/step; 3s in total); …".
    public func summary(_ o: Outcome) -> String {
        String(format: "%@ at step %d (%d steps in %@, %.3f s/step; %@ in total)%@",
               o.interrupted ? "interrupted" : "stopped", trainer.step, o.steps, TrainingSession.duration(o.seconds),
               o.seconds / Double(max(o.steps, 1)), TrainingSession.duration(trainer.elapsedSeconds),
               o.last.map { "; " + $0.progress.replacingOccurrences(of: "  ", with: ", ") } ?? "")
    }

    /// "45s", "3m07s", "2h05m".
    public static func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%dh%02dm", t / 3600, t / 60 % 60) : t >= 60 ? String(format: "%dm%02ds", t / 60, t % 60) : "\(t)s"
    }
}
