import Foundation
import FusionCore

/// Float64 unary, broadcasting binary, FiLM and PReLU, straight from their PyTorch formulas
/// (no shared code with either backend).
public enum PointwiseReference64 {
    /// The float64 definition of a unary kind.
    public static func function(_ kind: UnaryKind) -> (Double) -> Double {
        switch kind {
        case .relu: return { $0 > 0 ? $0 : 0 }
        case let .leakyReLU(slope): return { $0 >= 0 ? $0 : $0 * Double(slope) }
        case .gelu: return { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }
        case .quickGELU: return { $0 / (1 + Foundation.exp(-1.702 * $0)) }
        case .tanh: return { Foundation.tanh($0) }
        case .sigmoid: return { 1 / (1 + Foundation.exp(-$0)) }
        case let .affine(scale, shift): return { $0 * Double(scale) + Double(shift) }
        }
    }

    public static func unary(_ kind: UnaryKind, _ x: Float64Tensor) -> Float64Tensor {
        Float64Tensor(x.data.map(function(kind)), x.shape)
    }

    /// Elementwise with NumPy broadcasting.
    public static func binary(_ kind: BinaryKind, _ a: Float64Tensor, _ b: Float64Tensor) -> Float64Tensor {
        let shape = Float64Indexing.broadcastShape(a.shape, b.shape)
        let av = a.data, bv = b.data
        var out = [Double](repeating: 0, count: Float64Indexing.count(shape))
        var idx = [Int](repeating: 0, count: shape.count)
        for i in 0..<out.count {
            let x = av[Float64Indexing.broadcastIndex(idx, a.shape)], y = bv[Float64Indexing.broadcastIndex(idx, b.shape)]
            switch kind {
            case .add: out[i] = x + y
            case .sub: out[i] = x - y
            case .mul: out[i] = x * y
            case .div: out[i] = x / y
            }
            Float64Indexing.increment(&idx, shape)
        }
        return Float64Tensor(out, shape)
    }

    /// `(1 + gamma[n,c]) * x + beta[n,c]`, x [N,C,H,W].
    public static func film(_ x: Float64Tensor, gamma: Float64Tensor, beta: Float64Tensor) -> Float64Tensor {
        let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
        let xv = x.data, gv = gamma.data, bv = beta.data
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                for p in 0..<hw {
                    let i = (b * c + ch) * hw + p
                    out[i] = (1 + gv[b * c + ch]) * xv[i] + bv[b * c + ch]
                }
            }
        }
        return Float64Tensor(out, x.shape)
    }

    /// `F.prelu`: x [N,C,...], slope [C] or [1].
    public static func prelu(_ x: Float64Tensor, slope: Float64Tensor) -> Float64Tensor {
        let n = x.shape[0], c = x.rank > 1 ? x.shape[1] : 1
        let spatial = Float64Indexing.count(Array(x.shape.dropFirst(2)))
        let xv = x.data
        var out = [Double](repeating: 0, count: x.count)
        for b in 0..<n {
            for ch in 0..<c {
                let s = slope.count == 1 ? slope.data[0] : slope.data[ch]
                for p in 0..<spatial {
                    let i = (b * c + ch) * spatial + p
                    out[i] = xv[i] >= 0 ? xv[i] : s * xv[i]
                }
            }
        }
        return Float64Tensor(out, x.shape)
    }
}
