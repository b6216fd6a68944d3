import Foundation
import TensorCore

/// tedi's perceptual distance (LPIPS's form without its learned weights, over the attribute
/// network instead of VGG): for each conv layer l of the attribute network, unit-normalize every
/// pixel's activation vector across channels, and take the squared distance between the two
/// images' normalized maps summed over channels and averaged over pixels; the distance is the mean
/// over layers. 0 for equal images, at most 4.
public enum Perceptual {
    /// Channel-normalized conv maps of `images (N,3,S,S)`.
    static func normalizedMaps(_ images: Tensor, net: AttributeNet) throws -> [Tensor] {
        try net.checkInput(images)
        return try AttributeNet.convMaps(images, config: net.config, params: net.params).map { f in
            try f / f.squared().sum(axis: 1, keepDims: true).adding(1e-10).sqrt()
        }
    }

    /// The normalized maps of fixed images `(N,3,S,S)`, for distances to them taken many times
    /// (an optimization's target), so they are computed once.
    public struct Reference {
        public let shape: [Int]
        let maps: [Tensor]
    }

    public static func reference(_ b: Tensor, net: AttributeNet) throws -> Reference {
        Reference(shape: b.shape, maps: try normalizedMaps(b, net: net))
    }

    /// The distance of each image pair `(N)`; differentiable in both inputs when they are on a tape.
    public static func distances(_ a: Tensor, _ b: Tensor, net: AttributeNet) throws -> Tensor {
        try distances(a, to: reference(b, net: net), net: net)
    }

    /// The distance of each image of `a` to its counterpart in `reference` `(N)`.
    public static func distances(_ a: Tensor, to reference: Reference, net: AttributeNet) throws -> Tensor {
        guard a.shape == reference.shape else {
            throw TensorError.shape(op: "perceptual distance", "images \(a.shape) and \(reference.shape) differ in shape")
        }
        let n = a.shape[0]
        var total: Tensor?
        let ma = try normalizedMaps(a, net: net), mb = reference.maps
        for (fa, fb) in zip(ma, mb) {
            // Σ_c (f̂a − f̂b)² → (N,H,W) → mean over pixels → (N)
            let d = try (fa - fb).squared().sum(axis: 1).reshaped([n, -1]).mean(axis: 1)
            total = try total.map { try $0 + d } ?? d
        }
        return total!.scaled(1 / Float(ma.count))
    }

    /// The mean distance over the batch, a scalar.
    public static func distance(_ a: Tensor, _ b: Tensor, net: AttributeNet) throws -> Tensor {
        try distances(a, b, net: net).mean()
    }
}
