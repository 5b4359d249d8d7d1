import FusionCore
import FusionCPU
import FusionParity
import XCTest

/// The graph passes: what each rewrites (and what it must leave alone), and that the
/// rewritten graph computes what the graph as built computes.
final class GraphPassTests: XCTestCase {
    private func random(_ shape: [Int], _ seed: UInt64) -> Tensor { Tensor.random(shape: shape, seed: seed, in: -1...1) }

    /// `assertOptimisedMatchesAsBuilt` (PassEquivalence.swift) with this file's defaults.
    @discardableResult
    private func assertSameOutputs(_ graph: Graph, _ inputs: [String: Tensor], passes: GraphPasses = .all,
                                   tolerance: Float = 1e-6, file: StaticString = #filePath, line: UInt = #line) throws -> Graph {
        try assertOptimisedMatchesAsBuilt(graph, inputs, passes: passes, tolerance: tolerance, file: file, line: line)
    }

    func testParsingPassLists() throws {
        XCTAssertEqual(try GraphPasses(parsing: "all"), .all)
        XCTAssertEqual(try GraphPasses(parsing: "none"), .none)
        XCTAssertEqual(try GraphPasses(parsing: "fuse-epilogues, drop-dead-nodes").enabled, [.epilogueFusion, .deadNodes])
        XCTAssertEqual(try GraphPasses(parsing: "-fold-norms").enabled, Set(GraphPass.allCases).subtracting([.normFolding]))
        XCTAssertThrowsError(try GraphPasses(parsing: "fuse-everything")) { XCTAssertTrue("\($0)".contains("fuse-epilogues"), "\($0)") }
        XCTAssertThrowsError(try GraphPasses(parsing: "fold-norms,-fuse-epilogues"))
        XCTAssertEqual(GraphPasses.all.ordered, [.convComposition, .constantFolding, .normFolding, .pointwiseDepthwiseFusion, .epilogueFusion, .deadNodes, .layoutViews])
    }

    func testChainOfEveryStepKindBecomesOneConv() throws {
        let g = Graph()
        let x = g.input("x", shape: [2, 3, 9, 11]), r = g.input("r", shape: [2, 6, 9, 11])
        let gamma = g.input("gamma", shape: [2, 6]), beta = g.input("beta", shape: [2, 6])
        var y = try g.add(.conv2d(Conv2DAttributes(padding: 1)), [x, g.constant(random([6, 3, 3, 3], 1)), g.constant(random([6], 2))])
        y = try g.add(.unary(.gelu), [y])
        y = try g.add(.binary(.add), [r, y])
        y = try g.add(.binary(.mul), [y, g.constant(random([1, 6, 1, 1], 3))])
        y = try g.add(.binary(.sub), [g.constant(random([2, 1, 1, 1], 4)), y])
        y = try g.add(.binary(.div), [y, g.constant(Tensor(shape: [1], floats: [1.5]))])
        y = try g.add(.prelu, [y, g.constant(random([6], 5))])
        y = try g.add(.film, [y, gamma, beta])
        y = try g.add(.unary(.leakyReLU(slope: 0.2)), [y])
        g.output("y", y)
        let inputs = ["x": random([2, 3, 9, 11], 6), "r": random([2, 6, 9, 11], 7), "gamma": random([2, 6], 8), "beta": random([2, 6], 9)]
        let o = try assertSameOutputs(g, inputs)
        XCTAssertEqual(o.nodes.count, 1)
        XCTAssertEqual(o.nodes[0].opDescription, "conv2d+gelu+add+mul+sub_from+div+prelu+film+leaky_relu")
        XCTAssertEqual(o.nodes[0].epilogueOperands.count, 7)
        XCTAssertLessThan(GraphTraffic.bytes(o), GraphTraffic.bytes(g))
    }

    func testAnIntermediateUsedTwiceOrAGraphOutputStaysANode() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 4, 5, 5])
        let w = g.constant(random([4, 4, 1, 1], 1))
        let a = try g.add(.conv2d(Conv2DAttributes()), [x, w])
        let relu = try g.add(.unary(.relu), [a])
        let other = try g.add(.unary(.tanh), [a])             // a has two uses
        let b = try g.add(.conv2d(Conv2DAttributes()), [relu, w])
        g.output("b", b)                                       // b is an output: its sigmoid stays apart
        g.output("s", try g.add(.unary(.sigmoid), [b]))
        g.output("t", other)
        let o = try assertSameOutputs(g, ["x": random([1, 4, 5, 5], 2)])
        XCTAssertEqual(o.nodes.map(\.opDescription), ["conv2d", "relu", "tanh", "conv2d", "sigmoid"])
    }

    func testABroadcastThatGrowsTheResultIsNotAnEpilogue() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 8])
        let y = try g.add(.linear, [x, g.constant(random([4, 8], 1)), g.constant(random([4], 2))])
        g.output("y", try g.add(.binary(.add), [y, g.constant(random([3, 4], 3))]))   // [1,4] + [3,4] -> [3,4]
        let o = try assertSameOutputs(g, ["x": random([1, 8], 4)])
        XCTAssertEqual(o.nodes.map(\.opDescription), ["linear", "add"])
    }

    func testLinearAndMatmulTakeEpilogues() throws {
        let g = Graph()
        let x = g.input("x", shape: [2, 5, 8]), b = g.input("b", shape: [2, 8, 3])
        var y = try g.add(.linear, [x, g.constant(random([6, 8], 1)), g.constant(random([6], 2))])
        y = try g.add(.unary(.quickGELU), [y])
        g.output("y", try g.add(.binary(.add), [y, g.constant(random([6], 3))]))
        let m = try g.add(.matmul(transposeA: false, transposeB: false, alpha: 0.5), [x, b])
        g.output("m", try g.add(.binary(.div), [g.constant(random([1], 4)), try g.add(.unary(.sigmoid), [m])]))
        let o = try assertSameOutputs(g, ["x": random([2, 5, 8], 5), "b": random([2, 8, 3], 6)])
        XCTAssertEqual(o.nodes.map(\.opDescription), ["linear+quick_gelu+add", "matmul+sigmoid+div_from"])
    }

    func testTheSumOfTwoConvsJoinsOneOfThem() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 3, 6, 7])
        let a = try g.add(.conv2d(Conv2DAttributes(padding: 1)), [x, g.constant(random([2, 3, 3, 3], 1))])
        let b = try g.add(.conv2d(Conv2DAttributes()), [x, g.constant(random([2, 3, 1, 1], 2))])
        g.output("y", try g.add(.unary(.tanh), [try g.add(.binary(.add), [a, b])]))
        let o = try assertSameOutputs(g, ["x": random([1, 3, 6, 7], 3)])
        XCTAssertEqual(o.nodes.map(\.opDescription), ["conv2d", "conv2d+add+tanh"])
    }

    func testDeadNodesAreDropped() throws {
        let g = Graph()
        let x = g.input("x", shape: [4])
        _ = try g.add(.unary(.tanh), [try g.add(.unary(.relu), [x])])   // feeds nothing
        g.output("y", try g.add(.unary(.sigmoid), [x]))
        let o = try assertSameOutputs(g, ["x": random([4], 1)])
        XCTAssertEqual(o.nodes.map(\.opDescription), ["sigmoid"])
        XCTAssertEqual(o.inputs.map(\.name), ["x"])
    }

    func testWeightOnlySubgraphsAreFoldedOnTheBackend() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 2, 4, 4])
        let w = try g.add(.binary(.mul), [g.constant(random([3, 2, 3, 3], 1)), g.constant(random([3, 1, 1, 1], 2))])
        let wt = try g.add(.reshape(shape: [3, 2, 3, 3]), [try g.add(.unary(.tanh), [w])])
        g.output("y", try g.add(.conv2d(Conv2DAttributes(padding: 1)), [x, wt]))
        let o = try assertSameOutputs(g, ["x": random([1, 2, 4, 4], 3)], passes: GraphPasses([.constantFolding, .deadNodes]))
        XCTAssertEqual(o.nodes.map(\.opDescription), ["conv2d"])
        XCTAssertTrue(o.appliedPasses.contains(.constantFolding))
        // Optimising again changes nothing.
        XCTAssertTrue(try CPUBackend(passes: .all).optimized(o).nodes.count == 1)
    }

    func testGlobalNormFoldsIntoThePointwiseConvsReadingIt() throws {
        let g = Graph()
        let x = g.input("x", shape: [2, 5, 7, 9])
        let stats = try g.add(.globalStats(eps: 1e-5), [x])   // an existing statistics node is reused
        g.output("stats", stats)
        let n = try g.add(.globalNorm(eps: 1e-5), [x, g.constant(random([5], 1)), g.constant(random([5], 2))])
        g.output("a", try g.add(.conv2d(Conv2DAttributes()), [n, g.constant(random([4, 5, 1, 1], 3)), g.constant(random([4], 4))]))
        g.output("b", try g.add(.unary(.relu), [try g.add(.conv2d(Conv2DAttributes()), [n, g.constant(random([6, 5, 1, 1], 5))])]))
        let input = random([2, 5, 7, 9], 6)
        for i in 0..<input.count { input.floats[i] = input.floats[i] * 3 + 2 }   // a mean well away from 0
        let o = try assertSameOutputs(g, ["x": input], tolerance: 2e-6)
        XCTAssertFalse(o.nodes.contains { if case .globalNorm = $0.op { return true }; return false })
        XCTAssertEqual(o.nodes.filter { if case .globalStats = $0.op { return true }; return false }.count, 1)
        XCTAssertEqual(o.nodes.filter { $0.op.name == "conv2d" }.map(\.opDescription), ["conv2d+sub+div+add", "conv2d+sub+div+add+relu"])
    }

    func testANormWithAnotherConsumerIsNotFolded() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 3, 5, 5])
        let n = try g.add(.globalNorm(eps: 1e-5), [x, g.constant(random([3], 1)), g.constant(random([3], 2))])
        let a = try g.add(.conv2d(Conv2DAttributes()), [n, g.constant(random([3, 3, 1, 1], 3))])
        let b = try g.add(.conv2d(Conv2DAttributes(padding: 1)), [n, g.constant(random([3, 3, 3, 3], 4))])   // 3x3: not foldable
        g.output("y", try g.add(.binary(.add), [a, b]))
        let o = try assertSameOutputs(g, ["x": random([1, 3, 5, 5], 5)])
        XCTAssertTrue(o.nodes.contains { if case .globalNorm = $0.op { return true }; return false })
    }

    func testEpilogueOperandsAreChecked() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 4, 3, 3])
        let w = g.constant(random([4, 4, 1, 1], 1))
        XCTAssertThrowsError(try g.add(.conv2d(Conv2DAttributes()), [x, w, g.constant(random([1, 5, 1, 1], 2))],
                                       epilogue: Epilogue([.binary(.add, operandFirst: false)]), name: "bad")) {
            XCTAssertTrue("\($0)".contains("bad") && "\($0)".contains("[1, 5, 1, 1]"), "\($0)")
        }
        XCTAssertThrowsError(try g.add(.unary(.relu), [x, x], epilogue: Epilogue([.binary(.add, operandFirst: false)])))
        XCTAssertThrowsError(try g.add(.conv2d(Conv2DAttributes()), [x, w, g.constant(random([4], 3))], epilogue: Epilogue([.film])))
    }

    private func convCount(_ g: Graph) -> Int { g.nodes.filter { $0.op.name == "conv2d" }.count }

    func testAPointwiseConvComposesIntoTheFullConvReadingIt() throws {
        // Text-IF's FFN shape: 1x1 C -> 2C, full 3x3 2C -> 2C (zero padding), GELU.
        let g = Graph()
        let x = g.input("x", shape: [2, 6, 9, 7])
        let y = try g.add(.conv2d(Conv2DAttributes()), [x, g.constant(random([12, 6, 1, 1], 1))])
        let z = try g.add(.conv2d(Conv2DAttributes(padding: 1)), [y, g.constant(random([12, 12, 3, 3], 2)), g.constant(random([12], 3))])
        g.output("z", try g.add(.unary(.gelu), [z]))
        let o = try assertSameOutputs(g, ["x": random([2, 6, 9, 7], 4)])
        XCTAssertEqual(o.nodes.map(\.opDescription), ["conv2d+gelu"])
        XCTAssertEqual(o.nodes[0].inputs[1].shape, [12, 6, 3, 3], "one 3x3 conv from 6 channels")
        XCTAssertLessThan(GraphTraffic.bytes(o), GraphTraffic.bytes(g))
        // Strided, dilated and asymmetrically padded second convs compose too.
        let h = Graph()
        let hx = h.input("x", shape: [1, 4, 11, 10])
        let hy = try h.add(.conv2d(Conv2DAttributes()), [hx, h.constant(random([8, 4, 1, 1], 5))])
        h.output("z", try h.add(.conv2d(Conv2DAttributes(stride: (2, 1), padding: (0, 2, 1, 0), dilation: (1, 2))), [hy, h.constant(random([5, 8, 3, 3], 6))]))
        XCTAssertEqual(convCount(try assertSameOutputs(h, ["x": random([1, 4, 11, 10], 7)])), 1)
    }

    func testABiasUnderReflectPaddingCarriesIntoTheComposedBias() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 3, 6, 8])
        let y = try g.add(.conv2d(Conv2DAttributes()), [x, g.constant(random([6, 3, 1, 1], 1)), g.constant(random([6], 2))])
        g.output("z", try g.add(.conv2d(Conv2DAttributes(padding: 1, paddingMode: .reflect)), [y, g.constant(random([6, 6, 3, 3], 3)), g.constant(random([6], 4))]))
        let o = try assertSameOutputs(g, ["x": random([1, 3, 6, 8], 5)])
        XCTAssertEqual(convCount(o), 1)
        XCTAssertEqual(o.nodes.count, 1, "the composed weight and bias are folded constants")
    }

    func testConvCompositionLeavesWhatItCannotComposeExactlyOrCheaply() throws {
        func twoConvs(first: Conv2DAttributes = Conv2DAttributes(), firstBias: Bool = false, second: Conv2DAttributes = Conv2DAttributes(padding: 1),
                      channels: (Int, Int, Int) = (4, 8, 8), alsoOutput: Bool = false) throws -> Graph {
            let (i, k, o) = channels
            let g = Graph()
            let x = g.input("x", shape: [1, i, 7, 7])
            var firstInputs = [x, g.constant(random([k, i, 1, 1], 1))]
            if firstBias { firstInputs.append(g.constant(random([k], 2))) }
            let y = try g.add(.conv2d(first), firstInputs)
            g.output("z", try g.add(.conv2d(second), [y, g.constant(random([o, k / second.groups, 3, 3], 3))]))
            if alsoOutput { g.output("y", y) }
            _ = try assertSameOutputs(g, ["x": random([1, i, 7, 7], 4)])
            return try CPUBackend(threads: 1).optimized(g)
        }
        XCTAssertEqual(convCount(try twoConvs()), 1, "the plain case composes")
        XCTAssertEqual(convCount(try twoConvs(firstBias: true)), 2, "a bias under zero padding is not exact")
        XCTAssertEqual(convCount(try twoConvs(firstBias: true, second: Conv2DAttributes())), 1, "without padding it is")
        XCTAssertEqual(convCount(try twoConvs(second: Conv2DAttributes(padding: 1, groups: 2))), 2, "grouped second conv")
        XCTAssertEqual(convCount(try twoConvs(first: Conv2DAttributes(stride: 2))), 2, "strided 1x1")
        XCTAssertEqual(convCount(try twoConvs(alsoOutput: true)), 2, "the 1x1 result is a graph output")
        XCTAssertEqual(convCount(try twoConvs(channels: (16, 4, 4))), 2, "a narrowing 1x1: composing would add multiply-adds")
    }

    func testSharedWeightPairsAreComposedOnce() throws {
        // Band tiling: the same two weights in several places compose to one weight.
        let g = Graph()
        let a = g.constant(random([8, 4, 1, 1], 1)), b = g.constant(random([8, 8, 3, 3], 2))
        var outs: [Value] = []
        for i in 0..<3 {
            let x = g.input("x\(i)", shape: [1, 4, 5, 6])
            outs.append(try g.add(.conv2d(Conv2DAttributes(padding: 1)), [try g.add(.conv2d(Conv2DAttributes()), [x, a]), b]))
        }
        g.output("z", try g.add(.concat(axis: 2), outs))
        let inputs = Dictionary(uniqueKeysWithValues: (0..<3).map { ("x\($0)", random([1, 4, 5, 6], UInt64(10 + $0))) })
        let o = try assertSameOutputs(g, inputs)
        XCTAssertEqual(convCount(o), 3)
        XCTAssertEqual(Set(o.nodes.filter { $0.op.name == "conv2d" }.map { $0.inputs[1].id }).count, 1, "one composed weight")
    }

    func testOptimisingLeavesTheCallersGraphUnmarked() throws {
        let g = Graph()
        g.output("y", try g.add(.unary(.relu), [g.input("x", shape: [1, 2])]))
        _ = try CPUBackend(threads: 1).optimized(g)
        XCTAssertTrue(g.appliedPasses.isEmpty, "optimising must not change the graph it was given")
    }
}
