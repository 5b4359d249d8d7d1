import FusionCore

/// Where a graph value lives on the device: a buffer and a byte offset inside it.
/// Offsets made by the planner are aligned to the device's storage-buffer offset
/// alignment; views made by `EncodeContext.bind` may not be, which the shaders absorb
/// through an element offset.
struct DeviceTensor {
    let buffer: VulkanBuffer
    /// Byte offset of element 0 inside `buffer`.
    let offset: Int
    let shape: [Int]
    let dtype: DType

    var count: Int { shape.reduce(1, *) }
    var byteCount: Int { count * dtype.byteSize }
}

/// Builds push-constant blocks field by field (std430 scalar layout: 4 bytes a field).
struct ShaderArguments {
    private(set) var bytes: [UInt8] = []

    init() {}

    mutating func int(_ v: Int) { append(UInt32(bitPattern: Int32(truncatingIfNeeded: v))) }
    mutating func uint(_ v: UInt32) { append(v) }
    mutating func float(_ v: Float) { append(v.bitPattern) }
    mutating func ints(_ vs: [Int]) { vs.forEach { int($0) } }

    private mutating func append(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Host-side conversion between a graph tensor (f32 for the caller) and its device storage
/// (f16 when the context stores floats in fp16; anything else is copied as is).
enum StorageConversion {
    /// Writes `t` into `buffer` at `offset` as elements of `storage`.
    static func upload(_ t: Tensor, as storage: DType, to buffer: VulkanBuffer, at offset: Int) throws {
        guard storage != t.dtype else {
            try buffer.write(UnsafeRawBufferPointer(t.bytes), at: offset)
            return
        }
        precondition(t.dtype == .f32 && storage == .f16, "no conversion from \(t.dtype) to \(storage)")
        let source = t.floats
        var half = [Float16](repeating: 0, count: t.count)
        half.withUnsafeMutableBufferPointer { h in
            for i in 0..<source.count { h[i] = Float16(source[i]) }
        }
        try half.withUnsafeBytes { try buffer.write($0, at: offset) }
    }

    /// Reads `t.count` elements of `storage` from `buffer` at `offset` into `t`.
    static func download(from buffer: VulkanBuffer, at offset: Int, as storage: DType, into t: Tensor) throws {
        guard storage != t.dtype else {
            if t.byteCount > 0 { try buffer.read(into: t.bytes, at: offset) }
            return
        }
        precondition(t.dtype == .f32 && storage == .f16, "no conversion from \(storage) to \(t.dtype)")
        guard t.count > 0 else { return }
        var half = [Float16](repeating: 0, count: t.count)
        try half.withUnsafeMutableBytes { try buffer.read(into: $0, at: offset) }
        let target = t.floats
        half.withUnsafeBufferPointer { h in
            for i in 0..<h.count { target[i] = Float(h[i]) }
        }
    }
}
