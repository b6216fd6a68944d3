import Foundation
import Testing
@testable import TensorCore

/// logSoftmax and crossEntropy: values against a Double reference, gradients against finite differences.
@Suite struct LossGradientTests {
    /// Reference log-softmax of one row in Double.
    func referenceLogSoftmax(_ row: [Float]) -> [Double] {
        let m = Double(row.max()!)
        let lse = m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
        return row.map { Double($0) - lse }
    }

    @Test func logSoftmaxMatchesReference() throws {
        let x = rand([3, 5], seed: 11)
        let y = try x.logSoftmax()
        for r in 0..<3 {
            let ref = referenceLogSoftmax(Array(x.scalars[(r * 5)..<(r * 5 + 5)]))
            for j in 0..<5 { #expect(Swift.abs(Double(y.scalars[r * 5 + j]) - ref[j]) < 1e-5) }
        }
    }

    @Test func crossEntropyMatchesReference() throws {
        let x = rand([4, 6], seed: 12)
        let targets = [0, 5, 2, 2]
        var ref = 0.0
        for r in 0..<4 { ref -= referenceLogSoftmax(Array(x.scalars[(r * 6)..<(r * 6 + 6)]))[targets[r]] }
        ref /= 4
        #expect(Swift.abs(Double(try Tensor.crossEntropy(x, targets: targets).item()) - ref) < 1e-5)
    }

    @Test func stableForLargeLogits() throws {
        // softmax().log() gives -inf here; the fused form stays finite and exact.
        let x = try Tensor(shape: [1, 3], scalars: [1000, 0, -1000])
        let y = try x.logSoftmax()
        #expect(y.scalars[0] == 0)
        #expect(y.scalars[1] == -1000)
        #expect(y.scalars[2] == -2000)
        #expect(try Tensor.crossEntropy(x, targets: [2]).item() == 2000)
        let tape = Tape()
        let w = tape.watch(x)
        let g = try tape.gradients(of: try Tensor.crossEntropy(w, targets: [2]), wrt: [w])[0]
        #expect(g.scalars == [1, 0, -1])
    }

    @Test func gradients() throws {
        let x = rand([3, 4], seed: 13)
        try checkGradients([x], h: 1e-2) { try $0[0].logSoftmax() }
        try checkGradients([rand([2, 3, 5], seed: 14)], h: 1e-2) { try $0[0].logSoftmax() }
        try checkGradients([x], h: 1e-2) { try Tensor.crossEntropy($0[0], targets: [3, 0, 1]) }
        // Through a downstream scale, so the incoming gradient is not 1.
        try checkGradients([x], h: 1e-2) { try Tensor.crossEntropy($0[0], targets: [1, 1, 2]).scaled(-2.5) }
    }

    @Test func badInputsThrow() throws {
        let x = rand([2, 3], seed: 15)
        #expect(throws: TensorError.self) { try Tensor.crossEntropy(x, targets: [0]) }
        #expect(throws: TensorError.self) { try Tensor.crossEntropy(x, targets: [0, 3]) }
        #expect(throws: TensorError.self) { try Tensor.crossEntropy(x, targets: [-1, 0]) }
        #expect(throws: TensorError.self) { try Tensor.crossEntropy(rand([2, 3, 1], seed: 1), targets: [0, 0]) }
        #expect(throws: TensorError.self) { try Tensor.zeros([2, 0]).logSoftmax() }
    }
}
