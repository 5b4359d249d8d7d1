import FusionCore

/// CLIPSeg's decoder (`CLIPDensePredT.forward` after `visual_forward`) on batch-first
/// tokens [N, 1 + gh*gw, W]; the original runs sequence-first, which is the same maths.
public enum CLIPSegDecoder {
    /// The 22x22 decoder features [N, R, gh, gw] from the vision taps in extract order
    /// (blocks 3, 6, 9). Text path (`condition` [N, 512]): `a = reduces[0](act9)`, FiLM
    /// `film_mul(c) * a + film_add(c)` per image, `blocks[0]`, then `a = reduces[i](act) + a`
    /// and `blocks[i]` for the earlier taps. Image path (`condition` nil): `reduces[0](act9)`
    /// alone. Then the class token is dropped and the tokens become a gh x gw map.
    public static func features(_ g: Graph, taps: [Value], condition: Value?, _ w: CLIPSegDecoderWeights,
                                gridHeight gh: Int, gridWidth gw: Int) throws -> Value {
        func const(_ x: Tensor, _ name: String) -> Value { g.constant(x, name: name) }
        let reversed = Array(taps.reversed())
        let n = reversed[0].shape[0], rd = w.reduceDimension
        var a = try g.linear(reversed[0], weight: const(w.reduces[0].weight, "reduces.0.w"), bias: const(w.reduces[0].bias, "reduces.0.b"))
        if let condition {
            // cond_layer 0: FiLM right after the first reduce.
            let scale = try g.reshape(g.linear(condition, weight: const(w.filmMulWeight, "film_mul.w"), bias: const(w.filmMulBias, "film_mul.b")), [n, 1, rd])
            let shift = try g.reshape(g.linear(condition, weight: const(w.filmAddWeight, "film_add.w"), bias: const(w.filmAddBias, "film_add.b")), [n, 1, rd])
            a = try g.add(g.mul(scale, a), shift)
            for i in 0..<reversed.count {
                if i > 0 {
                    a = try g.add(g.linear(reversed[i], weight: const(w.reduces[i].weight, "reduces.\(i).w"), bias: const(w.reduces[i].bias, "reduces.\(i).b")), a)
                }
                a = try g.scope("blocks.\(i)") { try encoderLayer(g, a, w.blocks[i], heads: w.heads) }
            }
        }
        let tokens = a.shape[1]
        guard tokens == 1 + gh * gw else {
            throw FusionError.shapeMismatch(op: "CLIPSeg decoder", detail: "\(tokens) tokens for a \(gh)x\(gw) grid plus the class token")
        }
        let patches = try g.slice(a, axis: 1, start: 1, length: gh * gw)
        return try g.reshape(g.permute(patches, [0, 2, 1]), [n, rd, gh, gw])
    }

    /// `nn.TransformerEncoderLayer` in eval, post-LN (`norm_first=False`), ReLU:
    /// `x = norm1(x + MHA(x))`, `x = norm2(x + linear2(relu(linear1(x))))`, eps 1e-5; the
    /// attention over each image's tokens, q scaled by head_dim^-0.5.
    public static func encoderLayer(_ g: Graph, _ x: Value, _ b: CLIPSegDecoderWeights.Block, heads: Int) throws -> Value {
        let shape = x.shape
        let n = shape[0], t = shape[1], width = shape[2], d = width / heads
        func const(_ x: Tensor, _ name: String) -> Value { g.constant(x, name: name) }
        let qkv = try g.linear(x, weight: const(b.inProjWeight, "in_proj.w"), bias: const(b.inProjBias, "in_proj.b"))
        func split(_ index: Int) throws -> Value {
            let part = try g.slice(qkv, axis: 2, start: index * width, length: width)
            return try g.permute(g.reshape(part, [n, t, heads, d]), [0, 2, 1, 3])
        }
        let attended = try g.attention(q: split(0), k: split(1), v: split(2), scale: 1 / Float(d).squareRoot())
        let merged = try g.reshape(g.permute(attended, [0, 2, 1, 3]), [n, t, width])
        let attn = try g.linear(merged, weight: const(b.outProjWeight, "out_proj.w"), bias: const(b.outProjBias, "out_proj.b"))
        var y = try g.layerNorm(g.add(x, attn), weight: const(b.norm1Weight, "norm1.w"), bias: const(b.norm1Bias, "norm1.b"), eps: 1e-5)
        let hidden = try g.relu(g.linear(y, weight: const(b.linear1Weight, "linear1.w"), bias: const(b.linear1Bias, "linear1.b")))
        let ff = try g.linear(hidden, weight: const(b.linear2Weight, "linear2.w"), bias: const(b.linear2Bias, "linear2.b"))
        y = try g.layerNorm(g.add(y, ff), weight: const(b.norm2Weight, "norm2.w"), bias: const(b.norm2Bias, "norm2.b"), eps: 1e-5)
        return y
    }

    /// `trans_conv` turns the features [N, R, 22, 22] into logits [N, 1, 352, 352]:
    /// Conv2d(R, R, 3, p=1) -> ReLU -> ConvTranspose2d(R, R/2, k4, s4) -> ReLU ->
    /// ConvTranspose2d(R/2, 1, k4, s4) (`CLIPSegTransConv`).
    public static func logits(_ g: Graph, features: Value, _ w: CLIPSegDecoderWeights) throws -> Value {
        try CLIPSegTransConv.logits(g, CLIPSegTransConvWeights(w), features: features)
    }
}

extension CLIPSegTransConvWeights {
    /// The head as the decoder's loader read it (`trans_conv.{0,2,4}` of rd64-uni-refined).
    public init(_ decoder: CLIPSegDecoderWeights) {
        let t = decoder.transConv
        conv = (t[0].weight, t[0].bias)
        up1 = (t[1].weight, t[1].bias)
        up2 = (t[2].weight, t[2].bias)
    }
}
