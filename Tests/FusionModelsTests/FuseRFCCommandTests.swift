import Foundation
import FusionCore
import FusionEngine
import FusionIO
import FusionModels
import FusionTestSupport
import XCTest

/// `fusion fuse --model rfc` with the golden tiny weights on the crop of the golden case
/// `rfc_64x80_enhance_the_light_of_the_car` (mixed4 00016N, 64x80 at y 200, x 300): the
/// written image is the case's `output_u8`; the explicit split; and the errors.
final class FuseRFCCommandTests: XCTestCase {
    /// The crop of a mixed4 pair into `dir` (ir.png, vis.png); `visWidth` makes the pair mismatched.
    func pair(in dir: URL, visWidth: Int = 80) throws -> (ir: String, vis: String) {
        func crop(_ role: String, width: Int) throws -> String {
            let image = try Image.read(path: TestData.path("data/pairs/mixed4/\(role)/00016N.png"))
            var samples: [UInt16] = []
            for y in 0..<64 { for x in 0..<width { for c in 0..<image.channels { samples.append(image[x: 300 + x, y: 200 + y, channel: c]) } } }
            let path = dir.appendingPathComponent("\(role).png").path
            try Image(width: width, height: 64, channels: image.channels, bitDepth: image.bitDepth, samples: samples).writePNG(to: path)
            return path
        }
        return (try crop("ir", width: 80), try crop("vi", width: visWidth))
    }

    func weights() throws -> [String] {
        ["--weights", try TestData.path("golden/rfc_model.pth"), "--clipseg", try TestData.path("golden/clipseg_rd64_tiny.pth"),
         "--clip", try TestData.path("golden/clip_vitb16_tiny.pt")]
    }

    /// The case's output_u8 [H, W, 3] against an 8-bit RGB image: off by at most one on at most 0.5%.
    func assertMatchesGolden(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let golden = try SafetensorsReader.read(path: TestData.path("golden/rfc_64x80_enhance_the_light_of_the_car.safetensors"))
        let expected = try golden.require("output_u8").integerValues()
        let got = try Image.read(path: path)
        XCTAssertEqual([got.width, got.height, got.channels], [80, 64, 3], file: file, line: line)
        let diffs = zip(got.samples, expected).map { abs(Int($0) - Int($1)) }
        XCTAssertEqual(diffs.count, 80 * 64 * 3, file: file, line: line)
        XCTAssertLessThanOrEqual(diffs.max() ?? 9, 1, file: file, line: line)
        XCTAssertLessThanOrEqual(diffs.filter { $0 > 0 }.count, 80 * 64 * 3 / 200, file: file, line: line)
    }

    /// Several instructions for one pair (`--also`): one image each, equal to its own run,
    /// with the vision tower run once and the decoder once per distinct target (car, image).
    func testSeveralInstructionsShareTheCLIPSegWork() throws {
        let dir = try makeTemporaryDirectory()
        let p = try pair(in: dir)
        let out = dir.appendingPathComponent("fused.png").path
        let r = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--backend", "cpu", "--ir", p.ir, "--vis", p.vis,
                                        "--text", "enhance the light of the car", "--also", "reduce the noise of the car",
                                        "--also", "reduce the noise of the image", "-o", out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("stages: vision tower 1 run(s), CLIPSeg decoder 2, fusion network 3"), r.out)
        let paths = (1...3).map { dir.appendingPathComponent("fused_\($0).png").path }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        try assertMatchesGolden(paths[0])
        let alone = dir.appendingPathComponent("alone.png").path
        let a = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--backend", "cpu", "--ir", p.ir, "--vis", p.vis,
                                        "--text", "reduce the noise of the image", "-o", alone])
        XCTAssertEqual(a.status, 0, a.err)
        XCTAssertEqual(try Image.read(path: paths[2]), try Image.read(path: alone))
        XCTAssertNotEqual(try Image.read(path: paths[1]), try Image.read(path: paths[0]))
        // An instruction the rules cannot split is named; --also belongs to RFC.
        let bad = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--backend", "cpu", "--ir", p.ir, "--vis", p.vis,
                                          "--text", "enhance the light of the car", "--also", "brighten the road", "-o", out])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("brighten the road"), bad.err)
        let other = try FusionCLI.runTimed(["fuse", "--ir", p.ir, "--vis", p.vis, "--also", "x", "-o", out])
        XCTAssertNotEqual(other.status, 0)
        XCTAssertTrue(other.err.contains("--also"), other.err)
    }

    func testOnePairWithTextAndWithExplicitSplit() throws {
        let dir = try makeTemporaryDirectory()
        let p = try pair(in: dir)
        let out = dir.appendingPathComponent("fused.png").path
        let r = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--backend", "cpu", "--ir", p.ir, "--vis", p.vis,
                                        "--text", "enhance the light of the car", "-o", out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("instruction: target 'car', process 'enhance the light of the photo'"), r.out)
        XCTAssertTrue(r.out.contains("stages: vision tower 1 run(s), CLIPSeg decoder 1, fusion network 1"), r.out)
        try assertMatchesGolden(out)

        let explicit = dir.appendingPathComponent("explicit.png").path
        let e = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--backend", "cpu", "--ir", p.ir, "--vis", p.vis,
                                        "--target", "car", "--process", "enhance the light of the photo", "-o", explicit])
        XCTAssertEqual(e.status, 0, e.err)
        XCTAssertEqual(try Image.read(path: explicit), try Image.read(path: out))

        // Another process phrase gives another image.
        let other = dir.appendingPathComponent("other.png").path
        let o = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--backend", "cpu", "--ir", p.ir, "--vis", p.vis,
                                        "--target", "car", "--process", "reduce the noise of the photo", "-o", other])
        XCTAssertEqual(o.status, 0, o.err)
        XCTAssertNotEqual(try Image.read(path: other), try Image.read(path: out))
    }

    func testPromptWithoutTargetIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        let p = try pair(in: dir)
        let out = dir.appendingPathComponent("fused.png").path
        let r = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--backend", "cpu", "--ir", p.ir, "--vis", p.vis,
                                        "--text", "brighten the road", "-o", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("\"brighten the road\"") && r.err.contains("--target") && r.err.contains("--process"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testBadCheckpointsAreNamed() throws {
        let dir = try makeTemporaryDirectory()
        let p = try pair(in: dir)
        let out = dir.appendingPathComponent("fused.png").path
        let textOnly = try TestData.path("golden/clip_text_tiny.pt"), rfc = try TestData.path("golden/rfc_model.pth")
        let clipseg = try TestData.path("golden/clipseg_rd64_tiny.pth"), clip = try TestData.path("golden/clip_vitb16_tiny.pt")
        let common = ["fuse", "--model", "rfc", "--backend", "cpu", "--ir", p.ir, "--vis", p.vis, "--text", "enhance the light of the car", "-o", out]
        // A CLIP checkpoint without a vision tower.
        var r = try FusionCLI.runTimed(common + ["--weights", rfc, "--clipseg", clipseg, "--clip", textOnly])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains(textOnly) && r.err.contains("visual.conv1.weight"), r.err)
        // A CLIPSeg file of another layout (here RFC's own checkpoint).
        r = try FusionCLI.runTimed(common + ["--weights", rfc, "--clipseg", rfc, "--clip", clip])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains(rfc) && r.err.contains("film_mul.weight") && r.err.contains("rd64-uni-refined"), r.err)
        // An RFC checkpoint that is not one.
        r = try FusionCLI.runTimed(common + ["--weights", clipseg, "--clipseg", clipseg, "--clip", clip])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains(clipseg) && r.err.contains("RFC"), r.err)
        // A missing checkpoint option.
        r = try FusionCLI.runTimed(common + ["--weights", rfc, "--clip", clip])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--clipseg FILE"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testMismatchedPairAndOptionErrors() throws {
        let dir = try makeTemporaryDirectory()
        let p = try pair(in: dir, visWidth: 72)
        let out = dir.appendingPathComponent("fused.png").path
        var r = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--backend", "cpu", "--ir", p.ir, "--vis", p.vis,
                                        "--text", "enhance the light of the car", "-o", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains(p.ir) && r.err.contains(p.vis) && r.err.contains("80x64") && r.err.contains("72x64"), r.err)
        r = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--ir", p.ir, "--vis", p.vis, "--target", "car", "-o", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--target needs --process"), r.err)
        r = try FusionCLI.runTimed(["fuse", "--model", "film", "--random-weights", "1", "--ir", p.ir, "--vis", p.vis, "--text-features", p.ir,
                                    "--clipseg", p.ir, "-o", out])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--clipseg applies to --model rfc"), r.err)
    }
}

extension FuseRFCCommandTests {
    /// Dataset mode with one prompt file per pair: the pair whose instruction splits is
    /// fused (the golden image), the one whose does not fails alone, named in the run log.
    func testDatasetWithPerPairInstructions() throws {
        let dir = try makeTemporaryDirectory()
        let fm = FileManager.default
        for sub in ["ir", "vi", "text"] { try fm.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true) }
        let p = try pair(in: dir)
        for stem in ["a", "b"] {
            try fm.copyItem(atPath: p.ir, toPath: dir.appendingPathComponent("ir/\(stem).png").path)
            try fm.copyItem(atPath: p.vis, toPath: dir.appendingPathComponent("vi/\(stem).png").path)
        }
        try "enhance the light of the car\n".write(to: dir.appendingPathComponent("text/a.txt"), atomically: true, encoding: .utf8)
        try "brighten the road\n".write(to: dir.appendingPathComponent("text/b.txt"), atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out").path
        let r = try FusionCLI.runTimed(["fuse", "--model", "rfc"] + weights() + ["--backend", "cpu", "--ir", dir.appendingPathComponent("ir").path,
                                        "--vis", dir.appendingPathComponent("vi").path, "--text-dir", dir.appendingPathComponent("text").path, "-o", out])
        XCTAssertEqual(r.status, 1, r.err)
        try assertMatchesGolden(out + "/a.png")
        XCTAssertFalse(fm.fileExists(atPath: out + "/b.png"))
        let log = try String(contentsOfFile: out + "/fusion-run.jsonl", encoding: .utf8)
        XCTAssertTrue(log.contains("brighten the road") && log.contains("--target"), log)
    }
}
