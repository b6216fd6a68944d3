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

    /// A style-mixing grid `(rows·5, 3, S, S)`, row-major: for each of `rows` source codes A (Philox
    /// `seed`, stream 0) and destination codes B (stream 1), the images A, B, then A with B's
    /// coarse, middle and fine layers of w+ (stored noise, ψ = 1).
    public func mixingGrid(rows: Int, seed: UInt64) throws -> Tensor {
        guard (1...64).contains(rows) else { throw StyleGAN2Error.input("mixing grid: rows must be in 1...64, got \(rows)") }
        let wa = try broadcastLatent(mapping(Tensor.randomNormal([rows, styleDim], seed: seed, stream: 0)))
        let wb = try broadcastLatent(mapping(Tensor.randomNormal([rows, styleDim], seed: seed, stream: 1)))
        let plane = nLatent * styleDim
        var codes: [Float] = []
        codes.reserveCapacity(rows * 5 * plane)
        for r in 0..<rows {
            let a = Array(wa.scalars[(r * plane)..<((r + 1) * plane)]), b = Array(wb.scalars[(r * plane)..<((r + 1) * plane)])
            codes += a
            codes += b
            for band in mixingBands {
                var m = a
                for l in band.layers { for j in 0..<styleDim { m[l * styleDim + j] = b[l * styleDim + j] } }
                codes += m
            }
        }
        return try synthesis(Tensor(shape: [rows * 5, nLatent, styleDim], scalars: codes))
    }
}
