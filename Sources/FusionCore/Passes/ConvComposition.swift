/// Composes a 1x1 convolution into the full convolution that alone reads its result.
///
/// Two linear maps with nothing between them are one: for `y = conv1x1(x, A)` (A [K,I])
/// and `z = conv(y, B)` (B [O,K,kh,kw], one group), `z = conv(x, C)` with
/// `C[o,i,u,v] = sum_k B[o,k,u,v] A[k,i]`. It is exact at the border as well: the second
/// conv pads y with zeros, and a 1x1 conv without bias maps x's zero padding to zeros
/// (reflect padding commutes with any per-pixel map, so there a bias of A folds into the
/// bias of the result). The K-channel intermediate is never written or read again
/// (Text-IF's FFN: 96 -> 192 by 1x1, then a 3x3 192 -> 192, becomes one 3x3 96 -> 192,
/// which also halves its multiplications). The pass composes only where the result has
/// no more multiply-adds than the two convs had.
///
/// C is a weight-only subgraph (permute, matmul, permute), so constant folding, which runs
/// next, computes it once at prepare time on the backend that runs the graph; a pair of
/// weights shared by several convs (band tiling) is composed once.
enum ConvComposition {
    static func run(_ graph: Graph) throws -> Graph {
        let uses = graph.consumers()
        let producers = graph.producers()
        let outputs = Set(graph.outputs.map(\.value.id))
        func isConstant(_ v: Value) -> Bool {
            if case .constant = graph.info(v).kind { return v.dtype == .f32 }
            return false
        }

        // The second conv's node index -> the 1x1 conv it absorbs.
        var absorbs: [Int: Node] = [:]
        for node in graph.nodes {
            guard case let .conv2d(b) = node.op, b.groups == 1, node.inputs[1].rank == 4, isConstant(node.inputs[1]),
                  node.baseInputCount == 2 || isConstant(node.inputs[2]),
                  let first = producers[node.inputs[0].id], !outputs.contains(first.output.id),
                  uses[first.output.id]?.count == 1, node.inputs.filter({ $0 == first.output }).count == 1,
                  composable(first, into: b, isConstant: isConstant),
                  cheaper(first, node) else { continue }
            absorbs[node.index] = first
        }
        guard !absorbs.isEmpty else { return graph.marking(.convComposition) }
        let absorbed = Set(absorbs.values.map(\.index))

        let rewriter = GraphRewriter(graph)
        let t = rewriter.target
        var composed: [[Int]: (weight: Value, bias: Value?)] = [:]
        for node in graph.nodes {
            if absorbed.contains(node.index) { continue }
            guard let first = absorbs[node.index], case let .conv2d(attributes) = node.op else { try rewriter.copy(node); continue }
            let a = first.inputs[1], b = node.inputs[1]
            let key = [a.id, b.id, first.baseInputCount > 2 ? first.inputs[2].id : -1, node.baseInputCount > 2 ? node.inputs[2].id : -1]
            if composed[key] == nil {
                composed[key] = try composeWeights(a: rewriter.value(a), b: rewriter.value(b),
                                                   firstBias: first.baseInputCount > 2 ? rewriter.value(first.inputs[2]) : nil,
                                                   secondBias: node.baseInputCount > 2 ? rewriter.value(node.inputs[2]) : nil,
                                                   in: t, name: node.name)
            }
            let (weight, bias) = composed[key]!
            let inputs = [rewriter.value(first.inputs[0]), weight] + (bias.map { [$0] } ?? []) + node.epilogueOperands.map(rewriter.value)
            try rewriter.add(.conv2d(attributes), inputs, epilogue: node.epilogue, name: node.name, replacing: node.output)
        }
        return rewriter.finish(applied: [.convComposition])
    }

    /// A plain 1x1 conv (stride 1, no padding, one group, constant weight, no epilogue)
    /// whose bias, if any, survives `second`'s padding.
    private static func composable(_ first: Node, into second: Conv2DAttributes, isConstant: (Value) -> Bool) -> Bool {
        guard case let .conv2d(a) = first.op, first.epilogue.isEmpty, a.groups == 1, a.stride == (1, 1),
              a.padding == (0, 0, 0, 0), a.dilation == (1, 1), isConstant(first.inputs[1]),
              first.inputs[1].shape.count == 4, first.inputs[1].shape[2] == 1, first.inputs[1].shape[3] == 1 else { return false }
        if first.baseInputCount > 2 {
            // Zero padding of A x + bias is not A (zero-padded x) + bias.
            let padded = second.padding != (0, 0, 0, 0)
            return isConstant(first.inputs[2]) && (!padded || second.paddingMode == .reflect)
        }
        return true
    }

    /// Whether one conv with the composed weight does no more multiply-adds than the two.
    private static func cheaper(_ first: Node, _ second: Node) -> Bool {
        let x = first.inputs[0].shape, w = second.inputs[1].shape, z = second.output.shape
        let k = first.output.shape[1], i = x[1], o = w[0], taps = w[2] * w[3]
        let before = k * i * x[2] * x[3] + o * k * taps * z[2] * z[3]
        let after = o * i * taps * z[2] * z[3]
        return after <= before
    }

    /// C = B (x) A as graph nodes on constants; with A's bias a (reflect padding only), the
    /// bias gains `sum_{k,u,v} B[o,k,u,v] a[k]`.
    private static func composeWeights(a: Value, b: Value, firstBias: Value?, secondBias: Value?,
                                       in t: Graph, name: String) throws -> (Value, Value?) {
        let (o, k, kh, kw) = (b.shape[0], b.shape[1], b.shape[2], b.shape[3]), i = a.shape[1]
        let bRows = try t.add(.reshape(shape: [o * kh * kw, k]), [try t.add(.permute([0, 2, 3, 1]), [b], name: "\(name).composed", exactName: true)],
                              name: "\(name).composed", exactName: true)
        let aMatrix = try t.add(.reshape(shape: [k, i]), [a], name: "\(name).composed", exactName: true)
        let product = try t.add(.matmul(transposeA: false, transposeB: false, alpha: 1), [bRows, aMatrix], name: "\(name).composed", exactName: true)
        let weight = try t.add(.permute([0, 3, 1, 2]), [try t.add(.reshape(shape: [o, kh, kw, i]), [product], name: "\(name).composed", exactName: true)],
                               name: "\(name).composed_weight", exactName: true)
        guard let firstBias else { return (weight, secondBias) }
        // Sum B over its taps: [O, K], times a [K, 1].
        let tapSums = try t.add(.matmul(transposeA: false, transposeB: false, alpha: 1),
                                [try t.add(.reshape(shape: [o, k, kh * kw]), [b], name: "\(name).composed", exactName: true),
                                 t.constant(Tensor(shape: [kh * kw, 1], floats: [Float](repeating: 1, count: kh * kw)), name: "\(name).ones")],
                                name: "\(name).composed", exactName: true)
        let carried = try t.add(.reshape(shape: [o]), [try t.add(.matmul(transposeA: false, transposeB: false, alpha: 1),
                                                                  [try t.add(.reshape(shape: [o, k]), [tapSums], name: "\(name).composed", exactName: true),
                                                                   try t.add(.reshape(shape: [k, 1]), [firstBias], name: "\(name).composed", exactName: true)],
                                                                  name: "\(name).composed", exactName: true)],
                                name: "\(name).composed", exactName: true)
        guard let secondBias else { return (weight, carried) }
        return (weight, try t.add(.binary(.add), [secondBias, carried], name: "\(name).composed_bias", exactName: true))
    }
}
