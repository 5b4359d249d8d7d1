import Foundation
import FusionCore
import FusionIO
import FusionTestSupport
import XCTest

/// `fusion fuse --model textif` on small crops with the golden dim-8 checkpoint.
final class FuseTextIFCommandTests: XCTestCase {

    /// A 45x37 crop of a real pair (odd size: padded to 48x40 and cropped back).
    private func pair(in dir: URL, irWidth: Int = 45) throws -> (String, String) {
        let ir = try Image.read(path: TestData.path("data/pairs/mixed4/ir/00016N.png"))
        let vis = try Image.read(path: TestData.path("data/pairs/mixed4/vi/00016N.png"))
        func crop(_ image: Image, _ w: Int, _ h: Int) -> Image {
            var samples: [UInt16] = []
            for y in 0..<h { for x in 0..<w { for c in 0..<image.channels { samples.append(image[x: 200 + x, y: 150 + y, channel: c]) } } }
            return Image(width: w, height: h, channels: image.channels, bitDepth: image.bitDepth, samples: samples)
        }
        let irPath = dir.appendingPathComponent("ir.png").path, visPath = dir.appendingPathComponent("vis.png").path
        try crop(ir, irWidth, 37).writePNG(to: irPath)
        try crop(vis, 45, 37).writePNG(to: visPath)
        return (irPath, visPath)
    }

    func testSeveralTasksRunTheEncodersOnce() throws {
        let dir = try makeTemporaryDirectory()
        let (ir, vis) = try pair(in: dir)
        let out = dir.appendingPathComponent("fused.png").path
        let r = try FusionCLI.runTimed(["fuse", "--model", "textif", "--weights", TestData.path("golden/textif_dim8.pth"), "--backend", "cpu",
                                   "--ir", ir, "--vis", vis, "--task", "low-light", "--task", "haze", "--text", "Highlight the people.",
                                   "--post", "original", "-o", out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("encoders: 1 run(s)") && r.out.contains("decoder: 3 run(s)"), r.out)
        for label in ["low-light", "haze", "text"] {
            let image = try Image.read(path: dir.appendingPathComponent("fused_\(label).png").path)
            XCTAssertEqual([image.width, image.height, image.channels], [45, 37, 3], label)
            XCTAssertEqual(image.samples.min(), 0, "--post original stretches to the full range")
            XCTAssertEqual(image.samples.max(), 255)
        }
    }

    /// `--fit original`: PIL bicubic to the visible size floored to a multiple of 16 (45x37 -> 32x32).
    func testFitOriginalResizesLikeTheScript() throws {
        let dir = try makeTemporaryDirectory()
        let (ir, vis) = try pair(in: dir)
        let out = dir.appendingPathComponent("fused.png").path
        let r = try FusionCLI.runTimed(["fuse", "--model", "textif", "--weights", TestData.path("golden/textif_dim8.pth"), "--backend", "cpu",
                                        "--ir", ir, "--vis", vis, "--task", "general", "--fit", "original", "-o", out])
        XCTAssertEqual(r.status, 0, r.err)
        let image = try Image.read(path: out)
        XCTAssertEqual([image.width, image.height], [32, 32])
    }

    func testErrors() throws {
        let dir = try makeTemporaryDirectory()
        let (ir, vis) = try pair(in: dir, irWidth: 44)
        let out = dir.appendingPathComponent("fused.png").path
        let weights = try TestData.path("golden/textif_dim8.pth")
        func run(_ args: [String]) throws -> FusionCLI.Result { try FusionCLI.runTimed(["fuse", "--model", "textif", "--backend", "cpu", "-o", out] + args) }
        var r = try run(["--weights", weights, "--ir", ir, "--vis", vis, "--task", "general"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("44x37") && r.err.contains("45x37"), r.err)
        let (ir2, vis2) = try pair(in: dir)
        r = try run(["--weights", weights, "--ir", ir2, "--vis", vis2, "--text", String(repeating: "word ", count: 90)])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("77"), r.err)
        r = try run(["--weights", TestData.path("weights/textfusion_llvip.model"), "--ir", ir2, "--vis", vis2, "--task", "general"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("not a Text-IF checkpoint"), r.err)
        r = try run(["--weights", weights, "--ir", ir2, "--vis", vis2, "--task", "sunshine"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("sunshine") && r.err.contains("low-light"), r.err)
        r = try run(["--ir", ir2, "--vis", vis2, "--task", "general"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("--weights") && r.err.contains("--random-weights"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
