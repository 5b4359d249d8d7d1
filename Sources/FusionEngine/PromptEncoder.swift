import Crypto
import Foundation
import FusionCore
import FusionIO
import FusionModels

/// Prompts in, CLIP text features out: the tokenizer, a CLIP text tower loaded from any
/// supported checkpoint, and a feature cache on disk keyed by the weights' SHA-256 and the
/// prompt, so a prompt already encoded with the same weights costs neither the tower nor
/// the checkpoint load.
public class PromptEncoder {
    public let clipPath: String
    /// The tower's attention head count; nil derives it as OpenAI does (width / 64).
    public let heads: Int?
    public let tokenizer: CLIPTokenizer
    public let backend: SelectedBackend
    /// `$FUSIONKIT_CACHE/text-features` (else `~/.cache/fusionkit/text-features`); nil disables it.
    public let cacheDirectory: URL?
    private var encoder: CLIPTextEncoder?
    private var weightsDigest: String?
    public private(set) var diskHits = 0

    public convenience init(clipPath: String, vocabularyPath: String? = nil, heads: Int? = nil, backend: SelectedBackend,
                            environment: [String: String], useCache: Bool = true) throws {
        try self.init(clipPath: clipPath, vocabularyPath: vocabularyPath, heads: heads, backend: backend,
                      options: FusionOptions(environment: environment), useCache: useCache)
    }

    public init(clipPath: String, vocabularyPath: String? = nil, heads: Int? = nil, backend: SelectedBackend,
                options: FusionOptions = .current, useCache: Bool = true) throws {
        self.clipPath = clipPath
        self.heads = heads
        self.backend = backend
        tokenizer = try CLIPTokenizer(searching: vocabularyPath, options: options)
        guard FileManager.default.isReadableFile(atPath: clipPath) else {
            throw FileFormatError(path: clipPath, format: "CLIP weights", "cannot open: no such readable file")
        }
        if useCache {
            cacheDirectory = options.cacheRoot.appendingPathComponent("text-features")
        } else {
            cacheDirectory = nil
        }
    }

    /// The loaded tower (loaded on first need).
    public func textEncoder() throws -> CLIPTextEncoder {
        if let encoder { return encoder }
        let loaded = try CheckpointReader.read(path: clipPath).archive
        let e = CLIPTextEncoder(weights: try CLIPTextWeights(loaded, heads: heads), backend: backend.backend)
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

    /// The cache file of one token sequence: <cache>/<weights sha>[-heads N]/<sha of the
    /// ids>.features, a `CacheEntry` (checksummed, keyed by both hashes and an explicit head
    /// count, which changes the features) holding a small safetensors file.
    private func cacheFile(_ row: [Int32]) throws -> (path: String, key: String)? {
        guard let cacheDirectory else { return nil }
        let ids = row.withUnsafeBytes { SHA256.hash(data: Data($0)) }.map { String(format: "%02x", $0) }.joined()
        let weights = try digest() + (heads.map { "-heads\($0)" } ?? "")
        return (cacheDirectory.appendingPathComponent(weights).appendingPathComponent(ids + ".features").path,
                "text-features \(weights) \(ids)")
    }

    private func cached(_ row: [Int32]) throws -> [Float]? {
        guard let (path, key) = try cacheFile(row), let payload = CacheEntry.read(path, key: key) else { return nil }
        // The checksum vouches for the bytes; the stored ids must still be the prompt's.
        guard let archive = try? SafetensorsReader.read(file: MappedFile(data: payload, path: path)),
              let t = archive.tensor(named: "text_features"), let ids = archive.tensor(named: "tokens"),
              let stored = try? ids.integerValues(), stored.map(Int32.init) == row,
              let values = try? t.floatValues(), values.allSatisfy(\.isFinite) else {
            CacheEntry.warn("discarded the cache entry \(path): it does not hold these tokens' features")
            unlink(path)
            return nil
        }
        diskHits += 1
        return values
    }

    private func store(_ row: [Int32], _ features: [Float]) throws {
        guard let (path, key) = try cacheFile(row) else { return }
        let payload = try SafetensorsWriter.encode([(name: "text_features", tensor: Tensor(shape: [features.count], floats: features)),
                                                    (name: "tokens", tensor: Tensor(shape: [row.count], ints: row))],
                                                   metadata: ["weights": clipPath])
        CacheEntry.write(payload, key: key, to: path)
    }
}
