import Foundation
import Imaging
import TensorCore

/// Turns SynthFaces' clean pencil sketches into ones like people draw or other tools make: thicker
/// or lighter strokes, strokes left out, stray strokes, a small offset, or Sobel edges of the photo
/// instead. The sketch and label encoders train on these so a hand-drawn sketch still reads.
public enum SketchAugment {
    /// What was done to one sketch (for tests and the eval's perturbed set).
    public struct Draw: Equatable, Sendable {
        public var edges = false
        public var thicken = 0
        public var lighten: Float = 1
        public var holes = 0
        public var strays = 0
        public var dx = 0, dy = 0
    }

    /// The random perturbation of draw `index` under `seed`; `probability` is the share perturbed at all.
    public static func draw(seed: UInt64, index: Int, probability: Float) -> Draw {
        var rng = Philox(seed: seed, stream: UInt64(index))
        var d = Draw()
        guard rng.uniform() < probability else { return d }
        d.edges = rng.uniform() < 0.25
        d.thicken = rng.uniform() < 0.4 ? 1 : 0
        d.lighten = rng.uniform() < 0.3 ? 0.5 + 0.4 * rng.uniform() : 1
        d.holes = rng.uniform() < 0.5 ? 1 + rng.int(below: 3) : 0
        d.strays = rng.uniform() < 0.4 ? 1 + rng.int(below: 2) : 0
        if rng.uniform() < 0.5 { d.dx = rng.int(below: 5) - 2; d.dy = rng.int(below: 5) - 2 }
        return d
    }

    /// Applies `d` to a sketch (`S·S` gray, 255 paper) drawn from a face `image` (`S·S·3` RGB, for
    /// the Sobel variant); `seed` places the holes and strays.
    public static func apply(_ d: Draw, sketch: [UInt8], image: [UInt8], size n: Int, seed: UInt64) throws -> [UInt8] {
        var ink: [Float]
        if d.edges {
            let photo = try Image(width: n, height: n, channels: 3, pixels: image).grayscale()
            ink = try photo.sobelSketch(threshold: 0.2, softness: 0.15).withChannels(1).pixels.map { 1 - Float($0) / 255 }
        } else {
            ink = sketch.map { 1 - Float($0) / 255 }
        }
        for _ in 0..<d.thicken {
            var t = ink
            for y in 0..<n {
                for x in 0..<n {
                    var m: Float = 0
                    for yy in max(0, y - 1)...min(n - 1, y + 1) { for xx in max(0, x - 1)...min(n - 1, x + 1) { m = max(m, ink[yy * n + xx]) } }
                    t[y * n + x] = max(ink[y * n + x], 0.9 * m)
                }
            }
            ink = t
        }
        var rng = Philox(seed: seed, stream: 1)
        let scale = Float(n) / 64
        for _ in 0..<d.holes {
            let cx = Float(n) * (0.2 + 0.6 * rng.uniform()), cy = Float(n) * (0.2 + 0.6 * rng.uniform()), r = scale * (3 + 5 * rng.uniform())
            for y in 0..<n { for x in 0..<n where hypot(Float(x) - cx, Float(y) - cy) < r { ink[y * n + x] = 0 } }
        }
        for _ in 0..<d.strays {
            let x0 = Float(n) * rng.uniform(), y0 = Float(n) * rng.uniform()
            let a = 2 * Float.pi * rng.uniform(), len = scale * (6 + 14 * rng.uniform()), k = 0.5 + 0.5 * rng.uniform()
            for s in 0..<Int(len * 2) {
                let x = Int((x0 + cos(a) * Float(s) / 2).rounded()), y = Int((y0 + sin(a) * Float(s) / 2).rounded())
                if (0..<n).contains(x), (0..<n).contains(y) { ink[y * n + x] = max(ink[y * n + x], k) }
            }
        }
        var out = [UInt8](repeating: 255, count: n * n)
        for y in 0..<n {
            for x in 0..<n {
                let sx = x - d.dx, sy = y - d.dy
                guard (0..<n).contains(sx), (0..<n).contains(sy) else { continue }
                out[y * n + x] = UInt8(max(0, min(255, (255 * (1 - min(1, ink[sy * n + sx] * d.lighten))).rounded())))
            }
        }
        return out
    }
}
