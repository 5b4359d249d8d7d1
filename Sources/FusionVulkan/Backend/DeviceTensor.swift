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
