import Foundation
import Graph
import Models
import TensorCore

/// Latent codes in and out of a graph, and layer-wise style mixing (TediGAN's control: coarse
/// W+ layers carry pose and shape, middle ones features, fine ones colour and texture).
enum LatentOps {
    static let spaces = ["z", "w", "w+"]

    /// Shape rules: z / w codes are (n, dim); w+ codes are (n, layers, dim).
    static func checkShape(_ shape: [Int], space: String) -> String? {
        switch space {
        case "w+": return shape.count == 3 && shape.allSatisfy({ $0 > 0 }) ? nil : "a w+ latent has shape (n, layers, dim), got \(shape)"
        default: return shape.count == 2 && shape.allSatisfy({ $0 > 0 }) ? nil : "a \(space) latent has shape (n, dim), got \(shape)"
        }
    }

    static let input = NodeSpec(
        name: "input.latent", summary: "latent codes from a .npy file: (n, dim) for z or w, (n, layers, dim) for w+",
        outputs: [("out", .latent)],
        params: [
            ParamSpec("path", .inputPath, doc: ".npy file (float16/32/64, C order; integer arrays are refused), relative to the graph"),
            ParamSpec("space", .choice(spaces), default: .string("w+"), doc: "which space the codes live in"),
        ],
        inferTypes: { ctx in
            let space = ctx.params["space"]?.stringValue ?? "w+"
            var t = ValueType(.latent, latentSpace: space)
            if let url = ctx.inputPath("path"), let a = try? Npy.read(url.path), checkShape(a.shape, space: space) == nil {
                if space == "w+" { t.layers = a.shape[1] }
                t.width = a.shape.last
                t.origin = ctx.params["path"]?.stringValue
            }
            return ["out": t]
        },
        check: { ctx in
            guard let url = ctx.inputPath("path"), FileManager.default.fileExists(atPath: url.path) else { return [] }
            let path = ctx.params["path"]?.stringValue ?? url.path
            do {
                let a = try Npy.read(url.path)
                if let problem = notFloat(a.dtype) { return [("\(path): \(problem)", "path")] }
                if let problem = checkShape(a.shape, space: ctx.params["space"]?.stringValue ?? "w+") { return [("\(path): \(problem)", "path")] }
                if let problem = nonFinite(a.floats(), shape: a.shape) { return [("\(path): \(problem)", "path")] }
                // A width none of the graph's own generators takes: codes made for another model.
                // (A graph may only mix codes, so the shipped generator is checked where a node uses it.)
                let widths = Set(ctx.models.values.filter { $0.kind == "generator" && !$0.shipped }.compactMap { ModelStore.knownConfig($0)?.styleDim })
                if let w = a.shape.last, !widths.isEmpty, !widths.contains(w) {
                    return [("\(path) holds codes \(w) wide, but the generators this graph declares take \(widths.sorted().map(String.init).joined(separator: " or ")); were they made for another model?", "path")]
                }
            } catch {
                return [("\(error)", "path")]
            }
            return []
        },
        run: { ctx in
            let url = try ctx.inputPath("path")
            let a = try Npy.read(url.path)
            let space = ctx.string("space")
            if let problem = notFloat(a.dtype) { throw NodeError("\(url.path): \(problem)") }
            if let problem = checkShape(a.shape, space: space) { throw NodeError("\(url.path): \(problem)") }
            let values = a.floats()
            if let problem = nonFinite(values, shape: a.shape) { throw NodeError("\(url.path): \(problem)") }
            return NodeResult(outputs: ["out": .latent(Latent(space: space, codes: try Tensor(shape: a.shape, scalars: values)))])
        })

    /// Latent codes are real numbers: an integer or boolean array is more likely ids, labels or a
    /// quantized image saved by mistake than codes, so it is refused rather than converted.
    static func notFloat(_ dtype: Npy.DType) -> String? {
        [.float16, .float32, .float64].contains(dtype) ? nil
            : "holds \(dtype) values (\(dtype.rawValue)); latent codes are floating point — save them as float32 (numpy: codes.astype(np.float32))"
    }

    /// "holds NaN at [0, 3] …" for the first value that is NaN or ±inf, else nil.
    static func nonFinite(_ values: [Float], shape: [Int]) -> String? {
        guard let i = values.firstIndex(where: { !$0.isFinite }) else { return nil }
        var index: [Int] = [], rest = i
        for d in shape.reversed() { index.insert(rest % max(d, 1), at: 0); rest /= max(d, 1) }
        let bad = values.filter { !$0.isFinite }.count
        return "holds \(values[i].isNaN ? "NaN" : values[i] > 0 ? "+inf" : "-inf") at \(index)\(bad > 1 ? " and \(bad - 1) more values that are not finite" : ""); a latent must be finite numbers (was it saved from a run that diverged?)"
    }

    /// Parses a layer selection: "4-9" (inclusive), "0,2,5", "3", or "all".
    static func parseLayers(_ s: String, count: Int?) -> Result<[Int], ParamTypeMismatch> {
        let text = s.replacingOccurrences(of: " ", with: "")
        if text == "all" {
            guard let count else { return .success([]) }
            return .success(Array(0..<count))
        }
        var out: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            if let dash = part.firstIndex(of: "-") {
                guard let a = Int(part[..<dash]), let b = Int(part[part.index(after: dash)...]), a >= 0, a <= b else {
                    return .failure(ParamTypeMismatch(message: "bad layer range '\(part)' (expected A-B with 0 ≤ A ≤ B)"))
                }
                out += Array(a...b)
            } else {
                guard let a = Int(part), a >= 0 else {
                    return .failure(ParamTypeMismatch(message: "bad layer '\(part)' (expected layers like \"4-9\", \"0,2,5\" or \"all\")"))
                }
                out.append(a)
            }
        }
        if let count, let bad = out.first(where: { $0 >= count }) {
            return .failure(ParamTypeMismatch(message: "layer \(bad) is outside the latent's \(count) layers (0–\(count - 1))"))
        }
        return .success(out)
    }

    static let mix = NodeSpec(
        name: "mix", summary: "style mixing: replace W+ layers of base by those of style, blended by alpha",
        inputs: [PortSpec("base", accepts: [.latent], doc: "latent whose other layers are kept"),
                 PortSpec("style", accepts: [.latent], doc: "latent that supplies the chosen layers")],
        outputs: [("out", .latent)],
        params: [
            ParamSpec("layers", .string, doc: "W+ layers to take from style: \"4-9\", \"0,2,5\" or \"all\""),
            ParamSpec("alpha", .float(min: 0, max: 1), default: .float(1), doc: "1 = take style's layers, 0.5 = halfway"),
        ],
        inferTypes: { ctx in
            let layers = ctx.inputTypes["base"]?.layers ?? ctx.inputTypes["style"]?.layers
            return ["out": ValueType(.latent, latentSpace: "w+", layers: layers)]
        },
        check: { ctx in
            var problems: [(message: String, param: String?)] = []
            for port in ["base", "style"] {
                if let s = ctx.inputTypes[port]?.latentSpace, s == "z" {
                    problems.append(("input '\(port)' is a z latent; map it to w first", nil))
                }
            }
            let a = ctx.inputTypes["base"]?.layers, b = ctx.inputTypes["style"]?.layers
            if let a, let b, a != b { problems.append(("base has \(a) layers but style has \(b)", nil)) }
            if case let .failure(m) = parseLayers(ctx.params["layers"]?.stringValue ?? "", count: a ?? b) {
                problems.append((m.message, "layers"))
            }
            return problems
        },
        run: { ctx in
            guard case let .latent(base) = try ctx.input("base"), case let .latent(style) = try ctx.input("style") else {
                throw NodeError("mix needs two latents")
            }
            // w codes (n, dim) stand for the same code on every layer.
            let layersCount = base.layers ?? style.layers
            guard let L = layersCount else { throw NodeError("mix needs at least one w+ latent to know the layer count") }
            func plus(_ l: Latent) throws -> Tensor {
                if l.codes.rank == 3 { return l.codes }
                let n = l.codes.shape[0], d = l.codes.shape[1]
                return try l.codes.reshaped([n, 1, d]).broadcast(to: [n, L, d])
            }
            let b = try plus(base), s = try plus(style)
            guard b.shape[1] == s.shape[1], b.shape[2] == s.shape[2] else {
                throw NodeError("mix: base \(b.shape) and style \(s.shape) differ in layers or dimension")
            }
            guard b.shape[0] == s.shape[0] || s.shape[0] == 1 || b.shape[0] == 1 else {
                throw NodeError("mix: base has \(b.shape[0]) codes and style \(s.shape[0]); give equal counts or one of them a single code")
            }
            let layers: [Int]
            switch parseLayers(ctx.string("layers"), count: L) {
            case let .success(l): layers = l
            case let .failure(m): throw NodeError(m.message)
            }
            let n = max(b.shape[0], s.shape[0]), d = b.shape[2]
            let bb = try b.broadcast(to: [n, L, d]), ss = try s.broadcast(to: [n, L, d])
            let out = try StyleGAN2Generator.mixLayers(bb, ss, layers: Set(layers), alpha: Float(ctx.double("alpha")))
            return NodeResult(outputs: ["out": .latent(Latent(space: "w+", codes: out))])
        })

    static let writeNpy = NodeSpec(
        name: "write.npy", summary: "write a latent, tensor or image as float32 .npy (images as (1,C,H,W) in [-1, 1])",
        inputs: [PortSpec("in", accepts: [.latent, .tensor, .image, .sketch], doc: "what to write")],
        outputs: [],
        params: [ParamSpec("path", .outputPath, doc: "file name under --out, e.g. w_${seed}.npy")],
        writes: true,
        run: { ctx in
            let t: Tensor
            switch try ctx.input("in") {
            case let .latent(l): t = l.codes
            case let .tensor(x): t = x
            case let .image(i), let .sketch(i): t = i.tensor()
            default: throw NodeError("write.npy cannot write this value")
            }
            return NodeResult(files: [(ctx.string("path"), Npy.encode(try NpyArray(t)))])
        })
}
