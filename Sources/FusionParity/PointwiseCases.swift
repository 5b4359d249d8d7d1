import FusionCore

/// Unary activations, broadcasting binary ops, FiLM and PReLU.
enum PointwiseCases: OpFamilyCases {
    /// One of each unary kind, with the parameters the models use.
    static let unaryKinds: [UnaryKind] = [.relu, .leakyReLU(slope: 0.01), .gelu, .quickGELU, .tanh, .sigmoid, .affine(scale: 0.5, shift: 0.5)]

    static func addParityCases(to b: inout OpCaseBuilder) throws {
        for kind in unaryKinds {
            let x = b.input([2, 3, b.dim(1...17), b.dim(1...19)], range: -6...6)
            try unary(&b, kind, x)
        }
        for kind in [UnaryKind.tanh, .gelu] {
            try unary(&b, kind, b.input([3, 5, 7, 9], range: -4...4), note: "batch")
        }
        let pairs: [([Int], [Int])] = [([2, 3, 4, 5], [3, 1, 1]), ([1, 5], [7, 1]), ([2, 7, 9, 11], [2, 7, 9, 11]), ([1, 512, 1, 1], [1, 1, 6, 7])]
        for kind in BinaryKind.allCases {
            for (sa, sb) in pairs { try binary(&b, kind, sa, sb, range: -1...1) }
        }
        // Per-sample broadcasts: RLN's rescale / rebias [N, C, 1, 1].
        for kind in [BinaryKind.add, .mul] { try binary(&b, kind, [3, 24, 9, 7], [3, 24, 1, 1], range: -1...1) }
        try film(&b, [2, 7, 5, 9])
        try film(&b, [4, 16, 3, 5])
        let x = b.input([2, 7, 5, 9]), slope = b.input([7])
        try b.add(.prelu, "x\(x.shape) slope [7] (input)", inputs: [x, slope]) { g, v in try g.prelu(v[0], slope: v[1]) }
    }

    static func addTestCases(to b: inout OpCaseBuilder) throws {
        let kinds: [UnaryKind] = [.relu, .leakyReLU(slope: 0.1), .gelu, .quickGELU, .tanh, .sigmoid, .affine(scale: 1.5, shift: -0.25)]
        for kind in kinds {
            for shape in [[2, 3, 17, 19], [7], [1, 1, 1, 1]] { try unary(&b, kind, b.input(shape, range: -8...8)) }
        }
        // Extreme inputs: no NaN or inf out of tanh / sigmoid / gelu / quickGELU, and within
        // 3e-7 x max(1, |exact|) of float64.
        let extremes: [Float] = [0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 0.5, -0.5, 3.9, -3.9, 9, -9, 20, -20,
                                 88, -88, 89, -89, 1e4, -1e4, 1e30, -1e30, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        for kind in [UnaryKind.tanh, .sigmoid, .gelu, .quickGELU] {
            try unary(&b, kind, .fixed(Tensor(shape: [extremes.count], floats: extremes)), note: "extreme values",
                      reference64: .custom(tolerance: 3e-7, scale: .output))
        }
        // A dense grid over [-10, 10] against float64: GELU's erf part must be good to ~1e-7
        // absolute, so |gelu - exact| <= 3e-7 x max(1, |x|) (argument and output rounding
        // included); tanh to 3e-7 absolute.
        let count = 400_001
        let grid = Tensor(shape: [count], floats: (0..<count).map { Float(-10 + 20 * Double($0) / Double(count - 1)) })
        try unary(&b, .gelu, .fixed(grid), note: "dense grid", reference64: .custom(tolerance: 3e-7, scale: .input))
        try unary(&b, .tanh, .fixed(grid), note: "dense grid", reference64: .custom(tolerance: 3e-7, scale: .output))

        let pairs: [([Int], [Int])] = [([2, 3, 4, 5], [2, 3, 4, 5]), ([2, 3, 4, 5], [3, 1, 5]), ([4, 1], [1, 5]), ([1], [2, 3]),
                                       ([2, 1, 4, 1], [1, 3, 1, 5]), ([7], [7]), ([3, 1, 1], [3, 6, 7]), ([1, 5, 1, 1], [2, 5, 9, 11]),
                                       ([2, 5, 9, 11], [1])]
        for (sa, sb) in pairs {
            for kind in BinaryKind.allCases { try binary(&b, kind, sa, sb, range: -3...3) }
        }
        for shape in [[2, 3, 5, 7], [1, 4, 1, 1], [3, 5, 2, 9]] { try film(&b, shape) }
        for (shape, slope) in [([2, 3, 4, 5], [3]), ([2, 3, 4, 5], [1]), ([4, 3], [3]), ([1, 5, 7], [5])] {
            let x = b.input(shape), s = b.tensor(slope)
            try b.add(.prelu, "x\(shape) slope \(slope)", inputs: [x]) { g, v in try g.prelu(v[0], slope: g.constant(s)) }
        }
        // A 160 MiB tensor: same-shape and broadcast operands, FiLM and PReLU are processed
        // in flat ranges that fit one binding.
        let big = [1, 40, 1024, 1024]
        try unary(&b, .gelu, b.input(big), note: "over one binding")
        try binary(&b, .mul, big, big, range: -1...1, note: "over one binding")
        let offsets = b.tensor([1, 40, 1, 1])
        let a = b.input(big)
        try b.add(.sub, "a\(big) b[1, 40, 1, 1] (constant, over one binding)", inputs: [a]) { g, v in try g.sub(v[0], g.constant(offsets)) }
        let x = b.input(big), gamma = b.tensor([1, 40]), beta = b.tensor([1, 40])
        try b.add(.film, "x\(big) gamma/beta [1, 40] (constant, over one binding)", inputs: [x]) { g, v in
            try g.film(v[0], gamma: g.constant(gamma), beta: g.constant(beta))
        }
        let px = b.input(big), slope = b.tensor([40])
        try b.add(.prelu, "x\(big) slope [40] (over one binding)", inputs: [px]) { g, v in try g.prelu(v[0], slope: g.constant(slope)) }
        try addReferenceSweep(to: &b)
    }

    /// More unary parameters, broadcasts from both sides, one value on both sides, and flat
    /// sizes past the CPU's elementwise chunks (2^15), against float64.
    private static func addReferenceSweep(to b: inout OpCaseBuilder) throws {
        let kinds: [UnaryKind] = [.relu, .leakyReLU(slope: 0.01), .leakyReLU(slope: 0.2), .gelu, .quickGELU, .tanh, .sigmoid,
                                  .affine(scale: 1.5, shift: -0.25), .affine(scale: -0.3, shift: 2)]
        for kind in kinds {
            for shape in [[2, 3, 5, 7], [1, 1, 1, 1], [1003], [3, 17]] { try unary(&b, kind, b.input(shape, range: -6...6), note: "float64 sweep") }
        }
        try unary(&b, .gelu, b.input([70001], range: -5...5), note: "past the CPU's chunks")
        let pairs: [([Int], [Int])] = [([2, 3, 4, 5], [3, 1, 1]), ([2, 3, 4, 5], [1, 5]), ([1, 5], [2, 3, 4, 5]), ([3, 1, 5], [2, 1, 4, 1]),
                                       ([2, 3, 4, 5], [2, 3, 4, 5]), ([7], [1]), ([4, 1], [1, 6]), ([2, 13, 1, 1], [2, 13, 9, 11]),
                                       ([1, 1, 1, 1], [3, 5, 7])]
        for kind in BinaryKind.allCases {
            for (sa, sb) in pairs { try binary(&b, kind, sa, sb, range: -2...2, note: "float64 sweep") }
        }
        for (kind, sa, sb) in [(BinaryKind.add, [2, 3, 150, 151], [3, 1, 1]), (.sub, [1, 70001], [70001]), (.div, [2, 70001], [2, 1]),
                               (.mul, [3, 1, 40000], [1, 2, 1])] {
            try binary(&b, kind, sa, sb, range: -1...1, note: "past the CPU's chunks")
        }
        let same = b.input([3, 5, 7])
        try b.add(.mul, "x[3, 5, 7] times itself", inputs: [same]) { g, v in try g.mul(v[0], v[0]) }
        for shape in [[2, 5, 3, 7], [1, 3, 1, 1], [3, 13, 4, 6], [1, 2, 200, 171]] { try film(&b, shape) }
        for (shape, slope) in [([2, 5, 3, 7], [5]), ([2, 5, 3, 7], [1]), ([2, 5, 9], [5]), ([3, 7], [7]), ([1, 2, 200, 171], [2])] {
            let x = b.input(shape), s = b.tensor(slope, range: 0...0.5)
            try b.add(.prelu, "x\(shape) slope \(slope) in [0, 0.5] (float64 sweep)", inputs: [x]) { g, v in try g.prelu(v[0], slope: g.constant(s)) }
        }
    }

    private static func unary(_ b: inout OpCaseBuilder, _ kind: UnaryKind, _ x: CaseInput, note: String = "",
                              reference64: Reference64Bound = .family) throws {
        try b.add(OpVariant(.unary(kind)), "x\(x.shape)\(note.isEmpty ? "" : " (\(note))")", inputs: [x], reference64: reference64) { g, v in
            try g.unary(kind, v[0])
        }
    }

    /// `kind` over inputs of `sa` and `sb`; a divisor stays in [0.5, 2].
    private static func binary(_ b: inout OpCaseBuilder, _ kind: BinaryKind, _ sa: [Int], _ sb: [Int], range: ClosedRange<Float>,
                               note: String = "") throws {
        let x = b.input(sa, range: range), y = b.input(sb, range: kind == .div ? 0.5...2 : range)
        try b.add(OpVariant(.binary(kind)), "a\(sa) b\(sb)\(note.isEmpty ? "" : " (\(note))")", inputs: [x, y]) { g, v in
            try g.binary(kind, v[0], v[1])
        }
    }

    /// FiLM with gamma and beta [N, C] as inputs.
    private static func film(_ b: inout OpCaseBuilder, _ shape: [Int]) throws {
        let x = b.input(shape), gamma = b.input([shape[0], shape[1]]), beta = b.input([shape[0], shape[1]])
        try b.add(.film, "x\(shape) gamma/beta [\(shape[0]), \(shape[1])]", inputs: [x, gamma, beta]) { g, v in
            try g.film(v[0], gamma: v[1], beta: v[2])
        }
    }

    static let benchFamilies = ["film"]

    static func addBenchCases(to b: inout OpBenchBuilder) throws {
        let x = [1, 48, b.height, b.width]
        try b.add("film", "FiLM (1+gamma)x+beta 48 ch", size: x) { _, g in
            try g.film(g.input("x", shape: x), gamma: g.input("gamma", shape: [1, 48]), beta: g.input("beta", shape: [1, 48]))
        }
    }
}
