import FusionCore

/// Runs of consecutive pointwise convs (1x1, stride 1, unpadded) where each reads the one
/// before it (TextFusion's projection -> MLP -> MLP; any 1x1 -> 1x1 chain), executed band
/// by band: a task takes a band of rows through every conv of the run (GEMM, then bias and
/// epilogue) before the next band, so each conv reads its input band from cache instead
/// of memory. Every conv still writes its whole result (later nodes may read it).
///
/// Bands run in parallel, so no conv of a run may write memory that any conv of the run
/// reads or writes for another value. The planner reuses memory once a value's last reader
/// has run, which is only true node by node, so the executable plans its memory with the
/// runs marked as executed together (`MemoryPlanner`'s `executedTogether`); `find` with a
/// plan also stops a run before a conv whose memory would clash.
/// Each conv multiplies over exactly the bands of rows it takes alone (`PointwiseBands`;
/// a run's band is a common multiple of its convs' bands, at most `maxBandRows`), because
/// OpenBLAS's small-matrix kernels round a product's column tail differently: a run gives
/// the same bits as its convs one by one.
enum PointwiseChains {
    /// Runs of two or more nodes, by the index of their first node; with `plan`, only runs
    /// whose values occupy disjoint memory in it.
    static func find(_ graph: Graph, plan: MemoryPlan?) -> [Int: [Node]] {
        var runs: [Int: [Node]] = [:]
        var current: [Node] = []
        func close() {
            if current.count >= 2 { runs[current[0].index] = current }
            current = []
        }
        for node in graph.nodes {
            guard isPointwise(node) else { close(); continue }
            if let last = current.last, node.inputs[0] == last.output, bandRows(current + [node]) <= maxBandRows,
               plan.map({ disjoint(current + [node], graph: graph, plan: $0) }) ?? true {
                current.append(node)
            } else {
                close()
                current = [node]
            }
        }
        close()
        return runs
    }

    /// The largest band of rows a run takes at a time.
    static let maxBandRows = 8

    /// The GEMM band of one conv alone.
    static func gemmRows(_ node: Node) -> Int {
        guard case let .conv2d(a) = node.op else { preconditionFailure("\(node.name) is not a conv") }
        let p = Conv2DProblem(a, x: node.inputs[0].shape, weight: node.inputs[1].shape, out: node.output.shape)
        return PointwiseBands.rows(outputChannelsPerGroup: p.og, inputChannelsPerGroup: p.cg, height: p.ho, width: p.wo)
    }

    /// A run's band: the least common multiple of its convs' bands.
    static func bandRows(_ run: [Node]) -> Int {
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        return run.map(gemmRows).reduce(1) { $0 / gcd($0, $1) * $1 }
    }

    static func isPointwise(_ node: Node) -> Bool {
        guard case let .conv2d(a) = node.op, a.stride == (1, 1), a.padding == (0, 0, 0, 0), a.dilation == (1, 1),
              node.inputs[0].rank == 4, node.inputs[0].dtype == .f32, node.inputs[1].shape.count == 4,
              node.inputs[1].shape[2] == 1, node.inputs[1].shape[3] == 1, node.inputs[0].shape[1] > 0 else { return false }
        return node.output.count > 0
    }

    /// Whether the run's results occupy memory that no other value the run reads or writes
    /// shares (values are ranges of their root's memory: views share a root at offsets).
    private static func disjoint(_ run: [Node], graph: Graph, plan: MemoryPlan) -> Bool {
        struct Span: Hashable { let block: Int; let start: Int; let end: Int }
        /// The same bytes of the same root: one value and its reshape views.
        struct Data: Hashable { let root: Int; let offset: Int; let bytes: Int }
        var spans: [(span: Span, written: Bool)] = []
        var seen: [Data: Int] = [:]
        let written = Set(run.map(\.output.id))
        for node in run {
            for v in node.inputs + [node.output] {
                guard let p = plan.placements[plan.root[v.id]] else { continue }
                let start = p.offset + plan.elementOffset[v.id] * v.dtype.byteSize
                let span = Span(block: p.block, start: start, end: start + v.byteCount)
                let data = Data(root: plan.root[v.id], offset: plan.elementOffset[v.id], bytes: v.byteCount)
                if let i = seen[data] {
                    spans[i].written = spans[i].written || written.contains(v.id)
                } else {
                    seen[data] = spans.count
                    spans.append((span, written.contains(v.id)))
                }
            }
        }
        for (i, a) in spans.enumerated() {
            for b in spans[(i + 1)...] where a.span.block == b.span.block && a.span.start < b.span.end && b.span.start < a.span.end {
                if a.written || b.written { return false }
            }
        }
        return true
    }
}

/// The band of output rows a pointwise conv multiplies at a time: about 1e6 multiply-adds
/// (OpenBLAS's unpacked small-matrix kernels take products up to 100^3), at least one row
/// and at most 8 (so that runs of convs find a common band). A conv runs alone or in a run
/// over exactly these bands, so that it always gives the same bits.
enum PointwiseBands {
    static let multiplyAdds = 1_000_000
    static let maxRows = 8

    static func rows(outputChannelsPerGroup og: Int, inputChannelsPerGroup cg: Int, height: Int, width: Int) -> Int {
        max(1, min(height, maxRows, multiplyAdds / max(1, og * cg * width)))
    }
}
extension PointwiseChains {
    /// Runs `run` (from `find`) band by band; `pointer` gives each value's memory.
    static func execute(_ run: [Node], pointer: (Value) -> UnsafeMutablePointer<Float>, ctx: KernelContext) {
        struct Step {
            let p: Conv2DProblem
            let x: UnsafePointer<Float>, w: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
            let rows: EpilogueRows?
            let gemmRows: Int
        }
        let steps = run.map { node -> Step in
            guard case let .conv2d(a) = node.op else { preconditionFailure("\(node.name) is not a conv") }
            let p = Conv2DProblem(a, x: node.inputs[0].shape, weight: node.inputs[1].shape, out: node.output.shape)
            let out = pointer(node.output)
            let bias = node.baseInputCount == 3 ? UnsafePointer(pointer(node.inputs[2])) : nil
            let rows = node.epilogue.isEmpty && bias == nil ? nil
                : EpilogueRows(node.epilogue, out: out, shape: node.output.shape,
                               operands: node.epilogueOperands.map { (UnsafePointer(pointer($0)), $0.shape) }, channelBias: bias)
            return Step(p: p, x: UnsafePointer(pointer(node.inputs[0])), w: UnsafePointer(pointer(node.inputs[1])), out: out, rows: rows,
                        gemmRows: gemmRows(node))
        }
        let first = steps[0].p
        let bandRows = Self.bandRows(run)
        let bands = (first.ho + bandRows - 1) / bandRows
        parallelGEMMTasks(first.n * bands, threads: ctx.threads) { _, t in
            let n = t / bands, band = t % bands
            let y0 = band * bandRows, y1 = min(first.ho, y0 + bandRows)
            for s in steps {
                let p = s.p, hw = p.h * p.w
                for r in stride(from: y0, to: y1, by: s.gemmRows) {
                    let column = r * p.w, columns = (min(y1, r + s.gemmRows) - r) * p.w
                    for g in 0..<p.groups {
                        PointwiseProduct.multiply(m: p.og, n: columns, k: p.cg, a: s.w + g * p.og * p.cg, lda: p.cg,
                                                  b: s.x + (n * p.c + g * p.cg) * hw + column, ldb: hw,
                                                  c: s.out + (n * p.o + g * p.og) * hw + column, ldc: hw)
                    }
                }
                guard let rows = s.rows else { continue }
                for o in 0..<p.o {
                    let base = (n * p.o + o) * p.ho
                    for y in y0..<y1 { rows.apply(row: base + y) }
                }
            }
        }
    }
}
