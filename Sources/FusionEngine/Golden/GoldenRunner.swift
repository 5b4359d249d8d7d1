import Foundation
import FusionCore
import FusionIO
import FusionModels

/// Runs golden cases on one backend. The model that owns a case's kind (`ModelCatalogue`)
/// reproduces what the original PyTorch code did and compares with the stored output; a
/// kind no model checks is an error, never a pass. Loaded weights, prepared graphs and
/// tokenizers are kept across cases, so cases that share weights share them.
public final class GoldenRunner {
    public let backend: SelectedBackend
    /// The CLIP vocabulary; nil searches the standard places (next to the case too).
    public var vocabularyPath: String?
    private var cache: [String: Any] = [:]

    /// Every kind some model of the catalogue checks.
    public static var supportedKinds: [String] { ModelCatalogue.goldenKinds }

    public init(backend: SelectedBackend) {
        self.backend = backend
    }

    public func run(_ path: String) throws -> GoldenResult {
        let golden = try GoldenCase(path: path)
        guard let model = ModelCatalogue.model(forGoldenKind: golden.kind) else {
            throw FileFormatError(path: path, format: "golden case",
                                  "kind '\(golden.kind)' is not supported by this engine yet (supported: \(Self.supportedKinds.joined(separator: ", ")))")
        }
        return try model.checkGolden(golden, with: self)
    }

    /// The value cached under `key` (e.g. a model kind and its weights path), made on first use.
    public func cached<T>(_ key: String, _ make: () throws -> T) throws -> T {
        if let value = cache[key] as? T { return value }
        let value = try make()
        cache[key] = value
        return value
    }

    /// The CLIP tokenizer for a case: `vocabularyPath`, else the vocabulary beside the
    /// golden folder, else the standard places; loaded once per file.
    public func tokenizer(for golden: GoldenCase) throws -> CLIPTokenizer {
        let path: String
        if let vocabularyPath {
            path = vocabularyPath
        } else {
            let besideCase = try golden.resolvePath("../vocab/\(CLIPTokenizer.vocabularyFileName)")
            path = FileManager.default.fileExists(atPath: besideCase)
                ? besideCase : try CLIPTokenizer.locateVocabulary(explicitPath: nil)
        }
        return try cached("tokenizer:" + path) { try CLIPTokenizer(mergesPath: path) }
    }
}

extension GoldenCase {
    /// The case's "config" object (the original model's constructor settings); empty when absent.
    public func config() throws -> [String: Any] {
        guard let value = json["config"] else { return [:] }
        guard let config = value as? [String: Any] else { throw malformed("\"config\" is not an object") }
        return config
    }

    /// Checks that every setting the case's config states equals what the engine derived
    /// from the weights (`derived`, by the config's own names); a stated setting the engine
    /// does not know is an error too, so no setting is ever silently ignored.
    public func checkConfig(_ derived: [String: Any]) throws {
        /// Both sides as JSON text, so [1, 2] equals the parsed (1, 2) and 2 equals 2.0.
        func json(_ value: Any) -> String {
            guard let data = try? JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys]) else { return "\(value)" }
            return String(decoding: data, as: UTF8.self).replacingOccurrences(of: ".0]", with: "]").replacingOccurrences(of: ".0,", with: ",")
        }
        for (key, stated) in try config().sorted(by: { $0.key < $1.key }) {
            guard let value = derived[key] else {
                throw malformed("config \"\(key)\" (\(json(stated).dropFirst().dropLast())) is a setting this engine does not apply")
            }
            guard json(value) == json(stated) else {
                throw malformed("config \"\(key)\" is \(json(stated).dropFirst().dropLast()), but the weights give \(json(value).dropFirst().dropLast())")
            }
        }
    }

    /// The case's "prompts" list.
    public func prompts() throws -> [String] {
        guard let prompts = json["prompts"] as? [String] else {
            throw FileFormatError(path: path, format: "golden case", "the JSON has no \"prompts\" list")
        }
        return prompts
    }

    /// Rows of the i32 [N, context] tensor "tokens".
    public func tokenRows() throws -> [[Int32]] {
        let t = try archive.require("tokens")
        guard t.shape.count == 2, t.shape[0] >= 1, t.shape[1] >= 2, t.shape[1] <= 4096 else {
            throw malformed("'tokens' has shape \(t.shape); expected [N >= 1, context 2...4096]")
        }
        let ids = try t.integerValues().map { Int32(truncatingIfNeeded: $0) }
        return (0..<t.shape[0]).map { Array(ids[($0 * t.shape[1])..<(($0 + 1) * t.shape[1])]) }
    }

    /// A result of this case on `backend` that passes when max |err| <= `tolerance`.
    public func maxErrorResult(_ got: Tensor, expected name: String, tolerance: Double, backend: String, start: Date) throws -> GoldenResult {
        let expected = try expected(name, shape: got.shape)
        let (maxAbs, rel) = errorStatistics(got.toFloatArray(), expected)
        return GoldenResult(file: path, kind: kind, backend: backend, shape: got.shape, maxAbsError: maxAbs, relativeL2Error: rel,
                            criterion: "max |err| <= " + String(format: "%.0e", tolerance).replacingOccurrences(of: "e-0", with: "e-"), passed: maxAbs <= tolerance, detail: "",
                            seconds: Date().timeIntervalSince(start))
    }
}
