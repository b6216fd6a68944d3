import Foundation
import Graph
import Imaging
import TensorCore

/// Ops that bring files into a graph. Paths resolve against the graph file's folder; the runner
/// hashes every file read, so an edited input invalidates exactly what depends on it.
enum InputOps {
    /// Longest caption accepted (characters).
    static let maxTextLength = 10_000

    static let text = NodeSpec(
        name: "input.text", summary: "a caption, given inline (`text`) or read from a UTF-8 file (`path`)",
        outputs: [("out", .text)],
        params: [
            ParamSpec("text", .string, default: .string(""), doc: "the caption itself"),
            ParamSpec("path", .inputPath, default: .string(""), doc: "a text file with the caption (relative to the graph), instead of `text`"),
        ],
        // An inline caption is known before running, so text models can note its unknown words at check time.
        inferTypes: { ctx in
            guard let t = ctx.params["text"]?.stringValue, !t.isEmpty, !t.contains("${") else { return [:] }
            return ["out": ValueType(.text, text: t)]
        },
        check: { ctx in
            let t = ctx.params["text"]?.stringValue ?? "", p = ctx.params["path"]?.stringValue ?? ""
            if t.isEmpty && p.isEmpty { return [("the caption is empty: give `text` (the caption itself) or `path` (a UTF-8 file with it)", nil)] }
            if !t.isEmpty && !p.isEmpty { return [("give only one of `text` (the caption itself) or `path` (a file), not both", nil)] }
            if t.count > maxTextLength { return [("caption longer than \(maxTextLength) characters", "text")] }
            return []
        },
        run: { ctx in
            guard let url = ctx.inputPaths["path"] else { return NodeResult(outputs: ["out": .text(ctx.string("text"))]) }
            let bytes = try FileIO.readAll(url.path, limit: maxTextLength * 4)
            guard let s = String(validating: bytes, as: UTF8.self) else { throw NodeError("\(url.path) is not UTF-8 text") }
            let caption = s.trimmingCharacters(in: .whitespacesAndNewlines)
            // The same cap as an inline `text`; the byte limit above alone allows 4× as many ASCII characters.
            guard caption.count <= maxTextLength else {
                throw NodeError("\(url.path): caption is \(caption.count) characters, longer than the limit of \(maxTextLength)")
            }
            return NodeResult(outputs: ["out": .text(caption)])
        })

    static let image = NodeSpec(
        name: "input.image", version: 2, summary: "an RGB image from a PNG (gray is replicated, alpha composited over white)",
        outputs: [("out", .image)],
        params: [ParamSpec("path", .inputPath, doc: "PNG file, relative to the graph")],
        check: checkPNG,
        run: { ctx in
            let (img, _) = try PNG.read(try ctx.inputPath("path").path)
            guard img.channels == 2 || img.channels == 4 else { return NodeResult(outputs: ["out": .image(try img.withChannels(3))]) }
            // Transparent pixels hold arbitrary colour (often black): show them as a viewer does, over white.
            let c = img.channels, n = img.width * img.height
            var rgb = [UInt8](repeating: 0, count: n * 3)
            for i in 0..<n {
                let a = Int(img.pixels[i * c + c - 1])
                for k in 0..<3 {
                    let v = Int(img.pixels[i * c + (c == 2 ? 0 : k)])
                    rgb[i * 3 + k] = UInt8((v * a + 255 * (255 - a) + 127) / 255)
                }
            }
            return NodeResult(outputs: ["out": .image(try Image(width: img.width, height: img.height, channels: 3, pixels: rgb))],
                              notes: ["\(ctx.inputPaths["path"]?.lastPathComponent ?? "the image") has an alpha channel: composited over white"])
        })

    static let sketch = NodeSpec(
        name: "input.sketch", summary: "a sketch (dark lines on light) from a PNG, as grayscale",
        outputs: [("out", .sketch)],
        params: [ParamSpec("path", .inputPath, doc: "PNG file, relative to the graph")],
        check: checkPNG,
        run: { ctx in
            let (img, _) = try PNG.read(try ctx.inputPath("path").path)
            return NodeResult(outputs: ["out": .sketch(try img.withChannels(1))])
        })

    static let label = NodeSpec(
        name: "input.label", summary: "a 19-class face label map from a PNG of class ids or of the CelebAMask-HQ palette",
        outputs: [("out", .labelMap)],
        params: [
            ParamSpec("path", .inputPath, doc: "PNG file, relative to the graph"),
            ParamSpec("format", .choice(["auto", "ids", "palette"]), default: .string("auto"),
                      doc: "ids: gray values are class ids 0–18; palette: colours of the CelebAMask-HQ palette; auto: gray → ids, colour → palette"),
        ],
        check: checkPNG,
        run: { ctx in
            let path = try ctx.inputPath("path").path
            let (img, _) = try PNG.read(path)
            var format = ctx.string("format")
            if format == "auto" { format = img.channels <= 2 ? "ids" : "palette" }
            let n = img.width * img.height
            var ids = [UInt8](repeating: 0, count: n)
            if format == "ids" {
                let gray = try img.withChannels(1)
                for i in 0..<n {
                    let v = gray.pixels[i]
                    guard Int(v) < FaceClasses.names.count else {
                        throw NodeError("\(path): pixel (\(i % img.width), \(i / img.width)) has value \(v), not a class id 0–18; is it a palette image? (set format: palette)")
                    }
                    ids[i] = v
                }
            } else {
                let rgb = try img.withChannels(3)
                for i in 0..<n {
                    let r = rgb.pixels[3 * i], g = rgb.pixels[3 * i + 1], b = rgb.pixels[3 * i + 2]
                    guard let id = FaceClasses.classID(r: r, g: g, b: b) else {
                        throw NodeError("\(path): pixel (\(i % img.width), \(i / img.width)) has colour (\(r), \(g), \(b)), which is not in the CelebAMask-HQ palette")
                    }
                    ids[i] = UInt8(id)
                }
            }
            return NodeResult(outputs: ["out": .labelMap(LabelMap(width: img.width, height: img.height, ids: ids))])
        })

    /// The `path` file must decode as a PNG: a JPEG renamed .png, a truncated or empty file is an
    /// error when the graph is checked, at its line, rather than a node failing mid-run.
    static func checkPNG(_ ctx: NodeTypingContext) -> [(message: String, param: String?)] {
        guard let url = ctx.inputPath("path"), FileManager.default.fileExists(atPath: url.path) else { return [] }
        do {
            _ = try PNG.read(url.path)
            return []
        } catch {
            return [("\(error)\(otherFormat(url).map { "; it is a \($0) file: tedi reads PNG only, so convert it (e.g. `convert in.\($0.lowercased()) out.png`)" } ?? "")", "path")]
        }
    }

    /// The image format a file's first bytes announce, when it is one people often rename to .png.
    static func otherFormat(_ url: URL) -> String? {
        guard let h = FileHandle(forReadingAtPath: url.path), let head = try? h.read(upToCount: 12) else { return nil }
        try? h.close()
        let b = [UInt8](head)
        if b.starts(with: [0xFF, 0xD8, 0xFF]) { return "JPEG" }
        if b.starts(with: Array("GIF8".utf8)) { return "GIF" }
        if b.count >= 12, b.starts(with: Array("RIFF".utf8)), Array(b[8..<12]) == Array("WEBP".utf8) { return "WebP" }
        if b.starts(with: Array("BM".utf8)) { return "BMP" }
        return nil
    }
}
