import FusionCore
import FusionIO

/// Text-IF's fusion network, read from a released checkpoint (`{"model": state_dict}`, the
/// CLIP tower inside as `model_clip.*`) or any state dict with the same names. The
/// configuration — width, blocks per level, refinement blocks, heads — comes from the
/// tensors themselves.
public struct TextIFWeights {
    /// One Restormer block (LayerNorm, transposed channel attention, gated-free FFN).
    public struct Block {
        public var norm1Weight: Tensor, norm1Bias: Tensor
        public var temperature: Tensor                  // [heads]
        /// `qkv` and `qkv_dwconv`, split into the q, k and v parts (each C channels).
        public var qkvWeight: [Tensor]                  // 3 x [C, C, 1, 1]
        public var qkvDepthwise: [Tensor]               // 3 x [C, 1, 3, 3]
        public var projectOut: Tensor                   // [C, C, 1, 1]
        public var norm2Weight: Tensor, norm2Bias: Tensor
        public var ffnIn: Tensor                        // [hidden, C, 1, 1]
        public var ffnConv: Tensor                      // [hidden, hidden, 3, 3] (full, not depthwise)
        public var ffnOut: Tensor                       // [C, hidden, 1, 1]
        public var heads: Int { temperature.count }
    }

    public struct Encoder {
        public var patchEmbed: Tensor                   // [dim, 3, 3, 3]
        public var levels: [[Block]]                    // 4 levels
        public var downsample: [Tensor]                 // 3 x [n/2, n, 3, 3]
    }

    /// `FeatureWiseAffine`: Linear 512->1024, LeakyReLU, Linear 1024->2C.
    public struct PromptGuidance {
        public var w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor
    }

    public let dim: Int
    public var encoderA: Encoder, encoderB: Encoder
    public var crossNormA: (Tensor, Tensor), crossNormB: (Tensor, Tensor)
    public var crossQKVA: [Tensor], crossQKVB: [Tensor]         // 3 x [C, C, 1, 1] each
    public var crossOutA: (Tensor, Tensor), crossOutB: (Tensor, Tensor)
    public var spatialNorm: (Tensor, Tensor)
    public var spatialQKV: [Tensor]
    public var spatialOut: (Tensor, Tensor)
    /// `feature_fusion_1...4`: 1x1 2C->C, index 0 = level 1.
    public var fusion: [Tensor]
    /// `prompt_guidance_1...4`, index 0 = level 1.
    public var guidance: [PromptGuidance]
    public var decoder4: [Block], decoder3: [Block], decoder2: [Block], decoder1: [Block], refinement: [Block]
    /// `up4_3`, `up3_2`, `up2_1`: 3x3 n->2n before PixelShuffle(2).
    public var up43: Tensor, up32: Tensor, up21: Tensor
    public var reduce3: Tensor, reduce2: Tensor
    public var output: Tensor                                   // [3, 2dim, 3, 3]

    public var blocksPerLevel: [Int] { encoderA.levels.map(\.count) }
    public var headsPerLevel: [Int] { encoderA.levels.map { $0.first?.heads ?? 0 } }

    public init(_ archive: TensorArchive) throws {
        guard let key = archive.names.first(where: { $0.hasSuffix("encoder_A.patch_embed.proj.weight") }) else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue,
                                  "not a Text-IF checkpoint: no tensor named 'encoder_A.patch_embed.proj.weight' (under any prefix)")
        }
        let p = String(key.dropLast("encoder_A.patch_embed.proj.weight".count))
        let r = WeightReader(archive, model: "Text-IF")
        func t(_ name: String, _ shape: [Int]? = nil) throws -> Tensor { try r.tensor(p + name, shape: shape) }
        func has(_ name: String) -> Bool { archive.tensor(named: p + name) != nil }

        let embed = try t("encoder_A.patch_embed.proj.weight")
        guard embed.shape.count == 4, embed.shape[1] == 3, embed.shape[2] == 3, embed.shape[3] == 3 else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue, "encoder_A.patch_embed.proj.weight has shape \(embed.shape), expected [dim, 3, 3, 3]")
        }
        let dim = embed.shape[0]
        self.dim = dim

        func block(_ base: String, channels c: Int) throws -> Block {
            let temperature = try t(base + ".attn.temperature")
            let heads = temperature.count
            guard temperature.shape == [heads, 1, 1], heads > 0, c % heads == 0 else {
                throw FileFormatError(path: archive.path, format: archive.format.rawValue,
                                      "\(p)\(base).attn.temperature has shape \(temperature.shape); \(c) channels must split into its heads")
            }
            let qkv = try t(base + ".attn.qkv.weight", [3 * c, c, 1, 1]).toFloatArray()
            let dw = try t(base + ".attn.qkv_dwconv.weight", [3 * c, 1, 3, 3]).toFloatArray()
            let ffnIn = try t(base + ".ffn.project_in.weight")
            guard ffnIn.shape.count == 4, ffnIn.shape[1] == c else {
                throw FileFormatError(path: archive.path, format: archive.format.rawValue, "\(p)\(base).ffn.project_in.weight has shape \(ffnIn.shape)")
            }
            let hidden = ffnIn.shape[0]
            return Block(
                norm1Weight: try t(base + ".norm1.body.weight", [c]), norm1Bias: try t(base + ".norm1.body.bias", [c]),
                temperature: temperature.reshaped([heads]),
                qkvWeight: (0..<3).map { Tensor(shape: [c, c, 1, 1], floats: Array(qkv[($0 * c * c)..<(($0 + 1) * c * c)])) },
                qkvDepthwise: (0..<3).map { Tensor(shape: [c, 1, 3, 3], floats: Array(dw[($0 * c * 9)..<(($0 + 1) * c * 9)])) },
                projectOut: try t(base + ".attn.project_out.weight", [c, c, 1, 1]),
                norm2Weight: try t(base + ".norm2.body.weight", [c]), norm2Bias: try t(base + ".norm2.body.bias", [c]),
                ffnIn: ffnIn, ffnConv: try t(base + ".ffn.dwconv.weight", [hidden, hidden, 3, 3]),
                ffnOut: try t(base + ".ffn.project_out.weight", [c, hidden, 1, 1]))
        }
        func blocks(_ base: String, channels c: Int) throws -> [Block] {
            var out: [Block] = []
            while has("\(base).\(out.count).norm1.body.weight") { out.append(try block("\(base).\(out.count)", channels: c)) }
            guard !out.isEmpty else {
                throw FileFormatError(path: archive.path, format: archive.format.rawValue, "no blocks found under '\(p)\(base).'")
            }
            return out
        }
        func encoder(_ name: String) throws -> Encoder {
            Encoder(
                patchEmbed: try t("\(name).patch_embed.proj.weight", [dim, 3, 3, 3]),
                levels: try (1...4).map { try blocks("\(name).encoder_level\($0)", channels: dim << ($0 - 1)) },
                downsample: try [("down1_2", dim), ("down2_3", 2 * dim), ("down3_4", 4 * dim)].map { try t("\(name).\($0.0).body.0.weight", [$0.1 / 2, $0.1, 3, 3]) })
        }
        encoderA = try encoder("encoder_A")
        encoderB = try encoder("encoder_B")

        let c4 = 8 * dim
        func split3(_ name: String, _ c: Int) throws -> [Tensor] {
            let w = try t(name, [3 * c, c, 1, 1]).toFloatArray()
            return (0..<3).map { Tensor(shape: [c, c, 1, 1], floats: Array(w[($0 * c * c)..<(($0 + 1) * c * c)])) }
        }
        crossNormA = (try t("cross_attention.norm_A.weight", [c4]), try t("cross_attention.norm_A.bias", [c4]))
        crossNormB = (try t("cross_attention.norm_B.weight", [c4]), try t("cross_attention.norm_B.bias", [c4]))
        crossQKVA = try split3("cross_attention.qkv_A.weight", c4)
        crossQKVB = try split3("cross_attention.qkv_B.weight", c4)
        crossOutA = (try t("cross_attention.out_A.weight", [c4, c4, 1, 1]), try t("cross_attention.out_A.bias", [c4]))
        crossOutB = (try t("cross_attention.out_B.weight", [c4, c4, 1, 1]), try t("cross_attention.out_B.bias", [c4]))
        spatialNorm = (try t("attention_spatial.norm.weight", [c4]), try t("attention_spatial.norm.bias", [c4]))
        spatialQKV = try split3("attention_spatial.qkv.weight", c4)
        spatialOut = (try t("attention_spatial.out.weight", [c4, c4, 1, 1]), try t("attention_spatial.out.bias", [c4]))
        let levelChannels = [dim, 2 * dim, 4 * dim, 8 * dim]
        fusion = try (1...4).map { try t("feature_fusion_\($0).fusion_proj.weight", [levelChannels[$0 - 1], 2 * levelChannels[$0 - 1], 1, 1]) }
        guidance = try (1...4).map { k in
            let c = levelChannels[k - 1]
            let w1 = try t("prompt_guidance_\(k).MLP.0.weight")
            guard w1.shape.count == 2 else { throw FileFormatError(path: archive.path, format: archive.format.rawValue, "prompt_guidance_\(k).MLP.0.weight has shape \(w1.shape)") }
            return PromptGuidance(w1: w1, b1: try t("prompt_guidance_\(k).MLP.0.bias", [w1.shape[0]]),
                                  w2: try t("prompt_guidance_\(k).MLP.2.weight", [2 * c, w1.shape[0]]),
                                  b2: try t("prompt_guidance_\(k).MLP.2.bias", [2 * c]))
        }
        decoder4 = try blocks("decoder_level4", channels: c4)
        decoder3 = try blocks("decoder_level3", channels: 4 * dim)
        decoder2 = try blocks("decoder_level2", channels: 2 * dim)
        decoder1 = try blocks("decoder_level1", channels: 2 * dim)
        refinement = try blocks("refinement", channels: 2 * dim)
        up43 = try t("up4_3.body.0.weight", [16 * dim, 8 * dim, 3, 3])
        up32 = try t("up3_2.body.0.weight", [8 * dim, 4 * dim, 3, 3])
        up21 = try t("up2_1.body.0.weight", [4 * dim, 2 * dim, 3, 3])
        reduce3 = try t("reduce_chan_level3.weight", [4 * dim, 8 * dim, 1, 1])
        reduce2 = try t("reduce_chan_level2.weight", [2 * dim, 4 * dim, 1, 1])
        output = try t("output.weight", [3, 2 * dim, 3, 3])
    }
}
