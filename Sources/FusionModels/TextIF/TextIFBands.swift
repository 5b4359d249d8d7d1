import FusionCore

/// An [N,C,H,W] tensor held as row bands [N,C,rows,W], top to bottom (one piece = whole).
struct Banded {
    var pieces: [Value]
    init(_ whole: Value) { pieces = [whole] }
    init(_ pieces: [Value]) { self.pieces = pieces }
    var rows: [Int] { pieces.map { $0.shape[2] } }
    var shape: [Int] {
        var s = pieces[0].shape
        s[2] = rows.reduce(0, +)
        return s
    }
}

/// Band tiling of Text-IF's large levels.
///
/// Local ops (LayerNorm over channels, 1x1 and 3x3 convs, GELU, adds) run band by band; a
/// 3x3 conv sees one halo row of each neighbouring band (zero padding only at the image's
/// real top and bottom). The channel attention is global over pixels and is split in two
/// passes: pass 1 accumulates, per head, the Gram matrix q k^T over the bands and each q and
/// k row's squared norm; `A = softmax(t * G / (max(|q|, 1e-12) max(|k|, 1e-12)^T))`; pass 2
/// applies A to each band's v (recomputing LayerNorm and v), then project_out and the
/// residual. Each band's temporaries die inside its loop iteration, so a banded level holds
/// about one whole tensor plus a few bands.
extension Parts {
    /// Band rows for a level of `channels` x `height` x `width` (a multiple of `multiple`,
    /// the last band possibly shorter), or nil when it is not banded. Sized per sample: a
    /// batch-N band holds N samples' rows.
    func partition(channels c: Int, height h: Int, width w: Int, multiple m: Int) -> [Int]? {
        guard let bandBytes, c * h * w * 4 > bandBytes else { return nil }
        let r = max(m, bandBytes / (c * w * 4) / m * m)
        guard r < h else { return nil }
        var rows: [Int] = []
        var left = h
        while left > 0 {
            rows.append(min(r, left))
            left -= r
        }
        return rows
    }

    func whole(_ x: Banded) throws -> Value {
        x.pieces.count == 1 ? x.pieces[0] : try g.concat(x.pieces, axis: 2)
    }

    func split(_ x: Value, rows: [Int]) throws -> Banded {
        var pieces: [Value] = []
        var r0 = 0
        for n in rows {
            pieces.append(try g.slice(x, axis: 2, start: r0, length: n))
            r0 += n
        }
        return Banded(pieces)
    }

    /// Band `i` with one row of each neighbour, and the zero padding a 3x3 conv then needs
    /// at the top and bottom (1 only at the image's edges).
    func extended(_ xs: [Value], _ i: Int) throws -> (value: Value, top: Int, bottom: Int) {
        var parts: [Value] = []
        if i > 0 { parts.append(try g.slice(xs[i - 1], axis: 2, start: xs[i - 1].shape[2] - 1, length: 1)) }
        parts.append(xs[i])
        if i + 1 < xs.count { parts.append(try g.slice(xs[i + 1], axis: 2, start: 0, length: 1)) }
        return (parts.count == 1 ? xs[i] : try g.concat(parts, axis: 2), i > 0 ? 0 : 1, i + 1 < xs.count ? 0 : 1)
    }

    func padding(top: Int, bottom: Int, groups: Int = 1) -> Conv2DAttributes {
        Conv2DAttributes(stride: (1, 1), padding: (top, bottom, 1, 1), groups: groups)
    }

    /// A 3x3 "same" conv band by band (halo rows from the neighbours); `then` is applied to
    /// each band's result inside the loop.
    func conv3x3(_ x: Banded, weight: Value, then: (Value) throws -> Value = { $0 }) throws -> Banded {
        try Banded(x.pieces.indices.map { i in
            let (ext, top, bottom) = try extended(x.pieces, i)
            return try then(g.conv2d(ext, weight: weight, padding(top: top, bottom: bottom)))
        })
    }

    /// A 3x3 "same" conv of a whole tensor, produced directly as bands of `rows`.
    func conv3x3(whole x: Value, weight: Value, rows: [Int]) throws -> Banded {
        let h = x.shape[2]
        var pieces: [Value] = []
        var r0 = 0
        for n in rows {
            let lo = max(0, r0 - 1), hi = min(h, r0 + n + 1)
            pieces.append(try g.conv2d(g.slice(x, axis: 2, start: lo, length: hi - lo), weight: weight,
                                       padding(top: r0 == 0 ? 1 : 0, bottom: r0 + n == h ? 1 : 0)))
            r0 += n
        }
        return Banded(pieces)
    }

    /// Downsample (3x3 n->n/2, PixelUnshuffle(2)); bands stay bands (halved) when all their
    /// row counts are even.
    func downsample(_ x: Banded, _ weight: Value) throws -> Banded {
        let input = x.rows.allSatisfy({ $0 % 2 == 0 }) ? x : Banded(try whole(x))
        return try conv3x3(input, weight: weight) { try g.pixelUnshuffle($0, factor: 2) }
    }

    /// (sqrt(P) mean, sqrt(P) std) of each (sample, channel) over the P pixels of one band,
    /// [N*C, 2]: their squares add up to the channel's sum of squares.
    func rowStats(_ t: Value) throws -> Value {
        let c = t.shape[0] * t.shape[1], p = t.shape[2] * t.shape[3]
        return try g.scale(g.globalStats(g.reshape(t, [c, p]), eps: 0), by: Float(p).squareRoot())
    }

    /// `max(||row||, 1e-12)` of each (sample, channel) over all bands, [N*C, 1], from `rowStats` of each
    /// band: the entries (w, -w) have mean 0 and mean square sum/(2B), so their std is the
    /// norm over sqrt(2B).
    func rowNorms(_ stats: [Value]) throws -> Value {
        let w = stats.count == 1 ? stats[0] : try g.concat(stats, axis: 1)
        let s = try g.globalStats(g.concat([w, g.scale(w, by: -1)], axis: 1), eps: 0)
        let norm = try g.scale(g.slice(s, axis: 1, start: 1, length: 1), by: Float(2 * stats.count).squareRoot())
        return try g.scale(g.relu(g.scale(norm, by: 1, shift: -1e-12)), by: 1, shift: 1e-12)
    }

    /// One Restormer block over bands (see the extension's comment).
    func restormerBanded(_ x: Banded, _ b: TextIFWeights.Block) throws -> Banded {
        let c = b.qkvWeight[0].shape[0], heads = b.heads, ch = c / heads
        let norm1 = (const(b.norm1Weight, "norm1.w"), const(b.norm1Bias, "norm1.b"))
        let qkvW = (0..<3).map { const(b.qkvWeight[$0], "qkv\($0)") }
        let qkvDW = (0..<3).map { const(b.qkvDepthwise[$0], "qkv_dw\($0)") }
        let xs = x.pieces
        /// q, k or v (`which`) of band i: LayerNorm and 1x1 on the band with its halo rows,
        /// then the depthwise 3x3.
        func qkv(_ i: Int, _ which: [Int]) throws -> [Value] {
            let (ext, top, bottom) = try extended(xs, i)
            let h = try g.layerNormChannels(ext, weight: norm1.0, bias: norm1.1, eps: 1e-5)
            return try which.map { j in
                try g.conv2d(g.conv2d(h, weight: qkvW[j]), weight: qkvDW[j], padding(top: top, bottom: bottom, groups: c))
            }
        }
        func heads4(_ t: Value) throws -> Value { try g.reshape(t, [batch, heads, ch, t.shape[2] * t.shape[3]]) }

        // Pass 1: Gram matrices and row norms.
        var gram: Value?
        var qStats: [Value] = [], kStats: [Value] = []
        for i in xs.indices {
            let qk = try qkv(i, [0, 1])
            let gi = try g.matmul(heads4(qk[0]), heads4(qk[1]), transposeB: true)
            gram = try gram.map { try g.add($0, gi) } ?? gi
            qStats.append(try rowStats(qk[0]))
            kStats.append(try rowStats(qk[1]))
        }
        let nq = try g.reshape(rowNorms(qStats), [batch, heads, ch, 1])
        let nk = try g.reshape(rowNorms(kStats), [batch, heads, 1, ch])
        let temperature = const(b.temperature.reshaped([1, heads, 1, 1]), "temperature")
        let attn = try g.softmax(g.mul(g.div(g.div(gram!, nq), nk), temperature))

        // Pass 2: A v, project_out, residual.
        let projectOut = const(b.projectOut, "project_out")
        var ys: [Value] = []
        for i in xs.indices {
            let v = try qkv(i, [2])[0]
            let o = try g.reshape(g.matmul(attn, heads4(v)), v.shape)
            ys.append(try g.add(xs[i], g.conv2d(o, weight: projectOut)))
        }

        // FFN: LayerNorm, 1x1, full 3x3 (halo), GELU, 1x1, residual.
        let norm2 = (const(b.norm2Weight, "norm2.w"), const(b.norm2Bias, "norm2.b"))
        let ffnIn = const(b.ffnIn, "ffn.in"), ffnConv = const(b.ffnConv, "ffn.conv"), ffnOut = const(b.ffnOut, "ffn.out")
        var out: [Value] = []
        for i in ys.indices {
            let (ext, top, bottom) = try extended(ys, i)
            let h = try g.layerNormChannels(ext, weight: norm2.0, bias: norm2.1, eps: 1e-5)
            let f = try g.gelu(g.conv2d(g.conv2d(h, weight: ffnIn), weight: ffnConv, padding(top: top, bottom: bottom)))
            out.append(try g.add(ys[i], g.conv2d(f, weight: ffnOut)))
        }
        return Banded(out)
    }
}
