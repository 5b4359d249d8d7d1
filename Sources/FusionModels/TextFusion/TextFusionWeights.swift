import FusionCore
import FusionIO

/// The TextFusion network's parameters, read and shape-checked from a checkpoint with the
/// published key names (`patch_embed.proj.weight`, `layer1.blocks.0...`).
public struct TextFusionWeights {
    public static let channels = 24
    public static let hidden = 48
    public static let textDimension = 512
    public static let heads = 2
    public static let window = 8

    /// One stream's half of the two-stream block.
    public struct Stream {
        public var embedWeight: Tensor, embedBias: Tensor       // [24,1,3,3], [24]
        public var normWeight: Tensor, normBias: Tensor         // [24] (stored [1,24,1,1])
        public var rescaleWeight: Tensor, rescaleBias: Tensor   // meta1: [24,1] (linear), [24]
        public var rebiasWeight: Tensor, rebiasBias: Tensor     // meta2
        public var vWeight: Tensor, vBias: Tensor               // [24,24,1,1], [24]
        public var convWeight: Tensor, convBias: Tensor         // depthwise [24,1,5,5], [24]
        public var projWeight: Tensor, projBias: Tensor         // [24,24,1,1], [24]
        public var mlp1Weight: Tensor, mlp1Bias: Tensor         // [48,24,1,1], [48]
        public var mlp2Weight: Tensor, mlp2Bias: Tensor         // [24,48,1,1], [24]
        public var textMLPWeight: Tensor                        // mlp_vis/mlp_ir.0: [48,24,1,1]
        public var textProjection: [Float]                      // mlp_vis/mlp_ir.2: [512,48]
    }

    public var visible: Stream
    public var infrared: Stream
    /// Q and K halves of `attn.QK` (the visible stream's; the infrared QK is unused).
    public var qWeight: Tensor, qBias: Tensor, kWeight: Tensor, kBias: Tensor
    /// Relative-position bias [heads, 64, 64], computed once from the weights.
    public var attentionBias: Tensor
    /// `patch_unembed1.proj.0`: [1,512,3,3] and [1].
    public var headWeight: [Float]
    public var headBias: Float

    public init(_ archive: TensorArchive) throws {
        let r = WeightReader(archive, model: "TextFusion")
        let c = Self.channels, h = Self.hidden
        let block = "layer1.blocks.0."
        func stream(embed: String, norm: String, v: String, conv: String, proj: String, mlp: String, text: String) throws -> Stream {
            Stream(
                embedWeight: try r.tensor("\(embed).proj.weight", shape: [c, 1, 3, 3]),
                embedBias: try r.tensor("\(embed).proj.bias", shape: [c]),
                normWeight: try r.tensor(block + "\(norm).weight", shape: [1, c, 1, 1]).reshaped([c]),
                normBias: try r.tensor(block + "\(norm).bias", shape: [1, c, 1, 1]).reshaped([c]),
                rescaleWeight: try r.tensor(block + "\(norm).meta1.weight", shape: [c, 1, 1, 1]).reshaped([c, 1]),
                rescaleBias: try r.tensor(block + "\(norm).meta1.bias", shape: [c]),
                rebiasWeight: try r.tensor(block + "\(norm).meta2.weight", shape: [c, 1, 1, 1]).reshaped([c, 1]),
                rebiasBias: try r.tensor(block + "\(norm).meta2.bias", shape: [c]),
                vWeight: try r.tensor(block + "attn.\(v).weight", shape: [c, c, 1, 1]),
                vBias: try r.tensor(block + "attn.\(v).bias", shape: [c]),
                convWeight: try r.tensor(block + "attn.\(conv).weight", shape: [c, 1, 5, 5]),
                convBias: try r.tensor(block + "attn.\(conv).bias", shape: [c]),
                projWeight: try r.tensor(block + "attn.\(proj).weight", shape: [c, c, 1, 1]),
                projBias: try r.tensor(block + "attn.\(proj).bias", shape: [c]),
                mlp1Weight: try r.tensor(block + "\(mlp).mlp.0.weight", shape: [h, c, 1, 1]),
                mlp1Bias: try r.tensor(block + "\(mlp).mlp.0.bias", shape: [h]),
                mlp2Weight: try r.tensor(block + "\(mlp).mlp.2.weight", shape: [c, h, 1, 1]),
                mlp2Bias: try r.tensor(block + "\(mlp).mlp.2.bias", shape: [c]),
                textMLPWeight: try r.tensor("fuse_text_image.\(text).0.weight", shape: [h, c, 1, 1]),
                textProjection: try r.floats("fuse_text_image.\(text).2.weight", shape: [Self.textDimension, h, 1, 1])
            )
        }
        visible = try stream(embed: "patch_embed", norm: "norm1", v: "V", conv: "conv", proj: "proj", mlp: "mlp", text: "mlp_vis")
        infrared = try stream(embed: "patch_embed2", norm: "ass_norm1", v: "ass_V", conv: "conv_ass", proj: "proj_ass", mlp: "mlp_ass", text: "mlp_ir")

        let qk = try r.floats(block + "attn.QK.weight", shape: [2 * c, c, 1, 1])
        let qkBias = try r.floats(block + "attn.QK.bias", shape: [2 * c])
        qWeight = Tensor(shape: [c, c, 1, 1], floats: Array(qk[0..<(c * c)]))
        kWeight = Tensor(shape: [c, c, 1, 1], floats: Array(qk[(c * c)...]))
        qBias = Tensor(shape: [c], floats: Array(qkBias[0..<c]))
        kBias = Tensor(shape: [c], floats: Array(qkBias[c...]))

        let tokens = Self.window * Self.window
        attentionBias = Self.relativePositionBias(
            positions: try r.floats(block + "attn.attn.relative_positions", shape: [tokens, tokens, 2]),
            w1: try r.floats(block + "attn.attn.meta.0.weight", shape: [256, 2]),
            b1: try r.floats(block + "attn.attn.meta.0.bias", shape: [256]),
            w2: try r.floats(block + "attn.attn.meta.2.weight", shape: [Self.heads, 256]),
            b2: try r.floats(block + "attn.attn.meta.2.bias", shape: [Self.heads]),
            tokens: tokens)
        headWeight = try r.floats("patch_unembed1.proj.0.weight", shape: [1, Self.textDimension, 3, 3])
        headBias = try r.floats("patch_unembed1.proj.0.bias", shape: [1])[0]
    }

    /// `meta(relative_positions)` permuted to [heads, i, j]: Linear 2->256, ReLU, Linear
    /// 256->heads on the stored log-scaled offsets, in Float like PyTorch.
    static func relativePositionBias(positions: [Float], w1: [Float], b1: [Float], w2: [Float], b2: [Float], tokens: Int) -> Tensor {
        let hiddenCount = b1.count, heads = b2.count
        let out = Tensor(shape: [heads, tokens, tokens])
        let o = out.floats
        var hidden = [Float](repeating: 0, count: hiddenCount)
        for pair in 0..<(tokens * tokens) {
            let dy = positions[2 * pair], dx = positions[2 * pair + 1]
            for u in 0..<hiddenCount { hidden[u] = max(0, dy * w1[2 * u] + dx * w1[2 * u + 1] + b1[u]) }
            for head in 0..<heads {
                var s: Float = 0
                for u in 0..<hiddenCount { s += hidden[u] * w2[head * hiddenCount + u] }
                o[head * tokens * tokens + pair] = s + b2[head]
            }
        }
        return out
    }
}
