import CCPUKernels
import FusionCore
@testable import FusionCPU
import FusionParity
import XCTest

/// Runs `body` under each vector path of the C kernels this CPU has (baseline, AVX2+FMA,
/// AVX-512), the cap restored afterwards.
func forEachKernelISA(_ body: (String) throws -> Void) rethrows {
    defer { fk_cpu_kernels_limit_isa(Int32(FK_ISA_AVX512)) }
    var seen: Set<String> = []
    for level in [FK_ISA_GENERIC, FK_ISA_AVX2, FK_ISA_AVX512] {
        fk_cpu_kernels_limit_isa(Int32(level))
        let isa = CPUBackend.kernelISA
        if seen.insert(isa).inserted { try body(isa) }
    }
}

/// The largest |a - reference| and |reference|.
func maxKernelError(_ a: [Float], _ reference: [Double]) -> (error: Double, scale: Double) {
    let scale = reference.reduce(0) { max($0, abs($1)) }
    return (zip(a, reference).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) }, scale)
}

/// The C kernels (`CCPUKernels`) on each vector path against the float64 reference, on
/// shapes that leave tails past their register blocks.
final class KernelVectorPathTests: XCTestCase {
    private func random(_ shape: [Int], _ seed: UInt64) -> Tensor { Tensor.random(shape: shape, seed: seed, in: -1...1) }

    private func check(_ g: Graph, _ inputs: [String: Tensor], _ label: String) throws {
        let exec = try CPUBackend(threads: 2, passes: .none).prepare(g)
        let reference = GraphReference64.evaluate(g, inputs: inputs)["y"]!.data
        try forEachKernelISA { isa in
            let (error, scale) = maxKernelError(try exec.run(inputs)["y"]!.toFloatArray(), reference)
            XCTAssertLessThanOrEqual(error, 1e-5 * scale, "\(isa) \(label)")
        }
    }

    func testWindowAttention() throws {
        // 8x8 windows (64 tokens: the C kernel); 3 heads of 4 and of 5 value channels leave
        // tails past the 8- and 4-channel blocks.
        let g = Graph()
        let (n, c, cv, h, w, heads) = (2, 12, 15, 16, 24, 3)
        let q = g.input("q", shape: [n, c, h, w]), k = g.input("k", shape: [n, c, h, w]), v = g.input("v", shape: [n, cv, h, w])
        g.output("y", try g.windowAttention(q: q, k: k, v: v, bias: g.constant(random([heads, 64, 64], 1)), heads: heads, window: 8, scale: 0.4))
        try check(g, ["q": random([n, c, h, w], 2), "k": random([n, c, h, w], 3), "v": random([n, cv, h, w], 4)], "window attention")
    }

    func testDirectRows() throws {
        // 40 -> 1 3x3 and 1 -> 20 5x5 (the direct rows), reflect and zero padding, width 37.
        for (c, o, k, mode) in [(40, 1, 3, PaddingMode.reflect), (1, 20, 5, .zero)] {
            let g = Graph()
            let x = g.input("x", shape: [1, c, 13, 37])
            g.output("y", try g.conv2d(x, weight: g.constant(random([o, c, k, k], 1)), bias: g.constant(random([o], 2)),
                                       Conv2DAttributes(padding: k / 2, paddingMode: mode)))
            try check(g, ["x": random([1, c, 13, 37], 3)], "\(c)->\(o) \(k)x\(k)")
        }
    }

    func testDepthwiseRows() throws {
        // 5x5 reflect on 3 channels of 2 samples (widths 70 and 17: 64- and 16-column blocks
        // and tails; 40 rows: two bands), 3x3 zero padding on 19 columns, 7x7 on 2 rows.
        for (n, c, h, w, k, mode) in [(2, 3, 40, 70, 5, PaddingMode.reflect), (1, 4, 9, 17, 5, .reflect), (1, 2, 5, 19, 3, .zero),
                                      (1, 2, 2, 16, 7, .zero)] {
            // With a residual epilogue, finished band by band.
            let g = Graph()
            let x = g.input("x", shape: [n, c, h, w]), r = g.input("r", shape: [n, c, h, w])
            g.output("y", try g.add(.conv2d(Conv2DAttributes(padding: k / 2, groups: c, paddingMode: mode)),
                                    [x, g.constant(random([c, 1, k, k], 1)), g.constant(random([c], 2)), r],
                                    epilogue: Epilogue([.binary(.add, operandFirst: false)])))
            try check(g, ["x": random([n, c, h, w], 3), "r": random([n, c, h, w], 4)], "depthwise \(n)x\(c)x\(h)x\(w) \(k)x\(k) \(mode)")
        }
    }

    func testPointwiseProduct() throws {
        // 5 -> 9 (an 8-row block and a row), 24 -> 48 and 48 -> 24 (TextFusion's MLP) with a
        // bias and a ReLU, 37 columns: 16-column blocks, a panel tail and a column tail.
        for (c, o) in [(5, 9), (24, 48), (48, 24)] {
            let g = Graph()
            let x = g.input("x", shape: [2, c, 7, 37])
            g.output("y", try g.add(.conv2d(Conv2DAttributes()), [x, g.constant(random([o, c, 1, 1], 1)), g.constant(random([o], 2))],
                                    epilogue: Epilogue([.unary(.relu)])))
            try check(g, ["x": random([2, c, 7, 37], 3)], "pointwise \(c)->\(o)")
        }
    }

    func testEpilogueBinarySteps() throws {
        // A 3x3 conv (not pointwise: its epilogue runs after it, row by row) with bias, then
        // x * s[c] (broadcast), r - x (operand first), x / d (a row each), x + 0.5 (a scalar).
        let g = Graph()
        let (n, c, h, w) = (2, 3, 5, 37)
        let x = g.input("x", shape: [n, c, h, w]), s = g.input("s", shape: [1, c, 1, 1])
        let r = g.input("r", shape: [n, c, h, w]), d = g.input("d", shape: [n, c, h, w])
        g.output("y", try g.add(.conv2d(Conv2DAttributes(padding: 1)),
                                [x, g.constant(random([c, c, 3, 3], 1)), g.constant(random([c], 2)), s, r, d, g.constant(Tensor(shape: [1], floats: [0.5]))],
                                epilogue: Epilogue([.binary(.mul, operandFirst: false), .binary(.sub, operandFirst: true),
                                                    .binary(.div, operandFirst: false), .binary(.add, operandFirst: false)])))
        let divisor = Tensor(shape: [n, c, h, w], floats: random([n, c, h, w], 6).toFloatArray().map { $0 < 0 ? $0 - 1 : $0 + 1 })
        try check(g, ["x": random([n, c, h, w], 3), "s": random([1, c, 1, 1], 4), "r": random([n, c, h, w], 5), "d": divisor], "epilogue")
    }
}
