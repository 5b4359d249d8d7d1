import Foundation
import FusionIO
import FusionTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Class 8 and 10 of the hostile probe: an output equal to an input is refused before any
/// work (by path, through a symbolic link, or a hard link), outputs that cannot be written
/// are refused before the network runs, and long names work.
final class OutputSafetyTests: XCTestCase {
    private func assertRefused(_ arguments: [String], protecting path: String, mentions option: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let before = Fixtures.contents(path)
        let r = try FusionCLI.runLimited(arguments)
        XCTAssertTrue(r.isCleanFailure, "\(r)", file: file, line: line)
        XCTAssert(r.err.contains("same file as \(option)"), r.err, file: file, line: line)
        XCTAssertEqual(Fixtures.contents(path), before, "\(path) was changed", file: file, line: line)
        XCTAssertLessThan(r.seconds, 20, file: file, line: line)
    }

    func testOutputEqualToAnyInputIsRefused() throws {
        let dir = try makeTemporaryDirectory("out-eq-in")
        let (ir, vis) = try Fixtures.smallPair(in: dir)
        let weightsCopy = dir.appendingPathComponent("weights.png").path
        try FileManager.default.copyItem(atPath: try Fixtures.weights(), toPath: weightsCopy)
        let featuresCopy = dir.appendingPathComponent("features.png").path
        try FileManager.default.copyItem(atPath: try Fixtures.features(), toPath: featuresCopy)
        let base = ["fuse", "--backend", "cpu", "--ir", ir, "--vis", vis]
        try assertRefused(base + ["--weights", try Fixtures.weights(), "--text-features", try Fixtures.features(), "-o", ir], protecting: ir, mentions: "--ir")
        try assertRefused(base + ["--weights", try Fixtures.weights(), "--text-features", try Fixtures.features(), "-o", vis], protecting: vis, mentions: "--vis")
        // Other spellings of the same path.
        try assertRefused(base + ["--weights", try Fixtures.weights(), "--text-features", try Fixtures.features(),
                                  "-o", dir.path + "/./vis.png"], protecting: vis, mentions: "--vis")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try assertRefused(base + ["--weights", try Fixtures.weights(), "--text-features", try Fixtures.features(),
                                  "-o", dir.path + "/sub/../vis.png"], protecting: vis, mentions: "--vis")
        try assertRefused(base + ["--weights", weightsCopy, "--text-features", try Fixtures.features(), "-o", weightsCopy],
                          protecting: weightsCopy, mentions: "--weights")
        try assertRefused(base + ["--weights", try Fixtures.weights(), "--text-features", featuresCopy, "-o", featuresCopy],
                          protecting: featuresCopy, mentions: "--text-features")
        // Text-IF checks its outputs the same way.
        try assertRefused(["fuse", "--model", "textif", "--random-weights", "1", "--backend", "cpu", "--ir", ir, "--vis", vis,
                           "--text-features", try Fixtures.features(), "-o", ir], protecting: ir, mentions: "--ir")
    }

    func testOutputThatIsALinkToAnInputIsRefused() throws {
        let dir = try makeTemporaryDirectory("out-link")
        let (ir, vis) = try Fixtures.smallPair(in: dir)
        let symbolic = dir.appendingPathComponent("symbolic.png").path
        XCTAssertEqual(symlink(ir, symbolic), 0)
        let hard = dir.appendingPathComponent("hard.png").path
        XCTAssertEqual(link(vis, hard), 0)
        try assertRefused(try Fixtures.fuseArguments(ir: ir, vis: vis, output: symbolic), protecting: ir, mentions: "--ir")
        try assertRefused(try Fixtures.fuseArguments(ir: ir, vis: vis, output: hard), protecting: vis, mentions: "--vis")
    }

    func testEncodeTextOutputEqualToTheCLIPWeightsIsRefused() throws {
        let dir = try makeTemporaryDirectory("encode-eq")
        let clip = dir.appendingPathComponent("clip.safetensors").path
        try FileManager.default.copyItem(atPath: try Fixtures.clip(), toPath: clip)
        try assertRefused(["encode-text", "--backend", "cpu", "--clip", clip, "-o", clip, "a prompt"], protecting: clip, mentions: "--clip")
        // Not safetensors: refused by name, before loading anything.
        let r = try FusionCLI.runLimited(["encode-text", "--backend", "cpu", "--clip", clip, "-o", dir.appendingPathComponent("x.png").path, "a prompt"])
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        XCTAssert(r.err.contains("safetensors"), r.err)
    }

    func testUnwritableOutputIsRefusedBeforeTheNetworkRuns() throws {
        let dir = try makeTemporaryDirectory("out-unwritable")
        let (ir, vis) = try Fixtures.smallPair(in: dir)
        // An output that is a folder.
        var r = try FusionCLI.runLimited(try Fixtures.fuseArguments(ir: ir, vis: vis, output: dir.path))
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        // A name longer than the file system allows: refused up front, nothing left behind.
        let long = dir.appendingPathComponent(String(repeating: "n", count: 300) + ".png").path
        r = try FusionCLI.runLimited(try Fixtures.fuseArguments(ir: ir, vis: vis, output: long))
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        XCTAssert(r.err.contains("file name is 304 bytes long"), r.err)
        XCTAssertFalse(r.err.contains("time:"), "the network ran: \(r.err)")
        // A read-only folder: a file system mounted read-only is the case root cannot write
        // either; /proc/1 stands in for one that refuses new files.
        r = try FusionCLI.runLimited(try Fixtures.fuseArguments(ir: ir, vis: vis, output: "/proc/1/fused.png"))
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        XCTAssert(r.err.contains("cannot write into the folder") || r.err.contains("cannot create"), r.err)
        XCTAssertEqual(Fixtures.strayFiles(in: dir), [])
    }

    func testTheLongestNameTheFileSystemAllowsIsWritten() throws {
        // The temporary file's name no longer grows with the output's: a 255-byte name works.
        let dir = try makeTemporaryDirectory("out-long")
        let (ir, vis) = try Fixtures.smallPair(in: dir)
        let name = String(repeating: "n", count: 251) + ".png"
        let output = dir.appendingPathComponent(name).path
        let r = try FusionCLI.runLimited(try Fixtures.fuseArguments(ir: ir, vis: vis, output: output))
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertNoThrow(try Image.read(path: output))
        XCTAssertEqual(Fixtures.strayFiles(in: dir), [])
    }
}
