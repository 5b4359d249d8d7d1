import CVulkan

/// Tracks memory accesses recorded since the last barrier and decides whether a new command
/// needs one. Ranges are compared in memory-block coordinates (`memoryID`,
/// `memoryOffset + offset ..< + size`), so distinct `VulkanBuffer`s aliasing the same memory
/// are handled correctly.
struct HazardTracker {
    enum Stage { case compute, transfer }

    struct Access {
        let memoryID: Int
        let range: Range<Int>
        let isWrite: Bool
    }

    private var pending: [Int: [Access]] = [:] // by memoryID
    private var pendingStages: VkPipelineStageFlags = 0
    private var pendingWriteAccess: VkAccessFlags = 0
    /// Every stage that wrote anything so far (for the final host-visibility barrier).
    private(set) var stagesThatWrote: VkPipelineStageFlags = 0

    /// Write access bits matching `stagesThatWrote` (access masks must fit the stage mask).
    var writeAccessOfStagesThatWrote: VkAccessFlags {
        var access: VkAccessFlags = 0
        if stagesThatWrote & Self.stageFlags(.compute) != 0 { access |= Self.writeAccess(.compute) }
        if stagesThatWrote & Self.stageFlags(.transfer) != 0 { access |= Self.writeAccess(.transfer) }
        return access
    }

    static func stageFlags(_ stage: Stage) -> VkPipelineStageFlags {
        switch stage {
        case .compute: return VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue
        case .transfer: return VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue
        }
    }

    static func writeAccess(_ stage: Stage) -> VkAccessFlags {
        switch stage {
        case .compute: return VK_ACCESS_SHADER_WRITE_BIT.rawValue
        case .transfer: return VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        }
    }

    /// True when `accesses` conflict with a pending access: read-after-write, write-after-write
    /// or write-after-read on overlapping bytes of the same memory block.
    func hasHazard(_ accesses: [Access]) -> Bool {
        for access in accesses where !access.range.isEmpty {
            guard let existing = pending[access.memoryID] else { continue }
            for old in existing where (old.isWrite || access.isWrite) && old.range.overlaps(access.range) {
                return true
            }
        }
        return false
    }

    /// The barrier that orders everything pending before everything that follows.
    /// The destination scope is all compute + transfer work, so clearing the pending set
    /// afterwards is sound for any later command.
    func barrier() -> (srcStages: VkPipelineStageFlags, dstStages: VkPipelineStageFlags, barrier: VkMemoryBarrier) {
        var barrier = VkMemoryBarrier()
        barrier.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        barrier.srcAccessMask = pendingWriteAccess
        barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
            | VK_ACCESS_TRANSFER_READ_BIT.rawValue | VK_ACCESS_TRANSFER_WRITE_BIT.rawValue
        let dst = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue | VK_PIPELINE_STAGE_TRANSFER_BIT.rawValue
        return (pendingStages == 0 ? VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT.rawValue : pendingStages, dst, barrier)
    }

    mutating func clear() {
        pending.removeAll(keepingCapacity: true)
        pendingStages = 0
        pendingWriteAccess = 0
    }

    mutating func record(_ accesses: [Access], stage: Stage) {
        pendingStages |= Self.stageFlags(stage)
        for access in accesses where !access.range.isEmpty {
            pending[access.memoryID, default: []].append(access)
            if access.isWrite {
                pendingWriteAccess |= Self.writeAccess(stage)
                stagesThatWrote |= Self.stageFlags(stage)
            }
        }
    }
}
