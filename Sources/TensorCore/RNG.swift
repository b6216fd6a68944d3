import Foundation

/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
/// counter-based generator. Output block `i` of stream `s` under seed `k` is a pure function of
/// (k, s, i), so numbers are identical on every run, machine and thread count, and any element of
/// a long sequence can be computed without generating the ones before it.
///
/// - Key: the 64-bit seed, split into two 32-bit words (low first).
/// - Counter: (block low, block high, stream low, stream high).
/// - Uniform floats use the top 24 bits of a word: `Float(u >> 8) / 2^24`, in [0, 1).
/// - Normals: Box–Muller on two uniforms per pair, computed in Double and rounded to Float,
///   `u1 = (a + 1) / 2^32` (never 0), `u2 = b / 2^32`, giving `r cos θ` and `r sin θ`.
public struct Philox {
    public let seed: UInt64
    public let stream: UInt64
    /// Index of the next 128-bit block.
    public private(set) var block: UInt64 = 0
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    public init(seed: UInt64, stream: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
    }

    /// The four 32-bit words of block `index` for (seed, stream).
    @inline(__always)
    public static func block(seed: UInt64, stream: UInt64, index: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        var c0 = UInt32(truncatingIfNeeded: index), c1 = UInt32(truncatingIfNeeded: index >> 32)
        var c2 = UInt32(truncatingIfNeeded: stream), c3 = UInt32(truncatingIfNeeded: stream >> 32)
        var k0 = UInt32(truncatingIfNeeded: seed), k1 = UInt32(truncatingIfNeeded: seed >> 32)
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0
            let n1 = UInt32(truncatingIfNeeded: p1)
            let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1
            let n3 = UInt32(truncatingIfNeeded: p0)
            c0 = n0; c1 = n1; c2 = n2; c3 = n3
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// The next 32 random bits.
    public mutating func next() -> UInt32 {
        if used == 4 {
            buffer = Philox.block(seed: seed, stream: stream, index: block)
            block &+= 1
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float { Float(next() >> 8) * (1.0 / 16_777_216.0) }

    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

    /// Uniform integer in `0..<n` (n > 0), by rejection so there is no modulo bias.
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0 && n <= Int(UInt32.max))
        let bound = UInt32(n)
        let limit = UInt32.max - UInt32.max % bound
        while true {
            let r = next()
            if r < limit { return Int(r % bound) }
        }
    }

    /// Bernoulli draw with probability `p`.
    public mutating func chance(_ p: Float) -> Bool { uniform() < p }

    /// A standard normal sample (one of a Box–Muller pair; the other is discarded so the stream
    /// position advances by exactly two words per call).
    public mutating func normal() -> Float {
        let a = next(), b = next()
        return Philox.boxMuller(a, b).0
    }

    @inline(__always)
    static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Float, Float) {
        let u1 = (Double(a) + 1) / 4_294_967_296.0
        let u2 = Double(b) / 4_294_967_296.0
        let r = (-2 * Foundation.log(u1)).squareRoot()
        let t = 2 * Double.pi * u2
        return (Float(r * Foundation.cos(t)), Float(r * Foundation.sin(t)))
    }

    /// `count` standard normals: elements 4i..4i+3 come from block i (two Box–Muller pairs), so the
    /// result is independent of how the work is split across threads.
    public static func normals(count: Int, seed: UInt64, stream: UInt64 = 0) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        let blocks = (count + 3) / 4
        out.withUnsafeMutableBufferPointer { o in
            let base = o.baseAddress!
            parallelChunks(blocks, grain: 4096) { range in
                for i in range {
                    let w = block(seed: seed, stream: stream, index: UInt64(i))
                    let p = boxMuller(w.0, w.1), q = boxMuller(w.2, w.3)
                    let j = 4 * i
                    base[j] = p.0
                    if j + 1 < count { base[j + 1] = p.1 }
                    if j + 2 < count { base[j + 2] = q.0 }
                    if j + 3 < count { base[j + 3] = q.1 }
                }
            }
        }
        return out
    }
}

extension Tensor {
    /// Standard normal tensor from (seed, stream); see `Philox.normals`.
    public static func randomNormal(_ shape: [Int], seed: UInt64, stream: UInt64 = 0) throws -> Tensor {
        let n = try elementCount(shape)
        return Tensor(uncheckedShape: shape, scalars: Philox.normals(count: n, seed: seed, stream: stream))
    }

    /// Uniform [lo, hi) tensor from (seed, stream): element i uses word i of the stream.
    public static func randomUniform(_ shape: [Int], _ lo: Float = 0, _ hi: Float = 1, seed: UInt64, stream: UInt64 = 0) throws -> Tensor {
        let n = try elementCount(shape)
        var rng = Philox(seed: seed, stream: stream)
        var s = [Float](repeating: 0, count: n)
        for i in 0..<n { s[i] = rng.uniform(lo, hi) }
        return Tensor(uncheckedShape: shape, scalars: s)
    }
}
