/// Memory traffic of a graph: the bytes each op must at least move if it reads every
/// operand once and writes its output once (weights included, caches ignored). With
/// `GraphCost` this places a benchmark on the roofline: an op is bandwidth-bound when its
/// bytes take longer at the device's copy bandwidth than its FLOPs at the compute peak.
public enum GraphTraffic {
    /// Bytes of one node, each value counted with its dtype's element size; with
    /// `storageBytes`, float (f32) values count that many bytes per element instead (2 for
    /// fp16 device storage; integer values keep their size).
    public static func bytes(of node: Node, storageBytes: Int? = nil) -> Double {
        if case .reshape = node.op { return 0 }   // a view: nothing moves
        func size(_ v: Value) -> Int {
            guard let s = storageBytes, v.dtype == .f32 else { return v.byteCount }
            return v.count * s
        }
        return Double(node.inputs.reduce(size(node.output)) { $0 + size($1) })
    }

    /// Total bytes of every node (`storageBytes`: element size of float values, see `bytes(of:storageBytes:)`).
    /// Views (`LayoutViews`: reshapes, and with the `layout-views` pass contiguous slices and
    /// concats made in place, where the memory planner takes them) move nothing.
    public static func bytes(_ graph: Graph, storageBytes: Int? = nil) -> Double {
        let views = LayoutViews.chosen(graph)
        return graph.nodes.reduce(0) { $0 + (views.isView($1) ? 0 : bytes(of: $1, storageBytes: storageBytes)) }
    }

    /// Total bytes of every node with float values stored at `precision`.
    public static func bytes(_ graph: Graph, precision: StoragePrecision) -> Double {
        bytes(graph, storageBytes: precision.storageBytes(of: .f32))
    }
}
