import Foundation
import Graph
import Imaging

/// Writers: the only ops with effects. They return file bytes; the runner writes them atomically
/// under `--out`. Every PNG carries the run's resolved recipe in the tEXt chunk `tedi.graph`.
enum WriteOps {
    static let png = NodeSpec(
        name: "write.png", summary: "write an image, sketch or label map (palette colours) as PNG with the recipe embedded",
        inputs: [PortSpec("in", accepts: [.image, .sketch, .labelMap], doc: "what to write")],
        outputs: [],
        params: [ParamSpec("path", .outputPath, doc: "file name under --out, e.g. face_${seed}.png")],
        writes: true,
        run: { ctx in
            let img = try ImageOps.picture(try ctx.input("in"))
            let bytes = try PNG.encode(img, text: [Recipe.textKey: ctx.recipe])
            return NodeResult(files: [(ctx.string("path"), bytes)])
        })

    static let grid = NodeSpec(
        name: "write.grid", summary: "write several images as one grid PNG (rows × columns) with the recipe embedded",
        inputs: [PortSpec("in", accepts: [.image, .sketch, .labelMap], multiple: true, doc: "images, in reading order: in: { in: [a, b, c] }")],
        outputs: [],
        params: [
            ParamSpec("path", .outputPath, doc: "file name under --out"),
            ParamSpec("columns", .int(min: 1, max: 256), default: .int(4), doc: "images per row"),
            ParamSpec("padding", .int(min: 0, max: 64), default: .int(2), doc: "pixels between cells"),
            ParamSpec("size", .int(min: 0, max: 4096), default: .int(0), doc: "fit every cell into size × size first, keeping its shape (the longer side becomes size, the cell is centred; 0 = as is)"),
        ],
        writes: true,
        run: { ctx in
            var images = try ctx.inputList("in").map(ImageOps.picture)
            if ctx.int("size") > 0 {
                let s = ctx.int("size")
                // Scale by the longer side so a non-square picture is not stretched; the grid centres it.
                images = try images.map { im in
                    let long = max(im.width, im.height)
                    return try im.resized(width: max(1, (im.width * s + long / 2) / long), height: max(1, (im.height * s + long / 2) / long), method: .area)
                }
            }
            let g = try Image.grid(images, columns: ctx.int("columns"), padding: ctx.int("padding"), background: [255])
            return NodeResult(files: [(ctx.string("path"), try PNG.encode(g, text: [Recipe.textKey: ctx.recipe]))])
        })

    static let text = NodeSpec(
        name: "write.text", summary: "write a caption or other text as a UTF-8 file",
        inputs: [PortSpec("in", accepts: [.text], doc: "the text")],
        outputs: [],
        params: [ParamSpec("path", .outputPath, doc: "file name under --out, e.g. caption_${seed}.txt")],
        writes: true,
        run: { ctx in
            guard case let .text(t) = try ctx.input("in") else { throw NodeError("write.text needs text") }
            return NodeResult(files: [(ctx.string("path"), Array((t + "\n").utf8))])
        })
}
