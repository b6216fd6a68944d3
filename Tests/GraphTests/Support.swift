import Foundation
import Graph
import Imaging
import Nodes
import Testing

// Helpers shared by the graph tests: temp folders, a test-only catalog with counting ops,
// diagnostics capture and small PNG fixtures made in code.

/// A fresh folder under the system temp directory, removed when the value goes away.
final class TempDir {
    let url: URL

    init(_ label: String = "graph") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("tedi-tests-\(label)-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func sub(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `text` to `name` (creating folders) and returns its path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        try write(Array(text.utf8), to: name)
    }

    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let u = sub(name)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: u)
        return u.path
    }

    func read(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path(name)).map { [UInt8]($0) }
    }
}

/// Counts node executions by node id (and records their order); shared by the test ops of one test.
final class RunCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var order: [String] = []

    func hit(_ id: String) {
        lock.lock(); defer { lock.unlock() }
        counts[id, default: 0] += 1
        order.append(id)
    }

    func count(_ id: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        return counts[id] ?? 0
    }

    var total: Int {
        lock.lock(); defer { lock.unlock() }
        return order.count
    }

    var sequence: [String] {
        lock.lock(); defer { lock.unlock() }
        return order
    }

    func reset() {
        lock.lock(); defer { lock.unlock() }
        counts = [:]
        order = []
    }
}

/// Test-only ops. They live in a catalog built per test (never in `NodeCatalog.standard`) and
/// report every execution to that test's `RunCounter`.
enum TestOps {
    /// `size`×`size` RGB image filled with one gray level.
    static func solid(_ value: Int, size: Int) throws -> Image {
        try Image(width: size, height: size, channels: 3, pixels: [UInt8](repeating: UInt8(truncatingIfNeeded: value), count: size * size * 3))
    }

    /// A seed-dependent RGB pattern: byte i is (seed·31 + i·7) mod 256.
    static func pattern(seed: Int, size: Int) throws -> Image {
        let n = size * size * 3
        return try Image(width: size, height: size, channels: 3, pixels: (0..<n).map { UInt8(truncatingIfNeeded: seed &* 31 &+ $0 &* 7) })
    }

    static func specs(_ counter: RunCounter) -> [NodeSpec] {
        [
            NodeSpec(name: "test.const", summary: "solid gray image (counts runs)", outputs: [("out", .image)],
                     params: [ParamSpec("value", .int(min: 0, max: 255), default: .int(0), doc: "gray level"),
                              ParamSpec("size", .int(min: 1, max: 64), default: .int(4), doc: "side")],
                     run: { ctx in
                         counter.hit(ctx.nodeID)
                         return NodeResult(outputs: ["out": .image(try solid(ctx.int("value"), size: ctx.int("size")))])
                     }),
            NodeSpec(name: "test.seeded", summary: "seed-dependent image (counts runs)", outputs: [("out", .image)],
                     params: [ParamSpec("seed", .int(min: 0, max: nil), default: .string("${seed}"), doc: "seed"),
                              ParamSpec("size", .int(min: 1, max: 64), default: .int(4), doc: "side")],
                     run: { ctx in
                         counter.hit(ctx.nodeID)
                         return NodeResult(outputs: ["out": .image(try pattern(seed: ctx.int("seed"), size: ctx.int("size")))])
                     }),
            NodeSpec(name: "test.count", summary: "adds `offset` to every byte (counts runs)",
                     inputs: [PortSpec("in", accepts: [.image], doc: "image")], outputs: [("out", .image)],
                     params: [ParamSpec("offset", .int(min: 0, max: 255), default: .int(0), doc: "added mod 256")],
                     run: { ctx in
                         counter.hit(ctx.nodeID)
                         guard case let .image(img) = try ctx.input("in") else { throw NodeError("not an image") }
                         let px = img.pixels.map { $0 &+ UInt8(ctx.int("offset")) }
                         return NodeResult(outputs: ["out": .image(try Image(width: img.width, height: img.height, channels: img.channels, pixels: px))])
                     }),
            NodeSpec(name: "test.split", summary: "two outputs: the image and its inverse",
                     inputs: [PortSpec("in", accepts: [.image], doc: "image")],
                     outputs: [("left", .image), ("right", .image)],
                     run: { ctx in
                         counter.hit(ctx.nodeID)
                         guard case let .image(img) = try ctx.input("in") else { throw NodeError("not an image") }
                         let inv = try Image(width: img.width, height: img.height, channels: img.channels, pixels: img.pixels.map { 255 - $0 })
                         return NodeResult(outputs: ["left": .image(img), "right": .image(inv)])
                     }),
            NodeSpec(name: "test.fail", summary: "always fails at run time",
                     inputs: [PortSpec("in", accepts: [.image], doc: "image")], outputs: [("out", .image)],
                     run: { ctx in
                         counter.hit(ctx.nodeID)
                         throw NodeError("deliberate failure")
                     }),
        ]
    }

    /// `NodeCatalog.standard` plus the test ops reporting to `counter`.
    static func catalog(_ counter: RunCounter = RunCounter()) -> Catalog {
        Catalog(Array(NodeCatalog.standard.specs.values) + specs(counter))
    }
}

/// Every diagnostic from parsing and validating `yaml` (named `g.yaml`); empty when it is valid.
func diagnostics(_ yaml: String, catalog: Catalog = TestOps.catalog(), sets: [(String, String)] = [],
                 seed: Int? = nil) -> [Diagnostic] {
    do {
        let file = try GraphFile.parse(Array(yaml.utf8), path: "g.yaml")
        _ = try GraphValidator.validate(file, catalog: catalog, sets: sets, seed: seed)
        return []
    } catch let e as GraphErrors {
        return e.diagnostics
    } catch {
        Issue.record("expected GraphErrors, got \(type(of: error)): \(error)")
        return []
    }
}

/// Expects exactly one diagnostic, at `line:col` of `g.yaml` (or without a location when `line`
/// is nil), whose message contains every fragment; returns it for further checks.
@discardableResult
func expectOneError(_ yaml: String, at line: Int?, _ col: Int?, _ fragments: String...,
                    catalog: Catalog = TestOps.catalog(), sets: [(String, String)] = [],
                    sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Diagnostic? {
    let ds = diagnostics(yaml, catalog: catalog, sets: sets)
    guard ds.count == 1, let d = ds.first else {
        Issue.record("expected one error, got \(ds.count):\n\(ds.map(\.description).joined(separator: "\n"))", sourceLocation: sourceLocation)
        return nil
    }
    checkError(d, at: line, col, fragments, sourceLocation: sourceLocation)
    return d
}

/// Checks one diagnostic's position, its message fragments and its compiler-style rendering.
func checkError(_ d: Diagnostic, at line: Int?, _ col: Int?, _ fragments: [String],
                sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    if let line, let col {
        #expect(d.location?.file == "g.yaml", sourceLocation: sourceLocation)
        #expect(d.location?.line == line, "line of: \(d)", sourceLocation: sourceLocation)
        #expect(d.location?.column == col, "column of: \(d)", sourceLocation: sourceLocation)
        #expect(d.description == "g.yaml:\(line):\(col): error: \(d.message)", sourceLocation: sourceLocation)
    } else {
        #expect(d.location == nil, "\(d)", sourceLocation: sourceLocation)
        #expect(d.description == "tedi: error: \(d.message)", sourceLocation: sourceLocation)
    }
    for f in fragments {
        #expect(d.message.contains(f), "'\(f)' not in: \(d.message)", sourceLocation: sourceLocation)
    }
}

/// Writes `yaml` as `graph.yaml` in `dir`, loads and validates it.
func loadPlan(_ yaml: String, in dir: TempDir, name: String = "graph.yaml", catalog: Catalog,
              sets: [(String, String)] = [], seed: Int? = nil) throws -> GraphPlan {
    let path = try dir.write(yaml, to: name)
    return try GraphValidator.validate(try GraphFile.load(path: path), catalog: catalog, sets: sets, seed: seed)
}

/// An 8×6 RGB test picture with a gradient and a bright square (so edges and resizes do something).
func fixtureImage(shift: Int = 0) throws -> Image {
    let w = 8, h = 6
    var px = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
        for x in 0..<w {
            let inSquare = (2...4).contains(x) && (1...3).contains(y)
            px[(y * w + x) * 3 + 0] = inSquare ? 250 : UInt8(truncatingIfNeeded: x * 30 + shift)
            px[(y * w + x) * 3 + 1] = inSquare ? 240 : UInt8(truncatingIfNeeded: y * 40)
            px[(y * w + x) * 3 + 2] = UInt8(truncatingIfNeeded: 90 + shift)
        }
    }
    return try Image(width: w, height: h, channels: 3, pixels: px)
}

/// Writes `fixtureImage(shift:)` as a PNG into `dir` under `name`.
@discardableResult
func writeFixturePNG(_ dir: TempDir, _ name: String, shift: Int = 0) throws -> String {
    try dir.write(try PNG.encode(try fixtureImage(shift: shift)), to: name)
}

/// Every regular file under `dir`, relative path → bytes.
func filesUnder(_ dir: URL) -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    guard let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.isRegularFileKey]) else { return out }
    let base = dir.standardizedFileURL.resolvingSymlinksInPath().path
    for case let u as URL in e {
        guard (try? u.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
        var p = u.standardizedFileURL.resolvingSymlinksInPath().path
        if p.hasPrefix(base + "/") { p = String(p.dropFirst(base.count + 1)) }
        out[p] = FileManager.default.contents(atPath: u.path).map { [UInt8]($0) }
    }
    return out
}

/// The statuses in a report, by "id@seed".
func statuses(_ r: RunReport) -> [String: NodeReport.Status] {
    var out: [String: NodeReport.Status] = [:]
    for n in r.nodes { out["\(n.id)@\(n.seed)"] = n.status }
    return out
}
