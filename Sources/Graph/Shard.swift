/// One of N deterministic slices of a sweep: `--shard I/N` (0 ≤ I < N).
///
/// Slices are strided: shard I takes the seeds at positions I, I+N, I+2N, … of the sweep's seed
/// list (in the order given). Every seed lands in exactly one shard, shard sizes differ by at
/// most one, and neighbouring seeds (often of similar cost) are spread over all shards. The
/// slice depends only on the seed list and N, so every array task computes the same split.
public struct Shard: Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    /// Largest N accepted (Slurm's default MaxArraySize is 1001).
    public static let maxCount = 100_000

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= Shard.maxCount else {
            throw ShardError("--shard I/N: N must be between 1 and \(Shard.maxCount), got \(count)")
        }
        guard index >= 0, index < count else {
            throw ShardError("--shard I/N: I must be between 0 and N-1 = \(count - 1), got \(index) (Slurm array ids start at 0 with --array=0-\(count - 1))")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N`.
    public static func parse(_ text: String) throws -> Shard {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw ShardError("--shard expects I/N with integers, e.g. 0/4, got '\(text)'")
        }
        return try Shard(index: i, count: n)
    }

    /// The seeds of this shard, in sweep order.
    public func select(_ seeds: [Int]) -> [Int] {
        stride(from: index, to: seeds.count, by: count).map { seeds[$0] }
    }

    public var description: String { "\(index)/\(count)" }
}

/// A bad `--shard` value; the CLI reports it as a usage error.
public struct ShardError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}
