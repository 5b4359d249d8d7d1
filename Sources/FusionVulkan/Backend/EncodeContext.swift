import FusionCore

/// What an op encoder needs while a graph is recorded: the device, the command sequence
/// being recorded, and helpers that bind tensors within the device's limits.
///
/// Op encoders are `extension EncodeContext` methods in `Ops/`, one file per kernel family,
/// each named `encodeXxx(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor)`.
final class EncodeContext {
    let context: VulkanContext
    /// The sequence being recorded (the executable moves to a new one between nodes).
    var sequence: CommandSequence
    /// The node being encoded (for labels and error messages).
    private(set) var node: Node?
    /// The epilogue of the node being encoded (nil when it has none); a kernel that applies
    /// it at its store marks it applied, else `encode` runs it as a pass of its own.
    var epilogue: PendingEpilogue?
    /// Temporary device buffers requested by encoders; kept alive by the executable.
    private(set) var scratchBuffers: [VulkanBuffer] = []
    /// Scratch of an earlier recording of the same graph: recording is deterministic, so
    /// request `i` takes buffer `i` again instead of allocating (the executable's
    /// recordings run one after another on the queue, so they can share it).
    private let reusable: [VulkanBuffer]

    init(context: VulkanContext, sequence: CommandSequence, reusing reusable: [VulkanBuffer] = []) {
        self.context = context
        self.sequence = sequence
        self.reusable = reusable
    }

    /// `maxStorageBufferRange`: the most bytes one binding may cover.
    var maxBindingBytes: Int { Int(min(UInt64(context.info.maxStorageBufferRange), UInt64(Int32.max))) }
    var offsetAlignment: Int { max(Int(context.info.minStorageBufferOffsetAlignment), 4) }
    var opName: String { node.map { "\($0.op.name) '\($0.name)'" } ?? "op" }
    /// How float activations and weights are stored (the context's `options.precision`).
    var precision: StoragePrecision { context.options.precision }
    /// The element type of float activations on the device (f16 with fp16 storage).
    var storageFloat: DType { precision.storageType(of: .f32) }

    func begin(_ node: Node) { self.node = node }

    /// Binds a whole tensor, or throws `limitExceeded` naming the op when it is larger than
    /// one binding may be (callers that can split use `bind(_:access:byteRange:)`).
    func bind(_ t: DeviceTensor, _ access: BufferBinding.Access) throws -> BufferBinding {
        guard t.byteCount <= maxBindingBytes else {
            throw FusionError.limitExceeded(op: opName,
                detail: "tensor \(t.shape) is \(t.byteCount) bytes, over maxStorageBufferRange \(maxBindingBytes), and this op cannot split it")
        }
        return BufferBinding(buffer: t.buffer, offset: t.offset, size: max(t.byteCount, 4), access: access)
    }

    /// Binds bytes `byteRange` of a tensor (relative to its element 0). The binding starts
    /// at the aligned-down offset; the returned `elementOffset` (in elements of `t.dtype`:
    /// 2 bytes with fp16 storage) is what the shader adds to index the first byte of the range.
    func bind(_ t: DeviceTensor, _ access: BufferBinding.Access, byteRange: Range<Int>) throws -> (binding: BufferBinding, elementOffset: Int) {
        let start = t.offset + byteRange.lowerBound
        let alignedStart = start / offsetAlignment * offsetAlignment
        let size = start - alignedStart + byteRange.count
        guard size <= maxBindingBytes else {
            throw FusionError.limitExceeded(op: opName, detail: "a binding of \(size) bytes is over maxStorageBufferRange \(maxBindingBytes)")
        }
        return (BufferBinding(buffer: t.buffer, offset: alignedStart, size: max(size, 4), access: access),
                (start - alignedStart) / t.dtype.byteSize)
    }

    /// A device buffer for intermediate results of one op (not shared with other nodes).
    /// `dtype` f32 (the default) for statistics and partial sums, which stay fp32 whatever
    /// the precision; `storageFloat` for activations that shaders read as STORE_T.
    func scratch(shape: [Int], dtype: DType = .f32) throws -> DeviceTensor {
        let bytes = max(shape.reduce(1, *) * dtype.byteSize, 4)
        let next = scratchBuffers.count
        let buffer = next < reusable.count && reusable[next].size >= bytes
            ? reusable[next] : try context.makeBuffer(bytes: bytes, kind: .deviceLocal)
        scratchBuffers.append(buffer)
        return DeviceTensor(buffer: buffer, offset: 0, shape: shape, dtype: dtype)
    }

    /// Records one dispatch of `shader` (a file in Shaders/). `groups` may exceed the
    /// device's per-dimension limit in x: it is folded into y, and shaders recover the
    /// linear group index with `gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x`.
    func dispatch(_ shader: String, defines: [(String, String)] = [], specialization: [UInt32] = [],
                  bindings: [BufferBinding], arguments: ShaderArguments, groups: (Int, Int, Int)) throws {
        // fp16 storage: every shader compiles its FK_FP16 variant (common.glsl's STORE_T).
        let defines = precision == .fp16 ? defines + [("FK_FP16", "1")] : defines
        let pipeline = try context.pipeline(shader: shader, defines: defines, specialization: specialization,
                                            bindings: bindings.count, pushConstantBytes: arguments.bytes.count)
        let limit = context.info.maxComputeWorkGroupCount.map { Int($0) }
        var (gx, gy, gz) = groups
        if gx > limit[0] {
            guard gy == 1 else {
                throw FusionError.limitExceeded(op: opName, detail: "dispatch \(groups) over maxComputeWorkGroupCount \(limit)")
            }
            gy = (gx + limit[0] - 1) / limit[0]
            gx = (gx + gy - 1) / gy
        }
        guard gx >= 1, gy >= 1, gz >= 1 else { return }
        guard gx <= limit[0], gy <= limit[1], gz <= limit[2] else {
            throw FusionError.limitExceeded(op: opName, detail: "dispatch \(groups) over maxComputeWorkGroupCount \(limit)")
        }
        try sequence.dispatch(pipeline, bindings: bindings, pushConstants: arguments.bytes,
                              groups: (UInt32(gx), UInt32(gy), UInt32(gz)), label: node?.name ?? shader)
    }
}

/// Number of workgroups of `size` threads covering `count` items.
func groupCount(_ count: Int, _ size: Int) -> Int { (count + size - 1) / size }
