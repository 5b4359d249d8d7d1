import FusionCore

/// resize: nearest, bilinear, bicubic and antialiased bilinear, up and down, 1x1 maps,
/// coordinates near 1000.
enum ResamplingCases: OpFamilyCases {
    static func addParityCases(to b: inout OpCaseBuilder) throws {
        let x = b.input([1, 3, 9, 13])
        for mode in ResizeMode.allCases {
            for (h, w) in [(20, 27), (4, 5), (9, 13)] { try resize(&b, x, mode, h, w) }
        }
        try resize(&b, b.input([2, 3, 9, 13]), .bilinear, 18, 26)
        // Sizes where PyTorch's float32 nearest index differs from floor(dst * in / out).
        try resize(&b, b.input([1, 2, 5, 84]), .nearest, 3, 288, note: "float32 index rule")
        try resize(&b, b.input([1, 1, 288, 384]), .nearest, 111, 74, note: "float32 index rule")
        // RFC's CLIPSeg input: any crop to 352x352, shrinking one axis and growing the other.
        try resize(&b, b.input([2, 3, 56, 448]), .bilinearAntialias, 352, 352, note: "CLIPSeg input")
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        let sizes: [([Int], (Int, Int))] = [([1, 2, 5, 7], (11, 13)), ([1, 2, 5, 7], (3, 4)), ([2, 3, 5, 7], (5, 7)),
                                            ([1, 3, 5, 7], (10, 14)), ([1, 2, 1, 1], (4, 4)), ([1, 1, 8, 8], (1, 1)),
                                            ([1, 2, 6, 10], (12, 15)), ([1, 1, 16, 12], (7, 5)),
                                            ([1, 1, 1000, 999], (301, 1777))]   // coordinates near 1000
        for mode in ResizeMode.allCases {
            for (shape, hw) in sizes { try resize(&b, b.input(shape), mode, hw.0, hw.1) }
        }
        // (n, c) planes of a 136 MiB tensor dispatched in ranges that fit one binding.
        try resize(&b, b.input([1, 34, 1024, 1024], range: -4...4), .bilinear, 300, 700, note: "planes over one binding")
        // Against float64: up in one axis and down in the other, 4x up, strong down, and
        // planes past the CPU's chunks.
        let sweep: [([Int], (Int, Int))] = [([2, 3, 5, 7], (11, 13)), ([2, 3, 5, 7], (3, 4)), ([1, 3, 5, 7], (9, 3)), ([1, 2, 1, 1], (4, 5)),
                                            ([1, 2, 16, 16], (5, 7)), ([1, 5, 6, 9], (1, 1)), ([1, 3, 4, 4], (16, 16)),
                                            ([1, 2, 200, 170], (301, 97))]
        for mode in ResizeMode.allCases {
            for (shape, hw) in sweep { try resize(&b, b.input(shape), mode, hw.0, hw.1, note: "float64 sweep") }
        }
        // Antialiased bilinear (torchvision Resize to CLIPSeg's 352x352): growing, shrinking
        // both axes (5 and 7 taps), one axis unchanged (scale exactly 1), a strong shrink
        // (support 11.4 -> 25 taps) and a 1-pixel output.
        let antialias: [([Int], (Int, Int))] = [([1, 3, 64, 80], (352, 352)), ([2, 3, 480, 640], (352, 352)),
                                                ([1, 2, 352, 500], (352, 352)), ([1, 1, 4000, 9], (351, 13)),
                                                ([1, 2, 9, 7], (1, 1)), ([1, 1, 1, 5], (3, 2))]
        for (shape, hw) in antialias { try resize(&b, b.input(shape), .bilinearAntialias, hw.0, hw.1, note: "antialias") }
    }

    private static func resize(_ b: inout OpCaseBuilder, _ x: CaseInput, _ mode: ResizeMode, _ height: Int, _ width: Int,
                               note: String = "") throws {
        try b.add(OpVariant(.resize(mode: mode, height: height, width: width)),
                  "x\(x.shape) -> \(height)x\(width) \(mode)\(note.isEmpty ? "" : " (\(note))")", inputs: [x]) { g, v in
            try g.resize(v[0], mode: mode, height: height, width: width)
        }
    }

    static let benchFamilies: [String] = []

    static func addBenchCases(to b: inout OpBenchBuilder) throws {}
}
