import Foundation
import FusionIO

/// Text features given as a file: a safetensors tensor named `text_features` (or the only
/// tensor), or a `.npy` array; either way 512 values (shape [512] or [1, 512]).
public enum TextFeatures {
    public static func read(path: String, expectedCount: Int = 512) throws -> [Float] {
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
        guard tensor.elementCount == expectedCount, tensor.shape.filter({ $0 != 1 }).count <= 1 else {
            throw FileFormatError(path: path, format: "text features",
                                  "tensor '\(tensor.name)' has shape \(tensor.shape); expected \(expectedCount) values ([\(expectedCount)] or [1, \(expectedCount)])")
        }
        let values: [Float]
        do { values = try tensor.floatValues() } catch let error as FileFormatError { throw error.located(path: path, format: "text features") }
        guard values.allSatisfy({ $0.isFinite }) else {
            throw FileFormatError(path: path, format: "text features", "tensor '\(tensor.name)' holds NaN or infinite values")
        }
        return values
    }
}
