import Testing
import Foundation
@testable import TensorCore

@Suite struct RNGTests {
    /// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
    @Test func philoxKnownAnswers() {
        let zero = Philox.block(seed: 0, stream: 0, index: 0)
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let ones = Philox.block(seed: UInt64.max, stream: UInt64.max, index: UInt64.max)
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        // counter (243f6a88, 85a308d3, 13198a2e, 03707344), key (a4093822, 299f31d0)
        let pi = Philox.block(seed: 0x299f_31d0_a409_3822, stream: 0x0370_7344_1319_8a2e, index: 0x85a3_08d3_243f_6a88)
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    @Test func normalsAreDeterministicAndIndependentOfThreads() throws {
        let saved = Threads.count
        defer { Threads.count = saved }
        Threads.count = 1
        let a = try Tensor.randomNormal([300_001], seed: 42)
        Threads.count = 2
        let b = try Tensor.randomNormal([300_001], seed: 42)
        #expect(a == b)
        let c = try Tensor.randomNormal([300_001], seed: 43)
        #expect(a != c)
        // Moments of N(0,1) within 5 standard errors.
        let n = Double(a.count)
        let mean = a.scalars.reduce(0.0) { $0 + Double($1) } / n
        let variance = a.scalars.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
        #expect(Swift.abs(mean) < 5 / n.squareRoot())
        #expect(Swift.abs(variance - 1) < 5 * (2 / n).squareRoot())
        // A prefix of a longer draw equals a shorter draw (counter-based).
        let short = try Tensor.randomNormal([10], seed: 42)
        #expect(Array(a.scalars.prefix(10)) == short.scalars)
    }

    @Test func uniformIntsAreInRangeAndCoverIt() {
        var rng = Philox(seed: 7)
        var seen = [Int](repeating: 0, count: 6)
        for _ in 0..<6000 { seen[rng.int(below: 6)] += 1 }
        #expect(seen.allSatisfy { $0 > 850 && $0 < 1150 })
        for _ in 0..<1000 { let u = rng.uniform(); #expect(u >= 0 && u < 1) }
    }
}

@Suite struct TensorTests {
    @Test func shapeErrorsNameTheShapes() throws {
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4])
        #expect(throws: TensorError.self) { try a + b }
        do { _ = try a + b } catch { #expect("\(error)".contains("[2, 3]") && "\(error)".contains("[4]")) }
        #expect(throws: TensorError.self) { try Tensor(shape: [2, 2], scalars: [1, 2, 3]) }
        #expect(throws: TensorError.self) { try Tensor.zeros([1 << 40, 1 << 40]) }
        #expect(throws: TensorError.self) { try Tensor.matmul(a, a) }
        #expect(throws: TensorError.self) { try a.reshaped([4, -1]) }
        #expect(throws: TensorError.self) { try a.slice(axis: 1, 2..<4) }
        #expect(throws: TensorError.self) { try Tensor.embedding([3], table: a) }
    }

    @Test func broadcastingMatchesNaiveLoops() throws {
        let a = try Tensor.randomNormal([2, 3, 4], seed: 1), b = try Tensor.randomNormal([3, 1], seed: 2)
        let c = try a * b
        #expect(c.shape == [2, 3, 4])
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { #expect(c[i, j, k] == a[i, j, k] * b[j, 0]) } } }
        let s = try c.sumToShape([3, 1])
        for j in 0..<3 {
            var t: Float = 0
            for i in 0..<2 { for k in 0..<4 { t += c[i, j, k] } }
            #expect(Swift.abs(s[j, 0] - t) < 1e-4)
        }
    }

    @Test func matmulMatchesNaiveProduct() throws {
        let a = try Tensor.randomNormal([5, 7], seed: 3), b = try Tensor.randomNormal([7, 4], seed: 4)
        let c = try Tensor.matmul(a, b)
        for i in 0..<5 {
            for j in 0..<4 {
                var s: Double = 0
                for k in 0..<7 { s += Double(a[i, k]) * Double(b[k, j]) }
                #expect(Swift.abs(Double(c[i, j]) - s) < 1e-4)
            }
        }
    }

    @Test func concatSlicePermuteAgree() throws {
        let a = try Tensor.randomNormal([2, 3, 4], seed: 5)
        let parts = try [a.slice(axis: 2, 0..<1), a.slice(axis: 2, 1..<4)]
        #expect(try Tensor.concat(parts, axis: 2) == a)
        let p = try a.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        #expect(p[3, 1, 2] == a[1, 2, 3])
        #expect(try p.permuted([1, 2, 0]) == a)
    }

    @Test func networkOpsMatchDefinitions() throws {
        let x = try Tensor(shape: [1, 2, 1, 1], scalars: [3, 4])
        let pn = try x.pixelNorm()
        // mean of squares = 12.5, so y = x / sqrt(12.5)
        #expect(Swift.abs(pn.scalars[0] - 3 / Float(12.5).squareRoot()) < 1e-6)
        let act = try x.scaled(-1).biasLeakyReLU(try Tensor(shape: [2], scalars: [1, 5]))
        // (-3+1) → -2·0.2·√2, (-4+5) → 1·√2
        #expect(Swift.abs(act.scalars[0] - (-0.4 * Float(2).squareRoot())) < 1e-6)
        #expect(Swift.abs(act.scalars[1] - Float(2).squareRoot()) < 1e-6)
        let sm = try Tensor(shape: [1, 3], scalars: [1000, 1000, 1000]).softmax()
        #expect(sm.scalars.allSatisfy { Swift.abs($0 - 1.0 / 3) < 1e-6 })
        let cos = try Tensor.cosineSimilarity(try Tensor(shape: [2], scalars: [1, 0]), try Tensor(shape: [2], scalars: [1, 1]))
        #expect(Swift.abs(cos.scalars[0] - 1 / Float(2).squareRoot()) < 1e-6)
        let ln = try Tensor(shape: [1, 4], scalars: [1, 2, 3, 4]).layerNorm(eps: 0)
        #expect(Swift.abs(ln.scalars[0] + 3 / Float(5).squareRoot()) < 1e-5)
    }
}

@Suite struct OptimizerTests {
    /// The first Adam step moves each parameter by lr·sign(g) (bias correction makes m̂/√v̂ = ±1).
    @Test func adamFirstStepIsLearningRateTimesSign() throws {
        var params = ["w": try Tensor(shape: [3], scalars: [1, -2, 0.5])]
        let adam = Adam(learningRate: 0.1)
        try adam.update(&params, gradients: ["w": try Tensor(shape: [3], scalars: [0.3, -5, 1e-3])])
        let w = params["w"]!.scalars
        #expect(Swift.abs(w[0] - 0.9) < 1e-6 && Swift.abs(w[1] + 1.9) < 1e-6)
        #expect(Swift.abs(w[2] - (0.5 - 0.1 * 1e-3 / (1e-3 + 1e-8))) < 1e-6)
    }

    @Test func adamAndSGDMinimizeAQuadraticThroughTheTape() throws {
        let target = try Tensor(shape: [4], scalars: [1, -2, 3, 0.5])
        for useAdam in [true, false] {
            var params = ["x": try Tensor.zeros([4])]
            let adam = Adam(learningRate: 0.1), sgd = SGD(learningRate: 0.1, momentum: 0.5)
            for _ in 0..<300 {
                let tape = Tape()
                let x = tape.watch(params["x"]!)
                let loss = try Tensor.mse(x, target)
                let g = try tape.gradients(of: loss, wrt: [x])[0]
                if useAdam { try adam.update(&params, gradients: ["x": g]) } else { try sgd.update(&params, gradients: ["x": g]) }
            }
            let err = zip(params["x"]!.scalars, target.scalars).map { Swift.abs($0 - $1) }.max()!
            #expect(err < 1e-2, "optimizer \(useAdam ? "Adam" : "SGD") ended \(err) away")
        }
    }

    @Test func adamStateRoundTrips() throws {
        var p1 = ["w": try Tensor.randomNormal([5], seed: 1)]
        var p2 = p1
        let g = ["w": try Tensor.randomNormal([5], seed: 2)]
        let a = Adam(learningRate: 0.01)
        try a.update(&p1, gradients: g)
        let b = Adam(learningRate: 0.01)
        try b.update(&p2, gradients: g)
        let c = Adam(learningRate: 0.01)
        try c.load(state: b.state)
        try a.update(&p1, gradients: g)
        try c.update(&p2, gradients: g)
        #expect(p1["w"]! == p2["w"]!)
        // Moments saved for another shape are refused, not indexed out of range.
        var small = ["w": try Tensor.randomNormal([3], seed: 3)]
        #expect(throws: TensorError.self) { try c.update(&small, gradients: ["w": try Tensor.randomNormal([3], seed: 4)]) }
        #expect(small["w"]?.count == 3, "the parameter stays in place")
        // Given the parameters, load refuses such moments at once; fitting ones (and parameters without moments) load.
        #expect(throws: TensorError.self) { try Adam().load(state: b.state, for: small) }
        try Adam().load(state: b.state, for: p2.merging(["fresh": try Tensor.zeros([2])]) { a, _ in a })
    }

    /// A parameter that joins after step 1 moves as it would under a fresh Adam (its own bias
    /// correction), through a save and load; the older parameters are unaffected.
    @Test func adamParameterAddedLaterGetsItsOwnBiasCorrection() throws {
        let a = Adam(learningRate: 0.01, beta1: 0.9, beta2: 0.99)
        let witness = Adam(learningRate: 0.01, beta1: 0.9, beta2: 0.99)   // never sees "new"
        var params = ["old": try Tensor.randomNormal([4], seed: 1)]
        var oldOnly = params
        for s in 0..<5 {
            let g = ["old": try Tensor.randomNormal([4], seed: 10 + UInt64(s))]
            try a.update(&params, gradients: g)
            try witness.update(&oldOnly, gradients: g)
        }
        params["new"] = try Tensor.zeros([3])
        var alone = ["new": try Tensor.zeros([3])]
        let fresh = Adam(learningRate: 0.01, beta1: 0.9, beta2: 0.99)
        var b: Adam = a
        for s in 0..<4 {
            let g = try Tensor.randomNormal([3], seed: 20 + UInt64(s)), go = try Tensor.randomNormal([4], seed: 30 + UInt64(s))
            try b.update(&params, gradients: ["old": go, "new": g])
            try fresh.update(&alone, gradients: ["new": g])
            try witness.update(&oldOnly, gradients: ["old": go])
            #expect(params["new"]!.scalars == alone["new"]!.scalars, "step \(s)")
            #expect(params["old"]!.scalars == oldOnly["old"]!.scalars, "the older parameter is unaffected, step \(s)")
            if s == 1 {
                #expect(b.state["born.new"]?.scalars == [5])
                let c = Adam(learningRate: 0.01, beta1: 0.9, beta2: 0.99)
                try c.load(state: b.state)
                b = c
            }
        }
        // Without it, a new parameter's first update late in a run would be about lr·(1−β₁)/√(1−β₂) = lr,
        // then grow; with it, each step is about lr, as a fresh Adam takes them.
        #expect(params["new"]!.scalars.allSatisfy { Swift.abs($0) < 0.045 && $0 != 0 })
        var bad = b.state
        bad["born.new"] = Tensor(Float(99))
        #expect(throws: TensorError.self) { try Adam().load(state: bad) }
    }
}

@Suite struct SHA256Tests {
    /// FIPS 180-4 example vectors, plus a message that crosses several blocks.
    @Test func knownDigests() {
        #expect(SHA256.hex(of: Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var s = SHA256()
        for _ in 0..<1000 { s.update(Array(repeating: UInt8(ascii: "a"), count: 1000)) }
        #expect(s.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct BLASCoreTests {
    /// On a CPU with AVX2 + FMA, OpenBLAS must not be left on its generic SSE3 "Prescott"
    /// kernels (3-4× slower here): Debian's 0.3.21 falls back to them on Intel cores it does not
    /// know, and tedi's start-up check (Sources/CBLASCore) then re-executes with
    /// OPENBLAS_CORETYPE set. Skipped where the user pinned the core type or turned the check off.
    @Test func openBLASUsesVectorKernelsWhereTheCPUHasThem() throws {
        let env = ProcessInfo.processInfo.environment
        // tedi's check removes both of its variables after re-executing, so a set
        // OPENBLAS_CORETYPE here is the user's own choice.
        guard env["OPENBLAS_CORETYPE"] == nil, env["TEDI_BLAS_CORE_OVERRIDE"] == nil,
              env["TEDI_BLAS_CORE_CHECK"] != "0" else { return }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let set = Set(flags.split(separator: " ").map(String.init))
        guard set.contains("avx2"), set.contains("fma") else { return }
        #expect(!Threads.blasDescription.contains("Prescott"), "\(Threads.blasDescription)")
        #expect(Threads.blasDescription.hasPrefix("OpenBLAS "))
    }
}
