import FusionCore
import XCTest

/// Shape inference and operand errors of conv_transpose2d, global_pool and channel_reduce.
final class ConvTransposePoolingShapeTests: XCTestCase {
    private func assertError(_ op: String, containing text: String, _ body: () throws -> Value,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            switch error as? FusionError {
            case let .shapeMismatch(name, detail)?, let .invalidArgument(name, detail)?:
                XCTAssertEqual(name, op, file: file, line: line)
                XCTAssert(detail.contains(text), detail, file: file, line: line)
            default: XCTFail("\(error)", file: file, line: line)
            }
        }
    }

    func testConvTransposeShapes() throws {
        let g = Graph()
        let x = g.input("x", shape: [2, 6, 5, 7])
        // PyTorch: (in - 1) * stride - 2 * padding + kernel + output_padding.
        XCTAssertEqual(try g.convTranspose2d(x, weight: g.constant(Tensor(shape: [6, 4, 4, 4])), .init(stride: 4)).shape, [2, 4, 20, 28])
        XCTAssertEqual(try g.convTranspose2d(x, weight: g.constant(Tensor(shape: [6, 2, 3, 3])), bias: g.constant(Tensor(shape: [6])),
                                             .init(stride: 2, padding: 1, outputPadding: 1, groups: 3)).shape, [2, 6, 10, 14])
        XCTAssertEqual(try g.convTranspose2d(x, weight: g.constant(Tensor(shape: [6, 1, 5, 3])),
                                             .init(stride: (3, 2), padding: (2, 1), outputPadding: (1, 0))).shape, [2, 1, 14, 13])
        let w = g.constant(Tensor(shape: [6, 4, 4, 4]))
        assertError("conv_transpose2d", containing: "input channels") {
            try g.convTranspose2d(g.input("y", shape: [1, 5, 3, 3]), weight: w, .init(stride: 4))
        }
        assertError("conv_transpose2d", containing: "output padding") { try g.convTranspose2d(x, weight: w, .init(stride: 2, outputPadding: 2)) }
        assertError("conv_transpose2d", containing: "groups") { try g.convTranspose2d(x, weight: w, .init(stride: 2, groups: 4)) }
        assertError("conv_transpose2d", containing: "bias") {
            try g.convTranspose2d(x, weight: w, bias: g.constant(Tensor(shape: [6])), .init(stride: 4))
        }
        assertError("conv_transpose2d", containing: "no output") {
            try g.convTranspose2d(g.input("z", shape: [1, 6, 1, 1]), weight: w, .init(stride: 1, padding: 2))
        }
        assertError("conv_transpose2d", containing: "stride") { try g.convTranspose2d(x, weight: w, .init(stride: 0)) }
    }

    func testPoolingShapes() throws {
        let g = Graph()
        let x = g.input("x", shape: [2, 5, 7, 9])
        for kind in PoolKind.allCases {
            XCTAssertEqual(try g.globalPool(kind, x).shape, [2, 5, 1, 1])
            XCTAssertEqual(try g.channelReduce(kind, x).shape, [2, 1, 7, 9])
        }
        assertError("global_pool", containing: "rank 4") { try g.globalPool(.max, g.input("a", shape: [2, 5, 7])) }
        assertError("channel_reduce", containing: "empty") { try g.channelReduce(.mean, g.input("b", shape: [1, 0, 3, 3])) }
        assertError("global_pool", containing: "empty") { try g.globalPool(.mean, g.input("c", shape: [1, 2, 0, 3])) }
    }
}
