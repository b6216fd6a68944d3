import CFuzzDriver
import Foundation
import Graph
import Imaging
import Nodes
import TensorCore

// libFuzzer entry: bytes are a graph file. Parsing and validation may throw (that is the point:
// clear errors); any crash, hang, allocation past the RSS limit or sanitizer report is a finding.
// A graph that validates also has its params resolved for two seeds, which runs `${name}`
// substitution and type coercion on the fuzzed values. The graph "lives" in a folder holding
// the input files the seed graphs name, so validation reaches the checks behind them (latent
// layer counts, label formats) instead of stopping at "no such file".
@main
enum FuzzGraphMain {
    static func main() {
        inputsDirectory = makeInputs()
        exit(tedi_fuzz_run(CommandLine.argc, CommandLine.unsafeArgv, fuzzGraph))
    }
}

nonisolated(unsafe) var inputsDirectory = "."

/// photo.png, labels.png, s.png (8×6 RGB) and a.npy, b.npy (W+ of 18 layers × 8) in a fresh temp folder.
func makeInputs() -> String {
    let dir = NSTemporaryDirectory() + "tedi-fuzz-inputs-\(getpid())"
    do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let image = try Image(width: 8, height: 6, channels: 3, pixels: (0..<144).map { UInt8(truncatingIfNeeded: $0 * 37) })
        let png = try PNG.encode(image)
        for name in ["photo.png", "labels.png", "s.png"] { try FileIO.writeAtomically(png, to: dir + "/" + name) }
        let w = try Tensor(shape: [1, 18, 8], scalars: (0..<144).map { Float($0) / 144 })
        try Npy.write(w, to: dir + "/a.npy")
        try Npy.write(w, to: dir + "/b.npy")
    } catch {
        fatalError("cannot create the fuzz input files in \(dir): \(error)")
    }
    return dir
}

let fuzzGraph: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt = { data, size in
    guard let data else { return 0 }
    return fuzzGraphBody(data, size)
}

func fuzzGraphBody(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? GraphFile.parse(bytes, path: inputsDirectory + "/fuzz.yaml") else { return 0 }
    guard let plan = try? GraphValidator.validate(file, catalog: NodeCatalog.standard) else { return 0 }
    for seed in [0, 7] {
        for i in plan.nodes.indices { _ = try? plan.resolvedParams(i, seed: seed) }
    }
    return 0
}
