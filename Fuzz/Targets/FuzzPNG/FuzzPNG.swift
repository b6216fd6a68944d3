import CFuzzDriver
import Foundation
import Graph
import Imaging
import Nodes

// libFuzzer entry for the PNG reader and the recipe path of `tedi run RESULT.png`.
// libpng drops ancillary chunks whose CRC is wrong, so mutating a PNG rarely reaches the
// `tedi.graph` text. The first byte therefore picks a mode:
//   even: the rest is a PNG file → PNG.decode (8-bit), decode16 and decodeIndexed; a recipe
//         found in it is parsed, its graph loaded and validated.
//   odd:  the rest is recipe text → embedded in a valid 2×2 PNG with PNG.encode, decoded back,
//         and taken through the same Recipe.parse → GraphFile.parse → validate path.
@main
enum FuzzPNGMain {
    static func main() {
        exit(tedi_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzPNG))
    }
}

let fuzzPNG: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { data, size in
    guard let data else { return 0 }
    return fuzzPNGBody(data, size)
}

func fuzzPNGBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let mode = data[0]
    let rest = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if mode & 1 == 0 {
        _ = try? PNG.decode16(rest)
        _ = try? PNG.decodeIndexed(rest)
        guard let (image, text) = try? PNG.decode(rest) else { return 0 }
        if image.pixels.count != image.width * image.height * image.channels { fatalError("decoded pixel count does not match the header") }
        if let t = text[Recipe.textKey] { recipe(t) }
    } else {
        let text = String(decoding: rest, as: UTF8.self)
        guard let image = try? Image(width: 2, height: 2, channels: 3, pixels: [UInt8](repeating: 9, count: 12)),
              let png = try? PNG.encode(image, text: [Recipe.textKey: text]) else { return 0 }
        guard let (_, back) = try? PNG.decode(png) else { fatalError("a PNG we encoded does not decode") }
        if back[Recipe.textKey] != text { fatalError("tEXt round trip changed the recipe text") }
        recipe(text)
    }
    return 0
}

func recipe(_ text: String) {
    guard let r = try? Recipe.parse(text, path: "fuzz.png"),
          let file = try? GraphFile.parse(Array(r.source.utf8), path: r.graphPath) else { return }
    let sets = r.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    _ = try? GraphValidator.validate(file, catalog: NodeCatalog.standard, sets: sets, seed: r.seed)
}
