import Foundation

/// Measured limits of one Vulkan device: fp32 FMA throughput and copy bandwidth, the
/// denominators of a benchmark's share of peak.
public struct DevicePeak: Codable, Equatable, Sendable {
    public var gflops: Double
    public var gbps: Double
    /// How the numbers were measured, for reports.
    public var method: String

    public init(gflops: Double, gbps: Double, method: String) {
        self.gflops = gflops
        self.gbps = gbps
        self.method = method
    }
}

/// Runs `peak_fma.comp` and `peak_copy.comp` and times them with GPU timestamps (host
/// wall time where the queue has none). Each probe grows its dispatch until one run takes
/// `targetSeconds`, then keeps the best of `repeats` runs.
public struct VulkanPeakProbe {
    public let context: VulkanContext
    public var targetSeconds = 0.1
    public var repeats = 5

    public init(context: VulkanContext) {
        self.context = context
    }

    public func measure() throws -> DevicePeak {
        let flops = try measureFMA()
        let bandwidth = try measureCopy()
        return DevicePeak(gflops: flops / 1e9, gbps: bandwidth / 1e9,
                          method: "peak_fma.comp (64 FMA x 16 chains per loop) and peak_copy.comp (vec4 grid-stride copy), GPU timestamps, best of \(repeats)")
    }

    /// Seconds of one submission of `record`'s dispatch.
    private func time(_ sequence: CommandSequence) throws -> Double {
        let report = try sequence.submit()
        return report.timestampsAvailable && report.totalGPUNanoseconds > 0 ? report.totalGPUNanoseconds / 1e9 : report.wallNanoseconds / 1e9
    }

    /// FLOP/s of the FMA probe.
    func measureFMA() throws -> Double {
        let local = 256
        let pipeline = try context.pipeline(shader: "peak_fma.comp", specialization: [UInt32(local)], bindings: 1, pushConstantBytes: 12)
        let maxGroups = Int(min(context.info.maxComputeWorkGroupCount[0], 65535))
        var groups = 8, loops = 256
        let out = try context.makeBuffer(bytes: maxGroups * local * 4, kind: .deviceLocal)
        func run(_ groups: Int, _ loops: Int) throws -> Double {
            let sequence = try CommandSequence(context: context, capacity: 1)
            var constants = PushConstants()
            constants.append(UInt32(loops))
            constants.append(Float(0.9999).bitPattern)
            constants.append(Float(1e-4).bitPattern)
            try sequence.dispatch(pipeline, bindings: [.write(out)], constants: constants,
                                  groups: (UInt32(groups), 1, 1), label: "peak_fma")
            return try time(sequence)
        }
        var seconds = try run(groups, loops)
        while seconds < targetSeconds {
            let scale = min(8.0, max(2.0, targetSeconds / max(seconds, 1e-6)))
            if groups < maxGroups {
                groups = min(maxGroups, Int(Double(groups) * scale))
            } else if loops < 1 << 22 {
                loops = Int(Double(loops) * scale)
            } else {
                break
            }
            seconds = try run(groups, loops)
        }
        var best = seconds
        for _ in 0..<repeats { best = min(best, try run(groups, loops)) }
        return Double(groups * local) * Double(loops) * 64 * 2 / best
    }

    /// Bytes/s (read + write) of the copy probe.
    func measureCopy() throws -> Double {
        let local = 256
        let pipeline = try context.pipeline(shader: "peak_copy.comp", specialization: [UInt32(local)], bindings: 2, pushConstantBytes: 4)
        let limit = min(Int(context.info.maxStorageBufferRange), Int(clamping: context.info.maxMemoryAllocationSize))
        let bytes = min(256 << 20, limit) / 16 * 16
        let src = try context.makeBuffer(bytes: bytes, kind: .deviceLocal)
        let dst = try context.makeBuffer(bytes: bytes, kind: .deviceLocal)
        let groups = min(Int(context.info.maxComputeWorkGroupCount[0]), 65535, bytes / 16 / local / 4 + 1)
        let sequence = try CommandSequence(context: context, capacity: 2)
        sequence.fill(.write(src), value: 0x3F80_0000)
        var constants = PushConstants()
        constants.append(UInt32(bytes / 16))
        try sequence.dispatch(pipeline, bindings: [.read(src), .write(dst)], constants: constants,
                              groups: (UInt32(groups), 1, 1), label: "peak_copy")
        _ = try sequence.submit()   // warm-up (and the fill)
        let copy = try CommandSequence(context: context, capacity: 1)
        try copy.dispatch(pipeline, bindings: [.read(src), .write(dst)], constants: constants,
                          groups: (UInt32(groups), 1, 1), label: "peak_copy")
        var best = Double.infinity
        for _ in 0..<repeats { best = min(best, try time(copy)) }
        return 2 * Double(bytes) / best
    }
}
