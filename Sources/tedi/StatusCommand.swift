import Foundation
import Graph
import Imaging

/// `tedi status OUT_DIR`: what the sweeps recorded in an output folder have done, and how to
/// finish them. Also the gather step of a Slurm array (`--manifest`, `--contact-sheet`).
enum StatusCommand: Command {
    static let name = "status"
    static let summary = "summarize the sweeps in an output folder: seeds done, missing, failed"
    static let usage = """
    usage: tedi status OUT_DIR [--strict] [--manifest FILE.json] [--contact-sheet FILE.png [--columns C]]
    --strict          exit 1 unless every seed of every sweep is done
    --manifest        write every output of the done seeds with its SHA-256 and recipe hash
    --contact-sheet   tile the first PNG of each done seed (up to \(maxSheet)) into one image
    """

    static let maxSheet = 1024

    static func run(_ argv: [String]) throws -> Int32 {
        var args = Arguments(argv)
        let strict = args.flag("strict")
        let manifestPath = try args.option("manifest")
        let sheetPath = try args.option("contact-sheet")
        let columns = try args.int("columns", default: 16)
        guard columns >= 1 && columns <= 4096 else { throw UsageError("--columns must be in 1...4096, got \(columns)") }
        let rest = args.positionals()
        try args.finish()
        guard rest.count == 1 else { throw UsageError("give one output folder (the --out of the sweep)") }
        let out = URL(fileURLWithPath: rest[0])
        let sweeps: [SweepManifest.Summary]
        do {
            sweeps = try SweepManifest.summaries(out: out)
        } catch let e as NodeError {
            FileHandle.standardError.write("tedi: error: \(e)\n".data(using: .utf8)!)
            return 1
        }
        var complete = true
        for s in sweeps {
            let params = s.params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            print("sweep \(s.id.prefix(12)) \(s.graph)\(params.isEmpty ? "" : " (\(params))")")
            print("  seeds \(s.seeds.count): \(s.done.count) done, \(s.missing.count) missing, \(s.failed.count) failed")
            for f in s.failed { print("  failed  seed \(f.seed): \(f.reason)") }
            // Group missing seeds by reason so a cancelled 1000-seed task is one line.
            var byReason: [String: [Int]] = [:]
            for m in s.missing { byReason[m.reason, default: []].append(m.seed) }
            for (reason, seeds) in byReason.sorted(by: { $0.value[0] < $1.value[0] }) {
                print("  missing seed\(seeds.count == 1 ? "" : "s") \(compactSeedList(seeds)): \(reason)")
            }
            if !s.failed.isEmpty || !s.missing.isEmpty {
                complete = false
                let setArgs = s.params.sorted { $0.key < $1.key }.map { " --set \(shellQuote("\($0.key)=\($0.value)"))" }.joined()
                print("  to finish: tedi run \(shellQuote(s.graph))\(setArgs) --seeds \(compactSeedList(s.seeds)) --out \(shellQuote(out.path))\(s.cache.map { " --cache \(shellQuote($0))" } ?? "") --only-missing")
            }
        }
        if let manifestPath { try writeManifest(sweeps, to: manifestPath) ; print("wrote \(manifestPath)") }
        if let sheetPath { try writeContactSheet(sweeps, out: out, to: sheetPath, columns: columns); print("wrote \(sheetPath)") }
        return strict && !complete ? 1 : 0
    }

    /// JSON: per sweep, per done seed, its recipe hash and outputs (path → SHA-256).
    static func writeManifest(_ sweeps: [SweepManifest.Summary], to path: String) throws {
        let obj: [[String: Any]] = sweeps.map { s in
            var seeds: [String: Any] = [:]
            for d in s.done { seeds[String(d.seed)] = ["recipe": d.recipe, "outputs": d.outputs] }
            return ["sweep": s.id, "graph": s.graph, "params": s.params, "seeds": s.seeds, "done": seeds,
                    "missing": s.missing.map(\.seed), "failed": s.failed.map(\.seed)]
        }
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted])
        try AtomicFile.write([UInt8](data) + [10], to: URL(fileURLWithPath: path))
    }

    /// The first PNG output (by path) of each done seed, in seed order, as one grid.
    static func writeContactSheet(_ sweeps: [SweepManifest.Summary], out: URL, to path: String, columns: Int) throws {
        var images: [Image] = []
        for s in sweeps {
            for d in s.done.sorted(by: { $0.seed < $1.seed }) where images.count < maxSheet {
                guard let png = d.outputs.keys.filter({ $0.lowercased().hasSuffix(".png") }).sorted().first else { continue }
                images.append(try PNG.read(out.appendingPathComponent(png).path).image)
            }
        }
        guard !images.isEmpty else { throw NodeError("no done seed has a PNG output to put on a contact sheet") }
        try AtomicFile.write(try PNG.encode(try Image.grid(images, columns: columns, padding: 2, background: [255])), to: URL(fileURLWithPath: path))
    }
}

/// Single-quotes `s` for a POSIX shell unless it is plainly safe.
func shellQuote(_ s: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,@%+")
    if !s.isEmpty && s.allSatisfy({ safe.contains($0) }) { return s }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
