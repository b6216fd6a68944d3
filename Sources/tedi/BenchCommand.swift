/// `tedi bench` — placeholder; the benchmarks land with the conv work.
enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "measure kernels (GFLOPS) and models"
    static let usage = "usage: tedi bench gemm|conv [--threads N]"
    static func run(_ args: [String]) throws -> Int32 { throw UsageError("not built yet") }
}
