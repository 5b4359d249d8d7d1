import FusionCore
@testable import FusionCPU
import FusionParity
import XCTest

/// Runs of pointwise convs executed band by band: found where they exist (and only where
/// the memory plan allows), and bit-identical to the convs run one by one.
final class PointwiseChainTests: XCTestCase {
    private func random(_ shape: [Int], _ seed: UInt64) -> Tensor { Tensor.random(shape: shape, seed: seed, in: -1...1) }

    /// TextFusion's block tail: projection with residual, MLP up with ReLU, MLP down with
    /// the residual of the projection's result; then a grouped 1x1 and a 3x3 (not pointwise).
    private func blockTail(batch: Int, height: Int, width: Int) throws -> Graph {
        let g = Graph()
        let x = g.input("x", shape: [batch, 8, height, width]), r = g.input("r", shape: [batch, 8, height, width])
        let scale = g.input("scale", shape: [batch, 8, 1, 1])
        let p = try g.add(.conv2d(Conv2DAttributes()), [x, g.constant(random([8, 8, 1, 1], 1)), g.constant(random([8], 2)), scale, r],
                          epilogue: Epilogue([.binary(.mul, operandFirst: false), .binary(.add, operandFirst: false)]))
        let h = try g.add(.conv2d(Conv2DAttributes()), [p, g.constant(random([16, 8, 1, 1], 3)), g.constant(random([16], 4))],
                          epilogue: Epilogue([.unary(.relu)]))
        let y = try g.add(.conv2d(Conv2DAttributes()), [h, g.constant(random([8, 16, 1, 1], 5)), p], epilogue: Epilogue([.binary(.add, operandFirst: false)]))
        let grouped = try g.add(.conv2d(Conv2DAttributes(groups: 2)), [y, g.constant(random([6, 4, 1, 1], 6))])
        g.output("y", try g.add(.conv2d(Conv2DAttributes(padding: 1)), [grouped, g.constant(random([3, 6, 3, 3], 7))]))
        return g
    }

    func testARunIsFoundAndGivesTheConvsBitsOneByOne() throws {
        for (batch, height, width) in [(1, 37, 53), (2, 9, 700), (3, 1, 5)] {
            let g = try blockTail(batch: batch, height: height, width: width)
            let exec = try XCTUnwrap(try CPUBackend(threads: 2, passes: .none).prepare(g) as? CPUExecutable)
            let runs = PointwiseChains.find(g, plan: exec.plan)
            XCTAssertEqual(runs.values.map { $0.map(\.index) }, [[0, 1, 2, 3]], "the four 1x1 convs form one run")
            let inputs = ["x": random([batch, 8, height, width], 10), "r": random([batch, 8, height, width], 11), "scale": random([batch, 8, 1, 1], 12)]
            let banded = try exec.run(inputs)["y"]!.toFloatArray()
            // With an observer every node runs alone.
            let alone = try exec.run(inputs, observing: { _, _ in })["y"]!.toFloatArray()
            XCTAssertEqual(banded, alone, "\(batch)x\(height)x\(width): a run must give the convs' own bits")
            let reference = GraphReference64.evaluate(g, inputs: inputs)["y"]!.data
            let scale = reference.reduce(0) { max($0, abs($1)) }
            let err = zip(banded, reference).reduce(0.0) { max($0, abs(Double($1.0) - $1.1)) }
            XCTAssertLessThanOrEqual(err, 1e-5 * scale)
        }
    }

    func testARunStopsWhereTheMemoryPlanReusesItsMemory() throws {
        // x -> a -> b -> c: a plan made node by node puts c where a was (a's last reader is
        // b); banded, c's rows would overwrite a's rows other bands still need, so a run
        // must stop there. The executable plans with its runs kept apart, so its run is whole.
        let g = Graph()
        let x = g.input("x", shape: [1, 16, 32, 32])
        var v = x
        for i in 0..<5 { v = try g.add(.conv2d(Conv2DAttributes()), [v, g.constant(random([16, 16, 1, 1], UInt64(i)))]) }
        g.output("y", v)
        let exec = try XCTUnwrap(try CPUBackend(threads: 2, passes: .none).prepare(g) as? CPUExecutable)
        XCTAssertEqual(PointwiseChains.find(g, plan: exec.plan).values.map(\.count), [5])
        let nodeByNode = try MemoryPlanner.plan(g, alignment: 64)
        XCTAssertEqual(PointwiseChains.find(g, plan: nil).values.map(\.count), [5])
        XCTAssertLessThan(PointwiseChains.find(g, plan: nodeByNode).values.map(\.count).max() ?? 0, 5, "a node-by-node plan reuses memory inside the run")
        for plan in [exec.plan, nodeByNode] {
          for run in PointwiseChains.find(g, plan: plan).values {
            let roots = Set(run.flatMap { $0.inputs + [$0.output] }.map { plan.root[$0.id] }).compactMap { id in plan.placements[id].map { (id, $0) } }
            for a in roots { for b in roots where a.0 < b.0 && a.1.block == b.1.block {
                let size = 16 * 32 * 32 * 4
                XCTAssertFalse((a.1.offset..<(a.1.offset + size)).overlaps(b.1.offset..<(b.1.offset + size)), "values \(a.0) and \(b.0) share memory in one run")
            } }
          }
        }
        let inputs = ["x": random([1, 16, 32, 32], 9)]
        XCTAssertEqual(try exec.run(inputs)["y"]!.toFloatArray(), try exec.run(inputs, observing: { _, _ in })["y"]!.toFloatArray())
    }

    /// Convs whose own GEMM bands differ (2, 1 and 1 rows at width 121, products near
    /// OpenBLAS's small-matrix limit, a column tail past its vector width): the run's band
    /// is their common multiple and each conv multiplies over its own bands, so the bits are
    /// those of the convs alone.
    func testARunKeepsEachConvsOwnGEMMBands() throws {
        let g = Graph()
        let x = g.input("x", shape: [1, 64, 7, 121])
        let a = try g.add(.conv2d(Conv2DAttributes()), [x, g.constant(random([64, 64, 1, 1], 1))])
        let b = try g.add(.conv2d(Conv2DAttributes()), [a, g.constant(random([128, 64, 1, 1], 2)), g.constant(random([128], 3))], epilogue: Epilogue([.unary(.relu)]))
        g.output("y", try g.add(.conv2d(Conv2DAttributes()), [b, g.constant(random([64, 128, 1, 1], 4))]))
        XCTAssertEqual(g.nodes.map(PointwiseChains.gemmRows), [2, 1, 1])
        XCTAssertEqual(PointwiseChains.bandRows(g.nodes), 2)
        let exec = try XCTUnwrap(try CPUBackend(threads: 2, passes: .none).prepare(g) as? CPUExecutable)
        XCTAssertEqual(PointwiseChains.find(g, plan: exec.plan).values.map(\.count), [3])
        let inputs = ["x": random([1, 64, 7, 121], 5)]
        XCTAssertEqual(try exec.run(inputs)["y"]!.toFloatArray(), try exec.run(inputs, observing: { _, _ in })["y"]!.toFloatArray())
    }
}
