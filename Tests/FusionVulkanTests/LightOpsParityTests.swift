import Foundation
import FusionCore
import FusionCPU
import FusionVulkan
import XCTest

/// Vulkan vs CPU on one-op graphs of the memory-bound ops (norms, softmax, elementwise,
/// layout, embedding, resize): odd sizes, channels not a multiple of 4, 1x1 spatial,
/// reductions over more than a million elements, and tensors over one binding.
/// Tolerance: max |err| <= 1e-5 * max(1, max |cpu|). Run with FUSIONKIT_VALIDATION=1 to
/// have every case also assert zero validation-layer messages.
final class LightOpsParityTests: XCTestCase {
    private static let cpu = CPUBackend()

    /// Builds a one-op graph over `inputs`, runs it on both backends, compares every output.
    private func parity(_ label: String, _ inputs: [(String, Tensor)], tolerance: Float = 1e-5,
                        file: StaticString = #filePath, line: UInt = #line,
                        _ body: (Graph, [Value]) throws -> Value) throws {
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        let values = inputs.map { g.input($0.0, shape: $0.1.shape, dtype: $0.1.dtype) }
        g.output("y", try body(g, values))
        var feed: [String: Tensor] = [:]
        for (name, t) in inputs { feed[name] = t }
        let out = try XCTUnwrap(try gpu.run(g, inputs: feed)["y"], file: file, line: line)
        let ref = try XCTUnwrap(try Self.cpu.run(g, inputs: feed)["y"], file: file, line: line)
        XCTAssertEqual(out.shape, ref.shape, label, file: file, line: line)
        guard out.shape == ref.shape else { return }
        if ref.dtype == .i32 {
            XCTAssert(Array(out.int32s) == Array(ref.int32s), "\(label): i32 outputs differ", file: file, line: line)
        } else {
            let err = VulkanTestSupport.maxAbsDifference(out, ref)
            let scale = max(1, VulkanTestSupport.maxAbs(ref))
            XCTAssert(!err.isNaN, "\(label): NaN", file: file, line: line)
            XCTAssertLessThanOrEqual(err, tolerance * scale, "\(label) \(ref.shape): max |err| \(err), scale \(scale)",
                                     file: file, line: line)
        }
        VulkanTestSupport.assertNoValidationMessages(gpu, file: file, line: line)
    }

    private func random(_ shape: [Int], _ seed: UInt64, _ range: ClosedRange<Float> = -1...1) -> Tensor {
        Tensor.random(shape: shape, seed: seed, in: range)
    }

    private func constant(_ g: Graph, _ shape: [Int], _ seed: UInt64, _ range: ClosedRange<Float> = -1...1) -> Value {
        g.constant(random(shape, seed, range))
    }

    // MARK: - Normalisations

    func testLayerNormChannels() throws {
        let cases: [([Int], Bool)] = [([1, 3, 5, 7], true), ([2, 5, 1, 1], true), ([2, 17, 9, 13], false),
                                      ([1, 1, 4, 4], true), ([3, 64, 6, 5], true)]
        for (i, (shape, bias)) in cases.enumerated() {
            try parity("layerNormChannels \(shape)", [("x", random(shape, UInt64(i), -3...5))]) { g, v in
                try g.layerNormChannels(v[0], weight: constant(g, [shape[1]], 100 + UInt64(i)),
                                        bias: bias ? constant(g, [shape[1]], 200 + UInt64(i)) : nil, eps: 1e-5)
            }
        }
    }

    func testLayerNorm() throws {
        let cases: [([Int], Bool)] = [([3, 7], true), ([2, 5, 64], true), ([4, 1000], false), ([2, 3, 1], true),
                                      ([1, 4097], true), ([37, 33], true), ([5], true)]
        for (i, (shape, bias)) in cases.enumerated() {
            let c = shape.last!
            try parity("layerNorm \(shape)", [("x", random(shape, UInt64(i), -2...6))]) { g, v in
                try g.layerNorm(v[0], weight: constant(g, [c], 10 + UInt64(i)),
                                bias: bias ? constant(g, [c], 20 + UInt64(i)) : nil, eps: 1e-6)
            }
        }
    }

    func testGroupNorm() throws {
        let cases: [([Int], Int)] = [([2, 6, 5, 7], 3), ([1, 32, 64, 64], 8), ([2, 4, 10], 2), ([3, 8], 4),
                                     ([1, 5, 1, 1], 5), ([1, 8, 512, 512], 2)]
        for (i, (shape, groups)) in cases.enumerated() {
            try parity("groupNorm \(shape) / \(groups)", [("x", random(shape, UInt64(i), -1...3))]) { g, v in
                try g.groupNorm(v[0], groups: groups, weight: constant(g, [shape[1]], 30 + UInt64(i)),
                                bias: constant(g, [shape[1]], 40 + UInt64(i)))
            }
        }
    }

    func testGlobalNormAndStats() throws {
        let shapes = [[2, 3, 5, 7], [1, 1, 1, 1], [3, 5, 1, 1], [1, 24, 256, 320]]
        for (i, shape) in shapes.enumerated() {
            let x = random(shape, 50 + UInt64(i), -2...4)
            try parity("globalNorm \(shape)", [("x", x)]) { g, v in
                try g.globalNorm(v[0], weight: constant(g, [shape[1]], 60 + UInt64(i)),
                                 bias: constant(g, [shape[1]], 70 + UInt64(i)), eps: 1e-5)
            }
            try parity("globalStats \(shape)", [("x", x)]) { g, v in try g.globalStats(v[0], eps: 1e-5) }
        }
        try parity("globalStats [3, 5]", [("x", random([3, 5], 80))]) { g, v in try g.globalStats(v[0]) }
        try parity("globalStats [4]", [("x", random([4], 81))]) { g, v in try g.globalStats(v[0]) }
    }

    /// Ill-conditioned statistics: two channels with close values (1/sqrt(eps) amplifies the
    /// mean's rounding error) and data far from zero (mean 100, spread 1). The corrected
    /// two-pass scheme keeps these within 1e-5 of the float64 CPU reference.
    func testNormalisationConditioning() throws {
        try parity("layerNormChannels C=2", [("x", random([1, 2, 1024, 1024], 300, -2...5))]) { g, v in
            try g.layerNormChannels(v[0], weight: constant(g, [2], 301), bias: constant(g, [2], 302))
        }
        try parity("layerNorm width 2", [("x", random([300_000, 2], 303, -2...5))]) { g, v in
            try g.layerNorm(v[0], weight: constant(g, [2], 304), bias: constant(g, [2], 305))
        }
        try parity("layerNorm width 300 offset", [("x", random([999, 300], 306, 99...101))]) { g, v in
            try g.layerNorm(v[0], weight: constant(g, [300], 307), bias: constant(g, [300], 308))
        }
        let far = random([2, 3, 256, 256], 309, 99...101)
        try parity("globalNorm offset", [("x", far)]) { g, v in
            try g.globalNorm(v[0], weight: constant(g, [3], 310), bias: constant(g, [3], 311))
        }
        try parity("globalStats offset", [("x", far)]) { g, v in try g.globalStats(v[0]) }
        try parity("groupNorm offset", [("x", far)]) { g, v in
            try g.groupNorm(v[0], groups: 3, weight: constant(g, [3], 312), bias: constant(g, [3], 313))
        }
    }

    /// Reductions over more than maxStorageBufferRange: the partial sums are dispatched in
    /// ranges of the input (two samples of 31M elements = 240 MiB).
    func testGlobalStatsAndNormOverBindingLimit() throws {
        let shape = [2, 24, 1024, 1280]
        let x = random(shape, 90, -1...3)
        try parity("globalStats \(shape)", [("x", x)]) { g, v in try g.globalStats(v[0], eps: 1e-5) }
        try parity("globalNorm \(shape)", [("x", x)]) { g, v in
            try g.globalNorm(v[0], weight: constant(g, [24], 91), bias: constant(g, [24], 92))
        }
    }

    /// Channel chunks (three-pass) path of layerNormChannels: one batch item is larger
    /// than one binding, and a two-item tensor whose items fit one at a time.
    func testLayerNormChannelsOverBindingLimit() throws {
        for (i, shape) in [[1, 70, 768, 768], [2, 33, 768, 768]].enumerated() {
            try parity("layerNormChannels \(shape)", [("x", random(shape, 95 + UInt64(i), -2...4))]) { g, v in
                try g.layerNormChannels(v[0], weight: constant(g, [shape[1]], 96), bias: constant(g, [shape[1]], 97))
            }
        }
    }

    // MARK: - Softmax

    func testSoftmax() throws {
        let shapes = [[3, 7], [2, 4, 100], [5, 1], [2, 3000], [1, 1, 40], [33], [6, 257]]
        for (i, shape) in shapes.enumerated() {
            try parity("softmax \(shape)", [("x", random(shape, 110 + UInt64(i), -10...10))]) { g, v in try g.softmax(v[0]) }
        }
    }

    // MARK: - Elementwise

    func testUnary() throws {
        let kinds: [UnaryKind] = [.relu, .leakyReLU(slope: 0.1), .gelu, .quickGELU, .tanh, .sigmoid,
                                  .affine(scale: 1.5, shift: -0.25)]
        for (i, kind) in kinds.enumerated() {
            for shape in [[2, 3, 17, 19], [7], [1, 1, 1, 1]] {
                try parity("\(kind.name) \(shape)", [("x", random(shape, 120 + UInt64(i), -8...8))]) { g, v in
                    try g.unary(kind, v[0])
                }
            }
        }
    }

    /// Extreme inputs: no NaN or inf out of tanh / sigmoid / gelu / quickGELU.
    func testUnaryExtremeInputs() throws {
        let values: [Float] = [0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 0.5, -0.5, 3.9, -3.9, 9, -9, 20, -20,
                               88, -88, 89, -89, 1e4, -1e4, 1e30, -1e30, Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude]
        let x = Tensor(shape: [values.count], floats: values)
        for kind in [UnaryKind.tanh, .sigmoid, .gelu, .quickGELU] {
            let gpu = try VulkanTestSupport.backend()
            let g = Graph()
            g.output("y", try g.unary(kind, g.input("x", shape: [values.count])))
            let y = try XCTUnwrap(try gpu.run(g, inputs: ["x": x])["y"])
            for (v, r) in zip(values, y.floats) {
                XCTAssert(r.isFinite, "\(kind.name)(\(v)) = \(r)")
                let expected: Double
                let d = Double(v)
                switch kind {
                case .tanh: expected = Foundation.tanh(d)
                case .sigmoid: expected = 1 / (1 + Foundation.exp(-d))
                case .gelu: expected = 0.5 * d * (1 + Foundation.erf(d / 2.0.squareRoot()))
                default: expected = d / (1 + Foundation.exp(-1.702 * d))
                }
                XCTAssertLessThanOrEqual(abs(Double(r) - expected), 3e-7 * max(1, abs(expected)), "\(kind.name)(\(v)) = \(r), expected \(expected)")
            }
            VulkanTestSupport.assertNoValidationMessages(gpu)
        }
    }

    /// GELU's erf approximation on a dense grid against float64: the erf part must be good
    /// to ~1e-7 absolute, so |gelu - exact| <= 3e-7 * max(1, |x|) (argument and output
    /// rounding included). Same for tanh (absolute 3e-7).
    func testGELUAndTanhAccuracyOnDenseGrid() throws {
        let gpu = try VulkanTestSupport.backend()
        let count = 400_001
        let xs = (0..<count).map { Float(-10 + 20 * Double($0) / Double(count - 1)) }
        let x = Tensor(shape: [count], floats: xs)
        let g = Graph()
        let input = g.input("x", shape: [count])
        g.output("gelu", try g.gelu(input))
        g.output("tanh", try g.tanh(input))
        let out = try gpu.run(g, inputs: ["x": x])
        let gelu = try XCTUnwrap(out["gelu"]), tanh = try XCTUnwrap(out["tanh"])
        var worstGELU = 0.0, worstTanh = 0.0
        for i in 0..<count {
            let d = Double(xs[i])
            let eg = 0.5 * d * (1 + Foundation.erf(d / 2.0.squareRoot()))
            worstGELU = max(worstGELU, abs(Double(gelu.floats[i]) - eg) / max(1, abs(d)))
            worstTanh = max(worstTanh, abs(Double(tanh.floats[i]) - Foundation.tanh(d)))
        }
        print("gelu max |err| / max(1,|x|) = \(worstGELU), tanh max |err| = \(worstTanh)")
        XCTAssertLessThanOrEqual(worstGELU, 3e-7)
        XCTAssertLessThanOrEqual(worstTanh, 3e-7)
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    func testBinary() throws {
        let cases: [([Int], [Int])] = [([2, 3, 4, 5], [2, 3, 4, 5]), ([2, 3, 4, 5], [3, 1, 5]), ([4, 1], [1, 5]),
                                       ([1], [2, 3]), ([2, 1, 4, 1], [1, 3, 1, 5]), ([7], [7]), ([3, 1, 1], [3, 6, 7]),
                                       ([1, 5, 1, 1], [2, 5, 9, 11]), ([2, 5, 9, 11], [1])]
        for (i, (sa, sb)) in cases.enumerated() {
            for kind in BinaryKind.allCases {
                let b = random(sb, 140 + UInt64(i), kind == .div ? 0.5...2 : -3...3)
                try parity("\(kind) \(sa) \(sb)", [("a", random(sa, 130 + UInt64(i), -3...3)), ("b", b)]) { g, v in
                    try g.binary(kind, v[0], v[1])
                }
            }
        }
    }

    func testFilmAndPrelu() throws {
        for (i, shape) in [[2, 3, 5, 7], [1, 4, 1, 1], [3, 5, 2, 9]].enumerated() {
            let nc = [shape[0], shape[1]]
            try parity("film \(shape)", [("x", random(shape, 150 + UInt64(i))), ("g", random(nc, 151)), ("b", random(nc, 152))]) { g, v in
                try g.film(v[0], gamma: v[1], beta: v[2])
            }
        }
        let preluCases: [([Int], [Int])] = [([2, 3, 4, 5], [3]), ([2, 3, 4, 5], [1]), ([4, 3], [3]), ([1, 5, 7], [5])]
        for (i, (shape, slope)) in preluCases.enumerated() {
            try parity("prelu \(shape) \(slope)", [("x", random(shape, 160 + UInt64(i)))]) { g, v in
                try g.prelu(v[0], slope: constant(g, slope, 170 + UInt64(i)))
            }
        }
    }

    /// Elementwise ops on a 160 MiB tensor: same-shape and broadcast operands and FiLM are
    /// processed in flat ranges that fit one binding.
    func testElementwiseOverBindingLimit() throws {
        let shape = [1, 40, 1024, 1024]
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        let a = g.input("a", shape: shape), b = g.input("b", shape: shape)
        g.output("unary", try g.gelu(a))
        g.output("same", try g.mul(a, b))
        g.output("bcast", try g.sub(a, g.constant(random([1, 40, 1, 1], 181))))
        g.output("film", try g.film(b, gamma: g.constant(random([1, 40], 182)), beta: g.constant(random([1, 40], 183))))
        g.output("prelu", try g.prelu(a, slope: g.constant(random([40], 184))))
        let feed = ["a": random(shape, 185), "b": random(shape, 186)]
        let out = try gpu.run(g, inputs: feed)
        let ref = try Self.cpu.run(g, inputs: feed)
        for name in ["unary", "same", "bcast", "film", "prelu"] {
            let o = try XCTUnwrap(out[name]), r = try XCTUnwrap(ref[name])
            let err = VulkanTestSupport.maxAbsDifference(o, r)
            XCTAssertLessThanOrEqual(err, 1e-5 * max(1, VulkanTestSupport.maxAbs(r)), name)
        }
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    // MARK: - Layout

    func testPixelShuffle() throws {
        try parity("pixelShuffle r2", [("x", random([1, 8, 3, 5], 200))]) { g, v in try g.pixelShuffle(v[0], factor: 2) }
        try parity("pixelShuffle r3", [("x", random([2, 9, 2, 2], 201))]) { g, v in try g.pixelShuffle(v[0], factor: 3) }
        try parity("pixelShuffle r1", [("x", random([1, 3, 2, 5], 202))]) { g, v in try g.pixelShuffle(v[0], factor: 1) }
        try parity("pixelUnshuffle r2", [("x", random([1, 3, 4, 6], 203))]) { g, v in try g.pixelUnshuffle(v[0], factor: 2) }
        try parity("pixelUnshuffle r3", [("x", random([2, 5, 9, 3], 204))]) { g, v in try g.pixelUnshuffle(v[0], factor: 3) }
    }

    func testConcatSliceCrop() throws {
        for axis in 0..<4 {
            var s1 = [2, 3, 4, 5], s2 = [2, 3, 4, 5], s3 = [2, 3, 4, 5]
            s1[axis] = 1; s2[axis] = 3; s3[axis] = 2
            try parity("concat axis \(axis)", [("a", random(s1, 210)), ("b", random(s2, 211)), ("c", random(s3, 212))]) { g, v in
                try g.concat(v, axis: axis)
            }
            try parity("slice axis \(axis)", [("x", random([3, 4, 5, 6], 213))]) { g, v in
                try g.slice(v[0], axis: axis, start: 1, length: 2)
            }
        }
        try parity("concat rank 2", [("a", random([3, 2], 214)), ("b", random([3, 5], 215))]) { g, v in try g.concat(v, axis: 1) }
        try parity("slice rank 1", [("x", random([10], 216))]) { g, v in try g.slice(v[0], axis: 0, start: 3, length: 6) }
        try parity("crop", [("x", random([2, 3, 9, 11], 217))]) { g, v in try g.crop(v[0], y: 2, x: 3, height: 5, width: 7) }
        try parity("crop full", [("x", random([1, 2, 4, 4], 218))]) { g, v in try g.crop(v[0], y: 0, x: 0, height: 4, width: 4) }
        try parity("crop 1x1", [("x", random([1, 3, 4, 4], 219))]) { g, v in try g.crop(v[0], y: 3, x: 1, height: 1, width: 1) }
    }

    func testPad() throws {
        let cases: [([Int], (Int, Int, Int, Int), PaddingMode)] = [
            ([1, 2, 5, 7], (1, 2, 3, 0), .reflect), ([2, 3, 4, 4], (3, 3, 3, 3), .reflect),
            ([1, 1, 3, 3], (5, 5, 5, 5), .zero), ([2, 3, 6, 5], (0, 1, 2, 3), .zero), ([1, 2, 2, 2], (1, 1, 1, 1), .reflect),
        ]
        for (i, (shape, p, mode)) in cases.enumerated() {
            try parity("pad \(shape) \(p) \(mode)", [("x", random(shape, 220 + UInt64(i)))]) { g, v in
                try g.pad(v[0], top: p.0, bottom: p.1, left: p.2, right: p.3, mode: mode)
            }
        }
    }

    func testPermute() throws {
        let cases: [([Int], [Int])] = [([3, 5], [1, 0]), ([2, 3, 4], [2, 0, 1]), ([2, 3, 4, 5], [0, 2, 3, 1]),
                                       ([2, 3, 1, 5, 2], [4, 3, 2, 1, 0]), ([2, 1, 3, 2, 2, 3], [5, 1, 3, 0, 4, 2]),
                                       ([4, 5, 6], [0, 1, 2])]
        for (i, (shape, perm)) in cases.enumerated() {
            try parity("permute \(shape) \(perm)", [("x", random(shape, 230 + UInt64(i)))]) { g, v in try g.permute(v[0], perm) }
        }
        let ints = Tensor(shape: [2, 3, 4], ints: (0..<24).map { Int32($0 * 7 - 50) })
        try parity("permute i32", [("x", ints)]) { g, v in try g.permute(v[0], [1, 2, 0]) }
    }

    /// Concat and slice of tensors over one binding: the copy is split into pieces.
    func testLayoutOverBindingLimit() throws {
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        let a = g.input("a", shape: [1, 20, 1024, 1024]), b = g.input("b", shape: [1, 20, 1024, 1024])
        let cat = try g.concat([a, b], axis: 1)   // 160 MiB
        g.output("slice", try g.slice(cat, axis: 1, start: 10, length: 25))
        g.output("perm", try g.permute(cat, [0, 1, 3, 2]))
        g.output("cropped", try g.crop(cat, y: 1, x: 2, height: 1000, width: 1020))
        let feed = ["a": random([1, 20, 1024, 1024], 240), "b": random([1, 20, 1024, 1024], 241)]
        let out = try gpu.run(g, inputs: feed)
        let ref = try Self.cpu.run(g, inputs: feed)
        for name in ["slice", "perm", "cropped"] {
            let o = try XCTUnwrap(out[name]), r = try XCTUnwrap(ref[name])
            XCTAssertEqual(VulkanTestSupport.maxAbsDifference(o, r), 0, name)
        }
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    /// Row kernels (softmax, layerNorm) and plane kernels (resize, pad) on a 136 MiB tensor:
    /// rows and (n, c) planes are dispatched in ranges that fit one binding.
    func testRowsAndPlanesOverBindingLimit() throws {
        let shape = [1, 34, 1024, 1024]
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        let x = g.input("x", shape: shape)
        g.output("softmax", try g.softmax(x))
        g.output("layerNorm", try g.layerNorm(x, weight: g.constant(random([1024], 320)), bias: g.constant(random([1024], 321))))
        g.output("resize", try g.resize(x, mode: .bilinear, height: 300, width: 700))
        g.output("pad", try g.pad(x, top: 1, bottom: 2, left: 3, right: 0, mode: .reflect))
        let feed = ["x": random(shape, 322, -4...4)]
        let out = try gpu.run(g, inputs: feed)
        let ref = try Self.cpu.run(g, inputs: feed)
        for name in ["softmax", "layerNorm", "resize", "pad"] {
            let o = try XCTUnwrap(out[name]), r = try XCTUnwrap(ref[name])
            let err = VulkanTestSupport.maxAbsDifference(o, r)
            XCTAssertLessThanOrEqual(err, 1e-5 * max(1, VulkanTestSupport.maxAbs(r)), name)
        }
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    // MARK: - Embedding, resize

    func testEmbedding() throws {
        let ids = Tensor(shape: [2, 3], ints: [0, 9, 4, 4, 1, 7])
        try parity("embedding", [("ids", ids)]) { g, v in try g.embedding(v[0], table: constant(g, [10, 7], 250)) }
        let flat = Tensor(shape: [5], ints: [2, 0, 1, 2, 2])
        try parity("embedding D=1", [("ids", flat)]) { g, v in try g.embedding(v[0], table: constant(g, [3, 1], 251)) }
    }

    /// Out-of-range ids read as zeros on the GPU (the CPU reference rejects them).
    func testEmbeddingOutOfRangeIdsReadZeros() throws {
        let gpu = try VulkanTestSupport.backend()
        let table = random([4, 5], 252)
        let g = Graph()
        g.output("y", try g.embedding(g.input("ids", shape: [4], dtype: .i32), table: g.constant(table)))
        let y = try XCTUnwrap(try gpu.run(g, inputs: ["ids": Tensor(shape: [4], ints: [3, -1, 4, 1_000_000])])["y"])
        XCTAssertEqual(Array(y.floats[0..<5]), Array(table.floats[15..<20]))
        XCTAssertEqual(Array(y.floats[5...]), Array(repeating: 0, count: 15))
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    func testResize() throws {
        let sizes: [([Int], (Int, Int))] = [([1, 2, 5, 7], (11, 13)), ([1, 2, 5, 7], (3, 4)), ([2, 3, 5, 7], (5, 7)),
                                            ([1, 3, 5, 7], (10, 14)), ([1, 2, 1, 1], (4, 4)), ([1, 1, 8, 8], (1, 1)),
                                            ([1, 2, 6, 10], (12, 15)), ([1, 1, 16, 12], (7, 5)),
                                            ([1, 1, 1000, 999], (301, 1777))]   // coordinates near 1000
        for mode in ResizeMode.allCases {
            for (i, (shape, hw)) in sizes.enumerated() {
                try parity("resize \(mode) \(shape) -> \(hw)", [("x", random(shape, 260 + UInt64(i)))]) { g, v in
                    try g.resize(v[0], mode: mode, height: hw.0, width: hw.1)
                }
            }
        }
    }

    // MARK: - Errors

    /// An op that cannot split a tensor over one binding says so with the typed error.
    func testUnsplittableRowOverLimitIsATypedError() throws {
        let gpu = try VulkanTestSupport.backend()
        let limit = Int(gpu.context.info.maxStorageBufferRange)
        guard limit <= 256 << 20 else { throw XCTSkip("device binds \(limit) bytes; test needs a small limit") }
        let g = Graph()
        let x = g.input("x", shape: [1, limit / 4 + 16])
        g.output("y", try g.softmax(x))
        XCTAssertThrowsError(try gpu.prepare(g)) { error in
            guard case let .limitExceeded(op, detail)? = error as? FusionError else { return XCTFail("\(error)") }
            XCTAssert(op.contains("softmax"), op)
            XCTAssert(detail.contains("maxStorageBufferRange"), detail)
        }
    }
}
