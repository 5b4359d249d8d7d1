import CVulkan
import Foundation

/// A compute pipeline with its layouts. Owned and destroyed by the `VulkanContext` that
/// created it (memoised there), so keep using it only while that context is alive.
public final class ComputePipeline {
    /// Shader file name.
    public let shader: String
    public let defines: [(String, String)]
    public let specialization: [UInt32]
    /// Number of storage buffers, at bindings 0..<bindingCount of set 0.
    public let bindingCount: Int
    public let pushConstantBytes: Int
    public let pipeline: VkPipeline
    public let layout: VkPipelineLayout
    public let descriptorSetLayout: VkDescriptorSetLayout
    /// Whether the driver reported a pipeline-cache hit; nil when unknown.
    public let pipelineCacheHit: Bool?
    /// Whether the SPIR-V came from the on-disk cache.
    public let spirvFromCache: Bool
    let contextID: ObjectIdentifier

    init(shader: String, defines: [(String, String)], specialization: [UInt32], bindingCount: Int,
         pushConstantBytes: Int, pipeline: VkPipeline, layout: VkPipelineLayout,
         descriptorSetLayout: VkDescriptorSetLayout, pipelineCacheHit: Bool?, spirvFromCache: Bool,
         contextID: ObjectIdentifier) {
        self.shader = shader
        self.defines = defines
        self.specialization = specialization
        self.bindingCount = bindingCount
        self.pushConstantBytes = pushConstantBytes
        self.pipeline = pipeline
        self.layout = layout
        self.descriptorSetLayout = descriptorSetLayout
        self.pipelineCacheHit = pipelineCacheHit
        self.spirvFromCache = spirvFromCache
        self.contextID = contextID
    }
}

/// Memoisation key: everything that changes the resulting `VkPipeline`.
struct PipelineKey: Hashable {
    let shader: String
    let defines: [String]
    let specialization: [UInt32]
    let bindings: Int
    let pushConstantBytes: Int
}

struct PipelineLayoutKey: Hashable {
    let bindings: Int
    let pushConstantBytes: Int
}

extension VulkanContext {
    /// Returns the compute pipeline for `shader` compiled with `defines`, creating it on first use.
    ///
    /// - Parameters:
    ///   - specialization: value `i` goes to `constant_id = i` (4 bytes each).
    ///   - bindings: storage buffers at bindings `0..<bindings` of set 0.
    ///   - pushConstantBytes: size of the compute-stage push constant range (0 for none).
    public func pipeline(shader: String, defines: [(String, String)] = [], specialization: [UInt32] = [],
                         bindings: Int, pushConstantBytes: Int) throws -> ComputePipeline {
        try pipeline(shader: shader, source: nil, defines: defines, specialization: specialization,
                     bindings: bindings, pushConstantBytes: pushConstantBytes)
    }

    /// Like `pipeline(shader:...)` but compiles GLSL given as text (named `name` in errors and
    /// memoised under that name). Useful for generated kernels and tests.
    public func pipeline(name: String, source: String, defines: [(String, String)] = [], specialization: [UInt32] = [],
                         bindings: Int, pushConstantBytes: Int) throws -> ComputePipeline {
        try pipeline(shader: name, source: source, defines: defines, specialization: specialization,
                     bindings: bindings, pushConstantBytes: pushConstantBytes)
    }

    private func pipeline(shader: String, source: String?, defines: [(String, String)], specialization: [UInt32],
                          bindings: Int, pushConstantBytes: Int) throws -> ComputePipeline {
        guard bindings >= 0 else { throw VulkanError.invalidArgument("negative binding count for \(shader)") }
        guard bindings <= Int(info.maxPerStageDescriptorStorageBuffers) else {
            throw VulkanError.limitExceeded(what: "storage buffers per stage for \(shader)", value: bindings,
                                            limit: Int(info.maxPerStageDescriptorStorageBuffers))
        }
        guard pushConstantBytes >= 0, pushConstantBytes % 4 == 0 else {
            throw VulkanError.invalidArgument("push constant size \(pushConstantBytes) for \(shader) must be a non-negative multiple of 4")
        }
        guard pushConstantBytes <= Int(info.maxPushConstantsSize) else {
            throw VulkanError.limitExceeded(what: "push constant bytes for \(shader)", value: pushConstantBytes,
                                            limit: Int(info.maxPushConstantsSize))
        }
        var flatDefines: [String] = []
        for (name, value) in defines { flatDefines.append(name); flatDefines.append(value) }
        // Source-string pipelines are keyed by their text too, so two different sources
        // registered under one name never collide.
        let keyName = source.map { "\(shader)\u{0}\($0)" } ?? shader
        let key = PipelineKey(shader: keyName, defines: flatDefines, specialization: specialization,
                              bindings: bindings, pushConstantBytes: pushConstantBytes)

        return try pipelineLock.locked {
            if let existing = pipelines[key] { return existing }

            let compiled = try source.map { try shaderCompiler.compile(source: $0, name: shader, defines: defines) }
                ?? shaderCompiler.compile(shader: shader, defines: defines)
            let setLayout = try descriptorSetLayoutLocked(bindings: bindings)
            let layout = try pipelineLayoutLocked(bindings: bindings, pushConstantBytes: pushConstantBytes, setLayout: setLayout)
            let (handle, cacheHit) = try createPipelineLocked(shader: shader, spirv: compiled.spirv,
                                                              specialization: specialization, layout: layout)
            let pipeline = ComputePipeline(
                shader: shader, defines: defines, specialization: specialization, bindingCount: bindings,
                pushConstantBytes: pushConstantBytes, pipeline: handle, layout: layout,
                descriptorSetLayout: setLayout, pipelineCacheHit: cacheHit, spirvFromCache: compiled.fromCache,
                contextID: ObjectIdentifier(self))
            pipelines[key] = pipeline
            pipelineCacheDirty = true
            updateStats { stats in
                stats.pipelinesCreated += 1
                if cacheHit == true { stats.pipelineCacheHits = max(stats.pipelineCacheHits, 0) + 1 }
            }
            return pipeline
        }
    }

    private func descriptorSetLayoutLocked(bindings: Int) throws -> VkDescriptorSetLayout {
        if let existing = descriptorSetLayouts[bindings] { return existing }
        var layoutBindings = (0..<bindings).map { i -> VkDescriptorSetLayoutBinding in
            var binding = VkDescriptorSetLayoutBinding()
            binding.binding = UInt32(i)
            binding.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
            binding.descriptorCount = 1
            binding.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT.rawValue
            return binding
        }
        var info = VkDescriptorSetLayoutCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO
        info.bindingCount = UInt32(bindings)
        var layout: VkDescriptorSetLayout?
        let result = layoutBindings.withUnsafeMutableBufferPointer { pointer -> VkResult in
            info.pBindings = bindings > 0 ? UnsafePointer(pointer.baseAddress) : nil
            return vkCreateDescriptorSetLayout(device, &info, nil, &layout)
        }
        try vkCheck(result, "vkCreateDescriptorSetLayout", "\(bindings) storage buffers")
        guard let created = layout else { throw VulkanError.invalidArgument("no descriptor set layout created") }
        descriptorSetLayouts[bindings] = created
        return created
    }

    private func pipelineLayoutLocked(bindings: Int, pushConstantBytes: Int,
                                      setLayout: VkDescriptorSetLayout) throws -> VkPipelineLayout {
        let key = PipelineLayoutKey(bindings: bindings, pushConstantBytes: pushConstantBytes)
        if let existing = pipelineLayouts[key] { return existing }
        var setLayoutRef: VkDescriptorSetLayout? = setLayout
        var range = VkPushConstantRange(stageFlags: VK_SHADER_STAGE_COMPUTE_BIT.rawValue, offset: 0,
                                        size: UInt32(pushConstantBytes))
        var info = VkPipelineLayoutCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO
        info.setLayoutCount = 1
        info.pushConstantRangeCount = pushConstantBytes > 0 ? 1 : 0
        var layout: VkPipelineLayout?
        let result = withUnsafePointer(to: &setLayoutRef) { setPointer in
            withUnsafePointer(to: &range) { rangePointer -> VkResult in
                info.pSetLayouts = setPointer
                info.pPushConstantRanges = pushConstantBytes > 0 ? rangePointer : nil
                return vkCreatePipelineLayout(device, &info, nil, &layout)
            }
        }
        try vkCheck(result, "vkCreatePipelineLayout", "\(bindings) bindings, \(pushConstantBytes) push constant bytes")
        guard let created = layout else { throw VulkanError.invalidArgument("no pipeline layout created") }
        pipelineLayouts[key] = created
        return created
    }

    private func createPipelineLocked(shader: String, spirv: [UInt32], specialization: [UInt32],
                                      layout: VkPipelineLayout) throws -> (VkPipeline, Bool?) {
        var moduleInfo = VkShaderModuleCreateInfo()
        moduleInfo.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO
        moduleInfo.codeSize = spirv.count * 4
        var module: VkShaderModule?
        let moduleResult = spirv.withUnsafeBufferPointer { words -> VkResult in
            moduleInfo.pCode = words.baseAddress
            return vkCreateShaderModule(device, &moduleInfo, nil, &module)
        }
        try vkCheck(moduleResult, "vkCreateShaderModule", shader)
        guard let shaderModule = module else { throw VulkanError.invalidArgument("no shader module created for \(shader)") }
        defer { vkDestroyShaderModule(device, shaderModule, nil) }

        let mapEntries = HeapBox([VkSpecializationMapEntry]())
        mapEntries.value = specialization.indices.map {
            VkSpecializationMapEntry(constantID: UInt32($0), offset: UInt32($0 * 4), size: 4)
        }
        let entryPoint = CStringArray(["main"])
        let feedback = HeapBox(VkPipelineCreationFeedback())
        let feedbackInfo = HeapBox(VkPipelineCreationFeedbackCreateInfo())
        feedbackInfo.pointer.pointee.sType = VK_STRUCTURE_TYPE_PIPELINE_CREATION_FEEDBACK_CREATE_INFO
        feedbackInfo.pointer.pointee.pPipelineCreationFeedback = feedback.pointer
        feedbackInfo.pointer.pointee.pipelineStageCreationFeedbackCount = 0

        var pipeline: VkPipeline?
        let result: VkResult = mapEntries.value.withUnsafeBufferPointer { entries in
            specialization.withUnsafeBytes { data -> VkResult in
                var specInfo = VkSpecializationInfo()
                specInfo.mapEntryCount = UInt32(entries.count)
                specInfo.pMapEntries = entries.baseAddress
                specInfo.dataSize = data.count
                specInfo.pData = data.baseAddress
                return withUnsafePointer(to: &specInfo) { specPointer -> VkResult in
                    var stage = VkPipelineShaderStageCreateInfo()
                    stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO
                    stage.stage = VK_SHADER_STAGE_COMPUTE_BIT
                    stage.module = shaderModule
                    stage.pName = entryPoint.pointer[0]
                    stage.pSpecializationInfo = specialization.isEmpty ? nil : specPointer
                    var createInfo = VkComputePipelineCreateInfo()
                    createInfo.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO
                    createInfo.pNext = enabledFeatures.pipelineCreationFeedback ? UnsafeRawPointer(feedbackInfo.raw) : nil
                    createInfo.stage = stage
                    createInfo.layout = layout
                    createInfo.basePipelineIndex = -1
                    return vkCreateComputePipelines(device, pipelineCache, 1, &createInfo, nil, &pipeline)
                }
            }
        }
        withExtendedLifetime((entryPoint, feedback, feedbackInfo, mapEntries)) {}
        try vkCheck(result, "vkCreateComputePipelines", shader)
        guard let created = pipeline else { throw VulkanError.invalidArgument("no pipeline created for \(shader)") }

        var cacheHit: Bool?
        if enabledFeatures.pipelineCreationFeedback,
           feedback.value.flags & VK_PIPELINE_CREATION_FEEDBACK_VALID_BIT.rawValue != 0 {
            cacheHit = feedback.value.flags & VK_PIPELINE_CREATION_FEEDBACK_APPLICATION_PIPELINE_CACHE_HIT_BIT.rawValue != 0
        }
        return (created, cacheHit)
    }
}
