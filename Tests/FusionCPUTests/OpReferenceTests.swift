import XCTest
import FusionCore
import FusionCPU

/// Every op of `Op` on the CPU backend against the float64 `Reference64`, on odd shapes
/// (channel counts not multiples of 4, 1x1 spatial, long reductions). Tolerance: see
/// `referenceTolerance` in ReferenceHarness.swift.
final class OpReferenceTests: ReferenceTestCase {

    // MARK: - conv2d

    struct ConvCase {
        var label: String
        var x: [Int]
        var outChannels: Int
        var kernel: (Int, Int)
        var attributes: Conv2DAttributes
        var bias: Bool
        var constantWeights = false
    }

    func runConv(_ c: ConvCase, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        let wShape = [c.outChannels, c.x[1] / c.attributes.groups, c.kernel.0, c.kernel.1]
        let x = rnd(c.x, seed), w = rnd(wShape, seed + 1, -0.5...0.5), b = rnd([c.outChannels], seed + 2)
        let a = c.attributes
        let ref = Reference64.conv2d(x.doubles, c.x, weight: w.doubles, wShape, bias: c.bias ? b.doubles : nil,
                                     stride: a.stride, padding: a.padding, dilation: a.dilation,
                                     groups: a.groups, mode: a.paddingMode)
        var operands = [Operand("x", x), Operand("w", w, constant: c.constantWeights)]
        if c.bias { operands.append(Operand("b", b, constant: c.constantWeights)) }
        check("conv2d \(c.label) x\(c.x) w\(wShape)", operands, expected: ref, file: file, line: line) { g, v in
            try g.conv2d(v[0], weight: v[1], bias: c.bias ? v[2] : nil, a)
        }
    }

    func testConv2d() {
        typealias A = Conv2DAttributes
        let cases: [ConvCase] = [
            ConvCase(label: "1x1 bias", x: [2, 7, 5, 9], outChannels: 5, kernel: (1, 1), attributes: A(), bias: true),
            ConvCase(label: "1x1 no bias, 1x1 spatial", x: [3, 13, 1, 1], outChannels: 11, kernel: (1, 1), attributes: A(), bias: false),
            ConvCase(label: "3x3 zero pad 1 bias", x: [2, 5, 9, 11], outChannels: 7, kernel: (3, 3),
                     attributes: A(padding: 1), bias: true),
            ConvCase(label: "3x3 zero pad 1 bias, constant weights", x: [2, 5, 9, 11], outChannels: 7, kernel: (3, 3),
                     attributes: A(padding: 1), bias: true, constantWeights: true),
            ConvCase(label: "3x3 reflect pad 1 bias", x: [1, 3, 7, 6], outChannels: 6, kernel: (3, 3),
                     attributes: A(padding: 1, paddingMode: .reflect), bias: true),
            ConvCase(label: "3x3 valid no bias", x: [1, 5, 8, 7], outChannels: 3, kernel: (3, 3), attributes: A(), bias: false),
            ConvCase(label: "3x3 zero pad 1 on 1x1 spatial", x: [2, 9, 1, 1], outChannels: 5, kernel: (3, 3),
                     attributes: A(padding: 1), bias: true),
            ConvCase(label: "5x5 depthwise reflect pad 2", x: [2, 6, 9, 10], outChannels: 6, kernel: (5, 5),
                     attributes: A(padding: 2, groups: 6, paddingMode: .reflect), bias: true),
            ConvCase(label: "5x5 depthwise zero pad 2 no bias", x: [1, 7, 6, 5], outChannels: 7, kernel: (5, 5),
                     attributes: A(padding: 2, groups: 7), bias: false),
            ConvCase(label: "5x5 depthwise multiplier 2", x: [1, 5, 7, 8], outChannels: 10, kernel: (5, 5),
                     attributes: A(padding: 2, groups: 5), bias: true),
            ConvCase(label: "3x3 stride 2 zero pad 1", x: [2, 7, 11, 9], outChannels: 9, kernel: (3, 3),
                     attributes: A(stride: 2, padding: 1), bias: true),
            ConvCase(label: "4x4 stride 2 reflect pad 1", x: [1, 3, 10, 12], outChannels: 5, kernel: (4, 4),
                     attributes: A(stride: 2, padding: 1, paddingMode: .reflect), bias: false),
            ConvCase(label: "2x2 stride 3 (stride > kernel)", x: [1, 3, 11, 10], outChannels: 2, kernel: (2, 2),
                     attributes: A(stride: 3), bias: true),
            ConvCase(label: "3x3 dilation 2 zero pad 2", x: [1, 5, 9, 13], outChannels: 3, kernel: (3, 3),
                     attributes: A(padding: 2, dilation: 2), bias: true),
            ConvCase(label: "3x3 dilation 2 reflect pad 2", x: [1, 3, 7, 9], outChannels: 5, kernel: (3, 3),
                     attributes: A(padding: 2, dilation: 2, paddingMode: .reflect), bias: false),
            ConvCase(label: "3x3 groups 2", x: [2, 6, 7, 5], outChannels: 10, kernel: (3, 3),
                     attributes: A(padding: 1, groups: 2), bias: true),
            ConvCase(label: "3x3 groups 3 reflect", x: [1, 9, 5, 6], outChannels: 3, kernel: (3, 3),
                     attributes: A(padding: 1, groups: 3, paddingMode: .reflect), bias: false),
            ConvCase(label: "3x3 asymmetric zero pad (0,1,2,1) stride (1,2)", x: [1, 5, 6, 7], outChannels: 3, kernel: (3, 3),
                     attributes: A(stride: (1, 2), padding: (0, 1, 2, 1)), bias: true),
            ConvCase(label: "2x3 asymmetric reflect pad (1,0,0,2)", x: [2, 3, 5, 6], outChannels: 7, kernel: (2, 3),
                     attributes: A(stride: (1, 1), padding: (1, 0, 0, 2), paddingMode: .reflect), bias: true),
            ConvCase(label: "3x3 stride (2,1) dilation (2,3) asymmetric zero pad", x: [1, 3, 12, 11], outChannels: 5, kernel: (3, 3),
                     attributes: A(stride: (2, 1), padding: (1, 2, 3, 0), dilation: (2, 3)), bias: true),
            ConvCase(label: "7x7 reflect pad 3", x: [1, 3, 9, 8], outChannels: 13, kernel: (7, 7),
                     attributes: A(padding: 3, paddingMode: .reflect), bias: true),
            ConvCase(label: "3x3 large channels reflect", x: [1, 67, 13, 15], outChannels: 35, kernel: (3, 3),
                     attributes: A(padding: 1, paddingMode: .reflect), bias: true),
            ConvCase(label: "1x1 large channels", x: [2, 131, 3, 5], outChannels: 97, kernel: (1, 1),
                     attributes: A(), bias: true),
        ]
        for (i, c) in cases.enumerated() { runConv(c, seed: 100 + UInt64(i) * 10) }
    }

    /// Random conv configurations from a seeded generator (valid by construction).
    func testConv2dRandomSweep() {
        var rng = SplitMix64(seed: 2024)
        func pick(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
        var made = 0
        var attempt = 0
        while made < 24, attempt < 1000 {
            attempt += 1
            let groups = [1, 1, 1, 2, 3][pick(0...4)]
            let c = groups * pick(1...5), o = groups * pick(1...4)
            let kh = pick(1...5), kw = pick(1...5)
            let s = (pick(1...3), pick(1...3)), d = (pick(1...2), pick(1...2))
            let h = pick(1...12), w = pick(1...12)
            let mode: PaddingMode = pick(0...1) == 0 ? .zero : .reflect
            let p = (pick(0...3), pick(0...3), pick(0...3), pick(0...3))
            if mode == .reflect, !(p.0 < h && p.1 < h && p.2 < w && p.3 < w) { continue }
            if h + p.0 + p.1 < (kh - 1) * d.0 + 1 || w + p.2 + p.3 < (kw - 1) * d.1 + 1 { continue }
            let attrs = Conv2DAttributes(stride: s, padding: p, dilation: d, groups: groups, paddingMode: mode)
            let cc = ConvCase(label: "random #\(made) k\(kh)x\(kw) s\(s) d\(d) p\(p) g\(groups) \(mode)",
                              x: [pick(1...2), c, h, w], outChannels: o, kernel: (kh, kw), attributes: attrs,
                              bias: pick(0...1) == 1)
            runConv(cc, seed: 5000 + UInt64(made) * 10)
            made += 1
        }
        XCTAssertEqual(made, 24)
    }

    // MARK: - matmul / linear

    func testMatmul() {
        struct M { var a: [Int]; var b: [Int]; var ta: Bool; var tb: Bool; var alpha: Float }
        let cases: [M] = [
            M(a: [5, 7], b: [7, 9], ta: false, tb: false, alpha: 1),
            M(a: [7, 5], b: [7, 9], ta: true, tb: false, alpha: 1),
            M(a: [5, 7], b: [9, 7], ta: false, tb: true, alpha: 1),
            M(a: [7, 5], b: [9, 7], ta: true, tb: true, alpha: 0.75),
            M(a: [2, 1, 5, 7], b: [3, 7, 9], ta: false, tb: false, alpha: 0.5),     // broadcast batch -> [2,3,5,9]
            M(a: [3, 7, 5], b: [3, 9, 7], ta: true, tb: true, alpha: 1.25),
            M(a: [5, 7], b: [2, 3, 7, 9], ta: false, tb: false, alpha: 1),           // rank 2 x rank 4
            M(a: [2, 3, 7, 5], b: [9, 7], ta: true, tb: true, alpha: 1),             // rank 4 x rank 2
            M(a: [4, 1, 6, 33], b: [1, 3, 33, 1], ta: false, tb: false, alpha: 1),   // N = 1, broadcast both ways
            M(a: [1, 130], b: [67, 130], ta: false, tb: true, alpha: 1),             // M = 1
            M(a: [17, 1000], b: [1000, 19], ta: false, tb: false, alpha: 1),         // long K
            M(a: [2, 33, 65], b: [2, 33, 31], ta: true, tb: false, alpha: 2),
        ]
        for (i, m) in cases.enumerated() {
            let a = rnd(m.a, 300 + UInt64(i) * 2), b = rnd(m.b, 301 + UInt64(i) * 2)
            let ref = Reference64.matmul(a.doubles, m.a, b.doubles, m.b, transposeA: m.ta, transposeB: m.tb, alpha: Double(m.alpha))
            check("matmul \(m.a)\(m.ta ? "^T" : "") x \(m.b)\(m.tb ? "^T" : "") alpha \(m.alpha)",
                  [Operand("a", a), Operand("b", b)], expected: ref) { g, v in
                try g.matmul(v[0], v[1], transposeA: m.ta, transposeB: m.tb, alpha: m.alpha)
            }
        }
    }

    func testLinear() {
        let cases: [(x: [Int], n: Int, bias: Bool)] = [
            ([7, 13], 5, true),          // 2-D
            ([2, 7, 13], 11, false),     // 3-D
            ([2, 3, 4, 13], 5, true),    // 4-D
            ([13], 5, true),             // 1-D
            ([3, 515], 33, true),        // long K
            ([1, 1, 3], 1, false),
        ]
        for (i, c) in cases.enumerated() {
            let k = c.x.last!
            let x = rnd(c.x, 400 + UInt64(i) * 3), w = rnd([c.n, k], 401 + UInt64(i) * 3, -0.5...0.5)
            let b = rnd([c.n], 402 + UInt64(i) * 3)
            let ref = Reference64.linear(x.doubles, c.x, weight: w.doubles, [c.n, k], bias: c.bias ? b.doubles : nil)
            var ops = [Operand("x", x), Operand("w", w, constant: i % 2 == 0)]
            if c.bias { ops.append(Operand("b", b, constant: i % 2 == 0)) }
            check("linear x\(c.x) -> \(c.n) bias \(c.bias)", ops, expected: ref) { g, v in
                try g.linear(v[0], weight: v[1], bias: c.bias ? v[2] : nil)
            }
        }
    }

    // MARK: - Normalisation

    func testLayerNormChannels() {
        let cases: [(x: [Int], bias: Bool, eps: Float)] = [
            ([2, 13, 5, 7], true, 1e-5),
            ([2, 13, 5, 7], false, 1e-5),
            ([1, 5, 1, 1], false, 1e-6),
            ([1, 3, 4, 9], true, 1e-6),
            ([1, 257, 3, 3], true, 1e-5),
            ([3, 1, 2, 2], true, 1e-5),   // C = 1: output is the bias
        ]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 500 + UInt64(i) * 3, -2...3)
            let w = rnd([c.x[1]], 501 + UInt64(i) * 3, 0.5...1.5), b = rnd([c.x[1]], 502 + UInt64(i) * 3)
            let ref = Reference64.layerNormChannels(x.doubles, c.x, weight: w.doubles, bias: c.bias ? b.doubles : nil, eps: Double(c.eps))
            var ops = [Operand("x", x), Operand("w", w)]
            if c.bias { ops.append(Operand("b", b)) }
            check("layerNormChannels x\(c.x) bias \(c.bias) eps \(c.eps)", ops, expected: ref) { g, v in
                try g.layerNormChannels(v[0], weight: v[1], bias: c.bias ? v[2] : nil, eps: c.eps)
            }
        }
    }

    func testLayerNorm() {
        let cases: [(x: [Int], bias: Bool, eps: Float)] = [
            ([3, 4097], true, 1e-5),      // long reduction
            ([2, 3, 7], false, 1e-5),
            ([2, 3, 7], true, 1e-6),
            ([5], true, 1e-5),
            ([2, 1, 1], true, 1e-5),      // C = 1
            ([1, 2, 3, 771], true, 1e-5),
        ]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 600 + UInt64(i) * 3, -3...2)
            let cDim = c.x.last!
            let w = rnd([cDim], 601 + UInt64(i) * 3, 0.5...1.5), b = rnd([cDim], 602 + UInt64(i) * 3)
            let ref = Reference64.layerNorm(x.doubles, c.x, weight: w.doubles, bias: c.bias ? b.doubles : nil, eps: Double(c.eps))
            var ops = [Operand("x", x), Operand("w", w, constant: true)]
            if c.bias { ops.append(Operand("b", b, constant: true)) }
            check("layerNorm x\(c.x) bias \(c.bias)", ops, expected: ref) { g, v in
                try g.layerNorm(v[0], weight: v[1], bias: c.bias ? v[2] : nil, eps: c.eps)
            }
        }
    }

    func testGroupNorm() {
        let cases: [(x: [Int], groups: Int)] = [
            ([2, 12, 5, 7], 3),
            ([2, 6, 9], 2),           // 3-D input
            ([1, 5, 4, 4], 1),
            ([2, 7, 3, 3], 7),        // one channel per group
            ([1, 6, 1, 1], 2),        // 1x1 spatial
            ([1, 32, 33, 31], 8),     // 4 x 1023 elements per group
            ([3, 10], 5),             // [N, C]
        ]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 700 + UInt64(i) * 3, -1...2)
            let w = rnd([c.x[1]], 701 + UInt64(i) * 3, 0.5...1.5), b = rnd([c.x[1]], 702 + UInt64(i) * 3)
            let ref = Reference64.groupNorm(x.doubles, c.x, groups: c.groups, weight: w.doubles, bias: b.doubles, eps: 1e-5)
            check("groupNorm x\(c.x) groups \(c.groups)", [Operand("x", x), Operand("w", w), Operand("b", b)], expected: ref) { g, v in
                try g.groupNorm(v[0], groups: c.groups, weight: v[1], bias: v[2], eps: 1e-5)
            }
        }
    }

    func testGlobalNorm() {
        let cases: [[Int]] = [[2, 5, 7, 9], [1, 3, 1, 1], [1, 13, 45, 71], [3, 1, 5, 3]]
        for (i, s) in cases.enumerated() {
            let x = rnd(s, 800 + UInt64(i) * 3, -1...3)
            let w = rnd([s[1]], 801 + UInt64(i) * 3, 0.5...1.5), b = rnd([s[1]], 802 + UInt64(i) * 3)
            let ref = Reference64.globalNorm(x.doubles, s, weight: w.doubles, bias: b.doubles, eps: 1e-5)
            check("globalNorm x\(s)", [Operand("x", x), Operand("w", w), Operand("b", b)], expected: ref) { g, v in
                try g.globalNorm(v[0], weight: v[1], bias: v[2], eps: 1e-5)
            }
        }
    }

    func testGlobalStats() {
        let cases: [[Int]] = [[3, 5, 7, 9], [2, 4097], [1, 1, 1, 1], [2, 3, 5], [1, 13, 45, 71]]
        for (i, s) in cases.enumerated() {
            let x = rnd(s, 900 + UInt64(i), -1...3)
            let ref = Reference64.globalStats(x.doubles, s, eps: 1e-5)
            check("globalStats x\(s)", [Operand("x", x)], expected: ref) { g, v in
                try g.globalStats(v[0], eps: 1e-5)
            }
        }
    }

    func testSoftmax() {
        let cases: [(x: [Int], range: ClosedRange<Float>)] = [
            ([3, 5000], -10...10),   // long row; outputs ~1e-4, so checked relatively too
            ([2, 3, 7], -1...1),
            ([6, 1], -1...1),
            ([1, 1000], -30...30),
            ([4, 37], -5...5),
            ([2, 2, 2, 129], -3...3),
        ]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 1000 + UInt64(i), c.range)
            let ref = Reference64.softmax(x.doubles, c.x)
            check("softmax x\(c.x) range \(c.range)", [Operand("x", x)], expected: ref, relative: 1e-4) { g, v in
                try g.softmax(v[0])
            }
        }
    }

    // MARK: - Elementwise

    func testUnary() {
        let kinds: [UnaryKind] = [
            .relu, .leakyReLU(slope: 0.01), .leakyReLU(slope: 0.2), .gelu, .quickGELU, .tanh, .sigmoid,
            .affine(scale: 1.5, shift: -0.25), .affine(scale: -0.3, shift: 2),
        ]
        let shapes: [[Int]] = [[2, 3, 5, 7], [1, 1, 1, 1], [1003], [3, 17]]
        for (ki, kind) in kinds.enumerated() {
            for (si, s) in shapes.enumerated() {
                let x = rnd(s, 1100 + UInt64(ki * 10 + si), -6...6)
                let ref = Reference64.unary(kind, x.doubles, s)
                check("unary \(kind) x\(s)", [Operand("x", x)], expected: ref) { g, v in
                    try g.unary(kind, v[0])
                }
            }
        }
    }

    func testBinary() {
        let pairs: [([Int], [Int])] = [
            ([2, 3, 4, 5], [3, 1, 1]),
            ([2, 3, 4, 5], [1, 5]),
            ([1, 5], [2, 3, 4, 5]),
            ([3, 1, 5], [2, 1, 4, 1]),     // both sides broadcast
            ([2, 3, 4, 5], [2, 3, 4, 5]),
            ([7], [1]),
            ([4, 1], [1, 6]),
            ([2, 13, 1, 1], [2, 13, 9, 11]),
            ([1, 1, 1, 1], [3, 5, 7]),
        ]
        for kind in BinaryKind.allCases {
            for (i, p) in pairs.enumerated() {
                let a = rnd(p.0, 1200 + UInt64(i) * 2, -2...2)
                // Divisors away from zero.
                let b = kind == .div ? rnd(p.1, 1201 + UInt64(i) * 2, 0.5...2) : rnd(p.1, 1201 + UInt64(i) * 2, -2...2)
                let ref = Reference64.binary(kind, a.doubles, p.0, b.doubles, p.1)
                check("\(kind) \(p.0) with \(p.1)", [Operand("a", a), Operand("b", b)], expected: ref) { g, v in
                    try g.binary(kind, v[0], v[1])
                }
            }
        }
        // Same value on both sides.
        let a = rnd([3, 5, 7], 1299)
        check("mul x*x", [Operand("a", a)], expected: Reference64.binary(.mul, a.doubles, [3, 5, 7], a.doubles, [3, 5, 7])) { g, v in
            try g.mul(v[0], v[0])
        }
    }

    func testFilm() {
        let cases: [[Int]] = [[2, 5, 3, 7], [1, 3, 1, 1], [3, 13, 4, 6]]
        for (i, s) in cases.enumerated() {
            let x = rnd(s, 1300 + UInt64(i) * 3), gm = rnd([s[0], s[1]], 1301 + UInt64(i) * 3), bt = rnd([s[0], s[1]], 1302 + UInt64(i) * 3)
            let ref = Reference64.film(x.doubles, s, gamma: gm.doubles, beta: bt.doubles)
            check("film x\(s)", [Operand("x", x), Operand("gamma", gm), Operand("beta", bt)], expected: ref) { g, v in
                try g.film(v[0], gamma: v[1], beta: v[2])
            }
        }
    }

    func testPrelu() {
        let cases: [(x: [Int], slope: [Int])] = [
            ([2, 5, 3, 7], [5]),
            ([2, 5, 3, 7], [1]),
            ([2, 5, 9], [5]),
            ([3, 7], [7]),
        ]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 1400 + UInt64(i) * 2), s = rnd(c.slope, 1401 + UInt64(i) * 2, 0...0.5)
            let ref = Reference64.prelu(x.doubles, c.x, slope: s.doubles)
            check("prelu x\(c.x) slope \(c.slope)", [Operand("x", x), Operand("slope", s, constant: true)], expected: ref) { g, v in
                try g.prelu(v[0], slope: v[1])
            }
        }
    }

    // MARK: - Data movement

    func testPixelShuffle() {
        let cases: [(x: [Int], r: Int)] = [([2, 12, 3, 5], 2), ([1, 18, 2, 3], 3), ([1, 5, 1, 1], 1), ([1, 4, 1, 1], 2)]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 1500 + UInt64(i))
            let ref = Reference64.pixelShuffle(x.doubles, c.x, factor: c.r)
            check("pixelShuffle x\(c.x) r \(c.r)", [Operand("x", x)], expected: ref) { g, v in
                try g.pixelShuffle(v[0], factor: c.r)
            }
        }
    }

    func testPixelUnshuffle() {
        let cases: [(x: [Int], r: Int)] = [([2, 3, 6, 10], 2), ([1, 5, 9, 3], 3), ([1, 1, 2, 2], 2)]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 1550 + UInt64(i))
            let ref = Reference64.pixelUnshuffle(x.doubles, c.x, factor: c.r)
            check("pixelUnshuffle x\(c.x) r \(c.r)", [Operand("x", x)], expected: ref) { g, v in
                try g.pixelUnshuffle(v[0], factor: c.r)
            }
        }
        // Unshuffle then shuffle is the identity.
        let x = rnd([2, 3, 6, 4], 1599)
        check("pixelShuffle(pixelUnshuffle(x))", [Operand("x", x)], expected: (x.doubles, [2, 3, 6, 4])) { g, v in
            try g.pixelShuffle(try g.pixelUnshuffle(v[0], factor: 2), factor: 2)
        }
    }

    func testConcat() {
        let cases: [(shapes: [[Int]], axis: Int)] = [
            ([[2, 3, 4, 5], [2, 5, 4, 5], [2, 1, 4, 5]], 1),
            ([[2, 3, 4, 5], [2, 3, 4, 1], [2, 3, 4, 7]], 3),
            ([[1, 3, 4, 5], [2, 3, 4, 5]], 0),
            ([[2, 3, 1, 5], [2, 3, 6, 5]], 2),
            ([[3, 7], [3, 2]], 1),
            ([[2, 5, 3]], 1),                   // single input
        ]
        for (i, c) in cases.enumerated() {
            let ts = c.shapes.enumerated().map { rnd($0.element, 1600 + UInt64(i * 10 + $0.offset)) }
            let ref = Reference64.concat(ts.map { ($0.doubles, $0.shape) }, axis: c.axis)
            check("concat \(c.shapes) axis \(c.axis)", ts.enumerated().map { Operand("x\($0.offset)", $0.element) }, expected: ref) { g, v in
                try g.concat(v, axis: c.axis)
            }
        }
    }

    func testSlice() {
        let cases: [(x: [Int], axis: Int, start: Int, length: Int)] = [
            ([2, 7, 5, 9], 1, 2, 3),
            ([2, 7, 5, 9], 3, 4, 5),
            ([2, 7, 5, 9], 0, 1, 1),
            ([2, 7, 5, 9], 2, 0, 5),   // whole axis
            ([3, 11, 6], 2, 5, 1),
            ([13], 0, 3, 7),
        ]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 1700 + UInt64(i))
            let ref = Reference64.slice(x.doubles, c.x, axis: c.axis, start: c.start, length: c.length)
            check("slice x\(c.x) axis \(c.axis) \(c.start)..<\(c.start + c.length)", [Operand("x", x)], expected: ref) { g, v in
                try g.slice(v[0], axis: c.axis, start: c.start, length: c.length)
            }
        }
    }

    func testPad() {
        let cases: [(x: [Int], p: (Int, Int, Int, Int), mode: PaddingMode)] = [
            ([2, 3, 5, 7], (1, 2, 3, 0), .reflect),
            ([2, 3, 5, 7], (2, 0, 1, 3), .zero),
            ([1, 2, 5, 7], (4, 4, 6, 6), .reflect),   // largest legal reflect pad
            ([1, 3, 1, 1], (2, 1, 0, 3), .zero),      // 1x1 spatial
            ([1, 5, 2, 2], (1, 1, 1, 1), .reflect),
            ([1, 1, 4, 3], (0, 0, 0, 0), .reflect),
        ]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 1800 + UInt64(i))
            let ref = Reference64.pad(x.doubles, c.x, top: c.p.0, bottom: c.p.1, left: c.p.2, right: c.p.3, mode: c.mode)
            check("pad x\(c.x) \(c.p) \(c.mode)", [Operand("x", x)], expected: ref) { g, v in
                try g.pad(v[0], top: c.p.0, bottom: c.p.1, left: c.p.2, right: c.p.3, mode: c.mode)
            }
        }
    }

    func testCrop() {
        let cases: [(x: [Int], y: Int, x0: Int, h: Int, w: Int)] = [
            ([2, 3, 9, 11], 2, 3, 4, 5),
            ([1, 5, 6, 7], 0, 0, 6, 7),   // whole image
            ([1, 3, 6, 7], 5, 6, 1, 1),   // last pixel
            ([2, 7, 4, 9], 1, 0, 3, 9),
        ]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.x, 1900 + UInt64(i))
            let ref = Reference64.crop(x.doubles, c.x, y: c.y, x: c.x0, height: c.h, width: c.w)
            check("crop x\(c.x) at (\(c.y),\(c.x0)) \(c.h)x\(c.w)", [Operand("x", x)], expected: ref) { g, v in
                try g.crop(v[0], y: c.y, x: c.x0, height: c.h, width: c.w)
            }
        }
    }

    func testEmbedding() {
        let cases: [(ids: [Int], v: Int, d: Int)] = [([2, 5], 11, 7), ([9], 3, 130), ([1, 1, 3], 5, 1), ([4, 3], 1000, 13)]
        for (i, c) in cases.enumerated() {
            var rng = SplitMix64(seed: 2000 + UInt64(i))
            let n = c.ids.reduce(1, *)
            var idList = (0..<n).map { _ in Int32(Int.random(in: 0..<c.v, using: &rng)) }
            idList[0] = Int32(c.v - 1)   // the last row
            if n > 1 { idList[n - 1] = 0 }
            let ids = Tensor(shape: c.ids, ints: idList)
            let table = rnd([c.v, c.d], 2100 + UInt64(i))
            let ref = Reference64.embedding(ids: idList, c.ids, table: table.doubles, [c.v, c.d])
            check("embedding ids\(c.ids) table [\(c.v), \(c.d)]", [Operand("ids", ids), Operand("table", table, constant: true)], expected: ref) { g, v in
                try g.embedding(v[0], table: v[1])
            }
        }
    }

    func testReshape() {
        let cases: [([Int], [Int])] = [([2, 3, 4, 5], [6, 20]), ([2, 3, 4, 5], [120]), ([7, 1, 3], [1, 21, 1]), ([5, 6], [5, 6])]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.0, 2200 + UInt64(i))
            check("reshape \(c.0) -> \(c.1)", [Operand("x", x)], expected: Reference64.reshape(x.doubles, c.0, to: c.1)) { g, v in
                try g.reshape(v[0], c.1)
            }
        }
        // A reshape view between two ops.
        let x = rnd([2, 3, 4, 5], 2299)
        let mid = Reference64.unary(.relu, x.doubles, [2, 3, 4, 5])
        let ref = Reference64.unary(.sigmoid, mid.data, [6, 20])
        check("relu -> reshape -> sigmoid", [Operand("x", x)], expected: ref) { g, v in
            try g.sigmoid(try g.reshape(try g.relu(v[0]), [6, 20]))
        }
    }

    func testPermute() {
        let cases: [([Int], [Int])] = [
            ([2, 3, 4, 5], [0, 2, 3, 1]),
            ([2, 3, 4, 5], [3, 1, 0, 2]),
            ([3, 5], [1, 0]),
            ([2, 1, 3, 1, 2, 3], [5, 3, 1, 0, 4, 2]),   // rank 6
            ([4, 3, 2], [0, 1, 2]),                      // identity
            ([3, 7, 5, 2, 3], [4, 0, 3, 2, 1]),
        ]
        for (i, c) in cases.enumerated() {
            let x = rnd(c.0, 2300 + UInt64(i))
            check("permute \(c.0) by \(c.1)", [Operand("x", x)], expected: Reference64.permute(x.doubles, c.0, c.1)) { g, v in
                try g.permute(v[0], c.1)
            }
        }
    }

    // MARK: - Attention

    func testChannelAttention() {
        let cases: [(x: [Int], heads: Int)] = [
            ([2, 6, 5, 7], 2),
            ([1, 3, 4, 4], 1),
            ([1, 9, 1, 1], 3),     // 1x1 spatial
            ([1, 20, 8, 9], 4),
            ([2, 10, 3, 17], 2),
        ]
        for (i, c) in cases.enumerated() {
            let base = 2400 + UInt64(i) * 4
            let q = rnd(c.x, base), k = rnd(c.x, base + 1), v = rnd(c.x, base + 2)
            let t = rnd([c.heads], base + 3, 0.5...3)
            let ref = Reference64.channelAttention(q: q.doubles, k: k.doubles, v: v.doubles, c.x, temperature: t.doubles, heads: c.heads)
            check("channelAttention x\(c.x) heads \(c.heads)",
                  [Operand("q", q), Operand("k", k), Operand("v", v), Operand("t", t, constant: true)], expected: ref) { g, vals in
                try g.channelAttention(q: vals[0], k: vals[1], v: vals[2], temperature: vals[3], heads: c.heads)
            }
        }
    }

    func testAttention() {
        struct C { var b: Int; var h: Int; var nq: Int; var nk: Int; var d: Int; var dv: Int; var bias: [Int]?; var causal: Bool }
        let cases: [C] = [
            C(b: 2, h: 3, nq: 5, nk: 7, d: 8, dv: 6, bias: [3, 5, 7], causal: false),        // [H,Nq,Nk] bias, Nq != Nk
            C(b: 2, h: 3, nq: 5, nk: 7, d: 8, dv: 6, bias: nil, causal: false),
            C(b: 1, h: 2, nq: 9, nk: 9, d: 16, dv: 16, bias: nil, causal: true),
            C(b: 1, h: 2, nq: 9, nk: 9, d: 16, dv: 5, bias: [2, 9, 9], causal: true),
            C(b: 2, h: 1, nq: 5, nk: 9, d: 7, dv: 3, bias: [1, 1, 5, 9], causal: true),      // causal with Nq < Nk
            C(b: 1, h: 4, nq: 1, nk: 13, d: 8, dv: 8, bias: nil, causal: true),               // one query sees all
            C(b: 2, h: 2, nq: 6, nk: 1, d: 5, dv: 7, bias: [2, 2, 6, 1], causal: false),      // one key
            C(b: 1, h: 2, nq: 17, nk: 300, d: 32, dv: 24, bias: nil, causal: false),          // long Nk
            C(b: 1, h: 3, nq: 70, nk: 70, d: 12, dv: 12, bias: [70, 70], causal: true),       // 2-D bias
            C(b: 2, h: 3, nq: 4, nk: 6, d: 3, dv: 2, bias: [2, 1, 4, 6], causal: false),
            C(b: 1, h: 1, nq: 3, nk: 129, d: 64, dv: 64, bias: [1, 129], causal: false),      // bias broadcast over queries
        ]
        for (i, c) in cases.enumerated() {
            let base = 2500 + UInt64(i) * 4
            let q = rnd([c.b, c.h, c.nq, c.d], base), k = rnd([c.b, c.h, c.nk, c.d], base + 1)
            let v = rnd([c.b, c.h, c.nk, c.dv], base + 2)
            let bias = c.bias.map { rnd($0, base + 3, -2...2) }
            let scale = Float(1 / Double(c.d).squareRoot())
            let ref = Reference64.attention(q: q.doubles, q.shape, k: k.doubles, k.shape, v: v.doubles, v.shape,
                                            bias: bias.map { ($0.doubles, $0.shape) }, scale: Double(scale), causal: c.causal)
            var ops = [Operand("q", q), Operand("k", k), Operand("v", v)]
            if let bias { ops.append(Operand("bias", bias)) }
            check("attention B\(c.b) H\(c.h) Nq\(c.nq) Nk\(c.nk) d\(c.d) dv\(c.dv) bias \(c.bias.map { "\($0)" } ?? "none") causal \(c.causal)",
                  ops, expected: ref) { g, vals in
                try g.attention(q: vals[0], k: vals[1], v: vals[2], bias: vals.count == 4 ? vals[3] : nil, scale: scale, causal: c.causal)
            }
        }
    }

    func testWindowAttention() {
        struct C { var n: Int; var c: Int; var cv: Int; var h: Int; var w: Int; var heads: Int; var window: Int }
        let cases: [C] = [
            C(n: 2, c: 6, cv: 10, h: 8, w: 12, heads: 2, window: 4),   // 2 heads, window 4 on 8x12
            C(n: 1, c: 3, cv: 5, h: 4, w: 6, heads: 1, window: 2),
            C(n: 1, c: 9, cv: 6, h: 8, w: 16, heads: 3, window: 8),    // 64 tokens per window
            C(n: 1, c: 4, cv: 4, h: 3, w: 5, heads: 1, window: 1),     // one token per window
            C(n: 1, c: 14, cv: 7, h: 7, w: 14, heads: 7, window: 7),
        ]
        for (i, c) in cases.enumerated() {
            let base = 2600 + UInt64(i) * 4
            let q = rnd([c.n, c.c, c.h, c.w], base), k = rnd([c.n, c.c, c.h, c.w], base + 1)
            let v = rnd([c.n, c.cv, c.h, c.w], base + 2)
            let t = c.window * c.window
            let bias = rnd([c.heads, t, t], base + 3, -2...2)
            let scale = Float(1 / Double(c.c / c.heads).squareRoot())
            let ref = Reference64.windowAttention(q: q.doubles, k: k.doubles, q.shape, v: v.doubles, v.shape, bias: bias.doubles,
                                                  heads: c.heads, window: c.window, scale: Double(scale))
            check("windowAttention q\(q.shape) v\(v.shape) heads \(c.heads) window \(c.window)",
                  [Operand("q", q), Operand("k", k), Operand("v", v), Operand("bias", bias, constant: true)], expected: ref) { g, vals in
                try g.windowAttention(q: vals[0], k: vals[1], v: vals[2], bias: vals[3], heads: c.heads, window: c.window, scale: scale)
            }
        }
    }

    // MARK: - Resize

    func testResize() {
        let cases: [(x: [Int], h: Int, w: Int)] = [
            ([2, 3, 5, 7], 11, 13),    // up, non-integer ratio
            ([2, 3, 5, 7], 3, 4),      // down
            ([2, 3, 5, 7], 5, 7),      // same size
            ([1, 3, 5, 7], 10, 14),    // exact 2x
            ([1, 3, 5, 7], 9, 3),      // up in y, down in x
            ([1, 2, 1, 1], 4, 5),      // from 1x1
            ([1, 2, 16, 16], 5, 7),    // strong down
            ([1, 5, 6, 9], 1, 1),      // to 1x1
            ([1, 3, 4, 4], 16, 16),    // 4x up
        ]
        for mode in ResizeMode.allCases {
            for (i, c) in cases.enumerated() {
                let x = rnd(c.x, 2700 + UInt64(i))
                let ref = Reference64.resize(x.doubles, c.x, mode: mode, height: c.h, width: c.w)
                check("resize \(mode) \(c.x) -> \(c.h)x\(c.w)", [Operand("x", x)], expected: ref) { g, v in
                    try g.resize(v[0], mode: mode, height: c.h, width: c.w)
                }
            }
        }
    }

    // MARK: - Large tensors

    /// Shapes past the CPU backend's work-splitting sizes (elementwise chunks of 2^15, norm
    /// reduction chunks of 2^16, several GEMM/attention tasks), with sizes that are not
    /// multiples of any chunk, so partial chunks and chunk seams are checked.
    func testLargeTensorsAcrossChunkBoundaries() {
        do {
            let x = rnd([70001], 3000, -5...5)
            check("large gelu [70001]", [Operand("x", x)], expected: Reference64.unary(.gelu, x.doubles, x.shape)) { g, v in try g.gelu(v[0]) }
        }
        for (i, p) in [([2, 3, 150, 151], [3, 1, 1]), ([1, 70001], [70001]), ([2, 70001], [2, 1]), ([3, 1, 40000], [1, 2, 1])].enumerated() {
            let a = rnd(p.0, 3010 + UInt64(i) * 2), b = rnd(p.1, 3011 + UInt64(i) * 2, 0.5...2)
            let kind: BinaryKind = [.add, .sub, .div, .mul][i]
            check("large \(kind) \(p.0) with \(p.1)", [Operand("a", a), Operand("b", b)],
                  expected: Reference64.binary(kind, a.doubles, p.0, b.doubles, p.1)) { g, v in try g.binary(kind, v[0], v[1]) }
        }
        do {
            let s = [1, 2, 200, 171]
            let x = rnd(s, 3020), gm = rnd([1, 2], 3021), bt = rnd([1, 2], 3022)
            check("large film \(s)", [Operand("x", x), Operand("g", gm), Operand("b", bt)],
                  expected: Reference64.film(x.doubles, s, gamma: gm.doubles, beta: bt.doubles)) { g, v in try g.film(v[0], gamma: v[1], beta: v[2]) }
            let sl = rnd([2], 3023, 0...0.5)
            check("large prelu \(s)", [Operand("x", x), Operand("s", sl)],
                  expected: Reference64.prelu(x.doubles, s, slope: sl.doubles)) { g, v in try g.prelu(v[0], slope: v[1]) }
        }
        do {
            let s = [1, 3, 200, 150]
            let x = rnd(s, 3030, -1...3), w = rnd([3], 3031, 0.5...1.5), b = rnd([3], 3032)
            check("large globalNorm \(s)", [Operand("x", x), Operand("w", w), Operand("b", b)],
                  expected: Reference64.globalNorm(x.doubles, s, weight: w.doubles, bias: b.doubles, eps: 1e-5)) { g, v in
                try g.globalNorm(v[0], weight: v[1], bias: v[2])
            }
            check("large layerNormChannels \(s)", [Operand("x", x), Operand("w", w), Operand("b", b)],
                  expected: Reference64.layerNormChannels(x.doubles, s, weight: w.doubles, bias: b.doubles, eps: 1e-5)) { g, v in
                try g.layerNormChannels(v[0], weight: v[1], bias: v[2])
            }
        }
        do {
            let x = rnd([2, 140001], 3040, -1...3)
            check("large globalStats [2, 140001]", [Operand("x", x)], expected: Reference64.globalStats(x.doubles, x.shape, eps: 1e-5)) { g, v in
                try g.globalStats(v[0])
            }
        }
        do {
            let s = [1, 4, 256, 301]
            let x = rnd(s, 3050, -1...2), w = rnd([4], 3051, 0.5...1.5), b = rnd([4], 3052)
            check("large groupNorm \(s) groups 2", [Operand("x", x), Operand("w", w), Operand("b", b)],
                  expected: Reference64.groupNorm(x.doubles, s, groups: 2, weight: w.doubles, bias: b.doubles, eps: 1e-5)) { g, v in
                try g.groupNorm(v[0], groups: 2, weight: v[1], bias: v[2])
            }
        }
        do {
            let x = rnd([2, 70001], 3060, -10...10), w = rnd([70001], 3061, 0.5...1.5), b = rnd([70001], 3062)
            check("large layerNorm [2, 70001]", [Operand("x", x), Operand("w", w), Operand("b", b)],
                  expected: Reference64.layerNorm(x.doubles, x.shape, weight: w.doubles, bias: b.doubles, eps: 1e-5)) { g, v in
                try g.layerNorm(v[0], weight: v[1], bias: v[2])
            }
            check("large softmax [2, 70001]", [Operand("x", x)], expected: Reference64.softmax(x.doubles, x.shape), relative: 1e-4) { g, v in
                try g.softmax(v[0])
            }
        }
        do {
            let x = rnd([1, 2, 200, 170], 3070)
            for mode in ResizeMode.allCases {
                check("large resize \(mode) [1, 2, 200, 170] -> 301x97", [Operand("x", x)],
                      expected: Reference64.resize(x.doubles, x.shape, mode: mode, height: 301, width: 97)) { g, v in
                    try g.resize(v[0], mode: mode, height: 301, width: 97)
                }
            }
            check("large permute [1, 2, 200, 170] by [0, 2, 3, 1]", [Operand("x", x)],
                  expected: Reference64.permute(x.doubles, x.shape, [0, 2, 3, 1])) { g, v in try g.permute(v[0], [0, 2, 3, 1]) }
            check("large pad reflect [1, 2, 200, 170]", [Operand("x", x)],
                  expected: Reference64.pad(x.doubles, x.shape, top: 3, bottom: 1, left: 0, right: 5, mode: .reflect)) { g, v in
                try g.pad(v[0], top: 3, bottom: 1, left: 0, right: 5, mode: .reflect)
            }
        }
        do {
            let a = rnd([4, 65, 129], 3080), b = rnd([129, 97], 3081)
            check("large matmul [4, 65, 129] x [129, 97]", [Operand("a", a), Operand("b", b)],
                  expected: Reference64.matmul(a.doubles, a.shape, b.doubles, b.shape, transposeA: false, transposeB: false, alpha: 1)) { g, v in
                try g.matmul(v[0], v[1])
            }
        }
        do {
            let x = rnd([2, 19, 37, 41], 3090), w = rnd([23, 19, 3, 3], 3091, -0.3...0.3), b = rnd([23], 3092)
            let attrs = Conv2DAttributes(padding: 1, paddingMode: .reflect)
            check("large conv2d 3x3 reflect x[2, 19, 37, 41] -> 23", [Operand("x", x), Operand("w", w, constant: true), Operand("b", b, constant: true)],
                  expected: Reference64.conv2d(x.doubles, x.shape, weight: w.doubles, w.shape, bias: b.doubles, stride: (1, 1),
                                               padding: (1, 1, 1, 1), dilation: (1, 1), groups: 1, mode: .reflect)) { g, v in
                try g.conv2d(v[0], weight: v[1], bias: v[2], attrs)
            }
            let dw = rnd([19, 1, 5, 5], 3093, -0.3...0.3)
            let dAttrs = Conv2DAttributes(padding: 2, groups: 19, paddingMode: .reflect)
            check("large depthwise 5x5 reflect x[2, 19, 37, 41]", [Operand("x", x), Operand("w", dw)],
                  expected: Reference64.conv2d(x.doubles, x.shape, weight: dw.doubles, dw.shape, bias: nil, stride: (1, 1),
                                               padding: (2, 2, 2, 2), dilation: (1, 1), groups: 19, mode: .reflect)) { g, v in
                try g.conv2d(v[0], weight: v[1], dAttrs)
            }
        }
        do {
            let q = rnd([2, 4, 130, 64], 3100), k = rnd([2, 4, 257, 64], 3101), v = rnd([2, 4, 257, 40], 3102)
            let bias = rnd([4, 130, 257], 3103)
            check("large attention Nq 130 Nk 257 d 64 with bias", [Operand("q", q), Operand("k", k), Operand("v", v), Operand("b", bias)],
                  expected: Reference64.attention(q: q.doubles, q.shape, k: k.doubles, k.shape, v: v.doubles, v.shape,
                                                  bias: (bias.doubles, bias.shape), scale: 0.125, causal: false)) { g, vals in
                try g.attention(q: vals[0], k: vals[1], v: vals[2], bias: vals[3], scale: 0.125)
            }
            let kc = rnd([2, 4, 130, 64], 3104), vc = rnd([2, 4, 130, 40], 3105)
            check("large attention causal Nq = Nk = 130", [Operand("q", q), Operand("k", kc), Operand("v", vc)],
                  expected: Reference64.attention(q: q.doubles, q.shape, k: kc.doubles, kc.shape, v: vc.doubles, vc.shape,
                                                  bias: nil, scale: 0.125, causal: true)) { g, vals in
                try g.attention(q: vals[0], k: vals[1], v: vals[2], scale: 0.125, causal: true)
            }
        }
        do {
            let q = rnd([2, 12, 16, 24], 3110), k = rnd([2, 12, 16, 24], 3111), v = rnd([2, 9, 16, 24], 3112)
            let bias = rnd([3, 64, 64], 3113)
            check("large windowAttention [2, 12, 16, 24] window 8 heads 3", [Operand("q", q), Operand("k", k), Operand("v", v), Operand("b", bias)],
                  expected: Reference64.windowAttention(q: q.doubles, k: k.doubles, q.shape, v: v.doubles, v.shape, bias: bias.doubles,
                                                        heads: 3, window: 8, scale: 0.5)) { g, vals in
                try g.windowAttention(q: vals[0], k: vals[1], v: vals[2], bias: vals[3], heads: 3, window: 8, scale: 0.5)
            }
            let x = rnd([2, 30, 20, 24], 3114), t = rnd([3], 3115, 0.5...3)
            let x2 = rnd([2, 30, 20, 24], 3116), x3 = rnd([2, 30, 20, 24], 3117)
            check("large channelAttention [2, 30, 20, 24] heads 3", [Operand("q", x), Operand("k", x2), Operand("v", x3), Operand("t", t)],
                  expected: Reference64.channelAttention(q: x.doubles, k: x2.doubles, v: x3.doubles, x.shape, temperature: t.doubles, heads: 3)) { g, vals in
                try g.channelAttention(q: vals[0], k: vals[1], v: vals[2], temperature: vals[3], heads: 3)
            }
        }
    }

    func testEveryOpHasAReferenceTest() {
        let ops: [Op] = [.softmax, .linear, .conv2d(Conv2DAttributes()), .permute([1, 0])]
        for op in ops { XCTAssertFalse(Self.referenceTest(for: op).isEmpty) }
    }

    // MARK: - Coverage

    /// The test of each op. An exhaustive switch with no `default`, so a new `Op` case does
    /// not compile here until it has a reference test.
    static func referenceTest(for op: Op) -> String {
        switch op {
        case .conv2d: return "testConv2d, testConv2dRandomSweep"
        case .matmul: return "testMatmul"
        case .linear: return "testLinear"
        case .layerNormChannels: return "testLayerNormChannels"
        case .layerNorm: return "testLayerNorm"
        case .groupNorm: return "testGroupNorm"
        case .globalNorm: return "testGlobalNorm"
        case .globalStats: return "testGlobalStats"
        case .softmax: return "testSoftmax"
        case .unary: return "testUnary"
        case .binary: return "testBinary"
        case .film: return "testFilm"
        case .prelu: return "testPrelu"
        case .pixelShuffle: return "testPixelShuffle"
        case .pixelUnshuffle: return "testPixelUnshuffle"
        case .concat: return "testConcat"
        case .slice: return "testSlice"
        case .pad: return "testPad"
        case .crop: return "testCrop"
        case .embedding: return "testEmbedding"
        case .channelAttention: return "testChannelAttention"
        case .attention: return "testAttention"
        case .windowAttention: return "testWindowAttention"
        case .resize: return "testResize"
        case .reshape: return "testReshape"
        case .permute: return "testPermute"
        }
    }

    // MARK: - Reference self-checks (hand-computed values from the PyTorch definitions)

    func testReferenceSelfChecks() {
        // F.interpolate(arange(4), size=8, mode="bilinear", align_corners=False).
        let row: [Double] = [0, 1, 2, 3]
        let bl = Reference64.resize(row, [1, 1, 1, 4], mode: .bilinear, height: 1, width: 8).data
        XCTAssertEqual(bl, [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
        // Nearest: floor(dst * 4 / 8).
        let nn = Reference64.resize(row, [1, 1, 1, 4], mode: .nearest, height: 1, width: 8).data
        XCTAssertEqual(nn, [0, 0, 1, 1, 2, 2, 3, 3])
        // Bicubic weights sum to one, and the kernel interpolates (t = 0 -> [0, 1, 0, 0]).
        for t in stride(from: 0.0, to: 1.0, by: 0.125) {
            XCTAssertEqual(Reference64.cubicWeights(t).reduce(0, +), 1, accuracy: 1e-12)
        }
        XCTAssertEqual(Reference64.cubicWeights(0), [0, 1, 0, 0])
        // Bicubic at the left border of arange(4) -> 8: src -0.25, taps clamped to [0,0,0,1],
        // weights [-0.03515625, 0.26171875, 0.87890625, -0.10546875].
        let bc = Reference64.resize(row, [1, 1, 1, 4], mode: .bicubic, height: 1, width: 8).data
        XCTAssertEqual(bc[0], -0.10546875, accuracy: 1e-12)
        // Inside: src 1.25, taps 0...3 with weights [-0.10546875, 0.87890625, 0.26171875, -0.03515625]
        // (a = -0.75 does not reproduce a ramp exactly: 1.296875, not 1.25).
        XCTAssertEqual(bc[3], 1.296875, accuracy: 1e-12)
        XCTAssertEqual(bc[4], 1.703125, accuracy: 1e-12)
        // Mirror symmetry of a ramp: out[i] + out[7 - i] = 3.
        for i in 0..<8 { XCTAssertEqual(bc[i] + bc[7 - i], 3, accuracy: 1e-12) }
        // Reflect padding of [1, 2, 3] by 2 on each side: [3, 2, 1, 2, 3, 2, 1].
        let p = Reference64.pad([1, 2, 3], [1, 1, 1, 3], top: 0, bottom: 0, left: 2, right: 2, mode: .reflect).data
        XCTAssertEqual(p, [3, 2, 1, 2, 3, 2, 1])
        // Pixel unshuffle of a 2x2 image: channel dy*2+dx holds pixel (dy, dx).
        XCTAssertEqual(Reference64.pixelUnshuffle([1, 2, 3, 4], [1, 1, 2, 2], factor: 2).data, [1, 2, 3, 4])
        XCTAssertEqual(Reference64.pixelShuffle([1, 2, 3, 4], [1, 4, 1, 1], factor: 2).data, [1, 2, 3, 4])
        // conv2d: 3x3 ones over 3x3 arange with zero padding 1 (centre = sum = 36).
        let img = (0..<9).map(Double.init)
        let conv = Reference64.conv2d(img, [1, 1, 3, 3], weight: Array(repeating: 1, count: 9), [1, 1, 3, 3], bias: nil,
                                      stride: (1, 1), padding: (1, 1, 1, 1), dilation: (1, 1), groups: 1, mode: .zero).data
        XCTAssertEqual(conv, [8, 15, 12, 21, 36, 27, 20, 33, 24])
        // GELU(1) = 0.8413447460685429, quickGELU(1) = sigmoid(1.702).
        XCTAssertEqual(Reference64.unary(.gelu, [1], [1]).data[0], 0.8413447460685429, accuracy: 1e-15)
        XCTAssertEqual(Reference64.unary(.quickGELU, [1], [1]).data[0], 1 / (1 + exp(-1.702)), accuracy: 1e-15)
        // Causal attention of query 0 sees key 0 only.
        let att = Reference64.attention(q: [1, 1], [1, 1, 2, 1], k: [1, 2], [1, 1, 2, 1], v: [5, 7], [1, 1, 2, 1],
                                        bias: nil, scale: 1, causal: true).data
        XCTAssertEqual(att[0], 5)
        XCTAssertEqual(att[1], (5 * exp(1.0) + 7 * exp(2.0)) / (exp(1.0) + exp(2.0)), accuracy: 1e-12)
        // Permute is a transpose for rank 2.
        XCTAssertEqual(Reference64.permute([1, 2, 3, 4, 5, 6], [2, 3], [1, 0]).data, [1, 4, 2, 5, 3, 6])
    }
}
