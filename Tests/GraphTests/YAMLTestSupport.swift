import Testing
@testable import Graph

/// The example graph from DESIGN.md, comments and flow maps included.
let yamlExampleGraph = """
tedi: 1                       # format version (required)
name: sketch-plus-text
params:                       # defaults; override with --set key=value; ${key} substitutes
  seed: 0                     # --seed N is --set seed=N; --seeds 0-7 runs a sweep
  caption: "She has blond hair and is smiling."
models:
  faces: ../Models/synthfaces64.safetensors        # path relative to this file
  ffhq: { path: ffhq.safetensors, arch: stylegan2, size: 1024, style_dim: 512,
          n_mlp: 8, channel_multiplier: 2 }        # config inline when the file has none
nodes:
  sketch:   { op: input.sketch, path: ../Examples/sketches/01.png }
  text:     { op: input.text, text: "${caption}" }
  layout:   { op: encode.sketch, model: faces, in: sketch }
  look:     { op: encode.text,   model: faces, in: text }
  mixed:    { op: mix, in: { base: layout, style: look }, layers: "4-9", alpha: 1.0 }
  refined:  { op: optimize, model: faces, in: { init: mixed, text: text }, steps: 50, lr: 0.01 }
  image:    { op: synthesize, model: faces, in: refined, noise: const }
  save:     { op: write.png, in: image, path: "sketch_text_${seed}.png" }

"""

/// 1-based line and column (in Unicode scalars) of the `occurrence`-th match of `needle`,
/// found by a plain text search: an independent reference for the parser's marks.
func yamlMark(of needle: String, in text: String, occurrence: Int = 0) -> YAMLMark? {
    let n = Array(needle.unicodeScalars)
    var seen = 0
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let l = Array(line.unicodeScalars)
        guard l.count >= n.count else { continue }
        for c in 0...(l.count - n.count) where Array(l[c..<(c + n.count)]) == n {
            if seen == occurrence { return YAMLMark(line: i + 1, column: c + 1) }
            seen += 1
        }
    }
    return nil
}

/// The error parsing `text` throws, or nil when it parses.
func yamlError(_ text: String, limits: YAML.Limits = .standard) -> YAMLError? {
    yamlError(Array(text.utf8), limits: limits)
}

func yamlError(_ bytes: [UInt8], limits: YAML.Limits = .standard) -> YAMLError? {
    do {
        _ = try YAML.parse(bytes, path: "graphs/g.yaml", limits: limits)
        return nil
    } catch let e as YAMLError {
        return e
    } catch {
        Issue.record("unexpected error type \(type(of: error)): \(error)")
        return nil
    }
}
