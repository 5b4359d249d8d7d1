import Foundation
import FusionCore
import FusionIO
import FusionTestSupport
import XCTest

/// `fusion check-golden` through the built executable: passing cases pass, and anything
/// else (a wrong output, an unsupported kind, a missing file) exits 1, never a pass.
final class CheckGoldenCommandTests: XCTestCase {



    private func checkGolden(_ cases: [String]) throws -> FusionCLI.Result {
        let r = try FusionCLI.runTimed(["check-golden", "--backend", "cpu"] + cases,
                                       environment: ["FUSIONKIT_WEIGHTS_URL": "http://127.0.0.1:9/"])
        print("fusion check-golden \(cases.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: " ")) -> \(r.status) in \(String(format: "%.2f", r.seconds)) s")
        print(r.out)
        if !r.err.isEmpty { print("stderr: \(r.err)") }
        return r
    }

    /// The table row of `file` ("| name | kind | ... | PASS | ...").
    private func row(_ output: String, _ file: String) -> String? {
        output.split(separator: "\n").map(String.init).first { $0.contains(file) && !$0.hasPrefix("backend:") }
    }

    func testTextFusionCasesPass() throws {
        let cases = [try TestData.path("golden/textfusion_64x64.safetensors"), try TestData.path("golden/textfusion_97x131.safetensors")]
        let r = try checkGolden(cases)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssert(r.out.contains("backend: cpu"), r.out)
        for name in ["textfusion_64x64.safetensors", "textfusion_97x131.safetensors"] {
            let line = row(r.out, name)
            XCTAssertNotNil(line, "no row for \(name):\n\(r.out)")
            XCTAssert(line?.contains("PASS") == true, line ?? "")
        }
        XCTAssert(r.out.contains("2 passed, 0 failed"), r.out)
    }

    func testUnsupportedKindIsAnErrorNotAPass() throws {
        // A case of a model the engine does not have (MMAIF): an error row, exit 1.
        let path = try makeTemporaryDirectory().appendingPathComponent("mmaif_case.safetensors").path
        try SafetensorsWriter.write([(name: "output", tensor: Tensor(shape: [1, 3, 8, 8]))], metadata: ["json": #"{"kind": "mmaif"}"#], to: path)
        let r = try checkGolden([path])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        let line = row(r.out, "mmaif_case.safetensors") ?? ""
        XCTAssert(line.contains("not supported"), r.out)
        XCTAssertFalse(line.contains("PASS"), line)
        XCTAssert(r.out.contains("0 passed, 1 failed"), r.out)
    }

    func testPerturbedExpectedOutputFails() throws {
        let original = try TestData.path("golden/textfusion_64x64.safetensors")
        let archive = try SafetensorsReader.read(path: original)
        guard let text = archive.metadata["json"],
              var json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return XCTFail("the original case has no JSON metadata")
        }
        json["weights"] = try TestData.path("weights/textfusion_llvip.model")
        let metadata = String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self)
        let output = try archive.require("output")
        let perturbed = Tensor(shape: output.shape, floats: try output.floatValues().map { $0 + 0.01 })
        let tensors: [(name: String, tensor: Tensor)] = try [
            ("ir", archive.require("ir").toTensor()),
            ("vis", archive.require("vis").toTensor()),
            ("text_features", archive.require("text_features").toTensor()),
            ("output", perturbed),
        ]
        // In another folder than the original: the weights path must be the absolute one.
        let path = try makeTemporaryDirectory().appendingPathComponent("perturbed_64x64.safetensors").path
        try SafetensorsWriter.write(tensors, metadata: ["json": metadata], to: path)

        let r = try checkGolden([path])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        let line = row(r.out, "perturbed_64x64.safetensors") ?? ""
        XCTAssert(line.contains("FAIL"), r.out)
        XCTAssert(line.contains("0.01"), "the row shows the 0.01 error: \(line)")
        XCTAssert(r.out.contains("0 passed, 1 failed"), r.out)
    }

    func testMissingCaseFileFails() throws {
        let missing = try makeTemporaryDirectory().appendingPathComponent("no_such_case.safetensors").path
        let passing = try TestData.path("golden/textfusion_64x64.safetensors")
        let r = try checkGolden([passing, missing])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        let line = row(r.out, "no_such_case.safetensors") ?? ""
        XCTAssert(line.contains("ERROR"), r.out)
        XCTAssert(line.contains(missing), "the row names the file: \(line)")
        XCTAssert(row(r.out, "textfusion_64x64.safetensors")?.contains("PASS") == true, r.out)
        XCTAssert(r.out.contains("1 passed, 1 failed"), r.out)
    }
}
