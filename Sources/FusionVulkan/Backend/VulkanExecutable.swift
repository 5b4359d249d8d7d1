import Foundation
import FusionCore

/// A graph recorded into one command sequence: intermediates placed by the memory
/// planner in pooled device blocks, constants uploaded once, inputs and outputs moved
/// through persistent staging buffers whose copies are part of the same submission.
public final class VulkanExecutable: Executable {
    public let context: VulkanContext
    public let graph: Graph
    public let plan: MemoryPlan
    /// The per-dispatch GPU timings and totals of the last `run`.
    public private(set) var lastReport: SubmissionReport?

    private let sequence: CommandSequence
    private var tensors: [Int: DeviceTensor] = [:]
    private var inputSlots: [(name: String, tensor: DeviceTensor, staging: VulkanBuffer?)] = []
    private var outputSlots: [(name: String, tensor: DeviceTensor, staging: VulkanBuffer?)] = []
    /// Buffers that must live as long as the recorded commands.
    private var retained: [VulkanBuffer] = []

    public var peakIntermediateBytes: Int { plan.arenaBytes }
    /// Dispatches recorded for one run.
    public var dispatchCount: Int { sequence.dispatchCount }
    public var barrierCount: Int { sequence.barrierCount }
    /// All device memory this executable holds: intermediates, constants, inputs, outputs, scratch.
    public private(set) var deviceBytes: Int = 0

    init(context: VulkanContext, graph: Graph) throws {
        self.context = context
        self.graph = graph
        let info = context.info
        let alignment = max(256, Int(info.minStorageBufferOffsetAlignment))
        let maxBlock = Int(min(info.maxMemoryAllocationSize, UInt64(Int.max)))
        plan = try MemoryPlanner.plan(graph, alignment: alignment, maxBlockBytes: maxBlock)
        sequence = try CommandSequence(context: context, capacity: max(16, graph.nodes.count * 4))

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
            guard let out = tensors[node.output.id] else { throw FusionError.unknownValue(node.output.id) }
            let ins = try node.inputs.map { v -> DeviceTensor in
                guard let t = tensors[v.id] else { throw FusionError.unknownValue(v.id) }
                return t
            }
            try encoder.encode(node, ins, out)
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
        lastReport = try sequence.submit()
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
}
