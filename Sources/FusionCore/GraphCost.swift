/// Arithmetic cost of a graph: floating-point operations per op (a multiply-add counts as
/// two), so benchmarks can report GFLOP/s and a model's size in operations.
///
/// Counts follow the usual conventions: conv and matmul count 2·MACs (plus one per output
/// for a bias); attention counts both products and ~5 operations per score for softmax;
/// elementwise ops one per output element; normalisations ~5 per element.
public enum GraphCost {
    /// The op's FLOP plus one per output element and epilogue step (as the unfused nodes
    /// counted them), so a fused graph does the same counted work as the graph as built.
    public static func flops(of node: Node) -> Double {
        opFlops(node) + Double(node.epilogue.steps.count) * Double(node.output.count)
    }

    private static func opFlops(_ node: Node) -> Double {
        let out = Double(node.output.count)
        let shapes = node.baseInputs.map(\.shape)
        let hasBias = node.baseInputCount > 2
        switch node.op {
        case .conv2d:
            let w = shapes[1]
            let perOutput = Double(w[1] * w[2] * w[3])
            return out * (2 * perOutput + (hasBias ? 1 : 0))
        case .convTranspose2d:
            // Every input pixel times every weight of its group (the taps that land on the
            // padding included: both backends compute them), plus the bias per output.
            let x = shapes[0], w = shapes[1]
            let macs = Double(x[0] * x[2] * x[3]) * Double(w[0] * w[1] * w[2] * w[3])
            return 2 * macs + (hasBias ? out : 0)
        case .pointwiseDepthwise:
            // What the unfused chain counts: the norm (5 per input element), the 1x1 over
            // every input pixel, then the depthwise taps.
            let x = shapes[0], pw = shapes[shapes.count - 2], dw = shapes[shapes.count - 1]
            let pixelsIn = Double(x[0] * x[2] * x[3])
            let norm = shapes.count == 5 ? 5 * Double(x.reduce(1, *)) : 0
            return norm + pixelsIn * Double(pw[0]) * 2 * Double(pw[1]) + out * 2 * Double(dw[2] * dw[3])
        case let .matmul(transposeA, _, _):
            let a = shapes[0]
            let k = Double(transposeA ? a[a.count - 2] : a[a.count - 1])
            return out * 2 * k
        case .linear:
            let k = Double(shapes[0].last ?? 1)
            return out * (2 * k + (hasBias ? 1 : 0))
        case .attention:
            let q = shapes[0], k = shapes[1], v = shapes[2]
            let batchHeads = Double(q[0] * q[1]), nq = Double(q[2]), nk = Double(k[2]), d = Double(q[3]), dv = Double(v[3])
            return batchHeads * nq * nk * (2 * d + 5 + 2 * dv)
        case let .windowAttention(heads, window, _):
            let q = shapes[0], v = shapes[2]
            let tokens = Double(window * window)
            let windows = Double(q[0]) * Double(q[2] / window) * Double(q[3] / window)
            let d = Double(q[1] / heads), dv = Double(v[1] / heads)
            return windows * Double(heads) * tokens * tokens * (2 * d + 6 + 2 * dv)
        case let .channelAttention(heads):
            // Norms of q and k, then per head a (C/h x HW)(HW x C/h) product and the
            // (C/h x C/h)(C/h x HW) application: 2 * C * (C/h) * HW each.
            let q = shapes[0]
            let c = Double(q[1]), hw = Double(q[2] * q[3]), n = Double(q[0])
            let perHead = c / Double(max(heads, 1))
            return n * (4 * c * hw + 2 * c * perHead * hw + 2 * c * perHead * hw)
        case .layerNormChannels, .layerNorm, .groupNorm, .globalNorm, .softmax:
            return 5 * out
        case .globalStats:
            return 3 * Double(shapes[0].reduce(1, *))
        case .globalPool, .channelReduce:
            return Double(shapes[0].reduce(1, *))
        case .unary, .binary, .film, .prelu, .resize:
            return out
        case .pixelShuffle, .pixelUnshuffle, .concat, .slice, .pad, .crop, .embedding, .reshape, .permute:
            return 0
        }
    }

    /// Total FLOPs of every node.
    public static func flops(_ graph: Graph) -> Double {
        graph.nodes.reduce(0) { $0 + flops(of: $1) }
    }
}
