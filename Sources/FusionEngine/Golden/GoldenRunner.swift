import Foundation
import FusionCore
import FusionIO
import FusionModels

/// Runs golden cases on one backend. Each supported kind reproduces what the original
/// PyTorch code did and compares with its stored output; a kind the engine does not
/// support is an error, never a pass.
public final class GoldenRunner {
    public let backend: SelectedBackend
    /// TextFusion models by weights path, so cases sharing weights share prepared graphs.
    private var textFusionModels: [String: TextFusionModel] = [:]

    public static let supportedKinds = ["textfusion", "textfusion_rgb", "tokenizer", "clip_text", "textif"]
    /// The CLIP vocabulary; nil searches the standard places (next to the case too).
    public var vocabularyPath: String?
    private var clipEncoders: [String: CLIPTextEncoder] = [:]
    private var tokenizers: [String: CLIPTokenizer] = [:]

    public init(backend: SelectedBackend) {
        self.backend = backend
    }

    public func run(_ path: String) throws -> GoldenResult {
        let golden = try GoldenCase(path: path)
        let start = Date()
        switch golden.kind {
        case "textfusion": return try runTextFusion(golden, start: start)
        case "textfusion_rgb": return try runTextFusionRGB(golden, start: start)
        case "tokenizer": return try runTokenizer(golden, start: start)
        case "clip_text": return try runCLIPText(golden, start: start)
        case "textif": return try runTextIF(golden, start: start)
        default:
            throw FileFormatError(path: path, format: "golden case",
                                  "kind '\(golden.kind)' is not supported by this engine yet (supported: \(Self.supportedKinds.joined(separator: ", ")))")
        }
    }

    private func textFusion(weights path: String) throws -> TextFusionModel {
        if let m = textFusionModels[path] { return m }
        let weights = try TextFusionWeights(CheckpointReader.read(path: path).archive)
        let m = TextFusionModel(weights: weights, backend: backend.backend)
        m.cachedSizes = 1
        textFusionModels[path] = m
        return m
    }

    private func runTextFusion(_ golden: GoldenCase, start: Date) throws -> GoldenResult {
        let model = try textFusion(weights: golden.resolve("weights"))
        let vis = try golden.archive.require("vis").toTensor()
        let ir = try golden.archive.require("ir").toTensor()
        let expected = try golden.floats("output")
        let out = try model.fuse(visible: vis, infrared: ir, textFeatures: golden.floats("text_features"))
        let (maxAbs, rel) = errorStatistics(out.toFloatArray(), expected)
        let tolerance = 1e-4
        return GoldenResult(file: golden.path, kind: golden.kind, backend: backend.name, shape: out.shape,
                            maxAbsError: maxAbs, relativeL2Error: rel, criterion: "max |err| <= 1e-4",
                            passed: maxAbs <= tolerance, detail: "", seconds: Date().timeIntervalSince(start))
    }

    /// The whole script path: images in, uint8 RGB out; at most 0.1% of the samples may be
    /// off by one (float summation order), none by more.
    private func runTextFusionRGB(_ golden: GoldenCase, start: Date) throws -> GoldenResult {
        let network = try GoldenCase(path: golden.resolve("network_case"))
        let model = try textFusion(weights: network.resolve("weights"))
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
        return GoldenResult(file: golden.path, kind: golden.kind, backend: backend.name, shape: [image.height, image.width, image.channels],
                            maxAbsError: Double(maxAbs), relativeL2Error: rel,
                            criterion: "<= 0.1% of samples off by 1, none by more",
                            passed: worse == 0 && share <= 0.001,
                            detail: String(format: "%d samples off by 1 (%.4f%%), %d by more", offByOne, share * 100, worse),
                            seconds: Date().timeIntervalSince(start))
    }

    // MARK: - CLIP

    /// The tokenizer for a case, loaded once per vocabulary file.
    private func tokenizer(for golden: GoldenCase) throws -> CLIPTokenizer {
        let path: String
        if let vocabularyPath {
            path = vocabularyPath
        } else {
            let besideCase = try golden.resolvePath("../vocab/\(CLIPTokenizer.vocabularyFileName)")
            path = FileManager.default.fileExists(atPath: besideCase)
                ? besideCase : try CLIPTokenizer.locateVocabulary(explicitPath: nil, environment: ProcessInfo.processInfo.environment)
        }
        if let cached = tokenizers[path] { return cached }
        let t = try CLIPTokenizer(mergesPath: path)
        tokenizers[path] = t
        return t
    }

    private func prompts(_ golden: GoldenCase) throws -> [String] {
        guard let prompts = golden.json["prompts"] as? [String] else {
            throw FileFormatError(path: golden.path, format: "golden case", "the JSON has no \"prompts\" list")
        }
        return prompts
    }

    /// Rows of an i32 [N, 77] tensor.
    private func tokenRows(_ golden: GoldenCase) throws -> [[Int32]] {
        let t = try golden.archive.require("tokens")
        guard t.shape.count == 2 else { throw FileFormatError(path: golden.path, format: "golden case", "tokens has shape \(t.shape), expected [N, context]") }
        let ids = try t.integerValues().map { Int32(truncatingIfNeeded: $0) }
        return (0..<t.shape[0]).map { Array(ids[($0 * t.shape[1])..<(($0 + 1) * t.shape[1])]) }
    }

    /// Token ids must match exactly; the "error" is the number of differing ids.
    private func runTokenizer(_ golden: GoldenCase, start: Date) throws -> GoldenResult {
        let tokenizer = try tokenizer(for: golden)
        let expected = try tokenRows(golden)
        let prompts = try prompts(golden)
        guard prompts.count == expected.count else {
            throw FileFormatError(path: golden.path, format: "golden case", "\(prompts.count) prompts but \(expected.count) token rows")
        }
        let context = (golden.json["context_length"] as? Int) ?? 77
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

    private func runCLIPText(_ golden: GoldenCase, start: Date) throws -> GoldenResult {
        let weightsPath = try golden.resolve("weights")
        let encoder: CLIPTextEncoder
        if let e = clipEncoders[weightsPath] { encoder = e } else {
            encoder = CLIPTextEncoder(weights: try CLIPTextWeights(CheckpointReader.read(path: weightsPath).archive), backend: backend.backend)
            clipEncoders[weightsPath] = encoder
        }
        let expectedTokens = try tokenRows(golden)
        let prompts = try prompts(golden)
        let tokenizer = try tokenizer(for: golden)
        let rows = try prompts.map { try tokenizer.tokenize($0, contextLength: encoder.weights.contextLength, truncate: true) }
        let tokensAgree = rows == expectedTokens
        let features = try golden.archive.require("features")
        let got = try encoder.encode(tokens: rows).flatMap { $0 }
        let expected = try features.floatValues()
        guard got.count == expected.count else {
            throw FileFormatError(path: golden.path, format: "golden case", "features hold \(expected.count) values, the encoder gave \(got.count)")
        }
        let (maxAbs, rel) = errorStatistics(got, expected)
        return GoldenResult(file: golden.path, kind: golden.kind, backend: backend.name, shape: features.shape,
                            maxAbsError: maxAbs, relativeL2Error: rel, criterion: "rel L2 <= 1e-5, tokens equal",
                            passed: rel <= 1e-5 && tokensAgree, detail: tokensAgree ? "" : "token ids differ from the case's",
                            seconds: Date().timeIntervalSince(start))
    }

    // MARK: - Text-IF

    /// The raw network output for the case's images and tokens; the text feature comes from
    /// the CLIP tower inside the same checkpoint (`model_clip.*`), as in the original.
    private func runTextIF(_ golden: GoldenCase, start: Date) throws -> GoldenResult {
        let weightsPath = try golden.resolve("weights")
        let archive = try CheckpointReader.read(path: weightsPath).archive
        let weights = try TextIFWeights(archive)
        let clip = CLIPTextEncoder(weights: try CLIPTextWeights(archive), backend: backend.backend)
        let tokens = try tokenRows(golden)
        let text = try clip.encode(tokens: tokens)[0]
        let vis = try golden.archive.require("vis").toTensor(), ir = try golden.archive.require("ir").toTensor()
        let graph = try TextIFGraph.build(weights, height: vis.shape[2], width: vis.shape[3])
        guard let out = try backend.backend.prepare(graph).run(["vis": vis, "ir": ir, "text": Tensor(shape: [1, text.count], floats: text)])["fused"] else {
            throw FusionError.backend("Text-IF: the graph produced no output")
        }
        let expected = try golden.floats("output")
        let (maxAbs, rel) = errorStatistics(out.toFloatArray(), expected)
        return GoldenResult(file: golden.path, kind: golden.kind, backend: backend.name, shape: out.shape,
                            maxAbsError: maxAbs, relativeL2Error: rel, criterion: "max |err| <= 1e-4",
                            passed: maxAbs <= 1e-4, detail: "", seconds: Date().timeIntervalSince(start))
    }
}
