import FusionCore

/// pointwiseDepthwise ([LayerNorm ->] 1x1 -> depthwise in one node): with and without the
/// norm, odd planes and channel counts off the GPU kernel's 8 x 8 tile and 16-channel
/// block, batches, asymmetric padding (Text-IF's bands), 1x3 and 5x5 kernels, and the GPU's
/// split path. Part of the convolution family.
enum PointwiseDepthwiseCases {
    struct Spec {
        var n, c, m, h, w, kh, kw: Int
        var padding: (Int, Int, Int, Int)
        var norm: Bool
        var splitBytes: Int? = nil
    }

    static func addParityCases(to b: inout OpCaseBuilder) throws {
        let specs = [
            Spec(n: 1, c: 5, m: 7, h: 9, w: 11, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true),
            Spec(n: 2, c: 19, m: 21, h: 13, w: 10, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: false),
            Spec(n: 2, c: 20, m: 33, h: 17, w: 23, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true),
            Spec(n: 1, c: 6, m: 9, h: 12, w: 9, kh: 3, kw: 3, padding: (0, 1, 1, 1), norm: true),
            Spec(n: 1, c: 7, m: 5, h: 10, w: 13, kh: 5, kw: 5, padding: (2, 2, 2, 2), norm: true),
        ]
        for s in specs { try add(&b, s) }
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        let specs = [
            Spec(n: 2, c: 48, m: 48, h: 37, w: 45, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true),
            Spec(n: 1, c: 17, m: 35, h: 21, w: 19, kh: 3, kw: 3, padding: (1, 0, 1, 1), norm: true),
            Spec(n: 2, c: 9, m: 14, h: 11, w: 15, kh: 1, kw: 3, padding: (0, 0, 1, 1), norm: false),
            Spec(n: 1, c: 3, m: 4, h: 1, w: 1, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true),
            Spec(n: 2, c: 12, m: 6, h: 8, w: 8, kh: 5, kw: 3, padding: (0, 0, 0, 0), norm: false),
            // Outputs over a 3000-byte planned binding: per-sample dispatches in 16-channel chunks.
            Spec(n: 2, c: 4, m: 40, h: 6, w: 6, kh: 3, kw: 3, padding: (1, 1, 1, 1), norm: true, splitBytes: 3000),
        ]
        for s in specs { try add(&b, s) }
    }

    private static func add(_ b: inout OpCaseBuilder, _ s: Spec) throws {
        let attrs = Conv2DAttributes(stride: (1, 1), padding: s.padding, dilation: (1, 1), groups: s.m)
        let x = b.input([s.n, s.c, s.h, s.w], range: -2...3)
        let pw = b.input([s.m, s.c, 1, 1], range: -0.5...0.5), dw = b.input([s.m, 1, s.kh, s.kw], range: -0.5...0.5)
        let normWeight = b.tensor([s.c], range: 0.5...1.5), normBias = b.tensor([s.c], range: -0.5...0.5)
        let desc = "\(s.norm ? "LN + " : "")x\(x.shape) 1x1 -> \(s.m) dw \(s.kh)x\(s.kw) pad\(s.padding)"
        try b.add(.pointwiseDepthwise, desc, inputs: [x, pw, dw], splitBytes: s.splitBytes) { g, v in
            let norm = s.norm ? (weight: g.constant(normWeight, name: "ln.w"), bias: g.constant(normBias, name: "ln.b"), eps: Float(1e-5)) : nil
            return try g.pointwiseDepthwise(v[0], norm: norm, pointwise: v[1], depthwise: v[2], attrs)
        }
    }
}
