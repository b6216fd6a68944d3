import Foundation
import TensorCore

/// The content-addressed disk cache of node results.
///
/// An entry lives at `ROOT/objects/KK/KEY` (KEY the node's 64-hex memo key, KK its first two
/// characters). Its bytes are `"TEDC1\n"`, the SHA-256 of the payload (32 bytes), then the payload.
/// Writes go to a unique temp file in the same directory, are flushed, and are renamed into place,
/// so readers only ever see whole entries, and two processes writing the same key both leave a
/// valid entry (same key ⇒ same bytes). Reads verify the checksum; a corrupt entry is reported,
/// deleted and treated as a miss so the node is recomputed. Reading an entry touches its
/// modification time, which `gc` uses as the last-use time.
public final class DiskCache: @unchecked Sendable {
    public let root: URL
    private static let magic = Array("TEDC1\n".utf8)

    /// Called with a message when a corrupt entry is found (the runner prints it as a warning).
    public var onCorruption: ((String) -> Void)?
    /// Called with a message when a result cannot be stored (disk full, read-only); the run goes
    /// on without caching it.
    public var onWriteFailure: ((String) -> Void)?

    public init(root: URL) {
        self.root = root
    }

    /// `$TEDI_CACHE`, else `$XDG_CACHE_HOME/tedi`, else `~/.cache/tedi`.
    public static func defaultRoot() -> URL {
        let env = ProcessInfo.processInfo.environment
        if let p = env["TEDI_CACHE"], !p.isEmpty { return URL(fileURLWithPath: p) }
        if let x = env["XDG_CACHE_HOME"], !x.isEmpty { return URL(fileURLWithPath: x).appendingPathComponent("tedi") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/tedi")
    }

    func entryURL(_ key: String) -> URL {
        root.appendingPathComponent("objects").appendingPathComponent(String(key.prefix(2))).appendingPathComponent(key)
    }

    /// The payload stored under `key`, or nil when absent or corrupt (corrupt entries are removed).
    public func read(_ key: String) -> [UInt8]? {
        let url = entryURL(key)
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let bytes = [UInt8](data)
        let head = DiskCache.magic.count
        guard bytes.count >= head + 32, Array(bytes[0..<head]) == DiskCache.magic else {
            dropCorrupt(url, key: key, why: "bad header")
            return nil
        }
        let payload = Array(bytes[(head + 32)...])
        var h = SHA256()
        h.update(payload)
        guard h.finalize() == Array(bytes[head..<(head + 32)]) else {
            dropCorrupt(url, key: key, why: "checksum mismatch")
            return nil
        }
        try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: url.path)
        return payload
    }

    private func dropCorrupt(_ url: URL, key: String, why: String) {
        onCorruption?("cache entry \(key.prefix(12))… is corrupt (\(why)); dropped it and recomputing")
        try? FileManager.default.removeItem(at: url)
    }

    /// Stores `payload` under `key` atomically.
    public func write(_ key: String, _ payload: [UInt8]) throws {
        let url = entryURL(key)
        var h = SHA256()
        h.update(payload)
        try AtomicFile.write(DiskCache.magic + h.finalize() + payload, to: url)
    }

    /// Number of entries and their total size in bytes.
    public func info() -> (entries: Int, bytes: Int) {
        let all = entries()
        return (all.count, all.reduce(0) { $0 + $1.size })
    }

    struct Entry { let url: URL; let size: Int; let used: Date }

    func entries() -> [Entry] {
        let objects = root.appendingPathComponent("objects")
        guard let e = FileManager.default.enumerator(at: objects, includingPropertiesForKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey]) else { return [] }
        var out: [Entry] = []
        for case let url as URL in e {
            guard let v = try? url.resourceValues(forKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey]),
                  v.isRegularFile == true, !url.lastPathComponent.hasPrefix(".") else { continue }
            out.append(Entry(url: url, size: v.fileSize ?? 0, used: v.contentModificationDate ?? .distantPast))
        }
        return out
    }

    /// Temp files (`.KEY.tmp-*`) of writers that were killed before their rename, older than
    /// `age` seconds (a younger one may belong to a write in progress).
    func staleTempFiles(olderThan age: TimeInterval) -> [Entry] {
        let objects = root.appendingPathComponent("objects")
        let keys: [URLResourceKey] = [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey]
        guard let e = FileManager.default.enumerator(at: objects, includingPropertiesForKeys: keys) else { return [] }
        let cutoff = Date().addingTimeInterval(-age)
        var out: [Entry] = []
        for case let url as URL in e where url.lastPathComponent.hasPrefix(".") && url.lastPathComponent.contains(".tmp-") {
            guard let v = try? url.resourceValues(forKeys: Set(keys)), v.isRegularFile == true,
                  let m = v.contentModificationDate, m < cutoff else { continue }
            out.append(Entry(url: url, size: v.fileSize ?? 0, used: m))
        }
        return out
    }

    /// Removes temp files left by killed writers (older than an hour), then evicts least recently
    /// used entries until the cache holds at most `maxBytes`. Returns (files removed, bytes freed).
    @discardableResult
    public func gc(maxBytes: Int, staleTempAge: TimeInterval = 3600) -> (removed: Int, freed: Int) {
        var removed = 0, freed = 0
        for t in staleTempFiles(olderThan: staleTempAge) where (try? FileManager.default.removeItem(at: t.url)) != nil {
            removed += 1; freed += t.size
        }
        var all = entries().sorted { ($0.used, $0.url.path) < ($1.used, $1.url.path) }
        var total = all.reduce(0) { $0 + $1.size }
        while total > maxBytes, !all.isEmpty {
            let e = all.removeFirst()
            if (try? FileManager.default.removeItem(at: e.url)) != nil {
                total -= e.size; freed += e.size; removed += 1
            }
        }
        return (removed, freed)
    }

    /// Removes every entry.
    public func clear() throws {
        let objects = root.appendingPathComponent("objects")
        if FileManager.default.fileExists(atPath: objects.path) { try FileManager.default.removeItem(at: objects) }
    }

    /// Parses sizes like `500M`, `2G`, `1024`, `10K` (powers of 1024).
    public static func parseSize(_ s: String) -> Int? {
        let t = s.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int)] = [("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
        for (u, m) in units where t.hasSuffix(u) {
            guard let v = Double(t.dropLast(u.count)), v >= 0 else { return nil }
            return Int(v * Double(m))
        }
        return Int(t).flatMap { $0 >= 0 ? $0 : nil }
    }
}

/// Atomic file replacement (TensorCore's `FileIO.writeAtomically`), creating missing parent
/// folders first. A crash leaves either the old file or the new one, plus at worst a stray
/// `.NAME.tmp-*` file that is never read as a result.
public enum AtomicFile {
    /// Removes `.NAME.tmp-*` files beside `url` older than `age` seconds: what a writer killed
    /// between write and rename leaves. Younger ones may belong to a write in progress (on this
    /// host or, with a shared filesystem, another), so they stay.
    public static func removeStaleTemps(of url: URL, olderThan age: TimeInterval = 3600) {
        let dir = url.deletingLastPathComponent(), prefix = ".\(url.lastPathComponent).tmp-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        let cutoff = Date().addingTimeInterval(-age)
        for name in names where name.hasPrefix(prefix) {
            let temp = dir.appendingPathComponent(name)
            if let m = try? temp.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate, m < cutoff {
                try? FileManager.default.removeItem(at: temp)
            }
        }
    }

    public static func write(_ bytes: [UInt8], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileIO.writeAtomically(bytes, to: url.path)
    }
}
