import FusionCore

/// conv_transpose2d (PyTorch `ConvTranspose2d`): RFC's and CLIPSeg's non-overlapping 4x4
/// stride-4 upsamplers, and overlapping kernels with padding, output padding and groups.
/// Part of the convolution family (its tolerances and XCTest methods).
enum ConvTransposeCases {
    struct Spec {
        var x: [Int]; var cout: Int; var k: (Int, Int); var attributes: ConvTranspose2DAttributes; var bias: Bool
    }

    static func addParityCases(to b: inout OpCaseBuilder) throws {
        var specs = [
            Spec(x: [2, 8, 5, 7], cout: 6, k: (4, 4), attributes: .init(stride: 4), bias: true),
            Spec(x: [1, 5, 9, 11], cout: 7, k: (3, 3), attributes: .init(stride: 2, padding: 1, outputPadding: 1), bias: true),
            Spec(x: [1, 6, 6, 5], cout: 4, k: (4, 4), attributes: .init(stride: 2, padding: 1, groups: 2), bias: false),
        ]
        for _ in 0..<2 {
            let s = 1 + Int(b.next() % 3), k = b.pick([1, 2, 3, 4, 5]), groups = 1 + Int(b.next() % 2)
            let p = Int(b.next() % UInt64(max(1, (k + 1) / 2)))
            specs.append(Spec(x: [1, 3 * groups, b.dim(1...13), b.dim(1...13)], cout: groups * b.dim(1...7), k: (k, k),
                              attributes: .init(stride: s, padding: p, outputPadding: Int(b.next() % UInt64(s)), groups: groups),
                              bias: b.next() % 2 == 0))
        }
        for s in specs { try add(&b, s) }
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        let specs = [
            // kernel == stride, no padding (the disjoint path): RFC's upsampling and CLIPSeg's trans_conv shapes.
            Spec(x: [2, 64, 22, 22], cout: 64, k: (4, 4), attributes: .init(stride: 4), bias: true),
            Spec(x: [2, 32, 88, 88], cout: 1, k: (4, 4), attributes: .init(stride: 4), bias: true),
            Spec(x: [1, 3, 1, 1], cout: 5, k: (4, 4), attributes: .init(stride: 4), bias: true),
            Spec(x: [1, 7, 9, 13], cout: 3, k: (2, 3), attributes: .init(stride: (2, 3)), bias: false),
            // Overlapping taps, padding, output padding, groups, non-square strides, 1x1 maps.
            Spec(x: [1, 5, 9, 11], cout: 7, k: (3, 3), attributes: .init(stride: 2, padding: 1, outputPadding: 1), bias: true),
            Spec(x: [2, 4, 7, 5], cout: 6, k: (5, 3), attributes: .init(stride: (3, 2), padding: (2, 1), outputPadding: (1, 0)), bias: true),
            Spec(x: [1, 6, 8, 9], cout: 4, k: (4, 4), attributes: .init(stride: 2, padding: 1, groups: 2), bias: true),
            Spec(x: [1, 6, 5, 5], cout: 6, k: (3, 3), attributes: .init(stride: 1, padding: 1, groups: 3), bias: false),
            Spec(x: [1, 1, 1, 1], cout: 1, k: (1, 1), attributes: .init(stride: 1), bias: true),
            Spec(x: [3, 2, 1, 1], cout: 3, k: (3, 3), attributes: .init(stride: 2), bias: true),
            Spec(x: [1, 300, 6, 7], cout: 5, k: (2, 2), attributes: .init(stride: 2), bias: true),
            Spec(x: [1, 3, 17, 1], cout: 2, k: (7, 1), attributes: .init(stride: (5, 1), padding: (3, 0)), bias: true),
        ]
        for s in specs { try add(&b, s) }
        // Followed by LeakyReLU (RFC): the fuse-epilogues pass makes it the node's epilogue.
        let x = b.input([2, 16, 11, 9]), w = b.tensor([16, 8, 4, 4], range: -0.5...0.5), bias = b.tensor([8])
        try b.add(.convTranspose2d, "x\(x.shape) w\(w.shape) s4 +bias -> leaky_relu (epilogue)", inputs: [x]) { g, v in
            try g.leakyReLU(g.convTranspose2d(v[0], weight: g.constant(w), bias: g.constant(bias), .init(stride: 4)), slope: 0.01)
        }
        // A broadcast operand in the epilogue (per-channel scale, then a full-size residual).
        let y = b.input([1, 6, 9, 7]), wy = b.tensor([6, 4, 3, 3], range: -0.5...0.5)
        let scale = b.input([1, 4, 1, 1]), residual = b.input([1, 4, 18, 14])
        try b.add(.convTranspose2d, "x\(y.shape) w\(wy.shape) s2 p1 op1 -> mul [1, 4, 1, 1] -> add [1, 4, 18, 14] (epilogue operands)",
                  inputs: [y, scale, residual]) { g, v in
            try g.add(g.mul(g.convTranspose2d(v[0], weight: g.constant(wy), .init(stride: 2, padding: 1, outputPadding: 1)), v[1]), v[2])
        }
        // Output over one binding (168 MiB): output channels dispatched in ranges.
        try add(&b, Spec(x: [1, 2, 512, 512], cout: 10, k: (4, 4), attributes: .init(stride: 4), bias: true), note: "over one binding")
    }

    private static func add(_ b: inout OpCaseBuilder, _ s: Spec, note: String = "") throws {
        let x = b.input(s.x)
        let a = s.attributes
        let w = b.tensor([s.x[1], s.cout / a.groups, s.k.0, s.k.1], range: -0.5...0.5)
        let bias = b.tensor([s.cout])
        let desc = "x\(s.x) w\(w.shape) s\(a.stride) p\(a.padding) op\(a.outputPadding) g\(a.groups)\(s.bias ? " +bias" : "")"
            + (note.isEmpty ? "" : " (\(note))")
        try b.add(.convTranspose2d, desc, inputs: [x]) { g, v in
            try g.convTranspose2d(v[0], weight: g.constant(w, name: "w"), bias: s.bias ? g.constant(bias, name: "b") : nil, a)
        }
    }

    static let benchFamilies = ["convtranspose4x4"]

    /// RFC's mask-branch upsampler: two ConvT 64 -> 64, k4 s4, from 22x22 to 352x352 (fixed
    /// cost, whatever the image size), batch 2 (IR and visible).
    static func addBenchCases(to b: inout OpBenchBuilder) throws {
        for side in [22, 88] {
            let x = [2, 64, side, side]
            try b.add("convtranspose4x4", "conv_transpose2d 4x4 s4 64->64 \(side)->\(4 * side) (RFC)", size: x) { b, g in
                try g.convTranspose2d(g.input("x", shape: x), weight: g.constant(b.weight([64, 64, 4, 4])),
                                      bias: g.constant(b.weight([64])), .init(stride: 4))
            }
        }
    }
}
