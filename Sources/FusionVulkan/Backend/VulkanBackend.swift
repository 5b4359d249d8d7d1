import Foundation
import FusionCore

/// Runs graphs as GLSL compute shaders on one Vulkan device.
public final class VulkanBackend: Backend {
    public let context: VulkanContext
    public var name: String { "vulkan" }
    public var deviceDescription: String { "\(context.info.name) (\(context.info.type), Vulkan \(context.info.apiVersion))" }

    /// - Parameters:
    ///   - deviceIndex: index in `VulkanContext.enumerateDevices()`; nil picks
    ///     `FUSIONKIT_DEVICE`, else the first discrete GPU.
    ///   - validation: enable `VK_LAYER_KHRONOS_validation`; nil reads `FUSIONKIT_VALIDATION`.
    ///   - requiredFeatures: capabilities the caller needs; a device without them is an error.
    public init(deviceIndex: Int? = nil, validation: Bool? = nil, cacheDirectory: URL? = nil,
                requiredFeatures: [DeviceFeature] = []) throws {
        context = try VulkanContext(deviceIndex: deviceIndex, validation: validation, cacheDirectory: cacheDirectory)
        try context.require(requiredFeatures, for: "this run")
    }

    public init(context: VulkanContext) {
        self.context = context
    }

    public func prepare(_ graph: Graph) throws -> Executable {
        try VulkanExecutable(context: context, graph: graph)
    }
}
