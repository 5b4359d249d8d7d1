import Foundation
import FusionCore
@testable import FusionIO
import FusionTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Acceptance 3 of the hostile-input issue: every command, on every hostile input of the
/// issue, exits on its own with a status in 1...125 and a message (or succeeds), under
/// `ulimit -v` from 150 MB to 1.5 GB. Classes 1, 2, 3, 4, 7 and 12 at the command line.
final class HostileInputMatrixTests: XCTestCase {
    private var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    private func write(_ data: Data, _ name: String) throws -> String {
        let path = folder + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The hostile files of the issue, written here.
    private struct Files {
        var hugeEmptySafetensors = "", overflowNPY = "", overflowFortranNPY = "", deepPickle = "", broadcast = ""
        var hugePNG = "", truncatedPNG = "", rotatedJPEG = "", irForRotated = "", fifo = ""
    }

    private func hostileFiles() throws -> Files {
        var f = Files()
        f.hugeEmptySafetensors = try write(SafetensorsFixture.file(header: #"{"text_features":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}"#),
                                           "huge-empty.safetensors")
        f.overflowNPY = try write(NPYFixture.file(shape: "(2147483647, 2147483647, 2147483647)"), "overflow.npy")
        f.overflowFortranNPY = try write(NPYFixture.file(fortran: true, shape: "(2147483647, 2147483647, 4)"), "overflow-f.npy")
        var deep = Data(ZipBuilder.checkpoint(pickle: DeepPickle.markList(depth: 60_000), storages: []))
        f.deepPickle = try write(deep, "deep.pth")
        deep.removeAll()
        f.broadcast = try write(CheckpointHardeningTests.broadcastCheckpoint(), "broadcast.pth")
        f.hugePNG = try write(Data(ImageHardeningTests.bilevelPNG(width: 20000, height: 20000)), "huge.png")
        let llvip = try Data(contentsOf: URL(fileURLWithPath: TestData.path("data/pairs/llvip_sample/vis.png")))
        f.truncatedPNG = try write(llvip.prefix(llvip.count / 2), "truncated.png")
        // A 48x32 visible image stored sideways with EXIF orientation 6: displayed 32x48.
        let stored = Image(planes: (0..<3).map { c in (0..<(48 * 32)).map { Float(($0 * (c + 1)) % 255) / 255 } }, width: 48, height: 32, bitDepth: 8, scaledFrom: 1)
        let jpeg = try [UInt8](stored.jpegData())
        f.rotatedJPEG = try write(Data(ImageHardeningTests.splicingAPP1(jpeg, ImageHardeningTests.exifBlock(orientation: 6, bigEndian: false))), "rotated.jpg")
        f.irForRotated = folder + "/ir-32x48.png"
        try Image(planes: [(0..<(32 * 48)).map { Float($0 % 200) / 255 }], width: 32, height: 48, bitDepth: 8, scaledFrom: 1).writePNG(to: f.irForRotated)
        f.fifo = folder + "/pipe.png"
        XCTAssertEqual(mkfifo(f.fifo, 0o644), 0)
        return f
    }

    /// (label, arguments, may succeed) for every hostile input and the commands that read it.
    private func commands(_ f: Files) throws -> [(String, [String], Bool)] {
        let weights = try TestData.path("weights/textfusion_llvip.model")
        let features = try TestData.path("golden/textfusion_1024x1280.safetensors")
        let clip = try TestData.path("golden/clip_text_tiny.pt")
        let ir = try TestData.path("data/pairs/llvip_sample/ir.png"), vis = try TestData.path("data/pairs/llvip_sample/vis.png")
        let out = folder + "/out.png"
        func fuse(ir: String = ir, vis: String = vis, weights: String = weights, features: String = features) -> [String] {
            ["fuse", "--backend", "cpu", "--ir", ir, "--vis", vis, "--weights", weights, "--text-features", features, "-o", out]
        }
        let longWord = String(repeating: "supercalifragilistic", count: 6500)
        return [
            ("inspect huge empty safetensors", ["inspect", "--values", f.hugeEmptySafetensors], true),
            ("features huge empty safetensors", fuse(features: f.hugeEmptySafetensors), false),
            ("weights huge empty safetensors", fuse(weights: f.hugeEmptySafetensors), false),
            ("clip huge empty safetensors", ["encode-text", "--backend", "cpu", "--clip", f.hugeEmptySafetensors, "-o", folder + "/f.safetensors", "a"], false),
            ("check-golden huge empty safetensors", ["check-golden", "--backend", "cpu", f.hugeEmptySafetensors], false),
            ("inspect overflowing npy", ["inspect", f.overflowNPY], false),
            ("inspect overflowing Fortran npy", ["inspect", f.overflowFortranNPY], false),
            ("features overflowing npy", fuse(features: f.overflowNPY), false),
            ("inspect deep pickle", ["inspect", f.deepPickle], false),
            ("weights deep pickle", fuse(weights: f.deepPickle), false),
            ("inspect values broadcast", ["inspect", "--values", f.broadcast], false),
            ("weights broadcast", fuse(weights: f.broadcast), false),
            ("20000x20000 PNG", fuse(ir: f.hugePNG, vis: f.hugePNG), false),
            ("truncated PNG", fuse(vis: f.truncatedPNG), false),
            ("rotated JPEG, IR of the displayed size", fuse(ir: f.irForRotated, vis: f.rotatedJPEG), true),
            ("named pipe", fuse(ir: f.fifo), false),
            ("output equal to input", ["fuse", "--backend", "cpu", "--ir", ir, "--vis", vis, "--weights", weights, "--text-features", features, "-o", ir], false),
            ("README fuse at 1280x1024", fuse(), true),
            ("bench absurd size", ["bench", "--size", "100000x100000", "--backend", "cpu"], false),
            ("long word", ["encode-text", "--backend", "cpu", "--no-cache", "--clip", clip, "-o", folder + "/w.safetensors", longWord], false),
            ("long word truncated", ["encode-text", "--backend", "cpu", "--no-cache", "--truncate", "--clip", clip, "-o", folder + "/w.safetensors", longWord], true),
        ]
    }

    func testEveryHostileInputExitsCleanlyUnderAddressSpaceLimits() throws {
        let files = try hostileFiles()
        var failures: [String] = []
        var runs = 0
        for limitMB in [150, 400, 1000, 1500] {
            for (label, arguments, maySucceed) in try commands(files) {
                let r = try FusionCLI.runLimited(arguments, virtualKiB: limitMB * 1000, timeout: 120)
                runs += 1
                let ok = !r.signaled && !r.timedOut && (r.isCleanFailure || (maySucceed && r.status == 0))
                if !ok { failures.append("\(label) under \(limitMB) MB: \(r)") }
            }
        }
        print("hostile inputs: \(runs) runs under ulimit -v 150/400/1000/1500 MB, \(failures.count) not clean")
        XCTAssertEqual(failures, [], failures.joined(separator: "\n"))
    }

    func testHostileInputsGiveTheRightMessagesWithoutALimit() throws {
        let f = try hostileFiles()
        let cmds = try commands(f)
        func run(_ label: String) throws -> FusionCLI.LimitedResult {
            let (_, arguments, _) = try XCTUnwrap(cmds.first { $0.0 == label })
            return try FusionCLI.runLimited(arguments, timeout: 120)
        }
        var r = try run("inspect huge empty safetensors")
        XCTAssertEqual(r.status, 0, "\(r)")
        r = try run("inspect overflowing npy")
        XCTAssertTrue(r.isCleanFailure && r.err.contains(f.overflowNPY), "\(r)")
        r = try run("inspect deep pickle")
        XCTAssertTrue(r.isCleanFailure && r.err.contains("deeper than"), "\(r)")
        r = try run("inspect values broadcast")
        XCTAssertTrue(r.isCleanFailure && r.err.contains("limit"), "\(r)")
        r = try run("20000x20000 PNG")
        XCTAssertTrue(r.isCleanFailure && r.err.contains("--max-pixels"), "\(r)")
        r = try run("truncated PNG")
        XCTAssertTrue(r.isCleanFailure && r.err.contains(f.truncatedPNG), "\(r)")
        // Class 12: the rotated visible image is read as displayed (32x48), so it pairs with
        // an infrared image of that size and the output has it.
        r = try run("rotated JPEG, IR of the displayed size")
        XCTAssertEqual(r.status, 0, "\(r)")
        let fused = try Image.read(path: folder + "/out.png")
        XCTAssertEqual([fused.width, fused.height], [32, 48])
        // A raised --max-pixels lets a large image through to the next check.
        let args = try cmds.first { $0.0 == "20000x20000 PNG" }!.1 + ["--max-pixels", "400000000"]
        r = try FusionCLI.runLimited(args, virtualKiB: 1_500_000, timeout: 120)
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        XCTAssertFalse(r.err.contains("--max-pixels"), r.err)
    }
}
