import Foundation
import FusionCore

/// A graph prepared for Vulkan: intermediates placed by the memory planner in the
/// backend's shared `VulkanArena`, constants uploaded once, inputs in buffers of their own
/// (written directly where device memory is host visible, else through staging), outputs
/// copied into staging buffers; the copies are part of the recorded commands.
///
/// A graph whose work exceeds `submissionWorkLimit` is recorded as several command
/// sequences, cut between nodes, which a submission queues back to back and waits for in
/// order. That bounds the work of one submission (drivers and watchdogs reset a device
/// that runs one for too long; lavapipe takes minutes over a Text-IF decoder) and lets
/// each wait use a timeout that scales with its own work.
///
/// Every submission's first sequence starts with a barrier against all earlier work on
/// the queue (and each later sequence against the earlier ones), so submissions of this
/// and of the backend's other executables, which share the arena's blocks, run one after
/// another on the GPU whatever the host does meanwhile.
///
/// Two runs may be in flight (`submit`, then `wait`): each has its own staging set (input
/// buffers, with their staging, and output staging) and its own recording of the graph,
/// because a command buffer cannot be queued again while pending. The host writes the
/// next run's inputs and reads the previous run's outputs while the GPU runs the current
/// one. Outputs are always copied out of the shared arena into the set's staging (host
/// memory), because the next run, of this or another executable, may overwrite the arena
/// before the host reads them. The second set is made at the first submission that needs
/// it; `run` (submit, then wait) uses one.
///
/// Recordings are made at preparation (so an op the device cannot run fails there) and
/// made again, before a submission, when the arena replaced its blocks since (another
/// executable needed larger ones; see `VulkanArena` for when old blocks are freed).
public final class VulkanExecutable: Executable {
    public let context: VulkanContext
    public let graph: Graph
    public let plan: MemoryPlan
    /// How float values are stored on the device (the context's `options.precision`):
    /// inputs are converted at upload and outputs at download, so callers see f32 tensors.
    public let precision: StoragePrecision
    /// The per-dispatch GPU timings and totals of the last collected run (`run` or `wait`).
    public var lastReport: SubmissionReport? { stateLock.locked { report } }

    /// GPU operations (`GraphCost`) recorded in each sequence.
    public private(set) var sequenceFLOPs: [Double] = []
    /// Dispatches recorded for one run.
    public private(set) var dispatchCount = 0
    public private(set) var barrierCount = 0
    /// Queue submissions per run.
    public private(set) var submissionCount = 0
    /// The node (graph order) of each recorded dispatch, parallel to `lastReport.timings`.
    public private(set) var dispatchNodes: [Int] = []

    /// Bytes of the intermediates this graph needs; they live in the backend's shared
    /// arena (`VulkanBackend.arenaBytes`), which holds the largest need of its executables.
    public var peakIntermediateBytes: Int { plan.arenaBytes }
    /// Device memory this executable holds alone: constants, per-op scratch, and the
    /// inputs and staging of each staging set made.
    public var ownDeviceBytes: Int { stateLock.locked { ownBytes } }
    /// The device memory this graph needs: `ownDeviceBytes` plus its intermediates. The
    /// intermediates are shared with the backend's other executables, so the sum of
    /// `deviceBytes` over several executables overstates what they hold together
    /// (that is `VulkanBackend.arenaBytes` plus their `ownDeviceBytes`).
    public var deviceBytes: Int { ownDeviceBytes + plan.arenaBytes }

    private let arena: VulkanArena
    private let submissionWorkLimit: Double
    private let timeoutSeconds: Double?
    /// Constants, by value id.
    private var constants: [Int: DeviceTensor] = [:]
    private var inputSlots: [(name: String, value: Value)] = []
    private var outputSlots: [(name: String, value: Value)] = []
    /// Per-op scratch, made by the first recording and handed to every later one (guarded
    /// by the arena's lock, like recording).
    private var scratch: [VulkanBuffer] = []
    private var staged: [StagingSet]
    private let stateLock = NSLock()
    private var report: SubmissionReport?
    private var ownBytes = 0

    /// One recording of the whole graph, bound to the arena blocks of one generation and to
    /// one staging set.
    final class Recording {
        let sequences: [CommandSequence]
        let generation: Int
        init(sequences: [CommandSequence], generation: Int) {
            self.sequences = sequences
            self.generation = generation
        }
    }

    /// A staging set: what one run in flight owns.
    final class StagingSet {
        /// Per input (as `inputSlots`): the buffer the recording reads, and the staging the
        /// host writes when that buffer is not host visible.
        var inputs: [(tensor: DeviceTensor, staging: VulkanBuffer?)] = []
        /// Per output (as `outputSlots`): the staging the recording copies it into.
        var outputs: [VulkanBuffer] = []
        /// Whether the buffers were made.
        var isMade = false
        /// Guarded by the arena's lock (the arena drops it when its blocks change).
        var recording: Recording?
        /// Whether a submission using this set has not been collected (guarded by `stateLock`).
        var inFlight = false
    }

    /// A run queued by `submit`: which staging set and recording it used.
    final class Submission: SubmittedRun {
        let executable: VulkanExecutable
        let set: StagingSet
        let recording: Recording
        let startNanoseconds: UInt64
        /// Set (under the executable's `stateLock`) once collected.
        var collected = false

        init(executable: VulkanExecutable, set: StagingSet, recording: Recording, startNanoseconds: UInt64) {
            self.executable = executable
            self.set = set
            self.recording = recording
            self.startNanoseconds = startNanoseconds
        }

        deinit { executable.abandon(self) }
    }

    /// - Parameters:
    ///   - arena: the backend's shared intermediate memory.
    ///   - submissionWorkLimit: FLOP (`GraphCost`) after which recording moves to a new
    ///     command sequence; one node is never split.
    ///   - timeoutSeconds: the longest wait for one sequence; nil scales it with the
    ///     sequence's work (at least 10 minutes, and 20 s per GFLOP, so that a CPU
    ///     implementation at 50 MFLOP/s still finishes).
    init(context: VulkanContext, graph: Graph, arena: VulkanArena, submissionWorkLimit: Double = 50e9,
         timeoutSeconds: Double? = nil) throws {
        self.context = context
        self.graph = graph
        self.arena = arena
        self.submissionWorkLimit = submissionWorkLimit
        self.timeoutSeconds = timeoutSeconds
        let info = context.info
        let alignment = max(256, Int(info.minStorageBufferOffsetAlignment))
        let maxBlock = Int(min(info.maxMemoryAllocationSize, UInt64(Int.max)))
        precision = context.options.precision
        plan = try MemoryPlanner.plan(graph, alignment: alignment, maxBlockBytes: maxBlock, precision: precision,
                                      viewAlignment: max(4, Int(info.minStorageBufferOffsetAlignment)))
        staged = [StagingSet(), StagingSet()]

        // Constants: own buffers, uploaded once. Inputs and outputs: in each staging set.
        for info in graph.values {
            switch info.kind {
            case let .constant(t):
                let stored = precision.storageType(of: t.dtype)
                let buffer = try makeBuffer(bytes: t.count * stored.byteSize)
                try StorageConversion.upload(t, as: stored, to: buffer, at: 0)
                constants[info.value.id] = DeviceTensor(buffer: buffer, offset: 0, shape: t.shape, dtype: stored)
            case let .input(name):
                inputSlots.append((name, info.value))
            case .intermediate:
                break
            }
        }
        outputSlots = graph.outputs.map { ($0.name, $0.value) }

        try makeStaging(staged[0])
        arena.register(self)
        try arena.withBlocks(plan.blockSizes, for: what) { blocks, generation in
            staged[0].recording = try record(blocks: blocks, generation: generation, set: staged[0])
        }
    }

    private var what: String { "the intermediates of a \(graph.nodes.count)-node graph on Vulkan" }

    private func makeBuffer(bytes: Int, kind: BufferKind = .deviceLocal) throws -> VulkanBuffer {
        let buffer = try context.makeBuffer(bytes: max(bytes, 4), kind: kind)
        stateLock.locked { ownBytes += buffer.size }
        return buffer
    }

    /// Gives a staging set its buffers (once): a device buffer per input, with a staging
    /// buffer when the host cannot map it, and a staging buffer per output.
    private func makeStaging(_ set: StagingSet) throws {
        guard !set.isMade else { return }
        set.inputs = try inputSlots.map { _, v in
            let bytes = storedBytes(v)
            let buffer = try makeBuffer(bytes: bytes)
            return (DeviceTensor(buffer: buffer, offset: 0, shape: v.shape, dtype: precision.storageType(of: v.dtype)),
                    buffer.isHostVisible ? nil : try makeBuffer(bytes: bytes, kind: .staging))
        }
        set.outputs = try outputSlots.map { try makeBuffer(bytes: storedBytes($0.value), kind: .staging) }
        set.isMade = true
    }

    /// Device bytes of a value stored at this executable's precision.
    private func storedBytes(_ v: Value) -> Int { v.count * precision.storageBytes(of: v.dtype) }

    /// Records the graph against the arena's `blocks` and the staging set `set`. Called under the arena's lock.
    private func record(blocks: [VulkanBuffer], generation: Int, set: StagingSet) throws -> Recording {
        let tensors = bind(blocks: blocks, set: set)

        var sequence = try CommandSequence(context: context, capacity: max(16, graph.nodes.count * 4))
        var sequences = [sequence]
        var flops = [0.0]
        var nodes: [Int] = []
        // After whatever ran before on the queue: this executable's other run in flight, or
        // another executable's, both of which use the arena's blocks.
        try sequence.barrierAfterEarlierSubmissions()
        for (tensor, staging) in set.inputs {
            guard let staging else { continue }
            try sequence.copy(from: BufferBinding(buffer: staging, offset: 0, size: staging.size, access: .read),
                              to: BufferBinding(buffer: tensor.buffer, offset: tensor.offset, size: max(tensor.byteCount, 4), access: .write),
                              bytes: tensor.byteCount)
        }

        let encoder = EncodeContext(context: context, sequence: sequence, reusing: scratch)
        for node in graph.nodes {
            if plan.viewNodes.contains(node.index) { continue }
            let work = GraphCost.flops(of: node)
            if flops[sequences.count - 1] > 0, flops[sequences.count - 1] + work > submissionWorkLimit {
                try sequence.finish()
                sequence = try CommandSequence(context: context, capacity: max(16, (graph.nodes.count - node.index) * 4))
                try sequence.barrierAfterEarlierSubmissions()
                sequences.append(sequence)
                flops.append(0)
                encoder.sequence = sequence
            }
            flops[sequences.count - 1] += work
            let dispatchesBefore = sequence.dispatchCount
            guard let out = tensors[node.output.id] else { throw FusionError.unknownValue(node.output.id) }
            let ins = try node.inputs.map { v -> DeviceTensor in
                guard let t = tensors[v.id] else { throw FusionError.unknownValue(v.id) }
                return t
            }
            try encoder.encode(node, ins, out)
            nodes += Array(repeating: node.index, count: sequence.dispatchCount - dispatchesBefore)
        }

        for ((_, v), staging) in zip(outputSlots, set.outputs) {
            guard let t = tensors[v.id] else { throw FusionError.unknownValue(v.id) }
            try sequence.copy(from: BufferBinding(buffer: t.buffer, offset: t.offset, size: max(t.byteCount, 4), access: .read),
                              to: BufferBinding(buffer: staging, offset: 0, size: staging.size, access: .write),
                              bytes: t.byteCount)
        }
        try sequence.finish()
        for (s, work) in zip(sequences, flops) {
            let seconds = timeoutSeconds ?? max(600, work / 1e9 * 20)
            s.timeoutNanoseconds = UInt64(min(seconds, 1e9) * 1e9)
        }
        if scratch.isEmpty, !encoder.scratchBuffers.isEmpty {
            scratch = encoder.scratchBuffers
            let bytes = scratch.reduce(0) { $0 + $1.size }
            stateLock.locked { ownBytes += bytes }
        }
        // Every recording of one graph is the same commands; the first one's counts stand.
        if submissionCount == 0 {
            sequenceFLOPs = flops
            dispatchCount = sequences.reduce(0) { $0 + $1.dispatchCount }
            barrierCount = sequences.reduce(0) { $0 + $1.barrierCount }
            submissionCount = sequences.count
            dispatchNodes = nodes
        }
        return Recording(sequences: sequences, generation: generation)
    }

    /// Where every value lives for a recording against the arena's `blocks` and `set`.
    private func bind(blocks: [VulkanBuffer], set: StagingSet) -> [Int: DeviceTensor] {
        var tensors = constants
        for (id, p) in plan.placements {
            let v = graph.values[id].value
            tensors[id] = DeviceTensor(buffer: blocks[p.block], offset: p.offset, shape: v.shape, dtype: precision.storageType(of: v.dtype))
        }
        for ((_, v), input) in zip(inputSlots, set.inputs) { tensors[v.id] = input.tensor }
        // Views (reshapes, contiguous slices, operands of concats made in place:
        // `LayoutViews`) are ranges of their root's memory.
        for info in graph.values where plan.root[info.value.id] != info.value.id {
            let v = info.value
            if let src = tensors[plan.root[v.id]] {
                tensors[v.id] = DeviceTensor(buffer: src.buffer, offset: src.offset + plan.elementOffset[v.id] * precision.storageBytes(of: v.dtype),
                                             shape: v.shape, dtype: precision.storageType(of: v.dtype))
            }
        }
        return tensors
    }

    /// Forgets every recording not in flight (they bind arena blocks being replaced); the
    /// next submission records again. Called by the arena, under its lock, after the queue
    /// went idle.
    func dropRecordings() {
        for set in staged { set.recording = nil }
    }

    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try wait(submit(inputs))
    }

    /// Runs the graph one node per submission, each followed by a copy of the node's output
    /// into one readback buffer that the host reads before the next node runs: every
    /// intermediate is handed to `observer` while the arena keeps its planned size (the
    /// memory planner reuses a value's place once its readers ran, so the outputs cannot be
    /// read at the end). For parity and debugging: one submission per node is slow.
    public func run(_ inputs: [String: Tensor], observing observer: (Node, Tensor) throws -> Void) throws -> [String: Tensor] {
        try validateInputs(graph, inputs)
        let set = try claimStagingSet(for: "run")
        defer { stateLock.locked { set.inFlight = false } }
        try makeStaging(set)
        for ((name, _), (tensor, staging)) in zip(inputSlots, set.inputs) {
            guard let t = inputs[name] else { throw FusionError.missingInput(name: name) }
            try StorageConversion.upload(t, as: tensor.dtype, to: staging ?? tensor.buffer, at: staging == nil ? tensor.offset : 0)
        }
        let largest = graph.nodes.map { storedBytes($0.output) }.max() ?? 4
        let readback = try context.makeBuffer(bytes: max(largest, 4), kind: .staging)
        var results: [String: Tensor] = [:]
        try arena.withBlocks(plan.blockSizes, for: what) { blocks, _ in
            let tensors = bind(blocks: blocks, set: set)
            var first = true
            let encoder = EncodeContext(context: context, sequence: try CommandSequence(context: context, capacity: 16), reusing: scratch)
            for node in graph.nodes {
                let sequence = try CommandSequence(context: context, capacity: 16)
                try sequence.barrierAfterEarlierSubmissions()
                if first {
                    for (tensor, staging) in set.inputs {
                        guard let staging else { continue }
                        try sequence.copy(from: BufferBinding(buffer: staging, offset: 0, size: staging.size, access: .read),
                                          to: BufferBinding(buffer: tensor.buffer, offset: tensor.offset, size: max(tensor.byteCount, 4), access: .write),
                                          bytes: tensor.byteCount)
                    }
                    first = false
                }
                guard let out = tensors[node.output.id] else { throw FusionError.unknownValue(node.output.id) }
                if !plan.viewNodes.contains(node.index) {
                    let ins = try node.inputs.map { v -> DeviceTensor in
                        guard let t = tensors[v.id] else { throw FusionError.unknownValue(v.id) }
                        return t
                    }
                    encoder.sequence = sequence
                    try encoder.encode(node, ins, out)
                }
                if out.byteCount > 0 {
                    try sequence.copy(from: BufferBinding(buffer: out.buffer, offset: out.offset, size: max(out.byteCount, 4), access: .read),
                                      to: BufferBinding(buffer: readback, offset: 0, size: max(out.byteCount, 4), access: .write),
                                      bytes: out.byteCount)
                }
                try sequence.finish()
                try sequence.start()
                _ = try sequence.waitForCompletion()
                let t = Tensor(shape: node.output.shape, dtype: node.output.dtype)
                try StorageConversion.download(from: readback, at: 0, as: out.dtype, into: t)
                for (name, v) in outputSlots where v.id == node.output.id { results[name] = t }
                try observer(node, t)
            }
        }
        // Outputs that no node produced (an input or a constant returned as is).
        for (name, v) in outputSlots where results[name] == nil {
            if case let .input(inputName) = graph.values[v.id].kind, let t = inputs[inputName] { results[name] = t }
            if case let .constant(t) = graph.values[v.id].kind { results[name] = t }
        }
        return results
    }

    /// GPU time per node of the last collected run, from the dispatch timestamps; nil when
    /// the device's queue has no timestamps.
    public var lastProfile: RunProfile? {
        guard let r = lastReport, r.timestampsAvailable, r.timings.count == dispatchNodes.count else { return nil }
        var order: [Int] = []
        var perNode: [Int: (seconds: Double, dispatches: Int)] = [:]
        for (timing, node) in zip(r.timings, dispatchNodes) {
            if perNode[node] == nil { order.append(node) }
            perNode[node, default: (0, 0)].seconds += timing.gpuNanoseconds / 1e9
            perNode[node, default: (0, 0)].dispatches += 1
        }
        return RunProfile(nodes: order.map { NodeTiming(node: $0, seconds: perNode[$0]!.seconds, dispatches: perNode[$0]!.dispatches) },
                          timer: "gpu", deviceSpanSeconds: r.totalGPUNanoseconds / 1e9, submissions: submissionCount,
                          dispatches: dispatchCount, barriers: barrierCount)
    }

    /// This executable's own device memory and the intermediates it needs of the arena.
    public var heldBytes: Int { deviceBytes }

    /// Marks a free staging set in flight and returns it; `verb` names the caller in the
    /// error when both sets are in flight.
    private func claimStagingSet(for verb: String) throws -> StagingSet {
        try stateLock.locked {
            guard let free = staged.first(where: { !$0.inFlight }) else {
                throw VulkanError.invalidArgument("\(verb): two runs of this \(graph.nodes.count)-node graph are in flight already; wait for one first")
            }
            free.inFlight = true
            return free
        }
    }

    /// Writes `inputs` into a free staging set and queues the graph's work; returns at
    /// once. At most two runs may be in flight: a third `submit` before a `wait` throws.
    /// Collect each with `wait`, in any order.
    public func submit(_ inputs: [String: Tensor]) throws -> SubmittedRun {
        try validateInputs(graph, inputs)
        let set = try claimStagingSet(for: "submit")
        do {
            try makeStaging(set)
            // The set is not in flight: nothing on the GPU reads these buffers now.
            for ((name, _), (tensor, staging)) in zip(inputSlots, set.inputs) {
                guard let t = inputs[name] else { throw FusionError.missingInput(name: name) }
                try StorageConversion.upload(t, as: tensor.dtype, to: staging ?? tensor.buffer, at: staging == nil ? tensor.offset : 0)
            }
            let (recording, start) = try arena.withBlocks(plan.blockSizes, for: what) { blocks, generation -> (Recording, UInt64) in
                if set.recording?.generation != generation {
                    set.recording = nil // its sequences are not pending: the set was not in flight
                    set.recording = try record(blocks: blocks, generation: generation, set: set)
                }
                let recording = set.recording!
                let start = DispatchTime.now().uptimeNanoseconds
                try startAll(recording.sequences)
                return (recording, start)
            }
            return Submission(executable: self, set: set, recording: recording, startNanoseconds: start)
        } catch {
            stateLock.locked { set.inFlight = false }
            throw error
        }
    }

    /// Waits for a run `submit` queued and reads its outputs from its staging set. The
    /// report of its GPU timestamps becomes `lastReport`.
    public func wait(_ run: SubmittedRun) throws -> [String: Tensor] {
        guard let submission = run as? Submission, submission.executable === self else {
            throw VulkanError.invalidArgument("wait: the run was not submitted to this executable")
        }
        try stateLock.locked {
            guard !submission.collected else { throw VulkanError.invalidArgument("wait: the run was collected already") }
            submission.collected = true
        }
        defer { stateLock.locked { submission.set.inFlight = false } }
        let collected = try waitAll(submission.recording.sequences, since: submission.startNanoseconds)
        var results: [String: Tensor] = [:]
        for ((name, v), staging) in zip(outputSlots, submission.set.outputs) {
            let t = Tensor(shape: v.shape, dtype: v.dtype)
            try StorageConversion.download(from: staging, at: 0, as: precision.storageType(of: v.dtype), into: t)
            results[name] = t
        }
        stateLock.locked { report = collected }
        return results
    }

    /// A submission dropped without `wait`: waits it out, so its staging set can be used again.
    fileprivate func abandon(_ submission: Submission) {
        let pending = stateLock.locked { () -> Bool in
            defer { submission.collected = true }
            return !submission.collected
        }
        guard pending else { return }
        _ = try? waitAll(submission.recording.sequences, since: submission.startNanoseconds)
        stateLock.locked { submission.set.inFlight = false }
    }

    /// Queues every sequence back to back; on a failure, waits out those already queued.
    private func startAll(_ sequences: [CommandSequence]) throws {
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
    }

    /// Waits for each sequence in order; the report joins theirs (GPU time is the sum of
    /// the sequences' spans, wall time from the submission to the last completion).
    private func waitAll(_ sequences: [CommandSequence], since start: UInt64) throws -> SubmissionReport {
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
