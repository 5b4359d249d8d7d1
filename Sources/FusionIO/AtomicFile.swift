import CProcessGuard
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file atomically: the bytes go to a temporary file in the destination's folder,
/// which is renamed over the destination only when everything was written and synced.
///
/// Nothing is ever left behind under the final name or beside it:
/// - an error part-way removes the temporary file;
/// - SIGINT, SIGTERM and SIGHUP unlink every temporary file of the process
///   (`CProcessGuard`) before the process dies;
/// - what a SIGKILL or a power cut leaves is swept by the next write into that folder:
///   temporaries are named `.fusionkit-tmp-PID-RANDOM`, and one whose process no longer
///   runs is removed.
/// The temporary name does not grow with the destination's, so any name the file system
/// accepts can be written; a name it cannot accept is refused before any work
/// (`checkWritable`).
public enum AtomicFile {
    /// The prefix of every temporary file FusionKit writes.
    public static let temporaryPrefix = ".fusionkit-tmp-"

    /// Calls `body` with a temporary path next to `path`; when it returns without throwing,
    /// the temporary file replaces `path`. On any error the temporary file is removed.
    public static func write(to path: String, format: String, _ body: (_ temporaryPath: String) throws -> Void) throws {
        // No probe file here: creating the temporary file below is the real test.
        let directory = try checkWritable(path, format: format, probe: false)
        sweepStaleTemporaries(in: directory)
        let temporary = directory + "/" + temporaryPrefix + "\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let slot = fk_guard_temp_register(temporary)
        defer { fk_guard_temp_unregister(slot) }
        do {
            try body(temporary)
            let fd = open(temporary, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw FileFormatError(path: path, format: format, "the temporary file vanished before it could be synced: \(String(cString: strerror(errno)))")
            }
            let synced = fsync(fd) == 0
            let syncError = errno
            close(fd)
            guard synced else {
                throw FileFormatError(path: path, format: format, "cannot write: \(String(cString: strerror(syncError)))")
            }
            guard rename(temporary, path) == 0 else {
                throw FileFormatError(path: path, format: format, "cannot rename the finished file into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Writes `data` to `path` atomically; a short write (a full disk) is an error naming `path`.
    public static func write(_ data: Data, to path: String, format: String) throws {
        try write(to: path, format: format) { temporary in
            try writeAll(data, to: temporary, reportedAs: path, format: format)
        }
    }

    /// Creates `temporary` (which must not exist) and writes `data` to it, checking every write.
    public static func writeAll(_ data: Data, to temporary: String, reportedAs path: String, format: String) throws {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FileFormatError(path: path, format: format, "cannot create a file in its folder: \(String(cString: strerror(errno)))")
        }
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += n
            }
        }
        if close(fd) != 0, failure == 0 { failure = errno }
        if failure != 0 {
            throw FileFormatError(path: path, format: format, "cannot write \(data.count) bytes: \(String(cString: strerror(failure)))")
        }
    }

    /// Checks, before any work, that `path` can be written: its folder exists and is
    /// writable, its name is not longer than the file system allows, and it is not a folder.
    /// With `probe`, a file is created in the folder and removed, which also catches a
    /// read-only mount (where `access()` says yes to root). Returns the folder.
    @discardableResult
    public static func checkWritable(_ path: String, format: String, probe: Bool = true) throws -> String {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw FileFormatError(path: path, format: format, "output folder \(directory) does not exist")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw FileFormatError(path: path, format: format, "is a folder, not a file name")
        }
        let nameMax = pathconf(directory, Int32(_PC_NAME_MAX))
        let limit = nameMax > 0 ? nameMax : 255
        guard name.utf8.count <= limit else {
            throw FileFormatError(path: path, format: format, "the file name is \(name.utf8.count) bytes long; this file system allows at most \(limit)")
        }
        guard access(directory, W_OK) == 0 else {
            throw FileFormatError(path: path, format: format, "cannot write into the folder \(directory): \(String(cString: strerror(errno)))")
        }
        guard probe else { return directory }
        // access() says yes to root everywhere; a read-only mount or a file system that takes
        // no new files only shows when one is created.
        let probeFile = directory + "/" + temporaryPrefix + "\(getpid())-probe-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let fd = open(probeFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw FileFormatError(path: path, format: format, "cannot write into the folder \(directory): \(String(cString: strerror(errno)))")
        }
        close(fd)
        unlink(probeFile)
        return directory
    }

    nonisolated(unsafe) private static var swept = Set<String>()
    private static let sweptLock = NSLock()

    /// Removes temporaries in `directory` left by processes that no longer run (a SIGKILL
    /// during a write). Each folder is swept once per process.
    public static func sweepStaleTemporaries(in directory: String) {
        sweptLock.lock()
        let first = swept.insert(directory).inserted
        sweptLock.unlock()
        guard first, let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(temporaryPrefix) {
            let rest = name.dropFirst(temporaryPrefix.count)
            guard let pid = rest.split(separator: "-").first.flatMap({ Int32($0) }), pid > 0 else { continue }
            if pid == getpid() { continue }
            if kill(pid, 0) == -1, errno == ESRCH {
                unlink(directory + "/" + name)
            }
        }
    }
}
