import FusionCore

/// Norms, global statistics and softmax: reductions over rows, pixels, groups and samples.
enum ReductionCases: OpFamilyCases {
    static func addParityCases(to b: inout OpCaseBuilder) throws {
        for (shape, withBias) in [([2, 13, 9, 11], true), ([1, 7, 1, 1], false), ([1, 4097, 1, 2], true), ([1, 48, 37, 29], true),
                                  ([3, 16, 11, 7], true)] {
            try layerNormChannels(&b, shape, bias: withBias, range: -3...5)
        }
        for shape in [[5, 37], [3, 4099], [2, 3, 77, 33]] {
            try layerNorm(&b, shape, range: -2...6)
        }
        for (shape, groups) in [([2, 16, 7, 9], 4), ([1, 32, 1, 1], 16), ([1, 48, 61, 79], 16), ([3, 64, 2, 3], 16)] {
            try groupNorm(&b, shape, groups: groups, range: -1...3)
        }
        // Statistics per sample, batch > 1 included.
        for shape in [[1, 24, 33, 45], [2, 5, 1, 1], [1, 24, 512, 640], [3, 24, 17, 19], [4, 5, 1, 1]] {
            try globalNormAndStats(&b, shape, range: 0...1)
        }
        for shape in [[7, 13], [2, 5003], [3, 1], [2, 2, 9, 64]] {
            try softmax(&b, shape, range: -8...8)
        }
        try PoolingCases.addParityCases(to: &b)
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        for (shape, bias) in [([1, 3, 5, 7], true), ([2, 5, 1, 1], true), ([2, 17, 9, 13], false), ([1, 1, 4, 4], true), ([3, 64, 6, 5], true)] {
            try layerNormChannels(&b, shape, bias: bias, range: -3...5)
        }
        for (shape, bias) in [([3, 7], true), ([2, 5, 64], true), ([4, 1000], false), ([2, 3, 1], true), ([1, 4097], true), ([37, 33], true),
                              ([5], true)] {
            try layerNorm(&b, shape, bias: bias, eps: 1e-6, range: -2...6)
        }
        for (shape, groups) in [([2, 6, 5, 7], 3), ([1, 32, 64, 64], 8), ([2, 4, 10], 2), ([3, 8], 4), ([1, 5, 1, 1], 5), ([1, 8, 512, 512], 2)] {
            try groupNorm(&b, shape, groups: groups, range: -1...3)
        }
        for shape in [[2, 3, 5, 7], [1, 1, 1, 1], [3, 5, 1, 1], [1, 24, 256, 320]] {
            try globalNormAndStats(&b, shape, range: -2...4)
        }
        for shape in [[3, 5], [4]] {
            try globalStats(&b, shape)
        }
        for shape in [[3, 7], [2, 4, 100], [5, 1], [2, 3000], [1, 1, 40], [33], [6, 257]] {
            try softmax(&b, shape, range: -10...10)
        }
        // Ill-conditioned statistics: two channels with close values (1/sqrt(eps) amplifies
        // the mean's rounding error) and data far from zero (mean 100, spread 1): the
        // corrected two-pass scheme keeps these within tolerance of the float64 CPU reference.
        try layerNormChannels(&b, [1, 2, 1024, 1024], range: -2...5, note: "C=2")
        try layerNorm(&b, [300_000, 2], range: -2...5, note: "width 2")
        try layerNorm(&b, [999, 300], range: 99...101, note: "width 300 offset")
        try globalNormAndStats(&b, [2, 3, 256, 256], range: 99...101, note: "offset")
        try groupNorm(&b, [2, 3, 256, 256], groups: 3, range: 99...101, note: "offset")
        // Over maxStorageBufferRange: partial sums dispatched in ranges of the input (two
        // samples of 31M elements = 240 MiB); layerNormChannels' channel-chunk (three-pass)
        // path for one sample over a binding and for two that fit one at a time; rows of
        // softmax / layerNorm dispatched in ranges (136 MiB).
        try globalNormAndStats(&b, [2, 24, 1024, 1280], range: -1...3, note: "over one binding")
        for shape in [[1, 70, 768, 768], [2, 33, 768, 768]] {
            try layerNormChannels(&b, shape, range: -2...4, note: "over one binding")
        }
        try softmax(&b, [1, 34, 1024, 1024], range: -4...4, note: "rows over one binding")
        try layerNorm(&b, [1, 34, 1024, 1024], range: -4...4, note: "rows over one binding")
        try addReferenceSweep(to: &b)
        try PoolingCases.addTestCases(to: &b)
    }

    /// Eps values, C = 1, 1x1 maps, 2-D and 3-D group norms, long rows and shapes past the
    /// CPU's reduction chunks (2^16) and elementwise chunks (2^15), against float64.
    private static func addReferenceSweep(to b: inout OpCaseBuilder) throws {
        let unitWeights: ClosedRange<Float> = 0.5...1.5
        for (shape, bias, eps) in [([2, 13, 5, 7], true, Float(1e-5)), ([2, 13, 5, 7], false, 1e-5), ([1, 5, 1, 1], false, 1e-6),
                                   ([1, 3, 4, 9], true, 1e-6), ([1, 257, 3, 3], true, 1e-5), ([3, 1, 2, 2], true, 1e-5),
                                   ([1, 3, 200, 150], true, 1e-5)] {
            try layerNormChannels(&b, shape, bias: bias, eps: eps, range: -2...3, weightRange: unitWeights, note: "float64 sweep")
        }
        for (shape, bias, eps) in [([3, 4097], true, Float(1e-5)), ([2, 3, 7], false, 1e-5), ([2, 3, 7], true, 1e-6), ([5], true, 1e-5),
                                   ([2, 1, 1], true, 1e-5), ([1, 2, 3, 771], true, 1e-5)] {
            try layerNorm(&b, shape, bias: bias, eps: eps, range: -3...2, weightRange: unitWeights, note: "float64 sweep")
        }
        try layerNorm(&b, [2, 70001], range: -10...10, weightRange: unitWeights, note: "past the CPU's chunks")
        for (shape, groups) in [([2, 12, 5, 7], 3), ([2, 6, 9], 2), ([1, 5, 4, 4], 1), ([2, 7, 3, 3], 7), ([1, 6, 1, 1], 2),
                                ([1, 32, 33, 31], 8), ([3, 10], 5), ([1, 4, 256, 301], 2)] {
            try groupNorm(&b, shape, groups: groups, range: -1...2, weightRange: unitWeights, note: "float64 sweep")
        }
        for shape in [[2, 5, 7, 9], [1, 3, 1, 1], [1, 13, 45, 71], [3, 1, 5, 3], [1, 3, 200, 150]] {
            let x = b.input(shape, range: -1...3), w = b.tensor([shape[1]], range: unitWeights), bt = b.tensor([shape[1]])
            try b.add(.globalNorm, "x\(shape) (float64 sweep)", inputs: [x]) { g, v in
                try g.globalNorm(v[0], weight: g.constant(w), bias: g.constant(bt))
            }
        }
        for shape in [[3, 5, 7, 9], [2, 4097], [1, 1, 1, 1], [2, 3, 5], [1, 13, 45, 71], [2, 140001]] {
            try globalStats(&b, shape, range: -1...3)
        }
        for (shape, range) in [([3, 5000], Float(-10)...10), ([2, 3, 7], -1...1), ([6, 1], -1...1), ([1, 1000], -30...30), ([4, 37], -5...5),
                               ([2, 2, 2, 129], -3...3), ([2, 70001], -10...10)] {
            try softmax(&b, shape, range: range, note: "float64 sweep")
        }
    }

    /// " (note)" after a case's shapes, or nothing.
    private static func suffix(_ note: String) -> String { note.isEmpty ? "" : " (\(note))" }

    private static func layerNormChannels(_ b: inout OpCaseBuilder, _ shape: [Int], bias: Bool = true, eps: Float = 1e-5,
                                          range: ClosedRange<Float>, weightRange: ClosedRange<Float> = -1...1, note: String = "") throws {
        let x = b.input(shape, range: range), w = b.tensor([shape[1]], range: weightRange), bt = b.tensor([shape[1]])
        try b.add(.layerNormChannels, "x\(shape)\(bias ? " +bias" : "")\(eps != 1e-5 ? " eps \(eps)" : "")\(suffix(note))", inputs: [x]) { g, v in
            try g.layerNormChannels(v[0], weight: g.constant(w), bias: bias ? g.constant(bt) : nil, eps: eps)
        }
    }

    private static func layerNorm(_ b: inout OpCaseBuilder, _ shape: [Int], bias: Bool = true, eps: Float = 1e-5,
                                  range: ClosedRange<Float>, weightRange: ClosedRange<Float> = -1...1, note: String = "") throws {
        let x = b.input(shape, range: range), w = b.tensor([shape.last!], range: weightRange), bt = b.tensor([shape.last!])
        try b.add(.layerNorm, "x\(shape)\(bias ? " +bias" : "") eps \(eps)\(suffix(note))", inputs: [x]) { g, v in
            try g.layerNorm(v[0], weight: g.constant(w), bias: bias ? g.constant(bt) : nil, eps: eps)
        }
    }

    private static func groupNorm(_ b: inout OpCaseBuilder, _ shape: [Int], groups: Int, range: ClosedRange<Float>,
                                  weightRange: ClosedRange<Float> = -1...1, note: String = "") throws {
        let x = b.input(shape, range: range), w = b.tensor([shape[1]], range: weightRange), bt = b.tensor([shape[1]])
        try b.add(.groupNorm, "x\(shape) groups \(groups)\(suffix(note))", inputs: [x]) { g, v in
            try g.groupNorm(v[0], groups: groups, weight: g.constant(w), bias: g.constant(bt))
        }
    }

    /// A global_norm and a global_stats case over the same input.
    private static func globalNormAndStats(_ b: inout OpCaseBuilder, _ shape: [Int], range: ClosedRange<Float>, note: String = "") throws {
        let x = b.input(shape, range: range), w = b.tensor([shape[1]]), bt = b.tensor([shape[1]])
        let desc = "x\(shape)\(suffix(note))"
        try b.add(.globalNorm, desc, inputs: [x]) { g, v in try g.globalNorm(v[0], weight: g.constant(w), bias: g.constant(bt)) }
        try b.add(.globalStats, desc, inputs: [x]) { g, v in try g.globalStats(v[0]) }
    }

    private static func globalStats(_ b: inout OpCaseBuilder, _ shape: [Int], range: ClosedRange<Float> = -1...1) throws {
        let x = b.input(shape, range: range)
        try b.add(.globalStats, "x\(shape)", inputs: [x]) { g, v in try g.globalStats(v[0]) }
    }

    /// Softmax outputs of long rows are ~1/width, so float64 bounds each element relatively:
    /// exp(x - max) carries the fp32 rounding of its argument (60 x 6e-8 = 3.6e-6 at -60) plus
    /// the row sum's (~1e-6 over 70001 terms); lavapipe's worst is 5.4e-6.
    private static func softmax(_ b: inout OpCaseBuilder, _ shape: [Int], range: ClosedRange<Float>, note: String = "") throws {
        let x = b.input(shape, range: range)
        try b.add(.softmax, "x\(shape)\(suffix(note))", inputs: [x], reference64: .custom(tolerance: 2e-5, scale: .relative(floor: 1e-30))) { g, v in
            try g.softmax(v[0])
        }
    }

    static let benchFamilies = ["layernorm"] + PoolingCases.benchFamilies

    static func addBenchCases(to b: inout OpBenchBuilder) throws {
        let x = [1, 48, b.height, b.width]
        try b.add("layernorm", "LayerNorm over channels 48 ch", size: x) { b, g in
            try g.layerNormChannels(g.input("x", shape: x), weight: g.constant(b.weight([48])), bias: g.constant(b.weight([48])))
        }
        try PoolingCases.addBenchCases(to: &b)
    }
}
