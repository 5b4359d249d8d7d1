import Foundation
import FusionCore
import FusionIO
import FusionModels
import FusionVulkan

/// Text-IF in the catalogue: a released checkpoint (its own CLIP tower encodes the
/// prompts) or the released configuration with random weights; RGB in and out.
public final class TextIFEntry: CatalogueModel {
    public static let name = "textif"
    public static let summary = "Text-IF: degradation-aware fusion of RGB pairs under a task prompt (released checkpoints, or random weights)"
    public static let fuseOptions: Set<FuseOption> = [.fit, .post, .task, .randomWeights]
    public static let fusesImages = true
    public static let goldenKinds = ["textif"]

    public let weights: TextIFWeights
    public let weightsPath: String?
    public let weightsLabel: String

    init(weights: TextIFWeights, path: String?, label: String) {
        self.weights = weights
        weightsPath = path
        weightsLabel = label
    }

    public static func load(_ settings: ModelSettings) throws -> TextIFEntry {
        switch try settings.weightsSource(model: name, checkpoint: "a released checkpoint") {
        case let .file(path):
            return TextIFEntry(weights: try TextIFWeights(CheckpointReader.read(path: path).archive), path: path, label: path)
        case let .random(seed):
            return TextIFEntry(weights: TextIFWeights(randomDim: 48, seed: seed), path: nil, label: "random released configuration (seed \(seed))")
        }
    }

    /// Encoders and decoder in one graph. A graph whose plan (intermediates, inputs,
    /// weights) exceeds `bandAbove` bytes is built band-tiled (`TextIFGraph.defaultBandBytes`),
    /// as `fuse` does on small heaps, so that 1280x1024 fits a 2 GiB device; the name says so.
    public func workload(height: Int, width: Int, batch: Int) throws -> ModelWorkload {
        try workload(height: height, width: width, batch: batch, bandAbove: 1536 << 20)
    }

    public func workload(height: Int, width: Int, batch: Int, bandAbove: Int) throws -> ModelWorkload {
        var graph = try TextIFGraph.build(weights, height: height, width: width, batch: batch)
        var name = "textif (dim \(weights.dim))"
        if try TextIFGraph.plannedBytes(graph).total > bandAbove {
            graph = try TextIFGraph.build(weights, height: height, width: width, bandBytes: TextIFGraph.defaultBandBytes, batch: batch)
            name = "textif (dim \(weights.dim), banded)"
        }
        return ModelWorkload(name: name, size: "\(height)x\(width)" + (batch > 1 ? " x\(batch)" : ""), graph: graph)
    }

    /// `clip`, else the tower inside the checkpoint (`model_clip.*`), as the original does.
    public func promptEncoder(_ settings: ModelSettings, on backend: SelectedBackend) throws -> PromptEncoder {
        guard let path = settings.clip ?? weightsPath else {
            throw CatalogueError("with --random-weights, prompts need a CLIP tower: --clip FILE (or pass --text-features)")
        }
        return try PromptEncoder(clipPath: path, vocabularyPath: settings.vocabulary, heads: settings.clipHeads, backend: backend)
    }

    public func pairModel(on backend: SelectedBackend, settings: ModelSettings) throws -> PairFusionModel? {
        TextIFPairModel(model: model(on: backend.backend), fit: settings.fit, post: settings.post)
    }

    /// The model on `backend`, with a per-executable memory budget on Vulkan.
    public func model(on backend: Backend) -> TextIFModel {
        TextIFModel(weights: weights, backend: backend, memoryBudget: Self.memoryBudget(backend))
    }

    /// On Vulkan, the bytes one Text-IF executable may plan (`TextIFModel.memoryBudget` of
    /// the device-local heap); nil on the CPU.
    public static func memoryBudget(_ backend: Backend) -> Int? {
        guard let vulkan = backend as? VulkanBackend else { return nil }
        let heap = vulkan.context.info.deviceLocalHeapBytes
        return heap > 0 ? TextIFModel.memoryBudget(heapBytes: Int(min(heap, UInt64(Int.max / 2)))) : nil
    }

    /// The original constructor's settings as the weights give them, by its argument names.
    /// The FFN width is `int(dim * factor)`, so a stated factor is taken when it gives the
    /// weights' width. Conv biases and bias-free LayerNorms are not built by this engine:
    /// weights that carry them (or lack LayerNorm biases) say so, and the check fails.
    static func configuration(_ w: TextIFWeights, archive: TensorArchive, statedFactor: Double?) -> [String: Any] {
        let hidden = w.encoderA.levels[0].first?.ffnIn.shape[0] ?? 0
        let factor: Any = statedFactor.map { Int(Double(w.dim) * $0) == hidden } == true ? statedFactor! : Double(hidden) / Double(w.dim)
        let convBias = archive.names.contains { $0.hasSuffix("encoder_A.patch_embed.proj.bias") }
        return ["dim": w.dim, "num_blocks": w.blocksPerLevel, "num_refinement_blocks": w.refinement.count, "heads": w.headsPerLevel,
                "ffn_expansion_factor": factor, "bias": convBias, "LayerNorm_type": "WithBias"]
    }

    /// The raw network output for the case's images and tokens; the text feature comes from
    /// the CLIP tower inside the same checkpoint (`model_clip.*`), as in the original.
    public static func checkGolden(_ golden: GoldenCase, with runner: GoldenRunner) throws -> GoldenResult {
        let start = Date()
        let archive = try CheckpointReader.read(path: golden.resolve("weights")).archive
        let weights = try TextIFWeights(archive)
        try golden.checkConfig(configuration(weights, archive: archive, statedFactor: try golden.config()["ffn_expansion_factor"] as? Double))
        let clip = CLIPTextEncoder(weights: try CLIPTextWeights(archive), backend: runner.backend.backend)
        let text = try clip.encode(tokens: golden.tokenRows())[0]
        let vis = try golden.imageTensor("vis", channels: [3]), ir = try golden.imageTensor("ir", channels: [3])
        guard vis.shape[2...] == ir.shape[2...] else { throw golden.malformed("'vis' is \(vis.shape) but 'ir' is \(ir.shape)") }
        let graph = try TextIFGraph.build(weights, height: vis.shape[2], width: vis.shape[3])
        guard let out = try runner.backend.backend.prepare(graph).run(["vis": vis, "ir": ir, "text": Tensor(shape: [1, text.count], floats: text)])["fused"] else {
            throw FusionError.backend("Text-IF: the graph produced no output")
        }
        return try golden.maxErrorResult(out, expected: "output", tolerance: 1e-4, backend: runner.backend.name, start: start)
    }
}
