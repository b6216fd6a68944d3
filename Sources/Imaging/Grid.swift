extension Image {
    /// Tiles `images` row by row into one image, like torchvision's `make_grid`.
    ///
    /// Every cell is as large as the largest image; an image smaller than its cell is centred in it
    /// (offset rounded down). `padding` pixels of `background` surround every cell, so the result is
    /// `cols * (cellW + padding) + padding` wide with `cols = min(columns, images.count)`, and image
    /// `k` starts at (padding + (k % cols) * (cellW + padding), padding + (k / cols) * (cellH + padding)).
    /// Images are converted to the largest channel count among them (see `withChannels`).
    /// `background` holds one sample (used for every channel) or one per output channel.
    public static func grid(_ images: [Image], columns: Int, padding: Int = 2, background: [UInt8] = [0]) throws -> Image {
        guard !images.isEmpty else { throw ImagingError(.invalidArgument, "a grid needs at least one image") }
        guard columns > 0 else { throw ImagingError(.invalidArgument, "grid columns must be positive, got \(columns)") }
        guard padding >= 0, padding <= 4096 else {
            throw ImagingError(.invalidArgument, "grid padding must be in 0...4096, got \(padding)")
        }
        let channels = images.map(\.channels).max()!
        guard background.count == 1 || background.count == channels else {
            throw ImagingError(.invalidArgument,
                               "grid background needs 1 or \(channels) samples, got \(background.count)")
        }
        let cellW = images.map(\.width).max()!, cellH = images.map(\.height).max()!
        let cols = min(columns, images.count)
        let rows = (images.count + cols - 1) / cols
        let (w1, o1) = cols.multipliedReportingOverflow(by: cellW + padding)
        let (h1, o2) = rows.multipliedReportingOverflow(by: cellH + padding)
        guard !o1, !o2 else { throw ImagingError(.tooLarge, "grid of \(images.count) images is too large") }
        let fill = background.count == 1 ? [UInt8](repeating: background[0], count: channels) : background
        var out = try Image(width: w1 + padding, height: h1 + padding, channels: channels)
        let pixelCount = out.width * out.height
        out.withUnsafeMutablePixels { dst in
            for i in 0..<pixelCount {
                for c in 0..<channels { dst[i * channels + c] = fill[c] }
            }
        }
        let rowStride = out.width * channels
        for (k, original) in images.enumerated() {
            let image = try original.withChannels(channels)
            let x0 = padding + (k % cols) * (cellW + padding) + (cellW - image.width) / 2
            let y0 = padding + (k / cols) * (cellH + padding) + (cellH - image.height) / 2
            let lineBytes = image.width * channels
            image.pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutablePixels { dst in
                    for y in 0..<image.height {
                        let from = src.baseAddress! + y * lineBytes
                        let to = dst.baseAddress! + (y0 + y) * rowStride + x0 * channels
                        to.update(from: from, count: lineBytes)
                    }
                }
            }
        }
        return out
    }
}
