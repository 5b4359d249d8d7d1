import CVulkan
import Foundation

/// Everything the runtime (and `fusion devices`) wants to know about one physical device.
/// Limits keep their Vulkan types (`uint32_t` -> `UInt32`, `VkDeviceSize` -> `UInt64`).
public struct VulkanDeviceInfo {
    /// Position in `vkEnumeratePhysicalDevices` order (what `FUSIONKIT_DEVICE` selects).
    public var index: Int
    public var name: String
    /// "discrete GPU", "integrated GPU", "virtual GPU", "CPU" or "other".
    public var type: String
    /// Usable API version, "major.minor.patch" (the device's, capped by the instance's).
    public var apiVersion: String
    /// The device's own API version, packed as in `VkPhysicalDeviceProperties`.
    public var apiVersionRaw: UInt32
    public var driverVersion: UInt32
    /// From `VkPhysicalDeviceDriverProperties` (empty when the device cannot report it).
    public var driverName: String
    public var driverInfo: String
    public var vendorID: UInt32
    public var deviceID: UInt32
    /// 32 lowercase hex digits.
    public var pipelineCacheUUID: String

    // Limits.
    public var maxStorageBufferRange: UInt32
    /// From `VkPhysicalDeviceMaintenance3Properties`.
    public var maxMemoryAllocationSize: UInt64
    public var maxComputeWorkGroupCount: [UInt32]
    public var maxComputeWorkGroupSize: [UInt32]
    public var maxComputeWorkGroupInvocations: UInt32
    public var maxComputeSharedMemorySize: UInt32
    public var maxPushConstantsSize: UInt32
    public var minStorageBufferOffsetAlignment: UInt64
    public var maxBoundDescriptorSets: UInt32
    public var maxPerStageDescriptorStorageBuffers: UInt32
    /// Nanoseconds per timestamp tick.
    public var timestampPeriod: Float
    public var timestampComputeAndGraphics: Bool

    // Features (what the device supports; see `VulkanContext.enabledFeatures` for what is on).
    public var shaderFloat16: Bool
    public var shaderInt8: Bool
    public var shaderInt16: Bool
    public var shaderInt64: Bool
    public var storageBuffer16BitAccess: Bool
    public var storageBuffer8BitAccess: Bool
    public var hostQueryReset: Bool
    /// `VkPipelineCreationFeedback` available (core 1.3 or VK_EXT_pipeline_creation_feedback).
    public var pipelineCreationFeedback: Bool
    public var subgroupSize: UInt32
    /// E.g. ["basic", "vote", "arithmetic", "ballot", "shuffle", "shuffle_relative", "clustered", "quad"].
    public var subgroupSupportedOperations: [String]
    /// Subgroup operations are usable in compute shaders.
    public var subgroupStagesIncludeCompute: Bool
    /// VK_KHR_cooperative_matrix or VK_NV_cooperative_matrix is exposed.
    public var cooperativeMatrix: Bool
    /// The cooperative-matrix extensions the device exposes (VK_KHR_cooperative_matrix,
    /// VK_NV_cooperative_matrix), for `fusion devices`.
    public var cooperativeMatrixExtensions: [String] {
        extensions.filter { $0 == "VK_KHR_cooperative_matrix" || $0 == "VK_NV_cooperative_matrix" }
    }
    public var memoryHeaps: [(size: UInt64, deviceLocal: Bool)]
    /// Bytes of the largest device-local heap (of the largest heap when none is device-local):
    /// what one process can count on for device buffers.
    public var deviceLocalHeapBytes: UInt64 {
        let local = memoryHeaps.filter(\.deviceLocal)
        return (local.isEmpty ? memoryHeaps : local).map(\.size).max() ?? 0
    }
    /// Device extension names, sorted.
    public var extensions: [String]

    /// Human-readable multi-line description.
    public var summaryLines: [String] {
        func mib<T: BinaryInteger>(_ bytes: T) -> String { Self.formatBytes(UInt64(bytes)) }
        var lines: [String] = []
        lines.append("[\(index)] \(name) (\(type))")
        lines.append("  API \(apiVersion), driver \(driverName.isEmpty ? "?" : driverName) \(driverInfo) (version 0x\(String(driverVersion, radix: 16)))")
        lines.append("  vendor 0x\(String(vendorID, radix: 16)), device 0x\(String(deviceID, radix: 16)), pipeline cache UUID \(pipelineCacheUUID)")
        lines.append("  limits:")
        lines.append("    maxStorageBufferRange \(mib(maxStorageBufferRange)), maxMemoryAllocationSize \(mib(maxMemoryAllocationSize))")
        lines.append("    maxComputeWorkGroupCount \(maxComputeWorkGroupCount.map(String.init).joined(separator: " x "))")
        lines.append("    maxComputeWorkGroupSize \(maxComputeWorkGroupSize.map(String.init).joined(separator: " x ")), invocations \(maxComputeWorkGroupInvocations)")
        lines.append("    maxComputeSharedMemorySize \(mib(maxComputeSharedMemorySize)), maxPushConstantsSize \(maxPushConstantsSize) B")
        lines.append("    minStorageBufferOffsetAlignment \(minStorageBufferOffsetAlignment) B, maxBoundDescriptorSets \(maxBoundDescriptorSets), maxPerStageDescriptorStorageBuffers \(maxPerStageDescriptorStorageBuffers)")
        lines.append("    timestampPeriod \(timestampPeriod) ns, timestampComputeAndGraphics \(timestampComputeAndGraphics)")
        lines.append("  features:")
        lines.append("    shaderFloat16 \(shaderFloat16), shaderInt8 \(shaderInt8), shaderInt16 \(shaderInt16), shaderInt64 \(shaderInt64)")
        lines.append("    storageBuffer16BitAccess \(storageBuffer16BitAccess), storageBuffer8BitAccess \(storageBuffer8BitAccess), hostQueryReset \(hostQueryReset)")
        lines.append("    subgroupSize \(subgroupSize), compute \(subgroupStagesIncludeCompute), operations [\(subgroupSupportedOperations.joined(separator: ", "))]")
        lines.append("    cooperativeMatrix \(cooperativeMatrixExtensions.isEmpty ? "none" : cooperativeMatrixExtensions.joined(separator: " + ")), pipelineCreationFeedback \(pipelineCreationFeedback)")
        lines.append("  memory heaps:")
        for (i, heap) in memoryHeaps.enumerated() {
            lines.append("    [\(i)] \(Self.formatBytes(heap.size))\(heap.deviceLocal ? " device-local" : "")")
        }
        lines.append("  \(extensions.count) device extensions")
        return lines
    }

    static func formatBytes(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1, value.truncatingRemainder(dividingBy: 1024) == 0 || value >= 1024 * 16 {
            value /= 1024
            unit += 1
        }
        if value == value.rounded() { return "\(Int(value)) \(units[unit])" }
        return String(format: "%.1f %@", value, units[unit])
    }
}

extension VulkanDeviceInfo {
    /// Queries a physical device. `instanceVersion` caps which core structs may be chained.
    static func query(_ device: VkPhysicalDevice, index: Int, instanceVersion: UInt32) -> VulkanDeviceInfo {
        var base = VkPhysicalDeviceProperties()
        vkGetPhysicalDeviceProperties(device, &base)
        let effective = min(vulkanMajorMinor(base.apiVersion), vulkanMajorMinor(instanceVersion))
        let extensions = deviceExtensions(device)
        let has = { (name: String) in extensions.contains(name) }
        let v11 = effective >= vulkanMakeVersion(1, 1)
        let v12 = effective >= vulkanMakeVersion(1, 2)
        let v13 = effective >= vulkanMakeVersion(1, 3)

        // Properties (pNext chain; only structs the device/instance can accept).
        let props2 = HeapBox(VkPhysicalDeviceProperties2())
        props2.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
        let driver = HeapBox(VkPhysicalDeviceDriverProperties())
        driver.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES
        let maintenance3 = HeapBox(VkPhysicalDeviceMaintenance3Properties())
        maintenance3.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES
        let subgroup = HeapBox(VkPhysicalDeviceSubgroupProperties())
        subgroup.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES
        let hasDriverProps = v12 || has("VK_KHR_driver_properties")
        if v11 {
            var tail: UnsafeMutableRawPointer? = nil
            if hasDriverProps { driver.pointer.pointee.pNext = tail; tail = driver.raw }
            maintenance3.pointer.pointee.pNext = tail; tail = maintenance3.raw
            subgroup.pointer.pointee.pNext = tail; tail = subgroup.raw
            props2.pointer.pointee.pNext = tail
            vkGetPhysicalDeviceProperties2(device, props2.pointer)
        }

        // Features.
        let features2 = HeapBox(VkPhysicalDeviceFeatures2())
        features2.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
        let storage16 = HeapBox(VkPhysicalDevice16BitStorageFeatures())
        storage16.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES
        let storage8 = HeapBox(VkPhysicalDevice8BitStorageFeatures())
        storage8.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES
        let float16 = HeapBox(VkPhysicalDeviceShaderFloat16Int8Features())
        float16.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES
        let queryReset = HeapBox(VkPhysicalDeviceHostQueryResetFeatures())
        queryReset.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_HOST_QUERY_RESET_FEATURES
        var coreFeatures = VkPhysicalDeviceFeatures()
        if v11 {
            var tail: UnsafeMutableRawPointer? = nil
            storage16.pointer.pointee.pNext = tail; tail = storage16.raw
            if v12 || has("VK_KHR_8bit_storage") { storage8.pointer.pointee.pNext = tail; tail = storage8.raw }
            if v12 || has("VK_KHR_shader_float16_int8") { float16.pointer.pointee.pNext = tail; tail = float16.raw }
            if v12 || has("VK_EXT_host_query_reset") { queryReset.pointer.pointee.pNext = tail; tail = queryReset.raw }
            features2.pointer.pointee.pNext = tail
            vkGetPhysicalDeviceFeatures2(device, features2.pointer)
            coreFeatures = features2.value.features
        } else {
            vkGetPhysicalDeviceFeatures(device, &coreFeatures)
        }

        var memory = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(device, &memory)
        let heapCount = Int(memory.memoryHeapCount)
        let heaps: [(size: UInt64, deviceLocal: Bool)] = withUnsafeBytes(of: memory.memoryHeaps) { raw in
            let all = raw.bindMemory(to: VkMemoryHeap.self)
            return (0..<min(heapCount, all.count)).map { i in
                (size: all[i].size, deviceLocal: all[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue != 0)
            }
        }

        let limits = base.limits
        let subgroupOps = subgroup.value.supportedOperations
        let opNames: [(VkSubgroupFeatureFlagBits, String)] = [
            (VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"), (VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"),
            (VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"), (VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"),
            (VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"), (VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"),
            (VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"), (VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"),
            (VK_SUBGROUP_FEATURE_PARTITIONED_BIT_NV, "partitioned_nv"),
        ]

        let typeName: String
        switch base.deviceType {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: typeName = "discrete GPU"
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: typeName = "integrated GPU"
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: typeName = "virtual GPU"
        case VK_PHYSICAL_DEVICE_TYPE_CPU: typeName = "CPU"
        default: typeName = "other"
        }

        let wgCount = limits.maxComputeWorkGroupCount, wgSize = limits.maxComputeWorkGroupSize
        return VulkanDeviceInfo(
            index: index,
            name: stringFromCCharTuple(base.deviceName),
            type: typeName,
            apiVersion: vulkanVersionString(vulkanMajorMinor(base.apiVersion) <= vulkanMajorMinor(instanceVersion)
                                            ? base.apiVersion : vulkanMajorMinor(instanceVersion)),
            apiVersionRaw: base.apiVersion,
            driverVersion: base.driverVersion,
            driverName: hasDriverProps && v11 ? stringFromCCharTuple(driver.value.driverName) : "",
            driverInfo: hasDriverProps && v11 ? stringFromCCharTuple(driver.value.driverInfo) : "",
            vendorID: base.vendorID,
            deviceID: base.deviceID,
            pipelineCacheUUID: bytesFromTuple(base.pipelineCacheUUID).map { String(format: "%02x", $0) }.joined(),
            maxStorageBufferRange: limits.maxStorageBufferRange,
            // Without maintenance3 the spec guarantees at least 1 GiB (2^30).
            maxMemoryAllocationSize: v11 ? maintenance3.value.maxMemoryAllocationSize : 1 << 30,
            maxComputeWorkGroupCount: [wgCount.0, wgCount.1, wgCount.2],
            maxComputeWorkGroupSize: [wgSize.0, wgSize.1, wgSize.2],
            maxComputeWorkGroupInvocations: limits.maxComputeWorkGroupInvocations,
            maxComputeSharedMemorySize: limits.maxComputeSharedMemorySize,
            maxPushConstantsSize: limits.maxPushConstantsSize,
            minStorageBufferOffsetAlignment: limits.minStorageBufferOffsetAlignment,
            maxBoundDescriptorSets: limits.maxBoundDescriptorSets,
            maxPerStageDescriptorStorageBuffers: limits.maxPerStageDescriptorStorageBuffers,
            timestampPeriod: limits.timestampPeriod,
            timestampComputeAndGraphics: limits.timestampComputeAndGraphics != 0,
            shaderFloat16: float16.value.shaderFloat16 != 0,
            shaderInt8: float16.value.shaderInt8 != 0,
            shaderInt16: coreFeatures.shaderInt16 != 0,
            shaderInt64: coreFeatures.shaderInt64 != 0,
            storageBuffer16BitAccess: storage16.value.storageBuffer16BitAccess != 0,
            storageBuffer8BitAccess: storage8.value.storageBuffer8BitAccess != 0,
            hostQueryReset: queryReset.value.hostQueryReset != 0,
            pipelineCreationFeedback: v13 || has("VK_EXT_pipeline_creation_feedback"),
            subgroupSize: v11 ? subgroup.value.subgroupSize : 1,
            subgroupSupportedOperations: opNames.filter { subgroupOps & $0.0.rawValue != 0 }.map { $0.1 },
            subgroupStagesIncludeCompute: subgroup.value.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT.rawValue != 0,
            cooperativeMatrix: has("VK_KHR_cooperative_matrix") || has("VK_NV_cooperative_matrix"),
            memoryHeaps: heaps,
            extensions: extensions.sorted()
        )
    }

    static func deviceExtensions(_ device: VkPhysicalDevice) -> Set<String> {
        var count: UInt32 = 0
        guard vkEnumerateDeviceExtensionProperties(device, nil, &count, nil) == VK_SUCCESS, count > 0 else { return [] }
        var props = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(count))
        let result = vkEnumerateDeviceExtensionProperties(device, nil, &count, &props)
        guard result == VK_SUCCESS || result == VK_INCOMPLETE else { return [] }
        return Set(props.prefix(Int(count)).map { stringFromCCharTuple($0.extensionName) })
    }
}
