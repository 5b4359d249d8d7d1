import Foundation
import FusionCore

/// A graph prepared for the CPU: intermediates live in arena blocks allocated once (placed by
/// `MemoryPlanner`, reshape outputs are views of their input), nodes run in order.
///
/// `run` may be called many times; concurrent calls on one executable are serialised (they
/// share the arena).
public final class CPUExecutable: Executable {
    public let graph: Graph
    public let plan: MemoryPlan
    public let threads: Int

    /// Per-node wall time of the last `run`, in execution order (reshape views included, at ~0).
    public private(set) var lastRunNodeTimings: [(name: String, op: String, seconds: Double)] = []

    public var peakIntermediateBytes: Int { plan.arenaBytes }

    private let arena: CPUArena
    /// The arena generation the intermediate addresses were bound for (-1: never).
    private var boundGeneration = -1
    private let lock = NSLock()
    /// Address of every value for the current run (inputs rebound per run).
    private var addresses: [UnsafeMutableRawPointer?]
    /// Whether each value is a graph constant (conv weights that may be cached transformed).
    private var isConstant: [Bool]
    /// Winograd kernels of this graph's constant conv weights.
    private let winogradCache = WinogradWeightCache()

    /// Whether large 3x3 convs may take the Winograd path (see `CPUBackend.winograd`).
    let winograd: Bool
    /// Runs of pointwise convs executed band by band (`PointwiseChains`), by first node.
    private let chains: [Int: [Node]]
    /// Pointwise convs run inside the spatial conv that reads them (`PointwiseThenConv`),
    /// by the spatial node's index; `deferred` holds the pointwise nodes' indices.
    private let pairs: [Int: Node]
    private let deferred: Set<Int>

    init(graph: Graph, threads: Int, arena: CPUArena, winograd: Bool = true) throws {
        self.winograd = winograd
        self.graph = graph
        self.threads = max(1, threads)
        self.arena = arena
        let runs = PointwiseChains.find(graph, plan: nil)
        pairs = PointwiseThenConv.find(graph, excluding: Set(runs.values.joined().map(\.index)))
        deferred = Set(pairs.values.map(\.index))
        self.plan = try MemoryPlanner.plan(graph, alignment: 64, executedTogether: runs.values.map { $0.first!.index...$0.last!.index }
                                               + pairs.map { $0.value.index...$0.key })
        chains = PointwiseChains.find(graph, plan: plan)
        try BLASRuntime.load(threads: self.threads)
        // The memory itself comes from the backend's shared arena at the first run.
        try HostMemory.check(max(0, plan.arenaBytes - arena.bytes), for: "the intermediates of a \(graph.nodes.count)-node graph on the CPU")
        addresses = Array(repeating: nil, count: graph.values.count)
        isConstant = Array(repeating: false, count: graph.values.count)
        for info in graph.values {
            if case let .constant(t) = info.kind {
                addresses[info.value.id] = t.data
                isConstant[info.value.id] = true
            }
        }
    }

    /// Points every intermediate at its place in the arena's blocks.
    private func bindIntermediates(_ blocks: [UnsafeMutableRawPointer]) {
        for info in graph.values {
            if case .intermediate = info.kind, let p = plan.placements[info.value.id] { addresses[info.value.id] = blocks[p.block] + p.offset }
        }
    }

    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try run(inputs, observer: nil)
    }

    public func run(_ inputs: [String: Tensor], observing observer: (Node, Tensor) throws -> Void) throws -> [String: Tensor] {
        try withoutActuallyEscaping(observer) { try run(inputs, observer: $0) }
    }

    public var lastProfile: RunProfile? {
        guard !lastRunNodeTimings.isEmpty else { return nil }
        let nodes = zip(graph.nodes, lastRunNodeTimings).filter { !plan.viewNodes.contains($0.0.index) }.map { NodeTiming(node: $0.index, seconds: $1.seconds) }
        return RunProfile(nodes: nodes, timer: "wall", deviceSpanSeconds: nil, submissions: 1, dispatches: nodes.count, barriers: 0)
    }

    /// The arena is shared by the backend's executables; this one needs its plan's bytes of it.
    public var heldBytes: Int { plan.arenaBytes }

    private func run(_ inputs: [String: Tensor], observer: ((Node, Tensor) throws -> Void)?) throws -> [String: Tensor] {
        try validateInputs(graph, inputs)
        lock.lock()
        defer { lock.unlock() }
        return try arena.withBlocks(plan.blockSizes, for: "the intermediates of a \(graph.nodes.count)-node graph on the CPU") { blocks, generation in
            if generation != boundGeneration {
                bindIntermediates(blocks)
                boundGeneration = generation
            }
            return try runBound(inputs, observer: observer)
        }
    }

    private func runBound(_ inputs: [String: Tensor], observer: ((Node, Tensor) throws -> Void)?) throws -> [String: Tensor] {
        BLASThreads.setDefault(threads)

        // Bind inputs, then resolve views (reshapes, contiguous slices, operands of concats
        // made in place: `LayoutViews`) to their place in their root's memory.
        for info in graph.values {
            if case let .input(name) = info.kind { addresses[info.value.id] = inputs[name]!.data }
        }
        for info in graph.values {
            let id = info.value.id, root = plan.root[id]
            if root != id { addresses[id] = addresses[root].map { $0 + plan.elementOffset[id] * info.value.dtype.byteSize } }
        }

        var ctx = KernelContext(threads: threads, scratch: arena.scratch)
        ctx.winograd = winograd
        var timings: [(name: String, op: String, seconds: Double)] = []
        timings.reserveCapacity(graph.nodes.count)
        var chained = 0   // nodes left of the pointwise run being executed
        for node in graph.nodes {
            if chained > 0 { chained -= 1; continue }
            // An observer sees every node's result as the node finishes: no runs then.
            if observer == nil, let run = chains[node.index] {
                let start = DispatchTime.now().uptimeNanoseconds
                PointwiseChains.execute(run, pointer: f, ctx: ctx)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                // The run's time, shared out by each conv's FLOPs.
                let flops = run.map { GraphCost.flops(of: $0) }, total = max(flops.reduce(0, +), 1)
                for (member, flop) in zip(run, flops) { timings.append((member.name, member.op.name, seconds * flop / total)) }
                chained = run.count - 1
                continue
            }
            if observer == nil, deferred.contains(node.index) {
                timings.append((node.name, node.op.name, 0))   // timed with its spatial conv
                continue
            }
            if observer == nil, let pointwise = pairs[node.index] {
                let start = DispatchTime.now().uptimeNanoseconds
                PointwiseThenConv.execute(pointwise: pointwise, spatial: node, pointer: f, ctx: ctx)
                timings.append((node.name, node.op.name, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9))
                continue
            }
            let start = DispatchTime.now().uptimeNanoseconds
            if !plan.viewNodes.contains(node.index) { try execute(node, ctx) }
            let end = DispatchTime.now().uptimeNanoseconds
            timings.append((node.name, node.op.name, Double(end - start) * 1e-9))
            if let observer {
                let t = Tensor(shape: node.output.shape, dtype: node.output.dtype)
                if t.byteCount > 0, let src = addresses[node.output.id] { t.data.copyMemory(from: src, byteCount: t.byteCount) }
                try observer(node, t)
            }
        }
        lastRunNodeTimings = timings

        var results: [String: Tensor] = [:]
        for (name, value) in graph.outputs {
            let t = Tensor(shape: value.shape, dtype: value.dtype)
            if t.byteCount > 0, let src = addresses[value.id] {
                t.data.copyMemory(from: src, byteCount: t.byteCount)
            }
            results[name] = t
        }
        return results
    }

    private func raw(_ v: Value) -> UnsafeMutableRawPointer {
        guard let p = addresses[v.id] else { preconditionFailure("value \(v) has no memory") }
        return p
    }

    private func f(_ v: Value) -> UnsafeMutablePointer<Float> { raw(v).assumingMemoryBound(to: Float.self) }
    private func cf(_ v: Value) -> UnsafePointer<Float> { UnsafePointer(f(v)) }

    private func execute(_ node: Node, _ ctx: KernelContext) throws {
        // A pointwise conv finishes each band of rows (bias, then the epilogue) right after
        // its GEMM, while the band is in cache; the sums are the unfused ops' float sums.
        if !node.epilogue.isEmpty, case let .conv2d(a) = node.op,
           a.stride == (1, 1), a.padding == (0, 0, 0, 0), a.dilation == (1, 1),
           node.inputs[1].shape[2] == 1, node.inputs[1].shape[3] == 1 {
            let ins = node.inputs
            let p = Conv2DProblem(a, x: ins[0].shape, weight: ins[1].shape, out: node.output.shape)
            if p.n * p.o * p.ho * p.wo == 0 { return }
            if p.cg == 0 {
                // No input channels: the result is the bias (or zeros), then the epilogue.
                f(node.output).update(repeating: 0, count: node.output.count)
                applyEpilogue(node.epilogue, out: f(node.output), shape: node.output.shape,
                              operands: node.epilogueOperands.map { (cf($0), $0.shape) },
                              channelBias: node.baseInputCount == 3 ? cf(ins[2]) : nil, ctx: ctx)
                return
            }
            let rows = EpilogueRows(node.epilogue, out: f(node.output), shape: node.output.shape,
                                    operands: node.epilogueOperands.map { (cf($0), $0.shape) },
                                    channelBias: node.baseInputCount == 3 ? cf(ins[2]) : nil)
            conv2dPointwise(p, x: cf(ins[0]), weight: cf(ins[1]), bias: nil, out: f(node.output), finish: rows, ctx: ctx)
            return
        }
        // So does a depthwise conv in C, each band of rows of a plane.
        if !node.epilogue.isEmpty, case let .conv2d(a) = node.op, node.inputs[1].shape.count == 4 {
            let ins = node.inputs
            let p = Conv2DProblem(a, x: ins[0].shape, weight: ins[1].shape, out: node.output.shape)
            if p.n * p.o * p.ho * p.wo > 0, DepthwiseRows.applies(p) {
                let rows = EpilogueRows(node.epilogue, out: f(node.output), shape: node.output.shape,
                                        operands: node.epilogueOperands.map { (cf($0), $0.shape) })
                DepthwiseRows.run(p, x: cf(ins[0]), weight: cf(ins[1]), bias: node.baseInputCount == 3 ? cf(ins[2]) : nil,
                                  out: f(node.output), finish: rows, ctx: ctx)
                return
            }
        }
        try executeOp(node, ctx)
        if !node.epilogue.isEmpty {
            applyEpilogue(node.epilogue, out: f(node.output), shape: node.output.shape,
                          operands: node.epilogueOperands.map { (cf($0), $0.shape) }, ctx: ctx)
        }
    }

    /// The node's op on its own inputs (`Node.baseInputs`).
    private func executeOp(_ node: Node, _ ctx: KernelContext) throws {
        let ins = Array(node.baseInputs)
        let out = node.output
        switch node.op {
        case let .conv2d(a):
            var convCtx = ctx
            if isConstant[ins[1].id] { convCtx.winogradCache = winogradCache }
            conv2d(a, x: cf(ins[0]), xShape: ins[0].shape, weight: cf(ins[1]), wShape: ins[1].shape,
                   bias: ins.count > 2 ? cf(ins[2]) : nil, out: f(out), outShape: out.shape, ctx: convCtx)
        case let .convTranspose2d(a):
            convTranspose2d(a, x: cf(ins[0]), xShape: ins[0].shape, weight: cf(ins[1]), wShape: ins[1].shape,
                            bias: ins.count > 2 ? cf(ins[2]) : nil, out: f(out), outShape: out.shape, ctx: ctx)
        case let .pointwiseDepthwise(normEps, a):
            let problem = PointwiseDepthwiseProblem(x: ins[0].shape, depthwise: ins[ins.count - 1].shape, out: out.shape, padding: a.padding)
            pointwiseDepthwise(norm: normEps.map { ($0, cf(ins[1]), cf(ins[2])) }, x: cf(ins[0]), pointwise: cf(ins[ins.count - 2]),
                               depthwise: cf(ins[ins.count - 1]), problem, out: f(out), ctx: ctx)
        case let .matmul(ta, tb, alpha):
            matmul(transposeA: ta, transposeB: tb, alpha: alpha, a: cf(ins[0]), aShape: ins[0].shape,
                   b: cf(ins[1]), bShape: ins[1].shape, out: f(out), outShape: out.shape, ctx: ctx)
        case .linear:
            linear(x: cf(ins[0]), xShape: ins[0].shape, weight: cf(ins[1]), wShape: ins[1].shape,
                   bias: ins.count > 2 ? cf(ins[2]) : nil, out: f(out), ctx: ctx)
        case let .layerNormChannels(eps):
            layerNormChannels(eps: eps, x: cf(ins[0]), shape: ins[0].shape, weight: cf(ins[1]),
                              bias: ins.count > 2 ? cf(ins[2]) : nil, out: f(out), ctx: ctx)
        case let .layerNorm(eps):
            layerNorm(eps: eps, x: cf(ins[0]), shape: ins[0].shape, weight: cf(ins[1]),
                      bias: ins.count > 2 ? cf(ins[2]) : nil, out: f(out), ctx: ctx)
        case let .groupNorm(groups, eps):
            groupNorm(groups: groups, eps: eps, x: cf(ins[0]), shape: ins[0].shape, weight: cf(ins[1]),
                      bias: cf(ins[2]), out: f(out), ctx: ctx)
        case let .globalNorm(eps):
            globalNorm(eps: eps, x: cf(ins[0]), shape: ins[0].shape, weight: cf(ins[1]), bias: cf(ins[2]),
                       out: f(out), ctx: ctx)
        case let .globalStats(eps):
            globalStats(eps: eps, x: cf(ins[0]), shape: ins[0].shape, out: f(out), ctx: ctx)
        case let .globalPool(kind):
            globalPool(kind, x: cf(ins[0]), shape: ins[0].shape, out: f(out), ctx: ctx)
        case let .channelReduce(kind):
            channelReduce(kind, x: cf(ins[0]), shape: ins[0].shape, out: f(out), ctx: ctx)
        case .softmax:
            softmax(x: cf(ins[0]), shape: ins[0].shape, out: f(out), ctx: ctx)
        case let .unary(kind):
            unary(kind, x: cf(ins[0]), out: f(out), count: out.count, ctx: ctx)
        case let .binary(kind):
            binary(kind, a: cf(ins[0]), aShape: ins[0].shape, b: cf(ins[1]), bShape: ins[1].shape,
                   out: f(out), outShape: out.shape, ctx: ctx)
        case .film:
            film(x: cf(ins[0]), shape: ins[0].shape, gamma: cf(ins[1]), beta: cf(ins[2]), out: f(out), ctx: ctx)
        case .prelu:
            prelu(x: cf(ins[0]), shape: ins[0].shape, slope: cf(ins[1]), slopeCount: ins[1].count, out: f(out), ctx: ctx)
        case let .pixelShuffle(r):
            pixelShuffle(factor: r, x: cf(ins[0]), shape: ins[0].shape, out: f(out), ctx: ctx)
        case let .pixelUnshuffle(r):
            pixelUnshuffle(factor: r, x: cf(ins[0]), shape: ins[0].shape, out: f(out), ctx: ctx)
        case let .concat(axis):
            concat(axis: axis, inputs: ins.map { (cf($0), $0.shape) }, out: f(out), outShape: out.shape, ctx: ctx)
        case let .slice(axis, start, length):
            slice(axis: axis, start: start, length: length, x: cf(ins[0]), shape: ins[0].shape, out: f(out), ctx: ctx)
        case let .pad(top, _, left, _, mode):
            pad(top: top, left: left, mode: mode, x: cf(ins[0]), shape: ins[0].shape, out: f(out),
                outShape: out.shape, ctx: ctx)
        case let .crop(y, x0, _, _):
            crop(y: y, x: x0, x: cf(ins[0]), shape: ins[0].shape, out: f(out), outShape: out.shape, ctx: ctx)
        case .embedding:
            let ids = raw(ins[0]).assumingMemoryBound(to: Int32.self)
            try embedding(ids: ids, count: ins[0].count, table: cf(ins[1]), tableShape: ins[1].shape,
                          out: f(out), nodeName: node.name, ctx: ctx)
        case let .channelAttention(heads):
            channelAttention(heads: heads, q: cf(ins[0]), k: cf(ins[1]), v: cf(ins[2]), shape: ins[0].shape,
                             temperature: cf(ins[3]), out: f(out), ctx: ctx)
        case let .attention(scale, causal):
            attention(scale: scale, causal: causal, q: cf(ins[0]), qShape: ins[0].shape, k: cf(ins[1]),
                      kShape: ins[1].shape, v: cf(ins[2]), vShape: ins[2].shape,
                      bias: ins.count > 3 ? (cf(ins[3]), ins[3].shape) : nil, out: f(out), ctx: ctx)
        case let .windowAttention(heads, window, scale):
            windowAttention(heads: heads, window: window, scale: scale, q: cf(ins[0]), k: cf(ins[1]),
                            qShape: ins[0].shape, v: cf(ins[2]), vShape: ins[2].shape, bias: cf(ins[3]),
                            out: f(out), ctx: ctx)
        case let .resize(mode, _, _):
            resize(mode: mode, x: cf(ins[0]), shape: ins[0].shape, out: f(out), outShape: out.shape, ctx: ctx)
        case .reshape:
            break // a view: same memory as its input
        case let .permute(perm):
            permute(perm, x: UnsafeRawPointer(raw(ins[0])), shape: ins[0].shape,
                    elementSize: ins[0].dtype.byteSize, out: raw(out), ctx: ctx)
        }
    }
}
