import FusionCore

/// CLIPSeg's `visual_forward` of a CLIP ViT on images of any multiple of the patch size, as
/// a graph (RFC runs it at 352x352: a 22x22 grid, 485 tokens).
///
/// Input `image` [batch, 3, H, W] (already normalised). Steps: `conv1` (stride = patch, no
/// bias) -> [batch, W, gh, gw], flattened row-major to tokens with the class embedding
/// first; the positional embedding's grid resized bicubically (PyTorch: a = -0.75,
/// align_corners=False, no antialias) to gh x gw when it differs from the trained grid (a
/// weights-only subgraph: `fold-constants` computes it once), the class position kept;
/// `ln_pre`; then the pre-LN blocks without an attention mask. Tokens stay batch-first
/// [batch, tokens, W] (CLIPSeg's sequence-first layout is a transpose of it).
///
/// Outputs: `tap_K` [batch, tokens, W] for each K in `taps` (the output of block K, 0-based,
/// as CLIPSeg's `extract_layers`); with `intermediates`, also `patch_embed`, `tokens_pre_ln`
/// and `tokens_ln_pre`. Blocks after the last tap are not built.
public enum CLIPVisionGraph {
    public static func build(_ w: CLIPVisionWeights, batch: Int, height: Int, width: Int, taps: [Int],
                             intermediates: Bool = false) throws -> Graph {
        let g = Graph()
        let image = g.input("image", shape: [batch, 3, height, width])
        let tokens = try tokenOutputs(g, image, w, taps: taps, intermediates: intermediates)
        for (k, v) in zip(taps, tokens) { g.output("tap_\(k)", v) }
        return g
    }

    /// The taps of the tower on `image` [batch, 3, H, W] inside an existing graph (the
    /// CLIPSeg decoder continues from them), in the order of `taps`.
    public static func tokenOutputs(_ g: Graph, _ image: Value, _ w: CLIPVisionWeights, taps: [Int],
                                    intermediates: Bool = false) throws -> [Value] {
        let shape = image.shape
        let n = shape[0], p = w.patchSize, d = w.width
        guard shape.count == 4, shape[1] == 3, shape[2] % p == 0, shape[3] % p == 0, shape[2] > 0, shape[3] > 0 else {
            throw FusionError.invalidArgument(op: "CLIP vision", detail: "image \(shape) must be [N, 3, H, W] with H and W multiples of the patch size \(p)")
        }
        guard !taps.isEmpty, taps.allSatisfy({ (0..<w.layers.count).contains($0) }) else {
            throw FusionError.invalidArgument(op: "CLIP vision", detail: "taps \(taps) must be block indices in 0..<\(w.layers.count)")
        }
        let gh = shape[2] / p, gw = shape[3] / p
        func const(_ x: Tensor, _ name: String) -> Value { g.constant(x, name: name) }

        var x = try g.scope("visual.embeddings") { () -> Value in
            let patches = try g.conv2d(image, weight: const(w.patchWeight, "conv1.w"), bias: nil, Conv2DAttributes(stride: p))
            if intermediates { g.output("patch_embed", patches) }
            let flat = try g.permute(g.reshape(patches, [n, d, gh * gw]), [0, 2, 1])
            let cls = Tensor(shape: [n, 1, d], floats: Array([[Float]](repeating: w.classEmbedding.toFloatArray(), count: n).joined()))
            let sequence = try g.concat([const(cls, "class_embedding"), flat], axis: 1)
            return try g.add(sequence, positions(g, w, gridHeight: gh, gridWidth: gw))
        }
        if intermediates { g.output("tokens_pre_ln", x) }
        x = try g.scope("visual.ln_pre") {
            try g.layerNorm(x, weight: const(w.lnPreWeight, "w"), bias: const(w.lnPreBias, "b"), eps: 1e-5)
        }
        if intermediates { g.output("tokens_ln_pre", x) }
        var outputs: [Int: Value] = [:]
        for i in 0...taps.max()! {
            x = try g.scope("visual.resblocks.\(i)") {
                try CLIPResidualBlock.build(g, x, w.layers[i], heads: w.heads, causal: false)
            }
            if taps.contains(i) { outputs[i] = x }
        }
        return taps.map { outputs[$0]! }
    }

    /// The positional embedding for a gh x gw grid [1 + gh*gw, W] (CLIPSeg's
    /// `rescaled_pos_emb`): the trained grid as [1, W, G, G], bicubic to gh x gw, back to
    /// rows, the class position prepended unchanged. From constants only, so
    /// `fold-constants` evaluates it once on the preparing backend.
    public static func positions(_ g: Graph, _ w: CLIPVisionWeights, gridHeight gh: Int, gridWidth gw: Int) throws -> Value {
        let rows = w.positionalEmbedding.toFloatArray(), d = w.width, grid = w.grid
        if gh == grid && gw == grid { return g.constant(w.positionalEmbedding, name: "positional_embedding") }
        let first = g.constant(Tensor(shape: [1, d], floats: Array(rows[0..<d])), name: "positional_embedding.class")
        let gridRows = g.constant(Tensor(shape: [grid * grid, d], floats: Array(rows[d...])), name: "positional_embedding.grid")
        return try resizedPositions(g, first: first, grid: gridRows, from: grid, height: gh, width: gw)
    }

    /// `cat(first, interpolate(grid.T.view(1, W, G, G), (gh, gw), bicubic).view(W, -1).T)`:
    /// `first` [1, W], `grid` [G*G, W] -> [1 + gh*gw, W].
    public static func resizedPositions(_ g: Graph, first: Value, grid: Value, from side: Int, height gh: Int, width gw: Int) throws -> Value {
        let d = grid.shape[1]
        let image = try g.reshape(g.permute(grid, [1, 0]), [1, d, side, side])
        let resized = try g.resize(image, mode: .bicubic, height: gh, width: gw)
        let back = try g.permute(g.reshape(resized, [d, gh * gw]), [1, 0])
        return try g.concat([first, back], axis: 0)
    }
}
