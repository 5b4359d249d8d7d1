import Foundation
import FusionCore
import FusionIO

/// One golden case file (`../shared/golden/README.md`): tensors plus a JSON description in
/// the safetensors metadata under `"json"`. Paths in the JSON are relative to the file.
public struct GoldenCase {
    public let path: String
    public let archive: TensorArchive
    public let json: [String: Any]
    public let kind: String

    public init(path: String) throws {
        self.path = path
        archive = try SafetensorsReader.read(path: path)
        guard let text = archive.metadata["json"] else {
            throw FileFormatError(path: path, format: "golden case", "no \"json\" entry in the safetensors metadata")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw FileFormatError(path: path, format: "golden case", "the \"json\" metadata is not a JSON object")
        }
        json = object
        guard let kind = object["kind"] as? String else {
            throw FileFormatError(path: path, format: "golden case", "the JSON has no \"kind\"")
        }
        self.kind = kind
    }

    /// A path from the JSON, resolved against the case file's folder.
    public func resolve(_ key: String) throws -> String {
        guard let relative = json[key] as? String else {
            throw FileFormatError(path: path, format: "golden case", "the JSON has no \"\(key)\" path")
        }
        return relative.hasPrefix("/") ? relative : try resolvePath(relative)
    }

    /// A path relative to the case file's folder.
    public func resolvePath(_ relative: String) throws -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return URL(fileURLWithPath: absolute).deletingLastPathComponent().appendingPathComponent(relative).standardizedFileURL.path
    }

    public func floats(_ name: String) throws -> [Float] { try archive.require(name).floatValues() }

    /// An error naming this case and what is wrong with it.
    public func malformed(_ message: String) -> FileFormatError {
        FileFormatError(path: path, format: "golden case", message)
    }

    /// Tensor `name` as an image batch [1, C, H, W] with C in `channels`, checked before use.
    public func imageTensor(_ name: String, channels: Set<Int>) throws -> Tensor {
        let stored = try archive.require(name)
        let s = stored.shape
        guard s.count == 4, s[0] == 1, channels.contains(s[1]), s[2] > 0, s[3] > 0 else {
            throw malformed("'\(name)' has shape \(s); expected [1, C, H, W] with C in \(channels.sorted())")
        }
        return try stored.toTensor()
    }

    /// The stored expected output `name`, which must hold exactly `shape`'s elements.
    public func expected(_ name: String, shape: [Int]) throws -> [Float] {
        let stored = try archive.require(name)
        guard stored.elementCount == shape.reduce(1, *) else {
            throw malformed("'\(name)' has shape \(stored.shape) (\(stored.elementCount) values); the engine's output is \(shape)")
        }
        return try stored.floatValues()
    }
}
