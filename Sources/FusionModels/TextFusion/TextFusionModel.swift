import FusionCore

/// TextFusion on one backend: prepared graphs are cached per image size and batch, and a
/// prompt only changes the folded head kernel (an input), so re-prompting costs nothing to
/// prepare. `fuse(visible:infrared:textFeatures:)` with arrays runs N pairs of one size,
/// each under its own prompt, in one batch-N graph run (see `TextFusionGraph` for how, and
/// for the memory: about N times the batch-1 intermediates). On the CPU a batch is no
/// faster per pair than single runs (every op already uses all threads; measured 112 vs
/// 116 ms per pair at 320x256, batch 1 vs 4, 2 cores); it saves per-run overhead on a GPU.
public final class TextFusionModel {
    public let weights: TextFusionWeights
    public let backend: Backend
    private var executables: [[Int]: Executable] = [:]
    private var order: [[Int]] = []
    private var graphFLOPs: [[Int]: Double] = [:]
    /// How many sizes stay prepared (each holds its own device memory).
    public var cachedSizes = 2

    public init(weights: TextFusionWeights, backend: Backend) {
        self.weights = weights
        self.backend = backend
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

    /// Fuses visible luminance and infrared, each [1,1,H,W] in [0,1], under a 512-d text
    /// feature; returns [1,1,H,W] in [0,1].
    public func fuse(visible: Tensor, infrared: Tensor, textFeatures: [Float]) throws -> Tensor {
        try checkPair(visible: visible, infrared: infrared)
        let head = try TextFusionHead.infraredKernel(weights, textFeatures: textFeatures)
        let e = try executable(height: visible.shape[2], width: visible.shape[3])
        guard let out = try e.run(["vis": visible, "ir": infrared, "head_ir": head])["fused"] else {
            throw FusionError.backend("TextFusion: the graph produced no output")
        }
        return out
    }

    /// Fuses N pairs of one size in one graph run: pair i is `visible[i]`, `infrared[i]`
    /// (each [1,1,H,W] in [0,1]) under its own prompt `textFeatures[i]` (512 values);
    /// returns N tensors [1,1,H,W], each equal to `fuse(visible:infrared:textFeatures:)` on
    /// that pair (the batch-N graph computes every sample independently, see
    /// `TextFusionGraph`). The batch-N executable is cached per (size, N) and holds about N
    /// times the batch-1 intermediates; the inputs are copied once into [N,1,H,W] tensors.
    public func fuse(visible: [Tensor], infrared: [Tensor], textFeatures: [[Float]]) throws -> [Tensor] {
        guard visible.count == infrared.count, visible.count == textFeatures.count else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "\(visible.count) visible, \(infrared.count) infrared images and \(textFeatures.count) text features: a batch needs one of each per pair")
        }
        guard let first = visible.first else { return [] }
        for i in visible.indices {
            try checkPair(visible: visible[i], infrared: infrared[i], " \(i)")
            guard visible[i].shape == first.shape else {
                throw FusionError.invalidArgument(op: "TextFusion", detail: "pair \(i) is \(visible[i].shape[3])x\(visible[i].shape[2]), pair 0 \(first.shape[3])x\(first.shape[2]): a batch holds pairs of one size")
            }
        }
        if visible.count == 1 {
            return [try fuse(visible: visible[0], infrared: infrared[0], textFeatures: textFeatures[0])]
        }
        let heads = try textFeatures.map { try TextFusionHead.infraredKernel(weights, textFeatures: $0) }
        let e = try executable(height: first.shape[2], width: first.shape[3], batch: visible.count)
        let inputs = ["vis": try Tensor.stacked(visible), "ir": try Tensor.stacked(infrared), "head_ir": try Tensor.stacked(heads)]
        guard let out = try e.run(inputs)["fused"] else {
            throw FusionError.backend("TextFusion: the graph produced no output")
        }
        return out.samples()
    }
}
