import Foundation
import FusionCore
import FusionEngine
import FusionIO
import FusionModels
import FusionTestSupport
import XCTest

/// RFC end to end (issue 19): every `rfc_*` golden case through the golden runner (the
/// `rfc` kind runs the whole network from the three weight files and checks every
/// intermediate the case holds) on the CPU and on Vulkan; and the sharing of the CLIPSeg
/// work between prompts on one pair.
final class RFCGoldenTests: XCTestCase {
    private func caseFiles() throws -> [String] {
        let folder = try TestData.path("golden")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("rfc_") && $0.hasSuffix(".safetensors") }.sorted()
        guard names.count >= 8 else { throw XCTSkip("expected the 8 rfc_* golden cases in \(folder), found \(names.count)") }
        return names.map { folder + "/" + $0 }
    }

    private func checkAll(_ backend: SelectedBackend) throws {
        let runner = GoldenRunner(backend: backend)
        var kinds: [String: Int] = [:]
        for file in try caseFiles() {
            let r = try runner.run(file)
            kinds[r.kind, default: 0] += 1
            print("\(URL(fileURLWithPath: file).lastPathComponent) on \(r.backend): \(r.passed ? "pass" : "FAIL") \(r.detail) (\(String(format: "%.1f", r.seconds)) s)")
            XCTAssertTrue(r.passed, "\(file) on \(backend.name): \(r.detail)")
        }
        XCTAssertGreaterThanOrEqual(kinds["rfc"] ?? 0, 6)
        XCTAssertEqual(kinds["rfc_clip_vision"], 1)
        XCTAssertEqual(kinds["rfc_text_split"], 1)
    }

    func testEveryRFCGoldenCaseOnCPU() throws { try checkAll(try SelectedBackend.open(.cpu)) }
    /// About 70 s on lavapipe (the 56x448 case 15 s).
    func testEveryRFCGoldenCaseOnVulkan() throws { try checkAll(try VulkanTestBackend.open()) }

    /// The golden runner fails a case whose output was tampered with (the check can fail).
    func testTamperedCaseFails() throws {
        let source = try TestData.path("golden/rfc_64x80_none.safetensors")
        let archive = try SafetensorsReader.read(path: source)
        var tensors = archive.tensors
        let index = try XCTUnwrap(tensors.firstIndex { $0.name == "output" })
        var values = try tensors[index].floatValues()
        values[17] += 1e-3
        let tampered = try SafetensorsWriter.encode([(name: "output", tensor: Tensor(shape: tensors[index].shape, floats: values))])
        tensors[index] = try XCTUnwrap(SafetensorsReader.read(file: MappedFile(data: tampered, path: "tampered")).tensor(named: "output"))
        // Beside the originals, so the case's relative weight paths still resolve.
        let dir = try makeTemporaryDirectory()
        for name in ["rfc_model.pth", "clipseg_rd64_tiny.pth", "clip_vitb16_tiny.pt"] {
            try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent(name).path, withDestinationPath: try TestData.path("golden/\(name)"))
        }
        let copy = dir.appendingPathComponent("rfc_tampered.safetensors").path
        try SafetensorsWriter.write(tensors, metadata: archive.metadata, to: copy)
        let runner = GoldenRunner(backend: try SelectedBackend.open(.cpu))
        runner.vocabularyPath = try TestData.path("vocab/\(CLIPTokenizer.vocabularyFileName)")
        let r = try runner.run(copy)
        XCTAssertFalse(r.passed, r.detail)
        XCTAssertTrue(r.detail.contains("output 1.00e-03 (over 1e-04)"), r.detail)
    }

    /// Five prompts on one pair: the vision tower runs once, the decoder once per distinct
    /// target (car, building, image), the fusion network once per prompt; each output
    /// equals the prompt run alone.
    func testPromptsShareTheCLIPSegWork() throws {
        func archive(_ name: String) throws -> TensorArchive { try CheckpointReader.read(path: TestData.path("golden/\(name)")).archive }
        let tokenizer = try CLIPTokenizer(mergesPath: TestData.path("vocab/\(CLIPTokenizer.vocabularyFileName)"))
        let model = try RFCModel(clip: archive("clip_vitb16_tiny.pt"), clipseg: archive("clipseg_rd64_tiny.pth"), rfc: archive("rfc_model.pth"),
                                 tokenizer: tokenizer, backend: SelectedBackend.open(.cpu).backend)
        let golden = try SafetensorsReader.read(path: TestData.path("golden/rfc_64x80_enhance_the_light_of_the_car.safetensors"))
        let ir = try golden.require("ir").toTensor(), vis = try golden.require("vis").toTensor()
        let prompts = ["enhance the light of the car", "reduce the light of the car", "make the building brighter", "none", "reduce the noise of the image"]
        let conditions = try prompts.map { try model.condition(InstructionSplitter.split($0)).condition }
        let together = try model.fuse(ir: ir, vis: vis, conditions: conditions)
        XCTAssertEqual([model.visionRuns, model.decoderRuns, model.fusionRuns], [1, 3, 5])
        let expected = try golden.require("output").floatValues()
        XCTAssertLessThanOrEqual(zip(together[0].output.toFloatArray(), expected).map { abs($0 - $1) }.max()!, 1e-4)
        for (k, c) in conditions.enumerated() {
            let alone = try model.fuse(ir: ir, vis: vis, conditions: [c])[0]
            XCTAssertEqual(alone.output.toFloatArray(), together[k].output.toFloatArray(), prompts[k])
        }
        XCTAssertNotEqual(together[0].output.toFloatArray(), together[1].output.toFloatArray(), "the process phrase moves the output")
    }

    /// A conditioning vector round-trips, and a wrong one is an error.
    func testConditionVector() throws {
        let c = RFCModel.Condition(path: .text, processEmbedding: [1, 2], targetEmbedding: [3, 4])
        XCTAssertEqual(c.vector, [2, 1, 2, 3, 4])
        XCTAssertEqual(try RFCModel.Condition(vector: c.vector, embedDimension: 2), c)
        XCTAssertEqual(try RFCModel.Condition(vector: [0, 1, 2, 0, 0], embedDimension: 2).path, nil)
        XCTAssertThrowsError(try RFCModel.Condition(vector: [5, 1, 2, 0, 0], embedDimension: 2))
        XCTAssertThrowsError(try RFCModel.Condition(vector: [1, 1, 2], embedDimension: 2))
    }
}
