#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads with a size cap, and atomic whole-file writes (temp file + rename).
public enum FileIO {
    /// Reads the regular file at `path`, refusing files larger than `maxBytes` before reading them.
    public static func read(_ path: String, maxBytes: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw ImagingError(.fileNotFound, path: path, "no such file") }
            throw ImagingError(.io, path: path, "cannot open for reading: \(errorText(code))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ImagingError(.io, path: path, "cannot stat: \(errorText(errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw ImagingError(.io, path: path, "not a regular file (a directory or device?)")
        }
        let size = Int(info.st_size)
        guard size <= maxBytes else {
            throw ImagingError(.tooLarge, path: path, "file is \(size) bytes, over the limit of \(maxBytes) bytes")
        }
        var failure: Int32 = 0
        var total = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            while total < size {
                let n = Glibc.read(fd, buffer.baseAddress! + total, size - total)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }  // the file shrank while we read it
                total += n
            }
            count = total
        }
        if failure != 0 { throw ImagingError(.io, path: path, "read failed: \(errorText(failure))") }
        return bytes
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory is written,
    /// flushed and renamed over `path`, so readers see the old file or the new one, never a part.
    /// On failure the temporary file is removed and `path` is untouched.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty, name != ".", name != ".." else {
            throw ImagingError(.invalidArgument, path: path, "output path names a directory, not a file")
        }
        let temp = (slash == nil ? "" : (directory.isEmpty ? "/" : directory + "/"))
            + ".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            let code = errno
            let dir = directory.isEmpty ? "/" : directory
            if code == ENOENT {
                throw ImagingError(.io, path: path, "directory '\(dir)' does not exist; create it first")
            }
            throw ImagingError(.io, path: path, "cannot create a file in '\(dir)': \(errorText(code))")
        }
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        do {
            defer { close(fd) }
            var written = 0
            try bytes.withUnsafeBytes { raw in
                while written < raw.count {
                    let n = write(fd, raw.baseAddress! + written, raw.count - written)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ImagingError(.io, path: path, "write failed: \(errorText(errno))")
                    }
                    written += n
                }
            }
            guard fsync(fd) == 0 else {
                throw ImagingError(.io, path: path, "fsync failed: \(errorText(errno))")
            }
        }
        guard rename(temp, path) == 0 else {
            throw ImagingError(.io, path: path, "cannot rename the temporary file into place: \(errorText(errno))")
        }
        ok = true
    }

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
