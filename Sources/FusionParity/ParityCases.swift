import FusionCore

/// Randomised cases for every op of the set: odd sizes, channel counts that are not a
/// multiple of 4, 1x1 spatial maps and large reductions. The same seed gives the same cases.
public enum ParityCases {
    public static func all(seed: UInt64 = 1) throws -> [ParityCase] {
        var b = CaseFactory(seed: seed)
        try b.convolutions()
        try b.matrixProducts()
        try b.normalisations()
        try b.pointwise()
        try b.layout()
        try b.attentions()
        try b.resampling()
        try b.batches()
        return b.cases
    }
}

/// Builds the cases; each helper adds one op family.
struct CaseFactory {
    var rng: SplitMix64
    var cases: [ParityCase] = []
    private var counter: UInt64 = 0

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// A random size in `range`, biased towards odd values.
    mutating func dim(_ range: ClosedRange<Int>) -> Int {
        let v = range.lowerBound + Int(rng.next() % UInt64(range.count))
        return (v % 2 == 0 && v + 1 <= range.upperBound) ? v + 1 : v
    }

    mutating func tensor(_ shape: [Int], range: ClosedRange<Float> = -1...1) -> Tensor {
        counter += 1
        return Tensor.random(shape: shape, seed: rng.next() &+ counter, in: range)
    }

    /// Adds a case whose graph has inputs `x0, x1, ...` and one output `y`.
    mutating func add(_ op: String, _ shapes: String, inputs: [Tensor],
                      _ build: (Graph, [Value]) throws -> Value) throws {
        let g = Graph()
        var feeds: [String: Tensor] = [:]
        var values: [Value] = []
        for (i, t) in inputs.enumerated() {
            values.append(g.input("x\(i)", shape: t.shape, dtype: t.dtype))
            feeds["x\(i)"] = t
        }
        g.output("y", try build(g, values))
        cases.append(ParityCase(op: op, shapes: shapes, graph: g, inputs: feeds))
    }

    mutating func convolutions() throws {
        struct Spec { var n, c, o, h, w, k, stride, dilation, groups: Int; var pad: Int; var mode: PaddingMode; var bias: Bool }
        var specs: [Spec] = [
            Spec(n: 1, c: 3, o: 5, h: 17, w: 23, k: 3, stride: 1, dilation: 1, groups: 1, pad: 1, mode: .zero, bias: true),
            Spec(n: 2, c: 7, o: 9, h: 13, w: 11, k: 3, stride: 1, dilation: 1, groups: 1, pad: 1, mode: .reflect, bias: true),
            Spec(n: 1, c: 6, o: 10, h: 15, w: 19, k: 3, stride: 2, dilation: 1, groups: 2, pad: 1, mode: .zero, bias: false),
            Spec(n: 1, c: 5, o: 3, h: 14, w: 9, k: 3, stride: 1, dilation: 2, groups: 1, pad: 2, mode: .zero, bias: true),
            Spec(n: 1, c: 13, o: 13, h: 21, w: 18, k: 5, stride: 1, dilation: 1, groups: 13, pad: 2, mode: .reflect, bias: true),
            Spec(n: 1, c: 9, o: 11, h: 1, w: 1, k: 1, stride: 1, dilation: 1, groups: 1, pad: 0, mode: .zero, bias: true),
            Spec(n: 1, c: 97, o: 7, h: 9, w: 8, k: 3, stride: 1, dilation: 1, groups: 1, pad: 1, mode: .zero, bias: false),
            Spec(n: 1, c: 24, o: 48, h: 33, w: 31, k: 1, stride: 1, dilation: 1, groups: 1, pad: 0, mode: .zero, bias: true),
        ]
        // Two fully random ones.
        for _ in 0..<2 {
            let k = [1, 3, 5][Int(rng.next() % 3)]
            let groups = 1 + Int(rng.next() % 2)
            specs.append(Spec(n: 1, c: 3 * groups, o: groups * dim(1...9), h: dim(k...29), w: dim(k...29), k: k,
                              stride: 1 + Int(rng.next() % 2), dilation: 1, groups: groups, pad: k / 2,
                              mode: rng.next() % 2 == 0 ? .zero : .reflect, bias: rng.next() % 2 == 0))
        }
        for s in specs {
            let x = tensor([s.n, s.c, s.h, s.w])
            let w = tensor([s.o, s.c / s.groups, s.k, s.k], range: -0.5...0.5)
            let bias = tensor([s.o])
            let attrs = Conv2DAttributes(stride: s.stride, padding: s.pad, dilation: s.dilation, groups: s.groups, paddingMode: s.mode)
            let desc = "x\(x.shape) w\(w.shape) s\(s.stride) d\(s.dilation) g\(s.groups) p\(s.pad) \(s.mode)\(s.bias ? " +bias" : "")"
            try add("conv2d", desc, inputs: [x]) { g, v in
                try g.conv2d(v[0], weight: g.constant(w, name: "w"), bias: s.bias ? g.constant(bias, name: "b") : nil, attrs)
            }
        }
        // Asymmetric padding.
        let x = tensor([1, 4, 10, 12]), w = tensor([6, 4, 3, 2])
        try add("conv2d", "x\(x.shape) w\(w.shape) pad(0,2,1,0) reflect", inputs: [x]) { g, v in
            try g.conv2d(v[0], weight: g.constant(w), bias: nil,
                         Conv2DAttributes(stride: (1, 1), padding: (0, 2, 1, 0), dilation: (1, 1), groups: 1, paddingMode: .reflect))
        }
    }

    mutating func matrixProducts() throws {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let m = dim(1...37), k = dim(1...45), n = dim(1...29), batch = dim(1...3)
            let a = tensor(ta ? [batch, k, m] : [batch, m, k]), bm = tensor(tb ? [1, n, k] : [1, k, n])
            try add("matmul", "a\(a.shape)\(ta ? "^T" : "") b\(bm.shape)\(tb ? "^T" : "")", inputs: [a, bm]) { g, v in
                try g.matmul(v[0], v[1], transposeA: ta, transposeB: tb, alpha: 0.5)
            }
        }
        let a = tensor([3, 2049]), bm = tensor([2049, 5])
        try add("matmul", "a\(a.shape) b\(bm.shape) (large K)", inputs: [a, bm]) { g, v in try g.matmul(v[0], v[1]) }
        let big = tensor([130, 67]), bigB = tensor([67, 129])
        try add("matmul", "a\(big.shape) b\(bigB.shape)", inputs: [big, bigB]) { g, v in try g.matmul(v[0], v[1]) }

        let x = tensor([3, 17, 33]), w = tensor([19, 33]), bias = tensor([19])
        try add("linear", "x\(x.shape) w\(w.shape) +bias", inputs: [x]) { g, v in
            try g.linear(v[0], weight: g.constant(w), bias: g.constant(bias))
        }
        let x2 = tensor([1, 512]), w2 = tensor([1023, 512])
        try add("linear", "x\(x2.shape) w\(w2.shape)", inputs: [x2]) { g, v in try g.linear(v[0], weight: g.constant(w2)) }
    }

    mutating func normalisations() throws {
        for (shape, withBias) in [([2, 13, 9, 11], true), ([1, 7, 1, 1], false), ([1, 4097, 1, 2], true), ([1, 48, 37, 29], true)] {
            let x = tensor(shape, range: -3...5), w = tensor([shape[1]]), b = tensor([shape[1]])
            try add("layer_norm_channels", "x\(shape)\(withBias ? " +bias" : "")", inputs: [x]) { g, v in
                try g.layerNormChannels(v[0], weight: g.constant(w), bias: withBias ? g.constant(b) : nil)
            }
        }
        for shape in [[5, 37], [3, 4099], [2, 3, 77, 33]] {
            let x = tensor(shape, range: -2...6), w = tensor([shape.last!]), b = tensor([shape.last!])
            try add("layer_norm", "x\(shape)", inputs: [x]) { g, v in try g.layerNorm(v[0], weight: g.constant(w), bias: g.constant(b)) }
        }
        for (shape, groups) in [([2, 16, 7, 9], 4), ([1, 32, 1, 1], 16), ([1, 48, 61, 79], 16)] {
            let x = tensor(shape, range: -1...3), w = tensor([shape[1]]), b = tensor([shape[1]])
            try add("group_norm", "x\(shape) groups \(groups)", inputs: [x]) { g, v in
                try g.groupNorm(v[0], groups: groups, weight: g.constant(w), bias: g.constant(b))
            }
        }
        for shape in [[1, 24, 33, 45], [2, 5, 1, 1], [1, 24, 512, 640]] {
            let x = tensor(shape, range: 0...1), w = tensor([shape[1]]), b = tensor([shape[1]])
            try add("global_norm", "x\(shape)", inputs: [x]) { g, v in try g.globalNorm(v[0], weight: g.constant(w), bias: g.constant(b)) }
            try add("global_stats", "x\(shape)", inputs: [x]) { g, v in try g.globalStats(v[0]) }
        }
        for shape in [[7, 13], [2, 5003], [3, 1], [2, 2, 9, 64]] {
            let x = tensor(shape, range: -8...8)
            try add("softmax", "x\(shape)", inputs: [x]) { g, v in try g.softmax(v[0]) }
        }
    }

    mutating func pointwise() throws {
        let kinds: [UnaryKind] = [.relu, .leakyReLU(slope: 0.01), .gelu, .quickGELU, .tanh, .sigmoid, .affine(scale: 0.5, shift: 0.5)]
        for kind in kinds {
            let x = tensor([2, 3, dim(1...17), dim(1...19)], range: -6...6)
            try add(kind.name, "x\(x.shape)", inputs: [x]) { g, v in try g.unary(kind, v[0]) }
        }
        let pairs: [([Int], [Int])] = [([2, 3, 4, 5], [3, 1, 1]), ([1, 5], [7, 1]), ([2, 7, 9, 11], [2, 7, 9, 11]), ([1, 512, 1, 1], [1, 1, 6, 7])]
        for kind in BinaryKind.allCases {
            for (sa, sb) in pairs {
                let a = tensor(sa), bt = kind == .div ? tensor(sb, range: 0.5...2) : tensor(sb)
                try add(kind.rawValue, "a\(sa) b\(sb)", inputs: [a, bt]) { g, v in try g.binary(kind, v[0], v[1]) }
            }
        }
        let x = tensor([2, 7, 5, 9]), gamma = tensor([2, 7]), beta = tensor([2, 7])
        try add("film", "x\(x.shape) gamma/beta [2, 7]", inputs: [x, gamma, beta]) { g, v in try g.film(v[0], gamma: v[1], beta: v[2]) }
        let slope = tensor([7])
        try add("prelu", "x\(x.shape) slope [7]", inputs: [x, slope]) { g, v in try g.prelu(v[0], slope: v[1]) }
    }

    mutating func layout() throws {
        let x = tensor([1, 12, 5, 7])
        try add("pixel_shuffle", "x\(x.shape) r2", inputs: [x]) { g, v in try g.pixelShuffle(v[0], factor: 2) }
        let y = tensor([2, 3, 10, 14])
        try add("pixel_unshuffle", "x\(y.shape) r2", inputs: [y]) { g, v in try g.pixelUnshuffle(v[0], factor: 2) }
        let parts = [tensor([1, 3, 5, 7]), tensor([1, 5, 5, 7]), tensor([1, 1, 5, 7])]
        try add("concat", "3 inputs, axis 1", inputs: parts) { g, v in try g.concat(v, axis: 1) }
        let cols = [tensor([2, 3, 5, 7]), tensor([2, 3, 5, 2])]
        try add("concat", "2 inputs, axis 3", inputs: cols) { g, v in try g.concat(v, axis: 3) }
        let s = tensor([2, 11, 6, 5])
        try add("slice", "x\(s.shape) axis 1 [3, 10)", inputs: [s]) { g, v in try g.slice(v[0], axis: 1, start: 3, length: 7) }
        try add("slice", "x\(s.shape) axis 2 [1, 4)", inputs: [s]) { g, v in try g.slice(v[0], axis: 2, start: 1, length: 3) }
        let p = tensor([1, 3, 9, 7])
        for mode in PaddingMode.allCases {
            try add("pad", "x\(p.shape) (1,2,3,0) \(mode)", inputs: [p]) { g, v in try g.pad(v[0], top: 1, bottom: 2, left: 3, right: 0, mode: mode) }
        }
        try add("crop", "x\(p.shape) y2 x1 5x4", inputs: [p]) { g, v in try g.crop(v[0], y: 2, x: 1, height: 5, width: 4) }
        let ids = Tensor(shape: [2, 7], ints: (0..<14).map { Int32(($0 * 7) % 50) })
        let table = tensor([50, 13])
        try add("embedding", "ids [2, 7] table [50, 13]", inputs: [ids]) { g, v in try g.embedding(v[0], table: g.constant(table)) }
        let r = tensor([2, 3, 4, 5])
        try add("permute", "x\(r.shape) [0, 2, 3, 1]", inputs: [r]) { g, v in try g.permute(v[0], [0, 2, 3, 1]) }
        let r6 = tensor([2, 3, 1, 4, 2, 3])
        try add("permute", "x\(r6.shape) [5, 3, 1, 0, 4, 2]", inputs: [r6]) { g, v in try g.permute(v[0], [5, 3, 1, 0, 4, 2]) }
        try add("reshape", "x\(r.shape) -> [6, 20] then relu", inputs: [r]) { g, v in try g.relu(try g.reshape(v[0], [6, 20])) }
    }

    mutating func attentions() throws {
        for (shape, heads) in [([1, 12, 9, 11], 2), ([1, 8, 1, 1], 1), ([2, 6, 256, 300], 3)] {
            let q = tensor(shape), k = tensor(shape), v = tensor(shape), t = tensor([heads], range: 0.5...2)
            try add("channel_attention", "qkv\(shape) heads \(heads)", inputs: [q, k, v, t]) { g, x in
                try g.channelAttention(q: x[0], k: x[1], v: x[2], temperature: x[3], heads: heads)
            }
        }
        let q = tensor([1, 2, 17, 8]), k = tensor([1, 2, 23, 8]), v = tensor([1, 2, 23, 5]), bias = tensor([2, 17, 23])
        try add("attention", "q\(q.shape) k\(k.shape) v\(v.shape) bias\(bias.shape)", inputs: [q, k, v, bias]) { g, x in
            try g.attention(q: x[0], k: x[1], v: x[2], bias: x[3], scale: 0.35)
        }
        let cq = tensor([2, 3, 77, 16]), ck = tensor([2, 3, 77, 16]), cv = tensor([2, 3, 77, 16])
        try add("attention", "q/k/v\(cq.shape) causal", inputs: [cq, ck, cv]) { g, x in
            try g.attention(q: x[0], k: x[1], v: x[2], scale: 0.25, causal: true)
        }
        let lq = tensor([1, 1, 2000, 64]), lk = tensor([1, 1, 2000, 64]), lv = tensor([1, 1, 2000, 64])
        try add("attention", "q/k/v\(lq.shape) (N = 2000)", inputs: [lq, lk, lv]) { g, x in
            try g.attention(q: x[0], k: x[1], v: x[2], scale: 0.125)
        }
        for (c, h, w, window, heads) in [(24, 16, 24, 8, 2), (6, 8, 12, 4, 3)] {
            let q = tensor([1, c, h, w]), k = tensor([1, c, h, w]), v = tensor([1, c, h, w])
            let bias = tensor([heads, window * window, window * window])
            try add("window_attention", "qkv [1, \(c), \(h), \(w)] window \(window) heads \(heads)", inputs: [q, k, v, bias]) { g, x in
                try g.windowAttention(q: x[0], k: x[1], v: x[2], bias: x[3], heads: heads, window: window,
                                      scale: 1 / Float(c / heads).squareRoot())
            }
        }
    }

    mutating func resampling() throws {
        let x = tensor([1, 3, 9, 13])
        for mode in ResizeMode.allCases {
            for (h, w) in [(20, 27), (4, 5), (9, 13)] {
                try add("resize", "x\(x.shape) -> \(h)x\(w) \(mode)", inputs: [x]) { g, v in try g.resize(v[0], mode: mode, height: h, width: w) }
            }
        }
    }

    /// Batch > 1 of every op the batched model graphs use (TextFusion, Text-IF), with the
    /// shapes those graphs give them: each sample must be computed on its own slice.
    mutating func batches() throws {
        // conv2d: TextFusion's 1 -> 24 embed, a 24 -> 48 pointwise, a 5x5 reflect depthwise,
        // Text-IF's 3x3 zero-padded conv, and the per-sample head: [1, N*48, H, W] with a
        // weight input [N, 48, 3, 3] and N groups (odd channel counts too).
        struct Spec { var n, c, o, h, w, k, groups, pad: Int; var mode: PaddingMode; var bias: Bool }
        let specs = [
            Spec(n: 3, c: 1, o: 24, h: 20, w: 28, k: 3, groups: 1, pad: 1, mode: .reflect, bias: true),
            Spec(n: 4, c: 24, o: 48, h: 9, w: 13, k: 1, groups: 1, pad: 0, mode: .zero, bias: true),
            Spec(n: 2, c: 24, o: 24, h: 16, w: 12, k: 5, groups: 24, pad: 2, mode: .reflect, bias: true),
            Spec(n: 3, c: 8, o: 16, h: 16, w: 24, k: 3, groups: 1, pad: 1, mode: .zero, bias: false),
        ]
        for s in specs {
            let x = tensor([s.n, s.c, s.h, s.w])
            let w = tensor([s.o, s.c / s.groups, s.k, s.k], range: -0.5...0.5)
            let bias = tensor([s.o])
            let attrs = Conv2DAttributes(padding: s.pad, groups: s.groups, paddingMode: s.mode)
            try add("conv2d", "batch x\(x.shape) w\(w.shape) g\(s.groups) p\(s.pad) \(s.mode)\(s.bias ? " +bias" : "")", inputs: [x]) { g, v in
                try g.conv2d(v[0], weight: g.constant(w, name: "w"), bias: s.bias ? g.constant(bias, name: "b") : nil, attrs)
            }
        }
        for (n, c, h, w) in [(3, 48, 12, 20), (2, 7, 9, 11)] {
            let x = tensor([n, c, h, w], range: 0...1), k = tensor([n, c, 3, 3], range: -0.3...0.3), bias = tensor([n])
            try add("conv2d", "per-sample kernels x[\(n), \(c), \(h), \(w)] as [1, \(n * c)] w\(k.shape) (input) g\(n) p1 reflect +bias",
                    inputs: [x, k]) { g, v in
                let y = try g.conv2d(g.reshape(v[0], [1, n * c, h, w]), weight: v[1], bias: g.constant(bias, name: "b"),
                                     Conv2DAttributes(padding: 1, groups: n, paddingMode: .reflect))
                return try g.reshape(y, [n, 1, h, w])
            }
        }

        // Per-sample vectors: the RLN meta linears and Text-IF's prompt MLP.
        for (x, w) in [(tensor([4, 1]), tensor([24, 1])), (tensor([3, 512], range: -0.1...0.1), tensor([64, 512]))] {
            let bias = tensor([w.shape[0]])
            try add("linear", "batch x\(x.shape) w\(w.shape) +bias", inputs: [x]) { g, v in
                try g.linear(v[0], weight: g.constant(w), bias: g.constant(bias))
            }
        }
        // Batched attention operands on both sides (Text-IF's banded Gram matrices).
        let ga = tensor([2, 3, 5, 37]), gb = tensor([2, 3, 5, 37])
        try add("matmul", "a\(ga.shape) b\(gb.shape)^T (both batched)", inputs: [ga, gb]) { g, v in
            try g.matmul(v[0], v[1], transposeB: true)
        }

        // Statistics per sample.
        for shape in [[3, 24, 17, 19], [4, 5, 1, 1]] {
            let x = tensor(shape, range: 0...1), w = tensor([shape[1]]), b = tensor([shape[1]])
            try add("global_norm", "batch x\(shape)", inputs: [x]) { g, v in try g.globalNorm(v[0], weight: g.constant(w), bias: g.constant(b)) }
            try add("global_stats", "batch x\(shape)", inputs: [x]) { g, v in try g.globalStats(v[0]) }
        }
        let ln = tensor([3, 16, 11, 7], range: -2...3), lw = tensor([16]), lb = tensor([16])
        try add("layer_norm_channels", "batch x\(ln.shape) +bias", inputs: [ln]) { g, v in
            try g.layerNormChannels(v[0], weight: g.constant(lw), bias: g.constant(lb))
        }
        let gn = tensor([3, 64, 2, 3], range: -1...3), gw = tensor([64]), gbias = tensor([64])
        try add("group_norm", "batch x\(gn.shape) groups 16", inputs: [gn]) { g, v in
            try g.groupNorm(v[0], groups: 16, weight: g.constant(gw), bias: g.constant(gbias))
        }

        // Per-sample broadcasts: RLN's rescale / rebias [N, C, 1, 1] and FiLM's [N, C].
        let xb = tensor([3, 24, 9, 7]), sb = tensor([3, 24, 1, 1])
        for kind in [BinaryKind.add, .mul] {
            try add(kind.rawValue, "batch a\(xb.shape) b\(sb.shape)", inputs: [xb, sb]) { g, v in try g.binary(kind, v[0], v[1]) }
        }
        let fx = tensor([4, 16, 3, 5]), fg = tensor([4, 16]), fb = tensor([4, 16])
        try add("film", "batch x\(fx.shape) gamma/beta [4, 16]", inputs: [fx, fg, fb]) { g, v in try g.film(v[0], gamma: v[1], beta: v[2]) }

        // Window attention over samples; channel and token attention.
        let wq = tensor([3, 24, 16, 16]), wk = tensor([3, 24, 16, 16]), wv = tensor([3, 24, 16, 16]), wbias = tensor([2, 64, 64])
        try add("window_attention", "batch qkv\(wq.shape) window 8 heads 2", inputs: [wq, wk, wv, wbias]) { g, x in
            try g.windowAttention(q: x[0], k: x[1], v: x[2], bias: x[3], heads: 2, window: 8, scale: 1 / Float(12).squareRoot())
        }
        let cq = tensor([3, 16, 6, 10]), ck = tensor([3, 16, 6, 10]), cv = tensor([3, 16, 6, 10]), ct = tensor([2], range: 0.5...2)
        try add("channel_attention", "batch qkv\(cq.shape) heads 2", inputs: [cq, ck, cv, ct]) { g, x in
            try g.channelAttention(q: x[0], k: x[1], v: x[2], temperature: x[3], heads: 2)
        }
        let img = tensor([3, 64, 2, 3])
        try add("attention", "batch tokens of x\(img.shape) as [3, 1, 6, 64]", inputs: [img]) { g, x in
            let t = try g.permute(g.reshape(x[0], [3, 1, 64, 6]), [0, 1, 3, 2])
            let o = try g.attention(q: t, k: t, v: t, scale: 0.125)
            return try g.reshape(g.permute(o, [0, 1, 3, 2]), [3, 64, 2, 3])
        }

        // Layout along the batch.
        let p = tensor([3, 2, 13, 18])
        try add("pad", "batch x\(p.shape) (0,3,0,2) reflect", inputs: [p]) { g, v in try g.pad(v[0], top: 0, bottom: 3, left: 0, right: 2, mode: .reflect) }
        try add("crop", "batch x\(p.shape) y0 x0 10x15", inputs: [p]) { g, v in try g.crop(v[0], y: 0, x: 0, height: 10, width: 15) }
        let ps = tensor([2, 16, 5, 6])
        try add("pixel_shuffle", "batch x\(ps.shape) r2", inputs: [ps]) { g, v in try g.pixelShuffle(v[0], factor: 2) }
        try add("pixel_unshuffle", "batch x\(p.shape) r2 (after crop to 12x18)", inputs: [p]) { g, v in
            try g.pixelUnshuffle(g.crop(v[0], y: 0, x: 0, height: 12, width: 18), factor: 2)
        }
        let ca = tensor([3, 4, 6, 5]), cb = tensor([3, 2, 6, 5])
        try add("concat", "batch 2 inputs [3, 4|2, 6, 5], axis 1", inputs: [ca, cb]) { g, v in try g.concat(v, axis: 1) }
        let sl = tensor([3, 10, 4, 4])
        try add("slice", "batch x\(sl.shape) axis 1 [4, 9)", inputs: [sl]) { g, v in try g.slice(v[0], axis: 1, start: 4, length: 5) }
        try add("slice", "batch x\(sl.shape) axis 0 [1, 3)", inputs: [sl]) { g, v in try g.slice(v[0], axis: 0, start: 1, length: 2) }
        for kind in [UnaryKind.tanh, .gelu] {
            let u = tensor([3, 5, 7, 9], range: -4...4)
            try add(kind.name, "batch x\(u.shape)", inputs: [u]) { g, v in try g.unary(kind, v[0]) }
        }
        let r = tensor([2, 3, 9, 13])
        try add("resize", "batch x\(r.shape) -> 18x26 bilinear", inputs: [r]) { g, v in try g.resize(v[0], mode: .bilinear, height: 18, width: 26) }
    }
}
