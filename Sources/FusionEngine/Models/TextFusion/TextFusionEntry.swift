import Foundation
import FusionCore
import FusionIO
import FusionModels

/// TextFusion in the catalogue: the published LLVIP weights by default, CLIP text features
/// (from `--clip`) as prompts, luminance fusion with the visible image's chroma restored.
public final class TextFusionEntry: CatalogueModel {
    public static let name = "textfusion"
    public static let summary = "TextFusion: infrared + visible luminance under a CLIP ViT-B/32 text feature (published LLVIP weights)"
    public static let fuseOptions: Set<FuseOption> = [.grey, .resizeIR]
    public static let fusesImages = true
    public static let goldenKinds = ["textfusion", "textfusion_rgb"]

    public let weights: TextFusionWeights
    public let weightsPath: String?
    public var weightsLabel: String { weightsPath ?? "" }

    init(weights: TextFusionWeights, path: String) {
        self.weights = weights
        weightsPath = path
    }

    public static func load(_ settings: ModelSettings) throws -> TextFusionEntry {
        if settings.randomSeed != nil { throw CatalogueError("--random-weights: TextFusion has no random configuration; give --weights or use the published weights") }
        let path: String
        if let given = settings.weights {
            path = given
        } else {
            var store = WeightsStore()
            store.log = settings.log
            path = try store.resolve(.textFusionLLVIP)
        }
        return TextFusionEntry(weights: try TextFusionWeights(CheckpointReader.read(path: path).archive), path: path)
    }

    /// The graph with a random 512-d prompt folded into the head (the same for every sample).
    public func workload(height: Int, width: Int, batch: Int) throws -> ModelWorkload {
        let graph = try TextFusionGraph.build(weights, height: height, width: width, batch: batch)
        let text = Tensor.random(shape: [512], seed: 5, in: -0.1...0.1).toFloatArray()
        let head = try TextFusionHead.infraredKernel(weights, textFeatures: text)
        return ModelWorkload(name: Self.name, size: "\(height)x\(width)" + (batch > 1 ? " x\(batch)" : ""), graph: graph,
                             fixedInputs: ["head_ir": batch == 1 ? head : try Tensor.stacked(Array(repeating: head, count: batch))])
    }

    public func promptEncoder(_ settings: ModelSettings, on backend: SelectedBackend) throws -> PromptEncoder {
        guard let clip = settings.clip else {
            throw CatalogueError("prompts given as text need a CLIP text encoder: give its weights with --clip FILE (e.g. OpenAI's ViT-B-32.pt), or pass --text-features FILE")
        }
        return try PromptEncoder(clipPath: clip, vocabularyPath: settings.vocabulary, heads: settings.clipHeads, backend: backend)
    }

    public func pairModel(on backend: SelectedBackend, settings: ModelSettings) throws -> PairFusionModel? {
        let model = TextFusionModel(weights: weights, backend: backend.backend)
        return TextFusionPairModel(model: model, grey: settings.grey, resizeIR: settings.resizeIR)
    }

    // MARK: - Golden cases

    /// A model per weights file, shared by the cases that use it.
    private static func model(_ path: String, _ runner: GoldenRunner) throws -> TextFusionModel {
        try runner.cached("textfusion:" + path) {
            let m = TextFusionModel(weights: try TextFusionWeights(CheckpointReader.read(path: path).archive), backend: runner.backend.backend)
            m.cachedSizes = 1
            return m
        }
    }

    public static func checkGolden(_ golden: GoldenCase, with runner: GoldenRunner) throws -> GoldenResult {
        golden.kind == "textfusion_rgb" ? try checkRGB(golden, runner) : try checkNetwork(golden, runner)
    }

    /// The network on the case's luminance tensors.
    private static func checkNetwork(_ golden: GoldenCase, _ runner: GoldenRunner) throws -> GoldenResult {
        let start = Date()
        let model = try model(golden.resolve("weights"), runner)
        let vis = try golden.imageTensor("vis", channels: [1])
        let ir = try golden.imageTensor("ir", channels: [1])
        guard vis.shape == ir.shape else { throw golden.malformed("'vis' is \(vis.shape) but 'ir' is \(ir.shape)") }
        let out = try model.fuse(visible: vis, infrared: ir, textFeatures: golden.floats("text_features"))
        return try golden.maxErrorResult(out, expected: "output", tolerance: 1e-4, backend: runner.backend.name, start: start)
    }

    /// The whole script path: images in, uint8 RGB out; at most 0.1% of the samples may be
    /// off by one (float summation order), none by more.
    private static func checkRGB(_ golden: GoldenCase, _ runner: GoldenRunner) throws -> GoldenResult {
        let start = Date()
        let network = try GoldenCase(path: golden.resolve("network_case"))
        let model = try model(network.resolve("weights"), runner)
        let infrared = try Image.read(path: golden.resolve("ir"))
        let visible = try Image.read(path: golden.resolve("vis"))
        let inputs = try TextFusionImages.inputs(infrared: infrared, visible: visible, grey: false)
        let fused = try model.fuse(visible: inputs.visible, infrared: inputs.infrared, textFeatures: network.floats("text_features"))
        let image = TextFusionImages.image(fused: fused, visible: visible, grey: false)
        let expected = try golden.archive.require("fused_rgb").integerValues()
        guard expected.count == image.samples.count else {
            throw FileFormatError(path: golden.path, format: "golden case",
                                  "fused_rgb holds \(expected.count) samples, the fused image \(image.samples.count)")
        }
        var offByOne = 0, worse = 0, maxAbs = 0
        for (a, b) in zip(image.samples, expected) {
            let d = abs(Int(a) - Int(b))
            maxAbs = max(maxAbs, d)
            if d == 1 { offByOne += 1 } else if d > 1 { worse += 1 }
        }
        let share = Double(offByOne) / Double(expected.count)
        let (_, rel) = errorStatistics(image.samples.map(Float.init), expected.map(Float.init))
        return GoldenResult(file: golden.path, kind: golden.kind, backend: runner.backend.name, shape: [image.height, image.width, image.channels],
                            maxAbsError: Double(maxAbs), relativeL2Error: rel,
                            criterion: "<= 0.1% of samples off by 1, none by more",
                            passed: worse == 0 && share <= 0.001,
                            detail: String(format: "%d samples off by 1 (%.4f%%), %d by more", offByOne, share * 100, worse),
                            seconds: Date().timeIntervalSince(start))
    }
}
