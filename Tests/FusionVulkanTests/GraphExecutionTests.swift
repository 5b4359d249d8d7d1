import Foundation
import FusionCore
import FusionCPU
import FusionVulkan
import XCTest

final class GraphExecutionTests: XCTestCase {
    /// A 60-op chain (elementwise, norms, convs) must record as one command sequence and
    /// run as exactly one queue submission, with the same result as the CPU.
    func testLongGraphRunsAsOneSubmission() throws {
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        let x = g.input("x", shape: [1, 6, 19, 23])
        var h = x
        for i in 0..<20 {
            let w = Tensor.random(shape: [6, 6, 3, 3], seed: UInt64(i), in: -0.2...0.2)
            h = try g.conv2d(h, weight: g.constant(w), bias: nil, .init(padding: 1))
            h = try g.layerNormChannels(h, weight: g.constant(Tensor.random(shape: [6], seed: 100 + UInt64(i))))
            h = try g.gelu(h)
        }
        g.output("y", h)
        let exec = try XCTUnwrap(try gpu.prepare(g) as? VulkanExecutable)
        XCTAssertGreaterThanOrEqual(exec.dispatchCount, 50, "expected a 50+ dispatch graph")
        let input = Tensor.random(shape: [1, 6, 19, 23], seed: 7)
        let before = gpu.context.stats.submissions
        let out = try exec.run(["x": input])["y"]!
        XCTAssertEqual(gpu.context.stats.submissions - before, 1, "one graph run must be one submission")
        // Barriers only where a dispatch depends on an earlier one: never more than dispatches.
        XCTAssertLessThanOrEqual(exec.barrierCount, exec.dispatchCount)
        if let report = exec.lastReport, !report.timings.isEmpty {
            XCTAssertEqual(report.timings.count, exec.dispatchCount)
        }
        let ref = try CPUBackend().run(g, inputs: ["x": input])["y"]!
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(out, ref), 1e-4 * max(1, VulkanTestSupport.maxAbs(ref)))
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    /// Over the submission work limit, a graph is cut between nodes into several command
    /// sequences, queued back to back: same answer, one submission per sequence, each
    /// sequence within the limit (a single node over it stays whole), timings for every
    /// dispatch, and no hazard between sequences for the validation layers to report.
    func testGraphOverTheWorkLimitIsSplitIntoSubmissions() throws {
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        let x = g.input("x", shape: [1, 6, 19, 23])
        var h = x
        for i in 0..<12 {
            let w = Tensor.random(shape: [6, 6, 3, 3], seed: UInt64(i), in: -0.2...0.2)
            h = try g.conv2d(h, weight: g.constant(w), bias: nil, .init(padding: 1))
            h = try g.gelu(h)
        }
        g.output("y", h)
        let convFLOP = GraphCost.flops(of: g.nodes.first { if case .conv2d = $0.op { return true }; return false }!)
        let backend = VulkanBackend(context: gpu.context)
        backend.passes = .none   // every conv and gelu a node of its own (their count is the point)
        backend.submissionWorkLimit = 2.5 * convFLOP
        let exec = try XCTUnwrap(try backend.prepare(g) as? VulkanExecutable)
        XCTAssertGreaterThanOrEqual(exec.submissionCount, 5, "12 convs at 2.5 convs per submission")
        for work in exec.sequenceFLOPs { XCTAssertLessThanOrEqual(work, backend.submissionWorkLimit) }
        XCTAssertEqual(exec.dispatchNodes.count, exec.dispatchCount)

        let input = Tensor.random(shape: [1, 6, 19, 23], seed: 7)
        let before = gpu.context.stats.submissions
        let out = try exec.run(["x": input])["y"]!
        XCTAssertEqual(gpu.context.stats.submissions - before, exec.submissionCount)
        if let report = exec.lastReport, report.timestampsAvailable {
            XCTAssertEqual(report.timings.count, exec.dispatchCount)
            XCTAssertEqual(report.timings.map(\.index), Array(0..<exec.dispatchCount))
        }
        let ref = try CPUBackend().run(g, inputs: ["x": input])["y"]!
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(out, ref), 1e-4 * max(1, VulkanTestSupport.maxAbs(ref)))
        // Again with other data: the sequences are re-submittable.
        let input2 = Tensor.random(shape: [1, 6, 19, 23], seed: 8)
        let out2 = try exec.run(["x": input2])["y"]!
        let ref2 = try CPUBackend().run(g, inputs: ["x": input2])["y"]!
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(out2, ref2), 1e-4 * max(1, VulkanTestSupport.maxAbs(ref2)))

        // A limit below one node's work: every node alone, never an empty sequence.
        backend.submissionWorkLimit = 1
        let each = try XCTUnwrap(try backend.prepare(g) as? VulkanExecutable)
        XCTAssertEqual(each.submissionCount, g.nodes.count)
        XCTAssertFalse(each.sequenceFLOPs.contains(0))
        let out3 = try each.run(["x": input])["y"]!
        XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(out3, ref), 1e-4 * max(1, VulkanTestSupport.maxAbs(ref)))
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    /// Running the same executable twice gives the same answer (nothing left over).
    func testExecutableIsReusable() throws {
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        let a = g.input("a", shape: [2, 3, 5, 7])
        g.output("y", try g.sigmoid(try g.add(a, a)))
        let exec = try gpu.prepare(g)
        let t1 = Tensor.random(shape: [2, 3, 5, 7], seed: 1), t2 = Tensor.random(shape: [2, 3, 5, 7], seed: 2)
        let r1 = try exec.run(["a": t1])["y"]!, r2 = try exec.run(["a": t2])["y"]!, r1b = try exec.run(["a": t1])["y"]!
        XCTAssertEqual(r1.toFloatArray(), r1b.toFloatArray())
        XCTAssertNotEqual(r1.toFloatArray(), r2.toFloatArray())
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    /// Outputs that are graph inputs or views of them come back intact.
    func testOutputThatIsAnInputView() throws {
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        let a = g.input("a", shape: [2, 6])
        g.output("same", a)
        g.output("view", try g.reshape(a, [3, 4]))
        let t = Tensor.random(shape: [2, 6], seed: 3)
        let out = try gpu.run(g, inputs: ["a": t])
        XCTAssertEqual(out["same"]!.toFloatArray(), t.toFloatArray())
        XCTAssertEqual(out["view"]!.shape, [3, 4])
        XCTAssertEqual(out["view"]!.toFloatArray(), t.toFloatArray())
    }

    func testMissingAndMisshapedInputsAreTypedErrors() throws {
        let gpu = try VulkanTestSupport.backend()
        let g = Graph()
        g.output("y", try g.relu(g.input("x", shape: [1, 3, 4, 4])))
        let exec = try gpu.prepare(g)
        XCTAssertThrowsError(try exec.run([:])) { XCTAssertEqual($0 as? FusionError, .missingInput(name: "x")) }
        XCTAssertThrowsError(try exec.run(["x": Tensor(shape: [1, 3, 4, 5])])) {
            XCTAssertEqual($0 as? FusionError, .inputShapeMismatch(name: "x", expected: [1, 3, 4, 4], got: [1, 3, 4, 5]))
        }
    }
}
