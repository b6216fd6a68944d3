import Foundation
import TensorCore

/// What tedi's own networks (attribute network, encoders, face parser) share about their
/// parameters: how they start, how a file's tensors are checked, and how a file or checkpoint is read.
enum ModelParams {
    /// Fresh parameters for `shapes`: weights N(0, (gain/√fan_in)²) (the ×√2 leaky-ReLU gain keeps
    /// the activations' scale), biases zero, and the `fixed` tensors as given. Each tensor draws from
    /// its own Philox stream of `seed`, numbered in name order, so the result depends only on the
    /// shapes and the seed.
    static func initialized(_ shapes: [String: [Int]], seed: UInt64, fixed: [String: Tensor] = [:],
                            gain: (String) -> Float = { _ in 1 }) throws -> [String: Tensor] {
        var p: [String: Tensor] = [:]
        for (k, (name, shape)) in shapes.sorted(by: { $0.key < $1.key }).enumerated() {
            if let t = fixed[name] {
                p[name] = t
            } else if name.hasSuffix(".bias") {
                p[name] = try Tensor.zeros(shape)
            } else {
                let fanIn = shape.dropFirst().reduce(1, *)
                p[name] = try Tensor.randomNormal(shape, seed: seed, stream: UInt64(k)).scaled(gain(name) / Float(fanIn).squareRoot())
            }
        }
        return p
    }

    /// `params` cut to `shapes`; throws naming any missing or misshapen tensor.
    static func checked(_ params: [String: Tensor], shapes: [String: [Int]], path: String) throws -> [String: Tensor] {
        for (name, shape) in shapes {
            guard let t = params[name] else { throw ModelError("\(path): missing tensor '\(name)' (expected shape \(shape))") }
            guard t.shape == shape else { throw ModelError("\(path): tensor '\(name)' has shape \(t.shape), expected \(shape)") }
        }
        return params.filter { shapes[$0.key] != nil }
    }

    /// The tensors and `__metadata__` of a model file written by `save`, or of a training
    /// checkpoint (its parameters under `prefix`, which is stripped).
    static func read(_ path: String, checkpointPrefix prefix: String = "") throws -> (params: [String: Tensor], metadata: [String: String]) {
        let (tensors, metadata) = try SafeTensors.read(path)
        guard metadata["tedi.checkpoint"] != nil else { return (tensors, metadata) }
        var p: [String: Tensor] = [:]
        for (k, v) in try TrainingCheckpoint.read(path).params where k.hasPrefix(prefix) { p[String(k.dropFirst(prefix.count))] = v }
        return (p, metadata)
    }

    /// Writes `params` and `metadata` (plus `extra`) atomically.
    static func save(_ params: [String: Tensor], metadata: [String: String], extra: [String: String], to path: String, dtype: SafeTensors.DType) throws {
        try SafeTensors.write(params, metadata: metadata.merging(extra) { a, _ in a }, to: path, dtype: dtype)
    }
}
