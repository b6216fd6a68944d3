import Dispatch
import Foundation
import Imaging
import SynthFaces
import TensorCore

/// `tedi dataset`: writes SynthFaces samples (image, label ids, label colours, sketch, captions,
/// attributes) to a folder, plus a preview grid.
enum DatasetCommand: Command {
    static let name = "dataset"
    static let summary = "generate SynthFaces samples (image, label map, sketch, captions)"
    static let usage = """
    usage: tedi dataset --count N --out DIR [--size 64|128|256] [--seed K] [--split train|val|test] [--offset I]
    Writes DIR/images, labels (class ids as gray), labels_color (CelebAMask-HQ palette), sketches,
    captions (one .txt per sample), attributes.jsonl and preview.png (8 samples: image / label / sketch).
    Sample i of a split is the same on every run and machine (it depends only on seed, split and i).
    """

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let count = try args.int("count", default: -1)
        let size = try args.int("size", default: 128)
        let seed = try args.int("seed", default: 0)
        let offset = try args.int("offset", default: 0)
        let splitName = try args.option("split") ?? "train"
        guard let out = try args.option("out") else { throw UsageError("--out DIR is required") }
        try args.finish()
        guard count >= 1 else { throw UsageError("--count N (N ≥ 1) is required") }
        guard count <= 1_000_000 else { throw UsageError("--count is at most 1000000 per call; use --offset to continue") }
        guard SynthFaces.sizeRange.contains(size) else { throw UsageError("--size must be in \(SynthFaces.sizeRange)") }
        guard seed >= 0 else { throw UsageError("--seed must be non-negative") }
        guard let split = SynthFaces.Split(rawValue: splitName) else { throw UsageError("--split is train, val or test, got '\(splitName)'") }
        guard offset >= 0, offset + count <= split.range.count else {
            throw UsageError("--offset \(offset) + --count \(count) exceeds the \(split.range.count) samples of the \(splitName) split")
        }
        let root = URL(fileURLWithPath: out)
        let dirs = ["images", "labels", "labels_color", "sketches", "captions"]
        for d in dirs { try FileManager.default.createDirectory(at: root.appendingPathComponent(d), withIntermediateDirectories: true) }
        let showProgress = isatty(2) != 0
        let start = DispatchTime.now().uptimeNanoseconds
        var lines: [String] = []
        var preview: [Image] = []
        let chunk = 64
        var done = 0
        while done < count {
            let n = min(chunk, count - done)
            let lo = try split.index(offset + done)
            let samples = try SynthFaces.samples(seed: UInt64(seed), indices: lo..<(lo + n), size: size)
            for s in samples {
                let name = String(format: "%06d", s.index)
                let image = try Image(width: s.size, height: s.size, channels: 3, pixels: s.image)
                let label = try Image(width: s.size, height: s.size, channels: 1, pixels: s.label)
                let color = try FaceClasses.colorize(ids: s.label, width: s.size, height: s.size)
                let sketch = try Image(width: s.size, height: s.size, channels: 1, pixels: s.sketch)
                try PNG.write(image, to: root.appendingPathComponent("images/\(name).png").path)
                try PNG.write(label, to: root.appendingPathComponent("labels/\(name).png").path)
                try PNG.write(color, to: root.appendingPathComponent("labels_color/\(name).png").path)
                try PNG.write(sketch, to: root.appendingPathComponent("sketches/\(name).png").path)
                let captions = s.captions.map(\.text).joined(separator: "\n") + "\n"
                try FileIO.writeAtomically(Array(captions.utf8), to: root.appendingPathComponent("captions/\(name).txt").path)
                lines.append(s.attributes.jsonLine(index: s.index))
                if preview.count < 24 { preview += [image, color, sketch] }
            }
            done += n
            if showProgress {
                let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                let eta = t / Double(done) * Double(count - done)
                FileHandle.standardError.write(String(format: "\r\u{1B}[K%d/%d samples, %.1f/s, ETA %.0fs", done, count, Double(done) / t, eta).data(using: .utf8)!)
            }
        }
        if showProgress { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        try FileIO.writeAtomically(Array((lines.joined(separator: "\n") + "\n").utf8), to: root.appendingPathComponent("attributes.jsonl").path)
        try PNG.write(try Image.grid(preview, columns: 6, padding: 2, background: [255]), to: root.appendingPathComponent("preview.png").path)
        let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print("wrote \(count) \(splitName) samples of \(size)px to \(root.path) in \(String(format: "%.1f", t)) s (\(String(format: "%.0f", Double(count) / t))/s)")
        return 0
    }
}
