import CCPUProbe
import Dispatch
import Foundation
import FusionVulkan

/// The CPU backend's peaks: vector FMA throughput on every core (`cpu_probe.c`, the widest
/// ISA the CPU has) and a multi-threaded `memcpy` bandwidth, each the best of `repeats`.
public struct CPUPeakProbe {
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var targetSeconds = 0.2
    public var repeats = 5
    /// Bytes copied per bandwidth run: far larger than any cache.
    public var copyBytes = 256 << 20

    public init() {}

    public func measure() -> DevicePeak {
        let lanes = Int(fusion_probe_fma_lanes())
        let isa = lanes == 16 ? "AVX-512" : lanes == 8 ? "AVX2+FMA" : "scalar"
        return DevicePeak(gflops: measureFMA(lanes: lanes) / 1e9, gbps: measureCopy() / 1e9,
                          method: "\(isa) FMA chains on \(threads) threads and a \(threads)-thread memcpy of \(copyBytes >> 20) MiB, best of \(repeats)")
    }

    func measureFMA(lanes: Int) -> Double {
        var loops = 1 << 16
        let threads = self.threads
        func run() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                _ = fusion_probe_fma(loops)
            }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        var seconds = run()
        while seconds < targetSeconds, loops < 1 << 34 {
            loops *= Int(min(8, max(2, (targetSeconds / max(seconds, 1e-6)).rounded(.up))))
            seconds = run()
        }
        var best = seconds
        for _ in 0..<repeats { best = min(best, run()) }
        return Double(threads) * Double(loops) * 12 * Double(lanes) * 2 / best
    }

    func measureCopy() -> Double {
        let bytes = copyBytes
        let threads = self.threads
        let src = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        let dst = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { src.deallocate(); dst.deallocate() }
        let chunk = (bytes / threads) / 64 * 64
        func run() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                let length = t == threads - 1 ? bytes - chunk * t : chunk
                memcpy(dst + chunk * t, src + chunk * t, length)
            }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        // First touch on the threads that copy (page faults are not bandwidth).
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let length = t == threads - 1 ? bytes - chunk * t : chunk
            memset(src + chunk * t, 1, length)
            memset(dst + chunk * t, 0, length)
        }
        var best = Double.infinity
        for _ in 0..<repeats { best = min(best, run()) }
        return 2 * Double(bytes) / best
    }
}
