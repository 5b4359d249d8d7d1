import ArgumentParser
import Foundation
import FusionIO
#if canImport(Glibc)
import Glibc
#endif

/// Checks run on an output path before any work: it can be written (folder exists and is
/// writable, the name fits the file system) and it is none of the command's inputs, so a
/// typo such as `-o ir.png` can never destroy an input.
enum OutputChecks {
    /// Throws a `CLIError` naming the options when `output` is (or would replace) any of
    /// `inputs`: the same resolved path, or the same file through a link.
    /// `probe: false` skips creating a probe file, for outputs of a folder already probed.
    static func check(_ output: String, option: String = "--output", distinctFrom inputs: [(option: String, path: String?)],
                      probe: Bool = true) throws {
        do {
            try AtomicFile.checkWritable(output, format: "output", probe: probe)
        } catch let error as FileFormatError {
            throw CLIError("\(option) \(output): \(error.message)")
        }
        let outputIdentity = identity(output)
        let outputPath = resolved(output)
        for (inputOption, path) in inputs {
            guard let path else { continue }
            let same = outputPath == resolved(path) || (outputIdentity != nil && outputIdentity == identity(path))
            if same {
                throw CLIError("\(option) \(output) is the same file as \(inputOption) \(path); writing it would destroy the input: choose another output name")
            }
        }
    }

    /// Device and inode of an existing file (links followed), nil when it does not exist.
    static func identity(_ path: String) -> [UInt64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }

    /// The absolute path with every link resolved; for a file that does not exist yet, its
    /// folder's resolved path and its name.
    static func resolved(_ path: String) -> String {
        if let real = realpath(path, nil) {
            defer { free(real) }
            return String(cString: real)
        }
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        if let real = realpath(folder, nil) {
            defer { free(real) }
            return String(cString: real) + "/" + url.lastPathComponent
        }
        return url.standardizedFileURL.path
    }
}
