import FusionCore
import FusionIO

/// IF-FILM's network (`net/Film.py`, `Net(hidden_dim=256, image2text_dim=32)`), read from a
/// released checkpoint (`{"model": state_dict}` of an `nn.DataParallel` model, so every
/// name starts with `module.`) or any state dict with the same names under any prefix.
/// The configuration (mid channels, heads, FFN width, text width, hidden width) comes from
/// the tensors; see `../shared/models/film.md`.
public struct FILMWeights {
    /// A Restormer `TransformerBlock` with the gated FFN.
    public struct Block {
        public var norm1Weight: Tensor, norm1Bias: Tensor
        public var temperature: Tensor                  // [heads]
        /// `qkv` and `qkv_dwconv`, split into the q, k and v parts (each C channels).
        public var qkvWeight: [Tensor]                  // 3 x [C, C, 1, 1]
        public var qkvDepthwise: [Tensor]               // 3 x [C, 1, 3, 3]
        public var projectOut: Tensor                   // [C, C, 1, 1]
        public var norm2Weight: Tensor, norm2Bias: Tensor
        /// `project_in` and the depthwise `dwconv` split into the gate halves x1 and x2
        /// (each `hidden` channels).
        public var ffnIn: [Tensor]                      // 2 x [hidden, C, 1, 1]
        public var ffnDepthwise: [Tensor]               // 2 x [hidden, 1, 3, 3]
        public var ffnOut: Tensor                       // [C, hidden, 1, 1]
        public var heads: Int { temperature.count }
        public var channels: Int { projectOut.shape[0] }
        public var hidden: Int { ffnOut.shape[1] }
    }

    /// `nn.MultiheadAttention(hidden, 8)`: the packed `in_proj` split into q, k, v.
    public struct CrossAttention {
        public var weight: [Tensor]                     // 3 x [hidden, hidden]
        public var bias: [Tensor]                       // 3 x [hidden]
        public var outWeight: Tensor, outBias: Tensor   // [hidden, hidden], [hidden]
    }

    /// One stream (A = infrared, B = visible) of a `restormer_cablock`.
    public struct Stream {
        public var conv1: Tensor                        // [mid, in, 3, 3], no bias
        public var prelu1: Float
        public var restormer: Block
        public var image2text: (weight: Tensor, bias: Tensor)   // [i2t, mid, 1, 1]
        public var attention: CrossAttention
        public var conv2: (weight: Tensor, bias: Tensor)        // [mid, i2t, 1, 1]
        public var prelu2: Float
        public var conv3: (weight: Tensor, bias: Tensor)        // [mid, 2 mid, 1, 1]
        public var prelu3: Float
    }

    public struct CABlock {
        public var a: Stream, b: Stream
    }

    /// `text_process.conv` (Conv1d k=1) as a linear: [hidden, textDim], [hidden].
    public var textWeight: Tensor, textBias: Tensor
    public var blocks: [CABlock]
    public var restormer1: Block, restormer2: Block, restormer3: Block
    public var conv1: (weight: Tensor, bias: Tensor)            // [mid, 2 mid, 1, 1]
    public var conv2: (weight: Tensor, bias: Tensor)            // [1, mid, 1, 1]

    /// The original's fixed token grid (`F.interpolate(x, [288, 384])`).
    public static let tokenGrid = (height: 288, width: 384)

    public var textDimension: Int { textWeight.shape[1] }
    public var hiddenDimension: Int { textWeight.shape[0] }
    public var midChannels: Int { conv1.weight.shape[0] }
    public var image2textChannels: Int { blocks[0].a.image2text.weight.shape[0] }
    /// Heads of `nn.MultiheadAttention` (fixed at 8 in `restormer_cablock`; not stored).
    public var attentionHeads: Int { 8 }
    /// Image tokens of the fixed grid: i2t x 288 x 384 / hidden.
    public var imageTokens: Int { image2textChannels * Self.tokenGrid.height * Self.tokenGrid.width / hiddenDimension }

    static let anchor = "restormerca1.convA1.weight"

    public init(_ archive: TensorArchive) throws {
        func fail(_ message: String) -> FileFormatError {
            FileFormatError(path: archive.path, format: archive.format.rawValue, "IF-FILM weights: \(message)")
        }
        guard let key = archive.names.first(where: { $0.hasSuffix(Self.anchor) }) else {
            throw FileFormatError(path: archive.path, format: archive.format.rawValue,
                                  "not an IF-FILM checkpoint: no tensor named '\(Self.anchor)' (under any prefix, e.g. 'module.'); it holds \(archive.names.count) tensors such as \(archive.names.prefix(3).map { "'\($0)'" }.joined(separator: ", "))")
        }
        let p = String(key.dropLast(Self.anchor.count))
        let r = WeightReader(archive, model: "IF-FILM")
        func t(_ name: String, _ shape: [Int]? = nil) throws -> Tensor { try r.tensor(p + name, shape: shape) }
        func slope(_ name: String) throws -> Float { try t(name, [1]).toFloatArray()[0] }
        func split(_ w: Tensor, _ parts: Int) -> [Tensor] {
            let f = w.toFloatArray(), n = f.count / parts
            var shape = w.shape
            shape[0] /= parts
            return (0..<parts).map { Tensor(shape: shape, floats: Array(f[($0 * n)..<(($0 + 1) * n)])) }
        }

        let text = try t("text_process.conv.weight")
        guard text.shape.count == 3, text.shape[2] == 1, text.shape[0] > 0, text.shape[1] > 0 else {
            throw fail("tensor '\(p)text_process.conv.weight' has shape \(text.shape), expected [hidden, text width, 1]")
        }
        let hidden = text.shape[0]
        textWeight = text.reshaped([hidden, text.shape[1]])
        textBias = try t("text_process.conv.bias", [hidden])
        guard hidden % 8 == 0 else { throw fail("hidden width \(hidden) does not split into 8 attention heads") }

        let first = try t("restormerca1.convA1.weight")
        guard first.shape.count == 4, first.shape[2] == 3, first.shape[3] == 3 else {
            throw fail("tensor '\(p)restormerca1.convA1.weight' has shape \(first.shape), expected [mid, in, 3, 3]")
        }
        let mid = first.shape[0]

        func block(_ base: String, channels c: Int) throws -> Block {
            let temperature = try t(base + ".attn.temperature")
            let heads = temperature.count
            guard temperature.shape == [heads, 1, 1], heads > 0, c % heads == 0 else {
                throw fail("tensor '\(p)\(base).attn.temperature' has shape \(temperature.shape); \(c) channels must split into its heads")
            }
            let ffnIn = try t(base + ".ffn.project_in.weight")
            guard ffnIn.shape.count == 4, ffnIn.shape[1] == c, ffnIn.shape[0] % 2 == 0, ffnIn.shape[2] == 1, ffnIn.shape[3] == 1 else {
                throw fail("tensor '\(p)\(base).ffn.project_in.weight' has shape \(ffnIn.shape), expected [2 hidden, \(c), 1, 1]")
            }
            let h2 = ffnIn.shape[0], h = h2 / 2
            return Block(
                norm1Weight: try t(base + ".norm1.body.weight", [c]), norm1Bias: try t(base + ".norm1.body.bias", [c]),
                temperature: temperature.reshaped([heads]),
                qkvWeight: split(try t(base + ".attn.qkv.weight", [3 * c, c, 1, 1]), 3),
                qkvDepthwise: split(try t(base + ".attn.qkv_dwconv.weight", [3 * c, 1, 3, 3]), 3),
                projectOut: try t(base + ".attn.project_out.weight", [c, c, 1, 1]),
                norm2Weight: try t(base + ".norm2.body.weight", [c]), norm2Bias: try t(base + ".norm2.body.bias", [c]),
                ffnIn: split(ffnIn, 2), ffnDepthwise: split(try t(base + ".ffn.dwconv.weight", [h2, 1, 3, 3]), 2),
                ffnOut: try t(base + ".ffn.project_out.weight", [c, h, 1, 1]))
        }
        func attention(_ base: String) throws -> CrossAttention {
            CrossAttention(weight: split(try t(base + ".multihead_attn.in_proj_weight", [3 * hidden, hidden]), 3),
                           bias: split(try t(base + ".multihead_attn.in_proj_bias", [3 * hidden]), 3),
                           outWeight: try t(base + ".multihead_attn.out_proj.weight", [hidden, hidden]),
                           outBias: try t(base + ".multihead_attn.out_proj.bias", [hidden]))
        }
        var i2t = 0
        func stream(_ k: Int, _ x: String, attentionName: String, input: Int) throws -> Stream {
            let base = "restormerca\(k)."
            let w2t = try t(base + "imagef2textf\(x)1.conv.weight")
            guard w2t.shape.count == 4, w2t.shape[1] == mid, w2t.shape[2] == 1, w2t.shape[3] == 1, w2t.shape[0] > 0 else {
                throw fail("tensor '\(p)\(base)imagef2textf\(x)1.conv.weight' has shape \(w2t.shape), expected [i2t, \(mid), 1, 1]")
            }
            if i2t == 0 { i2t = w2t.shape[0] }
            guard w2t.shape[0] == i2t, (i2t * Self.tokenGrid.height * Self.tokenGrid.width) % hidden == 0 else {
                throw fail("tensor '\(p)\(base)imagef2textf\(x)1.conv.weight' has shape \(w2t.shape); the \(i2t)-channel 288x384 grid must split into \(hidden)-wide tokens")
            }
            return Stream(
                conv1: try t(base + "conv\(x)1.weight", [mid, input, 3, 3]), prelu1: try slope(base + "prelu\(x)1.weight"),
                restormer: try block(base + "restormer\(x)1", channels: mid),
                image2text: (w2t, try t(base + "imagef2textf\(x)1.conv.bias", [i2t])),
                attention: try attention(base + attentionName),
                conv2: (try t(base + "conv\(x)2.weight", [mid, i2t, 1, 1]), try t(base + "conv\(x)2.bias", [mid])),
                prelu2: try slope(base + "prelu\(x)2.weight"),
                conv3: (try t(base + "conv\(x)3.weight", [mid, 2 * mid, 1, 1]), try t(base + "conv\(x)3.bias", [mid])),
                prelu3: try slope(base + "prelu\(x)3.weight"))
        }
        blocks = try (1...3).map { k in
            let input = k == 1 ? first.shape[1] : mid
            // The B stream's attention is `cross_attentionA2` in the original.
            return CABlock(a: try stream(k, "A", attentionName: "cross_attentionA1", input: input),
                           b: try stream(k, "B", attentionName: "cross_attentionA2", input: input))
        }
        restormer1 = try block("restormer1", channels: 2 * mid)
        restormer2 = try block("restormer2", channels: mid)
        restormer3 = try block("restormer3", channels: mid)
        conv1 = (try t("conv1.weight", [mid, 2 * mid, 1, 1]), try t("conv1.bias", [mid]))
        conv2 = (try t("conv2.weight", [1, mid, 1, 1]), try t("conv2.bias", [1]))
        guard first.shape[1] == 1 else { throw fail("tensor '\(p)restormerca1.convA1.weight' has shape \(first.shape); the network takes 1-channel images") }
    }

    /// The original constructor's settings as the weights give them (`config` of a golden case).
    public var configuration: [String: Any] {
        ["hidden_dim": hiddenDimension, "image2text_dim": image2textChannels, "mid_channel": midChannels,
         "heads": restormer1.heads, "ffn_factor": restormer1.hidden / restormer1.channels, "text_dim": textDimension,
         "token_grid": [Self.tokenGrid.height, Self.tokenGrid.width]]
    }
}
