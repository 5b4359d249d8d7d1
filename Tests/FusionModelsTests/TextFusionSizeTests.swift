import FusionCore
import FusionCPU
import FusionEngine
import FusionIO
import FusionModels
import FusionTestSupport
import FusionVulkan
import XCTest

/// Any size from 8x8 up, odd sizes included: each runs on the CPU and on Vulkan, the two
/// agree, the output has the input's size and lies in [0, 1]; smaller inputs are an error.
final class TextFusionSizeTests: XCTestCase {
    static let sizes: [(Int, Int)] = [(8, 8), (8, 9), (9, 8), (11, 13), (15, 17), (16, 16), (17, 31), (33, 12), (40, 41), (63, 65)]

    private func weights() throws -> TextFusionWeights {
        try TextFusionWeights(CheckpointReader.read(path: TestData.path("weights/textfusion_llvip.model")).archive)
    }

    func testOddSizesAgreeAcrossBackends() throws {
        let w = try weights()
        let cpu = TextFusionModel(weights: w, backend: CPUBackend())
        let gpu = TextFusionModel(weights: w, backend: try VulkanTestBackend.open().backend)
        var text = [Float](repeating: 0, count: 512)
        var rng = SplitMix64(seed: 7)
        for i in 0..<512 { text[i] = rng.nextUnitFloat() - 0.5 }
        for (seed, (h, wd)) in Self.sizes.enumerated() {
            let vis = Tensor.random(shape: [1, 1, h, wd], seed: UInt64(2 * seed + 1), in: 0...1)
            let ir = Tensor.random(shape: [1, 1, h, wd], seed: UInt64(2 * seed + 2), in: 0...1)
            let a = try cpu.fuse(visible: vis, infrared: ir, textFeatures: text)
            let b = try gpu.fuse(visible: vis, infrared: ir, textFeatures: text)
            XCTAssertEqual(a.shape, [1, 1, h, wd])
            XCTAssertEqual(b.shape, [1, 1, h, wd])
            XCTAssertTrue(a.floats.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(h)x\(wd): output outside [0, 1]")
            let (maxAbs, _) = errorStatistics(b.toFloatArray(), a.toFloatArray())
            XCTAssertLessThanOrEqual(maxAbs, 1e-5, "\(h)x\(wd): CPU and Vulkan differ by \(maxAbs)")
        }
    }

    /// A pixel's output depends only on its neighbourhood and the global statistics:
    /// the text changes the result (the prompt is really used) and different prompts reuse
    /// one prepared graph.
    func testPromptChangesOutputWithoutRebuilding() throws {
        let w = try weights()
        let model = TextFusionModel(weights: w, backend: CPUBackend())
        let vis = Tensor.random(shape: [1, 1, 24, 20], seed: 1, in: 0...1), ir = Tensor.random(shape: [1, 1, 24, 20], seed: 2, in: 0...1)
        let e1 = try model.executable(height: 24, width: 20)
        let a = try model.fuse(visible: vis, infrared: ir, textFeatures: [Float](repeating: 0.02, count: 512))
        let b = try model.fuse(visible: vis, infrared: ir, textFeatures: [Float](repeating: -0.02, count: 512))
        XCTAssertTrue(e1 === (try model.executable(height: 24, width: 20)), "re-prompting must reuse the prepared graph")
        XCTAssertGreaterThan(errorStatistics(a.toFloatArray(), b.toFloatArray()).maxAbs, 1e-4)
    }

    func testTooSmallAndMismatchedInputsAreErrors() throws {
        let w = try weights()
        XCTAssertThrowsError(try TextFusionGraph.build(w, height: 7, width: 64)) { XCTAssertTrue("\($0)".contains("at least 8x8"), "\($0)") }
        let model = TextFusionModel(weights: w, backend: CPUBackend())
        let a = Tensor(shape: [1, 1, 16, 16]), b = Tensor(shape: [1, 1, 16, 17])
        XCTAssertThrowsError(try model.fuse(visible: a, infrared: b, textFeatures: [Float](repeating: 0, count: 512))) {
            XCTAssertTrue("\($0)".contains("must match"), "\($0)")
        }
        XCTAssertThrowsError(try model.fuse(visible: a, infrared: a, textFeatures: [Float](repeating: 0, count: 77))) {
            XCTAssertTrue("\($0)".contains("expected 512"), "\($0)")
        }
        XCTAssertThrowsError(try model.fuse(visible: a, infrared: a, textFeatures: [Float](repeating: .nan, count: 512))) {
            XCTAssertTrue("\($0)".contains("NaN"), "\($0)")
        }
    }

    func testWrongCheckpointNamesFileAndTensor() throws {
        let textif = try CheckpointReader.read(path: TestData.path("golden/clip_text_tiny.pt")).archive
        XCTAssertThrowsError(try TextFusionWeights(textif)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("clip_text_tiny.pt") && text.contains("patch_embed.proj.weight"), text)
        }
    }
}
