import Foundation
import FusionCore

/// A graph recorded once: intermediates placed by the memory planner in pooled device
/// blocks, constants uploaded once, inputs and outputs moved through persistent staging
/// buffers whose copies are part of the recorded commands.
///
/// A graph whose work exceeds `submissionWorkLimit` is recorded as several command
/// sequences, cut between nodes, which `run` queues back to back and waits for in order.
/// That bounds the work of one submission (drivers and watchdogs reset a device that runs
/// one for too long; lavapipe takes minutes over a Text-IF decoder) and lets each wait use a
/// timeout that scales with its own work. Each later sequence starts with a barrier
/// against the earlier ones; a graph under the limit stays one submission.
public final class VulkanExecutable: Executable {
    public let context: VulkanContext
    public let graph: Graph
    public let plan: MemoryPlan
    /// The per-dispatch GPU timings and totals of the last `run`.
    public private(set) var lastReport: SubmissionReport?

    /// The recorded command sequences, in submission order (one unless the graph's work
    /// exceeds the submission limit).
    private var sequences: [CommandSequence] = []
    /// GPU operations (`GraphCost`) recorded in each sequence.
    public private(set) var sequenceFLOPs: [Double] = []
    private var tensors: [Int: DeviceTensor] = [:]
    private var inputSlots: [(name: String, tensor: DeviceTensor, staging: VulkanBuffer?)] = []
    private var outputSlots: [(name: String, tensor: DeviceTensor, staging: VulkanBuffer?)] = []
    /// Buffers that must live as long as the recorded commands.
    private var retained: [VulkanBuffer] = []

    public var peakIntermediateBytes: Int { plan.arenaBytes }
    /// Dispatches recorded for one run.
    public var dispatchCount: Int { sequences.reduce(0) { $0 + $1.dispatchCount } }
    public var barrierCount: Int { sequences.reduce(0) { $0 + $1.barrierCount } }
    /// Queue submissions per run.
    public var submissionCount: Int { sequences.count }
    /// The node (graph order) of each recorded dispatch, parallel to `lastReport.timings`.
    public private(set) var dispatchNodes: [Int] = []
    /// All device memory this executable holds: intermediates, constants, inputs, outputs, scratch.
    public private(set) var deviceBytes: Int = 0

    /// - Parameters:
    ///   - submissionWorkLimit: FLOP (`GraphCost`) after which recording moves to a new
    ///     command sequence; one node is never split.
    ///   - timeoutSeconds: the longest wait for one sequence; nil scales it with the
    ///     sequence's work (at least 10 minutes, and 20 s per GFLOP, so that a CPU
    ///     implementation at 50 MFLOP/s still finishes).
    init(context: VulkanContext, graph: Graph, submissionWorkLimit: Double = 50e9, timeoutSeconds: Double? = nil) throws {
        self.context = context
        self.graph = graph
        let info = context.info
        let alignment = max(256, Int(info.minStorageBufferOffsetAlignment))
        let maxBlock = Int(min(info.maxMemoryAllocationSize, UInt64(Int.max)))
        plan = try MemoryPlanner.plan(graph, alignment: alignment, maxBlockBytes: maxBlock)
        var sequence = try CommandSequence(context: context, capacity: max(16, graph.nodes.count * 4))
        sequences = [sequence]
        sequenceFLOPs = [0]

        // Intermediates: one buffer per planned block.
        var blocks: [VulkanBuffer] = []
        for size in plan.blockSizes {
            let buffer = try context.makeBuffer(bytes: size, kind: .deviceLocal)
            blocks.append(buffer)
            deviceBytes += size
        }
        retained += blocks
        for (id, p) in plan.placements {
            let v = graph.values[id].value
            tensors[id] = DeviceTensor(buffer: blocks[p.block], offset: p.offset, shape: v.shape, dtype: v.dtype)
        }

        // Constants and inputs: own buffers.
        for info in graph.values {
            switch info.kind {
            case let .constant(t):
                let buffer = try makeBuffer(bytes: t.byteCount)
                try buffer.write(UnsafeRawBufferPointer(t.bytes), at: 0)
                tensors[info.value.id] = DeviceTensor(buffer: buffer, offset: 0, shape: t.shape, dtype: t.dtype)
            case let .input(name):
                let buffer = try makeBuffer(bytes: info.value.byteCount)
                let tensor = DeviceTensor(buffer: buffer, offset: 0, shape: info.value.shape, dtype: info.value.dtype)
                tensors[info.value.id] = tensor
                let staging = buffer.isHostVisible ? nil : try context.makeBuffer(bytes: max(tensor.byteCount, 4), kind: .staging)
                if let staging {
                    retained.append(staging)
                    try sequence.copy(from: BufferBinding(buffer: staging, offset: 0, size: max(tensor.byteCount, 4), access: .read),
                                      to: BufferBinding(buffer: buffer, offset: 0, size: max(tensor.byteCount, 4), access: .write),
                                      bytes: tensor.byteCount)
                }
                inputSlots.append((name, tensor, staging))
            case .intermediate:
                break
            }
        }

        // Views (reshape) share their root's memory.
        for node in graph.nodes {
            if case .reshape = node.op, let src = tensors[plan.root[node.output.id]] {
                tensors[node.output.id] = DeviceTensor(buffer: src.buffer, offset: src.offset, shape: node.output.shape, dtype: node.output.dtype)
            }
        }

        let encoder = EncodeContext(context: context, sequence: sequence)
        for node in graph.nodes {
            if case .reshape = node.op { continue }
            let work = GraphCost.flops(of: node)
            if sequenceFLOPs[sequences.count - 1] > 0, sequenceFLOPs[sequences.count - 1] + work > submissionWorkLimit {
                try sequence.finish()
                sequence = try CommandSequence(context: context, capacity: max(16, (graph.nodes.count - node.index) * 4))
                try sequence.barrierAfterEarlierSubmissions()
                sequences.append(sequence)
                sequenceFLOPs.append(0)
                encoder.sequence = sequence
            }
            sequenceFLOPs[sequences.count - 1] += work
            let dispatchesBefore = sequence.dispatchCount
            guard let out = tensors[node.output.id] else { throw FusionError.unknownValue(node.output.id) }
            let ins = try node.inputs.map { v -> DeviceTensor in
                guard let t = tensors[v.id] else { throw FusionError.unknownValue(v.id) }
                return t
            }
            try encoder.encode(node, ins, out)
            dispatchNodes += Array(repeating: node.index, count: sequence.dispatchCount - dispatchesBefore)
        }

        // Outputs that are not intermediates (a graph input or constant returned as is)
        // get their own buffer and a copy.
        for (name, v) in graph.outputs {
            guard var t = tensors[v.id] else { throw FusionError.unknownValue(v.id) }
            if plan.placements[plan.root[v.id]] == nil {
                let buffer = try makeBuffer(bytes: v.byteCount)
                let copy = DeviceTensor(buffer: buffer, offset: 0, shape: v.shape, dtype: v.dtype)
                try encoder.encodeCopy(t, copy)
                t = copy
            }
            let staging = t.buffer.isHostVisible ? nil : try context.makeBuffer(bytes: max(t.byteCount, 4), kind: .staging)
            if let staging {
                retained.append(staging)
                try sequence.copy(from: BufferBinding(buffer: t.buffer, offset: t.offset, size: max(t.byteCount, 4), access: .read),
                                  to: BufferBinding(buffer: staging, offset: 0, size: max(t.byteCount, 4), access: .write),
                                  bytes: t.byteCount)
            }
            outputSlots.append((name, t, staging))
        }
        retained += encoder.scratchBuffers
        deviceBytes += encoder.scratchBuffers.reduce(0) { $0 + $1.size }
        try sequence.finish()
        for (s, work) in zip(sequences, sequenceFLOPs) {
            let seconds = timeoutSeconds ?? max(600, work / 1e9 * 20)
            s.timeoutNanoseconds = UInt64(min(seconds, 1e9) * 1e9)
        }
    }

    private func makeBuffer(bytes: Int) throws -> VulkanBuffer {
        let buffer = try context.makeBuffer(bytes: max(bytes, 4), kind: .deviceLocal)
        retained.append(buffer)
        deviceBytes += buffer.size
        return buffer
    }

    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try validateInputs(graph, inputs)
        for slot in inputSlots {
            guard let t = inputs[slot.name] else { throw FusionError.missingInput(name: slot.name) }
            if let staging = slot.staging {
                try staging.write(UnsafeRawBufferPointer(t.bytes), at: 0)
            } else {
                try slot.tensor.buffer.write(UnsafeRawBufferPointer(t.bytes), at: slot.tensor.offset)
            }
        }
        lastReport = try submitAll()
        var results: [String: Tensor] = [:]
        for slot in outputSlots {
            let t = Tensor(shape: slot.tensor.shape, dtype: slot.tensor.dtype)
            if let staging = slot.staging {
                try staging.read(into: t.bytes, at: 0)
            } else {
                try slot.tensor.buffer.read(into: t.bytes, at: slot.tensor.offset)
            }
            results[slot.name] = t
        }
        return results
    }

    /// Queues every sequence back to back, then waits for each in order; the report joins
    /// theirs (GPU time is the sum of the sequences' spans, wall time from the first
    /// submission to the last completion).
    private func submitAll() throws -> SubmissionReport {
        let start = DispatchTime.now().uptimeNanoseconds
        var started = 0
        do {
            for s in sequences {
                try s.start()
                started += 1
            }
        } catch {
            for s in sequences.prefix(started) { _ = try? s.waitForCompletion() }
            throw error
        }
        var timings: [DispatchTiming] = []
        var gpu = 0.0
        var available = true
        for (i, s) in sequences.enumerated() {
            let report: SubmissionReport
            do {
                report = try s.waitForCompletion()
            } catch {
                // Later sequences are queued behind this one: wait them out before unwinding.
                for later in sequences[(i + 1)...] { _ = try? later.waitForCompletion() }
                throw error
            }
            for t in report.timings {
                timings.append(DispatchTiming(label: t.label, index: timings.count, gpuNanoseconds: t.gpuNanoseconds))
            }
            gpu += report.totalGPUNanoseconds
            available = available && report.timestampsAvailable
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start)
        return SubmissionReport(timings: available ? timings : [], totalGPUNanoseconds: available ? gpu : 0,
                                wallNanoseconds: wall, timestampsAvailable: available)
    }
}
