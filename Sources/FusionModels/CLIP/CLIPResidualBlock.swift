import FusionCore
import FusionIO

/// The weights of one CLIP `ResidualAttentionBlock` (text and vision towers alike).
public struct CLIPResidualBlockWeights {
    public var ln1Weight: Tensor, ln1Bias: Tensor
    /// Packed q, k, v rows: [3W, W] and [3W].
    public var inProjWeight: Tensor, inProjBias: Tensor
    public var outProjWeight: Tensor, outProjBias: Tensor
    public var ln2Weight: Tensor, ln2Bias: Tensor
    public var fcWeight: Tensor, fcBias: Tensor        // [4W, W]
    public var projWeight: Tensor, projBias: Tensor    // [W, 4W]

    public init(ln1Weight: Tensor, ln1Bias: Tensor, inProjWeight: Tensor, inProjBias: Tensor,
                outProjWeight: Tensor, outProjBias: Tensor, ln2Weight: Tensor, ln2Bias: Tensor,
                fcWeight: Tensor, fcBias: Tensor, projWeight: Tensor, projBias: Tensor) {
        self.ln1Weight = ln1Weight; self.ln1Bias = ln1Bias
        self.inProjWeight = inProjWeight; self.inProjBias = inProjBias
        self.outProjWeight = outProjWeight; self.outProjBias = outProjBias
        self.ln2Weight = ln2Weight; self.ln2Bias = ln2Bias
        self.fcWeight = fcWeight; self.fcBias = fcBias
        self.projWeight = projWeight; self.projBias = projBias
    }

    /// Block `name` (e.g. `visual.transformer.resblocks.3`) of an OpenAI-layout state dict
    /// at width `w` (f16 weights widen to f32 exactly).
    public init(openAI r: WeightReader, _ name: String, width w: Int) throws {
        let fcW = try r.tensor(name + ".mlp.c_fc.weight")
        guard fcW.shape.count == 2, fcW.shape[1] == w else {
            throw FileFormatError(path: r.archive.path, format: r.archive.format.rawValue,
                                  "\(r.model) weights: tensor '\(name).mlp.c_fc.weight' has shape \(fcW.shape), expected [hidden, \(w)]")
        }
        let hidden = fcW.shape[0]
        self.init(ln1Weight: try r.tensor(name + ".ln_1.weight", shape: [w]), ln1Bias: try r.tensor(name + ".ln_1.bias", shape: [w]),
                  inProjWeight: try r.tensor(name + ".attn.in_proj_weight", shape: [3 * w, w]),
                  inProjBias: try r.tensor(name + ".attn.in_proj_bias", shape: [3 * w]),
                  outProjWeight: try r.tensor(name + ".attn.out_proj.weight", shape: [w, w]),
                  outProjBias: try r.tensor(name + ".attn.out_proj.bias", shape: [w]),
                  ln2Weight: try r.tensor(name + ".ln_2.weight", shape: [w]), ln2Bias: try r.tensor(name + ".ln_2.bias", shape: [w]),
                  fcWeight: fcW, fcBias: try r.tensor(name + ".mlp.c_fc.bias", shape: [hidden]),
                  projWeight: try r.tensor(name + ".mlp.c_proj.weight", shape: [w, hidden]),
                  projBias: try r.tensor(name + ".mlp.c_proj.bias", shape: [w]))
    }
}

/// CLIP's pre-LN residual attention block on tokens [batch, tokens, W]:
/// `x + attn(ln_1(x))`, then `+ c_proj(QuickGELU(c_fc(ln_2(x))))`. LayerNorm eps 1e-5;
/// q scaled by head_dim^-0.5; the text tower's attention is causal, the vision tower's
/// unmasked. One builder for both towers.
public enum CLIPResidualBlock {
    public static func build(_ g: Graph, _ x: Value, _ layer: CLIPResidualBlockWeights, heads: Int, causal: Bool) throws -> Value {
        let shape = x.shape
        let n = shape[0], t = shape[1], width = shape[2], d = width / heads
        func const(_ x: Tensor, _ name: String) -> Value { g.constant(x, name: name) }
        let h = try g.layerNorm(x, weight: const(layer.ln1Weight, "ln_1.w"), bias: const(layer.ln1Bias, "ln_1.b"), eps: 1e-5)
        let qkv = try g.linear(h, weight: const(layer.inProjWeight, "in_proj.w"), bias: const(layer.inProjBias, "in_proj.b"))
        func split(_ index: Int) throws -> Value {
            let part = try g.slice(qkv, axis: 2, start: index * width, length: width)
            return try g.permute(g.reshape(part, [n, t, heads, d]), [0, 2, 1, 3])
        }
        let attended = try g.attention(q: split(0), k: split(1), v: split(2), scale: 1 / Float(d).squareRoot(), causal: causal)
        let merged = try g.reshape(g.permute(attended, [0, 2, 1, 3]), [n, t, width])
        var y = try g.add(x, g.linear(merged, weight: const(layer.outProjWeight, "out_proj.w"), bias: const(layer.outProjBias, "out_proj.b")))
        let h2 = try g.layerNorm(y, weight: const(layer.ln2Weight, "ln_2.w"), bias: const(layer.ln2Bias, "ln_2.b"), eps: 1e-5)
        let hidden = try g.quickGELU(g.linear(h2, weight: const(layer.fcWeight, "c_fc.w"), bias: const(layer.fcBias, "c_fc.b")))
        y = try g.add(y, g.linear(hidden, weight: const(layer.projWeight, "c_proj.w"), bias: const(layer.projBias, "c_proj.b")))
        return y
    }
}
