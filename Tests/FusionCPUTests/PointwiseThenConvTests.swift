import FusionCore
@testable import FusionCPU
import FusionParity
import XCTest

/// A pointwise conv run inside the spatial conv that reads it (`PointwiseThenConv`): on every
/// vector path it must agree with the float64 reference of the unfused graph, on odd shapes,
/// as closely as the unfused nodes do.
final class PointwiseThenConvTests: XCTestCase {
    private func random(_ shape: [Int], _ seed: UInt64) -> Tensor { Tensor.random(shape: shape, seed: seed, in: -1...1) }

    /// x -> 1x1 (c -> m, bias?, ReLU?) -> kh x kw (m -> o, padding, bias?) + residual.
    private func head(batch: Int, c: Int, m: Int, o: Int, k: Int, height: Int, width: Int, mode: PaddingMode,
                      bias: Bool, relu: Bool) throws -> Graph {
        let g = Graph()
        let x = g.input("x", shape: [batch, c, height, width])
        let r = g.input("r", shape: [batch, o, height, width])
        var pointwiseInputs = [x, g.constant(random([m, c, 1, 1], 1))]
        if bias { pointwiseInputs.append(g.constant(random([m], 2))) }
        let hidden = try g.add(.conv2d(Conv2DAttributes()), pointwiseInputs, epilogue: Epilogue(relu ? [.unary(.relu)] : []))
        var spatialInputs = [hidden, g.constant(random([o, m, k, k], 3))]
        if bias { spatialInputs.append(g.constant(random([o], 4))) }
        spatialInputs.append(r)
        let y = try g.add(.conv2d(Conv2DAttributes(padding: k / 2, paddingMode: mode)), spatialInputs,
                          epilogue: Epilogue([.binary(.add, operandFirst: false)]))
        g.output("y", y)
        return g
    }

    func testThePairRunsFusedAndMatchesTheUnfusedNodes() throws {
        let cases: [(batch: Int, c: Int, m: Int, o: Int, k: Int, h: Int, w: Int, mode: PaddingMode, bias: Bool, relu: Bool)] = [
            (1, 24, 48, 1, 3, 37, 53, .reflect, false, true),    // TextFusion's head at an odd size
            (2, 5, 9, 2, 3, 9, 70, .zero, true, true),          // a batch, zero padding, column tails
            (1, 3, 7, 4, 5, 11, 19, .reflect, true, false),      // 5x5, no ReLU, hidden channels past a block
            (3, 2, 16, 1, 3, 2, 8, .reflect, false, true),       // two rows: reflection meets the other edge
        ]
        for t in cases {
            let g = try head(batch: t.batch, c: t.c, m: t.m, o: t.o, k: t.k, height: t.h, width: t.w, mode: t.mode, bias: t.bias, relu: t.relu)
            let exec = try XCTUnwrap(try CPUBackend(threads: 2, passes: .none).prepare(g) as? CPUExecutable)
            XCTAssertEqual(PointwiseThenConv.find(g, excluding: []).mapValues(\.index), [1: 0], "\(t)")
            let inputs = ["x": random([t.batch, t.c, t.h, t.w], 10), "r": random([t.batch, t.o, t.h, t.w], 11)]
            let reference = GraphReference64.evaluate(g, inputs: inputs)["y"]!.data
            // With an observer every node runs alone: the unfused path.
            let alone = try exec.run(inputs, observing: { _, _ in })["y"]!.toFloatArray()
            let unfused = maxKernelError(alone, reference)
            try forEachKernelISA { isa in
                let fused = maxKernelError(try exec.run(inputs)["y"]!.toFloatArray(), reference)
                XCTAssertLessThanOrEqual(fused.error, max(2 * unfused.error, 1e-6 * fused.scale), "\(isa) \(t)")
            }
        }
    }

    func testNoPairWhereTheHiddenMapIsReadElsewhere() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 4, 8, 8])
        let hidden = try g.add(.conv2d(Conv2DAttributes()), [x, g.constant(random([6, 4, 1, 1], 1))], epilogue: Epilogue([.unary(.relu)]))
        g.output("y", try g.add(.conv2d(Conv2DAttributes(padding: 1)), [hidden, g.constant(random([1, 6, 3, 3], 2))]))
        XCTAssertEqual(PointwiseThenConv.find(g, excluding: []).count, 1)
        g.output("hidden", hidden)
        XCTAssertEqual(PointwiseThenConv.find(g, excluding: []).count, 0, "a graph output must be written")
        XCTAssertEqual(PointwiseThenConv.find(g, excluding: [0]).count, 0)
    }
}
