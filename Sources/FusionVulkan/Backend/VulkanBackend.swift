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
    /// several: `options.submissionGFLOP` (FUSIONKIT_SUBMISSION_GFLOP), default 50 GFLOP.
    public var submissionWorkLimit: Double
    /// The longest wait for one submission, in seconds: `options.timeoutSeconds`
    /// (FUSIONKIT_GPU_TIMEOUT); nil scales it with the submission's work.
    public var submissionTimeoutSeconds: Double?
    /// Graph passes `prepare` applies: `options.passes` (FUSIONKIT_PASSES), all by default.
    public var passes: GraphPasses

    /// - Parameters:
    ///   - deviceIndex: index in `VulkanContext.enumerateDevices()`; nil picks the options'
    ///     device (FUSIONKIT_DEVICE), else the first discrete GPU.
    ///   - validation: enable `VK_LAYER_KHRONOS_validation`; nil takes the options' setting.
    ///   - requiredFeatures: capabilities the caller needs; a device without them is an error.
    ///   - options: every knob (kernel set, submission size, timeout, cache, shaders); by
    ///     default read once from the environment.
    public init(deviceIndex: Int? = nil, validation: Bool? = nil, cacheDirectory: URL? = nil,
                requiredFeatures: [DeviceFeature] = [], options: FusionOptions = .current) throws {
        context = try VulkanContext(deviceIndex: deviceIndex, validation: validation, cacheDirectory: cacheDirectory, options: options)
        arena = VulkanArena(context: context)
        submissionWorkLimit = (options.vulkan.submissionGFLOP ?? 50) * 1e9
        submissionTimeoutSeconds = options.vulkan.timeoutSeconds
        passes = options.passes
        try context.require(requiredFeatures, for: "this run")
    }

    public init(context: VulkanContext) {
        self.context = context
        arena = VulkanArena(context: context)
        submissionWorkLimit = (context.options.submissionGFLOP ?? 50) * 1e9
        submissionTimeoutSeconds = context.options.timeoutSeconds
        passes = FusionOptions.current.passes
    }

    /// How float activations and weights are stored on the device (`options.vulkan.precision`).
    public var precision: StoragePrecision { context.options.precision }

    /// Device bytes of the intermediates shared by every executable of this backend.
    public var arenaBytes: Int { arena.bytes }

    public var sharesIntermediateMemory: Bool { true }

    public func prepare(_ graph: Graph) throws -> Executable {
        try VulkanExecutable(context: context, graph: try optimized(graph), arena: arena, submissionWorkLimit: submissionWorkLimit,
                             timeoutSeconds: submissionTimeoutSeconds)
    }
}
