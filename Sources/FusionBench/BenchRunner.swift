import Foundation
import FusionCore
import FusionVulkan

/// Times benchmark cases on one backend: prepares once, runs `warmup` untimed runs, then
/// `repeats` timed ones.
public struct BenchRunner {
    public let backend: Backend
    public var warmup = 1
    public var repeats = 5
    /// The device's peaks, for the share of roofline; nil leaves `peakShare` out.
    public var peak: DevicePeak?

    public init(backend: Backend, peak: DevicePeak?) {
        self.backend = backend
        self.peak = peak
    }

    public func run(_ c: BenchCase) throws -> BenchResult {
        let graph = try backend.optimized(c.graph)
        let executable = try backend.prepare(graph)
        for _ in 0..<warmup { _ = try executable.run(c.inputs) }
        var wall: [Double] = [], gpu: [Double] = []
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try executable.run(c.inputs)
            wall.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            if let profile = executable.lastProfile, profile.timer == "gpu" { gpu.append(profile.nodeSeconds * 1e3) }
        }
        let useGPU = gpu.count == wall.count && !gpu.isEmpty
        let times = (useGPU ? gpu : wall).sorted()
        let median = Self.median(times)
        // FLOP of the network as built (the work asked for); bytes as run (what the passes
        // save), at the precision the backend stores floats in (fp16 Vulkan: 2 per element).
        let precision = (backend as? VulkanBackend)?.precision ?? .fp32
        let flop = c.flops, bytes = GraphTraffic.bytes(graph, precision: precision)
        var share: Double?, bound: String?
        if let peak, peak.gflops > 0, peak.gbps > 0, median > 0 {
            let computeSeconds = flop / (peak.gflops * 1e9), memorySeconds = bytes / (peak.gbps * 1e9)
            share = max(computeSeconds, memorySeconds) / (median / 1e3)
            bound = computeSeconds >= memorySeconds ? "compute" : "memory"
        }
        return BenchResult(name: c.name, kind: c.kind, backend: backend.name, size: c.size,
                           medianMs: median, minMs: times.first ?? 0, maxMs: times.last ?? 0,
                           timer: useGPU ? "gpu" : "wall", wallMedianMs: Self.median(wall.sorted()), repeats: times.count,
                           gflop: flop / 1e9, gbytes: bytes / 1e9, gbytesBefore: c.bytes / 1e9,
                           nodes: graph.nodes.count, nodesBefore: c.graph.nodes.count, passes: backend.passes.description,
                           gflops: median > 0 ? flop / 1e9 / (median / 1e3) : 0,
                           gbps: median > 0 ? bytes / 1e9 / (median / 1e3) : 0,
                           peakShare: share, bound: bound, precision: precision.rawValue)
    }

    static func median(_ sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let n = sorted.count
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}
