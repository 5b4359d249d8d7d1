import FusionCore

/// TextFusion on one backend: prepared graphs are cached per image size and batch, and a
/// prompt only changes the folded head kernel (an input), so re-prompting costs nothing to
/// prepare. `fuse(visible:infrared:textFeatures:)` with arrays runs N pairs of one size,
/// each under its own prompt, in one batch-N graph run (see `TextFusionGraph` for how, and
/// for the memory: about N times the batch-1 intermediates). On the CPU a batch is no
/// faster per pair than single runs (every op already uses all threads; measured 112 vs
/// 116 ms per pair at 320x256, batch 1 vs 4, 2 cores); it saves per-run overhead on a GPU.
///
/// `submitFuse` / `finish` split a fuse in two, so that a caller can prepare the next pair
/// while the backend runs this one (on Vulkan; on the CPU `submitFuse` runs it). Not
/// thread-safe: call from one thread.
public final class TextFusionModel {
    public let weights: TextFusionWeights
    public let backend: Backend
    private var executables: [[Int]: Executable] = [:]
    private var order: [[Int]] = []
    private var graphFLOPs: [[Int]: Double] = [:]
    /// How many (size, batch) graphs stay prepared. On a backend whose executables share
    /// their intermediates (`Backend.sharesIntermediateMemory`: the CPU and Vulkan) a
    /// prepared size holds only its inputs, outputs and weights, so the default keeps 64
    /// and a mixed-size dataset prepares each size once; else 2.
    public var cachedSizes: Int

    public init(weights: TextFusionWeights, backend: Backend) {
        self.weights = weights
        self.backend = backend
        cachedSizes = backend.sharesIntermediateMemory ? 64 : 2
    }

    /// The prepared graph for `height` x `width` (built and prepared on first use).
    public func executable(height: Int, width: Int) throws -> Executable {
        try executable(height: height, width: width, batch: 1)
    }

    /// The prepared graph for `batch` pairs of `height` x `width` (built and prepared on
    /// first use; cached per (size, batch), `cachedSizes` of them).
    public func executable(height: Int, width: Int, batch: Int) throws -> Executable {
        let key = Self.key(height, width, batch)
        if let e = executables[key] { return e }
        let graph = try TextFusionGraph.build(weights, height: height, width: width, batch: batch)
        let e = try backend.prepare(graph)
        executables[key] = e
        graphFLOPs[key] = GraphCost.flops(graph)
        order.append(key)
        while order.count > cachedSizes {
            let evicted = order.removeFirst()
            executables[evicted] = nil
            graphFLOPs[evicted] = nil
        }
        return e
    }

    private static func key(_ height: Int, _ width: Int, _ batch: Int) -> [Int] {
        batch == 1 ? [height, width] : [height, width, batch]
    }

    /// Operations of one run at `height` x `width` (`GraphCost`), from the prepared graph.
    public func flops(height: Int, width: Int) throws -> Double {
        _ = try executable(height: height, width: width)
        return graphFLOPs[[height, width]] ?? 0
    }

    private func checkPair(visible: Tensor, infrared: Tensor, _ what: String = "") throws {
        guard visible.shape.count == 4, visible.shape[0] == 1, visible.shape[1] == 1 else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "visible input\(what) has shape \(visible.shape), expected [1, 1, H, W]")
        }
        guard infrared.shape == visible.shape else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "infrared input\(what) has shape \(infrared.shape), visible \(visible.shape): they must match")
        }
    }

    /// A fuse queued by `submitFuse`, collected by `finish`.
    public final class PendingFuse {
        fileprivate let executable: Executable
        fileprivate let run: SubmittedRun
        /// Pairs in the run (outputs of a batch are split per pair).
        fileprivate let batch: Int

        fileprivate init(executable: Executable, run: SubmittedRun, batch: Int) {
            self.executable = executable
            self.run = run
            self.batch = batch
        }
    }

    /// Fuses visible luminance and infrared, each [1,1,H,W] in [0,1], under a 512-d text
    /// feature; returns [1,1,H,W] in [0,1].
    public func fuse(visible: Tensor, infrared: Tensor, textFeatures: [Float]) throws -> Tensor {
        try finish(submitFuse(visible: visible, infrared: infrared, textFeatures: textFeatures))[0]
    }

    /// `fuse(visible:infrared:textFeatures:)` queued: returns once the backend has the work
    /// (on Vulkan, before it ran). At most two fuses of one size and batch may be pending.
    public func submitFuse(visible: Tensor, infrared: Tensor, textFeatures: [Float]) throws -> PendingFuse {
        try checkPair(visible: visible, infrared: infrared)
        let head = try TextFusionHead.infraredKernel(weights, textFeatures: textFeatures)
        let e = try executable(height: visible.shape[2], width: visible.shape[3])
        return PendingFuse(executable: e, run: try e.submit(["vis": visible, "ir": infrared, "head_ir": head]), batch: 1)
    }

    /// Waits for a fuse `submitFuse` queued: one tensor [1,1,H,W] per pair, as `fuse`
    /// returns them (the executable stays alive for it even if evicted from the cache).
    public func finish(_ pending: PendingFuse) throws -> [Tensor] {
        guard let out = try pending.executable.wait(pending.run)["fused"] else {
            throw FusionError.backend("TextFusion: the graph produced no output")
        }
        return pending.batch == 1 ? [out] : out.samples()
    }

    /// Fuses N pairs of one size in one graph run: pair i is `visible[i]`, `infrared[i]`
    /// (each [1,1,H,W] in [0,1]) under its own prompt `textFeatures[i]` (512 values);
    /// returns N tensors [1,1,H,W], each equal to `fuse(visible:infrared:textFeatures:)` on
    /// that pair (the batch-N graph computes every sample independently, see
    /// `TextFusionGraph`). The batch-N executable is cached per (size, N) and holds about N
    /// times the batch-1 intermediates; the inputs are copied once into [N,1,H,W] tensors.
    public func fuse(visible: [Tensor], infrared: [Tensor], textFeatures: [[Float]]) throws -> [Tensor] {
        guard !visible.isEmpty || !infrared.isEmpty || !textFeatures.isEmpty else { return [] }
        return try finish(submitFuse(visible: visible, infrared: infrared, textFeatures: textFeatures))
    }

    /// `fuse(visible:infrared:textFeatures:)` of a batch, queued (see `submitFuse` of one pair).
    public func submitFuse(visible: [Tensor], infrared: [Tensor], textFeatures: [[Float]]) throws -> PendingFuse {
        guard visible.count == infrared.count, visible.count == textFeatures.count else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "\(visible.count) visible, \(infrared.count) infrared images and \(textFeatures.count) text features: a batch needs one of each per pair")
        }
        guard let first = visible.first else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "a batch needs at least one pair")
        }
        for i in visible.indices {
            try checkPair(visible: visible[i], infrared: infrared[i], " \(i)")
            guard visible[i].shape == first.shape else {
                throw FusionError.invalidArgument(op: "TextFusion", detail: "pair \(i) is \(visible[i].shape[3])x\(visible[i].shape[2]), pair 0 \(first.shape[3])x\(first.shape[2]): a batch holds pairs of one size")
            }
        }
        if visible.count == 1 {
            return try submitFuse(visible: visible[0], infrared: infrared[0], textFeatures: textFeatures[0])
        }
        let heads = try textFeatures.map { try TextFusionHead.infraredKernel(weights, textFeatures: $0) }
        let e = try executable(height: first.shape[2], width: first.shape[3], batch: visible.count)
        let inputs = ["vis": try Tensor.stacked(visible), "ir": try Tensor.stacked(infrared), "head_ir": try Tensor.stacked(heads)]
        return PendingFuse(executable: e, run: try e.submit(inputs), batch: visible.count)
    }
}
