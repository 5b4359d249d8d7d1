import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole input file (an image, a vocabulary, a manifest, a prompt) into memory
/// with plain `read(2)` calls.
///
/// Such files are not memory-mapped: a mapped file that another process truncates makes the
/// next access to a lost page raise SIGBUS, which kills the process. Here a file that
/// shrinks or grows while it is read is an error ("changed while being read"), anything that
/// is not a regular file (a folder, a named pipe, a device) is refused without reading from
/// it (the open does not block on a FIFO without a writer), and a file above `maxBytes` is
/// refused before anything is allocated. Every error is a `FileFormatError` naming `path`.
public enum RegularFile {

    /// The bytes of the regular file at `path`, which may hold at most `maxBytes` of them.
    ///
    /// `chunkSize` and `afterRead` (called with the byte count read so far after each
    /// `read(2)` that returned data) are for tests, which change the file mid-read.
    static func bytes(path: String, maxBytes: Int, format: String, chunkSize: Int = 8 << 20,
                      afterRead: ((Int) -> Void)? = nil) throws -> [UInt8] {
        func failure(_ message: String) -> FileFormatError { FileFormatError(path: path, format: format, message) }
        func systemError() -> String { String(cString: strerror(errno)) }

        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw failure("cannot open: \(systemError())") }
        defer { close(fd) }

        var before = stat()
        guard fstat(fd, &before) == 0 else { throw failure("cannot stat: \(systemError())") }
        let kind = before.st_mode & S_IFMT
        guard kind == S_IFREG else {
            let what = kind == S_IFDIR ? "a folder" : kind == S_IFIFO ? "a named pipe" : kind == S_IFCHR ? "a character device"
                : kind == S_IFBLK ? "a block device" : kind == S_IFSOCK ? "a socket" : "a special file"
            throw failure("not a regular file (it is \(what))")
        }
        let size = Int(before.st_size)
        guard size >= 0 else { throw failure("negative file size \(size)") }
        guard size <= maxBytes else {
            throw failure("the file is \(size) bytes, more than the \(maxBytes) bytes allowed for an image "
                          + "(the limit follows from the pixel limit; raise it with --max-pixels)")
        }
        // Regular files never block, but a descriptor opened O_NONBLOCK may say EAGAIN on
        // some file systems; reads are plain blocking ones from here.
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }

        // One byte more than the size, so that a file that grew shows up as extra data.
        let capacity = size + 1
        var readError: String? = nil
        var total = 0
        var bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            guard let base = buffer.baseAddress else { return }
            while total < capacity {
                let n = systemRead(fd, base + total, min(chunkSize, capacity - total))
                if n < 0 {
                    if errno == EINTR { continue }
                    readError = systemError()
                    break
                }
                if n == 0 { break }
                total += n
                afterRead?(total)
            }
            initialized = total
        }
        if let readError { throw failure("cannot read: \(readError)") }

        var after = stat()
        guard fstat(fd, &after) == 0 else { throw failure("cannot stat: \(systemError())") }
        if total != size || Int(after.st_size) != size || modificationTime(after) != modificationTime(before) {
            let now = total > size ? "more than \(size)" : "\(total)"
            throw failure("changed while being read (it was \(size) bytes, \(now) bytes were read, "
                          + "it is now \(after.st_size) bytes); read it again once it is complete")
        }
        bytes.removeLast(bytes.count - size)
        return bytes
    }
}

private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, buffer, count)
    #else
    return Darwin.read(fd, buffer, count)
    #endif
}

private func modificationTime(_ info: stat) -> [Int] {
    #if canImport(Glibc)
    return [Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)]
    #else
    return [Int(info.st_mtimespec.tv_sec), Int(info.st_mtimespec.tv_nsec)]
    #endif
}

extension RegularFile {
    /// The bytes of the regular file at `path` (at most `maxBytes`) as `Data`; errors name
    /// `path` and `format`.
    public static func read(path: String, maxBytes: Int, format: String) throws -> Data {
        Data(try bytes(path: path, maxBytes: maxBytes, format: format))
    }
}
