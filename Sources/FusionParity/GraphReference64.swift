import FusionCore

/// Evaluates a graph in float64, node by node, with the float64 references of the op
/// families. A catalogue case's reference is its own graph evaluated here, so a case needs
/// no hand-wired expectation and composite cases (a reshape or permute around the op) are
/// covered too.
///
/// `evaluate` switches over `Op` with no default: a new op does not compile until it has a
/// float64 reference.
public enum GraphReference64 {
    /// The graph's outputs by name, computed in float64 from `inputs` and its constants.
    public static func evaluate(_ graph: Graph, inputs: [String: Tensor]) -> [String: Float64Tensor] {
        var values: [Int: Float64Tensor] = [:]
        func value(_ v: Value) -> Float64Tensor {
            if let t = values[v.id] { return t }
            let t: Float64Tensor
            switch graph.info(v).kind {
            case let .input(name):
                guard let x = inputs[name] else { preconditionFailure("float64 reference: no input '\(name)'") }
                t = Float64Tensor(x)
            case let .constant(c): t = Float64Tensor(c)
            case .intermediate: preconditionFailure("float64 reference: \(v) read before it was computed")
            }
            values[v.id] = t
            return t
        }
        for node in graph.nodes {
            let x = node.baseInputs.map(value)
            values[node.output.id] = applyEpilogue(node.epilogue, to: evaluate(node.op, x), operands: node.epilogueOperands.map(value))
        }
        var outputs: [String: Float64Tensor] = [:]
        for (name, v) in graph.outputs { outputs[name] = value(v) }
        return outputs
    }

    /// A node's epilogue steps on its op's result, each as the unfused op it stands for.
    static func applyEpilogue(_ epilogue: Epilogue, to result: Float64Tensor, operands: [Float64Tensor]) -> Float64Tensor {
        var y = result, k = 0
        for step in epilogue.steps {
            switch step {
            case let .unary(kind): y = PointwiseReference64.unary(kind, y)
            case let .binary(kind, first): y = first ? PointwiseReference64.binary(kind, operands[k], y) : PointwiseReference64.binary(kind, y, operands[k])
            case .film: y = PointwiseReference64.film(y, gamma: operands[k], beta: operands[k + 1])
            case .prelu: y = PointwiseReference64.prelu(y, slope: operands[k])
            }
            k += step.operandCount
        }
        return y
    }

    /// One op on float64 operands (in the order `Op` lists them).
    static func evaluate(_ op: Op, _ x: [Float64Tensor]) -> Float64Tensor {
        switch op {
        case let .conv2d(a): return ConvolutionReference64.conv2d(x[0], weight: x[1], bias: x.count > 2 ? x[2] : nil, a)
        case let .convTranspose2d(a):
            return ConvolutionReference64.convTranspose2d(x[0], weight: x[1], bias: x.count > 2 ? x[2] : nil, a)
        case let .pointwiseDepthwise(normEps, a):
            let norm = normEps.map { (weight: x[1], bias: x[2], eps: Double($0)) }
            return ConvolutionReference64.pointwiseDepthwise(x[0], norm: norm, pointwise: x[x.count - 2], depthwise: x[x.count - 1], a)
        case let .matmul(ta, tb, alpha):
            return MatrixProductReference64.matmul(x[0], x[1], transposeA: ta, transposeB: tb, alpha: Double(alpha))
        case .linear: return MatrixProductReference64.linear(x[0], weight: x[1], bias: x.count > 2 ? x[2] : nil)
        case let .layerNormChannels(eps):
            return ReductionReference64.layerNormChannels(x[0], weight: x[1], bias: x.count > 2 ? x[2] : nil, eps: Double(eps))
        case let .layerNorm(eps): return ReductionReference64.layerNorm(x[0], weight: x[1], bias: x.count > 2 ? x[2] : nil, eps: Double(eps))
        case let .groupNorm(groups, eps):
            return ReductionReference64.groupNorm(x[0], groups: groups, weight: x[1], bias: x[2], eps: Double(eps))
        case let .globalNorm(eps): return ReductionReference64.globalNorm(x[0], weight: x[1], bias: x[2], eps: Double(eps))
        case let .globalStats(eps): return ReductionReference64.globalStats(x[0], eps: Double(eps))
        case let .globalPool(kind): return ReductionReference64.globalPool(kind, x[0])
        case let .channelReduce(kind): return ReductionReference64.channelReduce(kind, x[0])
        case .softmax: return ReductionReference64.softmax(x[0])
        case let .unary(kind): return PointwiseReference64.unary(kind, x[0])
        case let .binary(kind): return PointwiseReference64.binary(kind, x[0], x[1])
        case .film: return PointwiseReference64.film(x[0], gamma: x[1], beta: x[2])
        case .prelu: return PointwiseReference64.prelu(x[0], slope: x[1])
        case let .pixelShuffle(factor): return LayoutReference64.pixelShuffle(x[0], factor: factor)
        case let .pixelUnshuffle(factor): return LayoutReference64.pixelUnshuffle(x[0], factor: factor)
        case let .concat(axis): return LayoutReference64.concat(x, axis: axis)
        case let .slice(axis, start, length): return LayoutReference64.slice(x[0], axis: axis, start: start, length: length)
        case let .pad(top, bottom, left, right, mode):
            return LayoutReference64.pad(x[0], top: top, bottom: bottom, left: left, right: right, mode: mode)
        case let .crop(y, x0, height, width): return LayoutReference64.crop(x[0], y: y, x: x0, height: height, width: width)
        case .embedding: return LayoutReference64.embedding(ids: x[0], table: x[1])
        case let .channelAttention(heads): return AttentionReference64.channelAttention(q: x[0], k: x[1], v: x[2], temperature: x[3], heads: heads)
        case let .attention(scale, causal):
            return AttentionReference64.attention(q: x[0], k: x[1], v: x[2], bias: x.count > 3 ? x[3] : nil, scale: Double(scale), causal: causal)
        case let .windowAttention(heads, window, scale):
            return AttentionReference64.windowAttention(q: x[0], k: x[1], v: x[2], bias: x[3], heads: heads, window: window, scale: Double(scale))
        case let .resize(mode, height, width): return ResamplingReference64.resize(x[0], mode: mode, height: height, width: width)
        case let .reshape(shape): return LayoutReference64.reshape(x[0], to: shape)
        case let .permute(perm): return LayoutReference64.permute(x[0], perm)
        }
    }
}
