#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and crash-safe (atomic) writes shared by the tensor file formats and caches.
///
/// Reads use positioned `pread` calls on an open descriptor rather than `mmap`, so a file that is
/// truncated while it is being read gives a thrown error instead of a bus error.
public enum FileIO {
    /// The contents of the regular file at `path`; files above `limit` bytes are refused.
    public static func readAll(_ path: String, limit: Int = Int.max) throws -> [UInt8] {
        let file = try ReadableFile(path)
        guard file.size <= limit else {
            throw TensorError.file(path, "file is \(file.size) bytes, above the limit of \(limit) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: file.size)
        try bytes.withUnsafeMutableBytes { try file.read(at: 0, into: $0) }
        return bytes
    }

    /// Writes `bytes` to `path` atomically (see `writeAtomically(to:_:)`).
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        try writeAtomically(to: path) { file in try file.write(bytes) }
    }

    /// Streams content into a temporary file in `path`'s directory, flushes it to disk and
    /// renames it over `path`. Readers see either the old file or the complete new one; when
    /// `body` or any step throws, the temporary file is removed and `path` is left untouched.
    public static func writeAtomically(to path: String, _ body: (AtomicFileWriter) throws -> Void) throws {
        let writer = try AtomicFileWriter(path: path)
        do {
            try body(writer)
            try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// The directory part of `path` ("." for a bare file name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = path[..<slash]
        return dir.isEmpty ? "/" : String(dir)
    }

    static func lastErrorText() -> String { String(cString: strerror(errno)) }
}

/// A read-only regular file opened once and read with positioned reads; safe to share between
/// threads because no file offset is shared.
public final class ReadableFile: @unchecked Sendable {
    /// The path it was opened with.
    public let path: String
    /// Size in bytes when the file was opened.
    public let size: Int
    private let fd: Int32

    /// Opens `path`; throws `TensorError.file` when it is missing, unreadable or not a regular file.
    public init(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TensorError.file(path, "cannot open for reading: \(FileIO.lastErrorText())") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let why = FileIO.lastErrorText()
            close(fd)
            throw TensorError.file(path, "cannot stat: \(why)")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            let kind = (st.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
            throw TensorError.file(path, "is \(kind); expected a file")
        }
        self.path = path
        self.fd = fd
        self.size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// Fills `buffer` with the bytes at `offset...`; throws when the file ends first.
    public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset >= 0, buffer.count <= Int.max - offset else {
            throw TensorError.file(path, "read of \(buffer.count) bytes at offset \(offset) is out of range")
        }
        var done = 0
        while done < buffer.count {
            guard let base = buffer.baseAddress else { return }
            let n = pread(fd, base + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw TensorError.file(path, "read failed at offset \(offset + done): \(FileIO.lastErrorText())")
            }
            if n == 0 {
                throw TensorError.file(path, "file ended at byte \(offset + done) while reading \(buffer.count) bytes at offset \(offset) (truncated or changed while reading)")
            }
            done += n
        }
    }
}

/// `write(2)`, reachable from types that have their own `write` method.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// The temporary file behind `FileIO.writeAtomically`; `write` appends bytes to it.
public final class AtomicFileWriter {
    /// The final destination.
    public let path: String
    let tempPath: String
    private var fd: Int32
    private var finished = false

    init(path: String) throws {
        self.path = path
        let dir = FileIO.directory(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? "file"
        var fd: Int32 = -1
        var temp = ""
        // O_EXCL with a random suffix: two writers of the same path never share a temp file.
        for _ in 0..<16 {
            temp = "\(dir)/.\(base).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            throw TensorError.file(path, "cannot create a temporary file in \(dir): \(FileIO.lastErrorText())")
        }
        self.fd = fd
        self.tempPath = temp
    }

    deinit { abort() }

    /// Appends raw bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = posixWrite(fd, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw TensorError.file(path, "write failed: \(FileIO.lastErrorText())")
            }
            done += n
        }
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// fsync + close + rename over `path` + fsync of the directory (so the rename itself survives
    /// a power loss).
    func commit() throws {
        guard fsync(fd) == 0 else { throw TensorError.file(path, "fsync failed: \(FileIO.lastErrorText())") }
        let rc = close(fd)
        fd = -1
        guard rc == 0 else { throw TensorError.file(path, "close failed: \(FileIO.lastErrorText())") }
        guard rename(tempPath, path) == 0 else {
            throw TensorError.file(path, "cannot replace the file: \(FileIO.lastErrorText())")
        }
        finished = true
        let dfd = open(FileIO.directory(of: path), O_RDONLY | O_CLOEXEC)
        if dfd >= 0 {
            _ = fsync(dfd)  // best effort: some file systems refuse fsync on directories
            close(dfd)
        }
    }

    /// Closes and removes the temporary file (no-op after a successful commit).
    func abort() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !finished {
            unlink(tempPath)
            finished = true
        }
    }
}
