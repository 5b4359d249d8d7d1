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
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
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
        try conv(&b, "steady dw 3x3 128ch 128x128", [[1, 128, 128, 128], [128, 1, 3, 3], [128]], .init(padding: 1, groups: 128), runsTwice: true)
        // 1x96x1024x1024 (384 MiB, over lavapipe's 128 MiB binding): channel chunks
        // accumulate into the output.
        try conv(&b, "3x3 96->96 on 384 MiB", [[1, 96, 1024, 1024], [96, 96, 3, 3], [96]], .init(padding: 1), isLarge: true)
    }

    /// A conv2d case whose operands (x, weight, optional bias) are all graph inputs.
    private static func conv(_ b: inout OpCaseBuilder, _ label: String, _ shapes: [[Int]], _ attrs: Conv2DAttributes = .init(),
                             splitBytes: Int? = nil, runsTwice: Bool = false, isLarge: Bool = false) throws {
        let inputs = shapes.map { b.input($0) }
        try b.add(OpVariant(.conv2d(attrs)), "\(label): x\(shapes[0]) w\(shapes[1])\(shapes.count > 2 ? " +bias" : "")", inputs: inputs,
                  splitBytes: splitBytes, runsTwice: runsTwice, isLarge: isLarge) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: v.count > 2 ? v[2] : nil, attrs)
        }
    }

    static let benchFamilies = ["conv3x3", "dwconv3x3", "conv1x1", "textfusion-dwconv5x5"]

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
    }
}
