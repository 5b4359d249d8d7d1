import FusionCore
import FusionModels

/// Whole networks as benchmarks: TextFusion (its published weights), Text-IF (released
/// configuration, random or real weights) and the CLIP ViT-B/32 text tower (random
/// weights: the timing does not depend on the values).
public enum ModelBenchCases {
    public static let names = ["textfusion", "textif", "clip-text"]

    /// TextFusion at `height` x `width` with a random 512-d prompt folded into the head.
    public static func textFusion(_ weights: TextFusionWeights, height: Int, width: Int) throws -> BenchCase {
        let graph = try TextFusionGraph.build(weights, height: height, width: width)
        var inputs = BenchCase.randomInputs(for: graph)
        let text = Tensor.random(shape: [512], seed: 5, in: -0.1...0.1).toFloatArray()
        inputs["head_ir"] = try TextFusionHead.infraredKernel(weights, textFeatures: text)
        return BenchCase(name: "textfusion", kind: .model, size: "\(height)x\(width)", graph: graph, inputs: inputs)
    }

    /// Text-IF, encoders and decoder in one graph, at `height` x `width` (multiples of 8).
    /// A graph whose plan (intermediates, inputs, weights) exceeds `bandAbove` bytes is
    /// built band-tiled (`TextIFGraph.defaultBandBytes`), as `fuse` does on small heaps, so
    /// that 1280x1024 fits a 2 GiB device; the name then says so.
    public static func textIF(_ weights: TextIFWeights, height: Int, width: Int, bandAbove: Int = 1536 << 20) throws -> BenchCase {
        var graph = try TextIFGraph.build(weights, height: height, width: width)
        var name = "textif (dim \(weights.dim))"
        if try TextIFGraph.plannedBytes(graph).total > bandAbove {
            graph = try TextIFGraph.build(weights, height: height, width: width, bandBytes: TextIFGraph.defaultBandBytes)
            name = "textif (dim \(weights.dim), banded)"
        }
        return BenchCase(name: name, kind: .model, size: "\(height)x\(width)", graph: graph)
    }

    /// The CLIP text tower on one 77-token prompt; ViT-B/32 shape unless weights are given.
    public static func clipText(_ weights: CLIPTextWeights? = nil) throws -> BenchCase {
        let w = weights ?? CLIPTextWeights(randomWidth: 512, layers: 12)
        let graph = try CLIPTextGraph.build(w, batch: 1)
        var inputs = BenchCase.randomInputs(for: graph)
        var eot = [Float](repeating: 0, count: w.contextLength)
        eot[w.contextLength - 1] = 1
        inputs["eot"] = Tensor(shape: [1, 1, w.contextLength], floats: eot)
        return BenchCase(name: "clip-text (width \(w.width), \(w.layers.count) layers)", kind: .model, size: "1x\(w.contextLength) tokens",
                         graph: graph, inputs: inputs)
    }
}
