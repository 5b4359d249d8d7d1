import FusionCore

/// Builds Text-IF (`model/Text_IF_model.py`) as a graph for one input size.
///
/// Inputs: `vis` and `ir` [1,3,H,W] in [0,1] (the infrared grey replicated to 3 channels),
/// H and W multiples of 8; `text` [1,512], the CLIP text feature. Output `fused` [1,3,H,W],
/// the raw network output.
///
/// The packed q/k/v 1x1 convs (and their depthwise 3x3) are built as three convs each, so
/// no 3C-channel tensor exists at full resolution, and the full spatial attentions at 1/8
/// resolution use the attention op, which never materialises the N x N matrix.
public enum TextIFGraph {
    static func checkSize(_ height: Int, _ width: Int) throws {
        guard height >= 8, width >= 8, height % 8 == 0, width % 8 == 0 else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "input is \(width)x\(height); the network needs both sides to be multiples of 8 (pad or resize first)")
        }
    }

    /// The whole network in one graph (inputs `vis`, `ir`, `text`; output `fused`).
    public static func build(_ w: TextIFWeights, height: Int, width: Int) throws -> Graph {
        try checkSize(height, width)
        let g = Graph()
        let vis = g.input("vis", shape: [1, 3, height, width])
        let ir = g.input("ir", shape: [1, 3, height, width])
        let text = g.input("text", shape: [1, w.guidance[0].w1.shape[1]])
        let parts = Parts(g: g, w: w)
        let a = try parts.encoder(vis, w.encoderA, "encoder_A")
        let b = try parts.encoder(ir, w.encoderB, "encoder_B")
        g.output("fused", try parts.decoder(a: a, b: b, text: text, height: height, width: width))
        return g
    }

    /// The two encoders alone (they do not depend on the text): outputs `a1...a4`, `b1...b4`.
    public static func buildEncoders(_ w: TextIFWeights, height: Int, width: Int) throws -> Graph {
        try checkSize(height, width)
        let g = Graph()
        let parts = Parts(g: g, w: w)
        let a = try parts.encoder(g.input("vis", shape: [1, 3, height, width]), w.encoderA, "encoder_A")
        let b = try parts.encoder(g.input("ir", shape: [1, 3, height, width]), w.encoderB, "encoder_B")
        for k in 0..<4 {
            g.output("a\(k + 1)", a[k])
            g.output("b\(k + 1)", b[k])
        }
        return g
    }

    /// Shapes of the encoder features at level k (1...4).
    public static func featureShape(_ w: TextIFWeights, level k: Int, height: Int, width: Int) -> [Int] {
        [1, w.dim << (k - 1), height >> (k - 1), width >> (k - 1)]
    }

    /// Everything after the encoders: inputs `a1...a4`, `b1...b4`, `text`; output `fused`.
    public static func buildDecoder(_ w: TextIFWeights, height: Int, width: Int) throws -> Graph {
        try checkSize(height, width)
        let g = Graph()
        let a = (1...4).map { g.input("a\($0)", shape: featureShape(w, level: $0, height: height, width: width)) }
        let b = (1...4).map { g.input("b\($0)", shape: featureShape(w, level: $0, height: height, width: width)) }
        let text = g.input("text", shape: [1, w.guidance[0].w1.shape[1]])
        g.output("fused", try Parts(g: g, w: w).decoder(a: a, b: b, text: text, height: height, width: width))
        return g
    }
}

/// The network's pieces, added to one graph.
private struct Parts {
    let g: Graph
    let w: TextIFWeights

    func const(_ t: Tensor, _ name: String) -> Value { g.constant(t, name: name) }
    var same3: Conv2DAttributes { Conv2DAttributes(padding: 1) }

    func restormer(_ x: Value, _ b: TextIFWeights.Block) throws -> Value {
        let c = b.qkvWeight[0].shape[0]
        let h = try g.layerNormChannels(x, weight: const(b.norm1Weight, "norm1.w"), bias: const(b.norm1Bias, "norm1.b"), eps: 1e-5)
        let qkv = try (0..<3).map { i in
            try g.conv2d(g.conv2d(h, weight: const(b.qkvWeight[i], "qkv\(i)")), weight: const(b.qkvDepthwise[i], "qkv_dw\(i)"),
                         Conv2DAttributes(padding: 1, groups: c))
        }
        let a = try g.channelAttention(q: qkv[0], k: qkv[1], v: qkv[2], temperature: const(b.temperature, "temperature"), heads: b.heads)
        var y = try g.add(x, g.conv2d(a, weight: const(b.projectOut, "project_out")))
        let h2 = try g.layerNormChannels(y, weight: const(b.norm2Weight, "norm2.w"), bias: const(b.norm2Bias, "norm2.b"), eps: 1e-5)
        let f = try g.gelu(g.conv2d(g.conv2d(h2, weight: const(b.ffnIn, "ffn.in")), weight: const(b.ffnConv, "ffn.conv"), same3))
        y = try g.add(y, g.conv2d(f, weight: const(b.ffnOut, "ffn.out")))
        return y
    }

    func level(_ x: Value, _ blocks: [TextIFWeights.Block], _ name: String) throws -> Value {
        var y = x
        for (i, b) in blocks.enumerated() { y = try g.scope("\(name).\(i)") { try restormer(y, b) } }
        return y
    }

    /// Features e1...e4 of one encoder.
    func encoder(_ input: Value, _ e: TextIFWeights.Encoder, _ name: String) throws -> [Value] {
        try g.scope(name) {
            var x = try g.conv2d(input, weight: const(e.patchEmbed, "patch_embed"), same3)
            var features: [Value] = []
            for k in 0..<4 {
                if k > 0 { x = try g.pixelUnshuffle(g.conv2d(x, weight: const(e.downsample[k - 1], "down"), same3), factor: 2) }
                x = try level(x, e.levels[k], "level\(k + 1)")
                features.append(x)
            }
            return features
        }
    }

    func fuse(_ x: Value, _ y: Value, _ k: Int) throws -> Value {
        try g.scope("feature_fusion_\(k + 1)") { try g.conv2d(g.concat([x, y], axis: 1), weight: const(w.fusion[k], "fusion_proj")) }
    }

    /// FiLM from the text: `(1 + gamma) * x + beta`.
    func guide(_ x: Value, _ text: Value, _ k: Int) throws -> Value {
        try g.scope("prompt_guidance_\(k + 1)") {
            let p = w.guidance[k]
            let hidden = try g.leakyReLU(g.linear(text, weight: const(p.w1, "MLP.0.w"), bias: const(p.b1, "MLP.0.b")), slope: 0.01)
            let gb = try g.linear(hidden, weight: const(p.w2, "MLP.2.w"), bias: const(p.b2, "MLP.2.b"))
            let c = p.w2.shape[0] / 2
            return try g.film(x, gamma: g.slice(gb, axis: 1, start: 0, length: c), beta: g.slice(gb, axis: 1, start: c, length: c))
        }
    }

    func decoder(a: [Value], b: [Value], text: Value, height: Int, width: Int) throws -> Value {
        // Full spatial attention at 1/8: [1,C,h,w] <-> [1,1,N,C].
        let c4 = 8 * w.dim, h8 = height / 8, w8 = width / 8, n = h8 * w8
        func tokens(_ x: Value) throws -> Value { try g.permute(g.reshape(x, [1, 1, c4, n]), [0, 1, 3, 2]) }
        func image(_ x: Value) throws -> Value { try g.reshape(g.permute(x, [0, 1, 3, 2]), [1, c4, h8, w8]) }
        let scale = 1 / Float(c4).squareRoot()
        let (aPrime, bPrime) = try g.scope("cross_attention") { () -> (Value, Value) in
            let na = try g.groupNorm(a[3], groups: 16, weight: const(w.crossNormA.0, "norm_A.w"), bias: const(w.crossNormA.1, "norm_A.b"), eps: 1e-5)
            let nb = try g.groupNorm(b[3], groups: 16, weight: const(w.crossNormB.0, "norm_B.w"), bias: const(w.crossNormB.1, "norm_B.b"), eps: 1e-5)
            let qkvA = try w.crossQKVA.enumerated().map { try tokens(g.conv2d(na, weight: const($0.element, "qkv_A\($0.offset)"))) }
            let qkvB = try w.crossQKVB.enumerated().map { try tokens(g.conv2d(nb, weight: const($0.element, "qkv_B\($0.offset)"))) }
            // Queries from the other stream: A' attends from B's queries to A's keys and values.
            let attA = try image(g.attention(q: qkvB[0], k: qkvA[1], v: qkvA[2], scale: scale))
            let attB = try image(g.attention(q: qkvA[0], k: qkvB[1], v: qkvB[2], scale: scale))
            let outA = try g.add(g.conv2d(attA, weight: const(w.crossOutA.0, "out_A.w"), bias: const(w.crossOutA.1, "out_A.b")), na)
            let outB = try g.add(g.conv2d(attB, weight: const(w.crossOutB.0, "out_B.w"), bias: const(w.crossOutB.1, "out_B.b")), nb)
            return (outA, outB)
        }
        var x = try fuse(aPrime, bPrime, 3)
        x = try g.scope("attention_spatial") {
            let normed = try g.groupNorm(x, groups: 16, weight: const(w.spatialNorm.0, "norm.w"), bias: const(w.spatialNorm.1, "norm.b"), eps: 1e-5)
            let qkv = try w.spatialQKV.enumerated().map { try tokens(g.conv2d(normed, weight: const($0.element, "qkv\($0.offset)"))) }
            let att = try image(g.attention(q: qkv[0], k: qkv[1], v: qkv[2], scale: scale))
            return try g.add(g.conv2d(att, weight: const(w.spatialOut.0, "out.w"), bias: const(w.spatialOut.1, "out.b")), x)
        }
        x = try guide(x, text, 3)
        x = try level(x, w.decoder4, "decoder_level4")

        x = try guide(g.pixelShuffle(g.conv2d(x, weight: const(w.up43, "up4_3"), same3), factor: 2), text, 2)
        x = try g.conv2d(g.concat([x, fuse(a[2], b[2], 2)], axis: 1), weight: const(w.reduce3, "reduce_chan_level3"))
        x = try level(x, w.decoder3, "decoder_level3")

        x = try guide(g.pixelShuffle(g.conv2d(x, weight: const(w.up32, "up3_2"), same3), factor: 2), text, 1)
        x = try g.conv2d(g.concat([x, fuse(a[1], b[1], 1)], axis: 1), weight: const(w.reduce2, "reduce_chan_level2"))
        x = try level(x, w.decoder2, "decoder_level2")

        x = try guide(g.pixelShuffle(g.conv2d(x, weight: const(w.up21, "up2_1"), same3), factor: 2), text, 0)
        x = try g.concat([x, fuse(a[0], b[0], 0)], axis: 1)
        x = try level(x, w.decoder1, "decoder_level1")
        x = try level(x, w.refinement, "refinement")
        return try g.conv2d(x, weight: const(w.output, "output"), same3)
    }
}
