import FusionCore
import FusionCPU
import FusionEngine
import FusionModels
import XCTest

/// A ViT-B/32-shaped text tower (width 512, 12 layers, 8 heads, 77 tokens; random weights)
/// encodes a prompt on the Vulkan device and agrees with the CPU backend.
final class CLIPFullSizeTests: XCTestCase {
    func testViTB32ShapedTowerOnVulkan() throws {
        let weights = CLIPTextWeights(randomWidth: 512, layers: 12, seed: 42)
        XCTAssertEqual(weights.heads, 8)
        var row = [Int32](repeating: 0, count: 77)
        let ids: [Int32] = [49406, 320, 8376, 533, 3351, 525, 518, 6657, 269, 49407]
        for (i, id) in ids.enumerated() { row[i] = id }

        let cpu = CLIPTextEncoder(weights: weights, backend: CPUBackend())
        var start = Date()
        let expected = try cpu.encode(tokens: [row])[0]
        let cpuSeconds = Date().timeIntervalSince(start)

        let gpu = CLIPTextEncoder(weights: weights, backend: try VulkanTestBackend.open().backend)
        start = Date()
        _ = try gpu.encode(tokens: [row])  // prepares the graph, uploads 250 MB of weights
        let firstSeconds = Date().timeIntervalSince(start)
        var second = row
        second[9] = 269; second[10] = 49407  // a different prompt: not served from the cache
        start = Date()
        let got = try gpu.encode(tokens: [second, row])
        let runSeconds = Date().timeIntervalSince(start)
        print(String(format: "ViT-B/32 text tower: cpu %.2f s (first run), vulkan %.2f s first (prepare + upload + run), %.2f s for a batch of 2", cpuSeconds, firstSeconds, runSeconds))
        let (maxAbs, rel) = errorStatistics(got[1], expected)
        print("ViT-B/32 text tower: vulkan vs cpu max |err| \(maxAbs), rel L2 \(rel)")
        XCTAssertEqual(got[1].count, 512)
        XCTAssertLessThanOrEqual(rel, 1e-5)
        XCTAssertGreaterThan(errorStatistics(got[0], got[1]).maxAbs, 1e-4, "different prompts give different features")
    }
}
