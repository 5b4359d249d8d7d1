import FusionCore
import XCTest

final class GraphTests: XCTestCase {
    func testShapeInference() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 3, 17, 23])
        let w = g.constant(Tensor(shape: [8, 3, 3, 3]))
        XCTAssertEqual(try g.conv2d(x, weight: w, bias: nil, .init(stride: 2, padding: 1)).shape, [1, 8, 9, 12])
        XCTAssertEqual(try g.conv2d(x, weight: w, bias: nil, .init(padding: 2, dilation: 2)).shape, [1, 8, 17, 23])
        XCTAssertEqual(try g.pixelUnshuffle(g.input("y", shape: [1, 2, 8, 6]), factor: 2).shape, [1, 8, 4, 3])
        XCTAssertEqual(try g.add(g.input("a", shape: [2, 1, 5]), g.input("b", shape: [3, 1])).shape, [2, 3, 5])
        XCTAssertEqual(try g.matmul(g.input("m", shape: [4, 2, 7]), g.input("n", shape: [7, 5])).shape, [4, 2, 5])
        XCTAssertEqual(try g.permute(x, [0, 2, 3, 1]).shape, [1, 17, 23, 3])
        XCTAssertEqual(try g.concat([x, x], axis: 1).shape, [1, 6, 17, 23])
        XCTAssertEqual(try g.globalStats(x).shape, [1, 2])
    }

    func testBadShapesAreTypedErrors() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 3, 8, 8])
        XCTAssertThrowsError(try g.conv2d(x, weight: g.constant(Tensor(shape: [4, 5, 3, 3])), bias: nil)) { error in
            guard case let .shapeMismatch(op, detail)? = error as? FusionError else { return XCTFail("\(error)") }
            XCTAssertEqual(op, "conv2d")
            XCTAssert(detail.contains("input channels"), detail)
        }
        XCTAssertThrowsError(try g.add(x, g.input("b", shape: [2, 8, 8]))) {
            guard case .shapeMismatch("add", _)? = $0 as? FusionError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try g.pad(x, top: 8, bottom: 0, left: 0, right: 0, mode: .reflect)) {
            guard case .invalidArgument("pad", _)? = $0 as? FusionError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try g.reshape(x, [5, 5])) {
            guard case .shapeMismatch("reshape", _)? = $0 as? FusionError else { return XCTFail("\($0)") }
        }
        // A value from another graph.
        let other = Graph().input("z", shape: [1, 3, 8, 8])
        XCTAssertThrowsError(try Graph().relu(other)) { XCTAssertEqual($0 as? FusionError, .unknownValue(other.id)) }
    }

    func testScopedNames() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 4])
        _ = try g.scope("encoder") { try g.scope("block0") { try g.relu(x) } }
        XCTAssertEqual(g.nodes.last?.name, "encoder.block0.relu")
    }

    func testPlannerReusesMemory() throws {
        let g = Graph()
        var h = g.input("x", shape: [1, 8, 16, 16])
        for _ in 0..<10 { h = try g.relu(h) }
        g.output("y", h)
        let plan = try MemoryPlanner.plan(g, alignment: 256)
        let one = 8 * 16 * 16 * 4
        XCTAssertEqual(plan.placements.count, 10)
        XCTAssertLessThanOrEqual(plan.arenaBytes, 2 * one, "a chain needs two live buffers at a time")
        XCTAssertEqual(plan.peakLiveBytes, 2 * one)
    }

    func testPlannerSplitsBlocksAtTheAllocationLimit() throws {
        let g = Graph()
        let x = g.input("x", shape: [1024])
        g.output("a", try g.relu(x))
        g.output("b", try g.sigmoid(x))
        let plan = try MemoryPlanner.plan(g, alignment: 256, maxBlockBytes: 4096)
        XCTAssertEqual(plan.blockSizes, [4096, 4096])
        XCTAssertThrowsError(try MemoryPlanner.plan(g, alignment: 256, maxBlockBytes: 1000)) {
            guard case .limitExceeded? = $0 as? FusionError else { return XCTFail("\($0)") }
        }
    }

    /// Operation counts against hand counts (multiply-add = 2 FLOP).
    func testGraphCostCountsByHand() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 8, 4, 5])
        let conv = try g.conv2d(x, weight: g.constant(Tensor(shape: [6, 8, 3, 3])), bias: g.constant(Tensor(shape: [6])), .init(padding: 1))
        let q = g.input("q", shape: [1, 12, 4, 5])
        // 3 heads of 4 channels over 20 pixels: norms 4*C*HW, then 2*C*(C/h)*HW twice.
        let attention = try g.channelAttention(q: q, k: q, v: q, temperature: g.constant(Tensor(shape: [3])), heads: 3)
        let matmul = try g.matmul(g.input("a", shape: [2, 3, 7]), g.input("b", shape: [7, 5]))
        g.output("c", conv); g.output("att", attention); g.output("mm", matmul)
        let cost = Dictionary(uniqueKeysWithValues: g.nodes.map { ($0.output.id, GraphCost.flops(of: $0)) })
        XCTAssertEqual(cost[conv.id], Double(6 * 20 * (2 * 8 * 9 + 1)))
        XCTAssertEqual(cost[attention.id], Double(4 * 12 * 20 + 2 * (2 * 12 * 4 * 20)))
        XCTAssertEqual(cost[matmul.id], Double(2 * 3 * 5 * 2 * 7))
    }
}
