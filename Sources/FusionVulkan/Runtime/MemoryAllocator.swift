import CVulkan
import Foundation

/// One `VkDeviceMemory` allocation that buffers are sub-allocated from.
final class MemoryBlock {
    /// Process-unique identity (exposed as `VulkanBuffer.memoryID`).
    let id: Int
    let memory: VkDeviceMemory
    let size: Int
    let memoryTypeIndex: UInt32
    let pool: PoolKey
    /// Persistent mapping of the whole block (host-visible + coherent types only).
    let mapped: UnsafeMutableRawPointer?
    /// Free ranges, sorted by offset and coalesced.
    var freeRanges: [(offset: Int, size: Int)]
    var usedBytes = 0

    init(id: Int, memory: VkDeviceMemory, size: Int, memoryTypeIndex: UInt32, pool: PoolKey, mapped: UnsafeMutableRawPointer?) {
        self.id = id
        self.memory = memory
        self.size = size
        self.memoryTypeIndex = memoryTypeIndex
        self.pool = pool
        self.mapped = mapped
        freeRanges = [(0, size)]
    }

    /// First-fit allocation; nil when no free range can hold `size` bytes at `alignment`.
    func allocate(size: Int, alignment: Int) -> Int? {
        for (i, range) in freeRanges.enumerated() {
            let start = alignUp(range.offset, alignment)
            let end = range.offset + range.size
            guard start + size <= end else { continue }
            var replacement: [(offset: Int, size: Int)] = []
            if start > range.offset { replacement.append((range.offset, start - range.offset)) }
            if start + size < end { replacement.append((start + size, end - start - size)) }
            freeRanges.replaceSubrange(i...i, with: replacement)
            usedBytes += size
            return start
        }
        return nil
    }

    /// Returns a range to the free list, merging it with adjacent free ranges.
    func free(offset: Int, size: Int) {
        let index = freeRanges.firstIndex { $0.offset > offset } ?? freeRanges.count
        freeRanges.insert((offset, size), at: index)
        // Merge with the successor, then the predecessor.
        if index + 1 < freeRanges.count, freeRanges[index].offset + freeRanges[index].size == freeRanges[index + 1].offset {
            freeRanges[index].size += freeRanges[index + 1].size
            freeRanges.remove(at: index + 1)
        }
        if index > 0, freeRanges[index - 1].offset + freeRanges[index - 1].size == freeRanges[index].offset {
            freeRanges[index - 1].size += freeRanges[index].size
            freeRanges.remove(at: index)
        }
        usedBytes -= size
    }

    var isEmpty: Bool { usedBytes == 0 }
}

/// Blocks are pooled per memory type and buffer kind (staging and device-local buffers never
/// share a block, even when the device offers a single memory type for both).
struct PoolKey: Hashable {
    let memoryTypeIndex: UInt32
    let kind: BufferKind
}

/// A sub-allocated range.
struct MemoryAllocation {
    let block: MemoryBlock
    let offset: Int
    let size: Int
}

/// Pools `VkDeviceMemory` blocks per memory type and sub-allocates buffers from them.
///
/// Blocks are `max(64 MiB, request rounded up to 1 MiB)`, capped at
/// `maxMemoryAllocationSize`. A fully free block is released, except that one empty block of
/// the default size is kept per pool so alloc/free cycles do not thrash the driver.
final class MemoryAllocator {
    static let defaultBlockSize = 64 << 20

    private let device: VkDevice
    private let memoryProperties: VkPhysicalDeviceMemoryProperties
    private let maxAllocationSize: Int
    private let preferHostVisibleDeviceMemory: Bool
    private let lock = NSLock()
    private var blocks: [PoolKey: [MemoryBlock]] = [:]
    /// When false, device-local blocks are never mapped, forcing `VulkanBuffer.read/write`
    /// through staging copies (used by tests to exercise that path on unified-memory devices).
    var mapDeviceLocalBlocks = true
    private static var globalBlockCounter = 0
    private static let counterLock = NSLock()

    private(set) var bytesAllocated = 0
    private(set) var peakBytesAllocated = 0
    private(set) var deviceMemoryBytes = 0

    init(device: VkDevice, physicalDevice: VkPhysicalDevice, info: VulkanDeviceInfo) {
        self.device = device
        var props = VkPhysicalDeviceMemoryProperties()
        vkGetPhysicalDeviceMemoryProperties(physicalDevice, &props)
        memoryProperties = props
        maxAllocationSize = Int(clamping: info.maxMemoryAllocationSize)
        // On unified-memory devices, device-local memory that is also host-visible lets
        // buffers be read and written with memcpy. On discrete GPUs that memory is the
        // small BAR window, so plain device-local memory is preferred there.
        preferHostVisibleDeviceMemory = info.type == "integrated GPU" || info.type == "CPU"
    }

    var stats: (allocated: Int, peak: Int, deviceMemory: Int) {
        lock.locked { (bytesAllocated, peakBytesAllocated, deviceMemoryBytes) }
    }

    private func memoryType(_ index: Int) -> VkMemoryType {
        withUnsafeBytes(of: memoryProperties.memoryTypes) { $0.bindMemory(to: VkMemoryType.self)[index] }
    }

    /// Memory type indices allowed by `typeBits`, best first for `kind`.
    func candidateTypes(typeBits: UInt32, kind: BufferKind) -> [UInt32] {
        let deviceLocal = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT.rawValue
        let hostVisible = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue
        let coherent = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue
        let cached = VK_MEMORY_PROPERTY_HOST_CACHED_BIT.rawValue
        var scored: [(score: Int, index: UInt32)] = []
        for i in 0..<Int(memoryProperties.memoryTypeCount) where typeBits & (1 << UInt32(i)) != 0 {
            let flags = memoryType(i).propertyFlags
            let mappable = flags & hostVisible != 0 && flags & coherent != 0
            var score = 0
            switch kind {
            case .deviceLocal:
                if flags & deviceLocal != 0 { score += 100 }
                if mappable { score += preferHostVisibleDeviceMemory ? 10 : -10 }
            case .staging:
                guard mappable else { continue } // staging must be mappable and coherent
                if flags & cached != 0 { score += 10 }
                if flags & deviceLocal != 0 && !preferHostVisibleDeviceMemory { score -= 5 }
            }
            scored.append((score, UInt32(i)))
        }
        return scored.sorted { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }.map { $0.index }
    }

    func allocate(requirements: VkMemoryRequirements, kind: BufferKind, context: String) throws -> MemoryAllocation {
        let size = Int(requirements.size)
        let alignment = max(1, Int(requirements.alignment))
        guard size <= maxAllocationSize else {
            throw VulkanError.limitExceeded(what: "buffer size (maxMemoryAllocationSize) for \(context)", value: size, limit: maxAllocationSize)
        }
        let candidates = candidateTypes(typeBits: requirements.memoryTypeBits, kind: kind)
        guard !candidates.isEmpty else {
            throw VulkanError.unsupportedFeature("no memory type for \(kind) buffer (\(context))")
        }
        return try lock.locked {
            var lastError: VulkanError?
            for type in candidates {
                let pool = PoolKey(memoryTypeIndex: type, kind: kind)
                for block in blocks[pool] ?? [] {
                    if let offset = block.allocate(size: size, alignment: alignment) {
                        return record(MemoryAllocation(block: block, offset: offset, size: size))
                    }
                }
                do {
                    let block = try newBlock(pool: pool, minimumSize: size)
                    blocks[pool, default: []].append(block)
                    if let offset = block.allocate(size: size, alignment: alignment) {
                        return record(MemoryAllocation(block: block, offset: offset, size: size))
                    }
                } catch let error as VulkanError {
                    lastError = error
                    continue // try the next acceptable memory type
                }
            }
            if let error = lastError, case .outOfDeviceMemory = error {
                throw VulkanError.outOfDeviceMemory(requested: size, context: context)
            }
            throw lastError ?? VulkanError.outOfDeviceMemory(requested: size, context: context)
        }
    }

    private func record(_ allocation: MemoryAllocation) -> MemoryAllocation {
        bytesAllocated += allocation.size
        peakBytesAllocated = max(peakBytesAllocated, bytesAllocated)
        return allocation
    }

    /// Allocates a new block; on failure with the default size, retries with just the request.
    private func newBlock(pool: PoolKey, minimumSize: Int) throws -> MemoryBlock {
        let type = pool.memoryTypeIndex
        let heapIndex = Int(memoryType(Int(type)).heapIndex)
        let heapSize = withUnsafeBytes(of: memoryProperties.memoryHeaps) {
            Int(clamping: $0.bindMemory(to: VkMemoryHeap.self)[heapIndex].size)
        }
        let rounded = alignUp(minimumSize, 1 << 20)
        let preferred = min(max(Self.defaultBlockSize, rounded), maxAllocationSize, max(heapSize, minimumSize))
        var sizes = [max(preferred, minimumSize)]
        if minimumSize < sizes[0] { sizes.append(minimumSize) }

        var lastResult = VK_SUCCESS
        for size in sizes {
            var info = VkMemoryAllocateInfo()
            info.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
            info.allocationSize = VkDeviceSize(size)
            info.memoryTypeIndex = type
            var memory: VkDeviceMemory?
            let result = vkAllocateMemory(device, &info, nil, &memory)
            lastResult = result
            if result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY { continue }
            try vkCheck(result, "vkAllocateMemory", "\(size) bytes, memory type \(type)")
            guard let memory = memory else { continue }

            let flags = memoryType(Int(type)).propertyFlags
            var mapped: UnsafeMutableRawPointer?
            if pool.kind == .staging || mapDeviceLocalBlocks,
               flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT.rawValue != 0,
               flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT.rawValue != 0 {
                let mapResult = vkMapMemory(device, memory, 0, VkDeviceSize(VK_WHOLE_SIZE), 0, &mapped)
                if mapResult != VK_SUCCESS { mapped = nil } // still usable through staging copies
            }
            deviceMemoryBytes += size
            return MemoryBlock(id: Self.nextGlobalID(), memory: memory, size: size, memoryTypeIndex: type, pool: pool, mapped: mapped)
        }
        if lastResult == VK_ERROR_DEVICE_LOST { throw vkError(lastResult, "vkAllocateMemory", "memory type \(type)") }
        throw VulkanError.outOfDeviceMemory(requested: minimumSize, context: "vkAllocateMemory returned \(VulkanError.resultName(lastResult.rawValue)) for memory type \(type)")
    }

    /// Block ids are unique across contexts so hazard checks never confuse two devices.
    private static func nextGlobalID() -> Int {
        counterLock.locked {
            globalBlockCounter += 1
            return globalBlockCounter
        }
    }

    func free(_ allocation: MemoryAllocation) {
        lock.locked {
            let block = allocation.block
            block.free(offset: allocation.offset, size: allocation.size)
            bytesAllocated -= allocation.size
            guard block.isEmpty, var list = blocks[block.pool] else { return }
            // Keep one empty default-size block per type; release oversized or extra ones.
            let otherEmpty = list.contains { $0 !== block && $0.isEmpty }
            if block.size > Self.defaultBlockSize || otherEmpty {
                list.removeAll { $0 === block }
                blocks[block.pool] = list
                release(block)
            }
        }
    }

    private func release(_ block: MemoryBlock) {
        if block.mapped != nil { vkUnmapMemory(device, block.memory) }
        vkFreeMemory(device, block.memory, nil)
        deviceMemoryBytes -= block.size
    }

    /// Frees every block (context teardown; all buffers are gone by then).
    func destroyAll() {
        lock.locked {
            for (_, list) in blocks { list.forEach(release) }
            blocks = [:]
        }
    }
}
