/// Runs every node whose inputs are all constants (a weight-only subgraph) once, on the
/// backend that prepares the graph, and replaces it by a constant holding its result.
/// Outputs stay nodes: a graph output that is a constant would have nothing to run.
enum ConstantFolding {
    /// Runs a graph without inputs; returns its outputs by name.
    typealias Evaluator = (Graph) throws -> [String: Tensor]

    static func run(_ graph: Graph, evaluate: Evaluator) throws -> Graph {
        var constant: [Int: Tensor] = [:]
        for info in graph.values { if case let .constant(t) = info.kind { constant[info.value.id] = t } }
        let outputs = Set(graph.outputs.map(\.value.id))
        // In graph order, so a chain of weight-only nodes folds whole. One small graph per
        // folded node: its constant inputs and itself.
        var folded: [Int: Tensor] = [:]
        for node in graph.nodes where !node.inputs.isEmpty && node.inputs.allSatisfy({ constant[$0.id] != nil }) {
            let g = Graph()
            g.appliedPasses = Set(GraphPass.allCases)   // run as is (no folding inside folding)
            let ins = node.inputs.map { g.constant(constant[$0.id]!, name: graph.info($0).name) }
            g.output("y", try g.add(node.op, ins, epilogue: node.epilogue, name: node.name, exactName: true))
            guard let t = try evaluate(g)["y"] else { throw FusionError.backend("folding \(node.name) gave no result") }
            constant[node.output.id] = t
            if !outputs.contains(node.output.id) { folded[node.output.id] = t }
        }
        guard !folded.isEmpty else { return graph.marking(.constantFolding) }
        let rewriter = GraphRewriter(graph)
        for node in graph.nodes {
            if let t = folded[node.output.id] {
                rewriter.alias(node.output, to: rewriter.constant(t, name: node.name))
            } else {
                try rewriter.copy(node)
            }
        }
        return rewriter.finish(applied: [.constantFolding])
    }
}

extension Graph {
    /// A copy of this graph recorded as having gone through `pass` (which changed nothing);
    /// the caller's graph keeps its own record.
    func marking(_ pass: GraphPass) -> Graph {
        let g = copy()
        g.appliedPasses.insert(pass)
        return g
    }
}
