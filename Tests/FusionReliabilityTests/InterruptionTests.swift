import Foundation
import FusionIO
import FusionTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Class 10 and 11 of the hostile probe: signals at any moment, SIGKILL, a full disk and a
/// failing standard output leave no temporary, partial or empty file, and lose no result
/// silently.
final class InterruptionTests: XCTestCase {
    /// The LLVIP pair at full size (about 1.5 s on two cores), so signals land inside the
    /// network, the encode and the write.
    private func llvipArguments(output: String) throws -> [String] {
        try Fixtures.fuseArguments(ir: TestData.path("data/pairs/llvip_sample/ir.png"),
                                   vis: TestData.path("data/pairs/llvip_sample/vis.png"), output: output)
    }

    private func reference() throws -> Data {
        let dir = try makeTemporaryDirectory("interrupt-ref")
        let out = dir.appendingPathComponent("fused.png").path
        let r = try FusionCLI.runLimited(try llvipArguments(output: out))
        XCTAssertEqual(r.status, 0, "\(r)")
        return try XCTUnwrap(Fixtures.contents(out))
    }

    func testSIGTERMAndSIGINTAtAnyMomentLeaveNothingBehind() throws {
        let expected = try reference()
        let dir = try makeTemporaryDirectory("interrupt")
        let out = dir.appendingPathComponent("fused.png").path
        var interrupted = 0
        for (k, delay) in [0.02, 0.1, 0.3, 0.6, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9, 2.2, 2.6].enumerated() {
            try? FileManager.default.removeItem(atPath: out)
            let signal = k % 2 == 0 ? SIGTERM : SIGINT
            let r = try FusionCLI.runInterrupted(try llvipArguments(output: out), signal: signal, after: delay)
            XCTAssertFalse(r.timedOut, "\(r)")
            if r.signaled { interrupted += 1 }
            XCTAssertEqual(Fixtures.strayFiles(in: dir), [], "signal \(signal) after \(delay) s left files behind")
            // Either no output, or the whole one.
            if let written = Fixtures.contents(out) { XCTAssertEqual(written, expected, "a partial output after \(delay) s") }
        }
        XCTAssertGreaterThan(interrupted, 3, "the signals all came too late to test anything")
    }

    func testSIGKILLLeftoversAreSweptAndARerunCompletes() throws {
        let expected = try reference()
        let dir = try makeTemporaryDirectory("sigkill")
        let out = dir.appendingPathComponent("fused.png").path
        // A temporary from a process that no longer exists, as a SIGKILL mid-write leaves it.
        var dead: Int32 = 4_000_000
        while kill(dead, 0) == 0 || errno != ESRCH { dead -= 1 }
        let stale = dir.appendingPathComponent("\(AtomicFile.temporaryPrefix)\(dead)-1f2e3d").path
        XCTAssertTrue(FileManager.default.createFile(atPath: stale, contents: Data(repeating: 7, count: 1000)))
        for delay in [0.1, 0.8, 1.4] {
            _ = try FusionCLI.runInterrupted(try llvipArguments(output: out), signal: SIGKILL, after: delay)
        }
        let r = try FusionCLI.runLimited(try llvipArguments(output: out))
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssertEqual(Fixtures.contents(out), expected)
        XCTAssertEqual(Fixtures.strayFiles(in: dir), [])
    }

    func testAFullDiskLeavesNoPartialOrEmptyFiles() throws {
        // `ulimit -f` makes writes past 64 KiB fail with EFBIG, as a full disk fails them.
        let dir = try makeTemporaryDirectory("full-disk")
        let cache = try makeTemporaryDirectory("full-disk-cache")
        let out = dir.appendingPathComponent("fused.png").path
        let r = try FusionCLI.runLimited(try llvipArguments(output: out), fileKiB: 64, environment: ["FUSIONKIT_CACHE": cache.path])
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        XCTAssert(r.err.contains(out), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(Fixtures.strayFiles(in: dir), [])
        // Cache writes (SPIR-V entries) that fail leave nothing either, and the run goes on.
        let v = try FusionCLI.runLimited(["parity", "--ops", "--op", "softmax"], fileKiB: 4, environment: ["FUSIONKIT_CACHE": cache.path], timeout: 600)
        XCTAssertEqual(v.status, 0, "\(v)")
        let leftovers = (FileManager.default.enumerator(atPath: cache.path)?.compactMap { $0 as? String } ?? [])
            .filter { $0.contains(AtomicFile.temporaryPrefix) || $0.hasSuffix(".tmp") || $0.contains("nosync") }
        XCTAssertEqual(leftovers, [])
    }

    func testAFailingStandardOutputIsAnError() throws {
        // `fusion eval ... > file` on a full disk used to exit 0 with an empty file.
        let pairs = try TestData.path("data/pairs/tno25")
        var r = try FusionCLI.runLimited(["eval", "--ir", pairs + "/ir", "--vis", pairs + "/vi", "--fused", pairs + "/vi", "--metrics", "EN,SD"],
                                         stdoutPath: "/dev/full")
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        XCTAssert(r.err.contains("standard output"), r.err)
        r = try FusionCLI.runLimited(["inspect", try Fixtures.weights()], stdoutPath: "/dev/full")
        XCTAssertTrue(r.isCleanFailure, "\(r)")
        // And the same commands succeed when the output can be written.
        r = try FusionCLI.runLimited(["inspect", try Fixtures.weights()])
        XCTAssertEqual(r.status, 0, "\(r)")
        XCTAssert(r.out.contains("parameters: 82,051"), r.out)
    }
}
