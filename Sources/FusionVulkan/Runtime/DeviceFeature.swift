import FusionCore

/// Optional device capabilities a kernel or a caller can insist on.
public enum DeviceFeature: String, CaseIterable, Sendable {
    case float16 = "fp16"
    case storage16Bit = "storage16"
    case int64
    case subgroupArithmetic = "subgroup-arithmetic"
    case cooperativeMatrix = "coop-matrix"
    case timestamps

    /// What the feature is, in Vulkan's words, for error messages.
    public var vulkanName: String {
        switch self {
        case .float16: return "shaderFloat16"
        case .storage16Bit: return "storageBuffer16BitAccess"
        case .int64: return "shaderInt64"
        case .subgroupArithmetic: return "subgroup arithmetic operations in compute shaders"
        case .cooperativeMatrix: return "cooperative matrices (VK_KHR_cooperative_matrix / VK_NV_cooperative_matrix)"
        case .timestamps: return "timestampComputeAndGraphics"
        }
    }

    public func isSupported(by info: VulkanDeviceInfo) -> Bool {
        switch self {
        case .float16: return info.shaderFloat16
        case .storage16Bit: return info.storageBuffer16BitAccess
        case .int64: return info.shaderInt64
        case .subgroupArithmetic: return info.subgroupStagesIncludeCompute && info.subgroupSupportedOperations.contains("arithmetic")
        case .cooperativeMatrix: return info.cooperativeMatrix
        case .timestamps: return info.timestampComputeAndGraphics
        }
    }
}

extension VulkanContext {
    /// Throws `VulkanError.unsupportedFeature` naming the device, the feature and who needs
    /// it when the device lacks any of `features`.
    public func require(_ features: [DeviceFeature], for user: String) throws {
        if let missing = features.first(where: { !$0.isSupported(by: info) }) {
            throw VulkanError.unsupportedFeature("\(user) requires \(missing.vulkanName), which device [\(info.index)] '\(info.name)' does not support")
        }
    }
}

extension StoragePrecision {
    /// The device features fp16 storage needs: fp16 in shaders (conversions) and 16-bit
    /// storage-buffer access. `VulkanContext` enables both when present and refuses an fp16
    /// context on a device without them, naming what is missing.
    public static let fp16RequiredFeatures: [DeviceFeature] = [.float16, .storage16Bit]
}
