import XCTest
import FusionCore
import FusionCPU

/// End-to-end checks of the CPU executable itself: arena reuse, views, profiling, reruns.
final class CPUBackendSmokeTests: XCTestCase {
    /// conv -> gelu -> reshape -> softmax -> reshape -> 1x1 conv -> add -> pixel shuffle.
    private func smallNetwork() throws -> (Graph, Value) {
        let g = Graph()
        let x = g.input("x", shape: [1, 4, 16, 16])
        var h = try g.conv2d(x, weight: g.constant(.random(shape: [8, 4, 3, 3], seed: 1)),
                             bias: g.constant(.random(shape: [8], seed: 2)), .init(padding: 1, paddingMode: .reflect))
        h = try g.gelu(h)
        let s = try g.softmax(g.reshape(h, [1, 8, 256]))
        let h2 = try g.reshape(s, [1, 8, 16, 16])
        h = try g.conv2d(h2, weight: g.constant(.random(shape: [8, 8, 1, 1], seed: 3)))
        h = try g.add(h, h2)
        h = try g.pixelShuffle(h, factor: 2)
        g.output("y", h)
        return (g, h)
    }

    func testDescribesItself() {
        let backend = CPUBackend(threads: 3)
        XCTAssertEqual(backend.name, "cpu")
        XCTAssertTrue(backend.deviceDescription.hasPrefix("CPU (3 threads"), backend.deviceDescription)
    }

    func testRunsNetworkAndReusesArena() throws {
        let (g, out) = try smallNetwork()
        let exe = try XCTUnwrap(try CPUBackend(passes: .none).prepare(g) as? CPUExecutable)   // node for node as built
        let x = Tensor.random(shape: [1, 4, 16, 16], seed: 9)
        let y1 = try XCTUnwrap(try exe.run(["x": x])["y"])
        let y2 = try XCTUnwrap(try exe.run(["x": x])["y"])
        XCTAssertEqual(y1.shape, out.shape)
        XCTAssertEqual(y1.toFloatArray(), y2.toFloatArray(), "reruns must be deterministic")
        XCTAssertFalse(y1.toFloatArray().contains { !$0.isFinite })
        XCTAssertNotEqual(y1.data, y2.data, "each run returns fresh tensors")

        // Every non-view intermediate, as if each had its own buffer.
        let all = g.nodes.filter { if case .reshape = $0.op { return false }; return true }
            .map { $0.output.byteCount }.reduce(0, +)
        XCTAssertGreaterThan(exe.peakIntermediateBytes, 0)
        XCTAssertLessThan(exe.peakIntermediateBytes, all, "the planner should reuse memory")

        XCTAssertEqual(exe.lastRunNodeTimings.count, g.nodes.count)
        XCTAssertEqual(exe.lastRunNodeTimings.map(\.op), g.nodes.map(\.op.name))
        XCTAssertTrue(exe.lastRunNodeTimings.allSatisfy { $0.seconds >= 0 })
    }

    func testMatchesHandComputedValues() throws {
        // 1x1x3x3 input, 3x3 box filter with reflect padding, bias 1.
        let g = Graph()
        let x = g.input("x", shape: [1, 1, 3, 3])
        let w = g.constant(Tensor(shape: [1, 1, 3, 3], floats: Array(repeating: 1, count: 9)))
        let b = g.constant(Tensor(shape: [1], floats: [1]))
        g.output("y", try g.conv2d(x, weight: w, bias: b, .init(padding: 1, paddingMode: .reflect)))
        let input = Tensor(shape: [1, 1, 3, 3], floats: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let y = try XCTUnwrap(try CPUBackend(threads: 1).run(g, inputs: ["x": input])["y"])
        // Reflect-padded 5x5 of [[1,2,3],[4,5,6],[7,8,9]]; centre = 45 + 1.
        XCTAssertEqual(y.toFloatArray()[4], 46, accuracy: 1e-5)
        // Top-left window: rows (5,4,5),(2,1,2),(5,4,5) -> 33, + 1.
        XCTAssertEqual(y.toFloatArray()[0], 34, accuracy: 1e-5)
    }

    func testEmbeddingOutOfRangeThrows() throws {
        let g = Graph()
        let ids = g.input("ids", shape: [3], dtype: .i32)
        g.output("y", try g.embedding(ids, table: g.constant(.random(shape: [5, 2], seed: 4))))
        let exe = try CPUBackend().prepare(g)
        XCTAssertThrowsError(try exe.run(["ids": Tensor(shape: [3], ints: [0, 5, 1])])) { error in
            guard case let FusionError.invalidArgument(op, detail) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(op, "embedding")
            XCTAssertTrue(detail.contains("5"), detail)
        }
        // The executable stays usable after the error.
        XCTAssertEqual(try exe.run(["ids": Tensor(shape: [3], ints: [4, 0, 1])])["y"]?.shape, [3, 2])
    }
}
