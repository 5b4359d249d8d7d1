import FusionCore

/// Builds Text-IF (`model/Text_IF_model.py`) as a graph for one input size.
///
/// Inputs: `vis` and `ir` [N,3,H,W] in [0,1] (the infrared grey replicated to 3 channels),
/// H and W multiples of 8; `text` [N,512], the CLIP text feature of each sample. Output
/// `fused` [N,3,H,W], the raw network output. N = `batch`, 1 by default.
///
/// Batching: every op works per sample along N (convs, LayerNorm over channels, the channel
/// attention per (sample, head), GroupNorm per sample, the 1/8-resolution attention with
/// the batch as its B dimension, FiLM with [N,C] gamma and beta; the text MLP runs on each
/// [1,512] row, as a batch-1 graph does, because BLAS may round an N-row GEMM differently),
/// so sample i equals a batch-1 run on pair i and prompt i. Memory:
/// inputs and intermediates grow N-fold (a batch-N plan is about N times the batch-1
/// arena, `plannedBytes`), the weights are held once. Band tiling works with any batch:
/// bands are cut from each sample's size (a band of a batch-N graph holds N samples'
/// rows, so N x `bandBytes`), so the arithmetic per sample is that of a batch-1 graph
/// with the same `bandBytes`.
///
/// The packed q/k/v 1x1 convs (and their depthwise 3x3) are built as three convs each, so
/// no 3C-channel tensor exists at full resolution, and the full spatial attentions at 1/8
/// resolution use the attention op, which never materialises the N x N matrix.
///
/// Band tiling (`bandBytes`): a level whose tensor is larger than `bandBytes` is built over
/// row bands of at most `bandBytes` each (see `TextIFBands.swift`), so that no
/// full-resolution temporary exists and a level holds about one whole tensor at a time.
/// The result equals the unbanded graph within float rounding; nil (the default) never
/// bands.
public enum TextIFGraph {
    /// The band size memory-limited runs start from.
    public static let defaultBandBytes = 32 << 20

    static func checkSize(_ height: Int, _ width: Int, batch: Int) throws {
        guard height >= 8, width >= 8, height % 8 == 0, width % 8 == 0 else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "input is \(width)x\(height); the network needs both sides to be multiples of 8 (pad or resize first)")
        }
        guard batch >= 1 else {
            throw FusionError.invalidArgument(op: "Text-IF", detail: "batch \(batch) must be at least 1")
        }
    }

    /// The whole network in one graph (inputs `vis`, `ir`, `text`; output `fused`).
    public static func build(_ w: TextIFWeights, height: Int, width: Int, bandBytes: Int? = nil) throws -> Graph {
        try build(w, height: height, width: width, bandBytes: bandBytes, batch: 1)
    }

    /// As above for `batch` pairs: every input, feature and output has `batch` samples.
    public static func build(_ w: TextIFWeights, height: Int, width: Int, bandBytes: Int? = nil, batch: Int) throws -> Graph {
        try checkSize(height, width, batch: batch)
        let g = Graph()
        let vis = g.input("vis", shape: [batch, 3, height, width])
        let ir = g.input("ir", shape: [batch, 3, height, width])
        let text = g.input("text", shape: [batch, w.guidance[0].w1.shape[1]])
        let parts = Parts(g: g, w: w, bandBytes: bandBytes, height: height, width: width, batch: batch)
        let e = try parts.encoders(vis, ir)
        g.output("fused", try parts.decoder(skips: e.skips, a4: e.a4, b4: e.b4, text: text))
        return g
    }

    /// The two encoders and the skip fusions (none depends on the text): outputs `f1`, `f2`,
    /// `f3` (`feature_fusion_k` of the level-k features of both encoders) and `a4`, `b4`
    /// (the level-4 features, which the cross attention takes apart).
    public static func buildEncoders(_ w: TextIFWeights, height: Int, width: Int, bandBytes: Int? = nil) throws -> Graph {
        try buildEncoders(w, height: height, width: width, bandBytes: bandBytes, batch: 1)
    }

    /// As above for `batch` pairs: every input, feature and output has `batch` samples.
    public static func buildEncoders(_ w: TextIFWeights, height: Int, width: Int, bandBytes: Int? = nil, batch: Int) throws -> Graph {
        try checkSize(height, width, batch: batch)
        let g = Graph()
        let parts = Parts(g: g, w: w, bandBytes: bandBytes, height: height, width: width, batch: batch)
        let e = try parts.encoders(g.input("vis", shape: [batch, 3, height, width]), g.input("ir", shape: [batch, 3, height, width]))
        for k in 0..<3 { g.output("f\(k + 1)", try parts.whole(e.skips[k])) }
        g.output("a4", e.a4)
        g.output("b4", e.b4)
        return g
    }

    /// Shapes of the encoder features at level k (1...4); the fused skip `f<k>` has the same.
    public static func featureShape(_ w: TextIFWeights, level k: Int, height: Int, width: Int, batch: Int = 1) -> [Int] {
        [batch, w.dim << (k - 1), height >> (k - 1), width >> (k - 1)]
    }

    /// Everything after the encoders: inputs `f1`, `f2`, `f3`, `a4`, `b4`, `text`; output `fused`.
    public static func buildDecoder(_ w: TextIFWeights, height: Int, width: Int, bandBytes: Int? = nil) throws -> Graph {
        try buildDecoder(w, height: height, width: width, bandBytes: bandBytes, batch: 1)
    }

    /// As above for `batch` pairs: every input, feature and output has `batch` samples.
    public static func buildDecoder(_ w: TextIFWeights, height: Int, width: Int, bandBytes: Int? = nil, batch: Int) throws -> Graph {
        try checkSize(height, width, batch: batch)
        let g = Graph()
        let skips = (1...3).map { Banded(g.input("f\($0)", shape: featureShape(w, level: $0, height: height, width: width, batch: batch))) }
        let a4 = g.input("a4", shape: featureShape(w, level: 4, height: height, width: width, batch: batch))
        let b4 = g.input("b4", shape: featureShape(w, level: 4, height: height, width: width, batch: batch))
        let text = g.input("text", shape: [batch, w.guidance[0].w1.shape[1]])
        let parts = Parts(g: g, w: w, bandBytes: bandBytes, height: height, width: width, batch: batch)
        g.output("fused", try parts.decoder(skips: skips, a4: a4, b4: b4, text: text))
        return g
    }

    /// Device bytes an executable of `graph` holds besides scratch: the planned
    /// intermediates (alignment 256, blocks of at most 2 GiB) plus the input and constant
    /// buffers. Plans only; nothing runs.
    public static func plannedBytes(_ graph: Graph) throws -> (arena: Int, inputs: Int, constants: Int, total: Int) {
        let arena = try MemoryPlanner.plan(graph, alignment: 256, maxBlockBytes: 1 << 31).arenaBytes
        var inputs = 0, constants = 0
        for info in graph.values {
            switch info.kind {
            case .input: inputs += info.value.byteCount
            case .constant: constants += info.value.byteCount
            case .intermediate: break
            }
        }
        return (arena, inputs, constants, arena + inputs + constants)
    }
}

/// The network's pieces, added to one graph.
struct Parts {
    let g: Graph
    let w: TextIFWeights
    let bandBytes: Int?
    let height: Int, width: Int
    /// Samples N along the leading dimension of every tensor.
    let batch: Int

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

    /// A level of Restormer blocks at `channels` channels and `h` x `w` pixels; banded when
    /// its tensor is larger than `bandBytes` (band rows a multiple of `multiple`). A banded
    /// input keeps its bands; a whole one is cut.
    func level(_ x: Banded, _ blocks: [TextIFWeights.Block], _ name: String, multiple: Int) throws -> Banded {
        let shape = x.shape
        var y = x
        if let rows = partition(channels: shape[1], height: shape[2], width: shape[3], multiple: multiple) {
            if y.pieces.count == 1 { y = try split(y.pieces[0], rows: rows) }
        } else if y.pieces.count > 1 {
            y = Banded(try whole(y))
        }
        for (i, b) in blocks.enumerated() {
            y = try g.scope("\(name).\(i)") {
                y.pieces.count == 1 ? Banded(try restormer(y.pieces[0], b)) : try restormerBanded(y, b)
            }
        }
        return y
    }

    /// Features e1...e4 of one encoder (level k banded when large, band rows a multiple of
    /// 2^(4-k) so that each downsample keeps the bands).
    func encoder(_ input: Value, _ e: TextIFWeights.Encoder, _ name: String) throws -> [Banded] {
        try g.scope(name) {
            let embed = const(e.patchEmbed, "patch_embed")
            var x: Banded
            if let rows = partition(channels: w.dim, height: height, width: width, multiple: 8) {
                x = try conv3x3(whole: input, weight: embed, rows: rows)
            } else {
                x = Banded(try g.conv2d(input, weight: embed, same3))
            }
            var features: [Banded] = []
            for k in 0..<4 {
                if k > 0 { x = try downsample(x, const(e.downsample[k - 1], "down")) }
                x = try level(x, e.levels[k], "level\(k + 1)", multiple: 8 >> k)
                features.append(x)
            }
            return features
        }
    }

    /// Both encoders, the level 1-3 skip fusions, and the level-4 features.
    func encoders(_ vis: Value, _ ir: Value) throws -> (skips: [Banded], a4: Value, b4: Value) {
        let a = try encoder(vis, w.encoderA, "encoder_A")
        let b = try encoder(ir, w.encoderB, "encoder_B")
        let skips = try (0..<3).map { try fuse(a[$0], b[$0], $0) }
        return (skips, try whole(a[3]), try whole(b[3]))
    }

    /// `feature_fusion_k`: 1x1 on concat(x, y), band by band when both share their bands.
    func fuse(_ x: Banded, _ y: Banded, _ k: Int) throws -> Banded {
        try g.scope("feature_fusion_\(k + 1)") {
            let weight = const(w.fusion[k], "fusion_proj")
            if x.rows == y.rows {
                return Banded(try zip(x.pieces, y.pieces).map { try g.conv2d(g.concat([$0, $1], axis: 1), weight: weight) })
            }
            return Banded(try g.conv2d(g.concat([whole(x), whole(y)], axis: 1), weight: weight))
        }
    }

    /// `prompt_guidance_k`'s gamma and beta from the text.
    func guidance(_ text: Value, _ k: Int) throws -> (gamma: Value, beta: Value) {
        try g.scope("prompt_guidance_\(k + 1)") {
            let p = w.guidance[k]
            let (w1, b1) = (const(p.w1, "MLP.0.w"), const(p.b1, "MLP.0.b"))
            let (w2, b2) = (const(p.w2, "MLP.2.w"), const(p.b2, "MLP.2.b"))
            // Sample by sample in a batch, so each prompt's MLP rounds as in a batch-1 run.
            let gb = try g.perSample(text) { t in
                try g.linear(g.leakyReLU(g.linear(t, weight: w1, bias: b1), slope: 0.01), weight: w2, bias: b2)
            }
            let c = p.w2.shape[0] / 2
            return (try g.slice(gb, axis: 1, start: 0, length: c), try g.slice(gb, axis: 1, start: c, length: c))
        }
    }

    /// FiLM from the text: `(1 + gamma) * x + beta`.
    func guide(_ x: Value, _ text: Value, _ k: Int) throws -> Value {
        let (gamma, beta) = try guidance(text, k)
        return try g.scope("prompt_guidance_\(k + 1)") { try g.film(x, gamma: gamma, beta: beta) }
    }

    /// Upsample (3x3 n->2n, PixelShuffle) of the level below, FiLM `k`, concat with the
    /// skip, then `reduce` (1x1) if given: the input of decoder level k+1, at `channels`
    /// channels. Built band by band when that level is banded.
    func upLevel(_ x: Banded, up: Tensor, upName: String, text: Value, guide k: Int, skip: Banded, reduce: Tensor?, reduceName: String,
                 channels: Int) throws -> Banded {
        let h = height >> k, wd = width >> k
        let upWeight = const(up, upName)
        let reduceWeight = reduce.map { const($0, reduceName) }
        let prev = try whole(x)
        let (gamma, beta) = try guidance(text, k)
        guard let rows = partition(channels: channels, height: h, width: wd, multiple: 2) else {
            var y = try g.scope("prompt_guidance_\(k + 1)") { try g.film(g.pixelShuffle(g.conv2d(prev, weight: upWeight, same3), factor: 2), gamma: gamma, beta: beta) }
            y = try g.concat([y, whole(skip)], axis: 1)
            if let reduceWeight { y = try g.conv2d(y, weight: reduceWeight) }
            return Banded(y)
        }
        let skipWhole = skip.rows == rows ? nil : try whole(skip)
        var pieces: [Value] = []
        var r0 = 0
        for (i, n) in rows.enumerated() {
            // Rows r0/2 ..< (r0+n)/2 of the level below, with a halo row inside the image.
            let lo = max(0, r0 / 2 - 1), hi = min(h / 2, (r0 + n) / 2 + 1)
            let src = lo == 0 && hi == h / 2 ? prev : try g.slice(prev, axis: 2, start: lo, length: hi - lo)
            let conv = try g.conv2d(src, weight: upWeight, Conv2DAttributes(stride: (1, 1), padding: (r0 == 0 ? 1 : 0, r0 + n == h ? 1 : 0, 1, 1)))
            var y = try g.scope("prompt_guidance_\(k + 1)") { try g.film(g.pixelShuffle(conv, factor: 2), gamma: gamma, beta: beta) }
            let s = try skipWhole.map { try g.slice($0, axis: 2, start: r0, length: n) } ?? skip.pieces[i]
            y = try g.concat([y, s], axis: 1)
            if let reduceWeight { y = try g.conv2d(y, weight: reduceWeight) }
            pieces.append(y)
            r0 += n
        }
        return Banded(pieces)
    }

    func decoder(skips: [Banded], a4: Value, b4: Value, text: Value) throws -> Value {
        // Full spatial attention at 1/8: [B,C,h,w] <-> [B,1,n,C] (B = batch).
        let c4 = 8 * w.dim, h8 = height / 8, w8 = width / 8, n = h8 * w8
        func tokens(_ x: Value) throws -> Value { try g.permute(g.reshape(x, [batch, 1, c4, n]), [0, 1, 3, 2]) }
        func image(_ x: Value) throws -> Value { try g.reshape(g.permute(x, [0, 1, 3, 2]), [batch, c4, h8, w8]) }
        let scale = 1 / Float(c4).squareRoot()
        let (aPrime, bPrime) = try g.scope("cross_attention") { () -> (Value, Value) in
            let na = try g.groupNorm(a4, groups: 16, weight: const(w.crossNormA.0, "norm_A.w"), bias: const(w.crossNormA.1, "norm_A.b"), eps: 1e-5)
            let nb = try g.groupNorm(b4, groups: 16, weight: const(w.crossNormB.0, "norm_B.w"), bias: const(w.crossNormB.1, "norm_B.b"), eps: 1e-5)
            let qkvA = try w.crossQKVA.enumerated().map { try tokens(g.conv2d(na, weight: const($0.element, "qkv_A\($0.offset)"))) }
            let qkvB = try w.crossQKVB.enumerated().map { try tokens(g.conv2d(nb, weight: const($0.element, "qkv_B\($0.offset)"))) }
            // Queries from the other stream: A' attends from B's queries to A's keys and values.
            let attA = try image(g.attention(q: qkvB[0], k: qkvA[1], v: qkvA[2], scale: scale))
            let attB = try image(g.attention(q: qkvA[0], k: qkvB[1], v: qkvB[2], scale: scale))
            let outA = try g.add(g.conv2d(attA, weight: const(w.crossOutA.0, "out_A.w"), bias: const(w.crossOutA.1, "out_A.b")), na)
            let outB = try g.add(g.conv2d(attB, weight: const(w.crossOutB.0, "out_B.w"), bias: const(w.crossOutB.1, "out_B.b")), nb)
            return (outA, outB)
        }
        var x = try whole(fuse(Banded(aPrime), Banded(bPrime), 3))
        x = try g.scope("attention_spatial") {
            let normed = try g.groupNorm(x, groups: 16, weight: const(w.spatialNorm.0, "norm.w"), bias: const(w.spatialNorm.1, "norm.b"), eps: 1e-5)
            let qkv = try w.spatialQKV.enumerated().map { try tokens(g.conv2d(normed, weight: const($0.element, "qkv\($0.offset)"))) }
            let att = try image(g.attention(q: qkv[0], k: qkv[1], v: qkv[2], scale: scale))
            return try g.add(g.conv2d(att, weight: const(w.spatialOut.0, "out.w"), bias: const(w.spatialOut.1, "out.b")), x)
        }
        x = try guide(x, text, 3)
        var y = try level(Banded(x), w.decoder4, "decoder_level4", multiple: 1)

        y = try upLevel(y, up: w.up43, upName: "up4_3", text: text, guide: 2, skip: skips[2], reduce: w.reduce3, reduceName: "reduce_chan_level3", channels: 4 * w.dim)
        y = try level(y, w.decoder3, "decoder_level3", multiple: 2)
        y = try upLevel(y, up: w.up32, upName: "up3_2", text: text, guide: 1, skip: skips[1], reduce: w.reduce2, reduceName: "reduce_chan_level2", channels: 2 * w.dim)
        y = try level(y, w.decoder2, "decoder_level2", multiple: 2)
        y = try upLevel(y, up: w.up21, upName: "up2_1", text: text, guide: 0, skip: skips[0], reduce: nil, reduceName: "", channels: 2 * w.dim)
        y = try level(y, w.decoder1, "decoder_level1", multiple: 2)
        y = try level(y, w.refinement, "refinement", multiple: 2)
        return try whole(conv3x3(y, weight: const(w.output, "output")))
    }
}
