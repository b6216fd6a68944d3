extension Image {
    /// Luma as one channel: (19595 R + 38470 G + 7471 B + 32768) >> 16, i.e. ITU-R 601
    /// (0.299, 0.587, 0.114) rounded like PIL's `convert("L")`. Alpha is ignored.
    public func grayscale() -> Image {
        if channels == 1 { return self }
        let c = channels
        let n = width * height
        var out = [UInt8](repeating: 0, count: n)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    let r = UInt32(src[i * c]), g = UInt32(src[i * c + 1]), b = UInt32(src[i * c + 2])
                    dst[i] = UInt8((19595 * r + 38470 * g + 7471 * b + 32768) >> 16)
                }
            }
        }
        return Image(unchecked: width, height, 1, out)
    }

    /// The image with `count` channels (1, 3 or 4): gray is replicated to RGB, RGB gains an opaque
    /// alpha, RGBA drops its alpha (no compositing), and anything becomes gray by `grayscale()`.
    public func withChannels(_ count: Int) throws -> Image {
        guard [1, 3, 4].contains(count) else {
            throw ImagingError(.invalidArgument, "an image has 1, 3 or 4 channels, not \(count)")
        }
        if count == channels { return self }
        if count == 1 { return grayscale() }
        let n = width * height
        let c = channels
        var out = [UInt8](repeating: 255, count: n * count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    for k in 0..<3 { dst[i * count + k] = src[i * c + (c == 1 ? 0 : k)] }
                }
            }
        }
        return Image(unchecked: width, height, count, out)
    }
}
