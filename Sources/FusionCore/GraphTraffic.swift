/// Memory traffic of a graph: the bytes each op must at least move if it reads every
/// operand once and writes its output once (weights included, caches ignored). With
/// `GraphCost` this places a benchmark on the roofline: an op is bandwidth-bound when its
/// bytes take longer at the device's copy bandwidth than its FLOPs at the compute peak.
public enum GraphTraffic {
    public static func bytes(of node: Node) -> Double {
        if case .reshape = node.op { return 0 }   // a view: nothing moves
        return Double(node.inputs.reduce(node.output.byteCount) { $0 + $1.byteCount })
    }

    /// Total bytes of every node.
    public static func bytes(_ graph: Graph) -> Double {
        graph.nodes.reduce(0) { $0 + bytes(of: $1) }
    }
}
