import Foundation
import FusionCore

/// Float64 definitions of the unary ops, straight from their PyTorch formulas (no shared
/// code with either backend), for the cases that check each backend against float64.
enum PointwiseReference64 {
    static func function(_ kind: UnaryKind) -> (Double) -> Double {
        switch kind {
        case .relu: return { max(0, $0) }
        case let .leakyReLU(slope): return { $0 >= 0 ? $0 : $0 * Double(slope) }
        case .gelu: return { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }
        case .quickGELU: return { $0 / (1 + Foundation.exp(-1.702 * $0)) }
        case .tanh: return { Foundation.tanh($0) }
        case .sigmoid: return { 1 / (1 + Foundation.exp(-$0)) }
        case let .affine(scale, shift): return { $0 * Double(scale) + Double(shift) }
        }
    }

    /// The reference of `kind` applied to the case's input `x0`.
    static func unary(_ kind: UnaryKind, tolerance: Double, scale: OpReference64.Scale = .output) -> OpReference64 {
        let f = function(kind)
        return OpReference64(tolerance: tolerance, scale: scale) { inputs in
            inputs["x0"].map { $0.floats.map { f(Double($0)) } } ?? []
        }
    }
}
