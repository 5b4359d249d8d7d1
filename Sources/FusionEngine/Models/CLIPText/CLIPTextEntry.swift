import Foundation
import FusionCore
import FusionIO
import FusionModels

/// The CLIP text tower in the catalogue: prompts in, text features out. It fuses no
/// images; `bench` and `profile` run it, and its golden cases check the tokenizer and
/// the tower. Without weights it is ViT-B/32-shaped with random weights (timing does not
/// depend on the values).
public final class CLIPTextEntry: CatalogueModel {
    public static let name = "clip-text"
    public static let summary = "the CLIP text tower (ViT-B/32 shape): prompts to text features"
    public static let fuseOptions: Set<FuseOption> = []
    public static let fusesImages = false
    public static let goldenKinds = ["tokenizer", "clip_text"]

    public let weights: CLIPTextWeights
    public let weightsPath: String?
    public let weightsLabel: String

    init(weights: CLIPTextWeights, path: String?, label: String) {
        self.weights = weights
        weightsPath = path
        weightsLabel = label
    }

    public static func load(_ settings: ModelSettings) throws -> CLIPTextEntry {
        if let path = settings.weights {
            return CLIPTextEntry(weights: try CLIPTextWeights(CheckpointReader.read(path: path).archive, heads: settings.clipHeads), path: path, label: path)
        }
        let seed = settings.randomSeed ?? 1
        return CLIPTextEntry(weights: CLIPTextWeights(randomWidth: 512, layers: 12, seed: seed), path: nil,
                             label: "random ViT-B/32 shape (seed \(seed))")
    }

    /// `batch` prompts of the full context; `height` and `width` do not apply.
    public func workload(height: Int, width: Int, batch: Int) throws -> ModelWorkload {
        let graph = try CLIPTextGraph.build(weights, batch: batch)
        var eot = [Float](repeating: 0, count: batch * weights.contextLength)
        for b in 0..<batch { eot[b * weights.contextLength + weights.contextLength - 1] = 1 }
        return ModelWorkload(name: "clip-text (width \(weights.width), \(weights.layers.count) layers)",
                             size: "\(batch)x\(weights.contextLength) tokens", graph: graph,
                             fixedInputs: ["eot": Tensor(shape: [batch, 1, weights.contextLength], floats: eot)])
    }

    public func promptEncoder(_ settings: ModelSettings, on backend: SelectedBackend) throws -> PromptEncoder {
        guard let path = settings.clip ?? weightsPath else { throw CatalogueError("the CLIP tower with random weights encodes no real prompts: give its weights") }
        return try PromptEncoder(clipPath: path, vocabularyPath: settings.vocabulary, heads: settings.clipHeads, backend: backend)
    }

    public func pairModel(on backend: SelectedBackend, settings: ModelSettings) throws -> PairFusionModel? { nil }

    public static func checkGolden(_ golden: GoldenCase, with runner: GoldenRunner) throws -> GoldenResult {
        golden.kind == "tokenizer" ? try checkTokenizer(golden, runner) : try checkTower(golden, runner)
    }

    /// Token ids must match exactly; the "error" is the number of differing ids.
    private static func checkTokenizer(_ golden: GoldenCase, _ runner: GoldenRunner) throws -> GoldenResult {
        let start = Date()
        let tokenizer = try runner.tokenizer(for: golden)
        let expected = try golden.tokenRows()
        let prompts = try golden.prompts()
        guard prompts.count == expected.count else {
            throw FileFormatError(path: golden.path, format: "golden case", "\(prompts.count) prompts but \(expected.count) token rows")
        }
        let context = (golden.json["context_length"] as? Int) ?? 77
        guard (2...4096).contains(context) else { throw golden.malformed("context_length \(context) is outside 2...4096") }
        var wrongIDs = 0, wrongRows: [Int] = []
        for (i, prompt) in prompts.enumerated() {
            let got = try tokenizer.tokenize(prompt, contextLength: context, truncate: true)
            let diff = zip(got, expected[i]).filter { $0 != $1 }.count + abs(got.count - expected[i].count)
            if diff > 0 { wrongIDs += diff; wrongRows.append(i) }
        }
        return GoldenResult(file: golden.path, kind: golden.kind, backend: "-", shape: [expected.count, context],
                            maxAbsError: Double(wrongIDs), relativeL2Error: 0, criterion: "every token id equal",
                            passed: wrongIDs == 0, detail: wrongRows.isEmpty ? "" : "differing rows: \(wrongRows)",
                            seconds: Date().timeIntervalSince(start))
    }

    /// The tower on the case's prompts: features within rel L2 1e-5, tokens equal. The
    /// case's config gives the head count (which need not be width / 64); every other
    /// setting it states must equal what the weights give.
    private static func checkTower(_ golden: GoldenCase, _ runner: GoldenRunner) throws -> GoldenResult {
        let start = Date()
        let weightsPath = try golden.resolve("weights")
        let stated = try golden.config()["heads"]
        guard stated == nil || (stated as? Int).map({ $0 > 0 }) == true else { throw golden.malformed("config \"heads\" is \(stated!), not a positive integer") }
        let heads = stated as? Int
        let encoder = try runner.cached("clip-text:\(heads ?? 0):" + weightsPath) {
            CLIPTextEncoder(weights: try CLIPTextWeights(CheckpointReader.read(path: weightsPath).archive, heads: heads), backend: runner.backend.backend)
        }
        let w = encoder.weights
        try golden.checkConfig(["width": w.width, "layers": w.layers.count, "heads": w.heads, "embed_dim": w.embedDimension,
                                "context_length": w.contextLength, "vocab_size": w.vocabularySize])
        let expectedTokens = try golden.tokenRows()
        let tokenizer = try runner.tokenizer(for: golden)
        let rows = try golden.prompts().map { try tokenizer.tokenize($0, contextLength: encoder.weights.contextLength, truncate: true) }
        let tokensAgree = rows == expectedTokens
        let features = try golden.archive.require("features")
        let got = try encoder.encode(tokens: rows).flatMap { $0 }
        let expected = try features.floatValues()
        guard got.count == expected.count else {
            throw FileFormatError(path: golden.path, format: "golden case", "features hold \(expected.count) values, the encoder gave \(got.count)")
        }
        let (maxAbs, rel) = errorStatistics(got, expected)
        return GoldenResult(file: golden.path, kind: golden.kind, backend: runner.backend.name, shape: features.shape,
                            maxAbsError: maxAbs, relativeL2Error: rel, criterion: "rel L2 <= 1e-5, tokens equal",
                            passed: rel <= 1e-5 && tokensAgree, detail: tokensAgree ? "" : "token ids differ from the case's",
                            seconds: Date().timeIntervalSince(start))
    }
}
