/// Bit-exact IEEE binary16 (F16) and bfloat16 (BF16) conversions, written out rather than taken
/// from `Float16` so they behave identically on every platform.
public enum HalfFloat {
    /// The Float32 value of the binary16 bit pattern `h` (exact: every half is a float).
    /// Subnormals, signed zeros and infinities convert exactly; NaN payloads are kept.
    @inline(__always)
    public static func float(fromHalf h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa × 2^-24, exact in Float32.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// The binary16 bit pattern nearest to `f`, ties to even; too-large values become ±infinity,
    /// too-small ones ±0, and NaN stays a (quiet) NaN with the top payload bits.
    @inline(__always)
    public static func half(from f: Float) -> UInt16 {
        let bits = f.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let exponent = Int(bits >> 23) & 0xFF
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF {
            return mantissa == 0 ? sign | 0x7C00 : sign | 0x7E00 | UInt16(truncatingIfNeeded: mantissa >> 13)
        }
        let e = exponent - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }
        if e >= 1 {
            // Normal half: drop 13 mantissa bits with round-to-nearest-even; a carry out of the
            // mantissa correctly bumps the exponent (up to infinity).
            var h = UInt32(e) << 10 | mantissa >> 13
            let rest = mantissa & 0x1FFF
            if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }
            return sign | UInt16(truncatingIfNeeded: h)
        }
        // Subnormal half (units of 2^-24): the 24-bit significand shifted right by 126 - exponent.
        if exponent == 0 { return sign }  // float subnormals are far below half's smallest value
        let shift = 126 - exponent  // >= 14
        if shift > 25 { return sign }
        let significand = mantissa | 0x80_0000
        var q = significand >> UInt32(shift)
        let rest = significand & ((1 << UInt32(shift)) - 1)
        let halfway: UInt32 = 1 << UInt32(shift - 1)
        if rest > halfway || (rest == halfway && q & 1 == 1) { q += 1 }
        return sign | UInt16(truncatingIfNeeded: q)
    }

    /// The Float32 value of the bfloat16 bit pattern `b` (its top 16 bits).
    @inline(__always)
    public static func float(fromBFloat16 b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// The bfloat16 bit pattern nearest to `f`, ties to even; NaN stays a quiet NaN.
    @inline(__always)
    public static func bfloat16(from f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rest = bits & 0xFFFF
        var h = bits >> 16
        if rest > 0x8000 || (rest == 0x8000 && h & 1 == 1) { h += 1 }
        return UInt16(truncatingIfNeeded: h)
    }
}

/// Element encodings shared by the safetensors and npy readers/writers. All are little-endian.
enum ScalarKind: Sendable {
    case f16, bf16, f32, f64, i8, i16, i32, i64, u8, u16, bool

    var byteSize: Int {
        switch self {
        case .i8, .u8, .bool: return 1
        case .f16, .bf16, .i16, .u16: return 2
        case .f32, .i32: return 4
        case .f64, .i64: return 8
        }
    }

    var isInteger: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64: return false
        default: return true
        }
    }

    var name: String {
        switch self {
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        case .f32: return "float32"
        case .f64: return "float64"
        case .i8: return "int8"
        case .i16: return "int16"
        case .i32: return "int32"
        case .i64: return "int64"
        case .u8: return "uint8"
        case .u16: return "uint16"
        case .bool: return "bool"
        }
    }

    /// Converts `raw` (count × byteSize little-endian bytes) to Float32, rounding to nearest
    /// where the source has more precision (f64, large i32/i64).
    func decode(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>) {
        let n = out.count
        switch self {
        case .f32:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<n { out[i] = HalfFloat.float(fromHalf: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0..<n { out[i] = HalfFloat.float(fromBFloat16: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .f64:
            for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        case .i8:
            for i in 0..<n { out[i] = Float(Int8(bitPattern: raw[i])) }
        case .u8:
            for i in 0..<n { out[i] = Float(raw[i]) }
        case .bool:
            for i in 0..<n { out[i] = raw[i] == 0 ? 0 : 1 }
        case .i16:
            for i in 0..<n { out[i] = Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
        case .u16:
            for i in 0..<n { out[i] = Float(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .i32:
            for i in 0..<n { out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
        case .i64:
            for i in 0..<n { out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
        }
    }

    /// Converts `raw` to exact integers; nil for float kinds (callers check values instead).
    func decodeIntegers(_ raw: UnsafeRawBufferPointer, count n: Int) -> [Int]? {
        switch self {
        case .i8: return (0..<n).map { Int(Int8(bitPattern: raw[$0])) }
        case .u8: return (0..<n).map { Int(raw[$0]) }
        case .bool: return (0..<n).map { raw[$0] == 0 ? 0 : 1 }
        case .i16: return (0..<n).map { Int(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) }
        case .u16: return (0..<n).map { Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case .i32: return (0..<n).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        case .i64: return (0..<n).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))) }
        case .f16, .bf16, .f32, .f64: return nil
        }
    }

    /// The inclusive range of an integer kind.
    var integerRange: ClosedRange<Double> {
        switch self {
        case .i8: return -128...127
        case .u8: return 0...255
        case .bool: return 0...1
        case .i16: return -32768...32767
        case .u16: return 0...65535
        case .i32: return -2_147_483_648...2_147_483_647
        // 2^63 itself is out of range; the largest Double below it is 2^63 - 1024.
        case .i64: return -0x1p63...0x1.fffffffffffffp62
        case .f16, .bf16, .f32, .f64: return -Double.infinity...Double.infinity
        }
    }

    /// Encodes `values` into `raw` (count × byteSize bytes). Float kinds round to nearest even;
    /// integer kinds require every value to be an integer in range and throw naming the first
    /// one that is not.
    func encode(_ values: UnsafeBufferPointer<Float>, into raw: UnsafeMutableRawBufferPointer, firstIndex: Int = 0) throws {
        let n = values.count
        switch self {
        case .f32:
            for i in 0..<n { raw.storeBytes(of: values[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .f16:
            for i in 0..<n { raw.storeBytes(of: HalfFloat.half(from: values[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for i in 0..<n { raw.storeBytes(of: HalfFloat.bfloat16(from: values[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .f64:
            for i in 0..<n { raw.storeBytes(of: Double(values[i]).bitPattern.littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        default:
            let range = integerRange
            for i in 0..<n {
                let v = Double(values[i])
                guard v.rounded() == v, range.contains(v) else {
                    throw TensorError.invalid("value \(values[i]) at index \(firstIndex + i) is not representable as \(name) (needs an integer in \(Int64(range.lowerBound))...\(Int64(range.upperBound)))")
                }
                let x = Int64(v)
                switch byteSize {
                case 1: raw.storeBytes(of: UInt8(truncatingIfNeeded: x), toByteOffset: i, as: UInt8.self)
                case 2: raw.storeBytes(of: UInt16(truncatingIfNeeded: x).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                case 4: raw.storeBytes(of: UInt32(truncatingIfNeeded: x).littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                default: raw.storeBytes(of: UInt64(bitPattern: x).littleEndian, toByteOffset: 8 * i, as: UInt64.self)
                }
            }
        }
    }

    /// Encodes all of `values` as little-endian bytes, streaming them to `emit` in bounded chunks
    /// so a large tensor is never duplicated in memory.
    func encode(_ values: [Float], emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: min(values.count, chunk) * byteSize)
        try values.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                let end = min(start + chunk, all.count)
                let part = UnsafeBufferPointer(rebasing: all[start..<end])
                try buffer.withUnsafeMutableBytes { raw in
                    let dst = UnsafeMutableRawBufferPointer(rebasing: raw[0..<(part.count * byteSize)])
                    try encode(part, into: dst, firstIndex: start)
                    try emit(UnsafeRawBufferPointer(dst))
                }
                start = end
            }
        }
    }
}
