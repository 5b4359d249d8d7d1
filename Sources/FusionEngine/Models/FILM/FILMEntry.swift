import Foundation
import FusionCore
import FusionIO
import FusionModels

/// IF-FILM in the catalogue: a released checkpoint (`models/IVF.pth` and siblings), grey
/// pairs in, grey (or, with `--color`, the visible image's chroma) out; the text comes as
/// BLIP-2 token features (`--text-features`, `--text-features-dir`).
public final class FILMEntry: CatalogueModel {
    public static let name = "film"
    public static let summary = "IF-FILM: vision-language fusion of grey pairs guided by BLIP-2 text features (released checkpoints)"
    public static let fuseOptions: Set<FuseOption> = [.post, .color, .randomWeights]
    public static let fusesImages = true
    public static let goldenKinds = ["film"]

    public let weights: FILMWeights
    public let weightsPath: String?
    public let weightsLabel: String

    init(weights: FILMWeights, path: String?, label: String) {
        self.weights = weights
        weightsPath = path
        weightsLabel = label
    }

    public static func load(_ settings: ModelSettings) throws -> FILMEntry {
        switch try settings.weightsSource(model: name, checkpoint: "a released checkpoint such as models/IVF.pth") {
        case let .file(path):
            return FILMEntry(weights: try FILMWeights(CheckpointReader.read(path: path).archive), path: path, label: path)
        case let .random(seed):
            return FILMEntry(weights: FILMWeights(randomSeed: seed), path: nil, label: "random released configuration (seed \(seed))")
        }
    }

    /// The whole network at one size with a 16-token text; a batch runs its samples one
    /// after another in the graph.
    public func workload(height: Int, width: Int, batch: Int) throws -> ModelWorkload {
        let tokens = 16
        let graph = try FILMGraph.build(weights, height: height, width: width, textTokens: tokens, batch: batch)
        return ModelWorkload(name: "film (\(tokens) text tokens)", size: "\(height)x\(width)" + (batch > 1 ? " x\(batch)" : ""), graph: graph)
    }

    /// BLIP-2 token features [1, L, D] or [L, D] (any L >= 1), flattened.
    public func readTextFeatures(path: String) throws -> [Float] {
        try TextFeatures.readTokens(path: path, width: weights.textDimension)
    }

    public func promptEncoder(_ settings: ModelSettings, on backend: SelectedBackend) throws -> PromptEncoder {
        throw CatalogueError("--model film takes BLIP-2 text features, not prompts: pass --text-features FILE (.npy [1, L, \(weights.textDimension)] or [L, \(weights.textDimension)], or safetensors), or --text-features-dir DIR in dataset mode")
    }

    public func pairModel(on backend: SelectedBackend, settings: ModelSettings) throws -> PairFusionModel? {
        FILMPairModel(model: FILMModel(weights: weights, backend: backend.backend), post: settings.filmPost, color: settings.color)
    }

    /// The output and the test script's uint8 image for the case's images and text features.
    public static func checkGolden(_ golden: GoldenCase, with runner: GoldenRunner) throws -> GoldenResult {
        let start = Date()
        let weightsPath = try golden.resolve("weights")
        let weights = try runner.cached("film:" + weightsPath) { try FILMWeights(CheckpointReader.read(path: weightsPath).archive) }
        try golden.checkConfig(weights.configuration)
        let ir = try golden.imageTensor("ir", channels: [1]), vis = try golden.imageTensor("vis", channels: [1])
        guard vis.shape == ir.shape else { throw golden.malformed("'vis' is \(vis.shape) but 'ir' is \(ir.shape)") }
        let text = try golden.archive.require("text_features")
        guard text.shape.count == 3, text.shape[0] == 1, text.shape[1] >= 1, text.shape[2] == weights.textDimension else {
            throw golden.malformed("'text_features' has shape \(text.shape); expected [1, L, \(weights.textDimension)]")
        }
        let model = try runner.cached("film-model:" + weightsPath) { FILMModel(weights: weights, backend: runner.backend.backend) }
        let out = try model.fuse(infrared: ir, visible: vis, text: text.toTensor())
        var result = try golden.maxErrorResult(out, expected: "output", tolerance: 1e-4, backend: runner.backend.name, start: start)
        // fused_u8: equal except at most 0.1% of the pixels off by one.
        let expected = try golden.expected("fused_u8", shape: out.shape)
        let got = FILMImages.originalU8(out.toFloatArray())
        var offByOne = 0, worse = 0
        for (a, b) in zip(got, expected) {
            let d = abs(Int(a) - Int(b))
            if d == 1 { offByOne += 1 } else if d > 1 { worse += 1 }
        }
        let u8Passed = worse == 0 && Double(offByOne) <= 0.001 * Double(got.count)
        result = GoldenResult(file: result.file, kind: result.kind, backend: result.backend, shape: result.shape,
                              maxAbsError: result.maxAbsError, relativeL2Error: result.relativeL2Error,
                              criterion: result.criterion + "; fused_u8 off by one on <= 0.1% of pixels",
                              passed: result.passed && u8Passed,
                              detail: "fused_u8: \(offByOne) of \(got.count) pixels off by one, \(worse) off by more",
                              seconds: Date().timeIntervalSince(start))
        return result
    }
}
