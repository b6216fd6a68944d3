import Foundation
import Imaging
import TensorCore

/// A per-pixel class map (CelebAMask-HQ's 19 classes: 0 background … 18 cloth).
public struct LabelMap: Equatable {
    public var width: Int
    public var height: Int
    /// Class ids, row-major, `width * height`.
    public var ids: [UInt8]
    public init(width: Int, height: Int, ids: [UInt8]) {
        self.width = width
        self.height = height
        self.ids = ids
    }
}

/// Latent codes: `codes` is `(n, dim)` for z / w or `(n, layers, dim)` for w+.
public struct Latent: Equatable {
    public var space: String
    public var codes: Tensor
    public init(space: String, codes: Tensor) {
        self.space = space
        self.codes = codes
    }
    public var layers: Int? { codes.rank == 3 ? codes.shape[1] : nil }
}

/// A value on a graph edge.
public enum Value: Equatable {
    case text(String)
    case image(Image)
    case sketch(Image)
    case labelMap(LabelMap)
    case latent(Latent)
    case tensor(Tensor)

    public var kind: ValueKind {
        switch self {
        case .text: return .text
        case .image: return .image
        case .sketch: return .sketch
        case .labelMap: return .labelMap
        case .latent: return .latent
        case .tensor: return .tensor
        }
    }
}

/// Byte encoding of node outputs for the disk cache: a count, then per port its name and value.
/// Little-endian fixed-width integers; floats as their IEEE bits. Decoding validates every length.
enum ValueCodec {
    static func encode(_ outputs: [String: Value]) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(outputs.count))
        for name in outputs.keys.sorted() {
            w.string(name)
            switch outputs[name]! {
            case let .text(s): w.u8(0); w.string(s)
            case let .image(img): w.u8(1); w.image(img)
            case let .sketch(img): w.u8(2); w.image(img)
            case let .labelMap(m): w.u8(3); w.u32(UInt32(m.width)); w.u32(UInt32(m.height)); w.bytes(m.ids)
            case let .latent(l): w.u8(4); w.string(l.space); w.tensor(l.codes)
            case let .tensor(t): w.u8(5); w.tensor(t)
            }
        }
        return w.out
    }

    static func decode(_ bytes: [UInt8]) throws -> [String: Value] {
        var r = ByteReader(bytes)
        let n = try r.u32()
        var out: [String: Value] = [:]
        for _ in 0..<n {
            let name = try r.string()
            switch try r.u8() {
            case 0: out[name] = .text(try r.string())
            case 1: out[name] = .image(try r.image())
            case 2: out[name] = .sketch(try r.image())
            case 3:
                let w = Int(try r.u32()), h = Int(try r.u32())
                let ids = try r.bytes()
                guard ids.count == w * h else { throw ByteReader.Corrupt() }
                out[name] = .labelMap(LabelMap(width: w, height: h, ids: ids))
            case 4: out[name] = .latent(Latent(space: try r.string(), codes: try r.tensor()))
            case 5: out[name] = .tensor(try r.tensor())
            default: throw ByteReader.Corrupt()
            }
        }
        guard r.atEnd else { throw ByteReader.Corrupt() }
        return out
    }
}

struct ByteWriter {
    var out: [UInt8] = []
    mutating func u8(_ v: UInt8) { out.append(v) }
    mutating func u32(_ v: UInt32) { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
    mutating func bytes(_ b: [UInt8]) { u32(UInt32(b.count)); out += b }
    mutating func string(_ s: String) { bytes(Array(s.utf8)) }
    mutating func image(_ img: Image) {
        u32(UInt32(img.width)); u32(UInt32(img.height)); u32(UInt32(img.channels)); bytes(img.pixels)
    }
    mutating func tensor(_ t: Tensor) {
        u32(UInt32(t.rank))
        for d in t.shape { u32(UInt32(d)) }
        u32(UInt32(t.count))
        for f in t.scalars { u32(f.bitPattern) }
    }
}

struct ByteReader {
    struct Corrupt: Error {}
    let b: [UInt8]
    var i = 0
    init(_ b: [UInt8]) { self.b = b }
    var atEnd: Bool { i == b.count }
    mutating func u8() throws -> UInt8 {
        guard i < b.count else { throw Corrupt() }
        defer { i += 1 }
        return b[i]
    }
    mutating func u32() throws -> UInt32 {
        guard i + 4 <= b.count else { throw Corrupt() }
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(b[i + k]) << (8 * UInt32(k)) }
        i += 4
        return v
    }
    mutating func bytes() throws -> [UInt8] {
        let n = Int(try u32())
        guard i + n <= b.count else { throw Corrupt() }
        defer { i += n }
        return Array(b[i..<(i + n)])
    }
    /// Steps over what `bytes()` would read, without copying it.
    mutating func skipBytes() throws {
        let n = Int(try u32())
        guard i + n <= b.count else { throw Corrupt() }
        i += n
    }
    mutating func string() throws -> String {
        guard let s = String(validating: try bytes(), as: UTF8.self) else { throw Corrupt() }
        return s
    }
    mutating func image() throws -> Image {
        let w = Int(try u32()), h = Int(try u32()), c = Int(try u32())
        let px = try bytes()
        guard px.count == w * h * c else { throw Corrupt() }
        return try Image(width: w, height: h, channels: c, pixels: px)
    }
    mutating func tensor() throws -> Tensor {
        let rank = Int(try u32())
        guard rank <= 8 else { throw Corrupt() }
        var shape: [Int] = []
        for _ in 0..<rank { shape.append(Int(try u32())) }
        let n = Int(try u32())
        guard i + 4 * n <= b.count else { throw Corrupt() }
        var s = [Float](repeating: 0, count: n)
        for k in 0..<n { s[k] = Float(bitPattern: try u32()) }
        return try Tensor(shape: shape, scalars: s)
    }
}
