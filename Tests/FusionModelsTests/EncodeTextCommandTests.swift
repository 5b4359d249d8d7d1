import Foundation
import FusionCore
import FusionIO
import FusionTestSupport
import XCTest

/// `fusion encode-text`: prompts to features with the golden tiny CLIP, cached on disk.
final class EncodeTextCommandTests: XCTestCase {

    func testMatchesGoldenFeaturesAndCaches() throws {
        let golden = try SafetensorsReader.read(path: TestData.path("golden/clip_text.safetensors"))
        let json = try JSONSerialization.jsonObject(with: Data(golden.metadata["json"]!.utf8)) as! [String: Any]
        let prompts = json["prompts"] as! [String]
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("features.safetensors").path
        let env = ["FUSIONKIT_CACHE": dir.appendingPathComponent("cache").path]
        for (run, clip) in ["golden/clip_text_tiny.pt", "golden/clip_tiny_jit.pt", "golden/clip_text_tiny.pt"].enumerated() {
            let r = try FusionCLI.run(["encode-text", "--backend", "cpu", "--clip", TestData.path(clip), "-o", out] + prompts, environment: env)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertTrue(r.out.contains("\(prompts.count) from the cache") == (run == 2), "run \(run): \(r.out)")
            let got = try SafetensorsReader.read(path: out)
            XCTAssertEqual(try got.require("tokens").integerValues(), try golden.require("tokens").integerValues())
            let a = try got.require("text_features").floatValues(), b = try golden.require("features").floatValues()
            var d2 = 0.0, r2 = 0.0
            for i in 0..<a.count { d2 += Double(a[i] - b[i]) * Double(a[i] - b[i]); r2 += Double(b[i]) * Double(b[i]) }
            XCTAssertLessThanOrEqual((d2 / r2).squareRoot(), 1e-5, clip)
        }
    }

    func testErrors() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("f.safetensors").path
        let long = String(repeating: "word ", count: 100)
        var r = try FusionCLI.run(["encode-text", "--backend", "cpu", "--no-cache", "--clip", TestData.path("golden/clip_text_tiny.pt"), "-o", out, long])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("77"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        r = try FusionCLI.run(["encode-text", "--backend", "cpu", "--no-cache", "--truncate", "--clip", TestData.path("golden/clip_text_tiny.pt"), "-o", out, long])
        XCTAssertEqual(r.status, 0, r.err)
        r = try FusionCLI.run(["encode-text", "--backend", "cpu", "--clip", TestData.path("weights/textfusion_llvip.model"), "-o", out, "x"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("textfusion_llvip.model") && r.err.contains("token_embedding"), r.err)
        r = try FusionCLI.run(["encode-text", "--backend", "cpu", "--clip", TestData.path("golden/clip_text_tiny.pt"), "--vocab", dir.appendingPathComponent("none.gz").path, "-o", out, "x"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("none.gz"), r.err)
    }
}
