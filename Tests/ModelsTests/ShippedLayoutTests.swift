import Foundation
import Testing
@testable import Models
import TensorCore

/// The shipped face parser and sketch and label encoders (Models/README.md) on held-out SynthFaces
/// pairs (`tedi eval layout` at a small count): the parser reads renders far above chance, and
/// faces made from a label map or a sketch keep its layout far better than random samples do.
/// Thresholds come from measured values with margins for BLAS differences, not for weaker models.
@Suite(.serialized) struct ShippedLayoutTests {
    static func path(_ name: String) -> String { ShippedGeneratorTests.path(name) }
    static let present = ["face_parser.safetensors", "label_encoder.safetensors", "sketch_encoder.safetensors"]
        .allSatisfy { FileManager.default.fileExists(atPath: path($0)) }

    @Test(.enabled(if: present)) func shippedFilesLoadWithTheirConfig() throws {
        let p = try FaceParser.load(Self.path("face_parser.safetensors"))
        #expect(p.config.size == 64 && p.config.classes == 19)
        for (name, modality, channels) in [("label_encoder", "label", 19), ("sketch_encoder", "sketch", 1)] {
            let e = try LatentEncoder.load(Self.path(name + ".safetensors"))
            #expect(e.config.modality == modality && e.config.inChannels == channels && e.config.nLatent == 10, "\(name): \(e.config)")
        }
    }

    @Test(.enabled(if: present)) func parserAndEncodersKeepTheLayout() throws {
        let parser = try FaceParser.load(Self.path("face_parser.safetensors"))
        let score = try ParserEval.run(parser, count: 200)
        #expect(score.meanIoU > 0.65 && score.pixelAccuracy > 0.95, "parser mIoU \(score.meanIoU), pixel accuracy \(score.pixelAccuracy)")
        var o = LayoutEval.Options()
        o.count = 16; o.steps = 5; o.mixes = 2; o.mixFrom = []
        let models = LayoutEval.Models(generator: try StyleGAN2Generator.load(path: Self.path("synthfaces64.safetensors")), parser: parser,
                                       attributes: try AttributeNet.load(Self.path("attributes.safetensors")),
                                       label: try LatentEncoder.load(Self.path("label_encoder.safetensors")),
                                       sketch: try LatentEncoder.load(Self.path("sketch_encoder.safetensors")))
        let rows = try LayoutEval.run(models, options: o)
        let table = LayoutEval.markdown(rows)
        func miou(_ prefix: String) throws -> Double { try #require(rows.first { $0.method.hasPrefix(prefix) }, "\(table)").miou }
        let random = try miou("random samples")
        #expect(random < 0.4, "\(table)")
        #expect(try miou("label → face (encoder)") > random + 0.15, "\(table)")
        #expect(try miou("sketch → face (clean)") > random + 0.15, "\(table)")
        #expect(try miou("sketch → face (perturbed)") > random + 0.1, "\(table)")
    }
}
