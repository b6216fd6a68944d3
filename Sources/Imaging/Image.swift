/// An 8-bit image: `height` rows of `width` pixels, `channels` interleaved samples per pixel.
///
/// Channels are 1 (gray), 3 (RGB) or 4 (RGBA, straight alpha). Storage is `pixels[(y * width + x)
/// * channels + c]`, rows top to bottom with no padding. 16-bit data has its own type, `Image16`;
/// `PNG.decode` converts 16-bit files to 8 bits with exact rounding (see `Image.init(_:Image16)`).
public struct Image: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// Interleaved samples, `width * height * channels` of them (HWC order).
    public private(set) var pixels: [UInt8]

    /// Largest `width * height` an image may have (64 Mpx, e.g. 8192 x 8192); larger requests throw.
    public static let maxPixelCount = 1 << 26

    /// Creates an image from interleaved samples (count must be width * height * channels).
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        let n = try Image.sampleCount(width: width, height: height, channels: channels)
        guard pixels.count == n else {
            throw ImagingError(.invalidArgument,
                               "a \(width)x\(height) image with \(channels) channels needs \(n) samples, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image with every sample set to `value`.
    public init(width: Int, height: Int, channels: Int, fill value: UInt8 = 0) throws {
        let n = try Image.sampleCount(width: width, height: height, channels: channels)
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = [UInt8](repeating: value, count: n)
    }

    /// For code that has computed a correctly sized buffer itself.
    init(unchecked width: Int, _ height: Int, _ channels: Int, _ pixels: [UInt8]) {
        assert(pixels.count == width * height * channels)
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// Checks dimensions and channel count; returns width * height * channels.
    static func sampleCount(width: Int, height: Int, channels: Int) throws -> Int {
        guard [1, 3, 4].contains(channels) else {
            throw ImagingError(.invalidArgument, "an image has 1, 3 or 4 channels, not \(channels)")
        }
        guard width > 0, height > 0 else {
            throw ImagingError(.invalidArgument, "image size \(width)x\(height) must be positive")
        }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixelCount else {
            throw ImagingError(.tooLarge,
                               "image size \(width)x\(height) is over the limit of \(maxPixelCount) pixels")
        }
        return pixels * channels
    }

    /// Sample `c` of the pixel at column `x`, row `y` (bounds-checked; for tests and small tools).
    public subscript(x x: Int, y y: Int, c c: Int) -> UInt8 {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height && c >= 0 && c < channels,
                         "pixel (\(x), \(y), \(c)) outside \(width)x\(height)x\(channels)")
            return pixels[(y * width + x) * channels + c]
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height && c >= 0 && c < channels,
                         "pixel (\(x), \(y), \(c)) outside \(width)x\(height)x\(channels)")
            pixels[(y * width + x) * channels + c] = newValue
        }
    }

    /// Gives `body` the samples to change in place (the count cannot change).
    public mutating func withUnsafeMutablePixels<R>(_ body: (UnsafeMutableBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try pixels.withUnsafeMutableBufferPointer { try body($0) }
    }
}

/// A 16-bit image, laid out like `Image` with `UInt16` samples (full range 0...65535).
public struct Image16: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// Interleaved samples, `width * height * channels` of them (HWC order).
    public private(set) var pixels: [UInt16]

    /// Creates an image from interleaved samples (count must be width * height * channels).
    public init(width: Int, height: Int, channels: Int, pixels: [UInt16]) throws {
        let n = try Image.sampleCount(width: width, height: height, channels: channels)
        guard pixels.count == n else {
            throw ImagingError(.invalidArgument,
                               "a \(width)x\(height) image with \(channels) channels needs \(n) samples, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    init(unchecked width: Int, _ height: Int, _ channels: Int, _ pixels: [UInt16]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// Widens 8-bit samples exactly: v -> v * 257 (0 -> 0, 255 -> 65535).
    public init(_ image: Image) {
        self.init(unchecked: image.width, image.height, image.channels, image.pixels.map { UInt16($0) &* 257 })
    }

    /// Sample `c` of the pixel at column `x`, row `y` (bounds-checked; for tests and small tools).
    public subscript(x x: Int, y y: Int, c c: Int) -> UInt16 {
        precondition(x >= 0 && x < width && y >= 0 && y < height && c >= 0 && c < channels,
                     "pixel (\(x), \(y), \(c)) outside \(width)x\(height)x\(channels)")
        return pixels[(y * width + x) * channels + c]
    }
}

extension Image {
    /// Narrows 16-bit samples to the nearest 8-bit value: round(v * 255 / 65535).
    public init(_ image: Image16) {
        // (v * 255 + 32767) / 65535 is round-half-up of v * 255 / 65535; ties cannot occur since 65535 is odd.
        self.init(unchecked: image.width, image.height, image.channels,
                  image.pixels.map { UInt8((UInt32($0) * 255 + 32767) / 65535) })
    }
}
