/// Element types as checkpoints store them (wider than the engine's compute `DType`).
public enum StorageDType: String, CaseIterable, Sendable, CustomStringConvertible {
    case f64, f32, f16, bf16, i64, i32, i16, i8, u8, bool

    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool { self == .f64 || self == .f32 || self == .f16 || self == .bf16 }

    /// The name safetensors uses in its header ("F32", "BF16", "BOOL"...).
    public var safetensorsName: String {
        switch self {
        case .f64: return "F64"
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .i64: return "I64"
        case .i32: return "I32"
        case .i16: return "I16"
        case .i8: return "I8"
        case .u8: return "U8"
        case .bool: return "BOOL"
        }
    }

    public init?(safetensorsName: String) {
        guard let match = StorageDType.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
        self = match
    }

    /// The PyTorch storage class that holds this type (`FloatStorage`, `HalfStorage`...).
    public init?(torchStorageName: String) {
        switch torchStorageName {
        case "DoubleStorage": self = .f64
        case "FloatStorage": self = .f32
        case "HalfStorage": self = .f16
        case "BFloat16Storage": self = .bf16
        case "LongStorage": self = .i64
        case "IntStorage": self = .i32
        case "ShortStorage": self = .i16
        case "CharStorage": self = .i8
        case "ByteStorage": self = .u8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }

    /// A NumPy `descr` of a little-endian or byte-sized type (`<f4`, `|u1`, `|b1`...).
    public init?(numpyDescr: String) {
        switch numpyDescr {
        case "<f8": self = .f64
        case "<f4": self = .f32
        case "<f2": self = .f16
        case "<i8": self = .i64
        case "<i4": self = .i32
        case "<i2": self = .i16
        case "|i1": self = .i8
        case "|u1": self = .u8
        case "|b1": self = .bool
        default: return nil
        }
    }

    /// The `torch.<name>` dtype global some pickles name instead of a storage class.
    public init?(torchDTypeName: String) {
        switch torchDTypeName {
        case "float64", "double": self = .f64
        case "float32", "float": self = .f32
        case "float16", "half": self = .f16
        case "bfloat16": self = .bf16
        case "int64", "long": self = .i64
        case "int32", "int": self = .i32
        case "int16", "short": self = .i16
        case "int8": self = .i8
        case "uint8": self = .u8
        case "bool": self = .bool
        default: return nil
        }
    }

    public var description: String { rawValue }
}
