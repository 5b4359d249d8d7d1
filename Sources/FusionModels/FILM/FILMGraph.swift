import FusionCore

/// Builds IF-FILM (`net/Film.py`) as a graph for one image size and one text length.
///
/// Inputs: `ir` and `vis` [1,1,H,W] grey in [0,1] (A = infrared, B = visible, called as
/// `model(ir, vis, text)`), `text` [1,L,textDim] (BLIP-2 token features, L >= 1). Output
/// `fused` [1,1,H,W], the raw sigmoid output. Any H, W >= 1. A `batch` of N takes [N, ...]
/// inputs and runs the samples one after another in the graph.
///
/// The cross attention (`restormer_cablock`): the image features are nearest-resized to the
/// fixed 288x384 grid (PyTorch's legacy index rule) and the raw NCHW buffer is *viewed* as
/// 13,824 tokens of 256 (a reshape: no data moves); the L text tokens attend over them with
/// the attention op (never materialising L x 13,824 scores; its K/V are 14 MB at any image
/// size); the mean over the L tokens is a matmul by a constant row with alpha 1/L; the L1
/// normalisation is `w / max(sum(relu(w) + relu(-w)), 1e-12)` from existing ops.
///
/// Band tiling (`bandBytes`): the only tensors much larger than a 64-channel activation are
/// the gated FFN's hidden halves (4C channels each). The FFN is local per pixel (LayerNorm,
/// 1x1, depthwise 3x3, gate, 1x1), so it runs over row bands whose hidden tensor is at most
/// `bandBytes`, each band reading one halo row of its neighbours; the result equals the
/// unbanded graph (the same arithmetic per pixel). Every other tensor is at most C x H x W
/// with C <= 64 (78 MB at 480x640), within a 128 MiB binding. nil never bands.
public enum FILMGraph {
    /// Bands the FFN hidden tensors so each is at most this (what the model runs with).
    public static let defaultBandBytes = 32 << 20

    public static func build(_ w: FILMWeights, height: Int, width: Int, textTokens: Int, bandBytes: Int? = defaultBandBytes,
                             batch: Int = 1) throws -> Graph {
        guard height >= 1, width >= 1 else {
            throw FusionError.invalidArgument(op: "IF-FILM", detail: "input is \(width)x\(height); both sides must be at least 1")
        }
        guard textTokens >= 1 else {
            throw FusionError.invalidArgument(op: "IF-FILM", detail: "the text has \(textTokens) tokens; IF-FILM needs at least one")
        }
        guard batch >= 1 else { throw FusionError.invalidArgument(op: "IF-FILM", detail: "batch \(batch) must be at least 1") }
        let g = Graph()
        let ir = g.input("ir", shape: [batch, 1, height, width])
        let vis = g.input("vis", shape: [batch, 1, height, width])
        let text = g.input("text", shape: [batch, textTokens, w.textDimension])
        let b = FILMBuilder(g: g, w: w, height: height, width: width, tokens: textTokens, bandBytes: bandBytes)
        // A batch runs sample by sample (the cross attention's token view is per sample), so
        // each output equals its batch-1 run.
        var outputs: [Value] = []
        for i in 0..<batch {
            func sample(_ v: Value) throws -> Value { batch == 1 ? v : try g.slice(v, axis: 0, start: i, length: 1) }
            outputs.append(batch == 1 ? try b.network(ir: ir, vis: vis, text: text)
                : try g.scope("sample\(i)") { try b.network(ir: sample(ir), vis: sample(vis), text: sample(text)) })
        }
        g.output("fused", outputs.count == 1 ? outputs[0] : try g.concat(outputs, axis: 0))
        return g
    }
}

struct FILMBuilder {
    let g: Graph
    let w: FILMWeights
    let height: Int, width: Int
    let tokens: Int
    let bandBytes: Int?

    func const(_ t: Tensor, _ name: String) -> Value { g.constant(t, name: name) }
    func prelu(_ x: Value, _ slope: Float) throws -> Value {
        let c = x.shape[1]
        return try g.prelu(x, slope: const(Tensor(shape: [c], floats: [Float](repeating: slope, count: c)), "prelu"))
    }

    /// Row bands of at most `bandBytes` for a `channels`-channel tensor of this size.
    func bands(channels: Int) -> [Int] {
        guard let bandBytes, channels * height * width * 4 > bandBytes else { return [height] }
        let r = max(1, bandBytes / (channels * width * 4))
        var rows: [Int] = [], left = height
        while left > 0 { rows.append(min(r, left)); left -= r }
        return rows
    }

    /// Restormer `TransformerBlock` (transposed channel attention, gated FFN).
    func restormer(_ x: Value, _ b: FILMWeights.Block) throws -> Value {
        let c = b.channels
        let h = try g.layerNormChannels(x, weight: const(b.norm1Weight, "norm1.w"), bias: const(b.norm1Bias, "norm1.b"), eps: 1e-5)
        let qkv = try (0..<3).map { i in
            try g.conv2d(g.conv2d(h, weight: const(b.qkvWeight[i], "qkv\(i)")), weight: const(b.qkvDepthwise[i], "qkv_dw\(i)"),
                         Conv2DAttributes(padding: 1, groups: c))
        }
        let a = try g.channelAttention(q: qkv[0], k: qkv[1], v: qkv[2], temperature: const(b.temperature, "temperature"), heads: b.heads)
        let y = try g.add(x, g.conv2d(a, weight: const(b.projectOut, "project_out")))

        // Gated FFN, band by band (one halo row from each neighbour for the depthwise 3x3).
        let norm2 = (const(b.norm2Weight, "norm2.w"), const(b.norm2Bias, "norm2.b"))
        let ffnIn = b.ffnIn.enumerated().map { const($0.element, "ffn.in\($0.offset)") }
        let ffnDW = b.ffnDepthwise.enumerated().map { const($0.element, "ffn.dw\($0.offset)") }
        let ffnOut = const(b.ffnOut, "ffn.out")
        let rows = bands(channels: b.hidden)
        var pieces: [Value] = []
        var r0 = 0
        for n in rows {
            let lo = max(0, r0 - 1), hi = min(height, r0 + n + 1)
            let ext = rows.count == 1 ? y : try g.slice(y, axis: 2, start: lo, length: hi - lo)
            let hn = try g.layerNormChannels(ext, weight: norm2.0, bias: norm2.1, eps: 1e-5)
            let attributes = Conv2DAttributes(stride: (1, 1), padding: (r0 == 0 ? 1 : 0, r0 + n == height ? 1 : 0, 1, 1), groups: b.hidden)
            let x1 = try g.conv2d(g.conv2d(hn, weight: ffnIn[0]), weight: ffnDW[0], attributes)
            let x2 = try g.conv2d(g.conv2d(hn, weight: ffnIn[1]), weight: ffnDW[1], attributes)
            let f = try g.conv2d(g.mul(g.gelu(x1), x2), weight: ffnOut)
            let yBand = rows.count == 1 ? y : try g.slice(y, axis: 2, start: r0, length: n)
            pieces.append(try g.add(yBand, f))
            r0 += n
        }
        return pieces.count == 1 ? pieces[0] : try g.concat(pieces, axis: 2)
    }

    /// One stream of a `restormer_cablock`: features, text-guided modulation, fusion conv.
    func stream(_ x: Value, _ s: FILMWeights.Stream, text t: Value) throws -> Value {
        let hidden = w.hiddenDimension, heads = w.attentionHeads, d = hidden / heads
        let n = w.imageTokens, grid = FILMWeights.tokenGrid
        let f = try g.scope("restormer") {
            try restormer(prelu(g.conv2d(x, weight: const(s.conv1, "conv1"), Conv2DAttributes(padding: 1)), s.prelu1), s.restormer)
        }
        // imagefeature2textfeature: 1x1, nearest to 288x384, the raw buffer as n x hidden tokens.
        let tokensImage = try g.resize(g.conv2d(f, weight: const(s.image2text.weight, "i2t.w"), bias: const(s.image2text.bias, "i2t.b")),
                                       mode: .nearest, height: grid.height, width: grid.width)
        let imageTokens = try g.reshape(tokensImage, [1, n, hidden])
        let weights = try g.scope("cross_attention") { () -> Value in
            let a = s.attention
            func headsOf(_ v: Value, _ count: Int) throws -> Value { try g.permute(g.reshape(v, [1, count, heads, d]), [0, 2, 1, 3]) }
            let q = try headsOf(g.linear(t, weight: const(a.weight[0], "wq"), bias: const(a.bias[0], "bq")), tokens)
            let k = try headsOf(g.linear(imageTokens, weight: const(a.weight[1], "wk"), bias: const(a.bias[1], "bk")), n)
            let v = try headsOf(g.linear(imageTokens, weight: const(a.weight[2], "wv"), bias: const(a.bias[2], "bv")), n)
            let o = try g.reshape(g.permute(g.attention(q: q, k: k, v: v, scale: 1 / Float(d).squareRoot()), [0, 2, 1, 3]), [1, tokens, hidden])
            let attended = try g.linear(o, weight: const(a.outWeight, "out.w"), bias: const(a.outBias, "out.b"))
            // Mean over the L tokens, then F.normalize(p=1): w / max(sum |w|, 1e-12).
            let mean = try g.matmul(const(Tensor(shape: [1, 1, tokens], floats: [Float](repeating: 1, count: tokens)), "ones_l"), attended,
                                    alpha: 1 / Float(tokens))
            let absolute = try g.add(g.relu(mean), g.relu(g.scale(mean, by: -1)))
            let sum = try g.matmul(absolute, const(Tensor(shape: [1, hidden, 1], floats: [Float](repeating: 1, count: hidden)), "ones_hidden"))
            let norm = try g.scale(g.relu(g.scale(sum, by: 1, shift: -1e-12)), by: 1, shift: 1e-12)
            return try g.div(mean, norm)
        }
        // The weighted tokens viewed back as the grid, nearest-resized to the image.
        let modulated = try g.resize(g.reshape(g.mul(imageTokens, weights), [1, w.image2textChannels, grid.height, grid.width]),
                                     mode: .nearest, height: height, width: width)
        let side = try g.add(prelu(g.conv2d(modulated, weight: const(s.conv2.weight, "conv2.w"), bias: const(s.conv2.bias, "conv2.b")), s.prelu2), f)
        return try prelu(g.conv2d(g.concat([f, side], axis: 1), weight: const(s.conv3.weight, "conv3.w"), bias: const(s.conv3.bias, "conv3.b")), s.prelu3)
    }

    func network(ir: Value, vis: Value, text: Value) throws -> Value {
        let t = try g.scope("text_process") {
            try g.linear(text, weight: const(w.textWeight, "w"), bias: const(w.textBias, "b"))
        }
        var a = ir, b = vis
        for (k, block) in w.blocks.enumerated() {
            (a, b) = try g.scope("restormerca\(k + 1)") {
                (try g.scope("A") { try stream(a, block.a, text: t) }, try g.scope("B") { try stream(b, block.b, text: t) })
            }
        }
        var x = try g.scope("restormer1") { try restormer(g.concat([a, b], axis: 1), w.restormer1) }
        x = try g.conv2d(x, weight: const(w.conv1.weight, "conv1.w"), bias: const(w.conv1.bias, "conv1.b"))
        x = try g.scope("restormer2") { try restormer(x, w.restormer2) }
        x = try g.scope("restormer3") { try restormer(x, w.restormer3) }
        return try g.sigmoid(g.conv2d(x, weight: const(w.conv2.weight, "conv2.w"), bias: const(w.conv2.bias, "conv2.b")))
    }
}
