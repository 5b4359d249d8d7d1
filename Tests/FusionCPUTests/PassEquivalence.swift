import FusionCore
import FusionCPU
import FusionParity
import XCTest

/// Runs `graph` on the CPU as built and with `passes`; checks that the outputs agree within
/// `tolerance` x scale and that the optimised outputs stay within 1e-5 x scale of the float64
/// reference of the graph as built; returns the optimised graph. The check of every graph
/// pass test (`GraphPassTests`, `PointwiseDepthwiseFusionTests`).
@discardableResult
func assertOptimisedMatchesAsBuilt(_ graph: Graph, _ inputs: [String: Tensor], passes: GraphPasses = .all, threads: Int = 2,
                                   tolerance: Float = 1e-6, label: String = "optimised",
                                   file: StaticString = #filePath, line: UInt = #line) throws -> Graph {
    let plain = try CPUBackend(threads: threads, passes: .none).prepare(graph).run(inputs)
    let backend = CPUBackend(threads: threads, passes: passes)
    let optimised = try backend.optimized(graph)
    let fused = try backend.prepare(graph).run(inputs)
    let reference = GraphReference64.evaluate(graph, inputs: inputs)
    for (name, e) in plain {
        let ef = e.toFloatArray(), gf = fused[name]!.toFloatArray(), rf = reference[name]!.data
        let scale = max(ef.reduce(Float(0)) { max($0, abs($1)) }, 1e-3)
        let err = zip(ef, gf).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        let err64 = zip(rf, gf).reduce(0.0) { max($0, abs($1.0 - Double($1.1))) }
        print("[\(label)] \(name): vs as built \(err / scale), vs float64 \(err64 / Double(scale))")
        XCTAssertLessThanOrEqual(err, tolerance * scale, "\(name): \(label) vs as built", file: file, line: line)
        XCTAssertLessThanOrEqual(err64, 1e-5 * Double(scale), "\(name): \(label) vs float64", file: file, line: line)
    }
    return optimised
}
