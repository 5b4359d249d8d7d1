import FusionCore
import FusionVulkan
import XCTest

/// What the Vulkan backend does where it differs from the CPU reference on purpose, so no
/// parity case can check it.
final class VulkanOpBehaviourTests: XCTestCase {
    /// Out-of-range ids read as zeros on the GPU (the CPU reference rejects them).
    func testEmbeddingOutOfRangeIdsReadZeros() throws {
        let gpu = try VulkanTestSupport.backend()
        let table = Tensor.random(shape: [4, 5], seed: 252)
        let g = Graph()
        g.output("y", try g.embedding(g.input("ids", shape: [4], dtype: .i32), table: g.constant(table)))
        let y = try XCTUnwrap(try gpu.run(g, inputs: ["ids": Tensor(shape: [4], ints: [3, -1, 4, 1_000_000])])["y"])
        XCTAssertEqual(Array(y.floats[0..<5]), Array(table.floats[15..<20]))
        XCTAssertEqual(Array(y.floats[5...]), Array(repeating: 0, count: 15))
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

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
