import CVulkan
import Foundation

/// Where a buffer lives.
public enum BufferKind {
    /// Storage buffer for shaders (also a transfer source/destination).
    case deviceLocal
    /// Host-visible, coherent memory for uploads/readbacks (transfer source/destination).
    case staging
}

/// A `VkBuffer` bound to a sub-allocated range of a pooled memory block.
/// Freed (buffer destroyed, range returned to the pool) on deinit.
/// Keeps its `VulkanContext` alive.
public final class VulkanBuffer {
    public let context: VulkanContext
    public let size: Int
    public let kind: BufferKind
    public let handle: VkBuffer
    let allocation: MemoryAllocation

    /// Identity of the underlying `VkDeviceMemory` block. Together with `memoryOffset` it lets
    /// hazard tracking see when two buffers alias the same memory.
    public var memoryID: Int { allocation.block.id }
    /// Byte offset of this buffer within its memory block.
    public var memoryOffset: Int { allocation.offset }
    /// True when `write`/`read` are plain memcpys (mapped, coherent memory).
    public var isHostVisible: Bool { allocation.block.mapped != nil }
    /// The mapped address of byte 0 when host visible.
    public var mappedPointer: UnsafeMutableRawPointer? {
        allocation.block.mapped.map { $0 + allocation.offset }
    }

    init(context: VulkanContext, size: Int, kind: BufferKind, handle: VkBuffer, allocation: MemoryAllocation) {
        self.context = context
        self.size = size
        self.kind = kind
        self.handle = handle
        self.allocation = allocation
    }

    deinit {
        vkDestroyBuffer(context.device, handle, nil)
        context.allocator.free(allocation)
    }

    private func checkRange(_ offset: Int, _ count: Int, _ what: String) throws {
        guard offset >= 0, count >= 0, offset + count <= size else {
            throw VulkanError.invalidArgument("\(what) of \(count) bytes at offset \(offset) is outside the \(size)-byte buffer")
        }
    }

    /// Copies `bytes` into the buffer at `offset`. Device-only memory goes through a temporary
    /// staging buffer and a one-off copy on the context's queue (which waits for completion).
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) throws {
        try checkRange(offset, bytes.count, "write")
        guard bytes.count > 0, let source = bytes.baseAddress else { return }
        if let mapped = mappedPointer {
            (mapped + offset).copyMemory(from: source, byteCount: bytes.count)
            return
        }
        let staging = try context.makeBuffer(bytes: bytes.count, kind: .staging)
        try staging.write(bytes, at: 0)
        try context.copyNow(from: staging, sourceOffset: 0, to: self, destinationOffset: offset, bytes: bytes.count)
    }

    /// Copies `into.count` bytes starting at `offset` out of the buffer.
    public func read(into destination: UnsafeMutableRawBufferPointer, at offset: Int = 0) throws {
        try checkRange(offset, destination.count, "read")
        guard destination.count > 0, let target = destination.baseAddress else { return }
        if let mapped = mappedPointer {
            target.copyMemory(from: mapped + offset, byteCount: destination.count)
            return
        }
        let staging = try context.makeBuffer(bytes: destination.count, kind: .staging)
        try context.copyNow(from: self, sourceOffset: offset, to: staging, destinationOffset: 0, bytes: destination.count)
        try staging.read(into: destination, at: 0)
    }

    /// Writes an array of trivial values (e.g. `[Float]`, `[UInt32]`).
    public func write<T>(_ values: [T], at offset: Int = 0) throws {
        try values.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Reads `count` trivial values of type `T` starting at byte `offset`.
    public func read<T>(_ type: T.Type, count: Int, at offset: Int = 0) throws -> [T] {
        guard count > 0 else { return [] }
        var result: [T] = []
        result.reserveCapacity(count)
        let byteCount = count * MemoryLayout<T>.stride
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: byteCount, alignment: MemoryLayout<T>.alignment)
        defer { raw.deallocate() }
        try read(into: raw, at: offset)
        let typed = raw.bindMemory(to: T.self)
        result.append(contentsOf: typed)
        return result
    }
}
