import Foundation
import FusionCore
import FusionCPU
import FusionVulkan
import XCTest

/// The Vulkan knobs come from one options value passed to the backend, so one process can
/// run both kernel sets side by side without touching its environment.
final class KernelSetOptionsTests: XCTestCase {
    private func backend(kernels: String) throws -> VulkanBackend {
        _ = try VulkanTestSupport.backend()  // skips without a device
        var options = FusionOptions.current
        options.vulkan.kernels = kernels
        return try VulkanBackend(validation: FusionOptions.current.requireValidation ? true : nil, options: options)
    }

    /// A 3x3 conv over 4,096 channels reduces 36,864 terms: the direct kernels split that
    /// over two dispatches (at most 32,768 per dispatch, lavapipe's loop limit), the tiled
    /// ones take it in one. Both equal the CPU.
    func testBothKernelSetsInOneProcess() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 4096, 4, 4])
        let w = g.constant(Tensor.random(shape: [8, 4096, 3, 3], seed: 4, in: -0.02...0.02))
        g.output("y", try g.conv2d(x, weight: w, Conv2DAttributes(padding: 1)))
        let inputs = ["x": Tensor.random(shape: [1, 4096, 4, 4], seed: 5)]
        let expected = try CPUBackend().run(g, inputs: inputs)["y"]!
        var dispatches: [String: Int] = [:]
        var direct: [String: Bool] = [:]
        for kernels in ["direct", "tiled"] {
            let b = try backend(kernels: kernels)
            XCTAssertEqual(b.context.options.kernels, kernels)
            direct[kernels] = b.context.usesDirectKernels
            let e = try XCTUnwrap(try b.prepare(g) as? VulkanExecutable)
            let got = try e.run(inputs)["y"]!
            XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(got, expected), 1e-4, kernels)
            dispatches[kernels] = e.dispatchCount
            VulkanTestSupport.assertNoValidationMessages(b)
        }
        print("dispatches by kernel set: \(dispatches)")
        XCTAssertEqual(direct["tiled"], false)
        guard direct["direct"] == true else {
            throw XCTSkip("this device has no direct kernels (no subgroup shuffles): both sets ran the tiled kernels")
        }
        // The tiled set may split K too (split-K for long reductions on few outputs: a
        // split pass and a reduction pass), so the direct set's own count is what is checked.
        XCTAssertEqual(dispatches["direct"], 2, "the direct kernels split the 36,864-term reduction at 32,768")
    }
}
