import Foundation
import FusionIO

/// Text features given as a file: a safetensors tensor named `text_features` (or the only
/// tensor), or a `.npy` array; either way 512 values (shape [512] or [1, 512]).
public enum TextFeatures {
    public static func read(path: String, expectedCount: Int = 512) throws -> [Float] {
        let tensor = try stored(path: path)
        guard tensor.elementCount == expectedCount, tensor.shape.filter({ $0 != 1 }).count <= 1 else {
            throw FileFormatError(path: path, format: "text features",
                                  "tensor '\(tensor.name)' has shape \(tensor.shape); expected \(expectedCount) values ([\(expectedCount)] or [1, \(expectedCount)])")
        }
        return try values(tensor, path: path)
    }

    /// Token features of any length: a tensor of shape [1, L, `width`] or [L, `width`] with
    /// L >= 1 (IF-FILM's BLIP-2 features, one `.npy` per image), flattened row by row.
    public static func readTokens(path: String, width: Int) throws -> [Float] {
        let tensor = try stored(path: path)
        let s = tensor.shape
        guard (s.count == 3 && s[0] == 1 && s[2] == width) || (s.count == 2 && s[1] == width) else {
            throw FileFormatError(path: path, format: "text features",
                                  "tensor '\(tensor.name)' has shape \(s); expected token features [1, L, \(width)] or [L, \(width)]")
        }
        guard s[s.count - 2] >= 1 else {
            throw FileFormatError(path: path, format: "text features",
                                  "tensor '\(tensor.name)' has shape \(s): no tokens; at least one [\(width)] token is needed")
        }
        return try values(tensor, path: path)
    }

    /// The one tensor of a `.npy`, or of a safetensors file (`text_features` or the only one).
    static func stored(path: String) throws -> StoredTensor {
        let file = try MappedFile(path: path)
        let tensor: StoredTensor
        if let head = file.slice(0, 6), head.first == 0x93 {
            tensor = try NPYReader.read(file: file)
        } else {
            let archive = try SafetensorsReader.read(file: file)
            if let t = archive.tensor(named: "text_features") {
                tensor = t
            } else if archive.tensors.count == 1 {
                tensor = archive.tensors[0]
            } else {
                throw FileFormatError(path: path, format: "safetensors",
                                      "no tensor named 'text_features' and \(archive.tensors.count) tensors to choose from (\(archive.names.prefix(5).joined(separator: ", ")))")
            }
        }
        guard tensor.dtype.isFloatingPoint else {
            throw FileFormatError(path: path, format: "text features", "tensor '\(tensor.name)' is \(tensor.dtype), expected floats")
        }
        return tensor
    }

    static func values(_ tensor: StoredTensor, path: String) throws -> [Float] {
        let values: [Float]
        do { values = try tensor.floatValues() } catch let error as FileFormatError { throw error.located(path: path, format: "text features") }
        guard values.allSatisfy({ $0.isFinite }) else {
            throw FileFormatError(path: path, format: "text features", "tensor '\(tensor.name)' holds NaN or infinite values")
        }
        return values
    }
}
