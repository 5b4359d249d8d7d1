/// Element types a tensor can hold.
public enum DType: String, CaseIterable, Sendable, CustomStringConvertible {
    case f32, f16, i32, u8

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16: return 2
        case .u8: return 1
        }
    }

    public var description: String { rawValue }
}
