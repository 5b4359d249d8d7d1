import CBLASLoader
import Foundation

// Threading helpers of the CPU backend.
//
// Kernels split their work into independent tasks and run them with `parallelTasks`, which
// starts at most `threads` workers (via `DispatchQueue.concurrentPerform`) that pull tasks
// from a shared counter, so uneven tasks (causal attention rows, border tiles) balance
// themselves. Each worker knows its index, so it can use its own slice of a scratch buffer.
//
// OpenBLAS runs its own thread pool. Inside a parallel region every worker calls GEMM
// single-threaded (`BLASThreads.singleThreaded`), so the machine is never oversubscribed;
// outside them GEMMs use the executable's thread count.

/// A lock-protected task counter shared by the workers of one parallel region.
final class TaskCounter: @unchecked Sendable {
    private var next = 0
    private let limit: Int
    private let grain: Int
    private let lock = NSLock()

    init(limit: Int, grain: Int) {
        self.limit = limit
        self.grain = max(1, grain)
    }

    /// The next range of at most `grain` tasks, or nil when all are taken.
    func take() -> Range<Int>? {
        lock.lock()
        defer { lock.unlock() }
        guard next < limit else { return nil }
        let start = next
        next = min(limit, next + grain)
        return start..<next
    }
}

/// Runs `body(worker, task)` for every task in `0..<count` on at most `threads` workers.
/// `worker` is in `0..<min(threads, count)`; tasks are handed out `grain` at a time.
@inline(__always)
func parallelTasks(_ count: Int, threads: Int, grain: Int = 1, _ body: (_ worker: Int, _ task: Int) -> Void) {
    if count <= 0 { return }
    let grain = max(1, grain)
    let workers = min(max(1, threads), (count + grain - 1) / grain)
    if workers <= 1 {
        for t in 0..<count { body(0, t) }
        return
    }
    let counter = TaskCounter(limit: count, grain: grain)
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        while let range = counter.take() {
            for t in range { body(w, t) }
        }
    }
}

/// Runs `body(i)` for every `i` in `0..<count` on at most `threads` workers.
@inline(__always)
func parallelFor(_ count: Int, threads: Int, grain: Int = 1, _ body: (Int) -> Void) {
    parallelTasks(count, threads: threads, grain: grain) { _, i in body(i) }
}

/// Splits `0..<total` into contiguous chunks of about `chunk` elements and runs
/// `body(range)` for each in parallel. Meant for flat elementwise loops.
@inline(__always)
func parallelRanges(_ total: Int, threads: Int, chunk: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
    if total <= 0 { return }
    let chunk = max(1, chunk)
    let n = (total + chunk - 1) / chunk
    parallelFor(n, threads: threads) { i in
        let start = i * chunk
        body(start..<min(total, start + chunk))
    }
}

/// Number of workers worth starting for `count` tasks.
@inline(__always)
func workerCount(_ count: Int, threads: Int) -> Int {
    max(1, min(max(1, threads), count))
}

/// Controls OpenBLAS's own thread pool.
enum BLASThreads {
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        /// Nesting depth of single-threaded regions.
        var depth = 0
        /// Thread count outside those regions (0 until first known).
        var outer = 0
    }
    private static let state = State()

    /// Sets the thread count GEMMs use outside parallel regions.
    static func setDefault(_ threads: Int) {
        let s = state
        s.lock.lock()
        defer { s.lock.unlock() }
        s.outer = max(1, threads)
        if s.depth == 0, Int(fk_blas_get_num_threads()) != s.outer {
            fk_blas_set_num_threads(Int32(s.outer))
        }
    }

    /// Runs `body` with OpenBLAS limited to one thread (for GEMMs called from workers).
    static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
        let s = state
        s.lock.lock()
        if s.depth == 0 {
            if s.outer == 0 { s.outer = Int(fk_blas_get_num_threads()) }
            if fk_blas_get_num_threads() != 1 { fk_blas_set_num_threads(1) }
        }
        s.depth += 1
        s.lock.unlock()
        defer {
            s.lock.lock()
            s.depth -= 1
            if s.depth == 0, s.outer > 1 { fk_blas_set_num_threads(Int32(s.outer)) }
            s.lock.unlock()
        }
        return try body()
    }

    /// A short description of the BLAS library ("OpenBLAS 0.3.21 ...").
    static var libraryName: String {
        guard fk_blas_loaded() != 0 else { return "OpenBLAS" }
        let s = String(cString: fk_blas_config())
        if let range = s.range(of: "OpenBLAS ") {
            let rest = s[range.upperBound...].split(separator: " ").first.map(String.init) ?? ""
            return rest.isEmpty ? "OpenBLAS" : "OpenBLAS \(rest)"
        }
        return "OpenBLAS"
    }
}

/// Runs `body` on `tasks` tasks: in parallel with single-threaded GEMMs when there are enough
/// tasks to keep every thread busy, otherwise sequentially with multi-threaded GEMMs.
@inline(__always)
func parallelGEMMTasks(_ tasks: Int, threads: Int, _ body: (_ worker: Int, _ task: Int) -> Void) {
    if tasks <= 0 { return }
    if threads > 1 && tasks >= threads {
        BLASThreads.singleThreaded {
            parallelTasks(tasks, threads: threads, body)
        }
    } else {
        for t in 0..<tasks { body(0, t) }
    }
}
