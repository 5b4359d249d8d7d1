import CVulkan
import Foundation
import FusionCore

/// Owns a Vulkan instance, one logical device with one compute queue, the memory pools,
/// the shader compiler and the pipeline caches.
///
/// Thread safety: pipeline creation, buffer allocation, queue submission and statistics are
/// internally synchronised. Buffers and command sequences retain their context, so the
/// context is torn down only after everything created from it is gone.
public final class VulkanContext {
    public let info: VulkanDeviceInfo
    /// Optional features turned on at device creation.
    public let enabledFeatures: VulkanEnabledFeatures
    /// Root of the on-disk caches (`spirv/`, `pipelines/`).
    public let cacheDirectory: URL
    public let validationEnabled: Bool
    /// The knobs this context was made with (`FusionOptions.vulkan`): the kernel set,
    /// submission size and timeout its executables use.
    public let options: FusionOptions.Vulkan
    public let shaderCompiler: ShaderCompiler
    /// The device's GEMM tuning table (`fusion tune`), when the cache holds a valid one.
    public let gemmTuning: GemmTuningTable?
    /// Where the tuning table is (or would be) for this device.
    public let gemmTuningURL: URL
    /// Why a tuning table in the cache was ignored (corrupt or foreign), for callers to print.
    public let gemmTuningWarning: String?

    let instance: VulkanInstance
    let physicalDevice: VkPhysicalDevice
    let device: VkDevice
    let queue: VkQueue
    let queueFamilyIndex: UInt32
    /// `timestampValidBits` of the compute queue family (0: no timestamps).
    let timestampValidBits: UInt32
    let allocator: MemoryAllocator

    private let queueLock = NSLock()
    private let oneShotLock = NSLock()
    private var oneShotPool: VkCommandPool?
    let pipelineLock = NSLock()
    var pipelineCache: VkPipelineCache?
    var pipelineCacheDirty = false
    var pipelines: [PipelineKey: ComputePipeline] = [:]
    var descriptorSetLayouts: [Int: VkDescriptorSetLayout] = [:]
    var pipelineLayouts: [PipelineLayoutKey: VkPipelineLayout] = [:]
    private let statsLock = NSLock()
    private var counters = RuntimeStats()

    /// Messages recorded by the validation layer (WARNING/ERROR), in order.
    public var validationMessages: [String] { instance.log.messages }

    /// A snapshot of the runtime counters.
    public var stats: RuntimeStats {
        var s = statsLock.locked { counters }
        s.shadersCompiled = shaderCompiler.shadersCompiled
        s.spirvCacheHits = shaderCompiler.cacheHits
        let memory = allocator.stats
        s.bytesAllocated = memory.allocated
        s.peakBytesAllocated = memory.peak
        s.deviceMemoryBytes = memory.deviceMemory
        return s
    }

    func updateStats(_ body: (inout RuntimeStats) -> Void) {
        statsLock.locked { body(&counters) }
    }

    // MARK: - Device enumeration

    /// Lists the physical devices using a short-lived instance.
    public static func enumerateDevices(validation: Bool = false) throws -> [VulkanDeviceInfo] {
        let instance = try VulkanInstance(validation: validation)
        return try instance.physicalDevices().enumerated().map { index, device in
            VulkanDeviceInfo.query(device, index: index, instanceVersion: instance.apiVersion)
        }
    }

    // MARK: - Initialisation

    /// - Parameters:
    ///   - deviceIndex: nil selects `options.vulkan.deviceIndex` (FUSIONKIT_DEVICE) if set,
    ///     else the first discrete GPU, else the first integrated GPU, else device 0.
    ///   - validation: nil takes `options.vulkan.validation` (FUSIONKIT_VALIDATION).
    ///   - cacheDirectory: nil means `options.cacheRoot/vulkan` (FUSIONKIT_CACHE, else
    ///     `~/.cache/fusionkit`).
    ///   - options: the knobs, read once from the environment by default.
    public init(deviceIndex: Int? = nil, validation: Bool? = nil, cacheDirectory: URL? = nil, options: FusionOptions = .current) throws {
        let validate = validation ?? options.vulkan.validation
        let instance = try VulkanInstance(validation: validate)
        let devices = try instance.physicalDevices()
        guard !devices.isEmpty else {
            throw VulkanError.noDevice("vkEnumeratePhysicalDevices reported no devices")
        }
        let infos = devices.enumerated().map { index, device in
            VulkanDeviceInfo.query(device, index: index, instanceVersion: instance.apiVersion)
        }
        let index = try Self.selectDevice(explicit: deviceIndex ?? options.vulkan.deviceIndex, infos: infos)
        let info = infos[index]
        let physicalDevice = devices[index]
        guard vulkanMajorMinor(info.apiVersionRaw) >= vulkanMakeVersion(1, 1) else {
            throw VulkanError.unsupportedFeature("device '\(info.name)' supports Vulkan \(info.apiVersion); 1.1 is required")
        }
        try Self.checkPrecision(options.vulkan.precision, on: info)
        let (family, validBits) = try Self.selectQueueFamily(physicalDevice, deviceName: info.name)
        let (device, enabled) = try Self.createDevice(physicalDevice, info: info, family: family,
                                                       instanceVersion: instance.apiVersion)
        var features = enabled
        features.timestamps = validBits > 0
        var queue: VkQueue?
        vkGetDeviceQueue(device, family, 0, &queue)
        guard let queue = queue else {
            vkDestroyDevice(device, nil)
            throw VulkanError.noDevice("vkGetDeviceQueue returned no queue")
        }

        let cacheRoot = cacheDirectory ?? options.cacheRoot.appendingPathComponent("vulkan", isDirectory: true)
        let compiler: ShaderCompiler
        do {
            compiler = try ShaderCompiler(library: ShaderLibrary(directory: options.vulkan.shaderFolder.map { URL(fileURLWithPath: $0, isDirectory: true) }),
                                          target: .init(apiVersion: min(vulkanMajorMinor(info.apiVersionRaw), instance.apiVersion)),
                                          cacheDirectory: cacheRoot)
        } catch {
            vkDestroyDevice(device, nil)
            throw error
        }

        self.instance = instance
        self.info = info
        self.physicalDevice = physicalDevice
        self.device = device
        self.queue = queue
        self.queueFamilyIndex = family
        self.timestampValidBits = validBits
        self.enabledFeatures = features
        self.validationEnabled = validate
        self.options = options.vulkan
        self.cacheDirectory = cacheRoot
        self.shaderCompiler = compiler
        let tuningURL = GemmTuningTable.fileURL(in: cacheRoot, for: info)
        let tuning = GemmTuningTable.load(from: tuningURL, for: info)
        self.gemmTuningURL = tuningURL
        self.gemmTuning = tuning.table
        self.gemmTuningWarning = tuning.warning
        self.allocator = MemoryAllocator(device: device, physicalDevice: physicalDevice, info: info)
        // Fully initialised from here on: a throw below still runs deinit, which copes with
        // the optional handles that were not created yet.

        counters.pipelineCacheHits = features.pipelineCreationFeedback ? 0 : -1

        var poolInfo = VkCommandPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        poolInfo.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT.rawValue | VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT.rawValue
        poolInfo.queueFamilyIndex = family
        var pool: VkCommandPool?
        try vkCheck(vkCreateCommandPool(device, &poolInfo, nil, &pool), "vkCreateCommandPool", "context staging pool")
        oneShotPool = pool

        try createPipelineCache()
    }

    deinit {
        // Order matters for a clean validation-layer teardown: idle, save, destroy children,
        // destroy the device; the instance (messenger, then VkInstance) goes last when the
        // `instance` property is released.
        vkDeviceWaitIdle(device)
        flushCaches()
        for (_, pipeline) in pipelines { vkDestroyPipeline(device, pipeline.pipeline, nil) }
        pipelines = [:]
        for (_, layout) in pipelineLayouts { vkDestroyPipelineLayout(device, layout, nil) }
        for (_, layout) in descriptorSetLayouts { vkDestroyDescriptorSetLayout(device, layout, nil) }
        if let cache = pipelineCache { vkDestroyPipelineCache(device, cache, nil) }
        if let pool = oneShotPool { vkDestroyCommandPool(device, pool, nil) }
        allocator.destroyAll()
        vkDestroyDevice(device, nil)
    }

    // MARK: - Selection helpers

    /// Throws `unsupportedFeature` naming the features fp16 storage needs and those the
    /// device lacks, when `precision` is fp16 and the device cannot store fp16.
    static func checkPrecision(_ precision: StoragePrecision, on info: VulkanDeviceInfo) throws {
        guard precision == .fp16 else { return }
        let missing = StoragePrecision.fp16RequiredFeatures.filter { !$0.isSupported(by: info) }
        guard !missing.isEmpty else { return }
        throw VulkanError.unsupportedFeature("fp16 storage (--precision fp16) requires \(StoragePrecision.fp16RequiredFeatures.map(\.vulkanName).joined(separator: " and ")); device [\(info.index)] '\(info.name)' lacks \(missing.map(\.vulkanName).joined(separator: " and "))")
    }

    static func selectDevice(explicit: Int?, infos: [VulkanDeviceInfo]) throws -> Int {
        if let index = explicit {
            guard index >= 0, index < infos.count else {
                throw VulkanError.deviceIndexOutOfRange(index, infos.count)
            }
            return index
        }
        if let discrete = infos.firstIndex(where: { $0.type == "discrete GPU" }) { return discrete }
        if let integrated = infos.firstIndex(where: { $0.type == "integrated GPU" }) { return integrated }
        return 0
    }

    /// Prefers a compute family without graphics (dedicated async compute), else any compute family.
    static func selectQueueFamily(_ device: VkPhysicalDevice, deviceName: String) throws -> (UInt32, UInt32) {
        var count: UInt32 = 0
        vkGetPhysicalDeviceQueueFamilyProperties(device, &count, nil)
        var families = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(count))
        vkGetPhysicalDeviceQueueFamilyProperties(device, &count, &families)
        let compute = VK_QUEUE_COMPUTE_BIT.rawValue, graphics = VK_QUEUE_GRAPHICS_BIT.rawValue
        let candidates = families.prefix(Int(count)).enumerated().filter { $0.element.queueFlags & compute != 0 && $0.element.queueCount > 0 }
        guard let chosen = candidates.first(where: { $0.element.queueFlags & graphics == 0 }) ?? candidates.first else {
            throw VulkanError.unsupportedFeature("device '\(deviceName)' has no compute queue")
        }
        return (UInt32(chosen.offset), chosen.element.timestampValidBits)
    }

    /// Creates the logical device with every optional feature the runtime can use that the
    /// device supports. Nothing beyond Vulkan 1.1 is mandatory.
    static func createDevice(_ physicalDevice: VkPhysicalDevice, info: VulkanDeviceInfo, family: UInt32,
                             instanceVersion: UInt32) throws -> (VkDevice, VulkanEnabledFeatures) {
        let api = min(vulkanMajorMinor(info.apiVersionRaw), instanceVersion)
        let v12 = api >= vulkanMakeVersion(1, 2), v13 = api >= vulkanMakeVersion(1, 3)
        let available = Set(info.extensions)
        var extensions: [String] = []
        var enabled = VulkanEnabledFeatures()

        let features2 = HeapBox(VkPhysicalDeviceFeatures2())
        features2.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
        features2.pointer.pointee.features.shaderInt16 = info.shaderInt16 ? 1 : 0
        features2.pointer.pointee.features.shaderInt64 = info.shaderInt64 ? 1 : 0
        enabled.shaderInt16 = info.shaderInt16
        enabled.shaderInt64 = info.shaderInt64

        let vk11 = HeapBox(VkPhysicalDeviceVulkan11Features())
        vk11.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES
        let vk12 = HeapBox(VkPhysicalDeviceVulkan12Features())
        vk12.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES
        let storage16 = HeapBox(VkPhysicalDevice16BitStorageFeatures())
        storage16.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES
        let storage8 = HeapBox(VkPhysicalDevice8BitStorageFeatures())
        storage8.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES
        let float16 = HeapBox(VkPhysicalDeviceShaderFloat16Int8Features())
        float16.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES
        let queryReset = HeapBox(VkPhysicalDeviceHostQueryResetFeatures())
        queryReset.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_HOST_QUERY_RESET_FEATURES

        var tail: UnsafeMutableRawPointer? = nil
        func link<T>(_ box: HeapBox<T>, _ setNext: (UnsafeMutableRawPointer?) -> Void) {
            setNext(tail)
            tail = box.raw
        }
        if v12 {
            // Core 1.2: everything lives in the Vulkan11/12 feature structs.
            vk11.pointer.pointee.storageBuffer16BitAccess = info.storageBuffer16BitAccess ? 1 : 0
            vk12.pointer.pointee.storageBuffer8BitAccess = info.storageBuffer8BitAccess ? 1 : 0
            vk12.pointer.pointee.shaderFloat16 = info.shaderFloat16 ? 1 : 0
            vk12.pointer.pointee.shaderInt8 = info.shaderInt8 ? 1 : 0
            vk12.pointer.pointee.hostQueryReset = info.hostQueryReset ? 1 : 0
            enabled.storageBuffer16BitAccess = info.storageBuffer16BitAccess
            enabled.storageBuffer8BitAccess = info.storageBuffer8BitAccess
            enabled.shaderFloat16 = info.shaderFloat16
            enabled.shaderInt8 = info.shaderInt8
            enabled.hostQueryReset = info.hostQueryReset
            link(vk11) { vk11.pointer.pointee.pNext = $0 }
            link(vk12) { vk12.pointer.pointee.pNext = $0 }
        } else {
            // Core 1.1 plus extensions.
            if info.storageBuffer16BitAccess {
                storage16.pointer.pointee.storageBuffer16BitAccess = 1
                enabled.storageBuffer16BitAccess = true
                link(storage16) { storage16.pointer.pointee.pNext = $0 }
            }
            if info.storageBuffer8BitAccess, available.contains("VK_KHR_8bit_storage") {
                extensions.append("VK_KHR_8bit_storage")
                storage8.pointer.pointee.storageBuffer8BitAccess = 1
                enabled.storageBuffer8BitAccess = true
                link(storage8) { storage8.pointer.pointee.pNext = $0 }
            }
            if info.shaderFloat16 || info.shaderInt8, available.contains("VK_KHR_shader_float16_int8") {
                extensions.append("VK_KHR_shader_float16_int8")
                float16.pointer.pointee.shaderFloat16 = info.shaderFloat16 ? 1 : 0
                float16.pointer.pointee.shaderInt8 = info.shaderInt8 ? 1 : 0
                enabled.shaderFloat16 = info.shaderFloat16
                enabled.shaderInt8 = info.shaderInt8
                link(float16) { float16.pointer.pointee.pNext = $0 }
            }
            if info.hostQueryReset, available.contains("VK_EXT_host_query_reset") {
                extensions.append("VK_EXT_host_query_reset")
                queryReset.pointer.pointee.hostQueryReset = 1
                enabled.hostQueryReset = true
                link(queryReset) { queryReset.pointer.pointee.pNext = $0 }
            }
        }
        // Cooperative matrices (the GEMM variants' GEMM_COOPMAT builds use the NV extension,
        // the one the system glslang compiles), when the device reports the feature.
        let coopmat = HeapBox(VkPhysicalDeviceCooperativeMatrixFeaturesNV())
        coopmat.pointer.pointee.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV
        if available.contains("VK_NV_cooperative_matrix"), info.shaderFloat16, info.storageBuffer16BitAccess {
            var query = VkPhysicalDeviceFeatures2()
            query.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
            query.pNext = coopmat.raw
            vkGetPhysicalDeviceFeatures2(physicalDevice, &query)
            if coopmat.pointer.pointee.cooperativeMatrix != 0 {
                coopmat.pointer.pointee.cooperativeMatrixRobustBufferAccess = 0
                extensions.append("VK_NV_cooperative_matrix")
                enabled.cooperativeMatrixNV = true
                link(coopmat) { coopmat.pointer.pointee.pNext = $0 }
            }
        }
        features2.pointer.pointee.pNext = tail

        if v13 {
            enabled.pipelineCreationFeedback = true
        } else if available.contains("VK_EXT_pipeline_creation_feedback") {
            extensions.append("VK_EXT_pipeline_creation_feedback")
            enabled.pipelineCreationFeedback = true
        }
        // Required whenever a portability (non-conformant) implementation exposes it.
        if available.contains("VK_KHR_portability_subset") { extensions.append("VK_KHR_portability_subset") }

        let priority = HeapBox(Float(1.0))
        var queueInfo = VkDeviceQueueCreateInfo()
        queueInfo.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
        queueInfo.queueFamilyIndex = family
        queueInfo.queueCount = 1
        queueInfo.pQueuePriorities = UnsafePointer(priority.pointer)
        let queueBox = HeapBox(queueInfo)
        let extensionNames = CStringArray(extensions)

        var createInfo = VkDeviceCreateInfo()
        createInfo.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
        createInfo.pNext = UnsafeRawPointer(features2.raw)
        createInfo.queueCreateInfoCount = 1
        createInfo.pQueueCreateInfos = UnsafePointer(queueBox.pointer)
        createInfo.enabledExtensionCount = UInt32(extensions.count)
        createInfo.ppEnabledExtensionNames = extensions.isEmpty ? nil : UnsafePointer(extensionNames.pointer)
        createInfo.pEnabledFeatures = nil

        var device: VkDevice?
        let result = vkCreateDevice(physicalDevice, &createInfo, nil, &device)
        withExtendedLifetime((features2, vk11, vk12, storage16, storage8, float16, queryReset, coopmat, priority, queueBox, extensionNames)) {}
        try vkCheck(result, "vkCreateDevice", "device '\(info.name)', extensions \(extensions)")
        guard let created = device else { throw VulkanError.noDevice("vkCreateDevice returned no device") }
        return (created, enabled)
    }

    // MARK: - Memory

    /// Creates a buffer of `bytes` bytes sub-allocated from the memory pools.
    public func makeBuffer(bytes: Int, kind: BufferKind) throws -> VulkanBuffer {
        guard bytes > 0 else { throw VulkanError.invalidArgument("buffer size must be positive (got \(bytes))") }
        let maxAllocation = Int(clamping: info.maxMemoryAllocationSize)
        guard bytes <= maxAllocation else {
            throw VulkanError.limitExceeded(what: "buffer size (maxMemoryAllocationSize)", value: bytes, limit: maxAllocation)
        }
        var createInfo = VkBufferCreateInfo()
        createInfo.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        createInfo.size = VkDeviceSize(bytes)
        let transfer = VK_BUFFER_USAGE_TRANSFER_SRC_BIT.rawValue | VK_BUFFER_USAGE_TRANSFER_DST_BIT.rawValue
        switch kind {
        case .deviceLocal: createInfo.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT.rawValue | transfer
        case .staging: createInfo.usage = transfer
        }
        createInfo.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var buffer: VkBuffer?
        let result = vkCreateBuffer(device, &createInfo, nil, &buffer)
        if result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY {
            throw VulkanError.outOfDeviceMemory(requested: bytes, context: "vkCreateBuffer returned \(VulkanError.resultName(result.rawValue))")
        }
        try vkCheck(result, "vkCreateBuffer", "\(bytes) bytes, \(kind)")
        guard let handle = buffer else { throw VulkanError.invalidArgument("vkCreateBuffer returned no buffer") }

        var requirements = VkMemoryRequirements()
        vkGetBufferMemoryRequirements(device, handle, &requirements)
        let allocation: MemoryAllocation
        do {
            allocation = try allocator.allocate(requirements: requirements, kind: kind, context: "\(kind) buffer of \(bytes) bytes")
            try vkCheck(vkBindBufferMemory(device, handle, allocation.block.memory, VkDeviceSize(allocation.offset)),
                        "vkBindBufferMemory", "\(bytes) bytes at offset \(allocation.offset)")
        } catch {
            vkDestroyBuffer(device, handle, nil)
            throw error
        }
        return VulkanBuffer(context: self, size: bytes, kind: kind, handle: handle, allocation: allocation)
    }

    // MARK: - Submission

    /// Submits one command buffer and increments `stats.submissions`. Queue access is serialised.
    func submit(_ commandBuffer: VkCommandBuffer, fence: VkFence?, context: String) throws {
        var cmd: VkCommandBuffer? = commandBuffer
        var submitInfo = VkSubmitInfo()
        submitInfo.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
        submitInfo.commandBufferCount = 1
        let result: VkResult = withUnsafePointer(to: &cmd) { pointer in
            submitInfo.pCommandBuffers = pointer
            return queueLock.locked { vkQueueSubmit(queue, 1, &submitInfo, fence) }
        }
        try vkCheck(result, "vkQueueSubmit", context)
        updateStats { $0.submissions += 1 }
    }

    /// Waits for `fence`, polling in slices so a hung GPU surfaces as `.timeout`.
    func wait(for fence: VkFence, timeoutNanoseconds: UInt64, context: String) throws {
        var fenceRef: VkFence? = fence
        let result = vkWaitForFences(device, 1, &fenceRef, VkBool32(VK_TRUE), timeoutNanoseconds)
        if result == VK_TIMEOUT { throw VulkanError.timeout(context) }
        try vkCheck(result, "vkWaitForFences", context)
    }

    /// Records commands into a fresh command buffer, submits it and waits for completion.
    func runOneShot(context what: String, _ record: (VkCommandBuffer) -> Void) throws {
        try oneShotLock.locked {
            guard let pool = oneShotPool else { throw VulkanError.invalidArgument("context has no command pool") }
            var allocInfo = VkCommandBufferAllocateInfo()
            allocInfo.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
            allocInfo.commandPool = pool
            allocInfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
            allocInfo.commandBufferCount = 1
            var commandBuffer: VkCommandBuffer?
            try vkCheck(vkAllocateCommandBuffers(device, &allocInfo, &commandBuffer), "vkAllocateCommandBuffers", what)
            guard let cmd = commandBuffer else { throw VulkanError.invalidArgument("no command buffer allocated") }
            defer { vkFreeCommandBuffers(device, pool, 1, &commandBuffer) }

            var fenceInfo = VkFenceCreateInfo()
            fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
            var fence: VkFence?
            try vkCheck(vkCreateFence(device, &fenceInfo, nil, &fence), "vkCreateFence", what)
            guard let createdFence = fence else { throw VulkanError.invalidArgument("no fence created") }
            defer { vkDestroyFence(device, createdFence, nil) }

            var beginInfo = VkCommandBufferBeginInfo()
            beginInfo.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
            beginInfo.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT.rawValue
            try vkCheck(vkBeginCommandBuffer(cmd, &beginInfo), "vkBeginCommandBuffer", what)
            record(cmd)
            try vkCheck(vkEndCommandBuffer(cmd), "vkEndCommandBuffer", what)
            try submit(cmd, fence: createdFence, context: what)
            try wait(for: createdFence, timeoutNanoseconds: 120_000_000_000, context: what)
        }
    }

    /// Copies between two buffers immediately (used for non-host-visible reads/writes).
    func copyNow(from source: VulkanBuffer, sourceOffset: Int, to destination: VulkanBuffer,
                 destinationOffset: Int, bytes: Int) throws {
        try runOneShot(context: "copy of \(bytes) bytes") { cmd in
            // Earlier submissions' writes -> this copy; this copy -> host reads after the fence.
            var before = VkMemoryBarrier()
            before.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
            before.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT.rawValue
            before.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
            vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT.rawValue, VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue,
                                 0, 1, &before, 0, nil, 0, nil)
            var region = VkBufferCopy(srcOffset: VkDeviceSize(sourceOffset), dstOffset: VkDeviceSize(destinationOffset),
                                      size: VkDeviceSize(bytes))
            vkCmdCopyBuffer(cmd, source.handle, destination.handle, 1, &region)
            var after = VkMemoryBarrier()
            after.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
            after.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
            after.dstAccessMask = VK_ACCESS_HOST_READ_BIT.rawValue | VK_ACCESS_MEMORY_READ_BIT.rawValue
            vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue,
                                 VK_PIPELINE_STAGE_HOST_BIT.rawValue | VK_PIPELINE_STAGE_ALL_COMMANDS_BIT.rawValue,
                                 0, 1, &after, 0, nil, 0, nil)
        }
    }

    /// Waits until the queue is idle.
    public func waitIdle() throws {
        try queueLock.locked { try vkCheck(vkQueueWaitIdle(queue), "vkQueueWaitIdle") }
    }
}
