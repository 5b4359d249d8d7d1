import FusionCore

/// Builds the TextFusion graph for one image size and batch.
///
/// Inputs: `vis` and `ir` [N,1,H,W] in [0,1] (visible luminance, infrared), and
/// `head_ir` [N,48,3,3], each sample's prompt kernel (`TextFusionHead.infraredKernel`), so
/// one prepared graph serves every prompt. Output `fused` [N,1,H,W] in [0,1]. N = `batch`
/// (1 by default).
///
/// Batching: every op of the network works per sample along N (convs, the RLN statistics,
/// which are per sample, the window attention, pads and crops; the RLN's two tiny linears
/// run row by row, as BLAS may round an N-row GEMM differently), so sample i of a batch
/// equals a batch-1 run on pair i. The only per-sample weight is the prompt's head kernel:
/// for N > 1 the 48-channel infrared ReLU map [N,48,H,W] is viewed (a reshape, no copy) as
/// [1,N*48,H,W] and convolved with `head_ir` [N,48,3,3] as a grouped conv with N groups
/// (group i sees only sample i's channels and kernel), then viewed back as [N,1,H,W].
/// Memory: every intermediate and input grows N-fold, so a prepared batch-N plan holds N
/// times the batch-1 arena (`Executable.peakIntermediateBytes`); weights are held once.
///
/// Every intermediate has at most 24 channels at full resolution except the two 48-channel
/// MLP maps (which backends split into channel chunks when a binding limit requires): the
/// `QK` conv is split into separate Q and K convs for the same reason.
public enum TextFusionGraph {
    public static func build(_ w: TextFusionWeights, height: Int, width: Int, batch: Int = 1) throws -> Graph {
        guard height >= 8, width >= 8 else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "image is \(width)x\(height); the network needs at least 8x8")
        }
        guard batch >= 1 else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "batch \(batch) must be at least 1")
        }
        let g = Graph()
        let c = TextFusionWeights.channels
        let n = batch
        let vis = g.input("vis", shape: [n, 1, height, width])
        let ir = g.input("ir", shape: [n, 1, height, width])
        let headIR = g.input("head_ir", shape: [n, TextFusionWeights.hidden, 3, 3])

        // 1. Reflect-pad right and bottom to a multiple of 4.
        let hp = (height + 3) / 4 * 4, wp = (width + 3) / 4 * 4
        func padTo4(_ x: Value) throws -> Value {
            hp == height && wp == width ? x : try g.pad(x, top: 0, bottom: hp - height, left: 0, right: wp - width, mode: .reflect)
        }
        let reflect1 = Conv2DAttributes(padding: 1, paddingMode: .reflect)
        func const(_ t: Tensor, _ name: String) -> Value { g.constant(t, name: name) }

        // 2. Patch embeddings.
        var a = try g.scope("patch_embed") {
            try g.conv2d(padTo4(vis), weight: const(w.visible.embedWeight, "w"), bias: const(w.visible.embedBias, "b"), reflect1)
        }
        var b = try g.scope("patch_embed2") {
            try g.conv2d(padTo4(ir), weight: const(w.infrared.embedWeight, "w"), bias: const(w.infrared.embedBias, "b"), reflect1)
        }

        // 3. RLN: normalised input plus (rescale, rebias) from the global std and mean.
        func rln(_ x: Value, _ s: TextFusionWeights.Stream) throws -> (Value, Value, Value) {
            let normalised = try g.globalNorm(x, weight: const(s.normWeight, "weight"), bias: const(s.normBias, "bias"), eps: 1e-5)
            let stats = try g.globalStats(x, eps: 1e-5)                         // [N, 2] = (mean, std)
            let mean = try g.slice(stats, axis: 1, start: 0, length: 1)
            let std = try g.slice(stats, axis: 1, start: 1, length: 1)
            // Per sample in a batch (`perSample`), so each rounds as in a batch-1 run.
            let (w1, b1) = (const(s.rescaleWeight, "meta1.w"), const(s.rescaleBias, "meta1.b"))
            let (w2, b2) = (const(s.rebiasWeight, "meta2.w"), const(s.rebiasBias, "meta2.b"))
            let rescale = try g.reshape(g.perSample(std) { try g.linear($0, weight: w1, bias: b1) }, [n, c, 1, 1])
            let rebias = try g.reshape(g.perSample(mean) { try g.linear($0, weight: w2, bias: b2) }, [n, c, 1, 1])
            return (normalised, rescale, rebias)
        }
        let (an, rescaleA, rebiasA) = try g.scope("norm1") { try rln(a, w.visible) }
        let (bn, rescaleB, rebiasB) = try g.scope("ass_norm1") { try rln(b, w.infrared) }

        // Window attention on the visible stream (Q, K from `an`; V from `an`).
        let v = try g.scope("attn.V") { try g.conv2d(an, weight: const(w.visible.vWeight, "w"), bias: const(w.visible.vBias, "b")) }
        let aV = try g.scope("attn.ass_V") { try g.conv2d(bn, weight: const(w.infrared.vWeight, "w"), bias: const(w.infrared.vBias, "b")) }
        let attention = try g.scope("attn.window") { () -> Value in
            let q = try g.conv2d(an, weight: const(w.qWeight, "q.w"), bias: const(w.qBias, "q.b"))
            let k = try g.conv2d(an, weight: const(w.kWeight, "k.w"), bias: const(w.kBias, "k.b"))
            let window = TextFusionWeights.window
            let h8 = (hp + window - 1) / window * window, w8 = (wp + window - 1) / window * window
            func padTo8(_ x: Value) throws -> Value {
                h8 == hp && w8 == wp ? x : try g.pad(x, top: 0, bottom: h8 - hp, left: 0, right: w8 - wp, mode: .reflect)
            }
            let headDim = c / TextFusionWeights.heads
            let out = try g.windowAttention(q: padTo8(q), k: padTo8(k), v: padTo8(v), bias: const(w.attentionBias, "relative_position_bias"),
                                            heads: TextFusionWeights.heads, window: window, scale: 1 / Float(headDim).squareRoot())
            return h8 == hp && w8 == wp ? out : try g.crop(out, y: 0, x: 0, height: hp, width: wp)
        }
        let depthwise5 = Conv2DAttributes(padding: 2, groups: c, paddingMode: .reflect)
        func branch(_ x: Value, _ values: Value, _ s: TextFusionWeights.Stream, rescale: Value, rebias: Value) throws -> Value {
            let local = try g.conv2d(values, weight: const(s.convWeight, "conv.w"), bias: const(s.convBias, "conv.b"), depthwise5)
            let out = try g.conv2d(g.add(local, attention), weight: const(s.projWeight, "proj.w"), bias: const(s.projBias, "proj.b"))
            let y = try g.add(x, g.add(g.mul(out, rescale), rebias))
            let hidden = try g.relu(g.conv2d(y, weight: const(s.mlp1Weight, "mlp.0.w"), bias: const(s.mlp1Bias, "mlp.0.b")))
            return try g.add(y, g.conv2d(hidden, weight: const(s.mlp2Weight, "mlp.2.w"), bias: const(s.mlp2Bias, "mlp.2.b")))
        }
        a = try g.scope("block.visible") { try branch(a, v, w.visible, rescale: rescaleA, rebias: rebiasA) }
        // As published: the infrared stream adds the visible stream's attention output.
        b = try g.scope("block.infrared") { try branch(b, aV, w.infrared, rescale: rescaleB, rebias: rebiasB) }

        // 4-5. Text-conditioned head, folded: two 48->1 3x3 convs on the ReLU maps.
        let fused = try g.scope("head") { () -> Value in
            let rv = try g.relu(g.conv2d(a, weight: const(w.visible.textMLPWeight, "mlp_vis.0.w")))
            let ri = try g.relu(g.conv2d(b, weight: const(w.infrared.textMLPWeight, "mlp_ir.0.w")))
            let sv = try g.conv2d(rv, weight: const(TextFusionHead.visibleKernel(w), "head_vis"), reflect1)
            let si: Value
            if n == 1 {
                si = try g.conv2d(ri, weight: headIR, bias: const(Tensor(shape: [1], floats: [w.headBias]), "head_bias"), reflect1)
            } else {
                // Per-sample kernels: [N,48,H,W] as [1,N*48,H,W], N groups of 48 -> 1.
                let hidden = TextFusionWeights.hidden
                let grouped = Conv2DAttributes(padding: 1, groups: n, paddingMode: .reflect)
                let bias = const(Tensor(shape: [n], floats: [Float](repeating: w.headBias, count: n)), "head_bias")
                let y = try g.conv2d(g.reshape(ri, [1, n * hidden, hp, wp]), weight: headIR, bias: bias, grouped)
                si = try g.reshape(y, [n, 1, hp, wp])
            }
            let y = try g.scale(g.tanh(g.add(sv, si)), by: 0.5, shift: 0.5)
            return hp == height && wp == width ? y : try g.crop(y, y: 0, x: 0, height: height, width: width)
        }
        g.output("fused", fused)
        return g
    }
}
