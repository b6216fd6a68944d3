import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A cross-process lock on one memo key: a file created with `O_CREAT|O_EXCL` in the cache's
/// `locks/` folder, holding `pid host start-ticks started-at` of its holder.
///
/// Shards of one sweep (processes on one machine, or array tasks on many sharing a filesystem)
/// use it so that a seed-independent node is computed by one of them while the others wait and
/// then read its result from the cache. A lock is *stale*, and may be taken over, when its
/// holder is on this host and its process is gone (or the pid now belongs to another process),
/// or when the file has not been touched for `staleAfter` seconds (the holder refreshes it every
/// `heartbeat` seconds while it computes, so only a dead or unreachable holder goes quiet).
///
/// Correctness never depends on the lock: results are written atomically and the same key gives
/// the same bytes, so a wrongly broken lock costs duplicated work, never a torn or wrong file.
public final class LockDirectory: @unchecked Sendable {
    public let root: URL
    /// Seconds without a heartbeat after which a lock from another host counts as abandoned.
    public var staleAfter: TimeInterval
    /// Seconds between the holder's touches of its lock file.
    public var heartbeat: TimeInterval
    /// Seconds between a waiter's checks.
    public var pollInterval: TimeInterval = 0.05

    /// Locks of the cache at `cacheRoot` live in `cacheRoot/locks/`. `TEDI_LOCK_STALE_SECONDS`
    /// overrides the default stale age (120 s).
    public init(cacheRoot: URL, staleAfter: TimeInterval? = nil, heartbeat: TimeInterval = 10) {
        root = cacheRoot.appendingPathComponent("locks")
        let env = ProcessInfo.processInfo.environment["TEDI_LOCK_STALE_SECONDS"].flatMap(Double.init)
        self.staleAfter = staleAfter ?? env ?? 120
        self.heartbeat = min(heartbeat, max(self.staleAfter / 4, 0.05))
    }

    func url(_ key: String) -> URL { root.appendingPathComponent(key + ".lock") }

    /// This host's name, as written into lock files.
    public static let hostName: String = {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "unknown" }
        let s = String(cString: buf)
        return s.isEmpty ? "unknown" : s.replacingOccurrences(of: " ", with: "_")
    }()

    /// Field 22 of `/proc/PID/stat` (start time in clock ticks since boot), so a reused pid is
    /// not mistaken for the holder. Nil when unreadable.
    static func startTicks(_ pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
              let text = String(data: data, encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the ")" of the command name start at field 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    /// Who holds a lock, as parsed from its file.
    public struct Holder: Equatable, CustomStringConvertible {
        public var pid: Int32
        public var host: String
        public var startTicks: String
        public var startedAt: Double

        public var description: String { "pid \(pid) on \(host)" }

        var line: String { "\(pid) \(host) \(startTicks) \(String(format: "%.3f", startedAt))\n" }

        static func parse(_ text: String) -> Holder? {
            let f = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard f.count == 4, let pid = Int32(f[0]), pid > 0, let at = Double(f[3]) else { return nil }
            return Holder(pid: pid, host: String(f[1]), startTicks: String(f[2]), startedAt: at)
        }

        static var current: Holder {
            let pid = getpid()
            return Holder(pid: pid, host: LockDirectory.hostName, startTicks: LockDirectory.startTicks(pid) ?? "-",
                          startedAt: Date().timeIntervalSince1970)
        }
    }

    /// A held lock; `release()` removes its file. Touches the file every `heartbeat` seconds.
    /// A lock whose file could not be created (read-only or full cache) holds nothing: the
    /// caller computes without excluding others, which costs at most duplicated work.
    public final class Lock: @unchecked Sendable {
        let url: URL?
        private let timer: DispatchSourceTimer?
        private var released = false

        init(url: URL?, heartbeat: TimeInterval) {
            self.url = url
            guard let url else { timer = nil; return }
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
            t.schedule(deadline: .now() + heartbeat, repeating: heartbeat)
            let path = url.path
            t.setEventHandler { _ = utimes(path, nil) }
            t.resume()
            timer = t
        }

        /// Whether this process really holds a lock file (false: the lock folder was unusable).
        public var isHeld: Bool { url != nil }

        /// Removes the lock file (idempotent).
        public func release() {
            guard !released else { return }
            released = true
            timer?.cancel()
            if let url { unlink(url.path) }
        }

        deinit { release() }
    }

    /// Creates the lock for `key` if nobody holds it; nil when another live holder does.
    /// A stale lock is removed first (under a short-lived takeover guard, so two waiters cannot
    /// both break it and then delete each other's fresh lock).
    public func tryAcquire(_ key: String) throws -> Lock? {
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            return Lock(url: nil, heartbeat: heartbeat)   // read-only or full cache: go on unlocked
        }
        let u = url(key)
        if let lock = create(u) { return lock }
        if breakIfStale(u) { return create(u) }
        return nil
    }

    private func create(_ u: URL) -> Lock? {
        let fd = open(u.path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return errno == EEXIST ? nil : Lock(url: nil, heartbeat: heartbeat) }
        let line = Array(Holder.current.line.utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return Lock(url: u, heartbeat: heartbeat)
    }

    /// Whether the lock at `u` is stale, and if so, why (nil = held by a live holder or gone).
    public func staleness(_ u: URL) -> String? {
        guard let data = FileManager.default.contents(atPath: u.path) else { return nil }
        let attrs = try? FileManager.default.attributesOfItem(atPath: u.path)
        let age = -((attrs?[.modificationDate] as? Date) ?? Date()).timeIntervalSinceNow
        guard let h = Holder.parse(String(decoding: data, as: UTF8.self)) else {
            // Being written right now, or garbage: only its age can tell.
            return age > max(staleAfter, 1) ? "unreadable lock untouched for \(Int(age)) s" : nil
        }
        if h.host == LockDirectory.hostName {
            if kill(h.pid, 0) != 0 && errno == ESRCH { return "holder \(h) has exited" }
            if let now = LockDirectory.startTicks(h.pid), h.startTicks != "-", now != h.startTicks {
                return "pid \(h.pid) now belongs to another process"
            }
        }
        if age > staleAfter { return "holder \(h) has not touched it for \(Int(age)) s" }
        return nil
    }

    /// Removes the lock at `u` when it is stale. Returns true when it is gone afterwards.
    func breakIfStale(_ u: URL) -> Bool {
        guard staleness(u) != nil else { return !FileManager.default.fileExists(atPath: u.path) }
        let guardURL = u.appendingPathExtension("takeover")
        let g = open(guardURL.path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
        if g < 0 {
            // Another waiter is breaking it; a guard left by a killed waiter expires after 10 s.
            if let m = (try? FileManager.default.attributesOfItem(atPath: guardURL.path))?[.modificationDate] as? Date,
               -m.timeIntervalSinceNow > 10 { unlink(guardURL.path) }
            return false
        }
        close(g)
        defer { unlink(guardURL.path) }
        // Re-check under the guard: the lock may have been replaced by a live holder meanwhile.
        if let why = staleness(u) {
            unlink(u.path)
            onTakeover?("took over a stale lock (\(why))")
        }
        return !FileManager.default.fileExists(atPath: u.path)
    }

    /// Called with a message when a stale lock is broken (the CLI prints it as a note).
    public var onTakeover: ((String) -> Void)?

    /// Takes `key`'s lock, waiting while a live holder has it, unless `ready()` becomes true
    /// first (the holder stored the result): then returns nil. Waiting polls every
    /// `pollInterval` and stops with `NodeCancelled` when `cancelled()` says so.
    public func acquire(_ key: String, ready: () -> Bool, cancelled: () -> Bool = { false }) throws -> Lock? {
        while true {
            if ready() { return nil }
            if let lock = try tryAcquire(key) {
                if ready() { lock.release(); return nil }   // finished between our check and our lock
                return lock
            }
            if cancelled() { throw NodeCancelled() }
            usleep(useconds_t(pollInterval * 1e6))
        }
    }
}
