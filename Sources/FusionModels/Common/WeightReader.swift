import FusionCore
import FusionIO

/// Reads a model's tensors out of a checkpoint by name, checking each shape, so a wrong or
/// damaged checkpoint fails with the file, the tensor and both shapes named.
public struct WeightReader {
    public let archive: TensorArchive
    public let model: String

    public init(_ archive: TensorArchive, model: String) {
        self.archive = archive
        self.model = model
    }

    private func fail(_ message: String) -> FileFormatError {
        FileFormatError(path: archive.path, format: archive.format.rawValue, "\(model) weights: \(message)")
    }

    /// The tensor `name` as f32, which must have `shape` (nil: any shape).
    public func tensor(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        guard let stored = archive.tensor(named: name) else {
            throw fail("tensor '\(name)' is missing (is this a \(model) checkpoint?)")
        }
        if let shape, stored.shape != shape {
            throw fail("tensor '\(name)' has shape \(stored.shape), expected \(shape)")
        }
        guard stored.dtype.isFloatingPoint else {
            throw fail("tensor '\(name)' is \(stored.dtype), expected a floating-point type")
        }
        do {
            let t = try stored.toTensor()
            guard t.floats.allSatisfy({ $0.isFinite }) else { throw fail("tensor '\(name)' holds NaN or infinite values") }
            return t
        } catch let error as FileFormatError {
            throw error.located(path: archive.path, format: archive.format.rawValue)
        }
    }

    /// The values of `name` as a Float array (shape checked as in `tensor`).
    public func floats(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        try tensor(name, shape: shape).toFloatArray()
    }
}

extension TensorArchive {
    /// The prefix under which `anchor` is stored ("" when at the top level, e.g.
    /// "model_state_dict." in a training checkpoint), or nil when no tensor ends with it.
    public func keyPrefix(anchoredAt anchor: String) -> String? {
        names.first { $0 == anchor || $0.hasSuffix("." + anchor) }.map { String($0.dropLast(anchor.count)) }
    }
}
