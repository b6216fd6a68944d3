import Foundation
import Graph
import Imaging

/// Image utilities that recipes compose: resizing, grayscale, blending, edge sketches, label colours.
enum ImageOps {
    /// An image-like value (Image, Sketch, or a label map drawn in its palette) as an `Image`.
    static func picture(_ v: Value) throws -> Image {
        switch v {
        case let .image(i), let .sketch(i): return i
        case let .labelMap(m): return try FaceClasses.colorize(ids: m.ids, width: m.width, height: m.height)
        default: throw NodeError("expected an image, sketch or label map, got \(v.kind.rawValue)")
        }
    }

    /// Keeps the kind of `v` (Image stays Image, Sketch stays Sketch).
    static func same(_ v: Value, _ img: Image) -> Value {
        if case .sketch = v { return .sketch(img) }
        return .image(img)
    }

    static let resize = NodeSpec(
        name: "image.resize", summary: "resize an image or sketch to width × height (area average or bilinear)",
        inputs: [PortSpec("in", accepts: [.image, .sketch], doc: "what to resize")],
        outputs: [("out", .image)],
        params: [
            ParamSpec("width", .int(min: 1, max: 8192), doc: "output width in pixels"),
            ParamSpec("height", .int(min: 0, max: 8192), default: .int(0), doc: "output height (0 = keep the aspect ratio)"),
            ParamSpec("method", .choice(["area", "bilinear"]), default: .string("area"), doc: "area: exact box average (best for shrinking); bilinear: PyTorch align_corners=False"),
        ],
        inferTypes: { ctx in ["out": ctx.inputTypes["in"] ?? ValueType(.image)] },
        run: { ctx in
            let v = try ctx.input("in")
            let img = try picture(v)
            let w = ctx.int("width")
            let h = ctx.int("height") > 0 ? ctx.int("height") : max(1, Int((Double(img.height) * Double(w) / Double(img.width)).rounded()))
            let out = try img.resized(width: w, height: h, method: ctx.string("method") == "area" ? .area : .bilinear)
            return NodeResult(outputs: ["out": same(v, out)])
        })

    static let grayscale = NodeSpec(
        name: "image.grayscale", summary: "luma of an image (ITU-R 601), kept as a 3-channel Image",
        inputs: [PortSpec("in", accepts: [.image], doc: "colour image")],
        outputs: [("out", .image)],
        run: { ctx in
            let img = try picture(try ctx.input("in"))
            return NodeResult(outputs: ["out": .image(try img.grayscale().withChannels(3))])
        })

    static let blend = NodeSpec(
        name: "image.blend", summary: "mix two images of the same size: (1 − alpha)·a + alpha·b",
        inputs: [PortSpec("a", accepts: [.image, .sketch, .labelMap], doc: "first image"),
                 PortSpec("b", accepts: [.image, .sketch, .labelMap], doc: "second image")],
        outputs: [("out", .image)],
        params: [ParamSpec("alpha", .float(min: 0, max: 1), default: .float(0.5), doc: "weight of b")],
        run: { ctx in
            let a = try picture(try ctx.input("a")).withChannels(3), b = try picture(try ctx.input("b")).withChannels(3)
            guard a.width == b.width, a.height == b.height else {
                throw NodeError("image.blend: sizes differ (\(a.width)×\(a.height) vs \(b.width)×\(b.height)); resize one first")
            }
            let t = ctx.double("alpha")
            var px = [UInt8](repeating: 0, count: a.pixels.count)
            for i in px.indices {
                px[i] = UInt8(((1 - t) * Double(a.pixels[i]) + t * Double(b.pixels[i])).rounded())
            }
            return NodeResult(outputs: ["out": .image(try Image(width: a.width, height: a.height, channels: 3, pixels: px))])
        })

    static let edgeSketch = NodeSpec(
        name: "sketch.edges", summary: "a line sketch of an image: Sobel edges of its luma, dark lines on white",
        inputs: [PortSpec("in", accepts: [.image, .labelMap], doc: "photo, render or label map")],
        outputs: [("out", .sketch)],
        params: [
            ParamSpec("threshold", .float(min: 0, max: 1), default: .float(0.2), doc: "edge strength (fraction of the maximum) below which a pixel stays white"),
            ParamSpec("softness", .float(min: 0, max: 1), default: .float(0.1), doc: "width of the ramp from white to black above the threshold"),
        ],
        run: { ctx in
            let v = try ctx.input("in")
            let img: Image
            if case let .labelMap(m) = v {
                img = try Image(width: m.width, height: m.height, channels: 1, pixels: m.ids.map { $0 &* 13 })
            } else {
                img = try picture(v).grayscale()
            }
            return NodeResult(outputs: ["out": .sketch(try img.sobelSketch(threshold: ctx.double("threshold"), softness: ctx.double("softness")))])
        })

    static let colorizeLabels = NodeSpec(
        name: "label.colorize", summary: "draw a label map in the CelebAMask-HQ colour palette",
        inputs: [PortSpec("in", accepts: [.labelMap], doc: "label map")],
        outputs: [("out", .image)],
        run: { ctx in NodeResult(outputs: ["out": .image(try picture(try ctx.input("in")))]) })
}
