import Foundation
import Testing

/// A seed sweep through the real executable gives the same bytes at `TEDI_THREADS` 1, 2, 3 and 4:
/// sample four codes in w+, mix layers 2-5 with another sample, synthesize with the shipped
/// generator, write the PNG and the raw output as .npy (each run with its own cache, so each
/// computes everything).
@Suite(.enabled(if: tediBinary != nil, "the tedi executable was not built beside the tests"))
struct ThreadCountCLITests {
    static let models = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/synthfaces64.safetensors").path

    @Test func sweepOutputsAreTheSameBytesAtEveryThreadCount() throws {
        let dir = try TempDir("threads")
        try dir.write("""
        tedi: 1
        models:
          faces: \(Self.models)
        nodes:
          a:     { op: sample, count: 4, space: w+, truncation: 0.8 }
          b:     { op: sample, seed: 100, space: w+ }
          mixed: { op: mix, in: { base: a, style: b }, layers: "2-5" }
          img:   { op: synthesize, in: mixed, noise: random }
          png:   { op: write.png, in: img, path: "face_${seed}.png" }
          raw:   { op: write.npy, in: img.raw, path: "raw_${seed}.npy" }
        """, to: "g.yaml")
        var outputs: [[String: [UInt8]]] = []
        for t in [1, 2, 3, 4] {
            let r = try TediProcess(["run", "g.yaml", "--seeds", "0-3", "--out", "out\(t)", "--cache", "cache\(t)", "--quiet"],
                                    in: dir.url, environment: ["TEDI_THREADS": "\(t)"]).finish()
            #expect(r.code == 0, "\(r.stderr)")
            outputs.append(sweepOutputs(dir.sub("out\(t)")))
        }
        #expect(outputs[0].count == 8)
        for (i, o) in outputs.enumerated().dropFirst() {
            let differing = outputs[0].keys.sorted().filter { o[$0] != outputs[0][$0] }
            #expect(differing.isEmpty, "at \(i + 1) threads these differ from 1 thread: \(differing)")
        }
    }
}
