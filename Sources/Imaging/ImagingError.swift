/// An error from reading, writing or transforming images: what went wrong and, for files, where.
public struct ImagingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The broad class of failure, for callers that react differently (e.g. retry vs. report).
    public enum Kind: String, Sendable {
        /// The file does not exist.
        case fileNotFound
        /// The file system refused an operation (permissions, not a regular file, disk full…).
        case io
        /// The bytes are not a PNG at all (empty file, wrong signature).
        case notPNG
        /// A PNG that is truncated or damaged (bad CRC, bad chunk, bad compressed data).
        case corrupt
        /// Dimensions or sizes over the configured limits; refused before allocating.
        case tooLarge
        /// A caller-supplied value does not fit (channel count, tensor shape, text key…).
        case invalidArgument
    }

    public var kind: Kind
    /// The file involved, or nil for in-memory data.
    public var path: String?
    /// What is wrong, and where useful what to do about it.
    public var message: String

    public init(_ kind: Kind, path: String? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }
}
