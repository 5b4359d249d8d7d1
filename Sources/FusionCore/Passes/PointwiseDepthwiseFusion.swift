/// Fuses `[layerNormChannels ->] conv2d 1x1 -> conv2d depthwise` into one
/// `pointwiseDepthwise` node, the q/k/v projection of every Restormer block: the kernel
/// reads x once and writes only the depthwise output, so neither the LayerNorm output nor
/// the 1x1 output (each as large as x, or larger) is ever stored and read back.
///
/// Matches a depthwise conv2d (groups = channels = outputs, stride 1, dilation 1, zero
/// padding, kernel at most `maxKernel` on each side, padding below the kernel size, no bias,
/// no epilogue) whose input is a plain 1x1 conv2d (one group, stride 1, no padding, no bias,
/// no epilogue) that has no other consumer and is not a graph output. When the 1x1 reads a
/// `layerNormChannels` (no epilogue) the norm joins the node too (a norm without bias gets
/// a zero bias). The fused kernel recomputes the norm's per-pixel statistics itself, so a
/// norm read by several chains (Restormer's q, k and v) joins each of them; the norm node
/// stays only while something else (another op, a graph output) still reads it, and is
/// dropped here as soon as all its readers are fused.
enum PointwiseDepthwiseFusion {
    /// The largest depthwise kernel side fused (the GPU kernel's halo tile is sized for it).
    static let maxKernel = 5

    static func run(_ graph: Graph) throws -> Graph {
        let uses = graph.consumers()
        let producers = graph.producers()
        let outputs = Set(graph.outputs.map(\.value.id))

        // fused[depthwise node index] = (pointwise node, optional norm node).
        var fused: [Int: (pointwise: Node, norm: Node?)] = [:]
        var absorbed = Set<Int>()   // the 1x1 nodes that disappear into a fused node
        for dw in graph.nodes {
            guard isDepthwise(dw), let pw = producers[dw.inputs[0].id], isPointwise(pw),
                  !outputs.contains(pw.output.id), uses[pw.output.id]?.count == 1,
                  !dw.inputs.dropFirst().contains(pw.output) else { continue }
            var norm: Node?
            if let n = producers[pw.inputs[0].id], case .layerNormChannels = n.op, n.epilogue.isEmpty,
               n.output.dtype == .f32, n.inputs[0].dtype == .f32 {
                norm = n
            }
            fused[dw.index] = (pw, norm)
            absorbed.insert(pw.index)
        }
        guard !fused.isEmpty else { return graph.marking(.pointwiseDepthwiseFusion) }

        // Norms every reader of which is fused (and not a graph output) disappear.
        let fusedReaders = Set(absorbed)
        var deadNorms = Set<Int>()
        for (_, chain) in fused {
            guard let norm = chain.norm, !outputs.contains(norm.output.id),
                  uses[norm.output.id]!.allSatisfy({ fusedReaders.contains($0.index) }) else { continue }
            deadNorms.insert(norm.index)
        }

        let rewriter = GraphRewriter(graph)
        var zeroBias: [Int: Value] = [:]   // per norm without bias
        for node in graph.nodes {
            if absorbed.contains(node.index) || deadNorms.contains(node.index) { continue }
            guard let chain = fused[node.index], case let .conv2d(attributes) = node.op else {
                try rewriter.copy(node)
                continue
            }
            var inputs: [Value]
            var eps: Float?
            if let norm = chain.norm, case let .layerNormChannels(e) = norm.op {
                eps = e
                let c = norm.inputs[0].shape[1]
                let bias: Value
                if norm.baseInputCount > 2 {
                    bias = rewriter.value(norm.inputs[2])
                } else if let made = zeroBias[norm.index] {
                    bias = made
                } else {
                    bias = rewriter.constant(Tensor(shape: [c]), name: "\(norm.name).zero_bias")
                    zeroBias[norm.index] = bias
                }
                inputs = [rewriter.value(norm.inputs[0]), rewriter.value(norm.inputs[1]), bias]
            } else {
                inputs = [rewriter.value(chain.pointwise.inputs[0])]
            }
            inputs += [rewriter.value(chain.pointwise.inputs[1]), rewriter.value(node.inputs[1])]
            var depthwise = attributes
            depthwise.paddingMode = .zero   // same thing without padding (isDepthwise)
            try rewriter.add(.pointwiseDepthwise(normEps: eps, depthwise: depthwise), inputs,
                             name: node.name, replacing: node.output)
        }
        return rewriter.finish(applied: [.pointwiseDepthwiseFusion])
    }

    /// A conv2d 1x1, one group, stride 1, no padding, no bias, no epilogue, on f32 rank-4 x.
    private static func isPointwise(_ node: Node) -> Bool {
        guard case let .conv2d(a) = node.op, node.epilogue.isEmpty, node.inputs.count == 2,
              a.groups == 1, a.stride == (1, 1), a.padding == (0, 0, 0, 0), a.dilation == (1, 1),
              node.inputs[1].shape.count == 4, node.inputs[1].shape[2] == 1, node.inputs[1].shape[3] == 1,
              node.inputs.allSatisfy({ $0.dtype == .f32 }) else { return false }
        return true
    }

    /// A depthwise conv2d the fused kernel covers (see the type's comment).
    private static func isDepthwise(_ node: Node) -> Bool {
        guard case let .conv2d(a) = node.op, node.epilogue.isEmpty, node.inputs.count == 2,
              node.inputs.allSatisfy({ $0.dtype == .f32 }) else { return false }
        let x = node.inputs[0].shape, w = node.inputs[1].shape
        guard x.count == 4, w.count == 4, a.groups == x[1], w[0] == x[1], w[1] == 1,
              a.stride == (1, 1), a.dilation == (1, 1),
              w[2] <= maxKernel, w[3] <= maxKernel else { return false }
        let p = [a.padding.0, a.padding.1, a.padding.2, a.padding.3]
        guard a.paddingMode == .zero || p.allSatisfy({ $0 == 0 }) else { return false }
        return a.padding.0 < w[2] && a.padding.1 < w[2] && a.padding.2 < w[3] && a.padding.3 < w[3]
    }
}
