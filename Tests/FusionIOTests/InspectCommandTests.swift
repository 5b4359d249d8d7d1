import Foundation
import FusionTestSupport
import XCTest

/// `fusion inspect` on the shared checkpoints (issue acceptance) and on damaged files.
final class InspectCommandTests: XCTestCase {
    func testTextFusionWeights() throws {
        let r = try FusionCLI.run(["inspect", TestData.path("weights/textfusion_llvip.model")])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("format: PyTorch zip"), r.out)
        XCTAssertTrue(r.out.contains("tensors: 55 (55 f32)"), r.out)
        XCTAssertTrue(r.out.contains("parameters: 82,051"), r.out)
        XCTAssertTrue(r.out.contains("patch_unembed1.proj.0.weight"), r.out)
    }

    func testNestedTextIFCheckpointListsHalfCLIP() throws {
        let r = try FusionCLI.run(["inspect", TestData.path("golden/textif_dim8.pth")])
        XCTAssertEqual(r.status, 0, r.err)
        let rows = r.out.split(separator: "\n").filter { $0.hasPrefix("model.") }
        XCTAssertEqual(rows.count, 407)
        XCTAssertTrue(rows.contains { $0.hasPrefix("model.model_clip.text_projection ") && $0.contains(" f16 ") }, r.out)
        XCTAssertTrue(rows.contains { $0.hasPrefix("model.model_clip.transformer.resblocks.0.attn.in_proj_weight ") && $0.contains(" f16 ") })
    }

    func testTorchScriptArchive() throws {
        let r = try FusionCLI.run(["inspect", TestData.path("golden/clip_tiny_jit.pt")])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("format: TorchScript"), r.out)
        for name in ["token_embedding.weight", "positional_embedding", "text_projection", "ln_final.weight", "transformer.resblocks.1.attn.in_proj_weight"] {
            XCTAssertTrue(r.out.split(separator: "\n").contains { $0.hasPrefix(name + " ") }, "\(name) missing")
        }
    }

    func testSafetensorsWithValues() throws {
        let r = try FusionCLI.run(["inspect", "--values", TestData.path("golden/textfusion_64x64.safetensors")])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("format: safetensors"), r.out)
        XCTAssertTrue(r.out.contains("metadata json:"), r.out)
    }

    /// Damaged copies: exit status 1 and one line naming the file, never a crash.
    func testDamagedFilesExitOneNamingTheFile() throws {
        let source = try Data(contentsOf: URL(fileURLWithPath: TestData.path("weights/textfusion_llvip.model")))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fk-inspect-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var flipped = source
        flipped[5000] ^= 0x55  // inside data.pkl
        var dataFlip = source
        dataFlip[source.count / 2] ^= 0x01  // inside a storage: CRC
        let cases: [(String, Data)] = [
            ("truncated.pth", source.prefix(source.count / 3)), ("flipped.pth", flipped), ("crc.pth", dataFlip),
            ("empty.pth", Data()), ("magic.pth", Data("GIF89a not a checkpoint".utf8)),
            ("huge.safetensors", Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]) + Data("{}".utf8)),
        ]
        for (name, data) in cases {
            let path = dir.appendingPathComponent(name).path
            try data.write(to: URL(fileURLWithPath: path))
            let r = try FusionCLI.run(["inspect", path])
            XCTAssertEqual(r.status, 1, "\(name): \(r.out) \(r.err)")
            XCTAssertTrue(r.err.contains(name), "\(name): error does not name the file: \(r.err)")
            XCTAssertFalse(r.err.contains("Fatal error") || r.err.contains("Stack dump"), "\(name): crashed: \(r.err)")
        }
        let missing = try FusionCLI.run(["inspect", dir.appendingPathComponent("nope.pth").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("nope.pth") && missing.err.contains("No such file"), missing.err)
    }
}
