/// `tedi dataset` — placeholder; lands with SynthFaces.
enum DatasetCommand: Command {
    static let name = "dataset"
    static let summary = "generate SynthFaces samples (image, label map, sketch, captions)"
    static let usage = "usage: tedi dataset --count N --size S --seed K --out DIR"
    static func run(_ args: [String]) throws -> Int32 { throw UsageError("not built yet") }
}
