import CZlib
import Foundation

/// gzip (RFC 1952) decompression through zlib, for the small compressed data files the
/// models ship with (the CLIP vocabulary `bpe_simple_vocab_16e6.txt.gz`).
///
/// Like Python's `gzip` module it accepts several members one after another and zero
/// padding after the last one. Every member's CRC-32 and length are checked by zlib, so a
/// damaged or truncated file is an error naming the file, never silently wrong text. The
/// output is bounded (`maxOutputBytes`) so that a hostile file cannot exhaust memory.
public enum Gzip {
    public static let format = "gzip"
    /// Default bound on the decompressed size: far above any vocabulary, far below memory.
    public static let defaultMaxOutputBytes = 256 << 20

    /// Reads and decompresses the file at `path`.
    public static func decompress(path: String, maxOutputBytes: Int = defaultMaxOutputBytes) throws -> Data {
        // Read, not mapped, and only from a regular file: a named pipe never blocks it.
        let data: Data = try RegularFile.read(path: path, maxBytes: maxOutputBytes, format: format)
        return try decompress(data, path: path, maxOutputBytes: maxOutputBytes)
    }

    /// Decompresses `data`; `path` names the source in errors.
    public static func decompress(_ data: Data, path: String, maxOutputBytes: Int = defaultMaxOutputBytes) throws -> Data {
        func fail(_ message: String) -> FileFormatError { FileFormatError(path: path, format: format, message) }
        guard !data.isEmpty else { throw fail("the file is empty") }
        guard data.count >= 2, data[data.startIndex] == 0x1F, data[data.startIndex + 1] == 0x8B else {
            throw fail("not gzip data (the file does not start with the gzip magic bytes 1f 8b)")
        }
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Data in
            let input = raw.bindMemory(to: UInt8.self)
            return try inflateAll(input, maxOutputBytes: maxOutputBytes, fail: fail)
        }
    }

    private static func inflateAll(_ input: UnsafeBufferPointer<UInt8>, maxOutputBytes: Int,
                                   fail: (String) -> FileFormatError) throws -> Data {
        var stream = z_stream()
        // inflateInit2 is a C macro; 16 + MAX_WBITS asks zlib for a gzip wrapper only.
        var status = inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw fail("zlib could not start decompressing (status \(status))") }
        defer { inflateEnd(&stream) }

        let base = UnsafeMutablePointer(mutating: input.baseAddress!)
        var fed = 0  // input bytes handed to zlib so far
        var output = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var members = 0

        func consumed() -> Int { fed - Int(stream.avail_in) }
        func zlibMessage() -> String { stream.msg.map { String(cString: $0) } ?? "status \(status)" }

        while true {
            if stream.avail_in == 0 && fed < input.count {
                let n = min(input.count - fed, 1 << 30)  // zlib counts input in 32 bits
                stream.next_in = base + fed
                stream.avail_in = uInt(n)
                fed += n
            }
            let produced: Int = chunk.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                status = inflate(&stream, Z_NO_FLUSH)
                return out.count - Int(stream.avail_out)
            }
            if produced > 0 {
                guard output.count + produced <= maxOutputBytes else {
                    throw fail("decompresses to more than \(maxOutputBytes) bytes, the limit for this file")
                }
                output.append(contentsOf: chunk[0..<produced])
            }
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                members += 1
                let rest = consumed()
                if rest == input.count { return output }
                // Python's gzip reads further members and ignores trailing zero padding.
                if input[rest...].allSatisfy({ $0 == 0 }) { return output }
                guard input.count - rest >= 2, input[rest] == 0x1F, input[rest + 1] == 0x8B else {
                    throw fail("unexpected data after gzip member \(members) at byte offset \(rest) (not another gzip member)")
                }
                status = inflateReset(&stream)
                guard status == Z_OK else { throw fail("zlib could not start member \(members + 1) (status \(status))") }
            case Z_BUF_ERROR:
                // No progress is possible: the input ended inside the compressed stream.
                if stream.avail_in == 0 && fed == input.count {
                    throw fail("the compressed data ends early, after \(input.count) bytes (member \(members + 1) is incomplete): the file is truncated")
                }
                throw fail("decompression made no progress at byte offset \(consumed()) (\(zlibMessage()))")
            case Z_DATA_ERROR:
                throw fail("damaged gzip data near byte offset \(consumed()) of member \(members + 1): \(zlibMessage())")
            case Z_MEM_ERROR:
                throw fail("zlib ran out of memory")
            case Z_NEED_DICT:
                throw fail("the deflate stream needs a preset dictionary, which gzip files never use")
            default:
                throw fail("zlib failed (\(zlibMessage()))")
            }
        }
    }
}
