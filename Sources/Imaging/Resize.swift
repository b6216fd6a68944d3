import Dispatch
import TensorCore

/// How `resized` computes each output pixel.
public enum ResizeMethod: Sendable {
    /// Exact box average: each output pixel is the mean of the input area it covers, weighted by
    /// fractional overlap. Matches PyTorch `mode="area"` for integer factors; for other ratios it
    /// is the true area average (PyTorch's adaptive pooling uses whole-pixel bins instead).
    case area
    /// PyTorch `F.interpolate(mode="bilinear", align_corners=False, antialias=False)`.
    case bilinear
}

/// 1-D resampling weights: output i reads `weights[offsets[i]..<offsets[i+1]]` at input indices
/// `first[i]`, `first[i] + 1`, …
struct Taps {
    var first: [Int] = []
    var offsets: [Int] = [0]
    var weights: [Float] = []

    init(input: Int, output: Int, method: ResizeMethod) {
        for i in 0..<output {
            switch method {
            case .area:
                // In units of 1/(input*output): output i spans [i*input, (i+1)*input),
                // input j spans [j*output, (j+1)*output).
                let lo = i * input, hi = (i + 1) * input
                let j0 = lo / output, j1 = (hi - 1) / output
                first.append(j0)
                for j in j0...j1 {
                    let overlap = min(hi, (j + 1) * output) - max(lo, j * output)
                    weights.append(Float(Double(overlap) / Double(input)))
                }
            case .bilinear:
                let scale = Float(input) / Float(output)
                let src = max(scale * (Float(i) + 0.5) - 0.5, 0)
                let j0 = min(Int(src), input - 1)
                let lambda = src - Float(j0)
                first.append(j0)
                if j0 < input - 1 {
                    weights += [1 - lambda, lambda]
                } else {
                    weights.append(1)
                }
            }
            offsets.append(weights.count)
        }
    }
}

/// Runs `body` over `0..<n` in contiguous chunks on all cores (when there is enough work).
func concurrentChunks(_ n: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    let chunks = min(Threads.count, n / max(grain, 1))
    if chunks <= 1 {
        if n > 0 { body(0..<n) }
        return
    }
    let step = (n + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { k in
        let lo = k * step, hi = min(n, lo + step)
        if lo < hi { body(lo..<hi) }
    }
}

/// Separable resampling of `planes` images of (inH, inW) pixels with `interleave` samples each
/// (planar NCHW: interleave 1; HWC image: interleave C). Returns planes x outH x outW x interleave.
func resample(_ src: [Float], planes: Int, inH: Int, inW: Int, interleave: Int,
              outH: Int, outW: Int, method: ResizeMethod) -> [Float] {
    let tx = Taps(input: inW, output: outW, method: method)
    let ty = Taps(input: inH, output: outH, method: method)
    let k = interleave
    // Horizontal pass: tmp is planes x inH x outW x k.
    var tmp = [Float](repeating: 0, count: planes * inH * outW * k)
    src.withUnsafeBufferPointer { s in
        tmp.withUnsafeMutableBufferPointer { t in
            let sp = s.baseAddress!, tp = t.baseAddress!
            concurrentChunks(planes * inH, grain: max(1, 4096 / max(outW * k, 1))) { rows in
                for row in rows {
                    let input = sp + row * inW * k, output = tp + row * outW * k
                    for x in 0..<outW {
                        let j0 = tx.first[x], lo = tx.offsets[x], hi = tx.offsets[x + 1]
                        for c in 0..<k {
                            var acc: Float = 0
                            for t in lo..<hi { acc += tx.weights[t] * input[(j0 + t - lo) * k + c] }
                            output[x * k + c] = acc
                        }
                    }
                }
            }
        }
    }
    // Vertical pass over whole rows of outW * k samples.
    let rowLength = outW * k
    var out = [Float](repeating: 0, count: planes * outH * rowLength)
    tmp.withUnsafeBufferPointer { t in
        out.withUnsafeMutableBufferPointer { o in
            let tp = t.baseAddress!, op = o.baseAddress!
            concurrentChunks(planes * outH, grain: max(1, 4096 / max(rowLength, 1))) { rows in
                for row in rows {
                    let p = row / outH, y = row % outH
                    let j0 = ty.first[y], lo = ty.offsets[y], hi = ty.offsets[y + 1]
                    let output = op + row * rowLength
                    for t in lo..<hi {
                        let w = ty.weights[t]
                        let input = tp + (p * inH + j0 + t - lo) * rowLength
                        for i in 0..<rowLength { output[i] += w * input[i] }
                    }
                }
            }
        }
    }
    return out
}

func checkResizeTarget(width: Int, height: Int) throws {
    guard width > 0, height > 0 else {
        throw ImagingError(.invalidArgument, "resize target \(width)x\(height) must be positive")
    }
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    guard !overflow, pixels <= Image.maxPixelCount else {
        throw ImagingError(.tooLarge, "resize target \(width)x\(height) is over the limit of \(Image.maxPixelCount) pixels")
    }
}

extension Image {
    /// The image resampled to `width` x `height`; results are rounded half away from zero.
    public func resized(width newWidth: Int, height newHeight: Int, method: ResizeMethod) throws -> Image {
        try checkResizeTarget(width: newWidth, height: newHeight)
        if newWidth == width && newHeight == height { return self }
        let src = pixels.map { Float($0) }
        let out = resample(src, planes: 1, inH: height, inW: width, interleave: channels,
                           outH: newHeight, outW: newWidth, method: method)
        let bytes = out.map { v -> UInt8 in
            let r = v.rounded()
            return r <= 0 ? 0 : (r >= 255 ? 255 : UInt8(r))
        }
        return Image(unchecked: newWidth, newHeight, channels, bytes)
    }
}

extension Tensor {
    /// Resamples the last two dimensions of an (N, C, H, W) tensor to (height, width).
    /// Not differentiable: throws for a tensor that is being watched by a tape.
    public func resized(height newHeight: Int, width newWidth: Int, method: ResizeMethod) throws -> Tensor {
        guard shape.count == 4 else {
            throw ImagingError(.invalidArgument, "resize needs an (N, C, H, W) tensor, got shape \(shape)")
        }
        guard !isTracked else {
            throw ImagingError(.invalidArgument,
                               "resize is not differentiable; pass a detached tensor (tensor.detached) or resize outside the tape")
        }
        try checkResizeTarget(width: newWidth, height: newHeight)
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        guard h > 0, w > 0 else {
            throw ImagingError(.invalidArgument, "cannot resize an empty tensor of shape \(shape)")
        }
        if h == newHeight && w == newWidth { return self }
        let out = resample(scalars, planes: n * c, inH: h, inW: w, interleave: 1,
                           outH: newHeight, outW: newWidth, method: method)
        return try Tensor(shape: [n, c, newHeight, newWidth], scalars: out)
    }
}
