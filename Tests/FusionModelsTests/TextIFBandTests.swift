import FusionCore
import FusionCPU
import FusionEngine
import FusionModels
import XCTest

/// Text-IF's band tiling and encoder/decoder split: the banded graphs, the split pipeline
/// and the memory-budgeted model equal the unbanded whole network, and the released
/// configuration plans under 1.9 GiB per executable at 1280x1024.
final class TextIFBandTests: XCTestCase {
    /// A small random configuration with sharp, varied attention temperatures and
    /// non-trivial norms, so that a wrong normalisation or halo shows in the output.
    static func weights() -> TextIFWeights {
        var w = TextIFWeights(randomDim: 8, seed: 11)
        var seed: UInt64 = 100
        func vary(_ blocks: inout [TextIFWeights.Block]) {
            for i in blocks.indices {
                seed += 3
                let b = blocks[i]
                blocks[i].temperature = Tensor.random(shape: b.temperature.shape, seed: seed, in: 2...8)
                blocks[i].norm1Weight = Tensor.random(shape: b.norm1Weight.shape, seed: seed + 1, in: 0.5...1.5)
                blocks[i].norm1Bias = Tensor.random(shape: b.norm1Bias.shape, seed: seed + 2, in: -0.2...0.2)
            }
        }
        for k in 0..<4 {
            vary(&w.encoderA.levels[k])
            vary(&w.encoderB.levels[k])
        }
        vary(&w.decoder4); vary(&w.decoder3); vary(&w.decoder2); vary(&w.decoder1); vary(&w.refinement)
        return w
    }

    static func inputs(height: Int, width: Int) -> [String: Tensor] {
        ["vis": Tensor.random(shape: [1, 3, height, width], seed: 1, in: 0...1),
         "ir": Tensor.random(shape: [1, 3, height, width], seed: 2, in: 0...1),
         "text": Tensor.random(shape: [1, 512], seed: 3, in: -0.1...0.1)]
    }

    /// max |a - b| over max |b|.
    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        let x = a.toFloatArray(), y = b.toFloatArray()
        let scale = y.map(abs).max() ?? 0
        return zip(x, y).map { abs($0 - $1) }.max()! / max(scale, 1e-30)
    }

    let backend = CPUBackend()

    func run(_ g: Graph, _ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try backend.run(g, inputs: inputs.filter { name, _ in g.inputs.contains { $0.name == name } })
    }

    /// Band sizes that make the encoder's level-1 bands `encoderRows` rows (a multiple of 8)
    /// and the decoder's full-resolution bands half as many bytes' worth of rows.
    func bandBytes(rows: Int, width: Int, dim: Int = 8) -> Int { rows * dim * width * 4 }

    func testBandedNetworkEqualsUnbanded() throws {
        let w = Self.weights()
        // (height, width, band bytes): minimum bands everywhere (1-row bands at 1/8), bands
        // that do not divide the height, odd band counts.
        for (h, wd) in [(64, 48), (40, 56)] {
            let inputs = Self.inputs(height: h, width: wd)
            let reference = try run(TextIFGraph.build(w, height: h, width: wd), inputs)["fused"]!
            for bands in [1, bandBytes(rows: 20, width: wd), bandBytes(rows: 13, width: wd), bandBytes(rows: 28, width: wd)] {
                let g = try TextIFGraph.build(w, height: h, width: wd, bandBytes: bands)
                XCTAssertTrue(g.nodes.contains { $0.op.name == "global_stats" }, "\(h)x\(wd) band bytes \(bands): the graph is banded")
                let got = try run(g, inputs)["fused"]!
                let err = relativeError(got, reference)
                print("Text-IF banded \(wd)x\(h), band bytes \(bands): \(g.nodes.count) nodes, max |err| / max |ref| \(err)")
                XCTAssertLessThanOrEqual(err, 1e-5, "\(wd)x\(h) band bytes \(bands)")
            }
        }
    }

    /// The banded ops (halo slices and concats, global_stats, batched Gram matmuls, the
    /// broadcast normalisation) on Vulkan equal the unbanded CPU graph.
    func testBandedNetworkOnVulkan() throws {
        let vulkan = try VulkanTestBackend.open()
        let w = Self.weights()
        let (h, wd) = (40, 56)
        let inputs = Self.inputs(height: h, width: wd)
        let reference = try run(TextIFGraph.build(w, height: h, width: wd), inputs)["fused"]!
        let g = try TextIFGraph.build(w, height: h, width: wd, bandBytes: bandBytes(rows: 13, width: wd))
        let got = try vulkan.backend.run(g, inputs: inputs)["fused"]!
        let err = relativeError(got, reference)
        print("Text-IF banded \(wd)x\(h) on \(vulkan.device): \(g.nodes.count) nodes, max |err| / max |ref| \(err)")
        XCTAssertLessThanOrEqual(err, 1e-5)
    }

    func testSplitPipelineEqualsWholeNetwork() throws {
        let w = Self.weights()
        let (h, wd) = (48, 64)
        let inputs = Self.inputs(height: h, width: wd)
        let reference = try run(TextIFGraph.build(w, height: h, width: wd), inputs)["fused"]!
        for bands: Int? in [nil, 1, bandBytes(rows: 12, width: wd)] {
            let features = try run(TextIFGraph.buildEncoders(w, height: h, width: wd, bandBytes: bands), inputs)
            XCTAssertEqual(Set(features.keys), ["f1", "f2", "f3", "a4", "b4"])
            XCTAssertEqual(features["f1"]?.shape, [1, 8, h, wd])
            var decoderInputs = features
            decoderInputs["text"] = inputs["text"]
            // The decoder banded or not, whatever the encoders were.
            for decoderBands: Int? in [nil, bandBytes(rows: 10, width: wd)] {
                let got = try run(TextIFGraph.buildDecoder(w, height: h, width: wd, bandBytes: decoderBands), decoderInputs)["fused"]!
                let err = relativeError(got, reference)
                print("Text-IF split, encoder bands \(bands.map(String.init) ?? "none"), decoder bands \(decoderBands.map(String.init) ?? "none"): \(err)")
                XCTAssertLessThanOrEqual(err, bands == nil && decoderBands == nil ? 1e-6 : 1e-5)
            }
        }
    }

    func testBudgetedModelBandsAndReusesEncoders() throws {
        let w = Self.weights()
        let (h, wd) = (40, 56)
        let inputs = Self.inputs(height: h, width: wd)
        let reference = try run(TextIFGraph.build(w, height: h, width: wd), inputs)["fused"]!
        let unbanded = try TextIFGraph.plannedBytes(TextIFGraph.buildDecoder(w, height: h, width: wd)).total
        let model = TextIFModel(weights: w, backend: backend, memoryBudget: unbanded - 1)
        model.bandCandidates = [nil, bandBytes(rows: 24, width: wd), 1]
        let text = inputs["text"]!.toFloatArray()
        let outs = try model.fuse(visible: inputs["vis"]!, infrared: inputs["ir"]!, texts: [text, text.map { -$0 }])
        XCTAssertEqual(model.encoderRuns, 1)
        XCTAssertEqual(model.decoderRuns, 2)
        XCTAssertEqual(model.preparedExecutables, 1, "the encoders were released before the decoder was prepared")
        XCTAssertNotNil(model.decoderBandBytes[[h, wd]] ?? nil, "the decoder did not fit unbanded, so it is banded")
        XCTAssertLessThanOrEqual(relativeError(outs[0], reference), 1e-5)
        XCTAssertGreaterThan(relativeError(outs[1], reference), 1e-3, "the prompt changes the output")

        // A budget both plans fit together keeps both prepared, unbanded.
        let roomy = TextIFModel(weights: w, backend: backend, memoryBudget: 1 << 40)
        let again = try roomy.fuse(visible: inputs["vis"]!, infrared: inputs["ir"]!, texts: [text])
        XCTAssertEqual(roomy.preparedExecutables, 2)
        XCTAssertNil(roomy.decoderBandBytes[[h, wd]] ?? nil)
        XCTAssertLessThanOrEqual(relativeError(again[0], reference), 1e-6)

        let tiny = TextIFModel(weights: w, backend: backend, memoryBudget: 1 << 10)
        XCTAssertThrowsError(try tiny.encode(visible: inputs["vis"]!, infrared: inputs["ir"]!)) {
            XCTAssertTrue("\($0)".contains("memory budget"), "\($0)")
        }
    }

    /// The released configuration at 1280x1024 with the default band size: each
    /// executable's planned memory (intermediates + inputs + constants) under 1.9 GiB.
    func testReleasedConfigurationPlansUnderLavapipeHeap() throws {
        let w = TextIFWeights(randomDim: 48, seed: 7)
        let (h, wd) = (1024, 1280)
        let limit = 19 * (1 << 30) / 10
        func mib(_ b: Int) -> Int { b >> 20 }
        for (name, make) in [("encoders", TextIFGraph.buildEncoders), ("decoder", TextIFGraph.buildDecoder)] as [(String, (TextIFWeights, Int, Int, Int?) throws -> Graph)] {
            let before = try TextIFGraph.plannedBytes(make(w, h, wd, nil))
            let start = Date()
            let g = try make(w, h, wd, TextIFGraph.defaultBandBytes)
            let after = try TextIFGraph.plannedBytes(g)
            print("Text-IF \(name) at \(wd)x\(h): unbanded arena \(mib(before.arena)) + inputs \(mib(before.inputs)) + constants \(mib(before.constants)) = \(mib(before.total)) MiB; banded (\(TextIFGraph.defaultBandBytes >> 20) MiB bands, \(g.nodes.count) nodes, built and planned in \(String(format: "%.1f", Date().timeIntervalSince(start))) s) arena \(mib(after.arena)) + inputs \(mib(after.inputs)) + constants \(mib(after.constants)) = \(mib(after.total)) MiB")
            XCTAssertLessThan(after.total, limit, name)
        }
    }
}
