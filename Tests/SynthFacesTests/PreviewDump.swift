import Foundation
import Testing
@testable import SynthFaces

/// Opt-in: TEDI_SYNTHFACES_PREVIEW=DIR writes a PPM grid (image | label colours | sketch per row) of 8 samples.
@Test func previewDump() throws {
    guard let dir = ProcessInfo.processInfo.environment["TEDI_SYNTHFACES_PREVIEW"] else { return }
    let size = Int(ProcessInfo.processInfo.environment["TEDI_SYNTHFACES_SIZE"] ?? "") ?? 128
    let count = 8
    let start = Int(ProcessInfo.processInfo.environment["TEDI_SYNTHFACES_START"] ?? "") ?? 0
    let samples = try SynthFaces.samples(seed: 7, indices: start..<(start + count), size: size)
    // Grid: 3 columns x count rows... laid out as 4 columns of (image, label, sketch) triples, 2 rows.
    let cols = 4, rows = (count + cols - 1) / cols
    let w = cols * 3 * size, h = rows * size
    var px = [UInt8](repeating: 255, count: w * h * 3)
    for (k, s) in samples.enumerated() {
        let ox = (k % cols) * 3 * size, oy = (k / cols) * size
        let lc = s.labelColorImage()
        for y in 0..<size {
            for x in 0..<size {
                for c in 0..<3 {
                    px[((oy + y) * w + ox + x) * 3 + c] = s.image[(y * size + x) * 3 + c]
                    px[((oy + y) * w + ox + size + x) * 3 + c] = lc[(y * size + x) * 3 + c]
                    px[((oy + y) * w + ox + 2 * size + x) * 3 + c] = s.sketch[y * size + x]
                }
            }
        }
    }
    var data = Data("P6\n\(w) \(h)\n255\n".utf8)
    data.append(contentsOf: px)
    try data.write(to: URL(fileURLWithPath: dir).appendingPathComponent("grid\(size).ppm"))
    var text = ""
    for s in samples {
        text += s.attributes.jsonLine(index: s.index) + "\n"
        for c in s.captions { text += "  \(c.text)  \(c.mentions.map(\.rawValue))\n" }
    }
    try text.write(to: URL(fileURLWithPath: dir).appendingPathComponent("captions.txt"), atomically: true, encoding: .utf8)
}
