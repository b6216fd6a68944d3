import Foundation
import Testing
import TensorCore
@testable import Imaging

/// Random samples from Philox, so failures reproduce.
func randomBytes(_ n: Int, seed: UInt64) -> [UInt8] {
    var rng = Philox(seed: seed)
    return (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
}

func temporaryDirectory() throws -> String {
    let dir = NSTemporaryDirectory() + "imaging-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Runs `body`, requires an ImagingError and returns it.
func imagingError(_ body: () throws -> Void) -> ImagingError? {
    do {
        try body()
    } catch let e as ImagingError {
        return e
    } catch {
        Issue.record("expected ImagingError, got \(type(of: error)): \(error)")
        return nil
    }
    Issue.record("expected an error, none was thrown")
    return nil
}

@Suite struct PNGRoundTripTests {
    @Test(arguments: [1, 3, 4])
    func eightBitRoundTrip(channels: Int) throws {
        for (w, h) in [(1, 1), (17, 5), (64, 33)] {
            let image = try Image(width: w, height: h, channels: channels,
                                  pixels: randomBytes(w * h * channels, seed: UInt64(w * 100 + channels)))
            let bytes = try PNG.encode(image)
            let (decoded, text) = try PNG.decode(bytes)
            #expect(decoded == image)
            #expect(text.isEmpty)
            let header = try PNG.header(of: bytes)
            #expect(header.bitDepth == 8)
            #expect(header.colorType == [1: .gray, 3: .rgb, 4: .rgba][channels])
        }
    }

    @Test(arguments: [1, 3, 4])
    func sixteenBitRoundTrip(channels: Int) throws {
        var rng = Philox(seed: 7, stream: UInt64(channels))
        let (w, h) = (13, 6)
        var samples = (0..<(w * h * channels)).map { _ in UInt16(truncatingIfNeeded: rng.next()) }
        samples[0] = 0
        samples[1] = 65535
        let image = try Image16(width: w, height: h, channels: channels, pixels: samples)
        let bytes = try PNG.encode(image, text: ["depth": "16"])
        #expect(try PNG.header(of: bytes).bitDepth == 16)
        let (decoded, text) = try PNG.decode16(bytes)
        #expect(decoded == image)
        #expect(text == ["depth": "16"])
        // The 8-bit view rounds each sample to nearest: v * 255 / 65535 in exact arithmetic.
        let (eight, _) = try PNG.decode(bytes)
        for (s, b) in zip(samples, eight.pixels) {
            #expect(Int(b) == Int((Double(s) * 255 / 65535).rounded()))
        }
    }

    @Test func eightBitWidensExactlyTo16() throws {
        let image = try Image(width: 16, height: 16, channels: 1, pixels: (0..<256).map { UInt8($0) })
        let (wide, _) = try PNG.decode16(PNG.encode(image))
        #expect(wide.pixels == (0..<256).map { UInt16($0) * 257 })
    }

    @Test func paletteRoundTrip() throws {
        let palette: [PNG.RGBA] = [.init(255, 0, 0), .init(0, 255, 0, 128), .init(0, 0, 255), .init(10, 20, 30, 0)]
        let indices = try Image(width: 7, height: 3, channels: 1, pixels: (0..<21).map { UInt8($0 % 4) })
        let bytes = try PNG.encodeIndexed(indices: indices, palette: palette, text: ["kind": "label"])
        #expect(try PNG.header(of: bytes).colorType == .palette)
        let (back, pal, text) = try PNG.decodeIndexed(bytes)
        #expect(back == indices)
        #expect(pal == palette)
        #expect(text == ["kind": "label"])
        // Expanded: RGBA because the palette has transparency.
        let (rgba, _) = try PNG.decode(bytes)
        #expect(rgba.channels == 4)
        for i in 0..<21 {
            let p = palette[i % 4]
            #expect(Array(rgba.pixels[(i * 4)..<(i * 4 + 4)]) == [p.r, p.g, p.b, p.a])
        }
        #expect(imagingError { _ = try PNG.encodeIndexed(indices: indices, palette: Array(palette.prefix(3))) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try PNG.decodeIndexed(PNG.encode(indices)) }?.kind == .invalidArgument)
    }

    @Test func encodingIsDeterministicAndHasNoTimeChunk() throws {
        let image = try Image(width: 20, height: 10, channels: 3, pixels: randomBytes(600, seed: 3))
        let text = ["b": "2", "a": "1", "tedi.graph": "nodes: {}"]
        let one = try PNG.encode(image, text: text)
        let two = try PNG.encode(image, text: text)
        #expect(one == two)
        let types = ReferencePNG.chunks(one).map(\.type)
        #expect(!types.contains("tIME"))
        #expect(types.first == "IHDR" && types.last == "IEND")
        // Text is written before IDAT, keys sorted.
        let textChunks = ReferencePNG.chunks(one).filter { $0.type == "tEXt" }
        let keys = textChunks.map { c in String(decoding: one[c.start..<(c.start + c.length)].prefix { $0 != 0 }, as: UTF8.self) }
        #expect(keys == ["a", "b", "tedi.graph"])
        #expect(types.firstIndex(of: "tEXt")! < types.firstIndex(of: "IDAT")!)
    }
}

@Suite struct PNGTextTests {
    let image = try! Image(width: 2, height: 2, channels: 1, fill: 9)

    @Test func asciiLongAndUnicodeValuesRoundTrip() throws {
        let long = String((0..<200_000).map { i in Character(Unicode.Scalar(UInt8(32 + i % 95))) })
        let text = [
            "tedi.graph": long,
            "caption": "Ünïcødé ✓ 日本語 😀",
            "latin": "café",
            "empty": "",
            "multi line": "a\nb\tc",
        ]
        let bytes = try PNG.encode(image, text: text)
        let (_, back) = try PNG.decode(bytes)
        #expect(back == text)
        // Pure ASCII goes to tEXt, anything else to UTF-8 iTXt.
        let chunks = ReferencePNG.chunks(bytes)
        func type(of key: String) -> String? {
            chunks.first { c in
                (c.type == "tEXt" || c.type == "iTXt")
                    && bytes[c.start..<(c.start + c.length)].prefix { $0 != 0 }.elementsEqual(key.utf8)
            }?.type
        }
        #expect(type(of: "tedi.graph") == "tEXt")
        #expect(type(of: "multi line") == "tEXt")
        #expect(type(of: "caption") == "iTXt")
        #expect(type(of: "latin") == "iTXt")
    }

    @Test func latin1TextAndCompressedChunksFromIndependentEncoder() throws {
        // tEXt and zTXt are Latin-1 by the spec: byte 0xE9 is "é". iTXt is UTF-8.
        let png = ReferencePNG.make(
            width: 1, height: 1, bitDepth: 8, colorType: 0,
            before: [ReferencePNG.tEXt(Array("Title".utf8), [0x43, 0x61, 0x66, 0xE9]),
                     ReferencePNG.zTXt(Array("Comment".utf8), Array("zipped value".utf8))],
            after: [ReferencePNG.iTXt(Array("Author".utf8), Array("Zoë 🙂".utf8)),
                    ReferencePNG.tEXt(Array("Title".utf8), Array("later wins".utf8))]) { _, _ in [0] }
        let (_, text) = try PNG.decode(png)
        #expect(text == ["Comment": "zipped value", "Author": "Zoë 🙂", "Title": "later wins"])
        let first = ReferencePNG.make(width: 1, height: 1, bitDepth: 8, colorType: 0,
                                      before: [ReferencePNG.tEXt(Array("Title".utf8), [0x43, 0x61, 0x66, 0xE9])]) { _, _ in [0] }
        #expect(try PNG.decode(first).text == ["Title": "Café"])
    }

    @Test func invalidKeysAndValuesAreRefused() {
        for key in ["", String(repeating: "k", count: 80), " lead", "trail ", "dou  ble", "café", "tab\tkey"] {
            let e = imagingError { _ = try PNG.encode(image, text: [key: "v"]) }
            #expect(e?.kind == .invalidArgument)
            #expect(e?.description.contains("keyword") == true)
        }
        #expect(imagingError { _ = try PNG.encode(image, text: ["k": "a\u{0}b"]) }?.kind == .invalidArgument)
        #expect(imagingError { _ = try PNG.encode(image, text: ["k": String(repeating: "x", count: PNG.maxTextValueBytes + 1)]) }?.kind == .invalidArgument)
        // Longest keyword is fine.
        #expect(throws: Never.self) { try PNG.encode(image, text: [String(repeating: "k", count: 79): "v"]) }
    }
}

@Suite struct PNGSpecDecodingTests {
    @Test func rgb2x2() throws {
        let colors = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]
        let png = ReferencePNG.make(width: 2, height: 2, bitDepth: 8, colorType: 2) { x, y in colors[y * 2 + x] }
        let (image, _) = try PNG.decode(png)
        #expect(image.width == 2 && image.height == 2 && image.channels == 3)
        #expect(image.pixels == colors.flatMap { $0.map { UInt8($0) } })
    }

    @Test func allFiltersAndSplitIDAT() throws {
        let (w, h) = (11, 9)
        let f: (Int, Int) -> [Int] = { x, y in [(x * 37 + y * 11) % 256, (x * y * 5 + 3) % 256, (255 - x * 20) & 255, (y * 29) % 256] }
        let png = ReferencePNG.make(width: w, height: h, bitDepth: 8, colorType: 6, filters: [0, 1, 2, 3, 4], idatSplit: 7, pixel: f)
        let (image, _) = try PNG.decode(png)
        #expect(image.channels == 4)
        for y in 0..<h { for x in 0..<w { for c in 0..<4 { #expect(Int(image[x: x, y: y, c: c]) == f(x, y)[c]) } } }
    }

    @Test func paletteFourBitWithTRNS() throws {
        let plte = ReferencePNG.chunk("PLTE", [255, 0, 0, 0, 255, 0, 0, 0, 255, 7, 8, 9])
        let trns = ReferencePNG.chunk("tRNS", [0, 128])  // entries 2, 3 stay opaque
        let idx: (Int, Int) -> Int = { x, y in (x + 2 * y) % 4 }
        let png = ReferencePNG.make(width: 5, height: 3, bitDepth: 4, colorType: 3, before: [plte, trns]) { x, y in [idx(x, y)] }
        let rgba: [[UInt8]] = [[255, 0, 0, 0], [0, 255, 0, 128], [0, 0, 255, 255], [7, 8, 9, 255]]
        let (image, _) = try PNG.decode(png)
        #expect(image.channels == 4)
        for y in 0..<3 { for x in 0..<5 { for c in 0..<4 { #expect(image[x: x, y: y, c: c] == rgba[idx(x, y)][c]) } } }
        let (indices, palette, _) = try PNG.decodeIndexed(png)
        #expect(indices.pixels == (0..<15).map { UInt8(idx($0 % 5, $0 / 5)) })
        #expect(palette == rgba.map { PNG.RGBA($0[0], $0[1], $0[2], $0[3]) })
    }

    @Test func paletteWithoutTRNSIsRGB() throws {
        let plte = ReferencePNG.chunk("PLTE", [1, 2, 3, 4, 5, 6])
        let png = ReferencePNG.make(width: 9, height: 2, bitDepth: 1, colorType: 3, before: [plte]) { x, _ in [x % 2] }
        let (image, _) = try PNG.decode(png)
        #expect(image.channels == 3)
        #expect(image.pixels == (0..<18).flatMap { i -> [UInt8] in i % 9 % 2 == 0 ? [1, 2, 3] : [4, 5, 6] })
    }

    @Test func sixteenBitGray() throws {
        let values = [0, 1234, 65535, 32768, 257]
        let png = ReferencePNG.make(width: 5, height: 1, bitDepth: 16, colorType: 0) { x, _ in [values[x]] }
        let (wide, _) = try PNG.decode16(png)
        #expect(wide.channels == 1)
        #expect(wide.pixels == values.map { UInt16($0) })
        let (narrow, _) = try PNG.decode(png)
        #expect(narrow.pixels == values.map { UInt8((Double($0) * 255 / 65535).rounded()) })
    }

    @Test(arguments: [1, 2, 4])
    func lowBitGrayScalesToFullRange(depth: Int) throws {
        let top = (1 << depth) - 1
        let png = ReferencePNG.make(width: 13, height: 2, bitDepth: depth, colorType: 0) { x, y in [(x + y) % (top + 1)] }
        let (image, _) = try PNG.decode(png)
        #expect(image.channels == 1)
        for y in 0..<2 { for x in 0..<13 {
            // The spec's scaling for sample depth < 8: v * 255 / (2^depth - 1), exact here.
            #expect(Int(image[x: x, y: y, c: 0]) == ((x + y) % (top + 1)) * 255 / top)
        } }
    }

    @Test func grayAlphaBecomesRGBA() throws {
        let png = ReferencePNG.make(width: 3, height: 2, bitDepth: 8, colorType: 4) { x, y in [x * 50 + y, 200 - x] }
        let (image, _) = try PNG.decode(png)
        #expect(image.channels == 4)
        for y in 0..<2 { for x in 0..<3 {
            let g = UInt8(x * 50 + y)
            #expect([image[x: x, y: y, c: 0], image[x: x, y: y, c: 1], image[x: x, y: y, c: 2], image[x: x, y: y, c: 3]] == [g, g, g, UInt8(200 - x)])
        } }
    }

    @Test func grayWithTRNSKeyBecomesRGBA() throws {
        let trns = ReferencePNG.chunk("tRNS", [0, 77])
        let png = ReferencePNG.make(width: 4, height: 1, bitDepth: 8, colorType: 0, before: [trns]) { x, _ in [[77, 0, 255, 77][x]] }
        let (image, _) = try PNG.decode(png)
        #expect(image.channels == 4)
        #expect(image.pixels == [77, 77, 77, 0, 0, 0, 0, 255, 255, 255, 255, 255, 77, 77, 77, 0])
    }

    @Test func sixteenBitRGBAWithAdam7() throws {
        let (w, h) = (10, 9)
        let f: (Int, Int) -> [Int] = { x, y in [x * 6000 + y, y * 7000, 65535 - x * y * 300, (x ^ y) * 4000] }
        let png = ReferencePNG.make(width: w, height: h, bitDepth: 16, colorType: 6, interlaced: true, filters: [4, 3, 1, 2, 0], pixel: f)
        #expect(try PNG.header(of: png).interlaced)
        let (image, _) = try PNG.decode16(png)
        #expect(image.channels == 4)
        for y in 0..<h { for x in 0..<w { for c in 0..<4 { #expect(Int(image[x: x, y: y, c: c]) == f(x, y)[c]) } } }
    }

    @Test(arguments: [(1, 1), (3, 2), (8, 8), (9, 17)])
    func interlacedRGBMatchesProgressive(size: (Int, Int)) throws {
        let f: (Int, Int) -> [Int] = { x, y in [(x * 31) & 255, (y * 17) & 255, (x * y) & 255] }
        let a = ReferencePNG.make(width: size.0, height: size.1, bitDepth: 8, colorType: 2, interlaced: true, filters: [1, 4], pixel: f)
        let (image, _) = try PNG.decode(a)
        #expect(image.pixels == (0..<(size.0 * size.1)).flatMap { i in f(i % size.0, i / size.0).map { UInt8($0) } })
    }
}

@Suite struct PNGHostileInputTests {
    let valid: [UInt8] = try! PNG.encode(
        Image(width: 8, height: 6, channels: 3, pixels: randomBytes(144, seed: 11)), text: ["k": "value"])

    @Test func everyTruncationThrows() throws {
        for n in 0..<valid.count {
            let e = imagingError { _ = try PNG.decode(Array(valid.prefix(n))) }
            #expect(e?.kind == (n == 0 ? .notPNG : .corrupt), "prefix of \(n) bytes: \(String(describing: e))")
        }
        #expect(try PNG.decode(valid).image.width == 8)
    }

    @Test func flippedIDATByteIsACRCError() throws {
        let idat = try #require(ReferencePNG.chunks(valid).first { $0.type == "IDAT" })
        var bad = valid
        bad[idat.start + idat.length / 2] ^= 0x40
        // zlib sees the damage before the chunk's CRC is checked, so libpng names IDAT's stream.
        let e = imagingError { _ = try PNG.decode(bad) }
        #expect(e?.kind == .corrupt)
        #expect(e?.message.contains("IDAT") == true, "\(String(describing: e))")
        // A flipped byte in an ancillary chunk is caught by its CRC (not silently dropped).
        let text = try #require(ReferencePNG.chunks(valid).first { $0.type == "tEXt" })
        var badText = valid
        badText[text.start + text.length - 1] ^= 0x01
        let e2 = imagingError { _ = try PNG.decode(badText) }
        #expect(e2?.kind == .corrupt)
        #expect(e2?.message.contains("CRC") == true, "\(String(describing: e2))")
        // With the CRC repaired the zlib stream is still damaged: an error, not garbage or a crash.
        ReferencePNG.fixCRCs(&bad)
        do { _ = try PNG.decode(bad) } catch let error as ImagingError { #expect(error.kind == .corrupt) }
    }

    @Test func absurdDimensionsFailFastNamingTheLimit() throws {
        for (w, h, limitText) in [(100_000, 100_000, "65536"), (8193, 8193, "67108864"), (70_000, 1, "65536")] {
            var png = ReferencePNG.make(width: 1, height: 1, bitDepth: 8, colorType: 6) { _, _ in [1, 2, 3, 4] }
            png.replaceSubrange(16..<24, with: ReferencePNG.be32(UInt32(w)) + ReferencePNG.be32(UInt32(h)))
            ReferencePNG.fixCRCs(&png)
            let start = Date()
            let e = imagingError { _ = try PNG.decode(png) }
            #expect(Date().timeIntervalSince(start) < 0.5)
            #expect(e?.kind == .tooLarge)
            #expect(e?.message.contains(limitText) == true, "\(String(describing: e))")
            #expect(e?.message.contains("\(w)x\(h)") == true)
        }
        // Width over 2^31 is invalid by the spec; must still be a clean error.
        var huge = ReferencePNG.make(width: 1, height: 1, bitDepth: 8, colorType: 0) { _, _ in [0] }
        huge.replaceSubrange(16..<20, with: [0xFF, 0xFF, 0xFF, 0xFF])
        ReferencePNG.fixCRCs(&huge)
        #expect(imagingError { _ = try PNG.decode(huge) }?.kind == .tooLarge)
        // Custom limits apply too.
        let small = PNG.Limits(maxSide: 4, maxPixels: 100)
        #expect(imagingError { _ = try PNG.decode(valid, limits: small) }?.kind == .tooLarge)
    }

    @Test func notPNGEmptyAndMissing() throws {
        #expect(imagingError { _ = try PNG.decode([]) }?.kind == .notPNG)
        #expect(imagingError { _ = try PNG.decode(Array("GIF89a not a png at all, just text".utf8)) }?.kind == .notPNG)
        #expect(imagingError { _ = try PNG.decode([0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 0x4A, 0x46, 0x49, 0x46]) }?.kind == .notPNG)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = dir + "/missing.png"
        let e = imagingError { _ = try PNG.read(missing) }
        #expect(e?.kind == .fileNotFound)
        #expect(e?.description.hasPrefix(missing) == true)
        let empty = dir + "/empty.png"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        let e2 = imagingError { _ = try PNG.read(empty) }
        #expect(e2?.kind == .notPNG)
        #expect(e2?.path == empty)
        #expect(imagingError { _ = try PNG.read(dir) }?.kind == .io)
        let big = dir + "/big.png"
        try PNG.write(Image(width: 64, height: 64, channels: 3, pixels: randomBytes(64 * 64 * 3, seed: 2)), to: big)
        #expect(imagingError { _ = try PNG.read(big, limits: PNG.Limits(maxFileBytes: 100)) }?.kind == .tooLarge)
    }

    @Test func seededMutationsNeverCrash() throws {
        var rng = Philox(seed: 2024)
        let base = try PNG.encode(Image(width: 5, height: 4, channels: 4, pixels: randomBytes(80, seed: 5)), text: ["a": "b"])
        var decoded = 0, failed = 0
        for round in 0..<1000 {
            var png = base
            for _ in 0..<(1 + rng.int(below: 3)) {
                let i = rng.int(below: png.count)
                switch rng.int(below: 5) {
                case 0: png[i] ^= UInt8(1 << rng.int(below: 8))
                case 1: png[i] = UInt8(truncatingIfNeeded: rng.next())
                case 2: png.removeSubrange(i..<min(png.count, i + 1 + rng.int(below: 8)))
                case 3: png.insert(contentsOf: randomBytes(1 + rng.int(below: 8), seed: UInt64(round)), at: i)
                default: png = Array(png.prefix(i))
                }
                if png.isEmpty { png = [0] }
            }
            // Half the time repair CRCs so the mutation reaches the decoder, not just the checksum.
            if rng.int(below: 2) == 0 { ReferencePNG.fixCRCs(&png) }
            do {
                let (image, _) = try PNG.decode(png)
                #expect(image.pixels.count == image.width * image.height * image.channels)
                decoded += 1
            } catch is ImagingError {
                failed += 1
            }
        }
        #expect(decoded + failed == 1000)
        #expect(failed > 0)
    }
}

@Suite struct PNGFileTests {
    @Test func writeReadAtomicallyWithoutLeftovers() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.png"
        let a = try Image(width: 9, height: 4, channels: 4, pixels: randomBytes(144, seed: 8))
        try PNG.write(a, text: ["tedi.graph": "x: 1"], to: path)
        let (back, text) = try PNG.read(path)
        #expect(back == a)
        #expect(text == ["tedi.graph": "x: 1"])
        // Overwrite in place, then a failing write leaves the last good file alone.
        let b = try Image(width: 3, height: 3, channels: 1, fill: 200)
        try PNG.write(b, to: path)
        #expect(try PNG.read(path).image == b)
        #expect(imagingError { try PNG.write(a, text: ["bad  key": "v"], to: path) }?.kind == .invalidArgument)
        #expect(try PNG.read(path).image == b)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.png"])
        // 16-bit and indexed files go through the same path.
        let wide = try Image16(width: 2, height: 1, channels: 1, pixels: [1, 60000])
        try PNG.write(wide, to: dir + "/w.png")
        #expect(try PNG.read16(dir + "/w.png").image == wide)
        try PNG.writeIndexed(indices: b.grayscale(), palette: Array(repeating: PNG.RGBA(1, 2, 3), count: 201), to: dir + "/i.png")
        #expect(try PNG.readIndexed(dir + "/i.png").indices == b)
    }

    @Test func writingIntoAMissingDirectoryFailsCleanly() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let e = imagingError { try PNG.write(Image(width: 1, height: 1, channels: 1), to: dir + "/nope/out.png") }
        #expect(e?.kind == .io)
        #expect(e?.description.contains("does not exist") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        #expect(imagingError { try PNG.write(Image(width: 1, height: 1, channels: 1), to: dir + "/") }?.kind == .invalidArgument)
    }
}
