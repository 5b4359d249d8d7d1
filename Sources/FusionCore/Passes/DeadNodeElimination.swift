/// Drops every node no graph output depends on.
enum DeadNodeElimination {
    static func run(_ graph: Graph) throws -> Graph {
        var live = Set(graph.outputs.map(\.value.id))
        var keep = Array(repeating: false, count: graph.nodes.count)
        for node in graph.nodes.reversed() where live.contains(node.output.id) {
            keep[node.index] = true
            for v in node.inputs { live.insert(v.id) }
        }
        let rewriter = GraphRewriter(graph)
        for node in graph.nodes where keep[node.index] { try rewriter.copy(node) }
        return rewriter.finish(applied: [.deadNodes])
    }
}
