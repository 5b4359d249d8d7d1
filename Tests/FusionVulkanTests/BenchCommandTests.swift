import Foundation
import FusionBench
import FusionCore
import FusionCPU
import FusionIO
import FusionModels
import FusionTestSupport
import FusionVulkan
import XCTest

/// `fusion bench` and `fusion profile`: the JSON they promise, numbers that agree with the
/// graph's cost model, peaks for both backends, and clear errors.
final class BenchCommandTests: XCTestCase {
    /// Runs `fusion`; with validation on (CI), any validation message the child printed fails the test.
    private func run(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, out: String, err: String) {
        let r = try FusionCLI.run(arguments)
        XCTAssertFalse(r.err.contains("[vulkan validation]"), "validation messages from \(arguments):\n\(r.err)", file: file, line: line)
        return r
    }

    private func decode(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(text.prefix(200))")
    }

    /// TextFusion's FLOP at a size, from the library (what the JSON's gflop must say).
    private func textFusionGFLOP(height: Int, width: Int) throws -> Double {
        let weights = try TextFusionWeights(CheckpointReader.read(path: TestData.path("weights/textfusion_llvip.model")).archive)
        return GraphCost.flops(try TextFusionGraph.build(weights, height: height, width: width)) / 1e9
    }

    private func checkModelResult(_ json: [String: Any], backend: String, timer: String, gflop: Double) throws {
        let device = try XCTUnwrap(json["device"] as? [String: Any])
        XCTAssertEqual(device["backend"] as? String, backend)
        XCTAssertFalse((device["name"] as? String ?? "").isEmpty)
        let peak = try XCTUnwrap(device["peak"] as? [String: Any])
        XCTAssertGreaterThan(peak["gflops"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(peak["gbps"] as? Double ?? 0, 0)
        let results = try XCTUnwrap(json["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 1)
        let r = results[0]
        for key in ["name", "backend", "size", "median_ms", "min_ms", "max_ms", "gflop", "gflops", "gbps", "peak_share"] {
            XCTAssertNotNil(r[key], "missing \(key) in \(r)")
        }
        XCTAssertEqual(r["name"] as? String, "textfusion")
        XCTAssertEqual(r["backend"] as? String, backend)
        XCTAssertEqual(r["size"] as? String, "64x80")
        XCTAssertEqual(r["timer"] as? String, timer)
        XCTAssertEqual(r["repeats"] as? Int, 2)
        let median = try XCTUnwrap(r["median_ms"] as? Double), low = try XCTUnwrap(r["min_ms"] as? Double), high = try XCTUnwrap(r["max_ms"] as? Double)
        XCTAssertGreaterThan(low, 0)
        XCTAssertLessThanOrEqual(low, median)
        XCTAssertLessThanOrEqual(median, high)
        let reported = try XCTUnwrap(r["gflop"] as? Double)
        XCTAssertEqual(reported, gflop, accuracy: gflop * 1e-9)
        XCTAssertEqual(try XCTUnwrap(r["gflops"] as? Double), reported / (median / 1e3), accuracy: reported / (median / 1e3) * 1e-6)
        let share = try XCTUnwrap(r["peak_share"] as? Double)
        XCTAssertGreaterThan(share, 0)
        XCTAssertLessThan(share, 2, "a share of the measured roofline far over 1 means the peak or the cost model is wrong")
    }

    func testBenchTextFusionJSONOnCPU() throws {
        let gflop = try textFusionGFLOP(height: 64, width: 80)
        let r = try run(["bench", "--model", "textfusion", "--size", "64x80", "--backend", "cpu", "--json", "--repeat", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        try checkModelResult(try decode(r.out), backend: "cpu", timer: "wall", gflop: gflop)
    }

    func testBenchTextFusionJSONOnVulkan() throws {
        _ = try VulkanTestSupport.backend()
        let gflop = try textFusionGFLOP(height: 64, width: 80)
        let r = try run(["bench", "--model", "textfusion", "--size", "64x80", "--backend", "vulkan", "--json", "--repeat", "2"])
        XCTAssertEqual(r.status, 0, r.err)
        try checkModelResult(try decode(r.out), backend: "vulkan", timer: "gpu", gflop: gflop)
    }

    /// Every op family runs on both backends and reports the cost model's numbers.
    func testBenchEveryOpOnBothBackends() throws {
        _ = try VulkanTestSupport.backend()
        let r = try run(["bench", "--size", "16x24", "--backend", "all", "--json", "--repeat", "1", "--warmup", "0", "--no-peak"])
        XCTAssertEqual(r.status, 0, r.err)
        let json = try decode(r.out)
        XCTAssertEqual((json["devices"] as? [[String: Any]])?.count, 2)
        let results = try XCTUnwrap(json["results"] as? [[String: Any]])
        let cases = try OpBenchCases.cases(height: 16, width: 24)
        XCTAssertEqual(results.count, 2 * cases.count)
        XCTAssertGreaterThanOrEqual(cases.count, 20)
        for (i, c) in cases.enumerated() {
            for r in [results[i], results[cases.count + i]] {
                XCTAssertEqual(r["name"] as? String, c.name)
                XCTAssertEqual(r["gflop"] as? Double ?? -1, c.flops / 1e9, accuracy: 1e-12)
                XCTAssertEqual(r["gbytes"] as? Double ?? -1, c.bytes / 1e9, accuracy: 1e-12)
                XCTAssertGreaterThan(r["median_ms"] as? Double ?? 0, 0, "\(c.name)")
                XCTAssertNil(r["peak_share"], "--no-peak leaves the share out")
            }
        }
    }

    func testPeakReportsBothDevices() throws {
        _ = try VulkanTestSupport.backend()
        let r = try run(["bench", "--peak", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let devices = try XCTUnwrap(try decode(r.out)["devices"] as? [[String: Any]])
        XCTAssertEqual(devices.map { $0["backend"] as? String }, ["cpu", "vulkan"])
        for d in devices {
            let peak = try XCTUnwrap(d["peak"] as? [String: Any])
            // Any CPU or GPU this runs on manages more than 1 GFLOP/s and 0.5 GB/s.
            XCTAssertGreaterThan(peak["gflops"] as? Double ?? 0, 1, "\(d)")
            XCTAssertGreaterThan(peak["gbps"] as? Double ?? 0, 0.5, "\(d)")
        }
        let table = try run(["bench", "--peak", "--backend", "cpu"])
        XCTAssertEqual(table.status, 0, table.err)
        XCTAssert(table.out.contains("peak GFLOP/s"), table.out)
    }

    func testProfileListsTopOpsAndTotals() throws {
        _ = try VulkanTestSupport.backend()
        _ = try TestData.path("weights/textfusion_llvip.model")
        let r = try run(["profile", "--model", "textfusion", "--size", "64x80", "--top", "5"])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("op ") }, r.out)
        let rows = lines[(header + 2)...].prefix { !$0.hasPrefix("...") && !$0.hasPrefix("GPU:") }
        XCTAssertEqual(rows.count, 5, r.out)
        XCTAssert(r.out.contains("GPU: "), r.out)
        XCTAssert(r.out.contains("wall: "), r.out)
        XCTAssert(r.out.contains("window_attention"), "TextFusion's window attention is among its top ops:\n\(r.out)")
    }

    /// The same profile on the CPU, through the backend interface: wall time per node.
    func testProfileRunsOnTheCPU() throws {
        _ = try TestData.path("weights/textfusion_llvip.model")
        let r = try run(["profile", "--model", "textfusion", "--size", "64x80", "--top", "3", "--backend", "cpu"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssert(r.out.contains("on cpu"), r.out)
        XCTAssert(r.out.contains("wall clock, one node at a time"), r.out)
        let lines = r.out.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("op ") }, r.out)
        XCTAssertEqual(lines[(header + 2)...].prefix { !$0.hasPrefix("...") && !$0.hasPrefix("nodes:") }.count, 3, r.out)
    }

    func testBadArgumentsAreNamed() throws {
        let cases: [([String], String)] = [
            (["bench", "--op", "frobnicate"], "--op frobnicate"),
            (["bench", "--model", "resnet"], "--model resnet"),
            (["bench", "--size", "512by640"], "--size 512by640"),
            (["bench", "--repeat", "0"], "--repeat"),
            (["bench", "--peak", "--no-peak"], "--no-peak"),
            (["profile", "--model", "resnet"], "--model resnet"),
            (["bench", "--op", "gemm", "--size", "20x20", "--backend", "cpu"], "multiples of 8"),
            (["bench", "--traffic"], "--traffic"),
            (["bench", "--traffic", "--model", "textif", "--json"], "--traffic"),
        ]
        for (arguments, needle) in cases {
            let r = try run(arguments)
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssert(r.err.contains(needle), "\(arguments): \(r.err)")
        }
    }

    /// The profile's rows account for every dispatch and its time exactly once.
    func testGPUProfileAccountsForEveryDispatch() throws {
        let gpu = try VulkanTestSupport.backend()
        let c = try OpBenchCases.cases(height: 16, width: 16, families: ["conv3x3", "layernorm"])
        let g = Graph()
        var x = g.input("x", shape: [1, 48, 16, 16])
        for _ in 0..<3 {
            x = try g.conv2d(x, weight: g.constant(Tensor.random(shape: [48, 48, 3, 3], seed: 2, in: -0.05...0.05)), Conv2DAttributes(padding: 1))
            x = try g.layerNormChannels(x, weight: g.constant(Tensor.random(shape: [48], seed: 3)))
        }
        g.output("y", x)
        XCTAssertEqual(c.count, 5)
        let exec = try XCTUnwrap(try gpu.prepare(g) as? VulkanExecutable)
        _ = try exec.run(BenchCase.randomInputs(for: g))
        guard exec.lastReport?.timestampsAvailable == true else { throw XCTSkip("no timestamps on this device") }
        let profile = try RunProfileTable(executable: exec, graph: g, wallMilliseconds: 1)
        XCTAssertEqual(profile.profile.timer, "gpu")
        XCTAssertEqual(profile.rows.count, 6)
        XCTAssertEqual(profile.rows.reduce(0) { $0 + $1.dispatches }, exec.dispatchCount)
        XCTAssertEqual(profile.rows.reduce(0) { $0 + $1.milliseconds }, profile.nodeMilliseconds, accuracy: 1e-9)
        XCTAssertEqual(profile.rows.reduce(0) { $0 + $1.share }, 1, accuracy: 1e-9)
        XCTAssertEqual(profile.rows.map(\.milliseconds), profile.rows.map(\.milliseconds).sorted(by: >))
        VulkanTestSupport.assertNoValidationMessages(gpu)
    }

    func testGraphTrafficCountsOperandsAndOutputOnce() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 4, 8, 8])
        let y = try g.conv2d(x, weight: g.constant(Tensor(shape: [6, 4, 3, 3])), Conv2DAttributes(padding: 1))
        let z = try g.reshape(y, [1, 6, 64])
        g.output("z", z)
        XCTAssertEqual(GraphTraffic.bytes(of: g.nodes[0]), Double((4 * 64 + 6 * 4 * 9 + 6 * 64) * 4))
        XCTAssertEqual(GraphTraffic.bytes(of: g.nodes[1]), 0, "a reshape is a view")
        XCTAssertEqual(GraphTraffic.bytes(g), GraphTraffic.bytes(of: g.nodes[0]))
    }

    /// `bench --traffic`: bytes by op as built and as run; the totals are GraphTraffic's of
    /// the graph as built and of the optimised graph, and the rows add up to them.
    func testTrafficTableAddsUpToTheGraphsTraffic() throws {
        let r = try run(["bench", "--traffic", "--model", "textif", "--size", "32x40", "--precision", "fp16"])
        XCTAssertEqual(r.status, 0, r.err)
        let headers = r.out.split(separator: "\n").filter { $0.hasPrefix("textif 32x40") }
        XCTAssertEqual(headers.count, 2, r.out)
        XCTAssert(headers[0].contains("as built (passes none, fp16)") && headers[1].contains("as run (passes all, fp16)"), r.out)
        let graph = try TextIFGraph.build(TextIFWeights(randomDim: 48, seed: 7), height: 32, width: 40)
        let optimised = try CPUBackend(threads: 1).optimized(graph)
        for (header, g) in zip(headers, [graph, optimised]) {
            let kernels = g.nodes.count - LayoutViews.chosen(g).viewNodes.count
            XCTAssert(header.contains("\(g.nodes.count) nodes (\(kernels) run a kernel), " + String(format: "%.3f GB", GraphTraffic.bytes(g, precision: .fp16) / 1e9)), "\(header)")
            let table = TrafficTable(g, precision: .fp16)
            XCTAssertEqual(table.rows.reduce(0) { $0 + $1.bytes }, GraphTraffic.bytes(g, precision: .fp16), accuracy: 1)
            XCTAssertEqual(table.rows.reduce(0) { $0 + $1.nodes }, g.nodes.count)
        }
        XCTAssert(r.out.contains("conv2d+gelu"), "the optimised table names fused ops: \(r.out)")
    }
}
