import Foundation
import FusionCore
import FusionCPU
@testable import FusionVulkan
import XCTest

/// Node epilogues on Vulkan: conv2d, linear and matmul nodes carrying every step kind,
/// against the CPU running the same computation as separate, unfused nodes, on both kernel
/// sets, on the fused path (the kernel applies the epilogue at its store) and on the
/// fallback pass (epilogue.comp after the op).
final class EpilogueTests: XCTestCase {
    private static var backends: [String: VulkanBackend] = [:]
    /// Both backends run the graphs as built: the unfused graphs must stay unfused.
    private static let cpu = CPUBackend(passes: .none)

    private func backend(kernels: String) throws -> VulkanBackend {
        _ = try VulkanTestSupport.backend()  // skips without a device
        if let b = Self.backends[kernels] { return b }
        var options = FusionOptions.current
        options.vulkan.kernels = kernels
        options.passes = .none
        let b = try VulkanBackend(validation: FusionOptions.current.requireValidation ? true : nil, options: options)
        Self.backends[kernels] = b
        return b
    }

    /// One epilogue: its steps and their operands (constants), in step order.
    struct Case {
        var name: String
        var steps: [(Epilogue.Step, [Tensor])]
    }

    /// The op of a node and its own inputs, built in a graph whose input "x" is given.
    typealias Base = (Graph, Value) throws -> (Op, [Value])

    /// Builds one graph whose nodes are `base` with each case's epilogue (fused, one output
    /// per case) and the same with separate nodes; runs the fused one on Vulkan and the
    /// unfused one on the CPU (and on Vulkan: fused vs unfused on one device) and compares.
    /// Returns the fused executables (by kernel set).
    @discardableResult
    private func check(_ label: String, x xShape: [Int], base: Base, cases: [Case],
                       kernels: [String] = ["direct", "tiled"], splitBytes: Int? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws -> [String: VulkanExecutable] {
        let fused = Graph(), ref = Graph()
        let fx = fused.input("x", shape: xShape), rx = ref.input("x", shape: xShape)
        for (i, c) in cases.enumerated() {
            let (op, fin) = try base(fused, fx)
            let operands = c.steps.flatMap { $0.1 }.map { fused.constant($0) }
            fused.output("y\(i)", try fused.add(op, fin + operands, epilogue: Epilogue(c.steps.map(\.0)), name: c.name))

            let (rop, rin) = try base(ref, rx)
            var y = try ref.add(rop, rin)
            let channels = y.shape.count > 1 ? y.shape[1] : 1
            for (step, ts) in c.steps {
                let t = ts.map { ref.constant($0) }
                switch step {
                case let .unary(k): y = try ref.add(.unary(k), [y])
                case let .binary(k, first): y = try ref.add(.binary(k), first ? [t[0], y] : [y, t[0]])
                case .film: y = try ref.add(.film, [y, t[0], t[1]])
                case .prelu:
                    // The unfused prelu takes a slope per channel: expand a shared one.
                    let slope = ts[0].count == 1 && channels > 1
                        ? ref.constant(Tensor(shape: [channels], floats: Array(repeating: ts[0].floats[0], count: channels)))
                        : t[0]
                    y = try ref.add(.prelu, [y, slope])
                }
            }
            ref.output("y\(i)", y)
        }
        let inputs = ["x": Tensor.random(shape: xShape, seed: 11)]
        let expected = try Self.cpu.run(ref, inputs: inputs)
        var executables: [String: VulkanExecutable] = [:]
        for k in kernels {
            let b = try backend(kernels: k)
            HeavyOpsTuning.splitBytesOverride = splitBytes
            defer { HeavyOpsTuning.splitBytesOverride = nil }
            let e = try XCTUnwrap(try b.prepare(fused) as? VulkanExecutable)
            let got = try e.run(inputs)
            let unfused = try b.prepare(ref).run(inputs)
            var worst: Float = 0, worstSame: Float = 0
            for (i, c) in cases.enumerated() {
                let want = expected["y\(i)"]!, have = got["y\(i)"]!
                let scale = max(VulkanTestSupport.maxAbs(want), 1e-6)
                let err = VulkanTestSupport.maxAbsDifference(have, want) / scale
                let same = VulkanTestSupport.maxAbsDifference(have, unfused["y\(i)"]!) / scale
                worst = max(worst, err)
                worstSame = max(worstSame, same)
                XCTAssertLessThanOrEqual(err, 1e-5, "\(label) [\(k)] \(c.name): relative error \(err) vs CPU", file: file, line: line)
                XCTAssertLessThanOrEqual(same, 1e-5, "\(label) [\(k)] \(c.name): relative difference \(same) vs unfused Vulkan", file: file, line: line)
            }
            print("[epilogue] \(label) [\(k)]: \(cases.count) epilogues, \(e.dispatchCount) dispatches for \(fused.nodes.count) nodes; max relative error vs CPU \(worst), vs unfused Vulkan \(worstSame)")
            VulkanTestSupport.assertNoValidationMessages(b, file: file, line: line)
            executables[k] = e
        }
        return executables
    }

    // MARK: - epilogue sets

    private static var seed: UInt64 = 100
    private static func t(_ shape: [Int], _ range: ClosedRange<Float> = -1...1) -> Tensor {
        seed += 1
        return Tensor.random(shape: shape, seed: seed, in: range)
    }

    private static let unaryKinds: [UnaryKind] = [.relu, .leakyReLU(slope: 0.1), .gelu, .quickGELU, .tanh, .sigmoid,
                                                  .affine(scale: 1.5, shift: -0.25)]

    private static func unaryCases() -> [Case] {
        unaryKinds.map { Case(name: $0.name, steps: [(.unary($0), [])]) }
    }

    /// add / sub / mul / div, operand first or not, for each operand shape. Divisions keep
    /// their denominators away from zero (an affine step first when the result divides).
    private static func binaryCases(_ shapes: [[Int]]) -> [Case] {
        var out: [Case] = []
        for s in shapes {
            for k in BinaryKind.allCases {
                for first in [false, true] {
                    let step = Epilogue.Step.binary(k, operandFirst: first)
                    var steps: [(Epilogue.Step, [Tensor])] = []
                    if k == .div, first { steps.append((.unary(.affine(scale: 0.1, shift: 2)), [])) }
                    steps.append((step, [k == .div && !first ? t(s, 0.5...1.5) : t(s)]))
                    out.append(Case(name: "\(step.name)\(s)", steps: steps))
                }
            }
        }
        return out
    }

    /// FiLM and PReLU ([C] and [1]) on an [N, C, ...] result, and chains.
    private static func nchwCases(n: Int, c: Int, h: Int, w: Int) -> [Case] {
        [
            Case(name: "film", steps: [(.film, [t([n, c]), t([n, c])])]),
            Case(name: "prelu[C]", steps: [(.prelu, [t([c], 0...0.5)])]),
            Case(name: "prelu[1]", steps: [(.prelu, [t([1], 0...0.5)])]),
            Case(name: "add+gelu+mul", steps: [(.binary(.add, operandFirst: false), [t([n, c, h, w])]), (.unary(.gelu), []),
                                               (.binary(.mul, operandFirst: true), [t([1, c, 1, 1])])]),
            Case(name: "film+prelu+relu+sub", steps: [(.film, [t([n, c]), t([n, c])]), (.prelu, [t([c], 0...0.5)]),
                                                      (.unary(.quickGELU), []), (.binary(.sub, operandFirst: true), [t([n, 1, 1, 1])])]),
            // Five steps: over the fused kernels' four, so two epilogue passes.
            Case(name: "5 steps", steps: [(.unary(.tanh), []), (.binary(.add, operandFirst: false), [t([c, 1, 1])]),
                                          (.unary(.leakyReLU(slope: 0.2)), []), (.binary(.mul, operandFirst: false), [t([1])]),
                                          (.unary(.sigmoid), [])]),
            // Operands no 3-group view covers ([W] and [C, 1, 1]): the fallback pass.
            Case(name: "add[W]+mul[C,1,1]", steps: [(.binary(.add, operandFirst: false), [t([w])]),
                                                    (.binary(.mul, operandFirst: false), [t([c, 1, 1])])]),
        ]
    }

    private static func convCases(n: Int, c: Int, h: Int, w: Int, fullBinary: Bool) -> [Case] {
        let shapes: [[Int]] = fullBinary
            ? [[n, c, h, w], [1, c, 1, 1], [n, c, 1, 1], [n, 1, 1, 1], [1], [c, 1, 1], [1, 1, h, w]]
            : [[n, c, h, w], [1, c, 1, 1]]
        return unaryCases() + binaryCases(shapes) + nchwCases(n: n, c: c, h: h, w: w)
    }

    private static func conv(_ wShape: [Int], bias: Bool, _ a: Conv2DAttributes, seed: UInt64) -> Base {
        { g, x in
            let w = g.constant(Tensor.random(shape: wShape, seed: seed, in: -0.3...0.3))
            let b = bias ? [g.constant(Tensor.random(shape: [wShape[0]], seed: seed + 1))] : []
            return (.conv2d(a), [x, w] + b)
        }
    }

    // MARK: - conv2d

    func testConv1x1WithBias() throws {
        try check("conv 1x1 + bias", x: [2, 8, 5, 6], base: Self.conv([12, 8, 1, 1], bias: true, .init(), seed: 1),
                  cases: Self.convCases(n: 2, c: 12, h: 5, w: 6, fullBinary: true))
    }

    func testConv3x3NoBias() throws {
        try check("conv 3x3", x: [2, 6, 7, 5], base: Self.conv([10, 6, 3, 3], bias: false, .init(padding: 1), seed: 3),
                  cases: Self.convCases(n: 2, c: 10, h: 7, w: 5, fullBinary: false))
    }

    func testConvStridedReflect() throws {
        // 9 x 8 -> 5 x 4.
        try check("conv 3x3 stride 2 reflect", x: [1, 5, 9, 8],
                  base: Self.conv([7, 5, 3, 3], bias: true, .init(stride: 2, padding: 1, paddingMode: .reflect), seed: 5),
                  cases: Self.convCases(n: 1, c: 7, h: 5, w: 4, fullBinary: false))
    }

    func testConvGrouped() throws {
        try check("conv 3x3 groups 2", x: [2, 8, 6, 6], base: Self.conv([12, 4, 3, 3], bias: true, .init(padding: 1, groups: 2), seed: 7),
                  cases: Self.convCases(n: 2, c: 12, h: 6, w: 6, fullBinary: false))
    }

    func testConvDepthwise() throws {
        try check("conv depthwise 3x3", x: [2, 8, 7, 6], base: Self.conv([8, 1, 3, 3], bias: true, .init(padding: 1, groups: 8), seed: 9),
                  cases: Self.convCases(n: 2, c: 8, h: 7, w: 6, fullBinary: true))
    }

    // MARK: - linear and matmul

    func testLinear() throws {
        let base: Base = { g, x in
            (.linear, [x, g.constant(Tensor.random(shape: [16, 24], seed: 21, in: -0.3...0.3)),
                       g.constant(Tensor.random(shape: [16], seed: 22))])
        }
        // Rank 2 [6, 16]: prelu over the 16 features.
        try check("linear [6,24] -> [6,16]", x: [6, 24], base: base,
                  cases: Self.unaryCases() + Self.binaryCases([[6, 16], [16], [6, 1], [1]])
                      + [Case(name: "prelu[16]", steps: [(.prelu, [Self.t([16], 0...0.5)])]),
                         Case(name: "prelu[1]", steps: [(.prelu, [Self.t([1], 0...0.5)])]),
                         Case(name: "add+gelu+mul", steps: [(.binary(.add, operandFirst: false), [Self.t([6, 16])]), (.unary(.gelu), []),
                                                            (.binary(.mul, operandFirst: false), [Self.t([16])])])])
        // Rank 3 [3, 5, 16]: prelu over dim 1 (5).
        try check("linear [3,5,24] -> [3,5,16]", x: [3, 5, 24], base: base,
                  cases: Self.binaryCases([[3, 5, 16], [16], [5, 16], [3, 1, 1]])
                      + [Case(name: "prelu[5]", steps: [(.prelu, [Self.t([5], 0...0.5)])]),
                         Case(name: "tanh+sub+div", steps: [(.unary(.tanh), []), (.binary(.sub, operandFirst: true), [Self.t([3, 5, 1])]),
                                                            (.binary(.div, operandFirst: false), [Self.t([16], 0.5...1.5)])])])
        // Rank 4 [2, 3, 4, 16]: FiLM over [2, 3].
        try check("linear [2,3,4,24] -> [2,3,4,16]", x: [2, 3, 4, 24], base: base,
                  cases: [Case(name: "film", steps: [(.film, [Self.t([2, 3]), Self.t([2, 3])])]),
                          Case(name: "film+relu+add", steps: [(.film, [Self.t([2, 3]), Self.t([2, 3])]), (.unary(.relu), []),
                                                              (.binary(.add, operandFirst: false), [Self.t([2, 3, 4, 16])])])])
    }

    func testMatmul() throws {
        // Batched [2, 3, 5, 8] x [2, 3, 8, 7] (B not shared: 6 batches in z).
        let batched: Base = { g, x in
            (.matmul(transposeA: false, transposeB: false, alpha: 1), [x, g.constant(Tensor.random(shape: [2, 3, 8, 7], seed: 31))])
        }
        try check("matmul [2,3,5,8] x [2,3,8,7]", x: [2, 3, 5, 8], base: batched,
                  cases: Self.unaryCases() + Self.binaryCases([[2, 3, 5, 7], [7], [5, 1], [2, 3, 1, 1], [1]])
                      + [Case(name: "film", steps: [(.film, [Self.t([2, 3]), Self.t([2, 3])])]),
                         Case(name: "prelu[3]", steps: [(.prelu, [Self.t([3], 0...0.5)])]),
                         Case(name: "film+gelu+add+mul", steps: [(.film, [Self.t([2, 3]), Self.t([2, 3])]), (.unary(.gelu), []),
                                                                 (.binary(.add, operandFirst: true), [Self.t([2, 3, 5, 7])]),
                                                                 (.binary(.mul, operandFirst: false), [Self.t([7])])])])
        // Shared B (folded into one GEMM), transposed B and alpha.
        let shared: Base = { g, x in
            (.matmul(transposeA: false, transposeB: true, alpha: 0.5), [x, g.constant(Tensor.random(shape: [7, 8], seed: 33))])
        }
        try check("matmul [4,5,8] x [7,8]^T", x: [4, 5, 8], base: shared,
                  cases: Self.binaryCases([[4, 5, 7], [5, 7], [4, 1, 1]])
                      + [Case(name: "prelu[5]", steps: [(.prelu, [Self.t([5], 0...0.5)])]),
                         Case(name: "sigmoid+sub", steps: [(.unary(.sigmoid), []), (.binary(.sub, operandFirst: false), [Self.t([4, 5, 7])])])])
    }

    // MARK: - dispatch counts and the chunked paths

    /// A conv with a 3-step epilogue (residual add, gelu, per-channel scale) is one dispatch
    /// on the fused paths; with bindings limited to 1 KiB the conv splits into accumulating
    /// channel chunks and the epilogue runs as one pass after the last.
    /// conv_transpose2d takes every step kind at its store (one dispatch per output range).
    func testConvTranspose() throws {
        let base: Base = { g, x in
            let w = g.constant(Tensor.random(shape: [6, 5, 4, 4], seed: 61, in: -0.3...0.3))
            return (.convTranspose2d(.init(stride: 2, padding: 1)), [x, w, g.constant(Tensor.random(shape: [5], seed: 62))])
        }
        let cases = Self.convCases(n: 2, c: 5, h: 10, w: 14, fullBinary: true)
        for (k, e) in try check("conv_transpose2d", x: [2, 6, 5, 7], base: base, cases: cases) {
            // Two dispatches per node (one per sample); the separate pass would add a third.
            XCTAssertLessThan(e.dispatchCount, 3 * cases.count, "conv_transpose2d [\(k)]: epilogues fused at the store")
        }
    }

    func testDispatchCountsAndChunkedPath() throws {
        let cases = [Case(name: "add+gelu+mul", steps: [(.binary(.add, operandFirst: false), [Self.t([1, 16, 8, 8])]), (.unary(.gelu), []),
                                                        (.binary(.mul, operandFirst: false), [Self.t([1, 16, 1, 1])])])]
        for (label, base, x) in [
            ("conv 3x3", Self.conv([16, 16, 3, 3], bias: true, .init(padding: 1), seed: 41), [1, 16, 8, 8]),
            ("conv depthwise", Self.conv([16, 1, 3, 3], bias: true, .init(padding: 1, groups: 16), seed: 43), [1, 16, 8, 8]),
        ] as [(String, Base, [Int])] {
            let fusedRuns = try check(label + " (fused)", x: x, base: base, cases: cases)
            for (k, e) in fusedRuns {
                XCTAssertEqual(e.dispatchCount, 1, "\(label) [\(k)]: a conv with a 3-step epilogue is one dispatch")
                if let profile = e.lastProfile { XCTAssertEqual(profile.dispatches, 1) }
            }
            let chunked = try check(label + " (chunked)", x: x, base: base, cases: cases, splitBytes: 1024)
            for (k, e) in chunked {
                XCTAssertGreaterThan(e.dispatchCount, 2, "\(label) [\(k)]: chunks, then the epilogue pass")
            }
        }
        let linear: Base = { g, x in
            (.linear, [x, g.constant(Tensor.random(shape: [32, 48], seed: 45, in: -0.3...0.3)), g.constant(Tensor.random(shape: [32], seed: 46))])
        }
        let linearCases = [Case(name: "add+gelu+mul", steps: [(.binary(.add, operandFirst: false), [Self.t([20, 32])]), (.unary(.gelu), []),
                                                              (.binary(.mul, operandFirst: false), [Self.t([32])])])]
        for (k, e) in try check("linear (fused)", x: [20, 48], base: linear, cases: linearCases) {
            XCTAssertEqual(e.dispatchCount, 1, "linear [\(k)]: one dispatch")
        }
        for (k, e) in try check("linear (chunked)", x: [20, 48], base: linear, cases: linearCases, splitBytes: 1024) {
            XCTAssertGreaterThan(e.dispatchCount, 2, "linear [\(k)]: blocks, then the epilogue pass")
        }
    }
    /// GPU time of a conv 3x3 32 -> 32 at 64 x 64 with a 3-step epilogue, fused (one
    /// dispatch) vs as separate nodes (four), on the default kernel set. Prints; asserts only
    /// the dispatch counts.
    func testFusedVersusUnfusedTiming() throws {
        let b = VulkanBackend(context: try VulkanTestSupport.backend().context)
        b.passes = .none
        let steps: [(Epilogue.Step, [Tensor])] = [(.binary(.add, operandFirst: false), [Self.t([1, 32, 64, 64])]), (.unary(.gelu), []),
                                                  (.binary(.mul, operandFirst: false), [Self.t([1, 32, 1, 1])])]
        let xShape = [1, 32, 64, 64]
        func graph(fused: Bool) throws -> Graph {
            let g = Graph()
            let x = g.input("x", shape: xShape)
            let (op, ins) = try Self.conv([32, 32, 3, 3], bias: true, .init(padding: 1), seed: 51)(g, x)
            let ops = steps.flatMap { $0.1 }.map { g.constant($0) }
            if fused {
                g.output("y", try g.add(op, ins + ops, epilogue: Epilogue(steps.map(\.0))))
            } else {
                var y = try g.add(op, ins)
                y = try g.add(.binary(.add), [y, ops[0]])
                y = try g.add(.unary(.gelu), [y])
                g.output("y", try g.add(.binary(.mul), [y, ops[1]]))
            }
            return g
        }
        let inputs = ["x": Tensor.random(shape: xShape, seed: 52)]
        var results: [Tensor] = []
        for fused in [true, false] {
            let e = try XCTUnwrap(try b.prepare(try graph(fused: fused)) as? VulkanExecutable)
            _ = try e.run(inputs)
            var best = Double.infinity
            for _ in 0..<3 {
                let start = Date()
                results.append(try e.run(inputs)["y"]!)
                best = min(best, Date().timeIntervalSince(start))
            }
            let gpu = e.lastProfile?.deviceSpanSeconds.map { String(format: ", GPU %.2f ms", $0 * 1000) } ?? ""
            print("[epilogue] conv 3x3 32->32 64x64 + add+gelu+mul, \(fused ? "fused" : "unfused"): \(e.dispatchCount) dispatches, "
                  + String(format: "best run %.2f ms", best * 1000) + gpu)
            XCTAssertEqual(e.dispatchCount, fused ? 1 : 4)
        }
        let scale = max(VulkanTestSupport.maxAbs(results[3]), 1e-6)
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(results[0], results[3]) / scale, 1e-5)
        VulkanTestSupport.assertNoValidationMessages(b)
    }
    /// A depthwise conv whose 144 MiB input and output are over lavapipe's 128 MiB binding
    /// limit: the conv runs in channel chunks and the epilogue as a pass in flat ranges, its
    /// same-shape residual bound range by range, the broadcast operands whole.
    func testEpiloguePassOverTensorsLargerThanABinding() throws {
        let gpu = VulkanBackend(context: try VulkanTestSupport.backend().context)
        gpu.passes = .none
        let (c, h, w) = (36, 1024, 1024)
        let shape = [1, c, h, w]
        let limit = Int(gpu.context.info.maxStorageBufferRange)
        if shape.reduce(1, *) * 4 <= limit {
            print("note: this device binds \(limit) bytes at once; the range split of the epilogue pass is not exercised here")
        }
        let cases = [Case(name: "add+gelu+mul+sub", steps: [(.binary(.add, operandFirst: false), [Tensor.random(shape: shape, seed: 61)]),
                                                            (.unary(.gelu), []),
                                                            (.binary(.mul, operandFirst: false), [Self.t([1, 1, h, w])]),
                                                            (.binary(.sub, operandFirst: true), [Self.t([1, c, 1, 1])])])]
        try check("depthwise over a binding", x: shape,
                  base: Self.conv([c, 1, 3, 3], bias: true, .init(padding: 1, groups: c), seed: 63),
                  cases: cases, kernels: ["direct"])
    }
}
