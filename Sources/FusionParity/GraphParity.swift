import Foundation
import FusionCore

/// How one node of a graph compared between a reference run and a candidate run.
public struct NodeParity: Sendable, Codable {
    /// `Node.index`, the node's name (layer path) and op.
    public let node: Int
    public let name: String
    public let op: String
    public let shape: [Int]
    public let maxAbsError: Float
    public let relativeError: Float
    /// max(1, max |reference|): the tolerance is a fraction of it.
    public let scale: Float
    /// Allowed max |err| as a fraction of `scale`.
    public let tolerance: Float
    public let passed: Bool
}

/// The totals of a graph comparison.
public struct GraphParitySummary: Sendable, Codable {
    public var nodes = 0, failed = 0
    /// The first node in graph order that failed: where the candidate diverged.
    public var firstDivergent: NodeParity?
    /// The largest error relative to its node's scale, and where.
    public var worst: NodeParity?
    public var passed: Bool { failed == 0 && nodes > 0 }
}

/// Tolerances of a node comparison, per op family. Every node of the candidate run is
/// computed from the candidate's own earlier outputs, so a node's error is its own
/// rounding (float32 sums in another order: about sqrt(K) x 6e-8 relative for a K-term
/// reduction) plus what it inherits. On the goldens whole networks stay within 2e-6 of
/// the reference, so 1e-4 of the node's scale leaves 50x headroom while a kernel that is
/// wrong by one part in a thousand fails at once. Normalisations divide by a standard
/// deviation that can be far below the values' scale, which multiplies inherited
/// differences: they get 1e-3. Integer and pure layout results inherit their input's
/// error and share the default.
///
/// fp16 storage (`--precision fp16`): every stored value is rounded to 11 significant bits
/// (relative error up to 2^-11 = 4.9e-4 per rounding), weights included, and each node
/// inherits the rounded outputs of the nodes before it, so the tolerances are those of the
/// value's scale at fp16: 1e-2 of the scale for every op (about 20 roundings' worth), 5e-2
/// for normalisations, whose division by a small standard deviation amplifies inherited
/// differences. A kernel that reads or writes the wrong element still fails at once.
public enum NodeTolerance {
    public static let standard: Float = 1e-4
    public static let normalisation: Float = 1e-3
    /// fp16 storage: fraction of the value's scale.
    public static let standardFP16: Float = 1e-2
    public static let normalisationFP16: Float = 5e-2

    /// Tolerance of most ops, and of normalisations, at `precision`.
    public static func standard(for precision: StoragePrecision) -> Float { precision == .fp16 ? standardFP16 : standard }
    public static func normalisation(for precision: StoragePrecision) -> Float { precision == .fp16 ? normalisationFP16 : normalisation }

    public static func forOp(_ op: Op, precision: StoragePrecision = .fp32) -> Float {
        let isNorm: Bool
        switch op {
        case .layerNorm, .layerNormChannels, .groupNorm, .globalNorm, .globalStats: isNorm = true
        case .pointwiseDepthwise(normEps: .some, _): isNorm = true   // recomputes a LayerNorm
        default: isNorm = false
        }
        switch precision {
        case .fp32: return isNorm ? normalisation : standard
        case .fp16: return isNorm ? normalisationFP16 : standardFP16
        }
    }
}

/// Runs one graph on a reference and a candidate backend at once and compares every
/// node's output as both produce it: the reference runs on a second thread and hands its
/// outputs over through a queue of two, so at most a few node tensors are alive beyond
/// each backend's own memory, whatever the graph's size.
public final class GraphParityRunner {
    public let reference: Backend
    public let candidate: Backend
    /// Multiplies every op family's tolerance (`NodeTolerance`).
    public var toleranceFactor: Float = 1
    /// The candidate's storage precision: fp16 takes `NodeTolerance`'s fp16 tolerances.
    public var precision: StoragePrecision = .fp32

    public init(reference: Backend, candidate: Backend) {
        self.reference = reference
        self.candidate = candidate
    }

    private struct Handoff { let node: Int; let tensor: Tensor }
    private struct Cancelled: Error {}

    /// Compares every node; `each` sees each comparison in graph order.
    /// Both backends run the graph as optimised by the reference's passes (the candidate's
    /// must be the same), so node i is the same node on both.
    public func run(_ graph: Graph, inputs: [String: Tensor], each: (NodeParity) throws -> Void) throws -> GraphParitySummary {
        guard reference.passes == candidate.passes else {
            throw FusionError.invalidArgument(op: "parity", detail: "the reference applies passes \(reference.passes) and the candidate \(candidate.passes); per-node parity needs the same graph on both")
        }
        let graph = try reference.optimized(graph)
        let referenceExecutable = try reference.prepare(graph)
        let candidateExecutable = try candidate.prepare(graph)
        let queue = BoundedQueue<Handoff>(capacity: 2)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var referenceError: Error?
        Thread.detachNewThread {
            defer { queue.close(); done.signal() }
            do {
                _ = try referenceExecutable.run(inputs) { node, tensor in
                    guard queue.push(Handoff(node: node.index, tensor: tensor)) else { throw Cancelled() }
                }
            } catch is Cancelled {
            } catch {
                referenceError = error
            }
        }
        var summary = GraphParitySummary()
        do {
            _ = try candidateExecutable.run(inputs) { node, got in
                guard let expected = queue.pop() else {
                    throw FusionError.backend("the reference run ended before node \(node.index) (\(node.name)): \(referenceError.map { "\($0)" } ?? "no output")")
                }
                guard expected.node == node.index else {
                    throw FusionError.backend("the reference gave node \(expected.node) where the candidate gave node \(node.index)")
                }
                let result = compare(node, expected.tensor, got)
                summary.nodes += 1
                if !result.passed {
                    summary.failed += 1
                    if summary.firstDivergent == nil { summary.firstDivergent = result }
                }
                if summary.worst.map({ $0.maxAbsError / $0.scale < result.maxAbsError / result.scale }) ?? true { summary.worst = result }
                try each(result)
            }
        } catch {
            queue.close()
            done.wait()
            throw error
        }
        queue.close()
        done.wait()
        if let referenceError { throw referenceError }
        return summary
    }

    /// max |err|, relative L2 and scale of one node; a NaN or infinity where the reference
    /// is finite fails.
    func compare(_ node: Node, _ expected: Tensor, _ got: Tensor) -> NodeParity {
        let tolerance = NodeTolerance.forOp(node.op, precision: precision) * toleranceFactor
        let e = expected.dtype == .i32 ? expected.int32s.map(Float.init) : expected.toFloatArray()
        let g = got.dtype == .i32 ? got.int32s.map(Float.init) : got.toFloatArray()
        var maxErr: Float = 0, scale: Float = 1, num: Double = 0, den: Double = 0
        var broken = e.count != g.count
        for i in 0..<min(e.count, g.count) {
            let d = abs(g[i] - e[i])
            if e[i].isFinite {
                if !d.isFinite { broken = true }
                scale = max(scale, abs(e[i]))
                maxErr = max(maxErr, d)
                num += Double(d) * Double(d)
                den += Double(e[i]) * Double(e[i])
            } else if !(g[i].isNaN && e[i].isNaN) && g[i] != e[i] {
                broken = true
            }
        }
        let rel = Float((num / max(den, 1e-30)).squareRoot())
        return NodeParity(node: node.index, name: node.name, op: node.opDescription, shape: node.output.shape,
                          maxAbsError: broken ? .infinity : maxErr, relativeError: broken ? .infinity : rel, scale: scale,
                          tolerance: tolerance, passed: !broken && maxErr <= tolerance * scale)
    }
}
