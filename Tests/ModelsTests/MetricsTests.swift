import Foundation
import Testing
@testable import Models
import TensorCore

/// The generator metrics on synthetic Gaussians with known answers.
@Suite struct MetricsTests {
    func gaussian(_ n: Int, _ d: Int, seed: UInt64, shift: [Float]? = nil, scale: Float = 1) throws -> Tensor {
        var x = try Tensor.randomNormal([n, d], seed: seed)
        for i in 0..<n { for j in 0..<d { x.scalars[i * d + j] = x.scalars[i * d + j] * scale + (shift?[j] ?? 0) } }
        return x
    }

    @Test func fidOfIdenticalSetsIsZero() throws {
        let a = try gaussian(300, 8, seed: 1)
        #expect(try GANMetrics.fid(a, a) < 1e-6)
    }

    @Test func fidOfShiftedMeansIsTheSquaredShift() throws {
        let a = try gaussian(400, 6, seed: 2)
        let shift: [Float] = [3, -2, 0, 1, 0, 0.5]
        var b = a
        for i in 0..<400 { for j in 0..<6 { b.scalars[i * 6 + j] += shift[j] } }
        let want = shift.map { Double($0 * $0) }.reduce(0, +)
        // Same covariance: FID is exactly ‖Δμ‖² (up to rounding).
        #expect(abs(try GANMetrics.fid(a, b) - want) < 1e-6 * want)
    }

    @Test func fidOfScaledCovarianceMatchesClosedForm() throws {
        // Σb = 4Σa: Tr(Σa + 4Σa − 2·2Σa) = Tr(Σa); computed from the sample covariance in Double.
        let a = try gaussian(300, 5, seed: 3)
        let b = try Tensor(shape: a.shape, scalars: a.scalars.map { $0 * 2 })
        let (_, ca) = GANMetrics.meanCov(a)
        let (ma, _) = GANMetrics.meanCov(a)
        var want = 0.0
        for j in 0..<5 { want += ca[j * 5 + j] + ma[j] * ma[j] }
        #expect(abs(try GANMetrics.fid(a, b) - want) < 1e-6 * want)
    }

    @Test func jacobiEigenvaluesOfAKnownMatrix() {
        // [[2,1],[1,2]] has eigenvalues 1 and 3.
        let (l, _) = GANMetrics.symmetricEigen([2, 1, 1, 2], n: 2)
        #expect(abs(l.min()! - 1) < 1e-12 && abs(l.max()! - 3) < 1e-12)
    }

    @Test func precisionRecallOfIdenticalSetsIsOne() throws {
        let a = try gaussian(200, 4, seed: 4)
        let (p, r) = try GANMetrics.precisionRecall(real: a, fake: a)
        #expect(p == 1 && r == 1)
    }

    @Test func precisionRecallSeeMissingModes() throws {
        // Fakes cover only a narrow core of the real distribution: high precision, low recall.
        let real = try gaussian(300, 4, seed: 5), fake = try gaussian(300, 4, seed: 6, scale: 0.2)
        let (p, r) = try GANMetrics.precisionRecall(real: real, fake: fake)
        #expect(p > 0.9 && r < 0.3, "precision \(p) recall \(r)")
        // Far-away fakes: nothing is inside either manifold.
        let far = try gaussian(300, 4, seed: 7, shift: [50, 50, 50, 50])
        let (p2, r2) = try GANMetrics.precisionRecall(real: real, fake: far)
        #expect(p2 == 0 && r2 == 0)
    }

    @Test func pairDistance() throws {
        let x = try Tensor(shape: [4, 2], scalars: [1, 0, 0, 2, 3, 0, 5, 0])
        // pairs (unit): (1,0)-(0,1) → √2; (1,0)-(1,0) → 0.
        #expect(abs(try GANMetrics.pairDistance(x) - 2.0.squareRoot() / 2) < 1e-12)
        #expect(throws: ModelError.self) { try GANMetrics.fid(x, try Tensor.zeros([4, 3])) }
    }

    /// The eval's yardstick blur: [1,2,1]ᵀ[1,2,1]/16 with replicated edges, plane by plane.
    @Test func binomialBlurWeightsAndEdges() throws {
        // An impulse inside a 5×5 plane spreads into the binomial weights; a second plane stays constant.
        var v = [Float](repeating: 0, count: 25) + [Float](repeating: 0.5, count: 25)
        v[12] = 16
        let b = try GANMetrics.binomialBlur(Tensor(shape: [1, 2, 5, 5], scalars: v)).scalars
        let want: [Float] = [0, 0, 0, 0, 0, 0, 1, 2, 1, 0, 0, 2, 4, 2, 0, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0]
        #expect(Array(b[0..<25]) == want)
        #expect(b[25...].allSatisfy { $0 == 0.5 })
        // A corner impulse keeps its mass in the plane: the replicated edge folds the weights back.
        var c = [Float](repeating: 0, count: 9)
        c[0] = 16
        let e = try GANMetrics.binomialBlur(Tensor(shape: [1, 1, 3, 3], scalars: c)).scalars
        #expect(e == [9, 3, 0, 3, 1, 0, 0, 0, 0], "\(e)")
        #expect(throws: ModelError.self) { try GANMetrics.binomialBlur(Tensor.zeros([3, 3])) }
    }
}
