import CVulkan
import Foundation

/// A range of a buffer bound to a dispatch, copy or fill.
public struct BufferBinding {
    public enum Access {
        case read, write, readWrite

        var reads: Bool { self != .write }
        var writes: Bool { self != .read }
    }

    public var buffer: VulkanBuffer
    public var offset: Int
    public var size: Int
    public var access: Access

    /// `size` nil means "to the end of the buffer".
    public init(buffer: VulkanBuffer, offset: Int = 0, size: Int? = nil, access: Access = .readWrite) {
        self.buffer = buffer
        self.offset = offset
        self.size = size ?? max(0, buffer.size - offset)
        self.access = access
    }

    public static func read(_ buffer: VulkanBuffer, offset: Int = 0, size: Int? = nil) -> BufferBinding {
        BufferBinding(buffer: buffer, offset: offset, size: size, access: .read)
    }

    public static func write(_ buffer: VulkanBuffer, offset: Int = 0, size: Int? = nil) -> BufferBinding {
        BufferBinding(buffer: buffer, offset: offset, size: size, access: .write)
    }

    public static func readWrite(_ buffer: VulkanBuffer, offset: Int = 0, size: Int? = nil) -> BufferBinding {
        BufferBinding(buffer: buffer, offset: offset, size: size, access: .readWrite)
    }

    /// Byte range in the coordinates of the underlying memory block.
    var memoryRange: Range<Int> { (buffer.memoryOffset + offset) ..< (buffer.memoryOffset + offset + size) }
}

/// GPU time of one recorded dispatch.
public struct DispatchTiming: Equatable {
    public let label: String
    /// Position among the sequence's dispatches (0-based).
    public let index: Int
    public let gpuNanoseconds: Double
}

/// What one `submit()` did.
public struct SubmissionReport {
    /// Per-dispatch GPU times in recording order; empty when timestamps are unavailable or disabled.
    public let timings: [DispatchTiming]
    /// From the first dispatch's begin timestamp to the last dispatch's end timestamp (0 when unavailable).
    public let totalGPUNanoseconds: Double
    /// Host time from `vkQueueSubmit` until the fence signalled.
    public let wallNanoseconds: Double
    public let timestampsAvailable: Bool
}

/// A command buffer recorded once and submittable many times.
///
/// Barriers are inserted only where a command conflicts (RAW, WAW, WAR on overlapping bytes
/// of the same memory) with commands recorded since the previous barrier. Buffers bound to
/// the sequence are retained until it is destroyed, because re-submission re-uses them.
/// Not thread-safe: record and submit from one thread at a time.
public final class CommandSequence {
    public let context: VulkanContext
    /// Expected number of dispatches (sizes the descriptor and query pools; exceeding it
    /// chains additional pools).
    public let capacity: Int
    public let timestampsEnabled: Bool
    public private(set) var dispatchCount = 0
    /// Barriers inserted between recorded commands for hazards (the final barrier that makes
    /// results visible to the host is not counted).
    public private(set) var barrierCount = 0
    public private(set) var isFinished = false
    /// Maximum time `submit()` waits for the GPU.
    public var timeoutNanoseconds: UInt64 = 600_000_000_000

    private var commandPool: VkCommandPool?
    private var commandBuffer: VkCommandBuffer?
    private var fence: VkFence?
    private var submissionPending = false
    private var submitTime: UInt64 = 0
    private var descriptorPools: [VkDescriptorPool] = []
    private var setsLeft = 0
    private var descriptorsLeft = 0
    private var queryPools: [VkQueryPool] = []
    private var queriesUsedInLastPool = 0
    private let queriesPerPool: Int
    /// (label, query pool index, first query index) per dispatch.
    private var timedDispatches: [(label: String, pool: Int, query: Int)] = []
    private var retainedBuffers: [ObjectIdentifier: VulkanBuffer] = [:]
    private var hazards = HazardTracker()
    private var boundPipeline: VkPipeline?
    /// First error from a non-throwing recording call (`fill`).
    private var deferredError: Error?

    private var device: VkDevice { context.device }

    public init(context: VulkanContext, capacity: Int, timestamps: Bool = true) throws {
        self.context = context
        self.capacity = max(1, capacity)
        self.timestampsEnabled = timestamps && context.timestampValidBits > 0
        self.queriesPerPool = 2 * max(1, capacity)

        var poolInfo = VkCommandPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        poolInfo.queueFamilyIndex = context.queueFamilyIndex
        var pool: VkCommandPool?
        try vkCheck(vkCreateCommandPool(context.device, &poolInfo, nil, &pool), "vkCreateCommandPool", "command sequence")
        commandPool = pool

        var allocInfo = VkCommandBufferAllocateInfo()
        allocInfo.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocInfo.commandPool = pool
        allocInfo.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocInfo.commandBufferCount = 1
        var cmd: VkCommandBuffer?
        try vkCheck(vkAllocateCommandBuffers(context.device, &allocInfo, &cmd), "vkAllocateCommandBuffers", "command sequence")
        commandBuffer = cmd

        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var createdFence: VkFence?
        try vkCheck(vkCreateFence(context.device, &fenceInfo, nil, &createdFence), "vkCreateFence", "command sequence")
        fence = createdFence

        try addDescriptorPool(minimumDescriptors: 0)

        var beginInfo = VkCommandBufferBeginInfo()
        beginInfo.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        beginInfo.flags = 0 // re-submittable (never while pending: submit() waits)
        try vkCheck(vkBeginCommandBuffer(cmd, &beginInfo), "vkBeginCommandBuffer", "command sequence")
        if timestampsEnabled { try addQueryPool() }
    }

    deinit {
        if submissionPending, let fence = fence {
            var pendingFence: VkFence? = fence
            _ = vkWaitForFences(device, 1, &pendingFence, VkBool32(VK_TRUE), UInt64.max)
        }
        for pool in queryPools { vkDestroyQueryPool(device, pool, nil) }
        for pool in descriptorPools { vkDestroyDescriptorPool(device, pool, nil) }
        if let fence = fence { vkDestroyFence(device, fence, nil) }
        if let pool = commandPool { vkDestroyCommandPool(device, pool, nil) } // frees the command buffer
    }

    // MARK: - Pools

    private func addDescriptorPool(minimumDescriptors: Int) throws {
        let sets = capacity
        let descriptors = max(capacity * 8, minimumDescriptors)
        var size = VkDescriptorPoolSize(type: VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount: UInt32(descriptors))
        var info = VkDescriptorPoolCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO
        info.maxSets = UInt32(sets)
        info.poolSizeCount = 1
        var pool: VkDescriptorPool?
        let result = withUnsafePointer(to: &size) { pointer -> VkResult in
            info.pPoolSizes = pointer
            return vkCreateDescriptorPool(device, &info, nil, &pool)
        }
        try vkCheck(result, "vkCreateDescriptorPool", "\(sets) sets, \(descriptors) storage buffers")
        guard let created = pool else { throw VulkanError.invalidArgument("no descriptor pool created") }
        descriptorPools.append(created)
        setsLeft = sets
        descriptorsLeft = descriptors
    }

    private func addQueryPool() throws {
        var info = VkQueryPoolCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO
        info.queryType = VK_QUERY_TYPE_TIMESTAMP
        info.queryCount = UInt32(queriesPerPool)
        var pool: VkQueryPool?
        try vkCheck(vkCreateQueryPool(device, &info, nil, &pool), "vkCreateQueryPool", "\(queriesPerPool) timestamps")
        guard let created = pool, let cmd = commandBuffer else { throw VulkanError.invalidArgument("no query pool created") }
        queryPools.append(created)
        queriesUsedInLastPool = 0
        // Reset inside the command buffer, so every re-submission starts from fresh queries.
        vkCmdResetQueryPool(cmd, created, 0, UInt32(queriesPerPool))
    }

    private func allocateDescriptorSet(layout: VkDescriptorSetLayout, descriptors: Int) throws -> VkDescriptorSet {
        if setsLeft == 0 || descriptorsLeft < descriptors { try addDescriptorPool(minimumDescriptors: descriptors) }
        guard let pool = descriptorPools.last else { throw VulkanError.invalidArgument("no descriptor pool") }
        var layoutRef: VkDescriptorSetLayout? = layout
        var info = VkDescriptorSetAllocateInfo()
        info.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO
        info.descriptorPool = pool
        info.descriptorSetCount = 1
        var set: VkDescriptorSet?
        let result = withUnsafePointer(to: &layoutRef) { pointer -> VkResult in
            info.pSetLayouts = pointer
            return vkAllocateDescriptorSets(device, &info, &set)
        }
        try vkCheck(result, "vkAllocateDescriptorSets", "\(descriptors) storage buffers")
        guard let allocated = set else { throw VulkanError.invalidArgument("no descriptor set allocated") }
        setsLeft -= 1
        descriptorsLeft -= descriptors
        return allocated
    }

    // MARK: - Recording

    private func recordingBuffer(_ what: String) throws -> VkCommandBuffer {
        guard !isFinished else { throw VulkanError.invalidArgument("\(what): the command sequence is already finished") }
        guard let cmd = commandBuffer else { throw VulkanError.invalidArgument("\(what): no command buffer") }
        return cmd
    }

    private func checkBinding(_ binding: BufferBinding, _ what: String) throws {
        guard binding.buffer.context === context else {
            throw VulkanError.invalidArgument("\(what): buffer belongs to another VulkanContext")
        }
        guard binding.offset >= 0, binding.size >= 0, binding.offset + binding.size <= binding.buffer.size else {
            throw VulkanError.invalidArgument("\(what): range \(binding.offset)..<\(binding.offset + binding.size) is outside the \(binding.buffer.size)-byte buffer")
        }
    }

    /// Inserts a barrier if `accesses` conflict with pending work; then records them.
    private func track(_ accesses: [HazardTracker.Access], stage: HazardTracker.Stage, cmd: VkCommandBuffer) {
        if hazards.hasHazard(accesses) {
            var (src, dst, barrier) = hazards.barrier()
            vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &barrier, 0, nil, 0, nil)
            barrierCount += 1
            hazards.clear()
        }
        hazards.record(accesses, stage: stage)
    }

    private func retain(_ buffer: VulkanBuffer) {
        retainedBuffers[ObjectIdentifier(buffer)] = buffer
    }

    /// Records a compute dispatch.
    ///
    /// - Parameters:
    ///   - bindings: one per pipeline binding, in binding order. Offsets must be multiples of
    ///     `minStorageBufferOffsetAlignment`, sizes at most `maxStorageBufferRange`.
    ///   - pushConstants: at most `pipeline.pushConstantBytes` bytes; zero-padded to that size.
    ///   - groups: workgroup counts, each at most `maxComputeWorkGroupCount`.
    ///   - label: names the dispatch in timings and errors.
    public func dispatch(_ pipeline: ComputePipeline, bindings: [BufferBinding], pushConstants: [UInt8],
                         groups: (UInt32, UInt32, UInt32), label: String) throws {
        let cmd = try recordingBuffer("dispatch '\(label)'")
        let info = context.info
        guard pipeline.contextID == ObjectIdentifier(context) else {
            throw VulkanError.invalidArgument("dispatch '\(label)': pipeline belongs to another VulkanContext")
        }
        let counts = [groups.0, groups.1, groups.2]
        for axis in 0..<3 where counts[axis] > info.maxComputeWorkGroupCount[axis] {
            throw VulkanError.limitExceeded(what: "workgroup count \(["x", "y", "z"][axis]) of dispatch '\(label)'",
                                            value: Int(counts[axis]), limit: Int(info.maxComputeWorkGroupCount[axis]))
        }
        guard bindings.count == pipeline.bindingCount else {
            throw VulkanError.invalidArgument("dispatch '\(label)': \(bindings.count) bindings given, pipeline '\(pipeline.shader)' has \(pipeline.bindingCount)")
        }
        guard pushConstants.count <= pipeline.pushConstantBytes else {
            throw VulkanError.invalidArgument("dispatch '\(label)': \(pushConstants.count) push constant bytes given, pipeline '\(pipeline.shader)' takes \(pipeline.pushConstantBytes)")
        }
        for (i, binding) in bindings.enumerated() {
            let what = "dispatch '\(label)' binding \(i)"
            guard binding.size <= Int(info.maxStorageBufferRange) else {
                throw VulkanError.limitExceeded(what: "storage buffer range (maxStorageBufferRange) of \(what)",
                                                value: binding.size, limit: Int(info.maxStorageBufferRange))
            }
            try checkBinding(binding, what)
            guard binding.size > 0 else { throw VulkanError.invalidArgument("\(what): size must be positive") }
            guard binding.offset % max(1, Int(clamping: info.minStorageBufferOffsetAlignment)) == 0 else {
                throw VulkanError.invalidArgument("\(what): offset \(binding.offset) is not a multiple of minStorageBufferOffsetAlignment (\(info.minStorageBufferOffsetAlignment))")
            }
            guard binding.buffer.kind == .deviceLocal else {
                throw VulkanError.invalidArgument("\(what): staging buffers cannot be bound as storage buffers")
            }
        }
        if timestampsEnabled, queriesUsedInLastPool + 2 > queriesPerPool { try addQueryPool() }

        let set = try allocateDescriptorSet(layout: pipeline.descriptorSetLayout, descriptors: bindings.count)
        if !bindings.isEmpty {
            var bufferInfos = bindings.map {
                VkDescriptorBufferInfo(buffer: $0.buffer.handle, offset: VkDeviceSize($0.offset), range: VkDeviceSize($0.size))
            }
            bufferInfos.withUnsafeMutableBufferPointer { infos in
                var writes = (0..<bindings.count).map { i -> VkWriteDescriptorSet in
                    var write = VkWriteDescriptorSet()
                    write.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET
                    write.dstSet = set
                    write.dstBinding = UInt32(i)
                    write.descriptorCount = 1
                    write.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                    write.pBufferInfo = UnsafePointer(infos.baseAddress.map { $0 + i })
                    return write
                }
                vkUpdateDescriptorSets(device, UInt32(writes.count), &writes, 0, nil)
            }
        }

        var accesses: [HazardTracker.Access] = []
        for binding in bindings {
            let range = binding.memoryRange
            let id = binding.buffer.memoryID
            if binding.access.reads { accesses.append(.init(memoryID: id, range: range, isWrite: false)) }
            if binding.access.writes { accesses.append(.init(memoryID: id, range: range, isWrite: true)) }
            retain(binding.buffer)
        }
        track(accesses, stage: .compute, cmd: cmd)

        if boundPipeline != pipeline.pipeline {
            vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline)
            boundPipeline = pipeline.pipeline
        }
        var setRef: VkDescriptorSet? = set
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, 1, &setRef, 0, nil)
        if pipeline.pushConstantBytes > 0 {
            var padded = pushConstants
            padded.append(contentsOf: repeatElement(0, count: pipeline.pushConstantBytes - pushConstants.count))
            vkCmdPushConstants(cmd, pipeline.layout, VK_SHADER_STAGE_COMPUTE_BIT.rawValue, 0, UInt32(padded.count), padded)
        }
        if timestampsEnabled, let pool = queryPools.last {
            let query = queriesUsedInLastPool
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, pool, UInt32(query))
            vkCmdDispatch(cmd, groups.0, groups.1, groups.2)
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool, UInt32(query + 1))
            timedDispatches.append((label, queryPools.count - 1, query))
            queriesUsedInLastPool += 2
        } else {
            vkCmdDispatch(cmd, groups.0, groups.1, groups.2)
        }
        dispatchCount += 1
    }

    /// `dispatch` with push constants built from `UInt32`/`Int32`/`Float` values.
    public func dispatch(_ pipeline: ComputePipeline, bindings: [BufferBinding], constants: PushConstants,
                         groups: (UInt32, UInt32, UInt32), label: String) throws {
        try dispatch(pipeline, bindings: bindings, pushConstants: constants.bytes, groups: groups, label: label)
    }

    /// Records a buffer-to-buffer copy of `bytes` bytes from `from.offset` to `to.offset`
    /// (0 bytes records nothing).
    public func copy(from source: BufferBinding, to destination: BufferBinding, bytes: Int) throws {
        let cmd = try recordingBuffer("copy")
        guard bytes >= 0 else { throw VulkanError.invalidArgument("copy: negative byte count \(bytes)") }
        guard bytes > 0 else { return }
        let src = BufferBinding(buffer: source.buffer, offset: source.offset, size: bytes, access: .read)
        let dst = BufferBinding(buffer: destination.buffer, offset: destination.offset, size: bytes, access: .write)
        guard bytes <= source.size, bytes <= destination.size else {
            throw VulkanError.invalidArgument("copy: \(bytes) bytes exceed the source (\(source.size)) or destination (\(destination.size)) binding")
        }
        try checkBinding(src, "copy source")
        try checkBinding(dst, "copy destination")
        if src.buffer.memoryID == dst.buffer.memoryID, src.memoryRange.overlaps(dst.memoryRange) {
            throw VulkanError.invalidArgument("copy: source and destination ranges overlap in memory")
        }
        track([.init(memoryID: src.buffer.memoryID, range: src.memoryRange, isWrite: false),
               .init(memoryID: dst.buffer.memoryID, range: dst.memoryRange, isWrite: true)], stage: .transfer, cmd: cmd)
        retain(src.buffer)
        retain(dst.buffer)
        var region = VkBufferCopy(srcOffset: VkDeviceSize(src.offset), dstOffset: VkDeviceSize(dst.offset), size: VkDeviceSize(bytes))
        vkCmdCopyBuffer(cmd, src.buffer.handle, dst.buffer.handle, 1, &region)
    }

    /// Fills the binding's range with a repeated 32-bit value (`vkCmdFillBuffer`); an empty
    /// range records nothing. Offset and size must be multiples of 4. This call does not
    /// throw: an invalid fill is recorded as an error that `finish()` / `submit()` throw.
    public func fill(_ binding: BufferBinding, value: UInt32) {
        do {
            let cmd = try recordingBuffer("fill")
            try checkBinding(binding, "fill")
            guard binding.size > 0 else { return }
            guard binding.offset % 4 == 0, binding.size % 4 == 0 else {
                throw VulkanError.invalidArgument("fill: offset \(binding.offset) and size \(binding.size) must be multiples of 4")
            }
            track([.init(memoryID: binding.buffer.memoryID, range: binding.memoryRange, isWrite: true)], stage: .transfer, cmd: cmd)
            retain(binding.buffer)
            vkCmdFillBuffer(cmd, binding.buffer.handle, VkDeviceSize(binding.offset), VkDeviceSize(binding.size), value)
        } catch {
            if deferredError == nil { deferredError = error }
        }
    }

    // MARK: - Submission

    /// Records a full compute/transfer memory barrier. A sequence that continues work
    /// submitted earlier (one graph split over several submissions) starts with it: a
    /// barrier's first scope covers every command earlier in submission order, so writes of
    /// earlier sequences become visible to this one.
    public func barrierAfterEarlierSubmissions() throws {
        let cmd = try recordingBuffer("barrier")
        let stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue
        var barrier = VkMemoryBarrier()
        barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
            | VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        vkCmdPipelineBarrier(cmd, stages, stages, 0, 1, &barrier, 0, nil, 0, nil)
    }


    /// Ends recording. Adds one final barrier making all device writes visible to the host.
    public func finish() throws {
        if let error = deferredError { throw error }
        let cmd = try recordingBuffer("finish")
        if hazards.stagesThatWrote != 0 {
            var barrier = VkMemoryBarrier()
            barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
            barrier.srcAccessMask = hazards.writeAccessOfStagesThatWrote
            barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT.rawValue
            vkCmdPipelineBarrier(cmd, hazards.stagesThatWrote, VK_PIPELINE_STAGE_HOST_BIT.rawValue, 0, 1, &barrier, 0, nil, 0, nil)
        }
        try vkCheck(vkEndCommandBuffer(cmd), "vkEndCommandBuffer", "command sequence with \(dispatchCount) dispatches")
        isFinished = true
    }

    /// Submits the whole sequence with one `vkQueueSubmit` and waits for it. Calls `finish()`
    /// first if needed. May be called repeatedly.
    @discardableResult
    public func submit() throws -> SubmissionReport {
        try start()
        return try waitForCompletion()
    }

    /// Submits the sequence without waiting, so that several sequences can be queued back
    /// to back (the queue runs them in submission order). Pair with `waitForCompletion()`.
    public func start() throws {
        if let error = deferredError { throw error }
        if !isFinished { try finish() }
        guard !submissionPending else { throw VulkanError.invalidArgument("submit: the sequence is still running") }
        guard let cmd = commandBuffer, let fence = fence else { throw VulkanError.invalidArgument("submit: sequence not initialised") }
        var fenceRef: VkFence? = fence
        try vkCheck(vkResetFences(device, 1, &fenceRef), "vkResetFences", "command sequence")
        submitTime = DispatchTime.now().uptimeNanoseconds
        try context.submit(cmd, fence: fence, context: "command sequence with \(dispatchCount) dispatches")
        submissionPending = true
    }

    /// Waits (at most `timeoutNanoseconds`) for the sequence started by `start()` and reads
    /// its timestamps.
    public func waitForCompletion() throws -> SubmissionReport {
        guard submissionPending, let fence = fence else { throw VulkanError.invalidArgument("wait: the sequence was not started") }
        try context.wait(for: fence, timeoutNanoseconds: timeoutNanoseconds,
                         context: "command sequence with \(dispatchCount) dispatches, waited \(timeoutNanoseconds / 1_000_000_000) s")
        submissionPending = false
        let wall = Double(DispatchTime.now().uptimeNanoseconds - submitTime)

        guard timestampsEnabled, !timedDispatches.isEmpty else {
            return SubmissionReport(timings: [], totalGPUNanoseconds: 0, wallNanoseconds: wall, timestampsAvailable: false)
        }
        var results: [[UInt64]] = []
        for (i, pool) in queryPools.enumerated() {
            let used = i == queryPools.count - 1 ? queriesUsedInLastPool : queriesPerPool
            var values = [UInt64](repeating: 0, count: max(used, 1))
            if used > 0 {
                let flags = VK_QUERY_RESULT_64_BIT.rawValue | VK_QUERY_RESULT_WAIT_BIT.rawValue
                let result = values.withUnsafeMutableBytes {
                    vkGetQueryPoolResults(device, pool, 0, UInt32(used), $0.count, $0.baseAddress, 8, flags)
                }
                try vkCheck(result, "vkGetQueryPoolResults", "\(used) timestamps")
            }
            results.append(values)
        }
        let bits = context.timestampValidBits
        let mask: UInt64 = bits >= 64 ? UInt64.max : (UInt64(1) << UInt64(bits)) - 1
        let period = Double(context.info.timestampPeriod)
        var timings: [DispatchTiming] = []
        timings.reserveCapacity(timedDispatches.count)
        for (index, entry) in timedDispatches.enumerated() {
            let begin = results[entry.pool][entry.query], end = results[entry.pool][entry.query + 1]
            let ticks = (end &- begin) & mask
            timings.append(DispatchTiming(label: entry.label, index: index, gpuNanoseconds: Double(ticks) * period))
        }
        var total = 0.0
        if let first = timedDispatches.first, let last = timedDispatches.last {
            let ticks = (results[last.pool][last.query + 1] &- results[first.pool][first.query]) & mask
            total = Double(ticks) * period
        }
        return SubmissionReport(timings: timings, totalGPUNanoseconds: total, wallNanoseconds: wall, timestampsAvailable: true)
    }
}
