import XCTest
import FusionCore
import FusionCPU
import FusionParity

/// Typed errors of the graph builder and of input validation, and the memory planner on a
/// 20-op chain (plus the same chain run on the CPU backend against the reference).
final class GraphErrorAndPlannerTests: ReferenceTestCase {

    // MARK: - Builder errors

    private func isShapeMismatch(_ e: FusionError) -> Bool {
        if case .shapeMismatch = e { return true }
        return false
    }

    private func isInvalidArgument(_ e: FusionError) -> Bool {
        if case .invalidArgument = e { return true }
        return false
    }

    func testBuilderErrorsAreTyped() {
        assertFusionError("conv2d channel mismatch", isShapeMismatch) {
            let g = Graph()
            let x = g.input("x", shape: [1, 3, 8, 8])
            let w = g.input("w", shape: [4, 5, 3, 3])
            _ = try g.conv2d(x, weight: w, Conv2DAttributes(padding: 1))
        }
        assertFusionError("conv2d groups not dividing channels", isShapeMismatch) {
            let g = Graph()
            let x = g.input("x", shape: [1, 5, 8, 8])
            let w = g.input("w", shape: [4, 2, 3, 3])
            _ = try g.conv2d(x, weight: w, Conv2DAttributes(padding: 1, groups: 2))
        }
        assertFusionError("conv2d bias of the wrong length", isShapeMismatch) {
            let g = Graph()
            let x = g.input("x", shape: [1, 3, 8, 8])
            let w = g.input("w", shape: [4, 3, 3, 3])
            let b = g.input("b", shape: [3])
            _ = try g.conv2d(x, weight: w, bias: b)
        }
        assertFusionError("conv2d reflect padding >= size", isInvalidArgument) {
            let g = Graph()
            let x = g.input("x", shape: [1, 3, 3, 9])
            let w = g.input("w", shape: [4, 3, 3, 3])
            _ = try g.conv2d(x, weight: w, Conv2DAttributes(padding: 3, paddingMode: .reflect))
        }
        assertFusionError("conv2d stride 0", isInvalidArgument) {
            let g = Graph()
            let x = g.input("x", shape: [1, 3, 8, 8])
            let w = g.input("w", shape: [4, 3, 3, 3])
            _ = try g.conv2d(x, weight: w, Conv2DAttributes(stride: 0))
        }
        assertFusionError("matmul inner mismatch", isShapeMismatch) {
            let g = Graph()
            _ = try g.matmul(g.input("a", shape: [5, 7]), g.input("b", shape: [6, 9]))
        }
        assertFusionError("matmul inner mismatch with transposeB", isShapeMismatch) {
            let g = Graph()
            _ = try g.matmul(g.input("a", shape: [5, 7]), g.input("b", shape: [7, 9]), transposeB: true)
        }
        assertFusionError("matmul batch not broadcastable", isShapeMismatch) {
            let g = Graph()
            _ = try g.matmul(g.input("a", shape: [2, 5, 7]), g.input("b", shape: [3, 7, 9]))
        }
        assertFusionError("linear feature mismatch", isShapeMismatch) {
            let g = Graph()
            _ = try g.linear(g.input("x", shape: [4, 12]), weight: g.input("w", shape: [5, 13]))
        }
        assertFusionError("add not broadcastable", isShapeMismatch) {
            let g = Graph()
            _ = try g.add(g.input("a", shape: [2, 3, 4, 5]), g.input("b", shape: [4, 4]))
        }
        assertFusionError("mul not broadcastable", isShapeMismatch) {
            let g = Graph()
            _ = try g.mul(g.input("a", shape: [2, 3]), g.input("b", shape: [3, 2]))
        }
        assertFusionError("window not dividing H", isInvalidArgument) {
            let g = Graph()
            let q = g.input("q", shape: [1, 4, 10, 12]), k = g.input("k", shape: [1, 4, 10, 12])
            let v = g.input("v", shape: [1, 4, 10, 12]), b = g.input("bias", shape: [2, 16, 16])
            _ = try g.windowAttention(q: q, k: k, v: v, bias: b, heads: 2, window: 4, scale: 0.5)
        }
        assertFusionError("window not dividing W", isInvalidArgument) {
            let g = Graph()
            let q = g.input("q", shape: [1, 4, 8, 10]), k = g.input("k", shape: [1, 4, 8, 10])
            let v = g.input("v", shape: [1, 4, 8, 10]), b = g.input("bias", shape: [2, 16, 16])
            _ = try g.windowAttention(q: q, k: k, v: v, bias: b, heads: 2, window: 4, scale: 0.5)
        }
        assertFusionError("pad reflect >= size", isInvalidArgument) {
            let g = Graph()
            _ = try g.pad(g.input("x", shape: [1, 3, 5, 7]), top: 5, bottom: 0, left: 1, right: 1, mode: .reflect)
        }
        assertFusionError("pad reflect >= width", isInvalidArgument) {
            let g = Graph()
            _ = try g.pad(g.input("x", shape: [1, 3, 5, 7]), top: 0, bottom: 0, left: 0, right: 7, mode: .reflect)
        }
        assertFusionError("layerNorm weight of the wrong length", isShapeMismatch) {
            let g = Graph()
            _ = try g.layerNorm(g.input("x", shape: [3, 7]), weight: g.input("w", shape: [6]))
        }
        assertFusionError("groupNorm groups not dividing channels", isInvalidArgument) {
            let g = Graph()
            _ = try g.groupNorm(g.input("x", shape: [1, 6, 4, 4]), groups: 4,
                                weight: g.input("w", shape: [6]), bias: g.input("b", shape: [6]))
        }
        assertFusionError("pixelShuffle channels not divisible", isShapeMismatch) {
            let g = Graph()
            _ = try g.pixelShuffle(g.input("x", shape: [1, 6, 4, 4]), factor: 2)
        }
        assertFusionError("concat mismatch outside the axis", isShapeMismatch) {
            let g = Graph()
            _ = try g.concat([g.input("a", shape: [1, 3, 4, 4]), g.input("b", shape: [1, 3, 5, 4])], axis: 1)
        }
        assertFusionError("slice out of range", isInvalidArgument) {
            let g = Graph()
            _ = try g.slice(g.input("x", shape: [1, 3, 4, 4]), axis: 1, start: 2, length: 2)
        }
        assertFusionError("crop out of range", isInvalidArgument) {
            let g = Graph()
            _ = try g.crop(g.input("x", shape: [1, 3, 4, 4]), y: 1, x: 0, height: 4, width: 2)
        }
        assertFusionError("channelAttention heads not dividing channels", isInvalidArgument) {
            let g = Graph()
            let q = g.input("q", shape: [1, 5, 4, 4])
            _ = try g.channelAttention(q: q, k: q, v: q, temperature: g.input("t", shape: [2]), heads: 2)
        }
        assertFusionError("attention k/v token mismatch", isShapeMismatch) {
            let g = Graph()
            _ = try g.attention(q: g.input("q", shape: [1, 2, 5, 8]), k: g.input("k", shape: [1, 2, 7, 8]),
                                v: g.input("v", shape: [1, 2, 6, 8]), scale: 1)
        }
        assertFusionError("attention bias not broadcastable", isShapeMismatch) {
            let g = Graph()
            _ = try g.attention(q: g.input("q", shape: [1, 2, 5, 8]), k: g.input("k", shape: [1, 2, 7, 8]),
                                v: g.input("v", shape: [1, 2, 7, 8]), bias: g.input("b", shape: [2, 7, 5]), scale: 1)
        }
        assertFusionError("reshape count mismatch", isShapeMismatch) {
            let g = Graph()
            _ = try g.reshape(g.input("x", shape: [2, 3, 4]), [5, 5])
        }
        assertFusionError("permute not a permutation", isInvalidArgument) {
            let g = Graph()
            _ = try g.permute(g.input("x", shape: [2, 3, 4]), [0, 0, 1])
        }
        assertFusionError("resize to zero size", isInvalidArgument) {
            let g = Graph()
            _ = try g.resize(g.input("x", shape: [1, 3, 4, 4]), mode: .bilinear, height: 0, width: 4)
        }
        assertFusionError("embedding with f32 ids", isShapeMismatch) {
            let g = Graph()
            _ = try g.embedding(g.input("ids", shape: [4]), table: g.input("t", shape: [10, 3]))
        }
        assertFusionError("value from another graph", { e in
            if case .unknownValue = e { return true }
            return false
        }) {
            let other = Graph()
            _ = other.input("a", shape: [2])
            let foreign = other.input("b", shape: [3])
            let g = Graph()
            _ = try g.relu(foreign)
        }
    }

    // MARK: - Input validation

    /// x [1,3,4,5] f32 and ids [4] i32 inputs; y = relu(x) + embedding(ids, table).
    private func validationGraph() throws -> (Graph, Tensor) {
        let g = Graph()
        let x = g.input("x", shape: [1, 3, 4, 5])
        let ids = g.input("ids", shape: [4], dtype: .i32)
        let table = rnd([7, 5], 77)
        let e = try g.embedding(ids, table: g.constant(table, name: "table"))   // [4, 5]
        g.output("y", try g.add(try g.relu(x), e))                              // [1, 3, 4, 5]
        return (g, table)
    }

    func testValidateInputs() throws {
        let (g, table) = try validationGraph()
        let x = rnd([1, 3, 4, 5], 78)
        let ids = Tensor(shape: [4], ints: [6, 0, 3, 3])
        XCTAssertNoThrow(try validateInputs(g, ["x": x, "ids": ids]))

        assertFusionError("missing input", { $0 == .missingInput(name: "ids") }) {
            try validateInputs(g, ["x": x])
        }
        assertFusionError("mis-shaped input", { $0 == .inputShapeMismatch(name: "x", expected: [1, 3, 4, 5], got: [1, 3, 5, 4]) }) {
            try validateInputs(g, ["x": rnd([1, 3, 5, 4], 79), "ids": ids])
        }
        assertFusionError("input of the wrong dtype", { e in
            if case .inputShapeMismatch(name: "ids", _, _) = e { return true }
            return false
        }) {
            try validateInputs(g, ["x": x, "ids": rnd([4], 80)])
        }

        // The CPU backend reports the same errors when run.
        assertFusionError("CPU run with a missing input", { $0 == .missingInput(name: "x") }) {
            _ = try CPUBackend().run(g, inputs: ["ids": ids])
        }
        assertFusionError("CPU run with a mis-shaped input", { $0 == .inputShapeMismatch(name: "x", expected: [1, 3, 4, 5], got: [3, 4, 5]) }) {
            _ = try CPUBackend().run(g, inputs: ["x": rnd([3, 4, 5], 81), "ids": ids])
        }
        // Out-of-range ids are an error on the CPU (see `Op.embedding`).
        assertFusionError("CPU embedding with an out-of-range id", { _ in true }) {
            _ = try CPUBackend().run(g, inputs: ["x": x, "ids": Tensor(shape: [4], ints: [1, 7, 0, 0])])
        }
        assertFusionError("CPU embedding with a negative id", { _ in true }) {
            _ = try CPUBackend().run(g, inputs: ["x": x, "ids": Tensor(shape: [4], ints: [1, -1, 0, 0])])
        }

        // And the valid run matches the reference.
        let outs = try CPUBackend().run(g, inputs: ["x": x, "ids": ids])
        let e = LayoutReference64.embedding(ids: Float64Tensor([6, 0, 3, 3], [4]), table: Float64Tensor(table))
        let r = PointwiseReference64.unary(.relu, Float64Tensor(x))
        let ref = PointwiseReference64.binary(.add, r, e)
        guard let y = outs["y"] else { return XCTFail("no output y") }
        verify("relu(x) + embedding(ids)", y, ref)
    }

    // MARK: - Memory planner

    /// A chain of 20 ops (two of them reshape views, two skip connections, one extra output
    /// in the middle) and its float64 reference.
    private struct Chain {
        let graph: Graph
        let constants: [String: Tensor]
        func reference(_ x: Tensor) -> (y: Float64Tensor, mid: Float64Tensor) {
            func k(_ name: String) -> Float64Tensor { Float64Tensor(constants[name]!) }
            let x64 = Float64Tensor(x)
            typealias Conv = ConvolutionReference64
            typealias Pointwise = PointwiseReference64
            typealias Layout = LayoutReference64
            var t = Conv.conv2d(x64, weight: k("w1"), bias: k("b1"), Conv2DAttributes(padding: 1, paddingMode: .reflect))  // 1
            t = Pointwise.unary(.relu, t)                                                                           // 2
            t = Conv.conv2d(t, weight: k("w2"), bias: nil, Conv2DAttributes(stride: 2, padding: 1))                // 3
            t = Pointwise.unary(.gelu, t)                                                                           // 4
            let mid = t
            t = Layout.reshape(t, to: [1, 16, 64])                                                                  // 5
            t = ReductionReference64.layerNorm(t, weight: k("ln"), bias: nil, eps: 1e-5)                            // 6
            t = Layout.reshape(t, to: [1, 16, 8, 8])                                                                // 7
            t = Layout.pixelShuffle(t, factor: 2)                                                                   // 8
            t = Pointwise.binary(.add, t, x64)                                                                      // 9
            let a = Conv.conv2d(t, weight: k("w3"), bias: k("b3"), Conv2DAttributes())                             // 10
            t = Pointwise.unary(.sigmoid, a)                                                                        // 11
            t = Pointwise.binary(.mul, t, a)                                                                        // 12
            t = ResamplingReference64.resize(t, mode: .bilinear, height: 24, width: 24)                            // 13
            t = Layout.pad(t, top: 1, bottom: 1, left: 1, right: 1, mode: .reflect)                                 // 14
            t = Layout.crop(t, y: 2, x: 0, height: 24, width: 24)                                                   // 15
            t = Layout.pixelUnshuffle(t, factor: 2)                                                                 // 16
            t = ReductionReference64.groupNorm(t, groups: 4, weight: k("gw"), bias: k("gb"), eps: 1e-5)             // 17
            t = ReductionReference64.softmax(t)                                                                     // 18
            t = Layout.slice(t, axis: 1, start: 3, length: 8)                                                       // 19
            t = Pointwise.unary(.tanh, t)                                                                           // 20
            return (t, mid)
        }
    }

    private func makeChain() throws -> Chain {
        let g = Graph()
        let cs: [String: Tensor] = [
            "w1": rnd([8, 4, 3, 3], 901, -0.3...0.3), "b1": rnd([8], 902),
            "w2": rnd([16, 8, 3, 3], 903, -0.3...0.3),
            "ln": rnd([64], 904, 0.5...1.5),
            "w3": rnd([12, 4, 1, 1], 905), "b3": rnd([12], 906),
            "gw": rnd([48], 907, 0.5...1.5), "gb": rnd([48], 908),
        ]
        func k(_ n: String) -> Value { g.constant(cs[n]!, name: n) }
        let x = g.input("x", shape: [1, 4, 16, 16])
        var t = try g.conv2d(x, weight: k("w1"), bias: k("b1"), Conv2DAttributes(padding: 1, paddingMode: .reflect))  // 1 [1,8,16,16]
        t = try g.relu(t)                                                                                           // 2
        t = try g.conv2d(t, weight: k("w2"), Conv2DAttributes(stride: 2, padding: 1))                               // 3 [1,16,8,8]
        t = try g.gelu(t)                                                                                           // 4
        g.output("mid", t)
        t = try g.reshape(t, [1, 16, 64])                                                                           // 5 view
        t = try g.layerNorm(t, weight: k("ln"))                                                                     // 6
        t = try g.reshape(t, [1, 16, 8, 8])                                                                         // 7 view
        t = try g.pixelShuffle(t, factor: 2)                                                                        // 8 [1,4,16,16]
        t = try g.add(t, x)                                                                                         // 9
        let a = try g.conv2d(t, weight: k("w3"), bias: k("b3"))                                                     // 10 [1,12,16,16]
        t = try g.sigmoid(a)                                                                                        // 11
        t = try g.mul(t, a)                                                                                         // 12
        t = try g.resize(t, mode: .bilinear, height: 24, width: 24)                                                 // 13 [1,12,24,24]
        t = try g.pad(t, top: 1, bottom: 1, left: 1, right: 1, mode: .reflect)                                      // 14 [1,12,26,26]
        t = try g.crop(t, y: 2, x: 0, height: 24, width: 24)                                                        // 15
        t = try g.pixelUnshuffle(t, factor: 2)                                                                      // 16 [1,48,12,12]
        t = try g.groupNorm(t, groups: 4, weight: k("gw"), bias: k("gb"))                                           // 17
        t = try g.softmax(t)                                                                                        // 18
        t = try g.slice(t, axis: 1, start: 3, length: 8)                                                            // 19 [1,8,12,12]
        t = try g.tanh(t)                                                                                           // 20
        g.output("y", t)
        return Chain(graph: g, constants: cs)
    }

    func testMemoryPlannerOnChain() throws {
        let chain = try makeChain()
        let g = chain.graph
        XCTAssertEqual(g.nodes.count, 20)
        let alignment = 256
        let plan = try MemoryPlanner.plan(g, alignment: alignment)

        // Independent liveness: root of every value, defining node and last reader of each root.
        var root = Array(g.values.indices)
        var def: [Int: Int] = [:]
        for n in g.nodes {
            if case .reshape = n.op { root[n.output.id] = root[n.inputs[0].id] } else { def[n.output.id] = n.index }
        }
        var last = def
        for n in g.nodes {
            for v in n.inputs where def[root[v.id]] != nil { last[root[v.id]] = max(last[root[v.id]]!, n.index) }
        }
        for (_, v) in g.outputs where def[root[v.id]] != nil { last[root[v.id]] = g.nodes.count }

        XCTAssertEqual(plan.root, root, "reshape outputs must alias their input's memory")
        XCTAssertEqual(Set(plan.placements.keys), Set(def.keys), "every intermediate root (and nothing else) is placed")
        for (r, l) in last { XCTAssertEqual(plan.lastUse[r], l, "last use of %\(r)") }

        let size = { (r: Int) in g.values[r].value.byteCount }
        let sumOfIntermediates = def.keys.reduce(0) { $0 + size($1) }
        print("[reference] planner: arena \(plan.arenaBytes) B, peak live \(plan.peakLiveBytes) B, sum of intermediates \(sumOfIntermediates) B, blocks \(plan.blockSizes)")
        XCTAssertLessThan(plan.arenaBytes, sumOfIntermediates, "planning should reuse memory on a chain")
        XCTAssertGreaterThanOrEqual(plan.arenaBytes, plan.peakLiveBytes)

        // Peak live bytes recomputed: the planner's number must be at least the true peak of
        // (aligned) live sizes at any node.
        func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
        var truePeak = 0
        for i in 0...g.nodes.count {
            truePeak = max(truePeak, def.keys.filter { def[$0]! <= i && i <= last[$0]! }.reduce(0) { $0 + aligned(size($1)) })
        }
        XCTAssertEqual(plan.peakLiveBytes, truePeak)

        // Placements are aligned, inside their block, and simultaneously live values never overlap.
        for (r, p) in plan.placements {
            XCTAssertEqual(p.offset % alignment, 0, "%\(r) offset \(p.offset) not aligned")
            XCTAssertLessThanOrEqual(p.offset + size(r), plan.blockSizes[p.block], "%\(r) overflows block \(p.block)")
        }
        let roots = def.keys.sorted()
        var livePairs = 0
        for (i, a) in roots.enumerated() {
            for b in roots[(i + 1)...] {
                let overlapInTime = def[a]! <= last[b]! && def[b]! <= last[a]!
                guard overlapInTime else { continue }
                livePairs += 1
                let pa = plan.placements[a]!, pb = plan.placements[b]!
                guard pa.block == pb.block else { continue }
                let disjoint = pa.offset + size(a) <= pb.offset || pb.offset + size(b) <= pa.offset
                XCTAssertTrue(disjoint, "%\(a) [\(def[a]!)...\(last[a]!)] at \(pa.offset)+\(size(a)) overlaps %\(b) [\(def[b]!)...\(last[b]!)] at \(pb.offset)+\(size(b)) in block \(pa.block)")
            }
        }
        XCTAssertGreaterThan(livePairs, 19, "the chain has values that are live together")
        // The skip connection keeps conv 10's output alive until the mul (node 11).
        let convA = g.nodes[9].output.id
        XCTAssertEqual(plan.lastUse[convA], 11)
        // The middle output stays alive to the end.
        XCTAssertEqual(plan.lastUse[g.nodes[3].output.id], g.nodes.count)
    }

    /// The same chain on the CPU backend (which reuses memory per the plan), prepared once and
    /// run twice with different inputs.
    func testChainOnCPUMatchesReference() throws {
        let chain = try makeChain()
        let exe = try CPUBackend().prepare(chain.graph)
        for seed: UInt64 in [11, 12] {
            let x = rnd([1, 4, 16, 16], seed)
            let outs = try exe.run(["x": x])
            let ref = chain.reference(x)
            guard let y = outs["y"], let mid = outs["mid"] else { return XCTFail("missing outputs: \(outs.keys.sorted())") }
            verify("20-op chain y (input seed \(seed))", y, ref.y)
            verify("20-op chain mid (input seed \(seed))", mid, ref.mid)
        }
        XCTAssertGreaterThan(exe.peakIntermediateBytes, 0)
    }
}
