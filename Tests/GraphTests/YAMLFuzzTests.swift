import Testing
import TensorCore
@testable import Graph

@Suite struct YAMLFuzzTests {
    /// Bytes that steer mutations toward YAML syntax; a quarter of inserts are any byte at all.
    static let syntax = Array(":{}[],\"'&*!#-?|>%@\t\n\r {}0123456789.~".utf8) + [0x00, 0xC3, 0xA9, 0xFF, 0x85]

    /// Upper bound on the line numbers libyaml can report: it breaks lines at \n, \r, NEL, LS, PS.
    static func maxLine(_ bytes: [UInt8]) -> Int {
        bytes.reduce(1) { $0 + ([0x0A, 0x0D, 0x85, 0xA8, 0xA9].contains($1) ? 1 : 0) }
    }

    /// Every mark in `node` (keys included).
    static func marks(_ node: YAMLNode, into out: inout [YAMLMark]) {
        out.append(node.mark)
        switch node.content {
        case .scalar: break
        case .sequence(let items): for item in items { marks(item, into: &out) }
        case .mapping(let pairs):
            for p in pairs {
                out.append(p.key.mark)
                marks(p.value, into: &out)
            }
        }
    }

    @Test func mutatedGraphsFailCleanly() throws {
        let original = Array(yamlExampleGraph.utf8)
        var rng = Philox(seed: 20_240_611, stream: 7)
        var parsed = 0, failed = 0
        for _ in 0..<2000 {
            var bytes = original
            for _ in 0...rng.int(below: 4) {
                let at = rng.int(below: bytes.count + 1)
                let byte = rng.chance(0.25) ? UInt8(rng.int(below: 256)) : Self.syntax[rng.int(below: Self.syntax.count)]
                switch rng.int(below: 3) {
                case 0 where at < bytes.count: bytes[at] = byte
                case 1: bytes.insert(byte, at: at)
                default: if at < bytes.count { bytes.remove(at: at) }
                }
            }
            let lines = Self.maxLine(bytes)
            do {
                let node = try YAML.parse(bytes, path: "fuzz.yaml")
                parsed += 1
                var all: [YAMLMark] = []
                Self.marks(node, into: &all)
                #expect(all.allSatisfy { $0.line >= 1 && $0.line <= lines && $0.column >= 1 && $0.column <= bytes.count + 1 })
                // Whatever parses must survive the canonical round trip.
                let again = try YAML.parse(node.canonicalText, path: "fuzz-canonical.yaml")
                #expect(again.isEquivalent(to: node), "\(String(decoding: bytes, as: UTF8.self))")
            } catch let e as YAMLError {
                failed += 1
                #expect(e.path == "fuzz.yaml")
                #expect(e.line >= 1 && e.line <= lines, "\(e)")
                #expect(e.column >= 1 && e.column <= bytes.count + 1, "\(e)")
                #expect(!e.message.isEmpty)
            }
        }
        // The mix must exercise both outcomes to mean anything.
        #expect(parsed > 100 && failed > 100, "parsed \(parsed), failed \(failed)")
    }
}
