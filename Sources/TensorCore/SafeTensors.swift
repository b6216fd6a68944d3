/// Reading and writing the safetensors format (https://github.com/huggingface/safetensors).
///
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …,
/// "__metadata__": {"key": "value"}}` (possibly padded with trailing spaces), then the data buffer;
/// offsets are relative to the start of the data buffer.
///
/// Reading validates the whole header before touching any data: header length ≤ 100 MB and within
/// the file, strict JSON (nesting ≤ 16 levels, no duplicate keys), known dtypes, shapes of
/// non-negative integers with at most `Tensor.maxElementCount` elements, `begin ≤ end ≤ buffer
/// size`, `end - begin == elements × dtype size`, no two tensors overlapping, string metadata.
/// Unused gaps in the data buffer are allowed (the reference Rust reader is stricter); keys other
/// than dtype/shape/data_offsets in a tensor entry are ignored. Every violation throws
/// `TensorError.file(path, message)` naming the tensor and the numbers.
///
/// All dtypes become Float32: F32, F16, BF16, I8, U8, I16, BOOL exactly; F64, I32 and I64 are
/// rounded to the nearest Float32 (exact for integers up to 2^24 in magnitude and for F64 values
/// that are Float32 values).
public enum SafeTensors {
    /// Element types of the format that this reader understands.
    public enum DType: String, CaseIterable, Sendable {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
        case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

        var kind: ScalarKind {
            switch self {
            case .f64: return .f64
            case .f32: return .f32
            case .f16: return .f16
            case .bf16: return .bf16
            case .i64: return .i64
            case .i32: return .i32
            case .i16: return .i16
            case .i8: return .i8
            case .u8: return .u8
            case .bool: return .bool
            }
        }

        /// Bytes per element.
        public var byteSize: Int { kind.byteSize }
    }

    /// One tensor's header entry.
    public struct TensorInfo: Equatable, Sendable {
        /// The tensor's key in the header.
        public let name: String
        /// The stored element type (loads convert it to Float32).
        public let dtype: DType
        /// Dimensions, outermost first; `[]` for a scalar.
        public let shape: [Int]
        /// Byte range inside the data buffer (after the 8 + N header bytes).
        public let dataOffsets: Range<Int>
        /// Number of elements (product of `shape`).
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// Largest accepted header, as in the reference implementation.
    public static let maxHeaderLength = 100_000_000
    /// JSON nesting allowed in a header (it needs 3: top object, entry, shape array).
    static let maxHeaderDepth = 16
    static let metadataKey = "__metadata__"

    /// Reads every tensor (converted to Float32) and the metadata of the file at `path`.
    public static func read(_ path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let file = try File(path: path)
        return (try file.tensors(), file.metadata)
    }

    /// Reads safetensors bytes held in memory; `name` is used in error messages.
    public static func read(bytes: [UInt8], name: String = "<memory>") throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let file = try File(bytes: bytes, name: name)
        return (try file.tensors(), file.metadata)
    }

    /// Writes `tensors` and `metadata` to `path` atomically (temp file + fsync + rename), as
    /// `dtype` (F32, F16 or BF16; the halves round to nearest even). The bytes depend only on
    /// the arguments (see `encode`).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String, dtype: DType = .f32) throws {
        let header = try headerBytes(tensors, metadata: metadata, dtype: dtype, path: path)
        try FileIO.writeAtomically(to: path) { file in
            try file.write(header.bytes)
            for name in header.order {
                try dtype.kind.encode(tensors[name]?.scalars ?? []) { try file.write($0) }
            }
        }
    }

    /// The file bytes `write` would produce: `__metadata__` first (omitted when empty), then the
    /// tensors sorted by the UTF-8 bytes of their names, compact JSON padded with spaces to a
    /// multiple of 8 bytes, data laid out in the same order.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:], dtype: DType = .f32) throws -> [UInt8] {
        let header = try headerBytes(tensors, metadata: metadata, dtype: dtype, path: "<memory>")
        var out = header.bytes
        for name in header.order {
            try dtype.kind.encode(tensors[name]?.scalars ?? []) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// The length prefix + JSON header, and the order in which tensor data follows it.
    static func headerBytes(_ tensors: [String: Tensor], metadata: [String: String], dtype: DType, path: String) throws -> (bytes: [UInt8], order: [String]) {
        guard dtype == .f32 || dtype == .f16 || dtype == .bf16 else {
            throw TensorError.file(path, "safetensors: writing dtype \(dtype.rawValue) is not supported; use F32, F16 or BF16")
        }
        guard tensors[metadataKey] == nil else {
            throw TensorError.file(path, "safetensors: a tensor may not be named \"\(metadataKey)\" (reserved for metadata)")
        }
        let utf8Less: (String, String) -> Bool = { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let order = tensors.keys.sorted(by: utf8Less)
        var members: [JSONMember] = []
        if !metadata.isEmpty {
            let meta = metadata.keys.sorted(by: utf8Less).map { JSONMember($0, .string(metadata[$0] ?? "")) }
            members.append(JSONMember(metadataKey, .object(meta)))
        }
        var offset = 0
        for name in order {
            guard let t = tensors[name] else { continue }
            let size = t.count * dtype.byteSize
            members.append(JSONMember(name, .object([
                JSONMember("dtype", .string(dtype.rawValue)),
                JSONMember("shape", .array(t.shape.map { .number(String($0)) })),
                JSONMember("data_offsets", .array([.number(String(offset)), .number(String(offset + size))])),
            ])))
            offset += size
        }
        var json = Array(JSONValue.object(members).serialized.utf8)
        // Pad so the data buffer starts 8-byte aligned, as the reference writer does.
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        guard json.count <= maxHeaderLength else {
            throw TensorError.file(path, "safetensors: header would be \(json.count) bytes, above the \(maxHeaderLength)-byte limit")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: json)
        return (bytes, order)
    }

    /// A validated safetensors header over a file (or bytes), loading tensors on demand.
    ///
    /// Opening reads only the header; `tensor(_:)` reads one tensor's bytes with a positioned
    /// read, so a large checkpoint is never held twice in memory. Loads are safe from several
    /// threads at once.
    public final class File: @unchecked Sendable {
        /// The path (or name) used in error messages.
        public let path: String
        /// Header entries by tensor name.
        public let infos: [String: TensorInfo]
        /// The `__metadata__` map (empty when absent).
        public let metadata: [String: String]
        /// Tensor names sorted by their UTF-8 bytes.
        public var names: [String] { infos.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } }

        private let source: Source
        /// File offset of the data buffer (8 + N).
        private let dataStart: Int

        private enum Source {
            case file(ReadableFile)
            case memory([UInt8])
        }

        /// Opens `path` and validates its header.
        public convenience init(path: String) throws {
            try self.init(source: .file(try ReadableFile(path)), path: path)
        }

        /// Validates the header of safetensors bytes held in memory.
        public convenience init(bytes: [UInt8], name: String = "<memory>") throws {
            try self.init(source: .memory(bytes), path: name)
        }

        private init(source: Source, path: String) throws {
            self.source = source
            self.path = path
            let size = Self.size(of: source)
            guard size >= 8 else {
                throw TensorError.file(path, "safetensors: file is \(size) bytes, shorter than the 8-byte header length (truncated, or not a safetensors file)")
            }
            var lengthBytes = [UInt8](repeating: 0, count: 8)
            try lengthBytes.withUnsafeMutableBytes { try Self.read(source, path: path, at: 0, into: $0) }
            let headerLength = lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            guard headerLength <= UInt64(SafeTensors.maxHeaderLength) else {
                throw TensorError.file(path, "safetensors: header length \(headerLength) exceeds the \(SafeTensors.maxHeaderLength)-byte limit (corrupt, or not a safetensors file)")
            }
            let n = Int(headerLength)
            guard n <= size - 8 else {
                throw TensorError.file(path, "safetensors: header length \(n) exceeds the \(size - 8) bytes after the length field (file is \(size) bytes; truncated?)")
            }
            guard n >= 2 else {
                throw TensorError.file(path, "safetensors: header length \(n) is too short for a JSON object")
            }
            var header = [UInt8](repeating: 0, count: n)
            try header.withUnsafeMutableBytes { try Self.read(source, path: path, at: 8, into: $0) }
            dataStart = 8 + n
            let parsed = try SafeTensors.parseHeader(header, bufferSize: size - dataStart, path: path)
            infos = parsed.infos
            metadata = parsed.metadata
        }

        private static func size(of source: Source) -> Int {
            switch source {
            case let .file(f): return f.size
            case let .memory(b): return b.count
            }
        }

        private static func read(_ source: Source, path: String, at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
            switch source {
            case let .file(f):
                try f.read(at: offset, into: buffer)
            case let .memory(bytes):
                guard offset >= 0, offset <= bytes.count, buffer.count <= bytes.count - offset else {
                    throw TensorError.file(path, "read of \(buffer.count) bytes at offset \(offset) is past the end (\(bytes.count) bytes)")
                }
                bytes.withUnsafeBytes { src in
                    buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + buffer.count)]))
                }
            }
        }

        /// Loads tensor `name`, converted to Float32.
        public func tensor(_ name: String) throws -> Tensor {
            guard let info = infos[name] else {
                let known = names.prefix(10).joined(separator: ", ")
                throw TensorError.file(path, "safetensors: no tensor named \"\(name)\" (has \(infos.count): \(known)\(infos.count > 10 ? ", …" : ""))")
            }
            let n = info.elementCount
            var scalars = [Float](repeating: 0, count: n)
            if n > 0 {
                let offset = dataStart + info.dataOffsets.lowerBound
                if info.dtype == .f32 && UInt32(1).littleEndian == 1 {
                    // Little-endian host: the bytes are the floats.
                    try scalars.withUnsafeMutableBytes { try Self.read(source, path: path, at: offset, into: $0) }
                } else {
                    var raw = [UInt8](repeating: 0, count: info.dataOffsets.count)
                    try raw.withUnsafeMutableBytes { try Self.read(source, path: path, at: offset, into: $0) }
                    raw.withUnsafeBytes { src in
                        scalars.withUnsafeMutableBufferPointer { info.dtype.kind.decode(src, into: $0) }
                    }
                }
            }
            return try Tensor(shape: info.shape, scalars: scalars)
        }

        /// Loads tensor `name` and checks that its shape is `expectedShape` (for model weights).
        public func tensor(_ name: String, shape expectedShape: [Int]) throws -> Tensor {
            if let info = infos[name], info.shape != expectedShape {
                throw TensorError.file(path, "safetensors: tensor \"\(name)\" has shape \(info.shape), expected \(expectedShape)")
            }
            return try tensor(name)
        }

        /// Loads every tensor.
        public func tensors() throws -> [String: Tensor] {
            var out: [String: Tensor] = [:]
            for name in infos.keys { out[name] = try tensor(name) }
            return out
        }
    }

    /// Validates a header (JSON bytes after the length field) against a data buffer of
    /// `bufferSize` bytes.
    static func parseHeader(_ header: [UInt8], bufferSize: Int, path: String) throws -> (infos: [String: TensorInfo], metadata: [String: String]) {
        func fail(_ message: String) -> TensorError { TensorError.file(path, "safetensors: " + message) }
        let json: JSONValue
        do {
            json = try JSONValue.parse(header, maxDepth: maxHeaderDepth)
        } catch let e as JSONError {
            throw fail("header is not valid JSON: \(e.message) at header byte \(e.offset)")
        }
        guard case let .object(members) = json else {
            throw fail("header must be a JSON object, found \(json.kindName)")
        }
        var infos: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for member in members {
            let name = member.key
            if name == metadataKey {
                guard case let .object(entries) = member.value else {
                    throw fail("\"\(metadataKey)\" must be an object of strings, found \(member.value.kindName)")
                }
                for e in entries {
                    guard let s = e.value.stringValue else {
                        throw fail("\"\(metadataKey)\" value for key \"\(e.key)\" must be a string, found \(e.value.kindName)")
                    }
                    metadata[e.key] = s
                }
                continue
            }
            infos[name] = try parseEntry(name: name, member.value, bufferSize: bufferSize, fail: fail)
        }
        // Sorted by (begin, end), each tensor must start at or after the furthest end so far.
        let sorted = infos.values.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
        }
        var furthest: TensorInfo?
        for info in sorted {
            guard let prev = furthest else {
                furthest = info
                continue
            }
            if info.dataOffsets.lowerBound < prev.dataOffsets.upperBound {
                throw fail("tensor \"\(info.name)\" bytes [\(info.dataOffsets.lowerBound), \(info.dataOffsets.upperBound)) overlap tensor \"\(prev.name)\" bytes [\(prev.dataOffsets.lowerBound), \(prev.dataOffsets.upperBound))")
            }
            if info.dataOffsets.upperBound >= prev.dataOffsets.upperBound { furthest = info }
        }
        return (infos, metadata)
    }

    private static func parseEntry(name: String, _ value: JSONValue, bufferSize: Int, fail: (String) -> TensorError) throws -> TensorInfo {
        guard case let .object(fields) = value else {
            throw fail("tensor \"\(name)\": entry must be an object with dtype, shape and data_offsets, found \(value.kindName)")
        }
        func field(_ key: String) throws -> JSONValue {
            guard let v = fields.first(where: { $0.key == key })?.value else {
                throw fail("tensor \"\(name)\": missing \"\(key)\"")
            }
            return v
        }
        guard let dtypeText = try field("dtype").stringValue else {
            throw fail("tensor \"\(name)\": \"dtype\" must be a string")
        }
        guard let dtype = DType(rawValue: dtypeText) else {
            let supported = DType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("tensor \"\(name)\": unsupported dtype \"\(dtypeText)\" (supported: \(supported))")
        }
        guard case let .array(dims) = try field("shape") else {
            throw fail("tensor \"\(name)\": \"shape\" must be an array of non-negative integers")
        }
        var shape: [Int] = []
        for d in dims {
            guard let v = d.intValue, v >= 0 else {
                let text: String
                if case let .number(t) = d { text = t } else { text = d.kindName }
                throw fail("tensor \"\(name)\": shape entry \(text) is not a non-negative integer")
            }
            shape.append(v)
        }
        let count: Int
        do {
            count = try Tensor.elementCount(shape)
        } catch {
            throw fail("tensor \"\(name)\": shape \(shape) has more than \(Tensor.maxElementCount) elements (or overflows)")
        }
        guard case let .array(offsets) = try field("data_offsets"), offsets.count == 2,
              let begin = offsets[0].intValue, let end = offsets[1].intValue, begin >= 0, end >= 0 else {
            throw fail("tensor \"\(name)\": \"data_offsets\" must be [begin, end] with non-negative integers")
        }
        guard begin <= end else {
            throw fail("tensor \"\(name)\": data_offsets [\(begin), \(end)] has begin > end")
        }
        guard end <= bufferSize else {
            throw fail("tensor \"\(name)\": data_offsets [\(begin), \(end)] run past the \(bufferSize)-byte data buffer (truncated file?)")
        }
        let expected = count * dtype.byteSize  // ≤ 2^32 × 8, no overflow
        guard end - begin == expected else {
            throw fail("tensor \"\(name)\": data_offsets [\(begin), \(end)] span \(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs \(count) × \(dtype.byteSize) = \(expected)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }
}
