import Foundation

/// A file that cannot be read or written. The message always names the file, and where it
/// helps, the tensor, entry or byte offset at fault, so a user can act on it alone.
public struct FileFormatError: Error, CustomStringConvertible, Equatable {
    /// The file at fault, as the user named it.
    public let path: String
    /// The format being read or written ("safetensors", "PyTorch zip", "PNG"...).
    public let format: String
    public let message: String

    public init(path: String, format: String, _ message: String) {
        self.path = path
        self.format = format
        self.message = message
    }

    public var description: String { "\(path): \(format): \(message)" }
}

extension FileFormatError {
    /// The same error with the file and format filled in where a lower layer left them empty.
    public func located(path: String, format: String) -> FileFormatError {
        FileFormatError(path: self.path.isEmpty ? path : self.path, format: self.format.isEmpty ? format : self.format, message)
    }
}
