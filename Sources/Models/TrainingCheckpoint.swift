import Foundation
import TensorCore

/// Everything needed to continue a training run bit-identically: parameters, optimizer state,
/// the step count and the data stream position, plus the run's config as metadata.
///
/// On disk it is one safetensors file (always F32, written atomically): parameters under
/// `param.NAME`, optimizer state under `opt.KEY` (Adam's `m.NAME`, `v.NAME`, `step`), and
/// `__metadata__` with `tedi.checkpoint` = `1`, `step`, `data_offset`, `elapsed_s` and the caller's
/// keys (model config, training options).
public struct TrainingCheckpoint {
    public var params: [String: Tensor]
    public var optimizer: [String: Tensor]
    /// Optimizer steps taken.
    public var step: Int
    /// Offset in the training split of the next sample to draw (the data stream's RNG position).
    public var dataOffset: Int
    /// Training wall time accumulated over all sessions, in seconds.
    public var elapsedSeconds: Double
    /// Config and options of the run (string values).
    public var metadata: [String: String]

    public init(params: [String: Tensor], optimizer: [String: Tensor], step: Int, dataOffset: Int,
                elapsedSeconds: Double, metadata: [String: String]) {
        self.params = params; self.optimizer = optimizer; self.step = step; self.dataOffset = dataOffset
        self.elapsedSeconds = elapsedSeconds; self.metadata = metadata
    }

    static let reservedKeys: Set<String> = ["tedi.checkpoint", "step", "data_offset", "elapsed_s"]

    /// Writes the checkpoint to `path` atomically (temp file + fsync + rename): a crash leaves
    /// either the old file or the new one.
    public func write(to path: String) throws {
        var tensors: [String: Tensor] = [:]
        for (k, v) in params { tensors["param." + k] = v }
        for (k, v) in optimizer { tensors["opt." + k] = v }
        var meta = metadata.filter { !TrainingCheckpoint.reservedKeys.contains($0.key) }
        meta["tedi.checkpoint"] = "1"
        meta["step"] = String(step)
        meta["data_offset"] = String(dataOffset)
        meta["elapsed_s"] = String(elapsedSeconds)
        try SafeTensors.write(tensors, metadata: meta, to: path, dtype: .f32)
    }

    /// Reads a checkpoint written by `write`; throws a clear error for any other file.
    public static func read(_ path: String) throws -> TrainingCheckpoint {
        let (tensors, meta) = try SafeTensors.read(path)
        guard meta["tedi.checkpoint"] == "1" else {
            throw ModelError("\(path) is not a tedi training checkpoint (no tedi.checkpoint metadata); pass the checkpoint.safetensors of a training --out folder")
        }
        func int(_ key: String) throws -> Int {
            guard let s = meta[key], let v = Int(s), v >= 0 else { throw ModelError("\(path): checkpoint metadata '\(key)' is missing or not a non-negative integer") }
            return v
        }
        guard let es = meta["elapsed_s"], let elapsed = Double(es), elapsed.isFinite, elapsed >= 0 else {
            throw ModelError("\(path): checkpoint metadata 'elapsed_s' is missing or invalid")
        }
        var params: [String: Tensor] = [:], opt: [String: Tensor] = [:]
        for (k, v) in tensors {
            if k.hasPrefix("param.") { params[String(k.dropFirst(6))] = v }
            else if k.hasPrefix("opt.") { opt[String(k.dropFirst(4))] = v }
        }
        return TrainingCheckpoint(params: params, optimizer: opt, step: try int("step"), dataOffset: try int("data_offset"),
                                  elapsedSeconds: elapsed, metadata: meta.filter { !reservedKeys.contains($0.key) })
    }
}

/// A CSV training log (`step,...` with a header row) that survives resumes: reopening it for a
/// run resumed at step S drops rows after S (written after the last checkpoint, so they will be
/// recomputed), so the log of a resumed run equals the log of an uninterrupted one.
public final class TrainingLog {
    public let path: String
    public let columns: [String]
    /// Rows so far (including those from earlier sessions), first column the step.
    public private(set) var rows: [[Double]] = []

    /// Opens `path` for a run; `resumeStep` nil starts a new log, otherwise keeps rows up to it.
    public init(path: String, columns: [String], resumeStep: Int?) throws {
        self.path = path
        self.columns = columns
        if let resumeStep, FileManager.default.fileExists(atPath: path) {
            let text = String(decoding: try FileIO.readAll(path, limit: 1 << 30), as: UTF8.self)
            var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            // A log from an older version may lack trailing columns; its rows get nan there.
            let old = lines.first.map { $0.split(separator: ",").map(String.init) } ?? []
            guard !old.isEmpty, old.count <= columns.count, Array(columns.prefix(old.count)) == old else {
                throw ModelError("\(path): the log's header does not match this run's columns (\(columns.joined(separator: ","))); move the old log away")
            }
            lines.removeFirst()
            for (i, line) in lines.enumerated() {
                var v = line.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) }
                if v.count == old.count { v += [Double?](repeating: .nan, count: columns.count - old.count) }
                guard v.count == columns.count, v.allSatisfy({ $0 != nil }) else {
                    throw ModelError("\(path):\(i + 2): malformed log row '\(line)'")
                }
                let row = v.map { $0! }
                if row[0] <= Double(resumeStep) { rows.append(row) }
            }
        }
        try rewrite()
    }

    /// Appends one row (same count as `columns`) and flushes it to disk.
    public func append(_ row: [Double]) throws {
        guard row.count == columns.count else {
            throw ModelError("training log: \(row.count) values for \(columns.count) columns")
        }
        rows.append(row)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(TrainingLog.format(row).utf8))
    }

    private func rewrite() throws {
        var text = columns.joined(separator: ",") + "\n"
        for r in rows { text += TrainingLog.format(r) }
        try FileIO.writeAtomically(Array(text.utf8), to: path)
    }

    static func format(_ row: [Double]) -> String {
        row.enumerated().map { i, v in
            i == 0 || v == v.rounded() && Swift.abs(v) < 1e15 ? String(Int(v)) : String(format: "%.6g", v)
        }.joined(separator: ",") + "\n"
    }
}
