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
        let n = batch, t = w.contextLength, width = w.width, heads = w.heads
        let tokens = g.input("tokens", shape: [n, t], dtype: .i32)
        let eot = g.input("eot", shape: [n, 1, t])
        func const(_ x: Tensor, _ name: String) -> Value { g.constant(x, name: name) }

        var x = try g.scope("embeddings") {
            try g.add(g.embedding(tokens, table: const(w.tokenEmbedding, "token_embedding")),
                      const(w.positionalEmbedding, "positional_embedding"))
        }
        for (i, layer) in w.layers.enumerated() {
            x = try g.scope("resblocks.\(i)") {
                try CLIPResidualBlock.build(g, x, layer, heads: heads, causal: true)
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
