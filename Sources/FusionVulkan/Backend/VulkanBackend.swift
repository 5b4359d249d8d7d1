import Foundation
import FusionCore

/// Runs graphs as GLSL compute shaders on one Vulkan device.
///
/// The intermediates of every graph it prepares live in one `VulkanArena` (grown to the
/// largest need, never shrunk), so keeping many sizes prepared costs their constants,
/// inputs and outputs, not their intermediates.
public final class VulkanBackend: Backend {
    public let context: VulkanContext
    let arena: VulkanArena
    public var name: String { "vulkan" }
    public var deviceDescription: String { "\(context.info.name) (\(context.info.type), Vulkan \(context.info.apiVersion))" }
    /// Work (FLOP, `GraphCost`) of one queue submission before a graph is split over
    /// several: `FUSIONKIT_SUBMISSION_GFLOP`, default 50 GFLOP.
    public var submissionWorkLimit: Double = VulkanBackend.environmentNumber("FUSIONKIT_SUBMISSION_GFLOP").map { $0 * 1e9 } ?? 50e9
    /// The longest wait for one submission, in seconds: `FUSIONKIT_GPU_TIMEOUT`; nil scales
    /// it with the submission's work.
    public var submissionTimeoutSeconds: Double? = VulkanBackend.environmentNumber("FUSIONKIT_GPU_TIMEOUT")

    /// A positive number from the environment (nil when unset or not a positive number).
    static func environmentNumber(_ name: String) -> Double? {
        FusionEnvironment.positiveNumber(name)
    }

    /// - Parameters:
    ///   - deviceIndex: index in `VulkanContext.enumerateDevices()`; nil picks
    ///     `FUSIONKIT_DEVICE`, else the first discrete GPU.
    ///   - validation: enable `VK_LAYER_KHRONOS_validation`; nil reads `FUSIONKIT_VALIDATION`.
    ///   - requiredFeatures: capabilities the caller needs; a device without them is an error.
    public init(deviceIndex: Int? = nil, validation: Bool? = nil, cacheDirectory: URL? = nil,
                requiredFeatures: [DeviceFeature] = []) throws {
        context = try VulkanContext(deviceIndex: deviceIndex, validation: validation, cacheDirectory: cacheDirectory)
        arena = VulkanArena(context: context)
        try context.require(requiredFeatures, for: "this run")
    }

    public init(context: VulkanContext) {
        self.context = context
        arena = VulkanArena(context: context)
    }

    /// Device bytes of the intermediates shared by every executable of this backend.
    public var arenaBytes: Int { arena.bytes }

    public var sharesIntermediateMemory: Bool { true }

    public func prepare(_ graph: Graph) throws -> Executable {
        try VulkanExecutable(context: context, graph: graph, arena: arena, submissionWorkLimit: submissionWorkLimit,
                             timeoutSeconds: submissionTimeoutSeconds)
    }
}
