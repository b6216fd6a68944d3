import Foundation
import Testing
@testable import TensorCore

@Suite struct NpyTests {
    /// An .npy file laid out by hand from the format spec: magic, version, little-endian header
    /// length (2 bytes for 1.0, 4 for 2.0/3.0), header text, data.
    static func npy(_ header: String, major: UInt8 = 1, data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        let length = major == 1 ? le16(UInt16(h.count)) : le32(UInt32(h.count))
        return [0x93] + Array("NUMPY".utf8) + [major, 0] + length + h + data
    }

    /// numpy's header for a C-order array: dict text, then spaces and a newline padding the
    /// preamble + header to a multiple of 64 bytes.
    static func padded(_ dict: String, preamble: Int = 10) -> String {
        let unpadded = preamble + dict.utf8.count + 1
        return dict + String(repeating: " ", count: 64 - unpadded % 64) + "\n"
    }

    @Test func matchesBytesWrittenByNumpy() throws {
        // np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)) with numpy ≥ 1.24: the dict, 20 spare
        // spaces for the first axis to grow to 21 digits, padding to 128 bytes, newline.
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + String(repeating: " ", count: 20)
        let expected = Self.npy(Self.padded(dict), data: leFloats([0, 1, 2, 3, 4, 5]))
        #expect(expected.count == 128 + 24)
        let tensor = try Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        #expect(Npy.encode(try NpyArray(tensor)) == expected)
        let array = try Npy.read(bytes: expected)
        #expect(array.shape == [2, 3] && array.dtype == .float32)
        #expect(try array.tensor() == tensor)

        // Scalar and 1-d shapes: "()" and "(3,)".
        let scalar = Self.npy(Self.padded("{'descr': '<f4', 'fortran_order': False, 'shape': (), }"), data: leFloats([1.5]))
        #expect(Npy.encode(try NpyArray(Tensor(1.5))) == scalar)
        let vector = Self.npy(Self.padded("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }" + String(repeating: " ", count: 20)), data: [7, 0, 255])
        #expect(Npy.encode(try NpyArray(shape: [3], ints: [7, 0, 255], dtype: .uint8)) == vector)
        #expect(try Npy.read(bytes: vector).ints() == [7, 0, 255])
    }

    @Test func readsOtherHeaderSpellingsAndVersions() throws {
        // Older numpy: no spare spaces, 16-byte alignment, Python 2 longs, double quotes.
        let old = Self.npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 1L), }  \n", data: le32(UInt32(bitPattern: -5)) + le32(9))
        let a = try Npy.read(bytes: old)
        #expect(a.shape == [2, 1] && a.dtype == .int32 && a.floats() == [-5, 9])
        #expect(try a.ints() == [-5, 9])
        let quotes = Self.npy(#"{"shape": (1,), "fortran_order": False, "descr": "<f8"}"#, data: le64((0.1 as Double).bitPattern))
        #expect(try Npy.read(bytes: quotes).floats() == [Float(0.1 as Double)])
        // Version 2.0 and 3.0 use a 4-byte header length.
        for major: UInt8 in [2, 3] {
            let v = Self.npy(Self.padded("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", preamble: 12), major: major, data: leFloats([1, -1]))
            #expect(try Npy.read(bytes: v).floats() == [1, -1])
        }
        // Fortran order is harmless for rank ≤ 1.
        let f1 = Self.npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", data: leFloats([3, 4]))
        #expect(try Npy.read(bytes: f1).floats() == [3, 4])
        // Other one-byte spellings.
        #expect(try Npy.read(bytes: Self.npy("{'descr': '<u1', 'fortran_order': False, 'shape': (1,), }", data: [200])).ints() == [200])
        #expect(try Npy.read(bytes: Self.npy("{'descr': '|i1', 'fortran_order': False, 'shape': (1,), }", data: [0xFF])).ints() == [-1])
    }

    @Test func roundTripsAllDtypesAndShapes() throws {
        let shapes: [[Int]] = [[], [0], [3], [2, 0, 3], [2, 3, 4]]
        for dtype in Npy.DType.allCases {
            for shape in shapes {
                let n = shape.reduce(1, *)
                // Small integers (and 0/1 for bool) are exact in every dtype.
                let values = (0..<n).map { i -> Float in dtype == .bool ? Float(i % 2) : Float((i * 7) % 23) - (dtype == .uint8 || dtype == .uint16 ? 0 : 11) }
                let t = try Tensor(shape: shape, scalars: values)
                let bytes = Npy.encode(try NpyArray(t, dtype: dtype))
                #expect((bytes.count - n * dtype.itemSize) % 64 == 0, "\(dtype) \(shape): data starts 64-byte aligned")
                let back = try Npy.read(bytes: bytes)
                #expect(back.dtype == dtype && back.shape == shape)
                #expect(try back.tensor() == t, "\(dtype) \(shape)")
                #expect(try back.ints() == values.map { Int($0) }, "\(dtype) \(shape)")
            }
        }
        // Float32 keeps every bit, including NaN, infinities and -0.
        let special = try Tensor(shape: [5], scalars: [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude])
        #expect(sameBits(try Npy.read(bytes: Npy.encode(try NpyArray(special))).tensor(), special))
    }

    @Test func integerConversionsAreChecked() throws {
        expectIOError("value 2.5 at index 1 is not representable as uint8") { _ = try NpyArray(try Tensor(shape: [2], scalars: [1, 2.5]), dtype: .uint8) }
        expectIOError("value 256.0 at index 0 is not representable as uint8") { _ = try NpyArray(try Tensor(shape: [1], scalars: [256]), dtype: .uint8) }
        expectIOError("value -1.0 at index 0 is not representable as uint8") { _ = try NpyArray(Tensor(-1), dtype: .uint8) }
        expectIOError("not representable as int32") { _ = try NpyArray(Tensor(.nan), dtype: .int32) }
        expectIOError("value 300 at index 0 is not representable as |i1") { _ = try NpyArray(shape: [1], ints: [300], dtype: .int8) }
        expectIOError("value 0.5 at index 0 of a <f4 array is not an integer") { _ = try NpyArray(Tensor(0.5)).ints() }
        #expect(try NpyArray(try Tensor(shape: [2], scalars: [3, -4])).ints() == [3, -4])
        #expect(try NpyArray(shape: [2], ints: [-2_147_483_648, 2_147_483_647], dtype: .int32).ints() == [-2_147_483_648, 2_147_483_647])
        #expect(try NpyArray(shape: [1], ints: [Int.max], dtype: .int64).ints() == [Int.max])
    }

    @Test func filesAreWrittenAtomically() throws {
        let dir = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/labels.npy"
        let labels = try NpyArray(shape: [2, 2], ints: [0, 3, 1, 2], dtype: .uint8)
        try Npy.write(labels, to: path)
        #expect(try Npy.read(path) == labels)
        let t = try Tensor(shape: [3], scalars: [1, 2, 3])
        try Npy.write(t, to: path, dtype: .int32)
        #expect(try Npy.readTensor(path) == t)
        #expect(try Npy.read(path).dtype == .int32)
        let good = try FileIO.readAll(path)
        // A failure after the header was streamed leaves the old file and no temporary file.
        expectIOError(path + ": npy: cannot write as <i4: value 0.5 at index 1") {
            try Npy.write(try Tensor(shape: [2], scalars: [1, 0.5]), to: path, dtype: .int32)
        }
        #expect(try FileIO.readAll(path) == good)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["labels.npy"])
        expectIOError("cannot open for reading") { _ = try Npy.read(dir + "/absent.npy") }
    }

    @Test func hostileInputsThrowClearErrors() throws {
        let dict23 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        let data24 = [UInt8](repeating: 0, count: 24)
        let cases: [(String, [UInt8], String)] = [
            ("empty", [], "bad magic"),
            ("bad magic", Array("PK\u{3}\u{4}0000000000".utf8), "bad magic"),
            ("preamble cut", [0x93] + Array("NUMPY".utf8) + [1, 0], "too short for the 10-byte preamble"),
            ("v2 preamble cut", [0x93] + Array("NUMPY".utf8) + [2, 0, 0, 0], "too short for the 12-byte version 2.0 preamble"),
            ("bad version", Self.npy(dict23, major: 4, data: data24), "unsupported format version 4.0"),
            ("header past end", [0x93] + Array("NUMPY".utf8) + [1, 0] + le16(500) + Array("{}".utf8), "header length 500 runs past the end"),
            ("huge v2 header", [0x93] + Array("NUMPY".utf8) + [2, 0] + le32(.max) + Array("{}".utf8), "header length 4294967295 exceeds the 1048576-byte limit"),
            ("not a dict", Self.npy("[1, 2]", data: data24), "bad header dict: expected '{'"),
            ("unterminated dict", Self.npy("{'descr': '<f4', ", data: data24), "bad header dict"),
            ("garbage value", Self.npy("{'descr': <f4}", data: data24), "bad header dict: unexpected '<'"),
            ("after dict", Self.npy(dict23 + " x", data: data24), "after the dict"),
            ("duplicate key", Self.npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data: data24), "duplicate key 'descr'"),
            ("missing shape", Self.npy("{'descr': '<f4', 'fortran_order': False, }", data: data24), "missing 'shape'"),
            ("extra key", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': True}", data: data24), "unexpected key 'x'"),
            ("shape not tuple", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': '2', }", data: data24), "'shape' must be a tuple"),
            ("negative dim", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", data: data24), "negative dimension"),
            ("dim overflow", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }"), "overflows"),
            ("huge shape", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"), "has more than 4294967296 elements"),
            ("fortran order", Self.npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data: data24), "Fortran-order (column-major) arrays are not supported"),
            ("big endian", Self.npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", data: data24), "big-endian dtype '>f4' is not supported"),
            ("complex", Self.npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }", data: data24 + data24), "unsupported dtype '<c8'"),
            ("structured", Self.npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }", data: data24), "structured dtypes"),
            ("data too short", Self.npy(dict23, data: Array(data24.prefix(20))), "data is 20 bytes but shape [2, 3] of <f4 needs 6 × 4 = 24 (truncated)"),
            ("data too long", Self.npy(dict23, data: data24 + [0]), "data is 25 bytes but shape [2, 3] of <f4 needs 6 × 4 = 24 (unexpected trailing bytes)"),
        ]
        for (label, bytes, fragment) in cases {
            expectIOError(fragment, label) { _ = try Npy.read(bytes: bytes, name: "hostile.npy") }
            expectIOError("hostile.npy: npy:", label) { _ = try Npy.read(bytes: bytes, name: "hostile.npy") }
        }
    }

    @Test func everyTruncationThrows() throws {
        let bytes = Npy.encode(try NpyArray(try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), dtype: .float16))
        #expect(try Npy.read(bytes: bytes).floats() == [1, 2, 3, 4])
        for n in 0..<bytes.count {
            expectIOError("npy:", "prefix of \(n) bytes") { _ = try Npy.read(bytes: Array(bytes.prefix(n))) }
        }
    }

    @Test func randomMutationsNeverCrash() throws {
        let bases = [
            Npy.encode(try NpyArray(try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))),
            Npy.encode(try NpyArray(shape: [4], ints: [0, 1, 2, 255], dtype: .uint8)),
            Npy.encode(try NpyArray(Tensor(2), dtype: .float64)),
            Self.npy("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", data: le32(7)),
        ]
        var rng = Philox(seed: 2024, stream: 2)
        var accepted = 0, rejected = 0
        for _ in 0..<2000 {
            let bytes = mutate(bases[rng.int(below: bases.count)], rng: &rng)
            do {
                let a = try Npy.read(bytes: bytes, name: "fuzz")
                let t = try a.tensor()
                #expect(t.shape.allSatisfy { $0 >= 0 } && t.scalars.count == t.shape.reduce(1, *))
                #expect(a.data.count == t.count * a.dtype.itemSize)
                accepted += 1
            } catch let error as TensorError {
                #expect("\(error)".hasPrefix("fuzz: npy: "))
                rejected += 1
            }
        }
        #expect(accepted > 10 && rejected > 1000, "accepted \(accepted), rejected \(rejected)")
    }
}
