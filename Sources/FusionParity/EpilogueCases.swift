import FusionCore

/// Node epilogues (`Epilogue`): convs, linears and matmuls whose result goes through fused
/// steps before it is stored, so `fusion parity --ops` and the catalogue tests check the
/// fused kernels (and their fallback pass) against the CPU and float64. Part of the
/// convolution and matrix-product families (their tolerances: one accumulation, then a few
/// roundings).
enum EpilogueCases {
    /// Every step kind once on a small conv and a linear, plus the models' chains.
    static func addConvolutionCases(to b: inout OpCaseBuilder, large: Bool) throws {
        let n = 2, c = 5, o = 6, h = large ? 19 : 9, w = large ? 23 : 11
        struct Spec { let k: Int; let groups: Int; let reflect: Bool; let steps: [Epilogue.Step]; let operands: [[Int]] }
        let specs: [Spec] = [
            Spec(k: 3, groups: 1, reflect: false, steps: [.unary(.gelu), .binary(.add, operandFirst: false)], operands: [[n, o, h, w]]),
            Spec(k: 1, groups: 1, reflect: false, steps: [.binary(.mul, operandFirst: false), .binary(.add, operandFirst: false), .binary(.add, operandFirst: false)],
                 operands: [[n, o, 1, 1], [1, o, 1, 1], [n, o, h, w]]),
            Spec(k: 1, groups: 1, reflect: false, steps: [.binary(.sub, operandFirst: false), .binary(.div, operandFirst: false), .binary(.add, operandFirst: false), .unary(.relu)],
                 operands: [[n, o, 1, 1], [n, 1, 1, 1], [1, o, 1, 1]]),
            Spec(k: 3, groups: 1, reflect: true, steps: [.binary(.sub, operandFirst: true), .unary(.tanh), .unary(.affine(scale: 0.5, shift: 0.5))], operands: [[1]]),
            Spec(k: 5, groups: o, reflect: true, steps: [.binary(.add, operandFirst: false), .unary(.leakyReLU(slope: 0.1))], operands: [[n, o, h, w]]),
            Spec(k: 3, groups: 1, reflect: false, steps: [.film, .prelu, .unary(.sigmoid)], operands: [[n, o], [n, o], [o]]),
            // t / y with y a sigmoid (bounded away from 0: a division by a near-zero sum
            // would amplify any rounding).
            Spec(k: 1, groups: 1, reflect: false, steps: [.prelu, .unary(.sigmoid), .binary(.div, operandFirst: true), .unary(.quickGELU)],
                 operands: [[1], [1, 1, h, w]]),
            // More steps than a fused kernel takes: the separate pass does the rest.
            Spec(k: 1, groups: 1, reflect: false, steps: [.unary(.relu), .binary(.mul, operandFirst: false), .binary(.add, operandFirst: false),
                                                         .unary(.tanh), .binary(.sub, operandFirst: false)],
                 operands: [[1, o, 1, 1], [n, o, h, w], [n, 1, h, w]]),
        ]
        for s in specs {
            let cin = s.groups == 1 ? c : o
            let x = b.input([n, cin, h, w])
            let weight = b.tensor([o, cin / s.groups, s.k, s.k], range: -0.5...0.5), bias = b.tensor([o])
            let operands = s.operands.map { b.input($0, range: 0.5...1.5) }
            let attrs = Conv2DAttributes(padding: s.k / 2, groups: s.groups, paddingMode: s.reflect ? .reflect : .zero)
            let epilogue = Epilogue(s.steps)
            try b.add(OpVariant(.conv2d(attrs)), "x\(x.shape) w\(weight.shape) g\(s.groups) +bias, epilogue \(epilogue) on \(s.operands)",
                      inputs: [x] + operands) { g, v in
                try g.add(.conv2d(attrs), [v[0], g.constant(weight, name: "w"), g.constant(bias, name: "b")] + v.dropFirst(), epilogue: epilogue, name: "conv2d")
            }
        }
    }

    static func addMatrixCases(to b: inout OpCaseBuilder, large: Bool) throws {
        let t = large ? 77 : 7, k = large ? 64 : 12, nOut = large ? 96 : 10
        let x = b.input([2, t, k]), weight = b.tensor([nOut, k], range: -0.5...0.5), bias = b.tensor([nOut])
        let residual = b.input([2, t, nOut]), row = b.input([nOut], range: 0.5...1.5)
        let linearEpilogue = Epilogue([.unary(.quickGELU), .binary(.mul, operandFirst: false), .binary(.add, operandFirst: false)])
        try b.add(.linear, "x\(x.shape) w\(weight.shape) +bias, epilogue \(linearEpilogue)", inputs: [x, row, residual]) { g, v in
            try g.add(.linear, [v[0], g.constant(weight, name: "w"), g.constant(bias, name: "b"), v[1], v[2]], epilogue: linearEpilogue, name: "linear")
        }
        let a = b.input([3, 2, t, k]), m = b.input([3, 2, k, t]), scale = b.input([3, 1, 1, 1], range: 0.5...1.5)
        let matmulEpilogue = Epilogue([.binary(.div, operandFirst: false), .unary(.gelu), .binary(.sub, operandFirst: true)])
        try b.add(.matmul, "a\(a.shape) b\(m.shape) alpha 0.25, epilogue \(matmulEpilogue)", inputs: [a, m, scale, b.input([1, 1, 1, t])]) { g, v in
            try g.add(.matmul(transposeA: false, transposeB: false, alpha: 0.25), Array(v), epilogue: matmulEpilogue, name: "matmul")
        }
    }
}
