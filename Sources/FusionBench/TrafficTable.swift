import FusionCore

/// GraphTraffic of a graph by op (with its epilogue, as `profile` names nodes): where a
/// model's bytes go, without running it. `fusion bench --traffic` prints it for the graph
/// as built and as the backend would run it.
public struct TrafficTable {
    public struct Row {
        /// The op with its epilogue ("conv2d+gelu").
        public let op: String
        public let nodes: Int
        public let bytes: Double
        public let share: Double
    }

    /// Ops by bytes, largest first.
    public let rows: [Row]
    public let nodes: Int
    /// Nodes that run a kernel (views run none: `LayoutViews`).
    public let kernelNodes: Int
    public let bytes: Double

    public init(_ graph: Graph, precision: StoragePrecision = .fp32) {
        let storage = precision.storageBytes(of: .f32)
        var byOp: [String: (nodes: Int, bytes: Double)] = [:]
        let views = LayoutViews.chosen(graph)
        for node in graph.nodes {
            // Slices and concats the layout-views pass made views move nothing: a row of their own.
            let view = views.isView(node)
            var key = node.opDescription
            if view, node.op.name != "reshape" { key += " (view)" }
            let entry = byOp[key] ?? (0, 0)
            byOp[key] = (entry.nodes + 1, entry.bytes + (view ? 0 : GraphTraffic.bytes(of: node, storageBytes: storage)))
        }
        let total = byOp.values.reduce(0) { $0 + $1.bytes }
        rows = byOp.map { Row(op: $0.key, nodes: $0.value.nodes, bytes: $0.value.bytes, share: total > 0 ? $0.value.bytes / total : 0) }
            .sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.op < $1.op }
        nodes = graph.nodes.count
        kernelNodes = graph.nodes.count - views.viewNodes.count
        bytes = total
    }
}
