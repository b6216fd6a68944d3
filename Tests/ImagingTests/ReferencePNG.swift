/// A tiny PNG writer written from the spec (RFC 2083 / PNG 1.2), independent of libpng and of
/// the Imaging module: CRC-32 and Adler-32 by hand, zlib with stored (uncompressed) deflate
/// blocks, all five scanline filters, sub-byte packing and Adam7 interlacing. Used to check that
/// the reader decodes what the spec says, not merely what our own writer produces.
enum ReferencePNG {
    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes {
            a = (a + UInt32(x)) % 65521
            b = (b + a) % 65521
        }
        return (b << 16) | a
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// A zlib stream of stored deflate blocks of at most `blockSize` bytes.
    static func zlibStored(_ data: [UInt8], blockSize: Int = 65535) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var i = 0
        repeat {
            let n = min(blockSize, data.count - i)
            let final: UInt8 = i + n >= data.count ? 1 : 0
            out.append(final)  // BFINAL, BTYPE = 00 (stored)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[i..<(i + n)]
            i += n
        } while i < data.count
        return out + be32(adler32(data))
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeAndData = Array(type.utf8) + data
        return be32(UInt32(data.count)) + typeAndData + be32(crc32(typeAndData))
    }

    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    static func ihdr(width: Int, height: Int, bitDepth: Int, colorType: Int, interlaced: Bool) -> [UInt8] {
        chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height))
            + [UInt8(bitDepth), UInt8(colorType), 0, 0, interlaced ? 1 : 0])
    }

    /// Packs one row of samples (each < 2^depth) MSB first, as PNG scanlines store them.
    static func packRow(_ samples: [Int], depth: Int) -> [UInt8] {
        switch depth {
        case 16: return samples.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        case 8: return samples.map { UInt8($0) }
        default:
            var out = [UInt8](repeating: 0, count: (samples.count * depth + 7) / 8)
            for (i, s) in samples.enumerated() {
                let bit = i * depth
                out[bit / 8] |= UInt8(s << (8 - depth - bit % 8))
            }
            return out
        }
    }

    static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    /// Filters rows (filter type cycles through `filters`) and prefixes each with its type byte.
    static func filtered(_ rows: [[UInt8]], bytesPerPixel bpp: Int, filters: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        var previous = [UInt8](repeating: 0, count: rows.first?.count ?? 0)
        for (r, row) in rows.enumerated() {
            let f = filters[r % filters.count]
            out.append(UInt8(f))
            for i in 0..<row.count {
                let a = i >= bpp ? Int(row[i - bpp]) : 0
                let b = Int(previous[i])
                let c = i >= bpp ? Int(previous[i - bpp]) : 0
                let predictor: Int
                switch f {
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4: predictor = paeth(a, b, c)
                default: predictor = 0
                }
                out.append(UInt8((Int(row[i]) - predictor) & 0xFF))
            }
            previous = row
        }
        return out
    }

    /// A complete PNG. `pixel(x, y)` gives the samples of one pixel as stored (palette index,
    /// gray, RGB, …). `before` chunks go between IHDR and IDAT, `after` chunks after IDAT;
    /// `idatSplit` cuts the zlib stream into several IDAT chunks of at most that many bytes.
    static func make(width: Int, height: Int, bitDepth: Int, colorType: Int, interlaced: Bool = false,
                     filters: [Int] = [0], before: [[UInt8]] = [], after: [[UInt8]] = [],
                     idatSplit: Int = 1 << 30, pixel: (Int, Int) -> [Int]) -> [UInt8] {
        let samplesPerPixel = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]!
        let bpp = max(1, samplesPerPixel * bitDepth / 8)
        var raw: [UInt8] = []
        let passes: [(Int, Int, Int, Int)] = interlaced
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)]
        for (x0, y0, dx, dy) in passes {
            let xs = Array(stride(from: x0, to: width, by: dx)), ys = Array(stride(from: y0, to: height, by: dy))
            if xs.isEmpty || ys.isEmpty { continue }
            let rows = ys.map { y in packRow(xs.flatMap { x in pixel(x, y) }, depth: bitDepth) }
            raw += filtered(rows, bytesPerPixel: bpp, filters: filters)
        }
        let z = zlibStored(raw, blockSize: 1000)
        var idat: [UInt8] = []
        var i = 0
        while i < z.count {
            let n = min(idatSplit, z.count - i)
            idat += chunk("IDAT", Array(z[i..<(i + n)]))
            i += n
        }
        return signature + ihdr(width: width, height: height, bitDepth: bitDepth, colorType: colorType, interlaced: interlaced)
            + before.joined() + idat + after.joined() + chunk("IEND", [])
    }

    /// tEXt: Latin-1 keyword and value bytes.
    static func tEXt(_ key: [UInt8], _ value: [UInt8]) -> [UInt8] { chunk("tEXt", key + [0] + value) }

    /// zTXt with the value in a stored zlib stream.
    static func zTXt(_ key: [UInt8], _ value: [UInt8]) -> [UInt8] { chunk("zTXt", key + [0, 0] + zlibStored(value)) }

    /// Uncompressed iTXt with empty language tag and translated keyword.
    static func iTXt(_ key: [UInt8], _ utf8: [UInt8]) -> [UInt8] { chunk("iTXt", key + [0, 0, 0, 0, 0] + utf8) }

    /// Chunk (type, data start, data length) of a PNG file, walking the chunk list.
    static func chunks(_ png: [UInt8]) -> [(type: String, start: Int, length: Int)] {
        var out: [(String, Int, Int)] = []
        var p = 8
        while p + 12 <= png.count {
            let n = Int(png[p]) << 24 | Int(png[p + 1]) << 16 | Int(png[p + 2]) << 8 | Int(png[p + 3])
            let type = String(decoding: png[(p + 4)..<(p + 8)], as: UTF8.self)
            out.append((type, p + 8, n))
            p += 12 + n
        }
        return out
    }

    /// Recomputes the CRC of every chunk whose extent lies inside the file (after a mutation).
    static func fixCRCs(_ png: inout [UInt8]) {
        for c in chunks(png) where c.start + c.length + 4 <= png.count {
            let crc = be32(crc32(png[(c.start - 4)..<(c.start + c.length)]))
            png.replaceSubrange((c.start + c.length)..<(c.start + c.length + 4), with: crc)
        }
    }
}
