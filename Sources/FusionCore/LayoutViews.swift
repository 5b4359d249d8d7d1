/// Values that live inside another value's memory, so that the node making them runs no
/// kernel and moves no bytes:
/// - a reshape's output is its input;
/// - with the `layout-views` pass (`GraphPass.layoutViews`):
///   - a slice along an axis with only size-1 dimensions before it (channels of a batch-1
///     NCHW tensor, rows of a matrix) is the contiguous range `start x inner` of its input;
///   - a concat along such an axis is made in place: every operand is written by its
///     producer straight into its range of the concat's output. An operand qualifies when a
///     kernel node makes it (not an input, a constant or a view) and it is an operand of no
///     other in-place concat (nor twice of this one); otherwise the concat copies as before.
/// The views are contiguous ranges, so every kernel reads and writes them as it would a
/// tensor of its own: the CPU through a pointer, Vulkan through a binding offset, which
/// must be a multiple of the device's `minStorageBufferOffsetAlignment`: a slice or concat
/// whose view would start elsewhere (a channel offset of an odd-sized image) copies as
/// before. Strided views (a channel slice of a batch of several, pixel shuffle) would need
/// kernel support.
public struct LayoutViews: Sendable {
    /// For every value id: the value whose memory holds it (itself unless it is a view).
    public let root: [Int]
    /// For every value id: its first element's index in its root.
    public let elementOffset: [Int]
    /// Indices of the nodes that run nothing: their output is a view, or (a concat made in
    /// place) their operands were written into it.
    public let viewNodes: Set<Int>

    /// - Parameters:
    ///   - offsetAlignment: bytes a view's start must be a multiple of (1 on the CPU).
    ///   - precision: how float values are stored (the byte offset of a view).
    ///   - enabled: false gives the views of a graph without the pass (reshapes only).
    public init(_ graph: Graph, offsetAlignment: Int = 1, precision: StoragePrecision = .fp32, enabled: Bool = true) {
        let inPlace = enabled && graph.appliedPasses.contains(.layoutViews)
        func aligned(_ elements: Int, _ v: Value) -> Bool {
            elements * precision.storageBytes(of: v.dtype) % max(offsetAlignment, 1) == 0
        }
        var parent: [Int: (value: Int, offset: Int)] = [:]
        /// A value's offset in its root so far (a slice of a slice adds up).
        func offset(of v: Int) -> Int {
            var r = v, o = 0
            while let p = parent[r] { o += p.offset; r = p.value }
            return o
        }
        var views = Set<Int>()
        var madeByKernel = Set<Int>()
        /// Elements before dimension `axis` (1: the axis splits the tensor into contiguous ranges).
        func leading(_ shape: [Int], _ axis: Int) -> Int { shape[..<axis].reduce(1, *) }
        func inner(_ shape: [Int], _ axis: Int) -> Int { shape[(axis + 1)...].reduce(1, *) }

        for node in graph.nodes {
            let out = node.output
            switch node.op {
            case .reshape:
                parent[out.id] = (node.inputs[0].id, 0)
                views.insert(node.index)
                continue
            case let .slice(axis, start, _) where inPlace && node.epilogue.isEmpty && leading(node.inputs[0].shape, axis) == 1
                    && aligned(start * inner(node.inputs[0].shape, axis) + offset(of: node.inputs[0].id), out):
                parent[out.id] = (node.inputs[0].id, start * inner(node.inputs[0].shape, axis))
                views.insert(node.index)
                continue
            case let .concat(axis) where inPlace && node.epilogue.isEmpty && leading(out.shape, axis) == 1:
                let ids = node.inputs.map(\.id)
                let starts = node.inputs.indices.map { i in node.inputs[..<i].reduce(0) { $0 + $1.count } }
                if Set(ids).count == ids.count, ids.allSatisfy({ madeByKernel.contains($0) && parent[$0] == nil }),
                   starts.allSatisfy({ aligned($0, out) }) {
                    var offset = 0
                    for v in node.inputs {
                        parent[v.id] = (out.id, offset)
                        offset += v.count
                    }
                    views.insert(node.index)
                    // The concat's output holds its operands; it may itself be an operand of a
                    // later concat made in place.
                    madeByKernel.insert(out.id)
                    continue
                }
            default:
                break
            }
            madeByKernel.insert(out.id)
        }

        var root = Array(graph.values.indices)
        var offset = Array(repeating: 0, count: graph.values.count)
        for v in graph.values.indices {
            var r = v, o = 0
            while let p = parent[r] { o += p.offset; r = p.value }
            root[v] = r
            offset[v] = o
        }
        self.root = root
        self.elementOffset = offset
        self.viewNodes = views
    }

    /// The views the memory planner takes for `graph` (`MemoryPlanner.plan`): those of the
    /// pass unless they would make the planned intermediates larger (a view keeps its root
    /// alive while it is read; a concat made in place is alive from its first operand's
    /// producer), in which case reshapes only.
    public static func chosen(_ graph: Graph, precision: StoragePrecision = .fp32) -> LayoutViews {
        let views = LayoutViews(graph, precision: precision)
        guard let plan = try? MemoryPlanner.plan(graph, precision: precision), plan.viewNodes != views.viewNodes else { return views }
        return LayoutViews(graph, precision: precision, enabled: false)
    }

    /// Whether `node` runs no kernel.
    public func isView(_ node: Node) -> Bool { viewNodes.contains(node.index) }
}
