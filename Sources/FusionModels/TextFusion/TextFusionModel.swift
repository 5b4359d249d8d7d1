import FusionCore

/// TextFusion on one backend: prepared graphs are cached per image size, and a prompt only
/// changes the folded head kernel (an input), so re-prompting costs nothing to prepare.
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
        let key = [height, width]
        if let e = executables[key] { return e }
        let graph = try TextFusionGraph.build(weights, height: height, width: width)
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

    /// Operations of one run at `height` x `width` (`GraphCost`), from the prepared graph.
    public func flops(height: Int, width: Int) throws -> Double {
        _ = try executable(height: height, width: width)
        return graphFLOPs[[height, width]] ?? 0
    }

    /// Fuses visible luminance and infrared, each [1,1,H,W] in [0,1], under a 512-d text
    /// feature; returns [1,1,H,W] in [0,1].
    public func fuse(visible: Tensor, infrared: Tensor, textFeatures: [Float]) throws -> Tensor {
        guard visible.shape.count == 4, visible.shape[0] == 1, visible.shape[1] == 1 else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "visible input has shape \(visible.shape), expected [1, 1, H, W]")
        }
        guard infrared.shape == visible.shape else {
            throw FusionError.invalidArgument(op: "TextFusion", detail: "infrared input has shape \(infrared.shape), visible \(visible.shape): they must match")
        }
        let head = try TextFusionHead.infraredKernel(weights, textFeatures: textFeatures)
        let e = try executable(height: visible.shape[2], width: visible.shape[3])
        guard let out = try e.run(["vis": visible, "ir": infrared, "head_ir": head])["fused"] else {
            throw FusionError.backend("TextFusion: the graph produced no output")
        }
        return out
    }
}
