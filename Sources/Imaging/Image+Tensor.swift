import TensorCore

/// How 8-bit samples map to tensor values.
public enum PixelRange: Sendable {
    /// [0, 255] -> [-1, 1]: x / 127.5 - 1; back: round((x + 1) * 127.5). The generator's range.
    case signed
    /// [0, 255] -> [0, 1]: x / 255; back: round(x * 255). For masks and sketches.
    case unit

    @inline(__always) func toFloat(_ v: UInt8) -> Float {
        switch self {
        case .signed: return Float(v) / 127.5 - 1
        case .unit: return Float(v) / 255
        }
    }

    /// Rounds half away from zero and clamps to 0...255; NaN becomes 0.
    @inline(__always) func toByte(_ x: Float) -> UInt8 {
        let y: Float
        switch self {
        case .signed: y = ((x + 1) * 127.5).rounded()
        case .unit: y = (x * 255).rounded()
        }
        guard y > 0 else { return 0 }  // also catches NaN
        return y >= 255 ? 255 : UInt8(y)
    }
}

extension Image {
    /// The image as a (1, C, H, W) Float32 tensor with samples mapped by `range`.
    public func tensor(range: PixelRange = .signed) -> Tensor {
        // (C, H, W) planar from (H, W, C) interleaved.
        let plane = width * height
        var scalars = [Float](repeating: 0, count: plane * channels)
        let c = channels
        scalars.withUnsafeMutableBufferPointer { dst in
            pixels.withUnsafeBufferPointer { src in
                for ch in 0..<c {
                    let out = dst.baseAddress! + ch * plane
                    for i in 0..<plane { out[i] = range.toFloat(src[i * c + ch]) }
                }
            }
        }
        // Sizes were validated when the image was made, so this cannot fail.
        return try! Tensor(shape: [1, channels, height, width], scalars: scalars)
    }

    /// An image from a (1, C, H, W) or (C, H, W) tensor, C in {1, 3, 4}, values mapped back by
    /// `range` with rounding and clamping (NaN becomes 0).
    public init(tensor: Tensor, range: PixelRange = .signed) throws {
        let shape = tensor.shape
        guard shape.count == 3 || (shape.count == 4 && shape[0] == 1) else {
            throw ImagingError(.invalidArgument,
                               "an image tensor has shape (1, C, H, W) or (C, H, W), got \(shape); use Image.images(from:) for batches")
        }
        let dims = Array(shape.suffix(3))
        self = try Image.fromPlanes(tensor.scalars, offset: 0, channels: dims[0], height: dims[1], width: dims[2], range: range)
    }

    /// One image per batch entry of an (N, C, H, W) tensor.
    public static func images(from batch: Tensor, range: PixelRange = .signed) throws -> [Image] {
        guard batch.shape.count == 4 else {
            throw ImagingError(.invalidArgument, "a batch of images has shape (N, C, H, W), got \(batch.shape)")
        }
        let (n, c, h, w) = (batch.shape[0], batch.shape[1], batch.shape[2], batch.shape[3])
        return try (0..<n).map { i in
            try fromPlanes(batch.scalars, offset: i * c * h * w, channels: c, height: h, width: w, range: range)
        }
    }

    static func fromPlanes(_ scalars: [Float], offset: Int, channels c: Int, height: Int, width: Int,
                           range: PixelRange) throws -> Image {
        var image = try Image(width: width, height: height, channels: c)
        let plane = width * height
        scalars.withUnsafeBufferPointer { src in
            image.withUnsafeMutablePixels { dst in
                for ch in 0..<c {
                    let input = src.baseAddress! + offset + ch * plane
                    for i in 0..<plane { dst[i * c + ch] = range.toByte(input[i]) }
                }
            }
        }
        return image
    }
}

extension Tensor {
    /// Stacks images of equal size and channel count into an (N, C, H, W) tensor mapped by `range`.
    public init(images: [Image], range: PixelRange = .signed) throws {
        guard let first = images.first else {
            throw ImagingError(.invalidArgument, "cannot make a tensor from an empty list of images")
        }
        for (i, image) in images.enumerated()
        where image.width != first.width || image.height != first.height || image.channels != first.channels {
            throw ImagingError(.invalidArgument,
                               "image \(i) is \(image.width)x\(image.height)x\(image.channels) but image 0 is \(first.width)x\(first.height)x\(first.channels); resize or convert them to one size first")
        }
        var scalars: [Float] = []
        scalars.reserveCapacity(images.count * first.pixels.count)
        for image in images { scalars += image.tensor(range: range).scalars }
        self = try Tensor(shape: [images.count, first.channels, first.height, first.width], scalars: scalars)
    }
}
