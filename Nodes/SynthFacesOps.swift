import Foundation
import Graph
import Imaging
import SynthFaces

/// SynthFaces in a graph: a procedural multi-modal face (image, label map, sketch, caption),
/// deterministic from (seed, index). Recipes use it as an input source until real photos are given.
enum SynthFacesOps {
    static let sample = NodeSpec(
        name: "synthfaces.sample",
        summary: "a procedural SynthFaces face from (seed, index): image, label map, sketch and a caption",
        outputs: [("image", .image), ("label", .labelMap), ("sketch", .sketch), ("caption", .text)],
        params: [
            ParamSpec("seed", .int(min: 0, max: nil), default: .string("${seed}"), doc: "dataset seed (default: the run's seed)"),
            ParamSpec("index", .int(min: 0, max: SynthFaces.maxIndex - 1), default: .int(0), doc: "which face of the dataset"),
            ParamSpec("size", .int(min: SynthFaces.sizeRange.lowerBound, max: SynthFaces.sizeRange.upperBound), default: .int(128), doc: "image side in pixels (rendered at this size)"),
            ParamSpec("caption", .int(min: 0, max: 20), default: .int(0), doc: "which of the face's captions to output (wraps around)"),
        ],
        run: { ctx in
            let s = try SynthFaces.sample(seed: UInt64(ctx.int("seed")), index: ctx.int("index"), size: ctx.int("size"))
            let n = s.size
            let caption = s.captions.isEmpty ? "" : s.captions[ctx.int("caption") % s.captions.count].text
            return NodeResult(outputs: [
                "image": .image(try Image(width: n, height: n, channels: 3, pixels: s.image)),
                "label": .labelMap(LabelMap(width: n, height: n, ids: s.label)),
                "sketch": .sketch(try Image(width: n, height: n, channels: 1, pixels: s.sketch)),
                "caption": .text(caption),
            ])
        })
}
