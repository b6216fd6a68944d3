import CPNGShim

/// PNG reading and writing through libpng (errors are contained in the C shim `CPNGShim`).
///
/// Decoding expands every PNG to 1 (gray), 3 (RGB) or 4 (RGBA) channels: palettes become RGB, or
/// RGBA when they have tRNS; gray+alpha and gray with tRNS become RGBA; 1/2/4-bit gray is scaled
/// to 8 bits; interlacing is undone. Gamma and colour-space chunks are ignored (samples are used
/// as stored). Dimensions are checked against `Limits` from the IHDR before any pixel memory
/// is allocated.
///
/// Text: `text` maps keyword to value. Values that are pure ASCII are written as tEXt; any other
/// value is written as an uncompressed iTXt chunk in UTF-8 (so it survives exactly). On reading,
/// tEXt and zTXt are decoded as Latin-1 (as the PNG spec says) and iTXt as UTF-8; when a keyword
/// occurs twice the later chunk wins. Keywords must be 1-79 printable ASCII characters without
/// leading, trailing or double spaces; values must not contain NUL and are at most
/// `maxTextValueBytes` UTF-8 bytes (libpng refuses to read larger chunks).
///
/// Encoding is deterministic: keys are written sorted, with a fixed compression level and no
/// tIME chunk, so equal images and text give equal bytes (for a given libpng/zlib).
public enum PNG {
    /// Size limits applied when reading; anything over them is refused with `.tooLarge`.
    public struct Limits: Sendable, Equatable {
        /// Largest accepted width or height.
        public var maxSide: Int
        /// Largest accepted width * height.
        public var maxPixels: Int
        /// Largest accepted file size for `read`.
        public var maxFileBytes: Int

        public init(maxSide: Int = 1 << 16, maxPixels: Int = Image.maxPixelCount, maxFileBytes: Int = 1 << 30) {
            self.maxSide = maxSide
            self.maxPixels = maxPixels
            self.maxFileBytes = maxFileBytes
        }

        /// 65536 pixels per side, 64 Mpx (8192 x 8192) in total, 1 GiB files.
        public static let standard = Limits()
    }

    /// The PNG colour types (IHDR byte 9).
    public enum ColorType: UInt8, Sendable {
        case gray = 0, rgb = 2, palette = 3, grayAlpha = 4, rgba = 6
    }

    /// What the IHDR chunk says about an image.
    public struct Header: Equatable, Sendable {
        public var width: Int
        public var height: Int
        /// Bits per sample (or per palette index): 1, 2, 4, 8 or 16.
        public var bitDepth: Int
        public var colorType: ColorType
        public var interlaced: Bool
    }

    /// One palette entry (alpha 255 when the file has no tRNS entry for it).
    public struct RGBA: Equatable, Hashable, Sendable {
        public var r, g, b, a: UInt8
        public init(_ r: UInt8, _ g: UInt8, _ b: UInt8, _ a: UInt8 = 255) {
            self.r = r; self.g = g; self.b = b; self.a = a
        }
    }

    /// Largest text value (in UTF-8 bytes) that `encode` accepts.
    public static let maxTextValueBytes = 4_000_000

    /// The zlib level used for every PNG written (fixed so output bytes are reproducible).
    public static let compressionLevel: Int32 = 6

    /// The version of libpng in use.
    public static var libpngVersion: String { String(cString: cpng_libpng_version()) }

    // MARK: Reading

    /// Parses only the signature and IHDR chunk.
    public static func header(of bytes: [UInt8], path: String? = nil) throws -> Header {
        var w: UInt32 = 0, h: UInt32 = 0, depth: UInt32 = 0, color: UInt32 = 0, interlace: UInt32 = 0
        var message = messageBuffer()
        let ok = bytes.withUnsafeBufferPointer {
            cpng_read_header($0.baseAddress, $0.count, &w, &h, &depth, &color, &interlace, &message)
        }
        guard ok != 0 else {
            let notPNG = bytes.isEmpty || !bytes.prefix(8).elementsEqual(signature.prefix(min(bytes.count, 8)))
            throw ImagingError(notPNG ? .notPNG : .corrupt, path: path, text(message))
        }
        guard let type = ColorType(rawValue: UInt8(truncatingIfNeeded: color)), color <= 6 else {
            throw ImagingError(.corrupt, path: path, "corrupt PNG: unknown colour type \(color) in IHDR")
        }
        return Header(width: Int(w), height: Int(h), bitDepth: Int(depth), colorType: type, interlaced: interlace != 0)
    }

    /// Decodes PNG bytes to an 8-bit image (16-bit files are rounded to 8 bits) and its text chunks.
    public static func decode(_ bytes: [UInt8], limits: Limits = .standard, path: String? = nil) throws -> (image: Image, text: [String: String]) {
        let raw = try decodeRaw(bytes, limits: limits, keepIndices: false, path: path)
        let image = raw.samples16.isEmpty
            ? Image(unchecked: raw.width, raw.height, raw.channels, raw.samples8)
            : Image(Image16(unchecked: raw.width, raw.height, raw.channels, raw.samples16))
        return (image, raw.text)
    }

    /// Decodes PNG bytes to a 16-bit image (8-bit files are widened exactly, v * 257).
    public static func decode16(_ bytes: [UInt8], limits: Limits = .standard, path: String? = nil) throws -> (image: Image16, text: [String: String]) {
        let raw = try decodeRaw(bytes, limits: limits, keepIndices: false, path: path)
        let image = raw.samples16.isEmpty
            ? Image16(Image(unchecked: raw.width, raw.height, raw.channels, raw.samples8))
            : Image16(unchecked: raw.width, raw.height, raw.channels, raw.samples16)
        return (image, raw.text)
    }

    /// Decodes a palette PNG to its indices (a 1-channel image) and palette, e.g. for label maps.
    /// Throws `.invalidArgument` when the file is not a palette image.
    public static func decodeIndexed(_ bytes: [UInt8], limits: Limits = .standard, path: String? = nil) throws -> (indices: Image, palette: [RGBA], text: [String: String]) {
        let raw = try decodeRaw(bytes, limits: limits, keepIndices: true, path: path)
        guard raw.colorType == 3 else {
            throw ImagingError(.invalidArgument, path: path,
                               "not a palette PNG (colour type \(raw.colorType)); decode it as an ordinary image instead")
        }
        return (Image(unchecked: raw.width, raw.height, 1, raw.samples8), raw.palette, raw.text)
    }

    /// Reads and decodes the PNG file at `path` as 8-bit (see `decode`).
    public static func read(_ path: String, limits: Limits = .standard) throws -> (image: Image, text: [String: String]) {
        try decode(ImageFiles.read(path, maxBytes: limits.maxFileBytes), limits: limits, path: path)
    }

    /// Reads and decodes the PNG file at `path` as 16-bit (see `decode16`).
    public static func read16(_ path: String, limits: Limits = .standard) throws -> (image: Image16, text: [String: String]) {
        try decode16(ImageFiles.read(path, maxBytes: limits.maxFileBytes), limits: limits, path: path)
    }

    /// Reads a palette PNG file as indices and palette (see `decodeIndexed`).
    public static func readIndexed(_ path: String, limits: Limits = .standard) throws -> (indices: Image, palette: [RGBA], text: [String: String]) {
        try decodeIndexed(ImageFiles.read(path, maxBytes: limits.maxFileBytes), limits: limits, path: path)
    }

    // MARK: Writing

    /// Encodes an 8-bit image (1, 3 or 4 channels) with text chunks.
    public static func encode(_ image: Image, text: [String: String] = [:]) throws -> [UInt8] {
        try image.pixels.withUnsafeBytes { raw in
            try encodeRaw(raw, image.width, image.height, image.channels, 8, palette: [], text: text)
        }
    }

    /// Encodes a 16-bit image (1, 3 or 4 channels) with text chunks.
    public static func encode(_ image: Image16, text: [String: String] = [:]) throws -> [UInt8] {
        try image.pixels.withUnsafeBytes { raw in
            try encodeRaw(raw, image.width, image.height, image.channels, 16, palette: [], text: text)
        }
    }

    /// Encodes a palette PNG: `indices` is a 1-channel image of indices into `palette` (1-256 entries).
    public static func encodeIndexed(indices: Image, palette: [RGBA], text: [String: String] = [:]) throws -> [UInt8] {
        guard indices.channels == 1 else {
            throw ImagingError(.invalidArgument, "palette indices must be a 1-channel image, got \(indices.channels) channels")
        }
        guard (1...256).contains(palette.count) else {
            throw ImagingError(.invalidArgument, "a palette has 1 to 256 colours, got \(palette.count)")
        }
        if let bad = indices.pixels.first(where: { Int($0) >= palette.count }) {
            throw ImagingError(.invalidArgument, "index \(bad) is outside the palette of \(palette.count) colours")
        }
        return try indices.pixels.withUnsafeBytes { raw in
            try encodeRaw(raw, indices.width, indices.height, 1, 8, palette: palette, text: text)
        }
    }

    /// Encodes and writes `image` to `path` atomically (temp file in the same directory + rename).
    public static func write(_ image: Image, text: [String: String] = [:], to path: String) throws {
        try ImageFiles.writeAtomically(encode(image, text: text), to: path)
    }

    /// Encodes and writes a 16-bit image to `path` atomically.
    public static func write(_ image: Image16, text: [String: String] = [:], to path: String) throws {
        try ImageFiles.writeAtomically(encode(image, text: text), to: path)
    }

    /// Encodes and writes a palette image to `path` atomically.
    public static func writeIndexed(indices: Image, palette: [RGBA], text: [String: String] = [:], to path: String) throws {
        try ImageFiles.writeAtomically(encodeIndexed(indices: indices, palette: palette, text: text), to: path)
    }

    // MARK: Internals

    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    struct Raw {
        var width = 0, height = 0, channels = 0
        var colorType = 0
        var samples8: [UInt8] = []
        /// Non-empty exactly when the decoded samples are 16-bit.
        var samples16: [UInt16] = []
        var palette: [RGBA] = []
        var text: [String: String] = [:]
    }

    static func messageBuffer() -> [CChar] { [CChar](repeating: 0, count: Int(CPNG_MESSAGE_CAPACITY)) }

    static func text(_ message: [CChar]) -> String {
        let bytes = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func decodeRaw(_ bytes: [UInt8], limits: Limits, keepIndices: Bool, path: String?) throws -> Raw {
        let header = try header(of: bytes, path: path)
        let sideLimit = min(max(limits.maxSide, 0), Int(Int32.max))
        let pixelLimit = min(max(limits.maxPixels, 0), Image.maxPixelCount)
        if header.width > sideLimit || header.height > sideLimit || header.width * header.height > pixelLimit {
            throw ImagingError(.tooLarge, path: path,
                               "image is \(header.width)x\(header.height) pixels, over the limit of \(sideLimit) pixels per side and \(pixelLimit) pixels in total; refusing to decode it")
        }
        var options = cpng_decode_options(max_side: UInt32(sideLimit), max_pixels: UInt64(pixelLimit),
                                          keep_palette_indices: keepIndices ? 1 : 0)
        var out = cpng_decoded()
        var message = messageBuffer()
        let ok = bytes.withUnsafeBufferPointer { cpng_decode($0.baseAddress, $0.count, &options, &out, &message) }
        defer { cpng_decoded_free(&out) }
        guard ok != 0 else {
            throw ImagingError(.corrupt, path: path, "corrupt or unsupported PNG: \(text(message))")
        }
        var raw = Raw()
        raw.width = Int(out.width)
        raw.height = Int(out.height)
        raw.channels = Int(out.channels)
        raw.colorType = Int(out.source_color_type)
        let count = raw.width * raw.height * raw.channels
        if out.bit_depth == 16 {
            guard out.pixels_size == count * 2 else { throw ImagingError(.corrupt, path: path, "decoder returned a wrong pixel count") }
            raw.samples16 = [UInt16](unsafeUninitializedCapacity: count) { buffer, n in
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: out.pixels, byteCount: count * 2)
                n = count
            }
        } else {
            guard out.pixels_size == count else { throw ImagingError(.corrupt, path: path, "decoder returned a wrong pixel count") }
            raw.samples8 = [UInt8](UnsafeBufferPointer(start: out.pixels, count: count))
        }
        for i in 0..<out.palette_count {
            let p = out.palette + 4 * i
            raw.palette.append(RGBA(p[0], p[1], p[2], p[3]))
        }
        for i in 0..<out.text_count {
            let entry = out.texts[i]
            let keyBytes = UnsafeBufferPointer(start: UnsafeRawPointer(entry.key).assumingMemoryBound(to: UInt8.self),
                                               count: strlenBytes(entry.key))
            let valueBytes = UnsafeBufferPointer(start: UnsafeRawPointer(entry.value).assumingMemoryBound(to: UInt8.self),
                                                 count: entry.value_length)
            let key = latin1(keyBytes)
            raw.text[key] = entry.utf8 != 0 ? String(decoding: valueBytes, as: UTF8.self) : latin1(valueBytes)
        }
        return raw
    }

    static func strlenBytes(_ p: UnsafePointer<CChar>) -> Int {
        var n = 0
        while p[n] != 0 { n += 1 }
        return n
    }

    static func latin1<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(b)) }
        return String(s)
    }

    /// Checks a keyword against the PNG rules we write (printable ASCII subset of Latin-1).
    static func validateKey(_ key: String) throws {
        let bytes = Array(key.utf8)
        let ok = (1...79).contains(bytes.count)
            && bytes.allSatisfy { (0x20...0x7E).contains($0) }
            && bytes.first != 0x20 && bytes.last != 0x20
            && !key.contains("  ")
        guard ok else {
            throw ImagingError(.invalidArgument,
                               "PNG text keyword \(String(reflecting: key)) is invalid: use 1-79 printable ASCII characters without leading, trailing or double spaces")
        }
    }

    static func encodeRaw(_ pixels: UnsafeRawBufferPointer, _ width: Int, _ height: Int, _ channels: Int, _ depth: Int,
                          palette: [RGBA], text: [String: String]) throws -> [UInt8] {
        var blob: [UInt8] = []
        var entries: [cpng_text_input] = []
        for key in text.keys.sorted() {
            try validateKey(key)
            let value = Array(text[key]!.utf8)
            guard !value.contains(0) else {
                throw ImagingError(.invalidArgument, "PNG text value for '\(key)' contains a NUL character, which PNG text cannot hold")
            }
            guard value.count <= maxTextValueBytes else {
                throw ImagingError(.invalidArgument, "PNG text value for '\(key)' is \(value.count) bytes, over the limit of \(maxTextValueBytes)")
            }
            let keyOffset = blob.count
            blob += key.utf8
            let valueOffset = blob.count
            blob += value
            entries.append(cpng_text_input(key_offset: keyOffset, key_length: key.utf8.count,
                                           value_offset: valueOffset, value_length: value.count,
                                           utf8: value.allSatisfy { $0 < 0x80 } ? 0 : 1))
        }
        let paletteBytes = palette.flatMap { [$0.r, $0.g, $0.b, $0.a] }
        var out = cpng_buffer()
        var message = messageBuffer()
        let ok = blob.withUnsafeBufferPointer { blobPointer in
            entries.withUnsafeBufferPointer { entryPointer in
                paletteBytes.withUnsafeBufferPointer { palettePointer in
                    cpng_encode(pixels.baseAddress, UInt32(width), UInt32(height), UInt32(channels), UInt32(depth),
                                palettePointer.baseAddress, palette.count,
                                blobPointer.baseAddress, entryPointer.baseAddress, entries.count,
                                compressionLevel, &out, &message)
                }
            }
        }
        defer { cpng_buffer_free(&out) }
        guard ok != 0 else {
            throw ImagingError(.invalidArgument, "cannot encode PNG: \(self.text(message))")
        }
        return [UInt8](UnsafeBufferPointer(start: out.data, count: out.size))
    }
}
