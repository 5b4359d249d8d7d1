import FusionCore
import FusionIO
import FusionModels
import FusionVulkan
import FusionTestSupport
import XCTest

/// Prints the slowest dispatches of TextFusion on the Vulkan device (diagnostic; runs only
/// with FUSIONKIT_PROFILE_PROBE=1).
final class TextFusionProfileProbe: XCTestCase {
    func testProfile() throws {
        guard ProcessInfo.processInfo.environment["FUSIONKIT_PROFILE_PROBE"] == "1" else { throw XCTSkip("set FUSIONKIT_PROFILE_PROBE=1") }
        let weights = try TextFusionWeights(CheckpointReader.read(path: TestData.path("weights/textfusion_llvip.model")).archive)
        let h = 256, w = 320
        let backend = try VulkanBackend()
        let e = try backend.prepare(TextFusionGraph.build(weights, height: h, width: w)) as! VulkanExecutable
        let inputs = ["vis": Tensor.random(shape: [1, 1, h, w], seed: 1, in: 0...1), "ir": Tensor.random(shape: [1, 1, h, w], seed: 2, in: 0...1),
                      "head_ir": try TextFusionHead.infraredKernel(weights, textFeatures: [Float](repeating: 0.1, count: 512))]
        _ = try e.run(inputs)
        let start = Date()
        _ = try e.run(inputs)
        print("wall \(Date().timeIntervalSince(start)) s")
        let report = e.lastReport!
        for t in report.timings.sorted(by: { $0.gpuNanoseconds > $1.gpuNanoseconds }).prefix(15) {
            print(String(format: "%9.2f ms  %@", t.gpuNanoseconds / 1e6, t.label))
        }
    }
}
