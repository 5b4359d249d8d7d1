import Foundation
import FusionCore
import FusionCPU
import FusionVulkan
import XCTest

/// Tensors over `maxStorageBufferRange` (128 MiB on lavapipe) must be split or bound at
/// offsets, never truncated.
final class LargeTensorTests: XCTestCase {
    func testConvAndLayerNormOn384MiBTensor() throws {
        let gpu = try VulkanTestSupport.backend()
        let shape = [1, 96, 1024, 1024]
        let bytes = shape.reduce(1, *) * 4
        XCTAssertEqual(bytes, 384 << 20)
        let limit = Int(gpu.context.info.maxStorageBufferRange)
        if bytes <= limit {
            print("note: this device binds \(limit) bytes at once; the split path is not exercised here")
        }

        let g = Graph()
        let x = g.input("x", shape: shape)
        // Full conv: the 384 MiB input is read in channel chunks.
        let w = Tensor.random(shape: [16, 96, 3, 3], seed: 1, in: -0.1...0.1)
        let conv = try g.conv2d(x, weight: g.constant(w), bias: g.constant(Tensor.random(shape: [16], seed: 2)), .init(padding: 1))
        // Depthwise conv: the 384 MiB output is written in channel chunks.
        let dw = try g.conv2d(x, weight: g.constant(Tensor.random(shape: [96, 1, 3, 3], seed: 3)), bias: nil,
                              .init(padding: 1, groups: 96, paddingMode: .reflect))
        let norm = try g.layerNormChannels(dw, weight: g.constant(Tensor.random(shape: [96], seed: 4)),
                                           bias: g.constant(Tensor.random(shape: [96], seed: 5)))
        g.output("conv", conv)
        g.output("norm", norm)

        let input = Tensor.random(shape: shape, seed: 9)
        let out = try gpu.run(g, inputs: ["x": input])
        let ref = try CPUBackend().run(g, inputs: ["x": input])
        for name in ["conv", "norm"] {
            let a = try XCTUnwrap(out[name]), b = try XCTUnwrap(ref[name])
            let err = VulkanTestSupport.maxAbsDifference(a, b), scale = max(1, VulkanTestSupport.maxAbs(b))
            print("\(name): \(b.shape) max |err| \(err), scale \(scale)")
            XCTAssertLessThanOrEqual(err, 1e-5 * scale, name)
        }
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    /// An op that cannot split a tensor over the binding limit says so, naming the op.
    func testUnsplittableOpOverLimitIsATypedError() throws {
        let gpu = try VulkanTestSupport.backend()
        let limit = Int(gpu.context.info.maxStorageBufferRange)
        guard limit <= 256 << 20 else { throw XCTSkip("device binds \(limit) bytes; test needs a small limit") }
        let g = Graph()
        let n = limit / 4 / 64 + 1
        let x = g.input("x", shape: [1, 64, n, 1])
        g.output("y", try g.windowAttention(q: x, k: x, v: x, bias: g.constant(Tensor(shape: [1, 1, 1])), heads: 1, window: 1, scale: 1))
        XCTAssertThrowsError(try gpu.prepare(g)) { error in
            guard case let .limitExceeded(op, detail)? = error as? FusionError else { return XCTFail("\(error)") }
            XCTAssert(op.contains("window_attention"), op)
            XCTAssert(detail.contains("maxStorageBufferRange"), detail)
        }
    }
}
