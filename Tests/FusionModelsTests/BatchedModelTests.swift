import FusionCore
import FusionCPU
import FusionEngine
import FusionIO
import FusionModels
import FusionTestSupport
import FusionVulkan
import XCTest

/// Batching of the model graphs: N pairs of one size in one graph run, each with its own
/// prompt, equal (max |err| <= 1e-6) to N batch-1 runs, on the CPU and on Vulkan.
final class BatchedModelTests: XCTestCase {
    static let tolerance: Float = 1e-6

    static func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
        precondition(a.shape == b.shape, "\(a.shape) vs \(b.shape)")
        var m: Float = 0
        let x = a.floats, y = b.floats
        for i in 0..<a.count { m = max(m, abs(x[i] - y[i])) }
        return m
    }

    static func prompt(seed: UInt64, count: Int = 512) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in 2 * rng.nextUnitFloat() - 1 }
    }

    private func textFusionWeights() throws -> TextFusionWeights {
        try TextFusionWeights(CheckpointReader.read(path: TestData.path("weights/textfusion_llvip.model")).archive)
    }

    /// Batch 3 with three prompts; pairs 0 and 1 share their images, so they differ only by
    /// the prompt (a head shared across the batch would make them equal).
    private func checkTextFusion(_ backend: Backend, _ label: String) throws {
        let model = TextFusionModel(weights: try textFusionWeights(), backend: backend)
        for (s, (h, w)) in [(40, 56), (64, 64), (30, 45)].enumerated() {
            let seed = UInt64(10 * s)
            let vis0 = Tensor.random(shape: [1, 1, h, w], seed: seed + 1, in: 0...1)
            let ir0 = Tensor.random(shape: [1, 1, h, w], seed: seed + 2, in: 0...1)
            let visible = [vis0, vis0, Tensor.random(shape: [1, 1, h, w], seed: seed + 3, in: 0...1)]
            let infrared = [ir0, ir0, Tensor.random(shape: [1, 1, h, w], seed: seed + 4, in: 0...1)]
            let texts = (0..<3).map { Self.prompt(seed: seed + 100 + UInt64($0)) }
            let batched = try model.fuse(visible: visible, infrared: infrared, textFeatures: texts)
            XCTAssertEqual(batched.count, 3)
            var worst: Float = 0
            for i in 0..<3 {
                let single = try model.fuse(visible: visible[i], infrared: infrared[i], textFeatures: texts[i])
                XCTAssertEqual(batched[i].shape, [1, 1, h, w])
                let err = Self.maxAbsDifference(batched[i], single)
                worst = max(worst, err)
                XCTAssertLessThanOrEqual(err, Self.tolerance, "\(label) \(w)x\(h): pair \(i) of the batch differs from its batch-1 run by \(err)")
            }
            print("TextFusion batch 3 vs batch 1, \(label), \(w)x\(h): max |err| \(worst)")
            let promptEffect = Self.maxAbsDifference(batched[0], batched[1])
            XCTAssertGreaterThan(promptEffect, 1e-3, "\(label) \(w)x\(h): two prompts on one pair gave the same output in a batch")
            XCTAssertGreaterThan(Self.maxAbsDifference(batched[0], batched[2]), 1e-3)
        }
    }

    func testTextFusionBatchEqualsSingleRunsOnCPU() throws {
        try checkTextFusion(CPUBackend(), "cpu")
    }

    func testTextFusionBatchEqualsSingleRunsOnVulkan() throws {
        try checkTextFusion(try VulkanTestBackend.open().backend, "vulkan")
    }

    func testTextFusionBatchCachingAndErrors() throws {
        let w = try textFusionWeights()
        let model = TextFusionModel(weights: w, backend: CPUBackend())
        let e1 = try model.executable(height: 16, width: 24, batch: 2)
        XCTAssertTrue(e1 === (try model.executable(height: 16, width: 24, batch: 2)), "a (size, batch) must reuse its prepared graph")
        XCTAssertFalse(e1 === (try model.executable(height: 16, width: 24)), "batch 1 and batch 2 are different graphs")
        XCTAssertEqual(try TextFusionGraph.build(w, height: 16, width: 24, batch: 4).inputs.first { $0.name == "head_ir" }?.value.shape, [4, 48, 3, 3])
        XCTAssertThrowsError(try TextFusionGraph.build(w, height: 16, width: 24, batch: 0))
        let a = Tensor(shape: [1, 1, 16, 16]), b = Tensor(shape: [1, 1, 16, 24])
        let t = [Float](repeating: 0, count: 512)
        XCTAssertThrowsError(try model.fuse(visible: [a, b], infrared: [a, b], textFeatures: [t, t])) {
            XCTAssertTrue("\($0)".contains("one size"), "\($0)")
        }
        XCTAssertThrowsError(try model.fuse(visible: [a, a], infrared: [a, a], textFeatures: [t])) {
            XCTAssertTrue("\($0)".contains("one of each"), "\($0)")
        }
        XCTAssertEqual(try model.fuse(visible: [], infrared: [], textFeatures: []).count, 0)
    }

    // MARK: - Text-IF

    /// Batch `n` of (32x48) pairs under `n` prompts against per-pair runs; pairs 0 and 1
    /// share their images.
    private func checkTextIF(_ backend: Backend, _ label: String, batch n: Int, height: Int = 32, width: Int = 48) throws {
        let model = TextIFModel(weights: TextIFBandTests.weights(), backend: backend)
        let shape = [1, 3, height, width]
        var pairs: [(visible: Tensor, infrared: Tensor)] = []
        for i in 0..<n {
            let s = UInt64(i == 1 ? 0 : i)
            pairs.append((Tensor.random(shape: shape, seed: 2 * s + 1, in: 0...1), Tensor.random(shape: shape, seed: 2 * s + 2, in: 0...1)))
        }
        let texts = (0..<n).map { Self.prompt(seed: 50 + UInt64($0)) }
        let batched = try model.fuse(pairs: pairs, texts: texts)
        XCTAssertEqual(batched.count, n)
        var worst: Float = 0
        for i in 0..<n {
            let single = try model.fuse(visible: pairs[i].visible, infrared: pairs[i].infrared, texts: [texts[i]])[0]
            XCTAssertEqual(batched[i].shape, shape)
            let err = Self.maxAbsDifference(batched[i], single)
            worst = max(worst, err)
            XCTAssertLessThanOrEqual(err, Self.tolerance, "\(label): pair \(i) of the batch of \(n) differs from its batch-1 run by \(err)")
        }
        print("Text-IF batch \(n) vs batch 1, \(label), \(width)x\(height): max |err| \(worst)")
        XCTAssertGreaterThan(Self.maxAbsDifference(batched[0], batched[1]), 1e-4, "\(label): two prompts on one pair gave the same output in a batch")
        if n > 2 { XCTAssertGreaterThan(Self.maxAbsDifference(batched[0], batched[2]), 1e-4) }
    }

    func testTextIFBatchEqualsSingleRunsOnCPU() throws {
        try checkTextIF(CPUBackend(), "cpu", batch: 3)
        try checkTextIF(CPUBackend(), "cpu", batch: 2, height: 24, width: 16)
    }

    func testTextIFBatchEqualsSingleRunsOnVulkan() throws {
        try checkTextIF(try VulkanTestBackend.open().backend, "vulkan", batch: 3)
    }

    /// Band tiling with a batch: the banded batch-2 graph equals the banded batch-1 graph
    /// (same bands per sample) on each pair, and the split encoder / decoder API agrees.
    func testTextIFBandedBatchEqualsBandedSingleRuns() throws {
        let w = TextIFBandTests.weights()
        let h = 32, wd = 48, n = 2
        let bandBytes = 8 * 8 * wd * 4   // 8-row bands at full resolution
        let backend = CPUBackend()
        let batchGraph = try TextIFGraph.build(w, height: h, width: wd, bandBytes: bandBytes, batch: n)
        let singleGraph = try TextIFGraph.build(w, height: h, width: wd, bandBytes: bandBytes)
        XCTAssertGreaterThan(batchGraph.nodes.count, try TextIFGraph.build(w, height: h, width: wd, batch: n).nodes.count, "the graph must be banded")
        let vis = (0..<n).map { Tensor.random(shape: [1, 3, h, wd], seed: 300 + UInt64($0), in: 0...1) }
        let ir = (0..<n).map { Tensor.random(shape: [1, 3, h, wd], seed: 400 + UInt64($0), in: 0...1) }
        let texts = (0..<n).map { Self.prompt(seed: 500 + UInt64($0)) }
        let out = try backend.run(batchGraph, inputs: ["vis": Tensor.stacked(vis), "ir": Tensor.stacked(ir),
                                                       "text": Tensor(shape: [n, 512], floats: texts.flatMap { $0 })])["fused"]!
        XCTAssertEqual(out.shape, [n, 3, h, wd])
        var worst: Float = 0
        for i in 0..<n {
            let single = try backend.run(singleGraph, inputs: ["vis": vis[i], "ir": ir[i], "text": Tensor(shape: [1, 512], floats: texts[i])])["fused"]!
            let err = Self.maxAbsDifference(out.sample(i), single)
            worst = max(worst, err)
            XCTAssertLessThanOrEqual(err, Self.tolerance, "banded: pair \(i) differs by \(err)")
        }
        print("Text-IF banded batch \(n) vs banded batch 1: max |err| \(worst)")
        XCTAssertGreaterThan(Self.maxAbsDifference(out.sample(0), out.sample(1)), 1e-4)

        // encode(pairs:) / decode(_:texts:) and their errors.
        let model = TextIFModel(weights: w, backend: backend)
        let features = try model.encode(pairs: Array(zip(vis, ir)).map { (visible: $0.0, infrared: $0.1) })
        XCTAssertEqual(features.batch, n)
        XCTAssertThrowsError(try model.decode(features, text: texts[0])) { XCTAssertTrue("\($0)".contains("one text per pair"), "\($0)") }
        XCTAssertThrowsError(try model.decode(features, texts: [texts[0]])) { XCTAssertTrue("\($0)".contains("one per pair"), "\($0)") }
        XCTAssertEqual(try model.decode(features, texts: texts).map { $0.shape }, [[1, 3, h, wd], [1, 3, h, wd]])
        XCTAssertThrowsError(try model.encode(pairs: [(vis[0], ir[0]), (Tensor(shape: [1, 3, 16, 16]), Tensor(shape: [1, 3, 16, 16]))])) {
            XCTAssertTrue("\($0)".contains("one size"), "\($0)")
        }
    }

}
