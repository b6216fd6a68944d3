import Foundation
import TensorCore

/// Durable progress of one long-running node (optimization, training), so a run that is killed
/// resumes where it stopped instead of starting over.
///
/// A checkpoint is keyed by the node's memo key, so it can only ever be resumed by the exact
/// same computation (same op version, params, inputs and files); anything that changes the key
/// starts fresh. It lives at `CACHE/checkpoints/KK/KEY` and holds `"TEDK1\n"`, the SHA-256 of
/// the rest (32 bytes), the step reached (u64 little-endian), then the node's own state bytes.
/// Saves are atomic (temp file + fsync + rename), so a kill at any instant leaves the previous
/// checkpoint or the new one, never a mix; a damaged file fails its checksum and is ignored
/// (reported through `onCorruption`), which costs recomputation, never a wrong result.
/// The runner removes the checkpoint once the node's result is safely in the cache.
public final class Checkpoint {
    /// The file holding the checkpoint.
    public let url: URL
    /// Called when a checkpoint file is damaged and dropped.
    public var onCorruption: ((String) -> Void)?
    /// Called when `run` cannot save (disk full, read-only); the loop goes on without saving.
    public var onWriteFailure: ((String) -> Void)?
    private static let magic = Array("TEDK1\n".utf8)

    /// A checkpoint for the node whose memo key is `key` (64 hex digits), under `directory`.
    public init(directory: URL, key: String) {
        url = directory.appendingPathComponent(String(key.prefix(2))).appendingPathComponent(key)
    }

    /// The last saved step and state, or nil when there is none (or it was damaged and dropped).
    public func load() -> (step: Int, state: [UInt8])? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let b = [UInt8](data)
        let head = Checkpoint.magic.count
        guard b.count >= head + 32 + 8, Array(b[0..<head]) == Checkpoint.magic else {
            drop("bad header")
            return nil
        }
        let body = Array(b[(head + 32)...])
        var h = SHA256()
        h.update(body)
        guard h.finalize() == Array(b[head..<(head + 32)]) else {
            drop("checksum mismatch")
            return nil
        }
        var step: UInt64 = 0
        for i in 0..<8 { step |= UInt64(body[i]) << (8 * UInt64(i)) }
        guard step <= UInt64(Int.max) else {
            drop("step out of range")
            return nil
        }
        return (Int(step), Array(body[8...]))
    }

    /// Atomically replaces the checkpoint with `state` at `step`.
    public func save(step: Int, state: [UInt8]) throws {
        guard step >= 0 else { throw NodeError("checkpoint step \(step) is negative") }
        var body = [UInt8]()
        body.reserveCapacity(8 + state.count)
        for i in 0..<8 { body.append(UInt8(truncatingIfNeeded: UInt64(step) >> (8 * UInt64(i)))) }
        body += state
        var h = SHA256()
        h.update(body)
        try AtomicFile.write(Checkpoint.magic + h.finalize() + body, to: url)
    }

    /// Deletes the checkpoint (after the node's result has been stored).
    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    private func drop(_ why: String) {
        onCorruption?("checkpoint \(url.lastPathComponent.prefix(12))… is damaged (\(why)); starting that node from the beginning")
        remove()
    }

    /// Runs `steps` iterations of `body` over a state, resuming from the last checkpoint when one
    /// exists and saving every `every` steps (and after the last). `encode`/`decode` turn the
    /// state into bytes and back; a state that fails to decode counts as no checkpoint.
    /// `body(&state, step)` performs step `step` (0-based). Throws `NodeCancelled` between steps
    /// when `isCancelled()` says so; the latest completed step is saved first. A save that fails
    /// is reported through `onWriteFailure` and does not stop the loop: checkpoints only save time.
    public func run<State>(steps: Int, every: Int, initial: () throws -> State,
                           encode: (State) -> [UInt8], decode: ([UInt8]) -> State?,
                           isCancelled: () -> Bool = { false },
                           _ body: (inout State, Int) throws -> Void) throws -> (state: State, resumedAt: Int) {
        var state: State
        var start = 0
        if let saved = load(), saved.step <= steps, let s = decode(saved.state) {
            state = s
            start = saved.step
        } else {
            state = try initial()
        }
        let resumedAt = start
        let interval = max(1, every)
        var step = start
        var warned = false
        func trySave() {
            do {
                try save(step: step, state: encode(state))
            } catch {
                if !warned { onWriteFailure?("could not save a checkpoint at step \(step) (\(error)); going on without checkpoints") }
                warned = true
            }
        }
        while step < steps {
            if isCancelled() {
                if step > start { trySave() }
                throw NodeCancelled()
            }
            try body(&state, step)
            step += 1
            if step % interval == 0 || step == steps { trySave() }
        }
        return (state, resumedAt)
    }
}

extension DiskCache {
    /// Where checkpoints of long-running nodes live (beside the cache's objects).
    public var checkpointDirectory: URL { root.appendingPathComponent("checkpoints") }

    /// The checkpoint for the node with memo key `key`, reporting damage like the cache does.
    public func checkpoint(key: String) -> Checkpoint {
        let c = Checkpoint(directory: checkpointDirectory, key: key)
        c.onCorruption = onCorruption
        c.onWriteFailure = onWriteFailure
        return c
    }
}
