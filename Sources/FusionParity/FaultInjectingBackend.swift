import Foundation
import FusionCore

/// A candidate backend whose kernel for one op is deliberately wrong: every output of that
/// op is shifted by `shift` (an extra affine node after it, reported as the op's own
/// output). A node that runs the op as a fused epilogue step (conv2d+gelu for "gelu") is
/// broken too: the graph is optimised as the base backend would run it first. The test hook that proves a per-node parity report names the first node that
/// diverges, on any backend.
public final class FaultInjectingBackend: Backend {
    public let base: Backend
    /// `Op.name` of the broken op, e.g. "gelu" or "conv2d".
    public let op: String
    public let shift: Float
    public var name: String { base.name }
    public var deviceDescription: String { base.deviceDescription + " with '\(op)' broken (+\(shift))" }
    /// The base backend's passes: the graph is optimised as the base would, then broken.
    public var passes: GraphPasses {
        get { base.passes }
        set { base.passes = newValue }
    }

    public init(base: Backend, breaking op: String, shift: Float = 1e-2) {
        self.base = base
        self.op = op
        self.shift = shift
    }

    public func prepare(_ graph: Graph) throws -> Executable {
        let graph = try optimized(graph)
        let rewritten = Graph()
        var map: [Int: Value] = [:]
        for info in graph.values {
            switch info.kind {
            case let .input(name): map[info.value.id] = rewritten.input(name, shape: info.value.shape, dtype: info.value.dtype)
            case let .constant(t): map[info.value.id] = rewritten.constant(t)
            case .intermediate: break
            }
        }
        // For each node of the rewritten graph: the original node it stands for, and
        // whether its output is the one reported (the shifted one for a broken node).
        var reported: [Int: Node] = [:]
        for node in graph.nodes {
            let inputs = try node.inputs.map { v -> Value in
                guard let m = map[v.id] else { throw FusionError.unknownValue(v.id) }
                return m
            }
            var out = try rewritten.add(node.op, inputs, epilogue: node.epilogue, name: node.name, exactName: true)
            if node.op.name == op || node.epilogue.steps.contains(where: { $0.name == op }), node.output.dtype == .f32 {
                out = try rewritten.add(.unary(.affine(scale: 1, shift: shift)), [out], name: node.name + "/broken")
            }
            reported[rewritten.nodes.count - 1] = node
            map[node.output.id] = out
        }
        for (name, v) in graph.outputs {
            guard let m = map[v.id] else { throw FusionError.unknownValue(v.id) }
            rewritten.output(name, m)
        }
        rewritten.appliedPasses = Set(GraphPass.allCases)   // broken as given: no fusing the shift away
        return FaultInjectedExecutable(inner: try base.prepare(rewritten), reported: reported)
    }
}

/// Runs the rewritten graph and reports each original node once, under its own index.
final class FaultInjectedExecutable: Executable {
    let inner: Executable
    let reported: [Int: Node]

    init(inner: Executable, reported: [Int: Node]) {
        self.inner = inner
        self.reported = reported
    }

    var peakIntermediateBytes: Int { inner.peakIntermediateBytes }

    func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] { try inner.run(inputs) }

    func run(_ inputs: [String: Tensor], observing observer: (Node, Tensor) throws -> Void) throws -> [String: Tensor] {
        try inner.run(inputs) { node, tensor in
            if let original = reported[node.index] { try observer(original, tensor) }
        }
    }
}
