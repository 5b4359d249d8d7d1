/// Where each intermediate value lives: block index and byte offset.
public struct Placement: Equatable, Sendable {
    public let block: Int
    public let offset: Int
}

/// The result of planning a graph's intermediate memory.
public struct MemoryPlan: Sendable {
    /// Placement of every intermediate root value (by value id).
    public let placements: [Int: Placement]
    /// Sizes of the memory blocks the backend allocates.
    public let blockSizes: [Int]
    /// For every value, the value whose memory it uses (itself unless it is a view: `LayoutViews`).
    public let root: [Int]
    /// For every value, its first element's index in its root's memory.
    public let elementOffset: [Int]
    /// Nodes that run no kernel (their output is a view, or a concat made in place).
    public let viewNodes: Set<Int>
    /// Index of the last node reading each root value (`nodes.count` for graph outputs).
    public let lastUse: [Int: Int]
    /// The largest total size of values alive at one time: the lower bound on `arenaBytes`.
    public let peakLiveBytes: Int

    /// Bytes the intermediates take (sum of blocks): the graph's peak intermediate memory.
    public var arenaBytes: Int { blockSizes.reduce(0, +) }
}

/// Assigns memory to intermediates so that each value's memory is reused after its last
/// use. Greedy by size (largest first, lowest fitting offset), which stays close to the
/// live-bytes lower bound on the graphs of this engine.
public enum MemoryPlanner {
    /// - Parameters:
    ///   - alignment: offset alignment of every placement in bytes.
    ///   - maxBlockBytes: the largest block the backend can allocate; a value larger than
    ///     this is an error.
    ///   - precision: how float values are stored (fp16: 2 bytes per element).
    ///   - viewAlignment: bytes a view's start must be a multiple of (`LayoutViews`): the
    ///     device's storage-buffer offset alignment on Vulkan, 1 on the CPU.
    ///   - executedTogether: ranges of node indices a backend runs interleaved (band by band):
    ///     every value their nodes read or write is kept alive across the whole range, so no
    ///     two of them share memory.
    ///
    /// With the `layout-views` pass the graph is planned with its views and without them, and
    /// the smaller plan is taken: a view saves a copy but keeps its root alive while it is
    /// read, and a concat made in place is alive from its first operand's producer, which
    /// can make a band-tiled graph's intermediates larger.
    public static func plan(_ graph: Graph, alignment: Int = 256, maxBlockBytes: Int = Int.max,
                            precision: StoragePrecision = .fp32, viewAlignment: Int = 1,
                            executedTogether: [ClosedRange<Int>] = []) throws -> MemoryPlan {
        let views = LayoutViews(graph, offsetAlignment: viewAlignment, precision: precision)
        let plain = LayoutViews(graph, precision: precision, enabled: false)
        if views.viewNodes == plain.viewNodes {
            return try plan(graph, views: views, alignment: alignment, maxBlockBytes: maxBlockBytes, precision: precision, executedTogether: executedTogether)
        }
        let withViews = try? plan(graph, views: views, alignment: alignment, maxBlockBytes: maxBlockBytes, precision: precision, executedTogether: executedTogether)
        let without = try plan(graph, views: plain, alignment: alignment, maxBlockBytes: maxBlockBytes, precision: precision, executedTogether: executedTogether)
        if let withViews, withViews.arenaBytes <= without.arenaBytes { return withViews }
        return without
    }

    private static func plan(_ graph: Graph, views: LayoutViews, alignment: Int, maxBlockBytes: Int,
                             precision: StoragePrecision, executedTogether: [ClosedRange<Int>]) throws -> MemoryPlan {
        let values = graph.values
        func byteCount(_ v: Int) -> Int { values[v].value.count * precision.storageBytes(of: values[v].value.dtype) }
        let root = views.root
        // A root lives from the first node that writes into it (a concat made in place is
        // written by its operands' producers) to its last reader.
        var def: [Int: Int] = [:]
        var lastUse: [Int: Int] = [:]
        let made = Set(graph.nodes.map(\.output.id))
        for node in graph.nodes where made.contains(root[node.output.id]) {
            let r = root[node.output.id]
            def[r] = min(def[r] ?? node.index, node.index)
            lastUse[r] = max(lastUse[r] ?? node.index, node.index)
        }
        for node in graph.nodes {
            for v in node.inputs {
                let r = root[v.id]
                if def[r] != nil { lastUse[r] = max(lastUse[r] ?? 0, node.index) }
            }
        }
        for (_, v) in graph.outputs where def[root[v.id]] != nil {
            lastUse[root[v.id]] = graph.nodes.count
        }
        for range in executedTogether {
            for node in graph.nodes[range] {
                for v in node.inputs + [node.output] {
                    let r = root[v.id]
                    guard let d = def[r] else { continue }
                    if d >= range.lowerBound { def[r] = range.lowerBound }
                    lastUse[r] = max(lastUse[r]!, range.upperBound)
                }
            }
        }

        func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
        let roots = def.keys.sorted { a, b in
            let sa = byteCount(a), sb = byteCount(b)
            return sa != sb ? sa > sb : a < b
        }
        var placements: [Int: Placement] = [:]
        var blockSizes: [Int] = []
        var placedByBlock: [[(start: Int, end: Int, from: Int, to: Int)]] = []
        for r in roots {
            let size = aligned(max(byteCount(r), 1))
            guard size <= maxBlockBytes else {
                throw FusionError.limitExceeded(op: values[r].name,
                    detail: "tensor \(values[r].value.shape) needs \(size) bytes, more than the largest allocation \(maxBlockBytes)")
            }
            let from = def[r]!, to = lastUse[r]!
            var chosen: Placement?
            for b in blockSizes.indices {
                let conflicts = placedByBlock[b].filter { $0.from <= to && from <= $0.to }.sorted { $0.start < $1.start }
                var offset = 0
                for c in conflicts {
                    if offset + size <= c.start { break }
                    offset = max(offset, c.end)
                }
                if offset + size <= maxBlockBytes { chosen = Placement(block: b, offset: offset); break }
            }
            let p = chosen ?? Placement(block: blockSizes.count, offset: 0)
            if p.block == blockSizes.count { blockSizes.append(0); placedByBlock.append([]) }
            placedByBlock[p.block].append((p.offset, p.offset + size, from, to))
            blockSizes[p.block] = max(blockSizes[p.block], p.offset + size)
            placements[r] = p
        }

        var peak = 0
        for i in 0...max(graph.nodes.count, 0) {
            let live = roots.filter { def[$0]! <= i && i <= lastUse[$0]! }.reduce(0) { $0 + aligned(byteCount($1)) }
            peak = max(peak, live)
        }
        return MemoryPlan(placements: placements, blockSizes: blockSizes, root: root, elementOffset: views.elementOffset,
                          viewNodes: views.viewNodes, lastUse: lastUse, peakLiveBytes: peak)
    }
}
