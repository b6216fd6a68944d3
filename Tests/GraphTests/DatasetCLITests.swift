import Foundation
import Testing

/// `swift test` builds the executable beside the tests; the CLI suites need it, so its absence is a failure, not a skip.
@Test func tediExecutableIsBuiltBesideTheTests() {
    #expect(tediBinary != nil, "no tedi executable next to the test bundle; run `swift build` with the same configuration")
}

/// `tedi dataset` writes every modality, deterministically, and refuses bad arguments with usage errors.
@Suite(.enabled(if: tediBinary != nil, "the tedi executable was not built beside the tests"))
struct DatasetCLITests {
    @Test func writesAllModalitiesDeterministically() throws {
        let dir = try TempDir("dataset")
        for out in ["a", "b"] {
            let r = try tedi(["dataset", "--count", "3", "--size", "32", "--seed", "5", "--split", "val", "--out", out], in: dir.url)
            #expect(r.code == 0, "\(r.stderr)")
        }
        let a = filesUnder(dir.sub("a")), b = filesUnder(dir.sub("b"))
        #expect(a == b)
        for sub in ["images", "labels", "labels_color", "sketches"] {
            #expect(Set(a.keys.filter { $0.hasPrefix(sub + "/") }) == Set(["010000", "010001", "010002"].map { "\(sub)/\($0).png" }))
        }
        #expect(a["captions/010001.txt"].map { String(decoding: $0, as: UTF8.self).split(separator: "\n").count >= 5 } == true)
        let lines = String(decoding: a["attributes.jsonl"] ?? [], as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3 && lines[0].hasPrefix("{\"index\":10000,"))
        #expect(a["preview.png"] != nil)
    }

    @Test func badArgumentsAreUsageErrors() throws {
        let dir = try TempDir("dataset-bad")
        for args in [["dataset", "--out", "x"], ["dataset", "--count", "2", "--size", "9", "--out", "x"],
                     ["dataset", "--count", "2", "--split", "dev", "--out", "x"], ["dataset", "--count", "two", "--out", "x"]] {
            let r = try tedi(args, in: dir.url)
            #expect(r.code == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains("usage: tedi dataset"))
        }
    }
}
