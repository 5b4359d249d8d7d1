import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file atomically: the bytes go to a temporary file in the destination's folder,
/// which is renamed over the destination only when everything was written and synced.
/// An error (or a crash) part-way never leaves a partial output file under the final name.
public enum AtomicFile {
    /// Calls `body` with a temporary path next to `path`; when it returns without throwing,
    /// the temporary file replaces `path`. On any error the temporary file is removed.
    public static func write(to path: String, format: String, _ body: (_ temporaryPath: String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileFormatError(path: path, format: format, "output folder \(directory) does not exist")
        }
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try body(temporary)
            let fd = open(temporary, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
            guard rename(temporary, path) == 0 else {
                throw FileFormatError(path: path, format: format, "cannot rename the finished file into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String, format: String) throws {
        try write(to: path, format: format) { temporary in
            guard FileManager.default.createFile(atPath: temporary, contents: data) else {
                throw FileFormatError(path: path, format: format, "cannot write: \(String(cString: strerror(errno)))")
            }
        }
    }
}
