import Foundation
import Testing
@testable import TensorCore

// MARK: - Helpers shared with NpyTests

/// Runs `body` and checks that it throws an error whose description contains `fragment`.
func expectIOError(_ fragment: String, _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("\(label): expected an error containing \"\(fragment)\", but nothing was thrown", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(fragment), "\(label): error \"\(error)\" does not contain \"\(fragment)\"", sourceLocation: sourceLocation)
    }
}

func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
func le16(_ v: UInt16) -> [UInt8] { [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
func leFloats(_ values: [Float]) -> [UInt8] { values.flatMap { le32($0.bitPattern) } }

/// A fresh empty directory under the system temp dir.
func makeTempDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tedi-io-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Applies 1–3 random byte flips / overwrites / insertions / deletions / truncations.
func mutate(_ bytes: [UInt8], rng: inout Philox) -> [UInt8] {
    var b = bytes
    for _ in 0...rng.int(below: 3) {
        switch rng.int(below: 5) {
        case 0 where !b.isEmpty: b[rng.int(below: b.count)] ^= UInt8(1 << rng.int(below: 8))
        case 1 where !b.isEmpty: b[rng.int(below: b.count)] = UInt8(rng.int(below: 256))
        case 2: b.insert(UInt8(rng.int(below: 256)), at: rng.int(below: b.count + 1))
        case 3 where !b.isEmpty: b.remove(at: rng.int(below: b.count))
        default: b = Array(b.prefix(rng.int(below: b.count + 1)))
        }
    }
    return b
}

/// Bit-level equality, so NaNs and signed zeros compare exactly.
func sameBits(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern)
}

// MARK: - Tests

@Suite struct SafeTensorsTests {
    /// A safetensors file: length prefix, header text padded with spaces to 8 bytes, data.
    static func file(_ header: String, data: [UInt8] = [], pad: Bool = true) -> [UInt8] {
        var h = Array(header.utf8)
        if pad { h += [UInt8](repeating: 0x20, count: (8 - h.count % 8) % 8) }
        return le64(UInt64(h.count)) + h + data
    }

    /// binary16 value by the IEEE 754 definition, computed in Double.
    static func referenceHalf(_ h: UInt16) -> Double {
        let sign: Double = h & 0x8000 != 0 ? -1 : 1
        let e = Int(h >> 10) & 0x1F, m = Double(h & 0x3FF)
        if e == 0x1F { return m == 0 ? sign * .infinity : .nan }
        if e == 0 { return sign * m * pow(2, -24) }
        return sign * (1 + m / 1024) * pow(2, Double(e - 15))
    }

    @Test func halfBitPatternsByHand() {
        let table: [(UInt16, Float)] = [
            (0x3C00, 1), (0xC000, -2), (0x7BFF, 65504), (0x0001, 0x1p-24), (0x03FF, 1023 * 0x1p-24),
            (0x0400, 0x1p-14), (0x3555, 0.333251953125), (0x7C00, .infinity), (0xFC00, -.infinity),
            (0x0000, 0), (0x3800, 0.5), (0xFBFF, -65504),
        ]
        for (h, f) in table {
            #expect(HalfFloat.float(fromHalf: h) == f, "0x\(String(h, radix: 16))")
            #expect(HalfFloat.half(from: f) == h, "\(f)")
        }
        #expect(HalfFloat.float(fromHalf: 0x8000).bitPattern == 0x8000_0000)  // -0 keeps its sign
        #expect(HalfFloat.float(fromHalf: 0x7E00).isNaN)
        #expect(HalfFloat.float(fromHalf: 0x7C01).bitPattern == 0x7F80_2000)  // NaN payload kept
        #expect(HalfFloat.half(from: -0.0) == 0x8000)
        #expect(HalfFloat.half(from: .nan) & 0x7C00 == 0x7C00 && HalfFloat.half(from: .nan) & 0x3FF != 0)
    }

    @Test func halfToFloatExhaustiveAgainstDoubleFormula() {
        for h in UInt16.min...UInt16.max {
            let f = HalfFloat.float(fromHalf: h)
            let ref = Self.referenceHalf(h)
            if ref.isNaN {
                #expect(f.bitPattern == UInt32(h & 0x8000) << 16 | 0x7F80_0000 | UInt32(h & 0x3FF) << 13)
                #expect(HalfFloat.half(from: f) & 0x7C00 == 0x7C00 && HalfFloat.half(from: f) & 0x3FF != 0)
            } else {
                #expect(Double(f) == ref && f.sign == (h & 0x8000 != 0 ? .minus : .plus), "0x\(String(h, radix: 16))")
                #expect(HalfFloat.half(from: f) == h, "round trip of 0x\(String(h, radix: 16))")
            }
        }
    }

    @Test func floatToHalfRoundsToNearestEven() {
        let table: [(Float, UInt16)] = [
            (1 + 0x1p-11, 0x3C00),        // halfway between 0x3C00 and 0x3C01: to even
            (1 + 3 * 0x1p-11, 0x3C02),    // halfway between 0x3C01 and 0x3C02: to even
            (1 + 0x1p-11 + 0x1p-20, 0x3C01),
            (65519.996, 0x7BFF), (65520, 0x7C00), (1e6, 0x7C00), (-1e6, 0xFC00),
            (0x1p-25, 0x0000),            // half of the smallest subnormal: ties to 0
            (0x1p-25 * 1.0000001, 0x0001),
            (3 * 0x1p-25, 0x0002),        // 1.5 units: to even (2)
            (5 * 0x1p-25, 0x0002),        // 2.5 units: to even (2)
            (0x1p-14 - 0x1p-25, 0x0400),  // rounds up into the smallest normal
            (1e-10, 0x0000), (-1e-10, 0x8000), (Float.leastNonzeroMagnitude, 0),
        ]
        for (f, h) in table {
            #expect(HalfFloat.half(from: f) == h, "\(f) → 0x\(String(HalfFloat.half(from: f), radix: 16)), want 0x\(String(h, radix: 16))")
        }
        // Random floats across the half range: the result is a nearest half, ties to even.
        var rng = Philox(seed: 11)
        for _ in 0..<20000 {
            let x = Float(sign: rng.chance(0.5) ? .minus : .plus, exponent: rng.int(below: 46) - 28, significand: 1 + rng.uniform())
            let h = HalfFloat.half(from: x)
            #if !(os(macOS) && arch(x86_64))
            #expect(Float16(x).bitPattern == h, "\(x): Float16 gives 0x\(String(Float16(x).bitPattern, radix: 16))")
            #endif
            if h & 0x7FFF == 0x7C00 {
                #expect(abs(x) >= 65520, "\(x) overflowed to infinity")
                continue
            }
            let v = Self.referenceHalf(h)
            let err = abs(Double(x) - v)
            for neighbor in [h &- 1, h &+ 1] where neighbor & 0x7C00 != 0x7C00 && (neighbor ^ h) & 0x8000 == 0 {
                let other = abs(Double(x) - Self.referenceHalf(neighbor))
                #expect(err < other || (err == other && h & 1 == 0), "\(x) → 0x\(String(h, radix: 16))")
            }
        }
    }

    @Test func bfloat16Conversions() {
        let table: [(UInt16, Float)] = [(0x3F80, 1), (0xC000, -2), (0x7F80, .infinity), (0x0001, Float(bitPattern: 0x0001_0000)), (0x3E80, 0.25)]
        for (b, f) in table {
            #expect(HalfFloat.float(fromBFloat16: b) == f)
            #expect(HalfFloat.bfloat16(from: f) == b)
        }
        #expect(HalfFloat.bfloat16(from: 1 + 0x1p-8) == 0x3F80)            // tie to even
        #expect(HalfFloat.bfloat16(from: 1 + 3 * 0x1p-8) == 0x3F82)        // tie to even (up)
        #expect(HalfFloat.bfloat16(from: 1 + 0x1p-8 + 0x1p-20) == 0x3F81)
        #expect(HalfFloat.bfloat16(from: .greatestFiniteMagnitude) == 0x7F80)
        #expect(HalfFloat.float(fromBFloat16: HalfFloat.bfloat16(from: .nan)).isNaN)
    }

    static func sampleTensors() throws -> [String: Tensor] {
        var rng = Philox(seed: 3)
        func random(_ shape: [Int]) throws -> Tensor {
            try Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in rng.normal() * 10 })
        }
        return [
            "scalar": Tensor(-0.0),
            "empty": try Tensor(shape: [0], scalars: []),
            "empty3d": try Tensor(shape: [2, 0, 3], scalars: []),
            "vector": try Tensor(shape: [5], scalars: [1, -2, .infinity, -.infinity, .nan]),
            "conv.weight": try random([2, 3, 4]),
            "naïve \"quoted\"\n": try random([1, 1]),
        ]
    }

    @Test func f32RoundTripIsBitExact() throws {
        let tensors = try Self.sampleTensors()
        let metadata = ["format": "pt", "note": "tab\there \"q\" é 😀 \u{1}"]
        let bytes = try SafeTensors.encode(tensors, metadata: metadata)
        let back = try SafeTensors.read(bytes: bytes)
        #expect(back.metadata == metadata)
        #expect(Set(back.tensors.keys) == Set(tensors.keys))
        for (name, t) in tensors {
            let u = try #require(back.tensors[name])
            #expect(sameBits(t, u), "\(name)")
        }
    }

    @Test func halfPrecisionRoundTrips() throws {
        var rng = Philox(seed: 5)
        let values = (0..<1000).map { _ in rng.normal() * 100 }
        let exact: [Float] = [0, -0.0, 1, -2, 0.5, 65280, 0x1p-14, 3.25]  // representable in both
        let t = try Tensor(shape: [1000], scalars: values), e = try Tensor(shape: [8], scalars: exact)
        for (dtype, relative) in [(SafeTensors.DType.f16, 0x1p-11), (.bf16, 0x1p-8)] {
            let back = try SafeTensors.read(bytes: SafeTensors.encode(["t": t, "e": e], dtype: dtype)).tensors
            let r = try #require(back["t"]), x = try #require(back["e"])
            #expect(sameBits(x, e), "\(dtype) keeps representable values exactly")
            for (a, b) in zip(values, r.scalars) {
                // Half rounding error ≤ half an ulp; f16 subnormals lose relative precision.
                #expect(abs(Double(a) - Double(b)) <= relative * abs(Double(a)) + 0x1p-25, "\(dtype): \(a) → \(b)")
            }
        }
    }

    @Test func encodingIsDeterministicAndFollowsTheSpec() throws {
        let a = try SafeTensors.encode(["b": try Tensor(shape: [2], scalars: [1, 2]), "a": Tensor(3)], metadata: ["z": "1", "a": "x"])
        let b = try SafeTensors.encode(["a": Tensor(3), "b": try Tensor(shape: [2], scalars: [1, 2])], metadata: ["a": "x", "z": "1"])
        let header = #"{"__metadata__":{"a":"x","z":"1"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let expected = Self.file(header, data: leFloats([3, 1, 2]))
        #expect(a == expected)
        #expect(b == expected)
        #expect((expected.count - 12) % 8 == 0)
        // No metadata: the key is omitted.
        let plain = try SafeTensors.encode(["x": try Tensor(shape: [1], scalars: [1])], dtype: .f16)
        #expect(plain == Self.file(#"{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#, data: le16(0x3C00)))
    }

    @Test func readsBytesLaidOutByTheReferenceWriter() throws {
        // What `safetensors.numpy.save({"weight": f16 (2,2), "bias": f32 (2,), "step": i64 ()},
        // metadata={"format": "pt"})` writes: metadata first, tensors by alignment then name,
        // header padded with two spaces to 208 bytes.
        let header = #"{"__metadata__":{"format":"pt"},"step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"weight":{"dtype":"F16","shape":[2,2],"data_offsets":[16,24]}}"#
        let data: [UInt8] = le64(7) + le32(0x3F00_0000) + le32(0xBFA0_0000) + le16(0x3C00) + le16(0xC000) + le16(0x7BFF) + le16(0x0001)
        let bytes = Self.file(header, data: data)
        #expect(Array(bytes.prefix(8)) == [208, 0, 0, 0, 0, 0, 0, 0])
        let file = try SafeTensors.File(bytes: bytes)
        #expect(file.names == ["bias", "step", "weight"])
        #expect(file.infos["weight"] == SafeTensors.TensorInfo(name: "weight", dtype: .f16, shape: [2, 2], dataOffsets: 16..<24))
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.tensor("weight") == Tensor(shape: [2, 2], scalars: [1, -2, 65504, 0x1p-24]))
        #expect(try file.tensor("bias") == Tensor(shape: [2], scalars: [0.5, -1.25]))
        #expect(try file.tensor("step") == Tensor(7))
        expectIOError(#"no tensor named "nope""#) { _ = try file.tensor("nope") }
        expectIOError(#"tensor "bias" has shape [2], expected [3]"#) { _ = try file.tensor("bias", shape: [3]) }
        #expect(try file.tensor("bias", shape: [2]).scalars == [0.5, -1.25])
        // Escapes the reference JSON writer may use, incl. a surrogate pair.
        let escaped = Self.file(#"{"__metadata__":{"k\u00e9":"\ud83d\ude00 \"\\\/\n"}}"#)
        #expect(try SafeTensors.read(bytes: escaped).metadata == ["ké": "😀 \"\\/\n"])
    }

    @Test func otherDtypesConvert() throws {
        let header = #"{"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"i":{"dtype":"I32","shape":[2],"data_offsets":[16,24]},"u":{"dtype":"U8","shape":[2],"data_offsets":[24,26]},"s":{"dtype":"I8","shape":[1],"data_offsets":[26,27]},"b":{"dtype":"BOOL","shape":[1],"data_offsets":[27,28]}}"#
        let data = le64((-1.5 as Double).bitPattern) + le64((1.0 / 3.0 as Double).bitPattern) + le32(UInt32(bitPattern: -7)) + le32(16_777_217) + [255, 0, 0xFE, 1]
        let t = try SafeTensors.read(bytes: Self.file(header, data: data)).tensors
        #expect(t["d"]?.scalars == [-1.5, Float(1.0 / 3.0)])
        #expect(t["i"]?.scalars == [-7, 16_777_216])  // 2^24 + 1 rounds to even
        #expect(t["u"]?.scalars == [255, 0])
        #expect(t["s"]?.scalars == [-2])
        #expect(t["b"]?.scalars == [1])
    }

    @Test func filesAreWrittenAtomically() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.safetensors"
        let tensors = try Self.sampleTensors()
        try SafeTensors.write(tensors, metadata: ["a": "b"], to: path)
        let back = try SafeTensors.read(path)
        #expect(back.metadata == ["a": "b"])
        for (name, t) in tensors { #expect(sameBits(t, try #require(back.tensors[name]))) }
        #expect(try FileIO.readAll(path) == SafeTensors.encode(tensors, metadata: ["a": "b"]))

        // Lazy access reads only what is asked for.
        let file = try SafeTensors.File(path: path)
        #expect(file.infos["conv.weight"]?.shape == [2, 3, 4])
        #expect(sameBits(try file.tensor("conv.weight"), try #require(tensors["conv.weight"])))

        // Overwrite; then failed writes leave the last good file and no temp files.
        let small = ["w": try Tensor(shape: [2], scalars: [1, 2])]
        try SafeTensors.write(small, to: path, dtype: .bf16)
        let good = try FileIO.readAll(path)
        expectIOError("reserved for metadata") { try SafeTensors.write(["__metadata__": Tensor(1)], to: path) }
        expectIOError("writing dtype I32 is not supported") { try SafeTensors.write(small, to: path, dtype: .i32) }
        expectIOError("ABORT") {
            try FileIO.writeAtomically(to: path) { w in
                try w.write([1, 2, 3])
                throw TensorError.invalid("ABORT")
            }
        }
        #expect(try FileIO.readAll(path) == good)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])

        expectIOError("cannot create a temporary file") { try SafeTensors.write(small, to: dir + "/missing/x.safetensors") }
        expectIOError("is a directory") { _ = try SafeTensors.read(dir) }
        expectIOError("cannot open for reading") { _ = try SafeTensors.read(dir + "/absent.safetensors") }
    }

    static let validEntry = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#

    @Test func hostileInputsThrowClearErrors() throws {
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "file is 0 bytes, shorter than the 8-byte"),
            ("5 bytes", [1, 2, 3, 4, 5], "file is 5 bytes"),
            ("huge length", le64(.max) + Array("{}".utf8), "header length 18446744073709551615 exceeds the 100000000-byte limit"),
            ("negative-looking length", le64(1 << 63) + Array("{}".utf8), "exceeds the 100000000-byte limit"),
            ("length past end", le64(1000) + Array("{}".utf8), "header length 1000 exceeds the 2 bytes"),
            ("tiny header", le64(1) + Array("{".utf8), "too short"),
            ("bad JSON", Self.file(#"{"a": nope}"#), "not valid JSON"),
            ("bad UTF-8", le64(3) + [0x7B, 0xFF, 0x7D], "not valid UTF-8"),
            ("deep nesting", Self.file(#"{"a":"# + String(repeating: "[", count: 100_000)), "nesting deeper than 16"),
            ("deep objects", Self.file(String(repeating: #"{"a":"#, count: 50_000)), "nesting deeper than 16"),
            ("top-level array", Self.file("[]"), "must be a JSON object, found array"),
            ("trailing garbage", Self.file("{} x"), "after the JSON value"),
            ("duplicate keys", Self.file("{\(Self.validEntry),\(Self.validEntry)}", data: eight), #"duplicate key "a""#),
            ("entry not object", Self.file(#"{"a":3}"#), "entry must be an object"),
            ("unknown dtype", Self.file(#"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, data: eight), #"tensor "a": unsupported dtype "Q4""#),
            ("dtype not string", Self.file(#"{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}"#, data: eight), #""dtype" must be a string"#),
            ("missing shape", Self.file(#"{"a":{"dtype":"F32","data_offsets":[0,8]}}"#, data: eight), #"missing "shape""#),
            ("missing offsets", Self.file(#"{"a":{"dtype":"F32","shape":[2]}}"#, data: eight), #"missing "data_offsets""#),
            ("negative dim", Self.file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}"#, data: eight), "shape entry -1 is not a non-negative integer"),
            ("fractional dim", Self.file(#"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, data: eight), "shape entry 2.5"),
            ("dim beyond Int", Self.file(#"{"a":{"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,8]}}"#, data: eight), "shape entry 99999999999999999999999"),
            ("shape overflow", Self.file(#"{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}"#, data: eight), "has more than 4294967296 elements"),
            ("offsets past buffer", Self.file(#"{"a":{"dtype":"F32","shape":[250],"data_offsets":[0,1000]}}"#, data: eight), "data_offsets [0, 1000] run past the 8-byte data buffer"),
            ("begin > end", Self.file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, data: eight), "has begin > end"),
            ("offsets not a pair", Self.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, data: eight), "must be [begin, end]"),
            ("negative offset", Self.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, data: eight), "must be [begin, end]"),
            ("size mismatch", Self.file(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight), "span 8 bytes but shape [3] of F32 needs 3 × 4 = 12"),
            ("overlap", Self.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: eight + eight),
             #"tensor "b" bytes [4, 12) overlap tensor "a" bytes [0, 8)"#),
            ("empty inside another", Self.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}"#, data: eight), "overlap"),
            ("metadata not object", Self.file(#"{"__metadata__":[]}"#), "must be an object of strings"),
            ("metadata number", Self.file(#"{"__metadata__":{"k":1}}"#), #"value for key "k" must be a string, found number"#),
        ]
        for (label, bytes, fragment) in cases {
            expectIOError(fragment, label) { _ = try SafeTensors.read(bytes: bytes, name: "hostile.safetensors") }
            expectIOError("hostile.safetensors: safetensors:", label) { _ = try SafeTensors.read(bytes: bytes, name: "hostile.safetensors") }
        }
        // The same checks run through the file path, and the path is named.
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileIO.writeAtomically(cases[6].1, to: dir + "/bad.safetensors")
        expectIOError(dir + "/bad.safetensors: safetensors: header is not valid JSON") { _ = try SafeTensors.read(dir + "/bad.safetensors") }
    }

    @Test func everyTruncationThrows() throws {
        let bytes = try SafeTensors.encode(["a": try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), "b": Tensor(5)], metadata: ["k": "v"], dtype: .f16)
        #expect(try SafeTensors.read(bytes: bytes).tensors.count == 2)
        for n in 0..<bytes.count {
            expectIOError("safetensors:", "prefix of \(n) bytes") { _ = try SafeTensors.read(bytes: Array(bytes.prefix(n))) }
        }
    }

    @Test func randomMutationsNeverCrash() throws {
        let bases = [
            try SafeTensors.encode(try Self.sampleTensors(), metadata: ["format": "pt"]),
            try SafeTensors.encode(["w": try Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]), "s": Tensor(1)], dtype: .f16),
            try SafeTensors.encode(["w": try Tensor(shape: [4], scalars: [1, 2, 3, 4])], metadata: ["a": "b"], dtype: .bf16),
        ]
        var rng = Philox(seed: 2024, stream: 1)
        var accepted = 0, rejected = 0
        for _ in 0..<2000 {
            let bytes = mutate(bases[rng.int(below: bases.count)], rng: &rng)
            do {
                let result = try SafeTensors.read(bytes: bytes, name: "fuzz")
                for t in result.tensors.values {
                    #expect(t.shape.allSatisfy { $0 >= 0 } && t.scalars.count == t.shape.reduce(1, *))
                }
                accepted += 1
            } catch let error as TensorError {
                #expect("\(error)".hasPrefix("fuzz: safetensors: "))
                rejected += 1
            }
        }
        // Both outcomes occur: data-byte changes stay valid, header damage is caught.
        #expect(accepted > 30 && rejected > 1000, "accepted \(accepted), rejected \(rejected)")
    }
}
