/// The seeds of a run: `--seed N`, `--seeds A-B` (inclusive) or `--seeds 1,5,9` (mixable: `0-3,10`).
public enum SeedSpec {
    /// Largest sweep one command may run; bigger sweeps belong to sharded runs.
    public static let maxSeeds = 100_000

    /// Parses a seed list, keeping order and dropping repeats. Errors say what was wrong.
    public static func parse(_ text: String) throws -> [Int] {
        var seeds: [Int] = []
        var seen = Set<Int>()
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        for raw in parts {
            let part = raw.trimmingCharacters(in: .whitespaces)
            guard !part.isEmpty else { throw SeedSpecError("empty item in seed list '\(text)'") }
            if let dash = part.dropFirst().firstIndex(of: "-") {
                let a = part[..<dash], b = part[part.index(after: dash)...]
                guard let lo = Int(a), let hi = Int(b), lo >= 0, hi >= 0 else {
                    throw SeedSpecError("bad seed range '\(part)' (expected A-B with non-negative integers, e.g. 0-7)")
                }
                guard lo <= hi else { throw SeedSpecError("seed range '\(part)' is empty (start above end)") }
                guard hi - lo < maxSeeds else { throw SeedSpecError("seed range '\(part)' has more than \(maxSeeds) seeds") }
                for s in lo...hi where seen.insert(s).inserted { seeds.append(s) }
            } else {
                guard let s = Int(part), s >= 0 else {
                    throw SeedSpecError("bad seed '\(part)' (expected a non-negative integer)")
                }
                if seen.insert(s).inserted { seeds.append(s) }
            }
            guard seeds.count <= maxSeeds else { throw SeedSpecError("more than \(maxSeeds) seeds in '\(text)'") }
        }
        return seeds
    }
}

public struct SeedSpecError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = "--seeds: " + d }
}

import Foundation
