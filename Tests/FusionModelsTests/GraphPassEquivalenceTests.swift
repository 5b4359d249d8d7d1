import FusionCore
import FusionEngine
import FusionParity
import FusionTestSupport
import XCTest

/// Every catalogue model's graph gives the same outputs with the graph passes as without
/// (max |err| <= 1e-6 x the output's scale), on the CPU and on Vulkan, and the passes do
/// change the graph (fewer nodes, fewer bytes), so the comparison is not of a graph with
/// itself.
///
/// `compose-convs` changes the arithmetic (a composed weight sums in another order), so a
/// graph it rewrote may differ from the graph as built by more than that where the graph
/// as built is itself further than 1e-6 x scale from exact (Text-IF's random-weight
/// network: 1.1e-6 at scale 0.67). There the rule is that the optimised graph is no
/// further from the float64 evaluation of the network than the graph as built, and every
/// other pass (whose arithmetic is the unfused ops') still meets 1e-6 x scale.
final class GraphPassEquivalenceTests: XCTestCase {
    /// (model, settings, height, width, batch).
    /// Float64 outputs per model (the same inputs on both backends), computed once.
    nonisolated(unsafe) private static var references: [String: [String: Float64Tensor]] = [:]

    private func workloads() throws -> [(String, ModelWorkload)] {
        var textfusion = ModelSettings(weights: try TestData.path("weights/textfusion_llvip.model"))
        textfusion.log = { _ in }
        var rfcSettings = ModelSettings(weights: try TestData.path("golden/rfc_model.pth"))
        rfcSettings.clip = try TestData.path("golden/clip_vitb16_tiny.pt")
        rfcSettings.clipseg = try TestData.path("golden/clipseg_rd64_tiny.pth")
        return [
            ("textfusion", try ModelCatalogue.model(named: "textfusion").load(textfusion).workload(height: 61, width: 83, batch: 2)),
            ("textif", try ModelCatalogue.model(named: "textif").load(ModelSettings(randomSeed: 3)).workload(height: 32, width: 40, batch: 1)),
            ("clip-text", try ModelCatalogue.model(named: "clip-text").load(ModelSettings(randomSeed: 3)).workload(height: 1, width: 1, batch: 2)),
            ("film", try ModelCatalogue.model(named: "film").load(ModelSettings(weights: try TestData.path("golden/film.pth"))).workload(height: 24, width: 40, batch: 1)),
            // The golden tiny weights of RFC (CLIP vision width 128): CLIPSeg at 352x352 and the fusion network at 24x40.
            ("rfc", try ModelCatalogue.model(named: "rfc").load(rfcSettings).workload(height: 24, width: 40, batch: 1)),
        ]
    }

    private func randomInputs(_ graph: Graph) -> [String: Tensor] {
        var inputs: [String: Tensor] = [:]
        for (i, (name, v)) in graph.inputs.enumerated() {
            inputs[name] = v.dtype == .i32 ? Tensor(shape: v.shape, ints: (0..<v.count).map { Int32($0 % 400) })
                : Tensor.random(shape: v.shape, seed: 11 + UInt64(i), in: 0...1)
        }
        return inputs
    }

    private func check(_ backend: Backend, label: String) throws {
        let all = try workloads()
        XCTAssertEqual(Set(all.map(\.0)), Set(ModelCatalogue.names), "every catalogue model needs a case here")
        for (name, w) in all {
            let inputs = randomInputs(w.graph).merging(w.fixedInputs) { $1 }
            backend.passes = .none
            let plain = try backend.prepare(w.graph).run(inputs)
            backend.passes = .all
            let optimised = try backend.optimized(w.graph)
            XCTAssertLessThan(optimised.nodes.count, w.graph.nodes.count, "\(name): the passes changed nothing")
            XCTAssertLessThan(GraphTraffic.bytes(optimised), GraphTraffic.bytes(w.graph), "\(name): the passes saved no traffic")
            let fused = try backend.prepare(w.graph).run(inputs)
            backend.passes = try GraphPasses(parsing: "-compose-convs")
            let sameArithmetic = try backend.prepare(w.graph).run(inputs)
            backend.passes = .all
            XCTAssertEqual(Set(plain.keys), Set(fused.keys))
            var reference = Self.references[name]
            for (output, expected) in plain {
                let e = expected.toFloatArray(), g = fused[output]!.toFloatArray(), s = sameArithmetic[output]!.toFloatArray()
                let scale = e.reduce(Float(0)) { max($0, abs($1)) }, bound = 1e-6 * max(scale, 1e-3)
                let err = zip(e, g).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
                let errSame = zip(e, s).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
                print("\(name) \(output) on \(label): \(w.graph.nodes.count) -> \(optimised.nodes.count) nodes, max |err| \(err) (without compose-convs \(errSame)), scale \(scale)")
                XCTAssertEqual(e.count, g.count)
                XCTAssertFalse(g.contains { !$0.isFinite }, "\(name) \(output) on \(label): not finite")
                XCTAssertLessThanOrEqual(errSame, bound, "\(name) \(output) on \(label): passes other than compose-convs")
                if err > bound {
                    if reference == nil {
                        reference = GraphReference64.evaluate(w.graph, inputs: inputs)
                        Self.references[name] = reference
                    }
                    let r = reference![output]!.data
                    let asBuilt = zip(e, r).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) }
                    let asRun = zip(g, r).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) }
                    print("  \(name) \(output) on \(label): max |err| vs float64, as built \(asBuilt), optimised \(asRun)")
                    XCTAssertLessThanOrEqual(asRun, asBuilt, "\(name) \(output) on \(label): the optimised graph is further from exact than the graph as built")
                }
            }
        }
        backend.passes = .all
    }

    func testOptimisedGraphsMatchOnCPU() throws {
        try check(try SelectedBackend.open(.cpu).backend, label: "cpu")
    }

    func testOptimisedGraphsMatchOnVulkan() throws {
        try check(try VulkanTestBackend.open().backend, label: "vulkan")
    }

    /// `fuse-pointwise-depthwise` on Text-IF at 480x640: every Restormer block's LayerNorm
    /// and its three q/k/v chains become three nodes (the norm goes), which cuts the bytes
    /// the optimised graph moves. Prints nodes and traffic with and without the pass.
    func testPointwiseDepthwiseFusionOnTextIF() throws {
        let graph = try ModelCatalogue.model(named: "textif").load(ModelSettings(randomSeed: 7)).workload(height: 480, width: 640, batch: 1).graph
        let backend = try SelectedBackend.open(.cpu).backend
        backend.passes = try GraphPasses(parsing: "-fuse-pointwise-depthwise")
        let without = try backend.optimized(graph)
        backend.passes = .all
        let with = try backend.optimized(graph)
        func count(_ g: Graph, _ op: String) -> Int { g.nodes.filter { $0.op.name == op }.count }
        print(String(format: "textif 480x640: as built %d nodes %.2f GB; optimised without fuse-pointwise-depthwise %d nodes %.2f GB; with it %d nodes %.2f GB (%d pointwise_depthwise, layer_norm_channels %d -> %d)",
                     graph.nodes.count, GraphTraffic.bytes(graph) / 1e9, without.nodes.count, GraphTraffic.bytes(without) / 1e9,
                     with.nodes.count, GraphTraffic.bytes(with) / 1e9, count(with, "pointwise_depthwise"),
                     count(without, "layer_norm_channels"), count(with, "layer_norm_channels")))
        XCTAssertGreaterThan(count(with, "pointwise_depthwise"), 0)
        XCTAssertLessThan(count(with, "layer_norm_channels"), count(without, "layer_norm_channels"))
        XCTAssertLessThan(GraphTraffic.bytes(with), GraphTraffic.bytes(without))
        // No q/k/v chain is left unfused: no depthwise conv reads a 1x1 conv.
        let producers = with.producers()
        for node in with.nodes {
            guard case let .conv2d(a) = node.op, a.groups > 1, a.groups == node.inputs[0].shape[1],
                  let p = producers[node.inputs[0].id], case .conv2d = p.op else { continue }
            XCTFail("\(node.name) reads \(p.name) unfused")
        }
    }
}
