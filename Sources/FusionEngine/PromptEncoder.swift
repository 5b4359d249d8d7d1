import Crypto
import Foundation
import FusionCore
import FusionIO
import FusionModels

/// Prompts in, CLIP text features out: the tokenizer, a CLIP text tower loaded from any
/// supported checkpoint, and a feature cache on disk keyed by the weights' SHA-256 and the
/// prompt, so a prompt already encoded with the same weights costs neither the tower nor
/// the checkpoint load.
public final class PromptEncoder {
    public let clipPath: String
    public let tokenizer: CLIPTokenizer
    public let backend: SelectedBackend
    /// `$FUSIONKIT_CACHE/text-features` (else `~/.cache/fusionkit/text-features`); nil disables it.
    public let cacheDirectory: URL?
    private var encoder: CLIPTextEncoder?
    private var weightsDigest: String?
    public private(set) var diskHits = 0

    public init(clipPath: String, vocabularyPath: String? = nil, backend: SelectedBackend,
                environment: [String: String] = ProcessInfo.processInfo.environment, useCache: Bool = true) throws {
        self.clipPath = clipPath
        self.backend = backend
        tokenizer = try CLIPTokenizer(searching: vocabularyPath, environment: environment)
        guard FileManager.default.isReadableFile(atPath: clipPath) else {
            throw FileFormatError(path: clipPath, format: "CLIP weights", "cannot open: no such readable file")
        }
        if useCache {
            let root = environment["FUSIONKIT_CACHE"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/fusionkit")
            cacheDirectory = root.appendingPathComponent("text-features")
        } else {
            cacheDirectory = nil
        }
    }

    /// The loaded tower (loaded on first need).
    public func textEncoder() throws -> CLIPTextEncoder {
        if let encoder { return encoder }
        let loaded = try CheckpointReader.read(path: clipPath).archive
        let e = CLIPTextEncoder(weights: try CLIPTextWeights(loaded), backend: backend.backend)
        encoder = e
        return e
    }

    /// Token ids of a prompt (77 of them); longer prompts are an error unless `truncate`.
    public func tokens(_ prompt: String, truncate: Bool) throws -> [Int32] {
        try tokenizer.tokenize(prompt, truncate: truncate)
    }

    /// Features for each prompt, from the disk cache where possible.
    public func encode(_ prompts: [String], truncate: Bool = false) throws -> [[Float]] {
        let rows = try prompts.map { try tokens($0, truncate: truncate) }
        var results = [[Float]?](repeating: nil, count: prompts.count)
        for (i, row) in rows.enumerated() { results[i] = try cached(row) }
        let missing = results.indices.filter { results[$0] == nil }
        if !missing.isEmpty {
            let features = try textEncoder().encode(tokens: missing.map { rows[$0] })
            for (k, i) in missing.enumerated() {
                results[i] = features[k]
                try? store(rows[i], features[k])
            }
        }
        return results.map { $0! }
    }

    // MARK: - Disk cache

    private func digest() throws -> String {
        if let weightsDigest { return weightsDigest }
        let d = try WeightsStore.sha256(ofFile: clipPath)
        weightsDigest = d
        return d
    }

    /// The cache file of one token sequence: <cache>/<weights sha>/<sha of the ids>.safetensors.
    private func cacheFile(_ row: [Int32]) throws -> URL? {
        guard let cacheDirectory else { return nil }
        let key = row.withUnsafeBytes { SHA256.hash(data: Data($0)) }.map { String(format: "%02x", $0) }.joined()
        return cacheDirectory.appendingPathComponent(try digest()).appendingPathComponent(key + ".safetensors")
    }

    private func cached(_ row: [Int32]) throws -> [Float]? {
        guard let url = try cacheFile(row), FileManager.default.fileExists(atPath: url.path) else { return nil }
        // A damaged cache entry is ignored (and rewritten), never trusted.
        guard let archive = try? SafetensorsReader.read(path: url.path), let t = archive.tensor(named: "text_features"),
              let ids = archive.tensor(named: "tokens"), (try? ids.integerValues())?.map(Int32.init) == row,
              let values = try? t.floatValues() else { return nil }
        diskHits += 1
        return values
    }

    private func store(_ row: [Int32], _ features: [Float]) throws {
        guard let url = try cacheFile(row) else { return }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafetensorsWriter.write([(name: "text_features", tensor: Tensor(shape: [features.count], floats: features)),
                                     (name: "tokens", tensor: Tensor(shape: [row.count], ints: row))],
                                    metadata: ["weights": clipPath], to: url.path)
    }
}
