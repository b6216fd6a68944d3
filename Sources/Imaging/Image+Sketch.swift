extension Image {
    /// Sobel gradient magnitude of a gray image, normalised by its maximum, mapped to ink:
    /// 255 (white) below `threshold`, ramping linearly to 0 (black) over `softness`.
    public func sobelSketch(threshold: Double, softness: Double) throws -> Image {
        let gray = try withChannels(1)
        let w = gray.width, h = gray.height
        var mag = [Double](repeating: 0, count: w * h)
        func at(_ x: Int, _ y: Int) -> Double { Double(gray.pixels[min(max(y, 0), h - 1) * w + min(max(x, 0), w - 1)]) }
        var peak = 0.0
        for y in 0..<h {
            for x in 0..<w {
                let gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1)
                let gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1)
                let m = (gx * gx + gy * gy).squareRoot()
                mag[y * w + x] = m
                peak = max(peak, m)
            }
        }
        var px = [UInt8](repeating: 255, count: w * h)
        if peak > 0 {
            for i in px.indices {
                let e = mag[i] / peak
                let ink = softness > 0 ? min(max((e - threshold) / softness, 0), 1) : (e > threshold ? 1 : 0)
                px[i] = UInt8((255 * (1 - ink)).rounded())
            }
        }
        return try Image(width: w, height: h, channels: 1, pixels: px)
    }
}
