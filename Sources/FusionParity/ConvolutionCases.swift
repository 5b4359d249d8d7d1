import FusionCore

/// conv2d: GEMM-style, depthwise and pointwise kernels, zero and reflect padding.
enum ConvolutionCases: OpFamilyCases {
    static func addParityCases(to b: inout OpCaseBuilder) throws {
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
            // Batch > 1 at the model graphs' shapes (TextFusion's 1 -> 24 embed, a 24 -> 48
            // pointwise, a 5x5 reflect depthwise, Text-IF's 3x3): each sample on its own slice.
            Spec(n: 3, c: 1, o: 24, h: 20, w: 28, k: 3, stride: 1, dilation: 1, groups: 1, pad: 1, mode: .reflect, bias: true),
            Spec(n: 4, c: 24, o: 48, h: 9, w: 13, k: 1, stride: 1, dilation: 1, groups: 1, pad: 0, mode: .zero, bias: true),
            Spec(n: 2, c: 24, o: 24, h: 16, w: 12, k: 5, stride: 1, dilation: 1, groups: 24, pad: 2, mode: .reflect, bias: true),
            Spec(n: 3, c: 8, o: 16, h: 16, w: 24, k: 3, stride: 1, dilation: 1, groups: 1, pad: 1, mode: .zero, bias: false),
        ]
        // Two fully random ones.
        for _ in 0..<2 {
            let k = b.pick([1, 3, 5])
            let groups = 1 + Int(b.next() % 2)
            let o = groups * b.dim(1...9), h = b.dim(k...29), w = b.dim(k...29), stride = 1 + Int(b.next() % 2)
            specs.append(Spec(n: 1, c: 3 * groups, o: o, h: h, w: w, k: k, stride: stride, dilation: 1, groups: groups, pad: k / 2,
                              mode: b.next() % 2 == 0 ? .zero : .reflect, bias: b.next() % 2 == 0))
        }
        // Text-IF-like 3x3 (the CPU runs it through Winograd F(4x4,3x3)): odd plane, reflect, bias.
        specs.append(Spec(n: 2, c: 40, o: 36, h: 37, w: 45, k: 3, stride: 1, dilation: 1, groups: 1, pad: 1, mode: .reflect, bias: true))
        for s in specs {
            let x = b.input([s.n, s.c, s.h, s.w])
            let w = b.tensor([s.o, s.c / s.groups, s.k, s.k], range: -0.5...0.5)
            let bias = b.tensor([s.o])
            let attrs = Conv2DAttributes(stride: s.stride, padding: s.pad, dilation: s.dilation, groups: s.groups, paddingMode: s.mode)
            let desc = "x\(x.shape) w\(w.shape) s\(s.stride) d\(s.dilation) g\(s.groups) p\(s.pad) \(s.mode)\(s.bias ? " +bias" : "")"
            try b.add(OpVariant(.conv2d(attrs)), desc, inputs: [x]) { g, v in
                try g.conv2d(v[0], weight: g.constant(w, name: "w"), bias: s.bias ? g.constant(bias, name: "b") : nil, attrs)
            }
        }
        // Asymmetric padding.
        let x = b.input([1, 4, 10, 12]), w = b.tensor([6, 4, 3, 2])
        let asymmetric = Conv2DAttributes(stride: (1, 1), padding: (0, 2, 1, 0), dilation: (1, 1), groups: 1, paddingMode: .reflect)
        try b.add(.conv2dReflect, "x\(x.shape) w\(w.shape) pad(0,2,1,0) reflect", inputs: [x]) { g, v in
            try g.conv2d(v[0], weight: g.constant(w), bias: nil, asymmetric)
        }
        // The per-sample head: [1, N*C, H, W] with a weight input [N, C, 3, 3] and N groups.
        for (n, c, h, w) in [(3, 48, 12, 20), (2, 7, 9, 11)] {
            let x = b.input([n, c, h, w], range: 0...1), k = b.input([n, c, 3, 3], range: -0.3...0.3), bias = b.tensor([n])
            try b.add(.conv2dReflect, "per-sample kernels x[\(n), \(c), \(h), \(w)] as [1, \(n * c)] w\(k.shape) (input) g\(n) p1 reflect +bias",
                      inputs: [x, k]) { g, v in
                let y = try g.conv2d(g.reshape(v[0], [1, n * c, h, w]), weight: v[1], bias: g.constant(bias, name: "b"),
                                     Conv2DAttributes(padding: 1, groups: n, paddingMode: .reflect))
                return try g.reshape(y, [n, 1, h, w])
            }
        }
        try EpilogueCases.addConvolutionCases(to: &b, large: false)
        try PointwiseDepthwiseCases.addParityCases(to: &b)
        try ConvTransposeCases.addParityCases(to: &b)
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        try EpilogueCases.addConvolutionCases(to: &b, large: true)
        try PointwiseDepthwiseCases.addTestCases(to: &b)
        try ConvTransposeCases.addTestCases(to: &b)
        // GEMM path: odd sizes, strides, dilation, groups, 1x1 maps, large K.
        try conv(&b, "3x3 pad1 bias", [[1, 3, 17, 19], [8, 3, 3, 3], [8]], .init(padding: 1))
        try conv(&b, "stride2 dil2 reflect asym", [[2, 5, 13, 11], [7, 5, 3, 3]],
                 .init(stride: (2, 2), padding: (2, 1, 1, 2), dilation: (2, 2), paddingMode: .reflect))
        try conv(&b, "groups2 3x2 stride(2,1)", [[1, 6, 9, 10], [4, 3, 3, 2], [4]], .init(stride: (2, 1), padding: (1, 0, 0, 1), groups: 2))
        try conv(&b, "groups3 reflect", [[2, 9, 7, 8], [6, 3, 3, 3], [6]], .init(padding: 1, groups: 3, paddingMode: .reflect))
        try conv(&b, "1x1 pointwise", [[2, 33, 7, 5], [17, 33, 1, 1], [17]])
        try conv(&b, "1x1 spatial 1x1 kernel", [[1, 16, 1, 1], [20, 16, 1, 1], [20]])
        try conv(&b, "1x1 spatial 3x3 pad1", [[3, 5, 1, 1], [3, 5, 3, 3], [3]], .init(padding: 1))
        try conv(&b, "single output channel 5x5", [[1, 7, 23, 9], [1, 7, 5, 5], [1]], .init(padding: 2))
        // Few channels on one side (the CPU's direct row path): TextFusion's head and embedding.
        try conv(&b, "48->1 3x3 reflect (TextFusion head)", [[2, 48, 13, 37], [1, 48, 3, 3], [1]], .init(padding: 1, paddingMode: .reflect))
        try conv(&b, "1->24 3x3 reflect (TextFusion embedding)", [[1, 1, 17, 29], [24, 1, 3, 3], [24]], .init(padding: 1, paddingMode: .reflect))
        try conv(&b, "16->3 5x4 asymmetric zero pad", [[1, 16, 11, 20], [3, 16, 5, 4]], .init(stride: (1, 1), padding: (2, 1, 0, 3)))
        try conv(&b, "2->9 7x7 reflect pad 3", [[2, 2, 12, 10], [9, 2, 7, 7], [9]], .init(padding: 3, paddingMode: .reflect))
        try conv(&b, "large K 96x9", [[1, 96, 20, 21], [64, 96, 3, 3], [64]], .init(padding: 1))
        try conv(&b, "large K 256x9 stride2", [[1, 256, 9, 8], [70, 256, 3, 3]], .init(stride: 2, padding: 1))
        try conv(&b, "1x1 stride2 (not pointwise)", [[1, 12, 9, 9], [10, 12, 1, 1]], .init(stride: 2))
        try conv(&b, "wide image few channels", [[1, 3, 40, 150], [5, 3, 3, 3], [5]], .init(padding: 1))
        // Depthwise.
        try conv(&b, "dw 3x3 reflect bias", [[1, 12, 15, 14], [12, 1, 3, 3], [12]], .init(padding: 1, groups: 12, paddingMode: .reflect))
        try conv(&b, "dw 5x5 stride2 dil2", [[2, 7, 19, 17], [7, 1, 5, 5]], .init(stride: 2, padding: 4, dilation: 2, groups: 7))
        try conv(&b, "dw 1x1 spatial", [[1, 5, 1, 1], [5, 1, 3, 3], [5]], .init(padding: 1, groups: 5))
        try conv(&b, "dw 17x17 taps", [[1, 3, 20, 20], [3, 1, 17, 17]], .init(padding: 8, groups: 3))
        // Split paths: 12x12 planes are 576 bytes, a 2 KiB planned binding holds 3 planes.
        try conv(&b, "split gemm conv", [[2, 10, 12, 12], [7, 10, 3, 3], [7]], .init(padding: 1), splitBytes: 2048)
        try conv(&b, "split grouped reflect", [[1, 8, 12, 12], [6, 4, 3, 3], [6]],
                 .init(stride: 2, padding: 1, groups: 2, paddingMode: .reflect), splitBytes: 2048)
        try conv(&b, "split depthwise", [[2, 9, 12, 12], [9, 1, 3, 3], [9]], .init(padding: 1, groups: 9), splitBytes: 2048)
        // Model-sized, compared on the second run (steady state).
        try conv(&b, "steady 3x3 64->64 128x128", [[1, 64, 128, 128], [64, 64, 3, 3], [64]], .init(padding: 1), runsTwice: true)
        try conv(&b, "winograd 3x3 40->36 reflect bias 2x37x45", [[2, 40, 37, 45], [36, 40, 3, 3], [36]],
                 .init(padding: 1, paddingMode: .reflect), runsTwice: true)
        try conv(&b, "steady dw 3x3 128ch 128x128", [[1, 128, 128, 128], [128, 1, 3, 3], [128]], .init(padding: 1, groups: 128), runsTwice: true)
        // 1x96x1024x1024 (384 MiB, over lavapipe's 128 MiB binding): channel chunks
        // accumulate into the output.
        try conv(&b, "3x3 96->96 on 384 MiB", [[1, 96, 1024, 1024], [96, 96, 3, 3], [96]], .init(padding: 1), isLarge: true,
                 reference64: .none(because: "87 G multiply-adds: minutes in plain float64 loops; the same chunked path runs at 96 x 20 x 21"))
        try addReferenceSweep(to: &b)
    }

    /// Kernel sizes, strides, dilations, groups and paddings against float64 on odd shapes:
    /// a fixed list, a seeded random sweep, and maps past the CPU's work-splitting sizes.
    private static func addReferenceSweep(to b: inout OpCaseBuilder) throws {
        typealias A = Conv2DAttributes
        let fixed: [(String, [Int], Int, (Int, Int), A, Bool)] = [
            ("1x1 bias", [2, 7, 5, 9], 5, (1, 1), A(), true),
            ("1x1 no bias, 1x1 spatial", [3, 13, 1, 1], 11, (1, 1), A(), false),
            ("3x3 zero pad 1 bias", [2, 5, 9, 11], 7, (3, 3), A(padding: 1), true),
            ("3x3 reflect pad 1 bias", [1, 3, 7, 6], 6, (3, 3), A(padding: 1, paddingMode: .reflect), true),
            ("3x3 valid no bias", [1, 5, 8, 7], 3, (3, 3), A(), false),
            ("3x3 zero pad 1 on 1x1 spatial", [2, 9, 1, 1], 5, (3, 3), A(padding: 1), true),
            ("5x5 depthwise reflect pad 2", [2, 6, 9, 10], 6, (5, 5), A(padding: 2, groups: 6, paddingMode: .reflect), true),
            ("5x5 depthwise zero pad 2 no bias", [1, 7, 6, 5], 7, (5, 5), A(padding: 2, groups: 7), false),
            ("5x5 depthwise multiplier 2", [1, 5, 7, 8], 10, (5, 5), A(padding: 2, groups: 5), true),
            ("3x3 stride 2 zero pad 1", [2, 7, 11, 9], 9, (3, 3), A(stride: 2, padding: 1), true),
            ("4x4 stride 2 reflect pad 1", [1, 3, 10, 12], 5, (4, 4), A(stride: 2, padding: 1, paddingMode: .reflect), false),
            ("2x2 stride 3 (stride > kernel)", [1, 3, 11, 10], 2, (2, 2), A(stride: 3), true),
            ("3x3 dilation 2 zero pad 2", [1, 5, 9, 13], 3, (3, 3), A(padding: 2, dilation: 2), true),
            ("3x3 dilation 2 reflect pad 2", [1, 3, 7, 9], 5, (3, 3), A(padding: 2, dilation: 2, paddingMode: .reflect), false),
            ("3x3 groups 2", [2, 6, 7, 5], 10, (3, 3), A(padding: 1, groups: 2), true),
            ("3x3 groups 3 reflect", [1, 9, 5, 6], 3, (3, 3), A(padding: 1, groups: 3, paddingMode: .reflect), false),
            ("3x3 asymmetric zero pad (0,1,2,1) stride (1,2)", [1, 5, 6, 7], 3, (3, 3), A(stride: (1, 2), padding: (0, 1, 2, 1), dilation: (1, 1), groups: 1, paddingMode: .zero), true),
            ("2x3 asymmetric reflect pad (1,0,0,2)", [2, 3, 5, 6], 7, (2, 3), A(stride: (1, 1), padding: (1, 0, 0, 2), dilation: (1, 1), groups: 1, paddingMode: .reflect), true),
            ("3x3 stride (2,1) dilation (2,3) asymmetric zero pad", [1, 3, 12, 11], 5, (3, 3),
             A(stride: (2, 1), padding: (1, 2, 3, 0), dilation: (2, 3), groups: 1, paddingMode: .zero), true),
            ("7x7 reflect pad 3", [1, 3, 9, 8], 13, (7, 7), A(padding: 3, paddingMode: .reflect), true),
            ("3x3 large channels reflect", [1, 67, 13, 15], 35, (3, 3), A(padding: 1, paddingMode: .reflect), true),
            ("1x1 large channels", [2, 131, 3, 5], 97, (1, 1), A(), true),
        ]
        for (label, x, o, k, attrs, bias) in fixed {
            try sweepConv(&b, label, x: x, outChannels: o, kernel: k, attrs, bias: bias)
        }
        try sweepConv(&b, "3x3 zero pad 1 bias, constant weights", x: [2, 5, 9, 11], outChannels: 7, kernel: (3, 3), A(padding: 1),
                      bias: true, constantWeights: true)
        // Random configurations from a seeded generator (valid by construction).
        var rng = SplitMix64(seed: 2024)
        func pick(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
        var made = 0
        while made < 24 {
            let groups = [1, 1, 1, 2, 3][pick(0...4)]
            let c = groups * pick(1...5), o = groups * pick(1...4)
            let kh = pick(1...5), kw = pick(1...5)
            let s = (pick(1...3), pick(1...3)), d = (pick(1...2), pick(1...2))
            let h = pick(1...12), w = pick(1...12)
            let mode: PaddingMode = pick(0...1) == 0 ? .zero : .reflect
            let p = (pick(0...3), pick(0...3), pick(0...3), pick(0...3))
            if mode == .reflect, !(p.0 < h && p.1 < h && p.2 < w && p.3 < w) { continue }
            if h + p.0 + p.1 < (kh - 1) * d.0 + 1 || w + p.2 + p.3 < (kw - 1) * d.1 + 1 { continue }
            let attrs = A(stride: s, padding: p, dilation: d, groups: groups, paddingMode: mode)
            try sweepConv(&b, "random #\(made) k\(kh)x\(kw) s\(s) d\(d) p\(p) g\(groups)", x: [pick(1...2), c, h, w], outChannels: o,
                          kernel: (kh, kw), attrs, bias: pick(0...1) == 1)
            made += 1
        }
        // Past the CPU's work-splitting sizes (several GEMM tasks, partial chunks).
        try sweepConv(&b, "3x3 reflect past the CPU's chunks", x: [2, 19, 37, 41], outChannels: 23, kernel: (3, 3),
                      A(padding: 1, paddingMode: .reflect), bias: true, constantWeights: true, weightRange: -0.3...0.3)
        try sweepConv(&b, "dw 5x5 reflect past the CPU's chunks", x: [2, 19, 37, 41], outChannels: 19, kernel: (5, 5),
                      A(padding: 2, groups: 19, paddingMode: .reflect), bias: false, weightRange: -0.3...0.3)
    }

    /// A conv2d case of `outChannels` filters of `kernel`, its weights inputs or constants.
    private static func sweepConv(_ b: inout OpCaseBuilder, _ label: String, x: [Int], outChannels: Int, kernel: (Int, Int),
                                  _ attrs: Conv2DAttributes, bias: Bool, constantWeights: Bool = false,
                                  weightRange: ClosedRange<Float> = -0.5...0.5) throws {
        let wShape = [outChannels, x[1] / attrs.groups, kernel.0, kernel.1]
        let input = b.input(x)
        let desc = "\(label): x\(x) w\(wShape)\(bias ? " +bias" : "")\(constantWeights ? " (constants)" : "") \(attrs.paddingMode)"
        if constantWeights {
            let w = b.tensor(wShape, range: weightRange), bt = b.tensor([outChannels])
            try b.add(OpVariant(.conv2d(attrs)), desc, inputs: [input]) { g, v in
                try g.conv2d(v[0], weight: g.constant(w, name: "w"), bias: bias ? g.constant(bt, name: "b") : nil, attrs)
            }
        } else {
            let operands = [input, b.input(wShape, range: weightRange)] + (bias ? [b.input([outChannels])] : [])
            try b.add(OpVariant(.conv2d(attrs)), desc, inputs: operands) { g, v in
                try g.conv2d(v[0], weight: v[1], bias: bias ? v[2] : nil, attrs)
            }
        }
    }

    /// A conv2d case whose operands (x, weight, optional bias) are all graph inputs.
    private static func conv(_ b: inout OpCaseBuilder, _ label: String, _ shapes: [[Int]], _ attrs: Conv2DAttributes = .init(),
                             splitBytes: Int? = nil, runsTwice: Bool = false, isLarge: Bool = false,
                             reference64: Reference64Bound = .family) throws {
        let inputs = shapes.map { b.input($0) }
        try b.add(OpVariant(.conv2d(attrs)), "\(label): x\(shapes[0]) w\(shapes[1])\(shapes.count > 2 ? " +bias" : "")", inputs: inputs,
                  reference64: reference64, splitBytes: splitBytes, runsTwice: runsTwice, isLarge: isLarge) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v.count > 2 ? v[2] : nil, attrs)
        }
    }

    static let benchFamilies = ["conv3x3", "dwconv3x3", "conv1x1", "textfusion-dwconv5x5"] + ConvTransposeCases.benchFamilies

    /// Text-IF's levels (48, 96, 192, 384 channels at 1/1, 1/2, 1/4, 1/8 of the image) and
    /// TextFusion's 24-channel depthwise 5x5.
    static func addBenchCases(to b: inout OpBenchBuilder) throws {
        for scale in [1, 2, 4, 8] {
            let c = 48 * scale, x = [1, c, b.height / scale, b.width / scale]
            try b.add("conv3x3", "conv2d 3x3 \(c)->\(c) 1/\(scale)", size: x) { b, g in
                try g.conv2d(g.input("x", shape: x), weight: g.constant(b.weight([c, c, 3, 3])), Conv2DAttributes(padding: 1))
            }
            try b.add("dwconv3x3", "conv2d depthwise 3x3 \(c) 1/\(scale)", size: x) { b, g in
                try g.conv2d(g.input("x", shape: x), weight: g.constant(b.weight([c, 1, 3, 3])), Conv2DAttributes(padding: 1, groups: c))
            }
            try b.add("conv1x1", "conv2d 1x1 \(c)->\(2 * c) 1/\(scale)", size: x) { b, g in
                try g.conv2d(g.input("x", shape: x), weight: g.constant(b.weight([2 * c, c, 1, 1])))
            }
        }
        let x = [1, 24, b.height, b.width]
        try b.add("textfusion-dwconv5x5", "conv2d depthwise 5x5 reflect 24 (TextFusion)", size: x) { b, g in
            try g.conv2d(g.input("x", shape: x), weight: g.constant(b.weight([24, 1, 5, 5])), bias: g.constant(b.weight([24])),
                         Conv2DAttributes(padding: 2, groups: 24, paddingMode: .reflect))
        }
        try ConvTransposeCases.addBenchCases(to: &b)
    }
}
