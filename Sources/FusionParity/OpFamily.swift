import FusionCore

/// The op families of the catalogue: ops that share a kind of arithmetic share a tolerance,
/// an XCTest method and a file of cases.
public enum OpFamily: String, CaseIterable, Sendable {
    case convolution, matrixProduct = "matrix product", attention
    case reduction, pointwise, layout, resampling

    /// Allowed max |candidate - reference| as a fraction of the output's scale
    /// (max(1, max |reference|)) when one fp32 backend is compared with another.
    public var tolerance: Float {
        switch self {
        case .convolution, .matrixProduct, .attention, .reduction, .resampling: return 1e-5
        case .pointwise: return 2e-6
        case .layout: return 0
        }
    }

    /// Allowed max |candidate - reference| as a fraction of the output's scale when the
    /// candidate stores fp16 (`fusion parity --ops --precision fp16`) and the fp32 reference
    /// reads the same fp16-rounded inputs and weights (`HalfRounding`): what is left is the
    /// kernel's own error. An fp16 rounding is at most 2^-11 = 4.9e-4 of the value: sums
    /// and resampling round their output and stored intermediates (split partials, scores),
    /// about 8 roundings; pointwise ops 4; moving rounded values is exact, and only fill
    /// values (pad constants) are rounded, once.
    public var fp16Tolerance: Float {
        switch self {
        case .convolution, .matrixProduct, .attention, .reduction, .resampling: return 4e-3
        case .pointwise: return 2e-3
        case .layout: return 4.9e-4
        }
    }

    /// The tolerance at a storage precision.
    public func tolerance(at precision: StoragePrecision) -> Float {
        precision == .fp16 ? fp16Tolerance : tolerance
    }

    /// Why the tolerance is what it is (printed by the docs and kept beside the number).
    public var toleranceReason: String {
        switch self {
        case .convolution, .matrixProduct, .attention:
            return "fp32 dot products of up to 20480 terms summed in another order (tiles, splits, online softmax): ~80 ulp of the output scale"
        case .reduction:
            return "means, variances and softmax sums over up to 60M elements in another order (tree vs. sequential): ~80 ulp of the output scale"
        case .resampling:
            return "up to 16 taps whose weights come from fp32 source coordinates (up to ~1000), computed on each backend: ~80 ulp"
        case .pointwise:
            return "no accumulation: one or two roundings plus the GPU's exp/erf approximations of a few ulp (fp32 ulp at 1 is 1.2e-7)"
        case .layout:
            return "pure data movement (copies, gathers, reflect indices): bit-exact"
        }
    }

    /// Allowed max |backend - float64| as a fraction of max(1, max |float64|) (the float64
    /// reference of the case's graph, `GraphReference64`), for either fp32 backend.
    public var reference64Tolerance: Double {
        switch self {
        case .convolution, .matrixProduct, .attention, .reduction, .resampling: return 1e-5
        case .pointwise: return 1e-6
        case .layout: return 0
        }
    }

    /// Why the float64 tolerance is what it is.
    public var reference64ToleranceReason: String {
        switch self {
        case .convolution, .matrixProduct, .attention:
            return "fp32 accumulation of up to 20480 products of inputs <= 1: sqrt(K) x 6e-8 typical, ~1e-6; 10x margin"
        case .reduction:
            return "fp32 means and variances over up to 60M elements (chunked on the CPU, trees on the GPU): ~1e-6; 10x margin"
        case .resampling:
            return "up to 16 taps whose weights come from fp32 source coordinates (up to ~1000): a few ulp of each weight"
        case .pointwise:
            return "no accumulation: one or two fp32 roundings (6e-8 each) plus exp/erf/tanh approximations of a few ulp"
        case .layout:
            return "pure data movement of fp32 values, which float64 holds exactly: bit-exact"
        }
    }
}
