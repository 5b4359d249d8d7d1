import FusionCore

// Shared helpers of the memory-bound kernels (norm, softmax, elementwise, layout,
// embedding, resize): element-range bindings, splitting into ranges that fit one
// storage-buffer binding, and index-range checks.

/// Workgroup size of the one-thread-per-element kernels.
let lightWorkgroupSize = 256

extension EncodeContext {
    /// The most 4-byte elements one binding may cover wherever the range starts (room is
    /// left for the alignment slack `bind(_:_:byteRange:)` adds in front).
    var lightMaxElements: Int {
        max(1, min(maxBindingBytes - offsetAlignment, Int(Int32.max)) / 4)
    }

    /// Binds elements `range` (in elements of `t.dtype`, relative to element 0) of `t`; returns
    /// the binding and the element offset of `range.lowerBound` inside it.
    func lightBind(_ t: DeviceTensor, _ access: BufferBinding.Access, elements range: Range<Int>) throws -> (BufferBinding, Int) {
        let size = t.dtype.byteSize
        let r = try bind(t, access, byteRange: (range.lowerBound * size)..<(range.upperBound * size))
        return (r.binding, r.elementOffset)
    }

    /// Binds all of `t` for an op that cannot split it: throws `bind`'s `limitExceeded` when
    /// the tensor is larger than one binding. Returns the element offset of element 0.
    func lightBindWhole(_ t: DeviceTensor, _ access: BufferBinding.Access) throws -> (BufferBinding, Int) {
        if t.byteCount > maxBindingBytes {
            _ = try bind(t, access)   // throws the typed error naming the op and tensor
        }
        return try lightBind(t, access, elements: 0..<max(t.count, 1))
    }

    /// Rejects tensors the 32-bit index math of the shaders cannot address, and element
    /// types that are not 4 bytes wide (or f16 under fp16 storage).
    func lightCheck(_ tensors: [DeviceTensor]) throws {
        for t in tensors {
            guard t.dtype.byteSize == 4 || (t.dtype == .f16 && precision == .fp16) else {
                throw FusionError.unsupportedOp(op: "\(opName) on \(t.dtype) tensors", backend: "vulkan")
            }
            guard t.count < Int(Int32.max) else {
                throw FusionError.limitExceeded(op: opName,
                    detail: "tensor \(t.shape) has \(t.count) elements; kernels index with 32 bits (< \(Int32.max))")
            }
        }
    }

    /// Contiguous ranges of `count` items, each holding at most `maxItems` items.
    func lightRanges(_ count: Int, maxItems: Int) -> [Range<Int>] {
        let step = max(1, maxItems)
        return stride(from: 0, to: count, by: step).map { $0..<min($0 + step, count) }
    }

    /// Ranges of `count` items of `itemElements` elements each such that every range fits
    /// one binding. Throws `bind`'s error (via `whenTooLarge`) when a single item does not.
    func lightItemRanges(_ count: Int, itemElements: Int, tensorForError: DeviceTensor,
                         access: BufferBinding.Access) throws -> [Range<Int>] {
        let per = lightMaxElements / max(itemElements, 1)
        if per == 0 {
            _ = try bind(tensorForError, access)   // the item alone is over the limit: typed error
            throw FusionError.limitExceeded(op: opName, detail: "one item of \(itemElements) elements is over maxStorageBufferRange")
        }
        return lightRanges(count, maxItems: per)
    }

    /// Dispatches a one-thread-per-item kernel over `count` items.
    func lightDispatch(_ shader: String, defines: [(String, String)], bindings: [BufferBinding],
                       arguments: ShaderArguments, items count: Int, workgroup: Int = lightWorkgroupSize) throws {
        try dispatch(shader, defines: defines, specialization: [UInt32(workgroup)], bindings: bindings,
                     arguments: arguments, groups: (groupCount(count, workgroup), 1, 1))
    }
}

/// Smallest power of two >= n (n >= 1).
func lightPowerOfTwo(atLeast n: Int) -> Int {
    var p = 1
    while p < n { p <<= 1 }
    return p
}
