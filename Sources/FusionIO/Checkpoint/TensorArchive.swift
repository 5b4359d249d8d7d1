import Foundation
import FusionCore

/// The file formats a checkpoint can come in.
public enum CheckpointFormat: String, Sendable, CustomStringConvertible {
    case safetensors
    /// `torch.save` zip archive (`.pth`, `.pt`, `.model`).
    case torchZip = "PyTorch zip"
    /// `torch.jit.save` archive (OpenAI's `ViT-B-32.pt`).
    case torchScript = "TorchScript"
    /// A NumPy `.npy` array: one tensor named after the file.
    case npy

    public var description: String { rawValue }
}

/// All tensors of one checkpoint file, in file order, with their names as a model's
/// `state_dict` would give them (nesting joined with dots, DataParallel `module.` removed).
public struct TensorArchive: @unchecked Sendable {
    public let path: String
    public let format: CheckpointFormat
    public var tensors: [StoredTensor]
    /// Free-form metadata (safetensors `__metadata__`).
    public var metadata: [String: String]
    /// Keeps the mapped file alive while tensors view it.
    public let file: MappedFile?

    public init(path: String, format: CheckpointFormat, tensors: [StoredTensor], metadata: [String: String] = [:], file: MappedFile?) {
        self.path = path
        self.format = format
        self.tensors = tensors
        self.metadata = metadata
        self.file = file
    }

    public var names: [String] { tensors.map(\.name) }
    /// The total element count (saturating at `Int.max`: declared shapes can be huge).
    public var parameterCount: Int {
        tensors.reduce(0) { total, t in
            let (sum, overflow) = total.addingReportingOverflow(t.elementCount)
            return overflow ? Int.max : sum
        }
    }

    public func tensor(named name: String) -> StoredTensor? { tensors.first { $0.name == name } }

    /// The tensor, or an error naming the file and the missing tensor.
    public func require(_ name: String) throws -> StoredTensor {
        guard let t = tensor(named: name) else {
            throw FileFormatError(path: path, format: format.rawValue, "no tensor named '\(name)'")
        }
        return t
    }

    /// The tensors whose names start with `prefix`, renamed without it.
    public func withPrefix(_ prefix: String) -> TensorArchive {
        var copy = self
        copy.tensors = tensors.filter { $0.name.hasPrefix(prefix) }.map {
            var t = $0
            t.name = String($0.name.dropFirst(prefix.count))
            return t
        }
        return copy
    }
}
