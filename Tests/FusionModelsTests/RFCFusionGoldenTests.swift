import Foundation
import FusionCore
import FusionEngine
import FusionIO
import FusionModels
import FusionTestSupport
import XCTest

/// RFC's mask branch and fusion network against the original code's golden cases
/// (`../shared/golden/rfc_*`), fed with the golden CLIPSeg features, seg maps and FiLM
/// vectors: `mask`, `res_out` and `output` within max |err| 1e-4, `output_u8` off by one on
/// at most 0.5% of the values; and CLIPSeg's `trans_conv` head (features -> logits, 1e-4)
/// with the logits -> seg step on the text-path cases.
final class RFCFusionGoldenTests: XCTestCase {
    private struct Case {
        let name: String
        let archive: TensorArchive
        let path: String   // clipseg_path from the JSON: text, image or none
        func tensor(_ name: String) throws -> Tensor { try archive.require(name).toTensor() }
        func floats(_ name: String) throws -> [Float] { try archive.require(name).floatValues() }
        func has(_ name: String) -> Bool { archive.tensor(named: name) != nil }
    }

    private func cases() throws -> [Case] {
        let folder = try TestData.path("golden")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasPrefix("rfc_") && $0.hasSuffix(".safetensors") && $0 != "rfc_clip_vision.safetensors" && $0 != "rfc_text_split.safetensors" }
            .sorted()
        guard !names.isEmpty else {
            print("SKIP: no rfc_* golden cases in \(folder)")
            throw XCTSkip("no rfc_* golden cases in \(folder)")
        }
        return try names.map { name in
            let archive = try SafetensorsReader.read(path: folder + "/" + name)
            let json = try JSONSerialization.jsonObject(with: Data((archive.metadata["json"] ?? "{}").utf8)) as? [String: Any]
            let path = json?["clipseg_path"] as? String ?? "?"
            return Case(name: String(name.dropLast(".safetensors".count)), archive: archive, path: path)
        }
    }

    private func maxAbs(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// `maxPixels`: cases with more pixels are skipped (with a message) unless
    /// FUSIONKIT_LARGE_TESTS=1.
    private func checkFusion(_ selected: SelectedBackend, maxPixels: Int = .max) throws {
        let weights = try RFCFusionWeights(CheckpointReader.read(path: TestData.path("golden/rfc_model.pth")).archive)
        for c in try cases() {
            let ir = try c.tensor("ir"), h = ir.shape[2], w = ir.shape[3]
            if h * w > maxPixels, !FusionOptions.current.largeTests {
                print("SKIP: \(c.name) on \(selected.name): about a minute on lavapipe; set FUSIONKIT_LARGE_TESTS=1 to run it")
                continue
            }
            let intermediates = c.has("mask")
            let graph = try RFCFusionGraph.build(weights, height: h, width: w, intermediates: intermediates)
            let start = Date()
            let out = try selected.backend.prepare(graph).run([
                "ir": ir, "vis": try c.tensor("vis"), "clipseg_features": try c.tensor("clipseg_features"),
                "seg": try c.tensor("seg"), "film_w": try c.tensor("film_w"), "film_b": try c.tensor("film_b"),
            ])
            let seconds = Date().timeIntervalSince(start)
            var report = ["\(c.name) (\(c.path) path) on \(selected.name):"]
            let output = out["output"]!.toFloatArray()
            let outputError = maxAbs(output, try c.floats("output"))
            report.append("output max |err| \(outputError)")
            XCTAssertLessThanOrEqual(outputError, 1e-4, "\(c.name) output on \(selected.name)")
            if intermediates {
                for name in ["mask", "res_out"] {
                    let e = maxAbs(out[name]!.toFloatArray(), try c.floats(name))
                    report.append("\(name) \(e)")
                    XCTAssertLessThanOrEqual(e, 1e-4, "\(c.name) \(name) on \(selected.name)")
                }
            }
            // output_u8 [H, W, 3] = trunc(clip(out * 255, 0, 255)) of the [1, 3, H, W] output.
            let expected = try c.archive.require("output_u8").integerValues()
            XCTAssertEqual(expected.count, h * w * 3)
            var offByOne = 0, worse = 0
            for y in 0..<h {
                for x in 0..<w {
                    for ch in 0..<3 {
                        let v = min(max(output[(ch * h + y) * w + x] * 255, 0), 255)
                        let d = abs(Int64(v.rounded(.towardZero)) - expected[(y * w + x) * 3 + ch])
                        if d == 1 { offByOne += 1 } else if d > 1 { worse += 1 }
                    }
                }
            }
            report.append("output_u8 \(offByOne) of \(expected.count) off by one, \(worse) worse")
            XCTAssertEqual(worse, 0, "\(c.name) output_u8 on \(selected.name)")
            XCTAssertLessThanOrEqual(Double(offByOne), 0.005 * Double(expected.count), "\(c.name) output_u8 on \(selected.name)")
            print(report.joined(separator: " ") + String(format: " (%.2f s)", seconds))
        }
    }

    private func checkTransConv(_ selected: SelectedBackend) throws {
        let weights = try CLIPSegTransConvWeights(CheckpointReader.read(path: TestData.path("golden/clipseg_rd64_tiny.pth")).archive)
        let textCases = try cases().filter { $0.path == "text" }
        XCTAssertFalse(textCases.isEmpty, "no text-path rfc case")
        for c in textCases {
            let features = try c.tensor("clipseg_features"), seg = try c.tensor("seg")
            let g = Graph()
            let logits = try CLIPSegTransConv.logits(g, weights, features: g.input("clipseg_features", shape: features.shape))
            g.output("logits", logits)
            g.output("seg", try CLIPSegTransConv.seg(g, logits: logits, height: seg.shape[2], width: seg.shape[3]))
            let out = try selected.backend.prepare(g).run(["clipseg_features": features])
            let logitsError = maxAbs(out["logits"]!.toFloatArray(), try c.floats("clipseg_out"))
            let segError = maxAbs(out["seg"]!.toFloatArray(), seg.toFloatArray())
            print("\(c.name) trans_conv on \(selected.name): clipseg_out max |err| \(logitsError), seg \(segError)")
            XCTAssertLessThanOrEqual(logitsError, 1e-4, "\(c.name) clipseg_out on \(selected.name)")
            XCTAssertLessThanOrEqual(segError, 1e-4, "\(c.name) seg on \(selected.name)")
        }
    }

    func testFusionOnCPU() throws { try checkFusion(try SelectedBackend.open(.cpu)) }

    /// The 56x448 case (about 60 s on lavapipe) runs with FUSIONKIT_LARGE_TESTS=1.
    func testFusionOnVulkan() throws { try checkFusion(try VulkanTestBackend.open(), maxPixels: 20_000) }

    func testCLIPSegTransConvOnCPU() throws { try checkTransConv(try SelectedBackend.open(.cpu)) }

    func testCLIPSegTransConvOnVulkan() throws { try checkTransConv(try VulkanTestBackend.open()) }

    /// A checkpoint without one of the 73 tensors is an error naming the file and the tensor.
    func testMissingTensorIsNamed() throws {
        let path = try TestData.path("golden/rfc_model.pth")
        var archive = try CheckpointReader.read(path: path).archive
        archive.tensors.removeAll { $0.name.hasSuffix("CBA3.convs.bias") }
        XCTAssertThrowsError(try RFCFusionWeights(archive)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("CBA3.convs.bias") && message.contains("rfc_model.pth"), message)
        }
        // A tensor of the wrong shape (viconv's [64, 3, 3, 3] as irconv's [64, 1, 3, 3]).
        var swapped = try CheckpointReader.read(path: path).archive
        swapped.tensors.removeAll { $0.name.hasSuffix("irconv.weight") }
        var vi = swapped.tensors.first { $0.name.hasSuffix("viconv.weight") }!
        vi.name = String(vi.name.dropLast("viconv.weight".count)) + "irconv.weight"
        swapped.tensors.append(vi)
        XCTAssertThrowsError(try RFCFusionWeights(swapped)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("irconv.weight") && message.contains("[64, 1, 3, 3]"), message)
        }
        XCTAssertThrowsError(try CLIPSegTransConvWeights(archive)) { error in
            XCTAssertTrue("\(error)".contains("trans_conv.0.weight"), "\(error)")
        }
    }
}
