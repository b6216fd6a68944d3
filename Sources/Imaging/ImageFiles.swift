import Foundation
import TensorCore

/// File access for images, on TensorCore's `FileIO` (positioned reads, atomic writes), with the
/// failures sorted into `ImagingError` kinds callers can act on.
enum ImageFiles {
    /// The bytes of the regular file at `path`, refusing files over `maxBytes` before reading them.
    static func read(_ path: String, maxBytes: Int) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImagingError(.fileNotFound, path: path, "no such file")
        }
        if isDirectory.boolValue { throw ImagingError(.io, path: path, "not a regular file (a directory?)") }
        let file: ReadableFile
        do { file = try ReadableFile(path) } catch { throw ImagingError(.io, path: path, message(error)) }
        guard file.size <= maxBytes else {
            throw ImagingError(.tooLarge, path: path, "file is \(file.size) bytes, over the limit of \(maxBytes) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: file.size)
        do { try bytes.withUnsafeMutableBytes { try file.read(at: 0, into: $0) } } catch {
            throw ImagingError(.io, path: path, message(error))
        }
        return bytes
    }

    /// Writes `bytes` to `path` atomically (old file or new one, never a part; no temp file left on failure).
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let name = path.hasSuffix("/") ? "" : url.lastPathComponent
        guard !name.isEmpty, name != ".", name != ".." else {
            throw ImagingError(.invalidArgument, path: path, "output path names a directory, not a file")
        }
        let dir = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ImagingError(.io, path: path, "directory '\(dir)' does not exist; create it first")
        }
        do { try FileIO.writeAtomically(bytes, to: path) } catch { throw ImagingError(.io, path: path, message(error)) }
    }

    /// The message of a TensorCore file error without its repeated path.
    static func message(_ error: Error) -> String {
        if case let TensorError.file(_, m) = error { return m }
        return "\(error)"
    }
}
