import FusionCore
import FusionCPU
import FusionParity
import XCTest

/// The `fuse-pointwise-depthwise` pass: which `[LayerNorm ->] 1x1 -> depthwise` chains it
/// fuses (and which it must leave alone), and that the fused CPU kernel computes what the
/// unfused chain computes.
final class PointwiseDepthwiseFusionTests: XCTestCase {
    private func random(_ shape: [Int], _ seed: UInt64, _ range: ClosedRange<Float> = -1...1) -> Tensor {
        Tensor.random(shape: shape, seed: seed, in: range)
    }

    /// `assertOptimisedMatchesAsBuilt` (PassEquivalence.swift) with every pass.
    @discardableResult
    private func assertSameOutputs(_ graph: Graph, _ inputs: [String: Tensor], threads: Int = 2,
                                   file: StaticString = #filePath, line: UInt = #line) throws -> Graph {
        try assertOptimisedMatchesAsBuilt(graph, inputs, threads: threads, label: "fuse-pointwise-depthwise", file: file, line: line)
    }

    private func ops(_ g: Graph) -> [String] { g.nodes.map(\.opDescription) }

    /// A Restormer block's q/k/v: one LayerNorm read by three 1x1 -> depthwise 3x3 chains.
    func testRestormerProjectionsBecomeThreeNodesAndTheNormGoes() throws {
        try restormerProjections(n: 2, c: 20, h: 13, w: 17)
        try restormerProjections(n: 1, c: 48, h: 32, w: 40)
        try restormerProjections(n: 1, c: 96, h: 16, w: 20)
    }

    private func restormerProjections(n: Int, c: Int, h: Int, w: Int) throws {
        let g = Graph()
        let x = g.input("x", shape: [n, c, h, w])
        let norm = try g.layerNormChannels(x, weight: g.constant(random([c], 1, 0.5...1.5)), bias: g.constant(random([c], 2)))
        for (i, m) in [c, c, 2 * c].enumerated() {
            let pw = try g.conv2d(norm, weight: g.constant(random([m, c, 1, 1], 10 + UInt64(i), -0.5...0.5)))
            let dw = try g.conv2d(pw, weight: g.constant(random([m, 1, 3, 3], 20 + UInt64(i), -0.5...0.5)), Conv2DAttributes(padding: 1, groups: m))
            g.output("y\(i)", dw)
        }
        let o = try assertSameOutputs(g, ["x": random([n, c, h, w], 3, -2...3)])
        XCTAssertEqual(ops(o), Array(repeating: "pointwise_depthwise", count: 3))
        for node in o.nodes {
            guard case let .pointwiseDepthwise(eps, a) = node.op else { return XCTFail("\(node.op)") }
            XCTAssertEqual(eps, 1e-5)
            XCTAssertEqual(a.groups, node.output.shape[1])
            XCTAssertEqual(node.inputs.count, 5)
        }
        XCTAssertLessThan(GraphTraffic.bytes(o), GraphTraffic.bytes(g) / 2)
        // Switching the pass off leaves the chains as built.
        let off = try CPUBackend(threads: 2, passes: try GraphPasses(parsing: "-fuse-pointwise-depthwise")).optimized(g)
        XCTAssertEqual(ops(off).filter { $0 == "pointwise_depthwise" }.count, 0)
        XCTAssertEqual(ops(off).filter { $0 == "layer_norm_channels" }.count, 1)
    }

    /// Text-IF's bands: asymmetric padding (halo rows above or below come from the input),
    /// one sample, more channels than the CPU's band buffers hold at once, 1 to 3 threads.
    func testBandPaddingAndThreadCounts() throws {
        for (threads, padding) in [(1, (0, 1, 1, 1)), (2, (1, 0, 1, 1)), (3, (0, 0, 1, 1))] {
            let g = Graph()
            let (c, m, h, w) = (48, 48, 19, 150)
            let x = g.input("x", shape: [1, c, h, w])
            let norm = try g.layerNormChannels(x, weight: g.constant(random([c], 1, 0.5...1.5)), bias: g.constant(random([c], 2)))
            let pw = try g.conv2d(norm, weight: g.constant(random([m, c, 1, 1], 4, -0.3...0.3)))
            let attrs = Conv2DAttributes(stride: (1, 1), padding: padding, dilation: (1, 1), groups: m)
            g.output("y", try g.conv2d(pw, weight: g.constant(random([m, 1, 3, 3], 5, -0.5...0.5)), attrs))
            let o = try assertSameOutputs(g, ["x": random([1, c, h, w], 6, -2...3)], threads: threads)
            XCTAssertEqual(ops(o), ["pointwise_depthwise"], "threads \(threads) padding \(padding)")
        }
    }

    /// No norm before the 1x1 (and a norm without bias); 5x5 and 1x3 kernels.
    func testChainsWithoutANormOrWithABiasFreeNorm() throws {
        let g = Graph()
        let x = g.input("x", shape: [2, 7, 11, 9])
        let pw = try g.conv2d(x, weight: g.constant(random([9, 7, 1, 1], 1)))
        g.output("a", try g.conv2d(pw, weight: g.constant(random([9, 1, 5, 5], 2)), Conv2DAttributes(padding: 2, groups: 9)))
        let norm = try g.layerNormChannels(x, weight: g.constant(random([7], 3, 0.5...1.5)))
        let pw2 = try g.conv2d(norm, weight: g.constant(random([6, 7, 1, 1], 4)))
        let attrs = Conv2DAttributes(stride: (1, 1), padding: (0, 0, 1, 1), dilation: (1, 1), groups: 6)
        g.output("b", try g.conv2d(pw2, weight: g.constant(random([6, 1, 1, 3], 5)), attrs))
        let o = try assertSameOutputs(g, ["x": random([2, 7, 11, 9], 6)])
        XCTAssertEqual(ops(o), ["pointwise_depthwise", "pointwise_depthwise"])
        guard case .pointwiseDepthwise(nil, _) = o.nodes[0].op, case .pointwiseDepthwise(.some, _) = o.nodes[1].op else {
            return XCTFail("\(o.nodes.map(\.op))")
        }
    }

    /// A norm read by something else stays for it; the chain still fuses (recomputing it).
    func testANormWithAnotherReaderStays() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 6, 8, 10])
        let norm = try g.layerNormChannels(x, weight: g.constant(random([6], 1, 0.5...1.5)), bias: g.constant(random([6], 2)))
        let pw = try g.conv2d(norm, weight: g.constant(random([6, 6, 1, 1], 3)))
        let dw = try g.conv2d(pw, weight: g.constant(random([6, 1, 3, 3], 4)), Conv2DAttributes(padding: 1, groups: 6))
        g.output("y", try g.add(.binary(.add), [dw, try g.add(.unary(.tanh), [norm])]))
        let o = try assertSameOutputs(g, ["x": random([1, 6, 8, 10], 5)])
        XCTAssertEqual(ops(o).sorted(), ["layer_norm_channels", "pointwise_depthwise", "tanh", "add"].sorted())
        XCTAssertEqual(ops(o).filter { $0 == "pointwise_depthwise" }.count, 1)
        XCTAssertEqual(ops(o).filter { $0 == "layer_norm_channels" }.count, 1)
    }

    /// What must stay unfused: a 1x1 output read twice or returned, a 1x1 or depthwise with a
    /// bias, a strided, dilated, reflect-padded or grouped-but-not-depthwise second conv, a
    /// kernel over 5x5, a 3x3 first conv.
    func testChainsThatMustNotFuse() throws {
        typealias A = Conv2DAttributes
        let c = 6
        struct Variant { let label: String; let build: (Graph, Value) throws -> Void }
        let variants: [Variant] = [
            Variant(label: "1x1 read twice") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 3, 3], 2)), A(padding: 1, groups: c)))
                g.output("z", try g.add(.unary(.relu), [pw]))
            },
            Variant(label: "1x1 is an output") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 3, 3], 2)), A(padding: 1, groups: c)))
                g.output("pw", pw)
            },
            Variant(label: "1x1 with bias") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)), bias: g.constant(self.random([c], 3)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 3, 3], 2)), A(padding: 1, groups: c)))
            },
            Variant(label: "depthwise with bias") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 3, 3], 2)), bias: g.constant(self.random([c], 3)),
                                           A(padding: 1, groups: c)))
            },
            Variant(label: "strided depthwise") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 3, 3], 2)), A(stride: 2, padding: 1, groups: c)))
            },
            Variant(label: "dilated depthwise") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 3, 3], 2)), A(padding: 2, dilation: 2, groups: c)))
            },
            Variant(label: "reflect depthwise") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 3, 3], 2)), A(padding: 1, groups: c, paddingMode: .reflect)))
            },
            Variant(label: "full 3x3") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, c, 3, 3], 2)), A(padding: 1)))
            },
            Variant(label: "grouped, not depthwise") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 2, 3, 3], 2)), A(padding: 1, groups: c / 2)))
            },
            Variant(label: "7x7 depthwise") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 1, 1], 1)))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 7, 7], 2)), A(padding: 3, groups: c)))
            },
            Variant(label: "3x3 first conv") { g, h in
                let pw = try g.conv2d(h, weight: g.constant(self.random([c, c, 3, 3], 1)), A(padding: 1))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 3, 3], 2)), A(padding: 1, groups: c)))
            },
            Variant(label: "1x1 with an epilogue") { g, h in
                let pw = try g.add(.conv2d(A()), [h, g.constant(self.random([c, c, 1, 1], 1))], epilogue: Epilogue([.unary(.gelu)]))
                g.output("y", try g.conv2d(pw, weight: g.constant(self.random([c, 1, 3, 3], 2)), A(padding: 1, groups: c)))
            },
        ]
        for v in variants {
            let g = Graph()
            let x = g.input("x", shape: [1, c, 7, 9])
            let h = try g.layerNormChannels(x, weight: g.constant(random([c], 5, 0.5...1.5)), bias: g.constant(random([c], 6)))
            try v.build(g, h)
            let o = try assertSameOutputs(g, ["x": random([1, c, 7, 9], 7)])
            XCTAssertFalse(ops(o).contains("pointwise_depthwise"), "\(v.label): \(ops(o))")
            XCTAssertTrue(ops(o).contains("layer_norm_channels"), "\(v.label): \(ops(o))")
        }
    }

    /// The op checks its operands.
    func testOperandsAreChecked() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 4, 5, 5])
        let pw = g.constant(random([6, 4, 1, 1], 1)), dw = g.constant(random([6, 1, 3, 3], 2))
        XCTAssertEqual(try g.pointwiseDepthwise(x, pointwise: pw, depthwise: dw, Conv2DAttributes(padding: 1, groups: 6)).shape, [1, 6, 5, 5])
        XCTAssertThrowsError(try g.pointwiseDepthwise(x, pointwise: pw, depthwise: dw, Conv2DAttributes(stride: 2, padding: 1, groups: 6)))
        XCTAssertThrowsError(try g.pointwiseDepthwise(x, pointwise: pw, depthwise: dw, Conv2DAttributes(padding: 1, groups: 3)))
        XCTAssertThrowsError(try g.pointwiseDepthwise(x, pointwise: g.constant(random([6, 5, 1, 1], 3)), depthwise: dw, Conv2DAttributes(padding: 1, groups: 6)))
        XCTAssertThrowsError(try g.pointwiseDepthwise(x, norm: (g.constant(random([5], 4)), g.constant(random([4], 5)), 1e-5),
                                                      pointwise: pw, depthwise: dw, Conv2DAttributes(padding: 1, groups: 6)))
        XCTAssertThrowsError(try g.add(.pointwiseDepthwise(normEps: nil, depthwise: Conv2DAttributes(padding: 1, groups: 6)), [x, pw, dw],
                                       epilogue: Epilogue([.unary(.relu)])))
    }
}
