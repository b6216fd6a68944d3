import Foundation
import TensorCore

extension StyleGAN2Generator {
    /// Layer ranges of w+ for style-mixing swaps, about 2/5, 2/5 and 1/5 of the codes: at 64 px
    /// coarse 0..<4 (4–8 px), middle 4..<8 (16–32 px), fine 8..<10 (64 px).
    public var mixingBands: [(name: String, layers: Range<Int>)] {
        let n = nLatent
        let coarse = (2 * n + 4) / 5, middle = (4 * n + 4) / 5
        return [("coarse", 0..<coarse), ("middle", coarse..<middle), ("fine", middle..<n)]
    }

    /// Style mixing on w+ codes `(N, L, D)`: `base` with the layers in `layers` taken from `style`
    /// (same shape) — copied, or blended `(1−α)·base + α·style` when `alpha` is given.
    public static func mixLayers(_ base: Tensor, _ style: Tensor, layers: some Sequence<Int>, alpha: Float? = nil) throws -> Tensor {
        guard base.rank == 3, base.shape == style.shape else {
            throw StyleGAN2Error.input("mixing: base \(base.shape) and style \(style.shape) must be equal (N, layers, dim) codes")
        }
        let (n, l, d) = (base.shape[0], base.shape[1], base.shape[2])
        let chosen = Array(layers)
        if let bad = chosen.first(where: { !(0..<l).contains($0) }) {
            throw StyleGAN2Error.input("mixing: layer \(bad) is outside the codes' \(l) layers")
        }
        var out = base.scalars
        let b = base.scalars, s = style.scalars
        for i in 0..<n {
            for layer in chosen {
                let o = (i * l + layer) * d
                if let alpha {
                    for k in 0..<d { out[o + k] = (1 - alpha) * b[o + k] + alpha * s[o + k] }
                } else {
                    for k in 0..<d { out[o + k] = s[o + k] }
                }
            }
        }
        return try Tensor(shape: base.shape, scalars: out)
    }

    /// A style-mixing grid `(rows·5, 3, S, S)`, row-major: for each of `rows` source codes A (Philox
    /// `seed`, stream 0) and destination codes B (stream 1), the images A, B, then A with B's
    /// coarse, middle and fine layers of w+ (stored noise, ψ = 1).
    public func mixingGrid(rows: Int, seed: UInt64) throws -> Tensor {
        guard (1...64).contains(rows) else { throw StyleGAN2Error.input("mixing grid: rows must be in 1...64, got \(rows)") }
        let wa = try broadcastLatent(mapping(Tensor.randomNormal([rows, styleDim], seed: seed, stream: 0)))
        let wb = try broadcastLatent(mapping(Tensor.randomNormal([rows, styleDim], seed: seed, stream: 1)))
        let columns = try [wa, wb] + mixingBands.map { try Self.mixLayers(wa, wb, layers: $0.layers) }
        let plane = nLatent * styleDim
        var codes: [Float] = []
        codes.reserveCapacity(rows * 5 * plane)
        for r in 0..<rows {
            for c in columns { codes += c.scalars[(r * plane)..<((r + 1) * plane)] }
        }
        return try synthesis(Tensor(shape: [rows * 5, nLatent, styleDim], scalars: codes))
    }
}
