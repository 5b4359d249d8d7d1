import FusionCore

/// Token attention (flash-style, causal, bias), Swin window attention and Restormer channel
/// attention.
enum AttentionCases: OpFamilyCases {
    static func addParityCases(to b: inout OpCaseBuilder) throws {
        for (shape, heads) in [([1, 12, 9, 11], 2), ([1, 8, 1, 1], 1), ([2, 6, 256, 300], 3), ([3, 16, 6, 10], 2)] {
            let qkv = (0..<3).map { _ in b.input(shape) }, t = b.input([heads], range: 0.5...2)
            try b.add(.channelAttention, "\(shape[0] > 1 ? "batch " : "")qkv\(shape) heads \(heads)", inputs: qkv + [t]) { g, x in
                try g.channelAttention(q: x[0], k: x[1], v: x[2], temperature: x[3], heads: heads)
            }
        }
        let q = b.input([1, 2, 17, 8]), k = b.input([1, 2, 23, 8]), v = b.input([1, 2, 23, 5]), bias = b.input([2, 17, 23])
        try b.add(.attention, "q\(q.shape) k\(k.shape) v\(v.shape) bias\(bias.shape)", inputs: [q, k, v, bias]) { g, x in
            try g.attention(q: x[0], k: x[1], v: x[2], bias: x[3], scale: 0.35)
        }
        for (shape, scale, causal) in [([2, 3, 77, 16], Float(0.25), true), ([1, 1, 2000, 64], 0.125, false)] {
            let qkv = (0..<3).map { _ in b.input(shape) }
            try b.add(.attention, "q/k/v\(shape)\(causal ? " causal" : " (N = \(shape[2]))")", inputs: qkv) { g, x in
                try g.attention(q: x[0], k: x[1], v: x[2], scale: scale, causal: causal)
            }
        }
        // Batched tokens of an image (Text-IF's spatial attention): permutes around the op.
        let img = b.input([3, 64, 2, 3])
        try b.add(.attention, "batch tokens of x\(img.shape) as [3, 1, 6, 64]", inputs: [img]) { g, x in
            let t = try g.permute(g.reshape(x[0], [3, 1, 64, 6]), [0, 1, 3, 2])
            let o = try g.attention(q: t, k: t, v: t, scale: 0.125)
            return try g.reshape(g.permute(o, [0, 1, 3, 2]), [3, 64, 2, 3])
        }
        for (n, c, h, w, window, heads) in [(1, 24, 16, 24, 8, 2), (1, 6, 8, 12, 4, 3), (3, 24, 16, 16, 8, 2)] {
            let qkv = (0..<3).map { _ in b.input([n, c, h, w]) }
            let bias = b.input([heads, window * window, window * window])
            try b.add(.windowAttention, "\(n > 1 ? "batch " : "")qkv [\(n), \(c), \(h), \(w)] window \(window) heads \(heads)",
                      inputs: qkv + [bias]) { g, x in
                try g.windowAttention(q: x[0], k: x[1], v: x[2], bias: x[3], heads: heads, window: window,
                                      scale: 1 / Float(c / heads).squareRoot())
            }
        }
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        try attention(&b, "plain", [[1, 2, 37, 16], [1, 2, 53, 16], [1, 2, 53, 24]], scale: 0.25)
        try attention(&b, "causal bias [H,1,Nk]", [[1, 2, 45, 64], [1, 2, 45, 64], [1, 2, 45, 64], [2, 1, 45]], scale: 0.125, causal: true)
        try attention(&b, "causal Nq<Nk full bias", [[2, 2, 5, 8], [2, 2, 40, 8], [2, 2, 40, 5], [2, 2, 5, 40]], scale: 0.3, causal: true)
        try attention(&b, "causal Nq>Nk (rows without keys)", [[1, 1, 40, 8], [1, 1, 5, 8], [1, 1, 5, 8]], scale: 0.3, causal: true)
        try attention(&b, "d128", [[1, 1, 33, 128], [1, 1, 70, 128], [1, 1, 70, 128]], scale: 1 / Float(128).squareRoot())
        try attention(&b, "d200 dv300", [[1, 2, 9, 200], [1, 2, 20, 200], [1, 2, 20, 300], [9, 1]], scale: 0.07)
        try attention(&b, "d512", [[1, 1, 4, 512], [1, 1, 33, 512], [1, 1, 33, 512]], scale: 1 / Float(512).squareRoot())
        try attention(&b, "single token", [[3, 1, 1, 3], [3, 1, 1, 3], [3, 1, 1, 2]], scale: 1)
        try attention(&b, "Nk 20480", [[1, 1, 4, 64], [1, 1, 20480, 64], [1, 1, 20480, 64]], scale: 0.125)
        // Few query blocks over many keys: the keys are split over workgroups and merged by
        // attention_combine.comp (flash-decoding), with causal masks crossing split borders.
        try attention(&b, "key splits causal bias", [[1, 2, 40, 32], [1, 2, 5000, 32], [1, 2, 5000, 48], [1, 1, 40, 5000]],
                      scale: 0.2, causal: true)
        try attention(&b, "key splits, rows without keys", [[1, 1, 2100, 8], [1, 1, 2048, 8], [1, 1, 2048, 8]], scale: 0.3, causal: true)
        // A bias that masks everything for some rows (-inf) must give zeros, not NaN.
        let mask = Tensor(shape: [1, 1, 3, 6], floats: [
            0, 0, 0, 0, 0, 0,
            -.infinity, -.infinity, -.infinity, -.infinity, -.infinity, -.infinity,
            -.infinity, 0, -.infinity, 0, -.infinity, 0,
        ])
        try attention(&b, "-inf bias rows", [[1, 1, 3, 4], [1, 1, 6, 4], [1, 1, 6, 4], [1, 1, 3, 6]], scale: 1, fixed: [3: mask])
        try attention(&b, "split over bh", [[2, 3, 20, 16], [2, 3, 30, 16], [2, 3, 30, 8], [3, 20, 30]], scale: 0.25, causal: true,
                      splitBytes: 4096)
        try attention(&b, "steady 1x8x1024x64", [[1, 8, 1024, 64], [1, 8, 1024, 64], [1, 8, 1024, 64]], scale: 0.125, runsTwice: true)

        try window(&b, "win4 heads2 dv3", [[1, 8, 8, 8], [1, 8, 8, 8], [1, 6, 8, 8], [2, 16, 16]], heads: 2, window: 4, scale: 0.5)
        try window(&b, "win8 dq32 batch2", [[2, 64, 16, 24], [2, 64, 16, 24], [2, 64, 16, 24], [2, 64, 64]], heads: 2, window: 8,
                   scale: 1 / Float(32).squareRoot())
        try window(&b, "win16 T256", [[1, 16, 16, 32], [1, 16, 16, 32], [1, 16, 16, 32], [1, 256, 256]], heads: 1, window: 16, scale: 0.25)
        try window(&b, "win7 swin heads3", [[1, 12, 14, 14], [1, 12, 14, 14], [1, 9, 14, 14], [3, 49, 49]], heads: 3, window: 7, scale: 0.5)
        try window(&b, "win1", [[1, 4, 3, 5], [1, 4, 3, 5], [1, 2, 3, 5], [2, 1, 1]], heads: 2, window: 1, scale: 1)
        try window(&b, "win20 T400 (multi-pass)", [[1, 4, 20, 20], [1, 4, 20, 20], [1, 4, 20, 20], [1, 400, 400]], heads: 1, window: 20, scale: 0.5)
        try window(&b, "win4 dq130", [[1, 130, 4, 4], [1, 130, 4, 4], [1, 70, 4, 4], [1, 16, 16]], heads: 1, window: 4, scale: 0.1)
        try window(&b, "split per (n, head)", [[2, 8, 8, 8], [2, 8, 8, 8], [2, 4, 8, 8], [2, 16, 16]], heads: 2, window: 4, scale: 0.5,
                   splitBytes: 2048)
        try window(&b, "steady 1x64x128x128 w8", [[1, 64, 128, 128], [1, 64, 128, 128], [1, 64, 128, 128], [2, 64, 64]], heads: 2,
                   window: 8, scale: 0.18, runsTwice: true)

        try channel(&b, "heads2 5x5", [1, 8, 5, 5], heads: 2, fixed: [3: Tensor(shape: [2], floats: [0.7, 1.9])])
        try channel(&b, "C48 64x64 batch2", [2, 48, 64, 64], heads: 1)
        try channel(&b, "300x300 heads3 (split-K)", [1, 6, 300, 301], heads: 3, range: -2...2)
        try channel(&b, "1x1 spatial", [1, 4, 1, 1], heads: 2)
        try channel(&b, "Ch2 3x7", [1, 10, 3, 7], heads: 5)
        try channel(&b, "Ch70", [1, 70, 9, 9], heads: 1)
        try channel(&b, "zero q rows (eps clamp)", [1, 4, 3, 3], heads: 1, fixed: [0: Tensor(shape: [1, 4, 3, 3])])
        // 9000-element rows (36 KB): a 64 KiB planned binding holds one row of a 4-row head.
        try channel(&b, "split rows / K", [1, 8, 90, 100], heads: 2, splitBytes: 65536)
        try channel(&b, "steady 1x48x256x256", [1, 48, 256, 256], heads: 1, runsTwice: true)
        // Restormer at full resolution: 240 MiB per tensor, H*W = 1.3M reduced in chunks.
        try channel(&b, "1x48x1024x1280", [1, 48, 1024, 1280], heads: 1, isLarge: true)
        try addReferenceSweep(to: &b)
    }

    /// Bias shapes of every broadcast, causal with Nq != Nk, one query or one key, windows of
    /// 1 to 8, and sizes past the CPU's task splits, against float64.
    private static func addReferenceSweep(to b: inout OpCaseBuilder) throws {
        let tokens: [(b: Int, h: Int, nq: Int, nk: Int, d: Int, dv: Int, bias: [Int]?, causal: Bool)] = [
            (2, 3, 5, 7, 8, 6, [3, 5, 7], false),      // [H, Nq, Nk] bias, Nq != Nk
            (2, 3, 5, 7, 8, 6, nil, false),
            (1, 2, 9, 9, 16, 16, nil, true),
            (1, 2, 9, 9, 16, 5, [2, 9, 9], true),
            (2, 1, 5, 9, 7, 3, [1, 1, 5, 9], true),    // causal with Nq < Nk
            (1, 4, 1, 13, 8, 8, nil, true),            // one query sees all
            (2, 2, 6, 1, 5, 7, [2, 2, 6, 1], false),   // one key
            (1, 2, 17, 300, 32, 24, nil, false),       // long Nk
            (1, 3, 70, 70, 12, 12, [70, 70], true),    // 2-D bias
            (2, 3, 4, 6, 3, 2, [2, 1, 4, 6], false),
            (1, 1, 3, 129, 64, 64, [1, 129], false),   // bias broadcast over queries
            (2, 4, 130, 257, 64, 40, [4, 130, 257], false),
            (2, 4, 130, 130, 64, 40, nil, true),
        ]
        for t in tokens {
            let shapes = [[t.b, t.h, t.nq, t.d], [t.b, t.h, t.nk, t.d], [t.b, t.h, t.nk, t.dv]]
            let x = shapes.map { b.input($0) } + (t.bias.map { [b.input($0, range: -2...2)] } ?? [])
            let scale = Float(1 / Double(t.d).squareRoot())
            try b.add(.attention, "float64 sweep: q\(shapes[0]) k\(shapes[1]) v\(shapes[2])\(t.bias.map { " bias\($0)" } ?? "")\(t.causal ? " causal" : "")",
                      inputs: x) { g, v in
                try g.attention(q: v[0], k: v[1], v: v[2], bias: v.count > 3 ? v[3] : nil, scale: scale, causal: t.causal)
            }
        }
        for (n, c, cv, h, w, heads, window) in [(2, 6, 10, 8, 12, 2, 4), (1, 3, 5, 4, 6, 1, 2), (1, 9, 6, 8, 16, 3, 8), (1, 4, 4, 3, 5, 1, 1),
                                                 (1, 14, 7, 7, 14, 7, 7), (2, 12, 9, 16, 24, 3, 8)] {
            let q = b.input([n, c, h, w]), k = b.input([n, c, h, w]), v = b.input([n, cv, h, w])
            let bias = b.tensor([heads, window * window, window * window], range: -2...2)
            let scale = Float(1 / Double(c / heads).squareRoot())
            try b.add(.windowAttention, "float64 sweep: q[\(n), \(c), \(h), \(w)] v[\(n), \(cv), \(h), \(w)] heads \(heads) window \(window)",
                      inputs: [q, k, v]) { g, x in
                try g.windowAttention(q: x[0], k: x[1], v: x[2], bias: g.constant(bias), heads: heads, window: window, scale: scale)
            }
        }
        for (shape, heads) in [([2, 6, 5, 7], 2), ([1, 3, 4, 4], 1), ([1, 9, 1, 1], 3), ([1, 20, 8, 9], 4), ([2, 10, 3, 17], 2), ([2, 30, 20, 24], 3)] {
            let qkv = (0..<3).map { _ in b.input(shape) }, t = b.tensor([heads], range: 0.5...3)
            try b.add(.channelAttention, "float64 sweep: qkv\(shape) heads \(heads)", inputs: qkv) { g, x in
                try g.channelAttention(q: x[0], k: x[1], v: x[2], temperature: g.constant(t), heads: heads)
            }
        }
    }

    /// Graph inputs of `shapes`, random in `range` except the `fixed` ones.
    private static func inputs(_ b: inout OpCaseBuilder, _ shapes: [[Int]], range: ClosedRange<Float> = -1...1,
                               fixed: [Int: Tensor] = [:]) -> [CaseInput] {
        shapes.enumerated().map { i, shape in fixed[i].map(CaseInput.fixed) ?? b.input(shape, range: range) }
    }

    private static func attention(_ b: inout OpCaseBuilder, _ label: String, _ shapes: [[Int]], scale: Float, causal: Bool = false,
                                  fixed: [Int: Tensor] = [:], splitBytes: Int? = nil, runsTwice: Bool = false) throws {
        let x = inputs(&b, shapes, fixed: fixed)
        let desc = "\(label): q\(shapes[0]) k\(shapes[1]) v\(shapes[2])" + (shapes.count > 3 ? " bias\(shapes[3])" : "")
        try b.add(.attention, desc, inputs: x, splitBytes: splitBytes, runsTwice: runsTwice) { g, v in
            try g.attention(q: v[0], k: v[1], v: v[2], bias: v.count > 3 ? v[3] : nil, scale: scale, causal: causal)
        }
    }

    private static func window(_ b: inout OpCaseBuilder, _ label: String, _ shapes: [[Int]], heads: Int, window: Int, scale: Float,
                               splitBytes: Int? = nil, runsTwice: Bool = false) throws {
        let x = inputs(&b, shapes)
        try b.add(.windowAttention, "\(label): q\(shapes[0]) v\(shapes[2]) bias\(shapes[3])", inputs: x, splitBytes: splitBytes,
                  runsTwice: runsTwice) { g, v in
            try g.windowAttention(q: v[0], k: v[1], v: v[2], bias: v[3], heads: heads, window: window, scale: scale)
        }
    }

    private static func channel(_ b: inout OpCaseBuilder, _ label: String, _ shape: [Int], heads: Int, range: ClosedRange<Float> = -1...1,
                                fixed: [Int: Tensor] = [:], splitBytes: Int? = nil, runsTwice: Bool = false, isLarge: Bool = false) throws {
        let x = inputs(&b, [shape, shape, shape, [heads]], range: range, fixed: fixed)
        try b.add(.channelAttention, "\(label): qkv\(shape) heads \(heads)", inputs: x, splitBytes: splitBytes, runsTwice: runsTwice,
                  isLarge: isLarge) { g, v in
            try g.channelAttention(q: v[0], k: v[1], v: v[2], temperature: v[3], heads: heads)
        }
    }

    static let benchFamilies = ["channel-attention", "spatial-attention", "window-attention"]

    /// Text-IF's channel attention at its four levels and its spatial attention at 1/8;
    /// TextFusion's 8x8 window attention over 24 channels.
    static func addBenchCases(to b: inout OpBenchBuilder) throws {
        for scale in [1, 2, 4, 8] {
            let c = 48 * scale, x = [1, c, b.height / scale, b.width / scale]
            try b.add("channel-attention", "channel attention \(c) ch \(scale) heads 1/\(scale)", size: x) { _, g in
                let q = g.input("q", shape: x), k = g.input("k", shape: x), v = g.input("v", shape: x)
                let t = g.constant(Tensor.random(shape: [scale], seed: 3, in: 0.5...1.5))
                return try g.channelAttention(q: q, k: k, v: v, temperature: t, heads: scale)
            }
        }
        let n = (b.height / 8) * (b.width / 8), d = 384
        try b.add("spatial-attention", "spatial attention N=\(n) d=\(d) (Text-IF 1/8)", size: [1, 1, n, d]) { _, g in
            let q = g.input("q", shape: [1, 1, n, d]), k = g.input("k", shape: [1, 1, n, d]), v = g.input("v", shape: [1, 1, n, d])
            return try g.attention(q: q, k: k, v: v, scale: 1 / Float(d).squareRoot())
        }
        let x = [1, 24, b.height, b.width]
        try b.add("window-attention", "window attention 24 ch 2 heads 8x8 (TextFusion)", size: x) { b, g in
            let q = g.input("q", shape: x), k = g.input("k", shape: x), v = g.input("v", shape: x)
            return try g.windowAttention(q: q, k: k, v: v, bias: g.constant(b.weight([2, 64, 64])), heads: 2, window: 8,
                                         scale: 1 / Float(12).squareRoot())
        }
    }
}
