/// Counters describing what a `VulkanContext` has done so far.
public struct RuntimeStats: Equatable {
    /// Shaders compiled by shaderc (SPIR-V cache misses).
    public var shadersCompiled = 0
    /// Shaders whose SPIR-V came from the on-disk cache.
    public var spirvCacheHits = 0
    /// `VkPipeline`s created (in-memory memoisation hits are not counted).
    public var pipelinesCreated = 0
    /// Pipelines the driver reported as hits in the `VkPipelineCache`
    /// (`VkPipelineCreationFeedback`); -1 when the device cannot report it.
    public var pipelineCacheHits = -1
    /// Size of the pipeline cache file accepted at start-up (0 when none or rejected).
    public var pipelineCacheBytesLoaded = 0
    /// `vkQueueSubmit` calls (command sequences and internal staging copies).
    public var submissions = 0
    /// Bytes currently sub-allocated to live buffers.
    public var bytesAllocated = 0
    /// High-water mark of `bytesAllocated`.
    public var peakBytesAllocated = 0
    /// Bytes of `VkDeviceMemory` currently held in pool blocks (>= `bytesAllocated`).
    public var deviceMemoryBytes = 0

    public init() {}
}

/// Optional device features the context actually enabled at device creation.
public struct VulkanEnabledFeatures: Equatable {
    public var shaderFloat16 = false
    public var shaderInt8 = false
    public var shaderInt16 = false
    public var shaderInt64 = false
    public var storageBuffer16BitAccess = false
    public var storageBuffer8BitAccess = false
    public var hostQueryReset = false
    public var pipelineCreationFeedback = false
    /// VK_NV_cooperative_matrix's `cooperativeMatrix` feature (the coopmat GEMM variants).
    public var cooperativeMatrixNV = false
    /// The compute queue supports timestamps (`timestampValidBits > 0`).
    public var timestamps = false

    public init() {}
}
