import FusionCore
import FusionEngine
import FusionModels
import FusionVulkan
import XCTest

/// Text-IF's released configuration at 1280x1024 must be preparable on a device with a
/// 2 GiB heap (lavapipe): each half, band-tiled, holds less device memory than the heap.
final class TextIFDeviceMemoryTests: XCTestCase {
    func testReleasedConfigurationAt1280x1024FitsTheHeap() throws {
        guard FusionOptions.current.largeTests else {
            print("SKIP: set FUSIONKIT_LARGE_TESTS=1 to prepare Text-IF at 1280x1024 on Vulkan")
            throw XCTSkip("set FUSIONKIT_LARGE_TESTS=1 to prepare Text-IF at 1280x1024 on Vulkan")
        }
        let selected = try VulkanTestBackend.open()
        let vulkan = try XCTUnwrap(selected.backend as? VulkanBackend)
        let heap = Int(vulkan.context.info.deviceLocalHeapBytes)
        XCTAssertGreaterThan(heap, 0)
        let budget = TextIFModel.memoryBudget(heapBytes: heap)
        let weights = TextIFWeights(randomDim: 48, seed: 7)
        let (h, w) = (1024, 1280)
        for (name, build) in [("encoders", { try TextIFGraph.buildEncoders(weights, height: h, width: w, bandBytes: $0) }),
                              ("decoder", { try TextIFGraph.buildDecoder(weights, height: h, width: w, bandBytes: $0) })] as [(String, (Int?) throws -> Graph)] {
            XCTAssertGreaterThan(try TextIFGraph.plannedBytes(build(nil)).total, budget, "unbanded \(name) would not fit: the test must exercise banding")
            let graph = try build(TextIFGraph.defaultBandBytes)
            XCTAssertLessThanOrEqual(try TextIFGraph.plannedBytes(graph).total, budget)
            var executable: Executable? = try vulkan.prepare(graph)
            let held = (executable as? VulkanExecutable)?.deviceBytes ?? 0
            print("Text-IF \(name) at \(w)x\(h): \(graph.nodes.count) nodes, \(held >> 20) MiB of device buffers, "
                  + "pools \(vulkan.context.stats.deviceMemoryBytes >> 20) MiB, heap \(heap >> 20) MiB")
            XCTAssertLessThanOrEqual(held, heap)
            XCTAssertLessThanOrEqual(vulkan.context.stats.peakBytesAllocated, heap, "\(name): more live buffer bytes than the heap")
            executable = nil
            _ = executable
        }
        XCTAssertLessThanOrEqual(vulkan.context.stats.deviceMemoryBytes, heap, "device memory held by the pools exceeds the heap")
    }
}
