import FusionCore

/// Builds OpenAI CLIP's `encode_text` as a graph for a batch of `batch` prompts.
///
/// Inputs: `tokens` i32 [batch, context] and `eot` f32 [batch, 1, context], the one-hot
/// row of each prompt's end-of-text position (argmax of its ids), which selects that row by
/// a matmul so the gather stays on the device. Output `features` [batch, embed], not
/// normalised.
public enum CLIPTextGraph {
    public static func build(_ w: CLIPTextWeights, batch: Int) throws -> Graph {
        let g = Graph()
        let n = batch, t = w.contextLength, width = w.width, heads = w.heads, d = width / heads
        let tokens = g.input("tokens", shape: [n, t], dtype: .i32)
        let eot = g.input("eot", shape: [n, 1, t])
        func const(_ x: Tensor, _ name: String) -> Value { g.constant(x, name: name) }

        var x = try g.scope("embeddings") {
            try g.add(g.embedding(tokens, table: const(w.tokenEmbedding, "token_embedding")),
                      const(w.positionalEmbedding, "positional_embedding"))
        }
        for (i, layer) in w.layers.enumerated() {
            x = try g.scope("resblocks.\(i)") {
                let h = try g.layerNorm(x, weight: const(layer.ln1Weight, "ln_1.w"), bias: const(layer.ln1Bias, "ln_1.b"), eps: 1e-5)
                let qkv = try g.linear(h, weight: const(layer.inProjWeight, "in_proj.w"), bias: const(layer.inProjBias, "in_proj.b"))
                func split(_ index: Int) throws -> Value {
                    let part = try g.slice(qkv, axis: 2, start: index * width, length: width)
                    return try g.permute(g.reshape(part, [n, t, heads, d]), [0, 2, 1, 3])
                }
                let attended = try g.attention(q: split(0), k: split(1), v: split(2), scale: 1 / Float(d).squareRoot(), causal: true)
                let merged = try g.reshape(g.permute(attended, [0, 2, 1, 3]), [n, t, width])
                var y = try g.add(x, g.linear(merged, weight: const(layer.outProjWeight, "out_proj.w"), bias: const(layer.outProjBias, "out_proj.b")))
                let h2 = try g.layerNorm(y, weight: const(layer.ln2Weight, "ln_2.w"), bias: const(layer.ln2Bias, "ln_2.b"), eps: 1e-5)
                let hidden = try g.quickGELU(g.linear(h2, weight: const(layer.fcWeight, "c_fc.w"), bias: const(layer.fcBias, "c_fc.b")))
                y = try g.add(y, g.linear(hidden, weight: const(layer.projWeight, "c_proj.w"), bias: const(layer.projBias, "c_proj.b")))
                return y
            }
        }
        let features = try g.scope("head") { () -> Value in
            let normed = try g.layerNorm(x, weight: const(w.finalLNWeight, "ln_final.w"), bias: const(w.finalLNBias, "ln_final.b"), eps: 1e-5)
            let pooled = try g.reshape(g.matmul(eot, normed), [n, width])
            return try g.matmul(pooled, const(w.projection, "text_projection"))
        }
        g.output("features", features)
        return g
    }
}
