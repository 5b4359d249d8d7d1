import CBLASLoader
import CProcessGuard
import Foundation
import FusionCore

/// OpenBLAS, loaded when the CPU backend first prepares a graph (`CBLASLoader`), after
/// checking that its thread pool and GEMM buffers fit under the address-space limit.
enum BLASRuntime {
    private static let lock = NSLock()
    /// A pool thread's stack plus one GEMM buffer (OpenBLAS's BUFFER_SIZE, 128 MiB, and padding).
    static let bytesPerThread = (8 + 136) << 20

    static func load(threads: Int) throws {
        if fk_blas_loaded() != 0 { return }
        lock.lock()
        defer { lock.unlock() }
        if fk_blas_loaded() != 0 { return }
        try HostMemory.check(max(1, threads) * bytesPerThread, for: "OpenBLAS's thread pool and GEMM buffers (\(threads) thread(s))")
        var message = [CChar](repeating: 0, count: 512)
        guard fk_blas_load(Int32(max(1, threads)), &message, message.count) == 0 else {
            throw FusionError.backend("cpu: " + String(cString: message))
        }
        // One GEMM large enough to start every pool thread, so their buffers are allocated
        // now, while the headroom is known, and reused by every later GEMM.
        let n = 384
        let a = [Float](repeating: 1, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        a.withUnsafeBufferPointer { p in
            c.withUnsafeMutableBufferPointer { fk_blas_sgemm(0, 0, Int32(n), Int32(n), Int32(n), 1, p.baseAddress, Int32(n), p.baseAddress, Int32(n), 0, $0.baseAddress, Int32(n)) }
        }
    }

    /// Loads the library for a caller that cannot throw (it was checked when a graph was prepared).
    static func ensureLoaded() {
        if fk_blas_loaded() != 0 { return }
        do { try load(threads: ProcessInfo.processInfo.activeProcessorCount) } catch {
            let message = "error: \(error)"
            message.withCString { fk_guard_fail($0, 71) }
        }
    }
}

/// Row-major single-precision GEMM: `C = alpha * op(A) * op(B) + beta * C`, where op(A) is
/// m x k and op(B) is k x n. Handles the degenerate sizes BLAS rejects (an empty product
/// scales C by beta; empty outputs do nothing).
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 || alpha == 0 {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 {
                row.update(repeating: 0, count: n)
            } else if beta != 1 {
                for j in 0..<n { row[j] *= beta }
            }
        }
        return
    }
    if fk_blas_loaded() == 0 { BLASRuntime.ensureLoaded() }
    fk_blas_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                  a, Int32(max(1, lda)), b, Int32(max(1, ldb)), beta, c, Int32(max(1, ldc)))
}
