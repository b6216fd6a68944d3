/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Layout: magic `\x93NUMPY`, major and minor version bytes, header length (2 bytes little-endian
/// in 1.0, 4 bytes in 2.0/3.0), an ASCII (3.0: UTF-8) Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and ending in
/// a newline, then the raw row-major element bytes.
///
/// Reading accepts little-endian `f2 f4 f8 i1 i2 i4 i8 u1 u2 b1` in C order (Fortran order only
/// for rank ≤ 1, where the layouts coincide). The data must be exactly elements × item size
/// bytes: `np.save` never writes trailing bytes, so extra bytes mean a corrupt or foreign file and
/// are an error, like missing ones. The header is capped at `maxHeaderLength` bytes and the element
/// count at `Tensor.maxElementCount`. Violations throw `TensorError.file(path, message)`.
public enum Npy {
    /// Element types this reader and writer support, spelled as numpy's `descr`.
    public enum DType: String, CaseIterable, Sendable {
        case float16 = "<f2", float32 = "<f4", float64 = "<f8"
        case int8 = "|i1", int16 = "<i2", int32 = "<i4", int64 = "<i8"
        case uint8 = "|u1", uint16 = "<u2", bool = "|b1"

        var kind: ScalarKind {
            switch self {
            case .float16: return .f16
            case .float32: return .f32
            case .float64: return .f64
            case .int8: return .i8
            case .int16: return .i16
            case .int32: return .i32
            case .int64: return .i64
            case .uint8: return .u8
            case .uint16: return .u16
            case .bool: return .bool
            }
        }

        /// Bytes per element.
        public var itemSize: Int { kind.byteSize }

        /// Parses a `descr` string: `<` byte order (any order mark for one-byte types).
        public init?(descr: String) {
            let chars = Array(descr)
            guard chars.count >= 3 else { return nil }
            let body = String(chars[1...])
            guard let match = DType.allCases.first(where: { $0.rawValue.dropFirst() == body }) else { return nil }
            let order = chars[0]
            guard order == "<" || (match.itemSize == 1 && (order == "|" || order == ">" || order == "=")) else { return nil }
            self = match
        }
    }

    /// Largest accepted header (numpy itself refuses headers above 10 000 bytes by default).
    public static let maxHeaderLength = 1 << 20
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

    /// Reads the `.npy` file at `path`.
    public static func read(_ path: String) throws -> NpyArray {
        let file = try ReadableFile(path)
        return try decode(size: file.size, path: path) { offset, count in
            var bytes = [UInt8](repeating: 0, count: count)
            try bytes.withUnsafeMutableBytes { try file.read(at: offset, into: $0) }
            return bytes
        }
    }

    /// Reads `.npy` bytes held in memory; `name` is used in error messages.
    public static func read(bytes: [UInt8], name: String = "<memory>") throws -> NpyArray {
        try decode(size: bytes.count, path: name) { offset, count in
            // decode only asks for ranges inside 0..<size.
            Array(bytes[offset..<(offset + count)])
        }
    }

    /// Reads the `.npy` file at `path` as a Float32 tensor (see `NpyArray.tensor()`).
    public static func readTensor(_ path: String) throws -> Tensor { try read(path).tensor() }

    /// Writes `array` to `path` atomically (temp file + fsync + rename), as numpy would.
    public static func write(_ array: NpyArray, to path: String) throws {
        try FileIO.writeAtomically(to: path) { file in
            try file.write(header(shape: array.shape, dtype: array.dtype))
            try file.write(array.data)
        }
    }

    /// Writes `tensor` to `path` atomically as `dtype`; integer dtypes require integer values
    /// in range and throw otherwise.
    public static func write(_ tensor: Tensor, to path: String, dtype: DType = .float32) throws {
        let head = header(shape: tensor.shape, dtype: dtype)
        try FileIO.writeAtomically(to: path) { file in
            try file.write(head)
            do {
                try dtype.kind.encode(tensor.scalars) { try file.write($0) }
            } catch let TensorError.invalid(message) {
                throw TensorError.file(path, "npy: cannot write as \(dtype.rawValue): \(message)")
            }
        }
    }

    /// The bytes `write(_:to:)` would produce for `array`.
    public static func encode(_ array: NpyArray) -> [UInt8] {
        header(shape: array.shape, dtype: array.dtype) + array.data
    }

    /// The preamble and header numpy writes (format 1.0, or 2.0 when the header needs more than
    /// 65535 bytes): keys in sorted order, spare spaces for growing the first axis, padded
    /// with spaces and a newline so the data starts at a multiple of 64 bytes.
    static func header(shape: [Int], dtype: DType) -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(shapeText), }"
        // numpy ≥ 1.24 leaves room for the first dimension to grow to 21 digits in place.
        if let first = shape.first { dict += String(repeating: " ", count: max(0, 21 - String(first).count)) }
        var text = Array(dict.utf8)
        // numpy pads with 1...64 spaces (64 rather than 0 when already aligned), then a newline.
        var lengthBytes = 2
        var pad = 64 - (10 + text.count + 1) % 64
        if text.count + pad + 1 > 65535 {
            lengthBytes = 4
            pad = 64 - (12 + text.count + 1) % 64
        }
        text.append(contentsOf: [UInt8](repeating: 0x20, count: pad))
        text.append(0x0A)
        var out = magic
        if lengthBytes == 2 {
            out += [1, 0]
            withUnsafeBytes(of: UInt16(text.count).littleEndian) { out.append(contentsOf: $0) }
        } else {
            out += [2, 0]
            withUnsafeBytes(of: UInt32(text.count).littleEndian) { out.append(contentsOf: $0) }
        }
        return out + text
    }

    /// Validates the preamble and header, then reads the data. `readAt(offset, count)` returns
    /// bytes inside `0..<size`.
    static func decode(size: Int, path: String, readAt: (Int, Int) throws -> [UInt8]) throws -> NpyArray {
        func fail(_ message: String) -> TensorError { TensorError.file(path, "npy: " + message) }
        let head = try readAt(0, min(size, 12))
        guard head.count >= 6, Array(head[0..<6]) == magic else {
            throw fail("bad magic: not an .npy file (expected the bytes \\x93NUMPY at the start)")
        }
        guard head.count >= 10 else {
            throw fail("file is \(size) bytes, too short for the 10-byte preamble (truncated)")
        }
        let major = head[6], minor = head[7]
        guard (1...3).contains(major), minor == 0 else {
            throw fail("unsupported format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)")
        }
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(UInt16(head[8]) | UInt16(head[9]) << 8)
            headerStart = 10
        } else {
            guard head.count >= 12 else {
                throw fail("file is \(size) bytes, too short for the 12-byte version \(major).0 preamble (truncated)")
            }
            headerLength = Int(UInt32(head[8]) | UInt32(head[9]) << 8 | UInt32(head[10]) << 16 | UInt32(head[11]) << 24)
            headerStart = 12
        }
        guard headerLength <= maxHeaderLength else {
            throw fail("header length \(headerLength) exceeds the \(maxHeaderLength)-byte limit (corrupt file?)")
        }
        guard headerLength <= size - headerStart else {
            throw fail("header length \(headerLength) runs past the end of the \(size)-byte file (truncated)")
        }
        let header = try NpyHeaderParser.parse(try readAt(headerStart, headerLength), fail: fail)
        let count: Int
        do {
            count = try Tensor.elementCount(header.shape)
        } catch {
            throw fail("shape \(header.shape) has more than \(Tensor.maxElementCount) elements (or overflows)")
        }
        let dataStart = headerStart + headerLength
        let expected = count * header.dtype.itemSize  // ≤ 2^32 × 8
        let actual = size - dataStart
        guard actual == expected else {
            let why = actual < expected ? "truncated" : "unexpected trailing bytes"
            throw fail("data is \(actual) bytes but shape \(header.shape) of \(header.dtype.rawValue) needs \(count) × \(header.dtype.itemSize) = \(expected) (\(why))")
        }
        return try NpyArray(shape: header.shape, dtype: header.dtype, data: try readAt(dataStart, expected))
    }
}

/// An array read from (or to be written to) a `.npy` file: shape, dtype and raw little-endian
/// element bytes, row-major. Use `tensor()` for Float32 values and `ints()` for label maps.
public struct NpyArray: Equatable, Sendable {
    /// Dimensions, outermost first; `[]` for a scalar.
    public let shape: [Int]
    /// The element type as stored in the file.
    public let dtype: Npy.DType
    /// Little-endian element bytes, `elementCount × dtype.itemSize` of them.
    public let data: [UInt8]

    /// An array from raw bytes; throws when their count does not match the shape.
    public init(shape: [Int], dtype: Npy.DType, data: [UInt8]) throws {
        let n = try Tensor.elementCount(shape)
        guard data.count == n * dtype.itemSize else {
            throw TensorError.invalid("npy: shape \(shape) of \(dtype.rawValue) needs \(n * dtype.itemSize) bytes, got \(data.count)")
        }
        self.shape = shape
        self.dtype = dtype
        self.data = data
    }

    /// `tensor`'s values encoded as `dtype` (integer dtypes need integer values in range).
    public init(_ tensor: Tensor, dtype: Npy.DType = .float32) throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tensor.count * dtype.itemSize)
        try dtype.kind.encode(tensor.scalars) { bytes.append(contentsOf: $0) }
        try self.init(shape: tensor.shape, dtype: dtype, data: bytes)
    }

    /// Integer values (e.g. a label map) encoded as `dtype`; values must fit it.
    public init(shape: [Int], ints: [Int], dtype: Npy.DType) throws {
        let n = try Tensor.elementCount(shape)
        guard ints.count == n else { throw TensorError.invalid("npy: shape \(shape) needs \(n) values, got \(ints.count)") }
        let kind = dtype.kind
        var bytes = [UInt8](repeating: 0, count: n * kind.byteSize)
        let range = kind.integerRange
        for (i, v) in ints.enumerated() {
            let d = Double(v)
            guard kind == .i64 || range.contains(d) else {
                throw TensorError.invalid("npy: value \(v) at index \(i) is not representable as \(dtype.rawValue)")
            }
            let x = Int64(v)
            switch kind {
            case .f16: bytes.withUnsafeMutableBytes { $0.storeBytes(of: HalfFloat.half(from: Float(v)).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            case .bf16: bytes.withUnsafeMutableBytes { $0.storeBytes(of: HalfFloat.bfloat16(from: Float(v)).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            case .f32: bytes.withUnsafeMutableBytes { $0.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            case .f64: bytes.withUnsafeMutableBytes { $0.storeBytes(of: Double(v).bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
            default:
                for b in 0..<kind.byteSize { bytes[kind.byteSize * i + b] = UInt8(truncatingIfNeeded: x >> (8 * Int64(b))) }
            }
        }
        try self.init(shape: shape, dtype: dtype, data: bytes)
    }

    /// Number of elements (product of `shape`).
    public var elementCount: Int { data.count / dtype.itemSize }

    /// The values as Float32 (f8, i4, i8 rounded to nearest; the rest exact).
    public func floats() -> [Float] {
        var out = [Float](repeating: 0, count: elementCount)
        data.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { dtype.kind.decode(src, into: $0) } }
        return out
    }

    /// The values as a Float32 tensor of `shape`.
    public func tensor() throws -> Tensor { try Tensor(shape: shape, scalars: floats()) }

    /// The values as exact integers: integer dtypes directly; float dtypes only when every
    /// value is an integer (e.g. a label map saved as float), else an error naming the first.
    public func ints() throws -> [Int] {
        if let ints = data.withUnsafeBytes({ dtype.kind.decodeIntegers($0, count: elementCount) }) { return ints }
        var out: [Int] = []
        out.reserveCapacity(elementCount)
        let values: [Double]
        if dtype == .float64 {
            values = data.withUnsafeBytes { raw in
                (0..<elementCount).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
            }
        } else {
            values = floats().map(Double.init)
        }
        for (i, v) in values.enumerated() {
            guard let n = Int(exactly: v) else {
                throw TensorError.invalid("npy: value \(v) at index \(i) of a \(dtype.rawValue) array is not an integer")
            }
            out.append(n)
        }
        return out
    }
}

/// Parses the Python dict literal of an npy header: string keys; values that are quoted strings,
/// `True`/`False`, or tuples of non-negative integers. Nothing nests, so nothing recurses.
private struct NpyHeaderParser {
    let bytes: [UInt8]
    var pos = 0
    let fail: (String) -> TensorError

    enum Value {
        case string(String)
        case bool(Bool)
        case tuple([Int])
    }

    static func parse(_ bytes: [UInt8], fail: @escaping (String) -> TensorError) throws -> (dtype: Npy.DType, shape: [Int]) {
        var p = NpyHeaderParser(bytes: bytes, fail: fail)
        let dict = try p.parseDict()
        for key in dict.keys where !["descr", "fortran_order", "shape"].contains(key) {
            throw fail("header has unexpected key '\(key)' (expected exactly 'descr', 'fortran_order', 'shape')")
        }
        guard let descrValue = dict["descr"] else { throw fail("header is missing 'descr'") }
        guard let orderValue = dict["fortran_order"] else { throw fail("header is missing 'fortran_order'") }
        guard let shapeValue = dict["shape"] else { throw fail("header is missing 'shape'") }
        guard case let .string(descr) = descrValue else { throw fail("header 'descr' must be a string like '<f4'") }
        guard case let .bool(fortran) = orderValue else { throw fail("header 'fortran_order' must be True or False") }
        guard case let .tuple(shape) = shapeValue else { throw fail("header 'shape' must be a tuple of integers like (2, 3)") }
        guard let dtype = Npy.DType(descr: descr) else {
            let supported = Npy.DType.allCases.map(\.rawValue).joined(separator: " ")
            if descr.count >= 3, descr.first == ">" {
                throw fail("big-endian dtype '\(descr)' is not supported; save with a.astype('<\(descr.dropFirst())')")
            }
            throw fail("unsupported dtype '\(descr)' (supported: \(supported))")
        }
        if fortran && shape.count > 1 {
            throw fail("Fortran-order (column-major) arrays are not supported; save np.ascontiguousarray(a) instead")
        }
        return (dtype, shape)
    }

    func describeByte() -> String {
        guard pos < bytes.count else { return "end of header" }
        let b = bytes[pos]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16)
    }

    func error(_ what: String) -> TensorError { fail("bad header dict: \(what) at header byte \(pos)") }

    mutating func skipSpace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
    }

    mutating func expect(_ c: UInt8) throws {
        skipSpace()
        guard pos < bytes.count, bytes[pos] == c else {
            throw error("expected '\(Character(Unicode.Scalar(c)))', found \(describeByte())")
        }
        pos += 1
    }

    mutating func parseDict() throws -> [String: Value] {
        try expect(UInt8(ascii: "{"))
        var dict: [String: Value] = [:]
        while true {
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
            let key = try parseString()
            try expect(UInt8(ascii: ":"))
            let value = try parseValue()
            guard dict[key] == nil else { throw error("duplicate key '\(key)'") }
            dict[key] = value
            skipSpace()
            guard pos < bytes.count else { throw error("unterminated dict") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
            throw error("expected ',' or '}', found \(describeByte())")
        }
        skipSpace()
        guard pos == bytes.count else { throw error("unexpected \(describeByte()) after the dict") }
        return dict
    }

    mutating func parseString() throws -> String {
        skipSpace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "'") || bytes[pos] == UInt8(ascii: "\"") else {
            throw error("expected a quoted string, found \(describeByte())")
        }
        let quote = bytes[pos]
        pos += 1
        let start = pos
        while pos < bytes.count, bytes[pos] != quote {
            if bytes[pos] == UInt8(ascii: "\\") || bytes[pos] == 0x0A { throw error("unsupported character in a string") }
            pos += 1
        }
        guard pos < bytes.count else { throw error("unterminated string") }
        defer { pos += 1 }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    mutating func parseValue() throws -> Value {
        skipSpace()
        guard pos < bytes.count else { throw error("expected a value, found end of header") }
        switch bytes[pos] {
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "T"): try word("True"); return .bool(true)
        case UInt8(ascii: "F"): try word("False"); return .bool(false)
        case UInt8(ascii: "("): return .tuple(try parseTuple())
        case UInt8(ascii: "["): throw fail("structured dtypes (a list 'descr') are not supported")
        default: throw error("unexpected \(describeByte())")
        }
    }

    mutating func word(_ w: String) throws {
        for c in w.utf8 {
            guard pos < bytes.count, bytes[pos] == c else { throw error("expected \(w)") }
            pos += 1
        }
    }

    mutating func parseTuple() throws -> [Int] {
        pos += 1  // "("
        var items: [Int] = []
        while true {
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: ")") { pos += 1; return items }
            items.append(try parseDimension())
            skipSpace()
            guard pos < bytes.count else { throw error("unterminated shape tuple") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: ")") { pos += 1; return items }
            throw error("expected ',' or ')' in shape, found \(describeByte())")
        }
    }

    mutating func parseDimension() throws -> Int {
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") { throw error("negative dimension in shape") }
        var n = 0
        var digits = 0
        while pos < bytes.count, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") {
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(bytes[pos] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw error("shape dimension overflows a 64-bit integer") }
            n = s
            digits += 1
            pos += 1
        }
        guard digits > 0 else { throw error("expected an integer in shape, found \(describeByte())") }
        // Python 2 era files wrote longs as `3L`.
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "L") { pos += 1 }
        return n
    }
}
