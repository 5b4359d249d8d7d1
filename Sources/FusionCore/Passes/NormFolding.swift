/// Folds a `globalNorm` whose every consumer is a plain 1x1 convolution into those convs.
///
/// With the norm `y = (x - m) / s * g + b` (per sample m and s, per channel g and b), a
/// 1x1 conv `z = W y + bias` equals `(W' x - m r) / s + b'` where `W' = W diag(g)`,
/// `r = W' 1` and `b' = W b + bias`: the conv reads x instead of y, the norm's pass over
/// memory (read x, write y) disappears, and what is left per sample is a `globalStats` node
/// (reused when the graph already has one on x) and a few tiny nodes making `m r` and `s`.
/// The epilogue `- m r, / s, + b'` runs on the conv's result.
enum NormFolding {
    static func run(_ graph: Graph) throws -> Graph {
        let uses = graph.consumers()
        let outputs = Set(graph.outputs.map(\.value.id))
        func constant(_ v: Value) -> Tensor? {
            if case let .constant(t) = graph.info(v).kind, t.dtype == .f32 { return t }
            return nil
        }

        var folds: [Int: Node] = [:]   // norm node index -> the norm
        for norm in graph.nodes {
            guard case .globalNorm = norm.op, norm.epilogue.isEmpty, norm.inputs[0].rank == 4,
                  !outputs.contains(norm.output.id), let consumers = uses[norm.output.id], !consumers.isEmpty,
                  constant(norm.inputs[1]) != nil, constant(norm.inputs[2]) != nil,
                  consumers.allSatisfy({ foldableConv($0, reading: norm.output, constant: constant) }) else { continue }
            folds[norm.index] = norm
        }
        guard !folds.isEmpty else { return graph.marking(.normFolding) }

        // The convs reading a folded norm, by node index -> that norm.
        var convNorm: [Int: Node] = [:]
        for norm in folds.values { for c in uses[norm.output.id]! { convNorm[c.index] = norm } }
        // An existing globalStats of the same x and eps, by norm index.
        var existingStats: [Int: Node] = [:]
        for norm in folds.values {
            guard case let .globalNorm(eps) = norm.op else { continue }
            existingStats[norm.index] = uses[norm.inputs[0].id]?.first { n in
                if case let .globalStats(e) = n.op, e == eps, n.epilogue.isEmpty { return true }
                return false
            }
        }

        let rewriter = GraphRewriter(graph)
        // Per norm: (mean [N,1,1,1], std [N,1,1,1]) made once, at the first folded conv.
        var made: [Int: (mean: Value, std: Value)] = [:]
        func statistics(of norm: Node) throws -> (mean: Value, std: Value) {
            if let m = made[norm.index] { return m }
            guard case let .globalNorm(eps) = norm.op else { preconditionFailure() }
            let x = rewriter.value(norm.inputs[0])
            let n = norm.inputs[0].shape[0]
            let stats: Value
            if let existing = existingStats[norm.index], rewriter.has(existing.output) {
                stats = rewriter.value(existing.output)
            } else {
                stats = try rewriter.target.add(.globalStats(eps: eps), [x], name: "\(norm.name).stats", exactName: true)
            }
            let t = rewriter.target
            let mean = try t.add(.reshape(shape: [n, 1, 1, 1]), [try t.add(.slice(axis: 1, start: 0, length: 1), [stats], name: "\(norm.name).mean", exactName: true)], name: "\(norm.name).mean", exactName: true)
            let std = try t.add(.reshape(shape: [n, 1, 1, 1]), [try t.add(.slice(axis: 1, start: 1, length: 1), [stats], name: "\(norm.name).std", exactName: true)], name: "\(norm.name).std", exactName: true)
            made[norm.index] = (mean, std)
            return (mean, std)
        }

        for node in graph.nodes {
            if folds[node.index] != nil { continue }   // the norm itself: gone
            guard let norm = convNorm[node.index] else { try rewriter.copy(node); continue }
            let w = constant(node.inputs[1])!, g = constant(norm.inputs[1])!, b = constant(norm.inputs[2])!
            let bias = node.baseInputCount > 2 ? constant(node.inputs[2]) : nil
            let o = w.shape[0], c = w.shape[1]
            let wf = w.floats, gf = g.floats, bf = b.floats
            let folded = Tensor(shape: w.shape), r = Tensor(shape: [1, o, 1, 1]), shift = Tensor(shape: [1, o, 1, 1])
            let ff = folded.floats, rf = r.floats, sf = shift.floats
            for oi in 0..<o {
                var rowSum = 0.0, biasSum = Double(bias?.floats[oi] ?? 0)
                for ci in 0..<c {
                    let wv = wf[oi * c + ci]
                    ff[oi * c + ci] = wv * gf[ci]
                    rowSum += Double(ff[oi * c + ci])
                    biasSum += Double(wv) * Double(bf[ci])
                }
                rf[oi] = Float(rowSum)
                sf[oi] = Float(biasSum)
            }
            let (mean, std) = try statistics(of: norm)
            let t = rewriter.target
            let meanR = try t.add(.binary(.mul), [mean, t.constant(r, name: "\(node.name).row_sums")], name: "\(node.name).mean_r", exactName: true)
            let epilogue = Epilogue([.binary(.sub, operandFirst: false), .binary(.div, operandFirst: false), .binary(.add, operandFirst: false)] + node.epilogue.steps)
            let inputs = [rewriter.value(norm.inputs[0]), t.constant(folded, name: "\(node.name).weight_folded"),
                          meanR, std, t.constant(shift, name: "\(node.name).bias_folded")] + node.epilogueOperands.map(rewriter.value)
            try rewriter.add(node.op, inputs, epilogue: epilogue, name: node.name, replacing: node.output)
        }
        return rewriter.finish(applied: [.normFolding])
    }

    /// A conv2d 1x1, stride 1, no padding, one group, constant weights, reading `y` as its x only.
    private static func foldableConv(_ node: Node, reading y: Value, constant: (Value) -> Tensor?) -> Bool {
        guard case let .conv2d(a) = node.op, node.inputs[0] == y, node.inputs.filter({ $0 == y }).count == 1,
              a.groups == 1, a.stride == (1, 1), a.padding == (0, 0, 0, 0), a.dilation == (1, 1),
              let w = constant(node.inputs[1]), w.shape.count == 4, w.shape[2] == 1, w.shape[3] == 1 else { return false }
        if node.baseInputCount > 2, constant(node.inputs[2]) == nil { return false }
        return true
    }
}
