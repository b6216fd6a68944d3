import Foundation
import Graph
import Imaging
import Models
import SynthFaces
import TensorCore

/// Layout into W+ and back: a sketch or label map encoded into codes (`encode.sketch`,
/// `encode.label`), and the face parser that reads a face's layout (`parse.face`).
enum LayoutOps {
    static func encoderParam(_ kind: String, shipped: String) -> ParamSpec {
        ParamSpec("encoder", .model, default: .string(""), doc: "a \(kind) (default: the graph's only one, else the shipped \(shipped))", modelKind: kind)
    }

    static let parserParam = ParamSpec("parser", .model, default: .string(""),
                                       doc: "a face parser (default: the graph's only one, else the shipped face_parser)", modelKind: "parser")

    /// optimize's parser: needed only when a `label` is connected.
    static let optimizeParserParam = ParamSpec("parser", .model, default: .string(""),
                                               doc: "the face parser of the label term (default: the graph's only one, else the shipped face_parser)",
                                               modelKind: "parser", modelFor: "label")

    static func encoderOutput(_ ctx: NodeTypingContext) -> [String: ValueType] {
        var t = ValueType(.latent, latentSpace: "w+")
        if let name = ctx.params["encoder"]?.stringValue, let m = ctx.models[name] { t.layers = ModelStore.encoderLayers(m) }
        return ["out": t]
    }

    /// A label map's class ids at `size`×`size` (centre square, nearest neighbour), with notes;
    /// an id outside 0–18 is an error naming the pixel.
    static func labelIDs(_ m: LabelMap, size: Int, what: String) throws -> ([UInt8], [String]) {
        if let i = m.ids.firstIndex(where: { Int($0) >= FaceClasses.names.count }) {
            throw NodeError("\(what): pixel (\(i % m.width), \(i / m.width)) has class \(m.ids[i]); label maps hold ids 0–\(FaceClasses.names.count - 1)")
        }
        var notes: [String] = []
        var (ids, side) = EncoderOps.centreSquare(m.ids, width: m.width, height: m.height, channels: 1)
        if m.width != m.height { notes.append("\(what): cropped \(m.width)×\(m.height) to its centre \(side)×\(side)") }
        if side != size {
            notes.append("\(what): resized \(side)×\(side) → \(size)×\(size) (nearest) for the model")
            ids = (0..<(size * size)).map { p in ids[((p / size) * side / size) * side + (p % size) * side / size] }
        }
        return (ids, notes)
    }

    /// Label maps as class-id rows: a LabelMap, or parse.face's `ids` tensor (N,1,H,W).
    static func labelMaps(_ v: Value, size: Int, what: String) throws -> ([[UInt8]], [String]) {
        switch v {
        case let .labelMap(m):
            let (ids, notes) = try labelIDs(m, size: size, what: what)
            return ([ids], notes)
        case let .tensor(t):
            guard t.rank == 4, t.shape[1] == 1, t.shape[2] == size, t.shape[3] == size, t.shape[0] >= 1 else {
                throw NodeError("\(what): expected class ids (N,1,\(size),\(size)) such as parse.face's `ids`, got \(t.shape)")
            }
            let plane = size * size
            return (try (0..<t.shape[0]).map { n in
                try (0..<plane).map { p in
                    let v = t.scalars[n * plane + p]
                    guard v >= 0, v < Float(FaceClasses.names.count), v == v.rounded() else {
                        throw NodeError("\(what): map \(n) pixel (\(p % size), \(p / size)) holds \(v), not a class id 0–18")
                    }
                    return UInt8(v)
                }
            }, [])
        default:
            throw NodeError("\(what): expected a label map, got \(v.kind.rawValue)")
        }
    }

    static let encodeSketch = NodeSpec(
        name: "encode.sketch", summary: "a sketch → W+ codes that follow its lines (layout: coarse and middle layers)",
        inputs: [PortSpec("in", accepts: [.sketch, .image], doc: "dark lines on white, any size (centre-cropped and resized with a note); an Image is read as its luma")],
        outputs: [("out", .latent)],
        params: [encoderParam("sketch encoder", shipped: "sketch_encoder")],
        inferTypes: encoderOutput,
        run: { ctx in
            let e = try ModelStore.shared.encoder(try ctx.model("encoder"))
            guard e.config.modality == "sketch" else { throw NodeError("encoder '\(ctx.string("encoder"))' reads \(e.config.modality)s, not sketches") }
            let img: Image
            switch try ctx.input("in") {
            case let .sketch(i): img = i
            case let .image(i): img = i.grayscale()
            case let v: throw NodeError("in: expected a sketch, got \(v.kind.rawValue)")
            }
            let (square, notes) = try EncoderOps.fitted(img.withChannels(1), size: e.config.size, what: "in")
            let x = try square.withChannels(1).tensor().reshaped([1, 1, e.config.size, e.config.size])
            return NodeResult(outputs: ["out": .latent(Latent(space: "w+", codes: try e(x).detached))], notes: notes)
        })

    static let encodeLabel = NodeSpec(
        name: "encode.label", summary: "a 19-class label map → W+ codes with its layout (coarse and middle layers)",
        inputs: [PortSpec("in", accepts: [.labelMap, .tensor], doc: "a label map (any size: centre-cropped, nearest-resized) or parse.face's `ids` (N,1,S,S)")],
        outputs: [("out", .latent)],
        params: [encoderParam("label encoder", shipped: "label_encoder")],
        inferTypes: encoderOutput,
        run: { ctx in
            let e = try ModelStore.shared.encoder(try ctx.model("encoder"))
            guard e.config.modality == "label" else { throw NodeError("encoder '\(ctx.string("encoder"))' reads \(e.config.modality)s, not label maps") }
            let (maps, notes) = try labelMaps(try ctx.input("in"), size: e.config.size, what: "in")
            let codes = try e(try SynthFaces.labelTensor(maps, size: e.config.size)).detached
            return NodeResult(outputs: ["out": .latent(Latent(space: "w+", codes: codes))], notes: notes)
        })

    static let parseFace = NodeSpec(
        name: "parse.face", summary: "the face parser: faces → their 19-class label maps (layout fidelity, a layout to encode)",
        inputs: [PortSpec("in", accepts: [.image, .tensor], doc: "a face (any size: centre-cropped and resized) or a batch (N,3,H,W) in [-1,1] such as synthesize's raw")],
        outputs: [("out", .labelMap), ("ids", .tensor)],
        params: [
            parserParam,
            ParamSpec("columns", .int(min: 1, max: 64), default: .int(8), doc: "a batch's maps are tiled into `out` this many per row"),
        ],
        run: { ctx in
            let p = try ModelStore.shared.parser(try ctx.model("parser"))
            let (x, notes) = try EncoderOps.faces(try ctx.input("in"), size: p.config.size, what: "in")
            let maps = try p.parse(x), s = p.config.size
            let ids = try Tensor(shape: [maps.count, 1, s, s], scalars: maps.flatMap { $0.map(Float.init) })
            // A batch is tiled row-major, `columns` per row, on background (class 0).
            let cols = min(ctx.int("columns"), maps.count), rows = (maps.count + cols - 1) / cols
            var tiled = [UInt8](repeating: 0, count: cols * s * rows * s)
            for (n, m) in maps.enumerated() {
                let (r, c) = (n / cols, n % cols)
                for y in 0..<s { for x in 0..<s { tiled[(r * s + y) * cols * s + c * s + x] = m[y * s + x] } }
            }
            return NodeResult(outputs: ["out": .labelMap(LabelMap(width: cols * s, height: rows * s, ids: tiled)), "ids": .tensor(ids)], notes: notes)
        })
}
