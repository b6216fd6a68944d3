import Foundation
import Graph
import Imaging
import Nodes
import TensorCore
import Testing

/// The CI-sized side of fuzzing (the long runs are `tools/fuzz.sh`, see RELIABILITY.md).
///
/// 1. Every committed seed input (`Fuzz/corpus/TARGET/`) and every input that once crashed a
///    harness (`Fuzz/regressions/TARGET/`) goes through the same checks as the fuzz harness.
/// 2. A seeded mutation loop over the graph corpus through the whole loader and validator with
///    the shipped catalog (YAMLFuzzTests covers the YAML layer alone), and over recipe text
///    embedded in PNGs through the `tedi run RESULT.png` path.
/// Failures must be the documented error types with positions inside the input.
@Suite struct ReliabilityCorpusTests {
    static let fuzzDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    /// Files of `Fuzz/corpus/TARGET` and `Fuzz/regressions/TARGET`, name → bytes.
    static func inputs(_ target: String) -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        for sub in ["corpus", "regressions"] {
            let d = fuzzDir.appendingPathComponent(sub).appendingPathComponent(target)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: d.path)) ?? []
            for n in names.sorted() {
                if let data = FileManager.default.contents(atPath: d.appendingPathComponent(n).path) { out.append(("\(sub)/\(target)/\(n)", [UInt8](data))) }
            }
        }
        return out
    }

    /// The input files the seed graphs name (photo.png, labels.png, s.png, a.npy, b.npy), in `dir`;
    /// the fuzz harness makes the same ones, so validation gets past its input-file checks.
    static func writeInputs(_ dir: TempDir) throws {
        let png = try PNG.encode(try fixtureImage())
        for name in ["photo.png", "labels.png", "s.png"] { try dir.write(png, to: name) }
        let w = try Tensor(shape: [1, 18, 8], scalars: (0..<144).map { Float($0) / 144 })   // W+ with 18 layers
        try Npy.write(w, to: dir.path("a.npy"))
        try Npy.write(w, to: dir.path("b.npy"))
    }

    /// Loads and validates graph bytes; returns the plan, or checks the failure and returns nil.
    @discardableResult
    static func graph(_ bytes: [UInt8], path: String = "fuzz.yaml", sets: [(String, String)] = [], seed: Int? = nil,
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) -> GraphPlan? {
        // libyaml reports errors at the end of input one line below a last line without a newline.
        let lines = bytes.reduce(2) { $0 + ([0x0A, 0x0D, 0x85, 0xA8, 0xA9].contains($1) ? 1 : 0) }
        do {
            let file = try GraphFile.parse(bytes, path: path)
            let plan = try GraphValidator.validate(file, catalog: NodeCatalog.standard, sets: sets, seed: seed)
            for s in [0, 7] { for i in plan.nodes.indices { _ = try plan.resolvedParams(i, seed: s) } }
            return plan
        } catch let e as GraphErrors {
            #expect(!e.diagnostics.isEmpty, sourceLocation: sourceLocation)
            for d in e.diagnostics {
                #expect(!d.message.isEmpty, sourceLocation: sourceLocation)
                if let l = d.location {
                    #expect(l.file == path && l.line >= 1 && l.line <= lines && l.column >= 1 && l.column <= bytes.count + 1,
                            "\(d)", sourceLocation: sourceLocation)
                }
            }
        } catch {
            Issue.record("\(path): expected GraphErrors, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    /// The `tedi run RESULT.png` path from recipe text to a validated plan (nil when refused).
    @discardableResult
    static func recipe(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> GraphPlan? {
        do {
            let r = try Recipe.parse(text, path: "fuzz.png")
            return graph(Array(r.source.utf8), path: r.graphPath, sets: r.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                         seed: r.seed, sourceLocation: sourceLocation)
        } catch is NodeError {
        } catch is YAMLError {
        } catch {
            Issue.record("recipe: unexpected \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    @Test func committedCorporaAndRegressionsPass() throws {
        let graphs = Self.inputs("graph"), pngs = Self.inputs("png")
        let sts = Self.inputs("safetensors"), npys = Self.inputs("npy")
        #expect(graphs.count >= 7 && pngs.count >= 10 && sts.count >= 3 && npys.count >= 6, "run `tools/fuzz.sh corpus`")
        let dir = try TempDir("corpus")
        try Self.writeInputs(dir)
        var valid = 0
        for (name, bytes) in graphs {
            if Self.graph(bytes, path: dir.path(name.split(separator: "/").last.map(String.init) ?? name)) != nil { valid += 1 }
            else { #expect(name.hasSuffix("errors.yaml") || name.contains("regressions/"), "seed \(name) should validate") }   // models_errors.yaml names weight files that do not exist
        }
        #expect(valid >= 7)
        for (name, bytes) in pngs {
            guard let mode = bytes.first else { continue }
            let rest = Array(bytes.dropFirst())
            if mode & 1 == 1 {
                #expect(Self.recipe(String(decoding: rest, as: UTF8.self)) != nil, "\(name)")
                continue
            }
            _ = try? PNG.decode16(rest)
            _ = try? PNG.decodeIndexed(rest)
            do {
                let (image, text) = try PNG.decode(rest)
                #expect(image.pixels.count == image.width * image.height * image.channels)
                if let t = text[Recipe.textKey] { #expect(Self.recipe(t) != nil, "\(name)") }
            } catch is ImagingError {
                #expect(name.contains("regressions/"), "seed \(name) should decode")
            }
        }
        for (name, bytes) in sts {
            do {
                let (tensors, _) = try SafeTensors.read(bytes: bytes, name: name)
                #expect(tensors.values.allSatisfy { $0.scalars.count == $0.shape.reduce(1, *) })
            } catch is TensorError {
                #expect(name.contains("regressions/"), "seed \(name) should load")
            }
        }
        for (name, bytes) in npys {
            do {
                let a = try Npy.read(bytes: bytes, name: name)
                #expect(a.elementCount == a.shape.reduce(1, *))
                _ = try a.tensor()
            } catch is TensorError {
                #expect(name.contains("regressions/"), "seed \(name) should load")
            }
        }
    }

    /// Words that make mutations reach deeper validation (ops, ports, params, YAML syntax).
    static let words = ["op", "in", "path", "text", "width", "height", "alpha", "layers", "seed", "size", "index",
                        "input.text", "input.image", "write.png", "write.grid", "image.resize", "mix", "synthfaces.sample",
                        "${seed}", "${size}", "${nope}", "face.image", "face.label", "0-9", "-1", "1e400", "99999999999999999999",
                        "../x.png", "/abs.png", "", "&a", "*a", "<<", "[", "]", "{", "}", ":", ",", "\n  ", "\"", "'", "~", "true", "nodes", "params", "tedi"]

    static func mutate(_ original: [UInt8], _ rng: inout Philox) -> [UInt8] {
        var bytes = original
        for _ in 0...rng.int(below: 3) {
            let at = rng.int(below: bytes.count + 1)
            switch rng.int(below: 4) {
            case 0 where at < bytes.count: bytes[at] = UInt8(rng.int(below: 256))
            case 1: bytes.insert(contentsOf: Array(words[rng.int(below: words.count)].utf8), at: at)
            case 2 where at < bytes.count: bytes.removeSubrange(at..<min(bytes.count, at + 1 + rng.int(below: 8)))
            default:
                // Replace a word-ish run with a catalog word, so most mutants stay well-formed YAML.
                var end = at
                while end < bytes.count, bytes[end] != 0x20, bytes[end] != 0x0A, bytes[end] != 0x2C, end - at < 20 { end += 1 }
                bytes.replaceSubrange(at..<end, with: Array(words[rng.int(below: words.count)].utf8))
            }
        }
        return bytes
    }

    @Test func mutatedGraphsFailWithLocatedErrors() throws {
        let seeds = Self.inputs("graph").map(\.1)
        try #require(!seeds.isEmpty)
        let dir = try TempDir("mutants")
        try Self.writeInputs(dir)
        var rng = Philox(seed: 2021, stream: 11)
        var valid = 0, refused = 0
        for _ in 0..<3000 {
            let bytes = Self.mutate(seeds[rng.int(below: seeds.count)], &rng)
            if Self.graph(bytes, path: dir.path("fuzz.yaml")) != nil { valid += 1 } else { refused += 1 }
        }
        #expect(valid > 100 && refused > 1000, "valid \(valid), refused \(refused)")
    }

    @Test func mutatedRecipesInPNGsFailCleanly() throws {
        let recipes = Self.inputs("png").filter { $0.1.first.map { $0 & 1 == 1 } ?? false }.map { Array($0.1.dropFirst()) }
        try #require(recipes.count >= 2)
        let image = try Image(width: 2, height: 2, channels: 3, pixels: [UInt8](repeating: 9, count: 12))
        var rng = Philox(seed: 2021, stream: 12)
        var valid = 0, refused = 0
        for _ in 0..<600 {
            let text = String(decoding: Self.mutate(recipes[rng.int(below: recipes.count)], &rng), as: UTF8.self)
            do {
                let png = try PNG.encode(image, text: [Recipe.textKey: text])
                let back = try PNG.decode(png).text[Recipe.textKey]
                #expect(back == text)
                if Self.recipe(back ?? "") != nil { valid += 1 } else { refused += 1 }
            } catch let e as ImagingError {
                // Only text PNG cannot hold (tEXt is Latin-1 without NUL) may be refused, with a reason.
                #expect(e.kind == .invalidArgument, "\(e)")
                refused += 1
            }
        }
        #expect(valid > 20 && refused > 100, "valid \(valid), refused \(refused)")
    }
}
