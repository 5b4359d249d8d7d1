import Foundation
import FusionCore
import FusionCPU
@testable import FusionVulkan
import XCTest

/// The layout-views pass (`LayoutViews`): which slices and concats become views, that the
/// memory planner and traffic count follow, and that both backends compute the same bits
/// with the views as without them (Vulkan in fp32 and fp16 storage, under validation when
/// CI asks for it).
final class LayoutViewTests: XCTestCase {
    private func random(_ shape: [Int], _ seed: UInt64) -> Tensor { Tensor.random(shape: shape, seed: seed, in: -1...1) }
    private func conv(_ g: Graph, _ x: Value, _ o: Int, _ seed: UInt64) throws -> Value {
        try g.conv2d(x, weight: g.constant(random([o, x.shape[1], 3, 3], seed)), Conv2DAttributes(padding: 1))
    }
    private func marked(_ g: Graph) -> Graph {
        // What `layout-views` does to a graph: mark it.
        try! GraphOptimizer.optimize(g, passes: GraphPasses([.layoutViews]), evaluate: nil)
    }

    /// A U-Net-like graph: channel slices of a conv read by convs, channel concats of conv
    /// results (one nested in another, one with an operand that is also read elsewhere),
    /// a concat of an input (must copy) and a spatial slice (strided: must copy).
    private func graph(batch n: Int = 1, h: Int = 8, w: Int = 12) throws -> Graph {
        let g = Graph()
        let x = g.input("x", shape: [n, 3, h, w])
        let a = try conv(g, x, 8, 1)
        let s1 = try g.slice(a, axis: 1, start: 0, length: 3), s2 = try g.slice(a, axis: 1, start: 3, length: 5)
        let b = try conv(g, s1, 4, 2), c = try conv(g, s2, 4, 3)
        let inner = try g.concat([b, c], axis: 1)                      // in place
        let d = try conv(g, inner, 4, 4)
        let outer = try g.concat([inner, d], axis: 1)                  // in place, `inner` nested
        let e = try conv(g, outer, 2, 5)
        let withInput = try g.concat([e, x], axis: 1)                  // an input: copies
        let rows = try g.slice(withInput, axis: 2, start: 1, length: h - 2)   // strided: copies
        let twice = try g.concat([e, e], axis: 1)                      // the same operand twice: copies
        g.output("y", try conv(g, rows, 3, 6))
        g.output("z", try g.add(try g.slice(twice, axis: 1, start: 1, length: 3), try conv(g, x, 3, 7)))
        g.output("b", b)                                               // a graph output inside a concat
        return g
    }

    func testWhichSlicesAndConcatsBecomeViews() throws {
        let g = marked(try graph())
        let views = LayoutViews(g)
        let viewed = g.nodes.filter { views.isView($0) }.map { $0.op.name }
        XCTAssertEqual(viewed.filter { $0 == "concat" }.count, 2, "the two channel concats of conv results: \(viewed)")
        XCTAssertEqual(viewed.filter { $0 == "slice" }.count, 3, "the three channel slices: \(viewed)")
        let copying = g.nodes.filter { !views.isView($0) && ["concat", "slice"].contains($0.op.name) }
        XCTAssertEqual(copying.count, 3, "the concat with an input, the doubled operand and the row slice copy")
        // The nested concat's operands end up in the outer concat's memory, at their offsets.
        let outer = g.nodes.filter { $0.op.name == "concat" }[1]
        let inner = outer.inputs[0], d = outer.inputs[1]
        XCTAssertEqual(views.root[inner.id], outer.output.id)
        XCTAssertEqual(views.root[d.id], outer.output.id)
        XCTAssertEqual(views.elementOffset[d.id], inner.count)
        // Without the pass nothing but reshapes is a view; a batch of two has no contiguous channel slices.
        XCTAssertTrue(LayoutViews(try graph()).viewNodes.isEmpty)
        XCTAssertTrue(LayoutViews(marked(try graph(batch: 2))).viewNodes.isEmpty)
        // Vulkan's binding alignment: a view whose start is not a multiple of it copies.
        let odd = marked(try graph(h: 5, w: 7))   // 140 bytes a channel
        let aligned = LayoutViews(odd, offsetAlignment: 16), any = LayoutViews(odd, offsetAlignment: 1)
        XCTAssertEqual(any.viewNodes.count, 5)
        XCTAssertLessThan(aligned.viewNodes.count, any.viewNodes.count)
        for v in odd.values.indices { XCTAssertEqual(aligned.elementOffset[v] * 4 % 16, 0, "value \(v)") }
        XCTAssertEqual(LayoutViews(odd, offsetAlignment: 16, precision: .fp16).elementOffset.filter { $0 * 2 % 16 != 0 }, [])
    }

    func testViewsMoveNoBytesAndThePlanHoldsThem() throws {
        let plain = try graph(), viewed = marked(try graph())
        let views = LayoutViews(viewed)
        let viewNodes = viewed.nodes.filter { views.isView($0) }
        XCTAssertEqual(viewNodes.count, 5)
        XCTAssertEqual(GraphTraffic.bytes(plain) - GraphTraffic.bytes(viewed), viewNodes.reduce(0) { $0 + GraphTraffic.bytes(of: $1) })
        let plan = try MemoryPlanner.plan(viewed, alignment: 64)
        XCTAssertEqual(plan.viewNodes, views.viewNodes)
        for info in viewed.values where plan.root[info.value.id] != info.value.id {
            let v = info.value, root = viewed.values[plan.root[v.id]].value
            XCTAssertNil(plan.placements[v.id], "a view has no memory of its own")
            XCTAssertLessThanOrEqual(plan.elementOffset[v.id] + v.count, root.count, "a view lies inside its root")
        }
        // Planned memory does not grow: a concat's operands no longer need places of their own.
        XCTAssertLessThanOrEqual(plan.arenaBytes, try MemoryPlanner.plan(plain, alignment: 64).arenaBytes)
    }

    /// Both backends, with and without the views: the same bits on one backend.
    func testBackendsComputeTheSameWithViews() throws {
        for (h, w) in [(8, 12), (5, 7)] {
            let inputs = ["x": random([1, 3, h, w], 9)]
            let plain = try CPUBackend(threads: 2, passes: .none).prepare(try graph(h: h, w: w)).run(inputs)
            let cpu = try CPUBackend(threads: 2, passes: GraphPasses([.layoutViews])).prepare(try graph(h: h, w: w)).run(inputs)
            for (name, t) in plain { XCTAssertEqual(cpu[name]!.toFloatArray(), t.toFloatArray(), "cpu \(name) \(h)x\(w)") }
            for precision in [StoragePrecision.fp32, .fp16] {
                _ = try VulkanTestSupport.backend()   // skips without a device
                var options = FusionOptions.current
                options.vulkan.precision = precision
                options.passes = .none
                let validation: Bool? = FusionOptions.current.requireValidation ? true : nil
                let asBuilt = try VulkanBackend(validation: validation, options: options)
                options.passes = GraphPasses([.layoutViews])
                let withViews = try VulkanBackend(validation: validation, options: options)
                let a = try asBuilt.prepare(try graph(h: h, w: w)).run(inputs)
                let b = try withViews.prepare(try graph(h: h, w: w)).run(inputs)
                for (name, t) in a {
                    XCTAssertEqual(b[name]!.toFloatArray(), t.toFloatArray(), "vulkan \(precision) \(name) \(h)x\(w)")
                    let scale = max(1, VulkanTestSupport.maxAbs(plain[name]!))
                    XCTAssertLessThanOrEqual(VulkanTestSupport.maxAbsDifference(t, plain[name]!), (precision == .fp16 ? 2e-2 : 1e-5) * scale)
                }
                VulkanTestSupport.assertNoValidationMessages(withViews)
            }
        }
    }
}
