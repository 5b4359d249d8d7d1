import Foundation
import FusionCore
import FusionVulkan
import XCTest

/// `VulkanExecutable.submit` / `wait`: two runs in flight, each with its own staging set,
/// give what `run` gives for their own inputs, whatever the order they are collected in.
final class PipelinedSubmitTests: XCTestCase {
    private func inputs(_ h: Int, _ w: Int, seed: UInt64) -> [String: Tensor] {
        ["x": VulkanArenaTests.input(height: h, width: w, seed: seed)]
    }

    private func output(_ e: Executable, _ h: Int, _ w: Int, seed: UInt64) throws -> [Float] {
        try e.run(inputs(h, w, seed: seed))["y"]!.toFloatArray()
    }

    /// Two submissions in flight on one executable, collected in order and in reverse; a
    /// third before a wait is refused; a run dropped without a wait frees its set.
    func testTwoRunsInFlightEqualRun() throws {
        let gpu = VulkanBackend(context: try VulkanTestSupport.backend().context)
        let (h, w) = (48, 64)
        let e = try XCTUnwrap(try gpu.prepare(VulkanArenaTests.graph(height: h, width: w)) as? VulkanExecutable)
        let expected = try (0..<4).map { try output(e, h, w, seed: UInt64(10 + $0)) }
        XCTAssertNotEqual(expected[0], expected[1], "different inputs must give different outputs")
        XCTAssertEqual(e.lastReport?.timings.count ?? e.dispatchCount, e.dispatchCount)

        let a = try e.submit(inputs(h, w, seed: 10)), b = try e.submit(inputs(h, w, seed: 11))
        XCTAssertThrowsError(try e.submit(inputs(h, w, seed: 12)), "a third run in flight")
        XCTAssertEqual(try e.wait(a)["y"]!.toFloatArray(), expected[0])
        let c = try e.submit(inputs(h, w, seed: 12)) // into a's set while b runs
        XCTAssertEqual(try e.wait(c)["y"]!.toFloatArray(), expected[2], "collected before the run queued ahead of it")
        XCTAssertEqual(try e.wait(b)["y"]!.toFloatArray(), expected[1])
        XCTAssertThrowsError(try e.wait(b), "a run is collected once")

        do { _ = try e.submit(inputs(h, w, seed: 13)) } // dropped: its set comes back
        let d = try e.submit(inputs(h, w, seed: 13)), f = try e.submit(inputs(h, w, seed: 10))
        XCTAssertEqual(try e.wait(d)["y"]!.toFloatArray(), expected[3])
        XCTAssertEqual(try e.wait(f)["y"]!.toFloatArray(), expected[0])
        XCTAssertEqual(try output(e, h, w, seed: 11), expected[1], "run after pipelined runs")
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    /// Runs of two executables in flight together, and a preparation that grows the arena
    /// while one is in flight (the queue is waited for, the recordings dropped): each
    /// result is its own. With a small work limit each run is several command sequences.
    func testRunsOfSeveralExecutablesAndArenaGrowthInFlight() throws {
        let shared = try VulkanTestSupport.backend()
        for limit in [50e9, 2e6] {
            let gpu = VulkanBackend(context: shared.context)
            gpu.submissionWorkLimit = limit
            let small = try XCTUnwrap(try gpu.prepare(VulkanArenaTests.graph(height: 32, width: 40)) as? VulkanExecutable)
            let medium = try XCTUnwrap(try gpu.prepare(VulkanArenaTests.graph(height: 48, width: 64)) as? VulkanExecutable)
            if limit < 1e9 { XCTAssertGreaterThan(small.submissionCount, 1, "the limit must split the graph") }
            let smallWant = try (0..<2).map { try output(small, 32, 40, seed: UInt64(20 + $0)) }
            let mediumWant = try (0..<2).map { try output(medium, 48, 64, seed: UInt64(30 + $0)) }

            let s0 = try small.submit(inputs(32, 40, seed: 20))
            let m0 = try medium.submit(inputs(48, 64, seed: 30))
            let s1 = try small.submit(inputs(32, 40, seed: 21))
            XCTAssertEqual(try small.wait(s0)["y"]!.toFloatArray(), smallWant[0])
            let m1 = try medium.submit(inputs(48, 64, seed: 31))
            XCTAssertEqual(try medium.wait(m0)["y"]!.toFloatArray(), mediumWant[0])

            // Grows the arena while s1 and m1 are queued or running.
            let before = gpu.arenaBytes
            let large = try gpu.prepare(VulkanArenaTests.graph(height: 112, width: 144))
            XCTAssertGreaterThan(gpu.arenaBytes, before, "the large graph must grow the arena")
            XCTAssertEqual(try small.wait(s1)["y"]!.toFloatArray(), smallWant[1])
            XCTAssertEqual(try medium.wait(m1)["y"]!.toFloatArray(), mediumWant[1])
            // Re-recorded against the new blocks.
            let s2 = try small.submit(inputs(32, 40, seed: 21)), l0 = try large.submit(inputs(112, 144, seed: 1))
            XCTAssertEqual(try small.wait(s2)["y"]!.toFloatArray(), smallWant[1])
            _ = try large.wait(l0)
            XCTAssertEqual(try output(medium, 48, 64, seed: 30), mediumWant[0])
            VulkanTestSupport.assertNoValidationMessages(gpu)
        }
    }
}
