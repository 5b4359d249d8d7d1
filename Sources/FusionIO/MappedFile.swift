import CProcessGuard
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The bytes of a file, memory-mapped read-only (or held in memory when built from data).
///
/// Checkpoint readers index into these bytes without copying, and every access goes
/// through `slice(_:_:)`, which checks bounds, so a damaged file can never make a reader
/// read past its end.
///
/// A file truncated or rewritten by another process while mapped would make a read fault
/// (SIGBUS); each mapping is registered with the mapped-file guard (`CProcessGuard`), which then ends
/// the process with "error: FILE was truncated or changed while being read" and exit
/// status 74 (`MappedFile.truncatedExitStatus`) instead of a crash.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    public let base: UnsafeRawPointer
    private let release: () -> Void

    /// The exit status when a mapped file changes under the process (EX_IOERR).
    public static let truncatedExitStatus: Int32 = 74

    /// Maps `path` read-only. Errors name the file.
    public init(path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a named pipe without a writer must not wait; it is refused below.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw FileFormatError(path: path, format: "file", "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw FileFormatError(path: path, format: "file", "cannot stat: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let kind = info.st_mode & S_IFMT
            let what = kind == S_IFDIR ? "a folder" : kind == S_IFIFO ? "a named pipe" : "a special file"
            throw FileFormatError(path: path, format: "file", "not a regular file (it is \(what))")
        }
        let size = Int(info.st_size)
        count = size
        if size == 0 {
            let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
            base = UnsafeRawPointer(p)
            release = { p.deallocate() }
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw FileFormatError(path: path, format: "file", "cannot map \(size) bytes: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
        fk_mapped_guard_install()
        let slot = fk_mapped_guard_register(p, size, path)
        release = {
            fk_mapped_guard_unregister(slot)
            munmap(p, size)
        }
    }

    /// Holds a copy of `data` (tests and in-memory inputs); `path` names it in errors.
    public init(data: Data, path: String) {
        self.path = path
        count = data.count
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.withUnsafeBytes { if let src = $0.baseAddress { p.copyMemory(from: src, byteCount: $0.count) } }
        base = UnsafeRawPointer(p)
        release = { p.deallocate() }
    }

    deinit { release() }

    /// The whole file.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// `length` bytes at `offset`, or nil when the range is not inside the file.
    public func slice(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else { return nil }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }
}
