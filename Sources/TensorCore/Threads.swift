import CBLAS
import CBLASCore
import Dispatch
import Foundation
import Synchronization

/// Thread count for tedi's own parallel loops.
///
/// Defaults to `TEDI_THREADS` when set, else the number of active processors. OpenBLAS itself
/// always runs single-threaded (set before `main`, Sources/CBLASCore/blascore.c): its threaded
/// sgemm gives other bits at other thread counts, so tedi splits products into fixed blocks and
/// runs those on its own threads (`Gemm.swift`).
public enum Threads {
    nonisolated(unsafe) private static var current: Int = {
        let n = Int(ProcessInfo.processInfo.environment["TEDI_THREADS"] ?? "") ?? ProcessInfo.processInfo.activeProcessorCount
        return max(1, min(n, 256))
    }()

    /// The number of threads tedi's parallel loops (and so its matrix products) use.
    public static var count: Int {
        get { current }
        set { current = max(1, min(newValue, 256)) }
    }

    /// Reads `TEDI_THREADS` now rather than at first use (call once before timing anything).
    public static func configure() { _ = current }

    /// The OpenBLAS kernel set in use, e.g. "OpenBLAS SkylakeX", with "(set by tedi)" when tedi's
    /// start-up check replaced OpenBLAS's generic fallback (Sources/CBLASCore/blascore.c).
    public static var blasDescription: String {
        let name = String(cString: tedi_blas_corename())
        let forced = String(cString: tedi_blas_core_override())
        return "OpenBLAS \(name)" + (forced.isEmpty ? "" : " (set by tedi: OpenBLAS did not know this CPU)")
    }
}

/// Runs `body` over `0..<n` split into contiguous chunks, in parallel when `n` is at least
/// `grain` per thread. Chunk boundaries depend only on `n` and the thread count, and each index is
/// handled exactly once, so results of elementwise work never depend on scheduling.
@inline(__always)
func parallelChunks(_ n: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
    let threads = Threads.count
    let chunks = min(threads, n / max(grain, 1))
    if chunks <= 1 {
        if n > 0 { body(0..<n) }
        return
    }
    let step = (n + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = c * step
        let hi = min(n, lo + step)
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(i)` for every `i` in `0..<n`, concurrently across `Threads.count` workers when there
/// is more than one item. For coarse work items (a sample, a channel block, an image row band).
@inline(__always)
func parallelFor(_ n: Int, _ body: (Int) -> Void) {
    let workers = min(n, Threads.count)
    if workers <= 1 {
        for i in 0..<n { body(i) }
        return
    }
    // Contiguous blocks, one per worker, so at most `Threads.count` run at once.
    let step = (n + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        for i in (w * step)..<min(n, (w + 1) * step) { body(i) }
    }
}

/// Runs `body(i)` for every `i` in `0..<n` on up to `Threads.count` workers that take the next
/// index from a shared counter, so uneven items balance. Which worker runs an item must not
/// change its result (true of independent blocks).
func parallelTasks(_ n: Int, _ body: (Int) -> Void) {
    let workers = min(n, Threads.count)
    if workers <= 1 {
        for i in 0..<n { body(i) }
        return
    }
    let next = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= n { break }
            body(i)
        }
    }
}
