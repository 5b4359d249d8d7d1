import Foundation

/// Opens any supported checkpoint, choosing the reader by the file's first bytes (never by
/// its extension): safetensors, PyTorch zip (`torch.save`), TorchScript (`torch.jit.save`)
/// or a NumPy `.npy` array (a one-tensor archive named after the file).
public enum CheckpointReader {
    public struct Loaded {
        public var archive: TensorArchive
        /// Entries a model does not need that were left out (optimizer state...).
        public var skipped: [String]
    }

    public static func read(path: String) throws -> Loaded {
        try read(file: MappedFile(path: path))
    }

    public static func read(file: MappedFile) throws -> Loaded {
        let head = file.slice(0, min(file.count, 16)).map { Array($0) } ?? []
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            return try TorchCheckpointReader.read(file: file)
        }
        if NPYReader.hasMagic(file) {
            return Loaded(archive: try NPYReader.readArchive(file: file), skipped: [])
        }
        if head.count >= 9, head[8] == UInt8(ascii: "{") {
            return Loaded(archive: try SafetensorsReader.read(file: file), skipped: [])
        }
        if head.starts(with: [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8]) {
            throw FileFormatError(path: file.path, format: "PyTorch legacy",
                                  "the pre-1.6 PyTorch format is not supported; re-save it with torch.save (zip format)")
        }
        if head.isEmpty {
            throw FileFormatError(path: file.path, format: "checkpoint", "file is empty")
        }
        throw FileFormatError(path: file.path, format: "checkpoint",
                              "unrecognised format (expected safetensors, a PyTorch zip checkpoint, a TorchScript archive or a .npy array)")
    }
}
