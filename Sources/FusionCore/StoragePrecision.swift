/// How a backend stores float activations and weights on the device. Arithmetic,
/// accumulation and norm / softmax statistics stay fp32 either way; graph inputs and
/// outputs stay fp32 tensors for the caller (converted at upload and download); integer
/// tensors (token ids) keep their type.
public enum StoragePrecision: String, CaseIterable, Sendable, CustomStringConvertible {
    /// 4 bytes per float element (the default; the only precision of the CPU backend).
    case fp32
    /// 2 bytes per float element (IEEE half); needs shaderFloat16 and storageBuffer16BitAccess on Vulkan.
    case fp16

    public var description: String { rawValue }

    /// The element type a value of type `dtype` is stored as.
    public func storageType(of dtype: DType) -> DType {
        self == .fp16 && dtype == .f32 ? .f16 : dtype
    }

    /// Bytes per stored element of a value of type `dtype`.
    public func storageBytes(of dtype: DType) -> Int { storageType(of: dtype).byteSize }
}
