import CCPUKernels
import FusionCore

/// A pointwise conv (optional bias, optional ReLU epilogue) whose only reader is a spatial
/// conv with few outputs, run as one kernel (`fk_pointwise_then_conv_rows`): TextFusion's
/// head, where each 24 -> 48 1x1 conv with ReLU feeds a 48 -> 1 3x3 conv. Unfused, each
/// 48-channel map (63 MB at 512x640) is written by one pass and read back by the next;
/// here its rows are made when the spatial conv needs them and stay in cache, and the map
/// is never written. A CPU-side fusion of the existing nodes (the graph is unchanged):
/// the pointwise node is skipped where it stands and both run at the spatial node, so the
/// executable plans its memory with the pair marked as executed together (the pointwise
/// conv's input then lives until the spatial conv has run).
enum PointwiseThenConv {
    /// The most outputs of the spatial conv (as `DirectConv`: a GEMM would be a row wide).
    static let maxOutputs = 4

    /// The pointwise node of each pair, by the index of its spatial node. Nodes in
    /// `excluding` (members of `PointwiseChains` runs) take no part.
    static func find(_ graph: Graph, excluding: Set<Int>) -> [Int: Node] {
        var readers: [Int: Int] = [:]
        for node in graph.nodes {
            for v in Set(node.inputs.map(\.id)) { readers[v, default: 0] += 1 }
        }
        let outputs = Set(graph.outputs.map { $0.1.id })
        var producer: [Int: Node] = [:]
        for node in graph.nodes { producer[node.output.id] = node }
        var pairs: [Int: Node] = [:]
        for spatial in graph.nodes where !excluding.contains(spatial.index) && isSpatial(spatial) {
            let hidden = spatial.inputs[0]
            guard let pointwise = producer[hidden.id], !excluding.contains(pointwise.index), isPointwise(pointwise),
                  readers[hidden.id] == 1, !outputs.contains(hidden.id), pointwise.index < spatial.index,
                  spatial.inputs[1].shape[1] == hidden.shape[1] else { continue }
            pairs[spatial.index] = pointwise
        }
        return pairs
    }

    /// A 1x1, stride-1, unpadded, one-group f32 conv of at most FK_SMALL_GEMM_MAX_K inputs
    /// with nothing after its bias but a ReLU.
    static func isPointwise(_ node: Node) -> Bool {
        guard PointwiseChains.isPointwise(node), case let .conv2d(a) = node.op, a.groups == 1,
              node.inputs[0].shape[1] <= Int(FK_SMALL_GEMM_MAX_K) else { return false }
        return node.epilogue.isEmpty || node.epilogue.steps == [.unary(.relu)]
    }

    /// A stride-1, undilated, one-group f32 conv of at most 7x7 (not 1x1) with few outputs.
    static func isSpatial(_ node: Node) -> Bool {
        guard case let .conv2d(a) = node.op, a.groups == 1, a.stride == (1, 1), a.dilation == (1, 1),
              node.inputs[0].rank == 4, node.inputs[0].dtype == .f32, node.inputs[1].shape.count == 4,
              node.output.count > 0 else { return false }
        let w = node.inputs[1].shape
        return w[0] <= maxOutputs && w[2] <= Int(FK_POINTWISE_CONV_MAX_K) && w[3] <= Int(FK_POINTWISE_CONV_MAX_K) && w[2] * w[3] > 1
    }

    /// Runs the pair: the spatial node's result (with its epilogue); the pointwise node's
    /// result is not written. `pointer` gives each value's memory.
    static func execute(pointwise: Node, spatial: Node, pointer: (Value) -> UnsafeMutablePointer<Float>, ctx: KernelContext) {
        guard case let .conv2d(a) = spatial.op else { preconditionFailure("\(spatial.name) is not a conv") }
        let x = pointwise.inputs[0]
        let p = Conv2DProblem(a, x: spatial.inputs[0].shape, weight: spatial.inputs[1].shape, out: spatial.output.shape)
        let channels = x.shape[1]
        var problem = fk_pointwise_conv_problem(
            c: Int32(channels), h: Int32(p.h), w: Int32(p.w), m: Int32(p.c), relu: pointwise.epilogue.isEmpty ? 0 : 1,
            o: Int32(p.o), kh: Int32(p.kh), kw: Int32(p.kw), ho: Int32(p.ho), wo: Int32(p.wo), pt: Int32(p.pt), pl: Int32(p.pl),
            reflect: p.reflect ? 1 : 0)
        let input = UnsafePointer(pointer(x)), w1 = UnsafePointer(pointer(pointwise.inputs[1]))
        let b1 = pointwise.baseInputCount == 3 ? UnsafePointer(pointer(pointwise.inputs[2])) : nil
        let w2 = UnsafePointer(pointer(spatial.inputs[1]))
        let b2 = spatial.baseInputCount == 3 ? UnsafePointer(pointer(spatial.inputs[2])) : nil
        let out = pointer(spatial.output)
        // Bands of rows: about four per thread, so the kh - 1 hidden rows each band makes
        // again at its top (its ring starts empty) cost a few percent.
        let bandRows = max(8, (p.ho + 4 * ctx.threads - 1) / (4 * ctx.threads))
        let bands = (p.ho + bandRows - 1) / bandRows
        let tasks = p.n * bands
        let perWorker = p.kh * p.c * (p.wo + p.kw - 1)
        let scratch = ctx.scratch.floats(workerCount(tasks, threads: ctx.threads) * perWorker)
        withUnsafePointer(to: &problem) { problem in
            parallelTasks(tasks, threads: ctx.threads) { worker, t in
                let n = t / bands, y0 = (t % bands) * bandRows
                fk_pointwise_then_conv_rows(problem, input + n * channels * p.h * p.w, w1, b1, w2, b2, out + n * p.o * p.ho * p.wo,
                                            Int32(y0), Int32(min(p.ho, y0 + bandRows)), scratch + worker * perWorker)
            }
        }
        if !spatial.epilogue.isEmpty {
            applyEpilogue(spatial.epilogue, out: out, shape: spatial.output.shape,
                          operands: spatial.epilogueOperands.map { (UnsafePointer(pointer($0)), $0.shape) }, ctx: ctx)
        }
    }
}
