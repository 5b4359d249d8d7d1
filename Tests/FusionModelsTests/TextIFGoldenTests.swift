import FusionEngine
import FusionTestSupport
import XCTest

/// Text-IF against the original `Text_IF_model.py` (random dim-8 weights), on both backends.
final class TextIFGoldenTests: XCTestCase {
    func testGoldenCasesOnBothBackends() throws {
        for backend in [try SelectedBackend.open(.cpu), try VulkanTestBackend.open()] {
            let runner = GoldenRunner(backend: backend)
            for name in ["textif_dim8_32x48", "textif_dim8_64x40"] {
                let r = try runner.run(TestData.path("golden/\(name).safetensors"))
                print("\(name) on \(r.backend): max |err| \(r.maxAbsError), rel L2 \(r.relativeL2Error)")
                XCTAssertTrue(r.passed, "\(name) on \(r.backend): max |err| \(r.maxAbsError)")
            }
        }
    }
}

import FusionCore
import FusionCPU
import FusionIO
import FusionModels

/// The split model (encoders once, decoder per prompt) gives the golden output too, and
/// re-prompting runs the encoders once.
final class TextIFModelTests: XCTestCase {
    func testSplitModelMatchesGoldenAndReusesEncoders() throws {
        let golden = try SafetensorsReader.read(path: TestData.path("golden/textif_dim8_64x40.safetensors"))
        let archive = try CheckpointReader.read(path: TestData.path("golden/textif_dim8.pth")).archive
        let weights = try TextIFWeights(archive)
        XCTAssertEqual(weights.dim, 8)
        XCTAssertEqual(weights.blocksPerLevel, [2, 2, 2, 2])
        XCTAssertEqual(weights.headsPerLevel, [1, 2, 4, 8])
        XCTAssertEqual(weights.refinement.count, 4)
        let clip = CLIPTextEncoder(weights: try CLIPTextWeights(archive), backend: CPUBackend())
        let tokens = try golden.require("tokens").integerValues().map { Int32($0) }
        let text = try clip.encode(tokens: [tokens])[0]
        let model = TextIFModel(weights: weights, backend: CPUBackend())
        let outs = try model.fuse(visible: golden.require("vis").toTensor(), infrared: golden.require("ir").toTensor(),
                                  texts: [text, text.map { -$0 }, text])
        XCTAssertEqual(model.encoderRuns, 1)
        XCTAssertEqual(model.decoderRuns, 3)
        let expected = try golden.require("output").floatValues()
        XCTAssertLessThanOrEqual(errorStatistics(outs[0].toFloatArray(), expected).maxAbs, 1e-4)
        XCTAssertEqual(outs[2].toFloatArray(), outs[0].toFloatArray())
        XCTAssertGreaterThan(errorStatistics(outs[1].toFloatArray(), expected).maxAbs, 1e-4, "the prompt changes the output")
    }

    func testErrorsNameWhatIsWrong() throws {
        let archive = try CheckpointReader.read(path: TestData.path("golden/textif_dim8.pth")).archive
        let weights = try TextIFWeights(archive)
        XCTAssertThrowsError(try TextIFGraph.build(weights, height: 30, width: 48)) { XCTAssertTrue("\($0)".contains("multiples of 8"), "\($0)") }
        let model = TextIFModel(weights: weights, backend: CPUBackend())
        XCTAssertThrowsError(try model.encode(visible: Tensor(shape: [1, 3, 16, 16]), infrared: Tensor(shape: [1, 3, 16, 24]))) {
            XCTAssertTrue("\($0)".contains("must match"), "\($0)")
        }
        // Another architecture, and a checkpoint with a tensor removed.
        let textFusion = try CheckpointReader.read(path: TestData.path("weights/textfusion_llvip.model")).archive
        XCTAssertThrowsError(try TextIFWeights(textFusion)) { XCTAssertTrue("\($0)".contains("not a Text-IF checkpoint") && "\($0)".contains("textfusion_llvip.model"), "\($0)") }
        var damaged = archive
        damaged.tensors.removeAll { $0.name == "model.decoder_level3.1.ffn.dwconv.weight" }
        XCTAssertThrowsError(try TextIFWeights(damaged)) { XCTAssertTrue("\($0)".contains("decoder_level3.1.ffn.dwconv.weight"), "\($0)") }
    }

    func testRandomReleasedConfiguration() throws {
        let w = TextIFWeights(randomDim: 48)
        print("Text-IF released configuration: \(w.parameterCount) fusion parameters")
        XCTAssertGreaterThan(w.parameterCount, 60_000_000)
        let small = TextIFWeights(randomDim: 16, seed: 3)
        let model = TextIFModel(weights: small, backend: CPUBackend())
        let out = try model.fuse(visible: Tensor.random(shape: [1, 3, 24, 32], seed: 1, in: 0...1),
                                 infrared: Tensor.random(shape: [1, 3, 24, 32], seed: 2, in: 0...1),
                                 texts: [[Float](repeating: 0.01, count: 512)])[0]
        XCTAssertEqual(out.shape, [1, 3, 24, 32])
        XCTAssertTrue(out.floats.allSatisfy { $0.isFinite })
    }
}
