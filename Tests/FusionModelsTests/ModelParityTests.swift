import Foundation
import FusionCore
import FusionCPU
import FusionEngine
import FusionModels
import FusionParity
import FusionTestSupport
import XCTest

/// `fusion parity --model`: every node of a model's graph on the CPU reference and the
/// Vulkan candidate, compared as both run; a broken kernel is named as the first divergent
/// node.
final class ModelParityTests: XCTestCase {
    private func parity(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let r = try FusionCLI.run(["parity"] + arguments, environment: ["FUSIONKIT_TEST_DATA": TestData.root])
        print("fusion parity \(arguments.joined(separator: " ")) -> \(r.status)\n\(r.out.suffix(600))\(r.err.suffix(600))")
        return r
    }

    private func requireVulkan() throws { _ = try VulkanTestBackend.open() }

    /// Result rows of the table: lines ending in PASS or FAIL.
    private func rows(_ out: String) -> [String] {
        out.split(separator: "\n").map(String.init).filter { $0.hasSuffix("PASS") || $0.hasSuffix("FAIL") }
    }

    func testEveryModelPassesNodeByNodeOnVulkan() throws {
        try requireVulkan()
        let weights = try TestData.path("weights/textfusion_llvip.model")
        for (arguments, model) in [(["--model", "textfusion", "--size", "97x131", "--weights", weights], "textfusion"),
                                   (["--model", "textif", "--size", "64x96"], "textif"),
                                   (["--model", "clip-text"], "clip-text")] {
            let r = try parity(arguments)
            XCTAssertEqual(r.status, 0, "\(model): \(r.err)")
            var settings = ModelSettings(weights: model == "textfusion" ? weights : nil)
            if model == "textif" { settings.randomSeed = 7 }
            let (h, w) = model == "textif" ? (64, 96) : (97, 131)
            let built = try ModelCatalogue.model(named: model).load(settings).workload(height: h, width: w, batch: 1).graph
            let graph = try CPUBackend().optimized(built)   // the nodes as run (passes on)
            XCTAssertEqual(rows(r.out).count, graph.nodes.count, "\(model): one row per node as run")
            XCTAssertTrue(rows(r.out).allSatisfy { $0.hasSuffix("PASS") }, model)
            XCTAssertTrue(r.out.contains("peak memory"), r.out)
        }
    }

    /// A kernel broken on purpose (every gelu output shifted by 0.01; Text-IF's GELUs run
    /// fused into the 3x3 convs before them) is the first divergent node, and nothing
    /// before it fails.
    func testABrokenKernelIsNamedAsTheFirstDivergentNode() throws {
        try requireVulkan()
        let built = try TextIFEntry.load(ModelSettings(randomSeed: 7)).workload(height: 64, width: 96, batch: 1).graph
        let graph = try CPUBackend().optimized(built)
        let firstGELU = try XCTUnwrap(graph.nodes.first { $0.op.name == "gelu" || $0.epilogue.steps.contains(.unary(.gelu)) })
        XCTAssertEqual(firstGELU.opDescription, "conv2d+gelu")
        let r = try parity(["--model", "textif", "--size", "64x96", "--break-op", "gelu", "--json"])
        XCTAssertEqual(r.status, 1, r.err)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let summary = try XCTUnwrap(json["summary"] as? [String: Any])
        XCTAssertEqual(summary["nodes"] as? Int, graph.nodes.count)
        let first = try XCTUnwrap(summary["firstDivergent"] as? [String: Any])
        XCTAssertEqual(first["node"] as? Int, firstGELU.index)
        XCTAssertEqual(first["op"] as? String, "conv2d+gelu")
        let nodes = try XCTUnwrap(json["nodes"] as? [[String: Any]])
        XCTAssertEqual(nodes.count, graph.nodes.count)
        XCTAssertTrue(nodes.prefix(firstGELU.index).allSatisfy { $0["passed"] as? Bool == true }, "every node before the broken one passes")
        let table = try parity(["--model", "textif", "--size", "64x96", "--break-op", "gelu", "--summary"])
        XCTAssertEqual(table.status, 1)
        XCTAssertTrue(table.out.contains("first divergent node: \(firstGELU.index) \(firstGELU.name) (conv2d+gelu"), table.out)
        XCTAssertLessThan(rows(table.out).count, graph.nodes.count, "--summary lists failures only")
        XCTAssertTrue(rows(table.out).allSatisfy { $0.hasSuffix("FAIL") })
    }

    /// The runner itself, CPU against CPU on the graph as built (no passes, so the gelu is a
    /// node of its own): identical runs pass with zero error; a broken gelu fails at the
    /// gelu and everything downstream that inherits it.
    func testRunnerComparesEveryNodeInOrder() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 4, 8, 8])
        var y = try g.conv2d(x, weight: g.constant(Tensor.random(shape: [4, 4, 3, 3], seed: 1, in: -0.3...0.3)), Conv2DAttributes(padding: 1))
        y = try g.unary(.gelu, y)
        y = try g.conv2d(y, weight: g.constant(Tensor.random(shape: [4, 4, 3, 3], seed: 2, in: -0.3...0.3)), Conv2DAttributes(padding: 1))
        g.output("y", y)
        let inputs = ["x": Tensor.random(shape: [1, 4, 8, 8], seed: 3)]
        var seen: [Int] = []
        let same = try GraphParityRunner(reference: CPUBackend(passes: .none), candidate: CPUBackend(passes: .none)).run(g, inputs: inputs) { seen.append($0.node) }
        XCTAssertEqual(seen, g.nodes.map(\.index))
        XCTAssertTrue(same.passed)
        XCTAssertEqual(same.worst?.maxAbsError, 0)
        let broken = try GraphParityRunner(reference: CPUBackend(passes: .none), candidate: FaultInjectingBackend(base: CPUBackend(passes: .none), breaking: "gelu"))
            .run(g, inputs: inputs) { _ in }
        XCTAssertFalse(broken.passed)
        XCTAssertEqual(broken.firstDivergent?.node, 1)
        XCTAssertEqual(broken.failed, 2)
    }
}
