import Crypto
import Foundation

/// The on-disk format of every cache entry FusionKit keeps (SPIR-V modules, the Vulkan
/// pipeline cache, text features): the payload behind a header that names what it holds
/// and carries its SHA-256.
///
///     "FKCACHE1"  key length (u32 LE)  key (UTF-8)  payload length (u64 LE)  SHA-256 (32 bytes)  payload
///
/// `read` returns the payload only when the magic, the key, the length and the checksum
/// all match: a flipped bit, a truncated file, or a valid entry stored under another key is
/// discarded (the file is removed) and reported once through `warn`, and the caller
/// recomputes and rewrites the entry. Entries are written with `AtomicFile`.
public enum CacheEntry {
    static let magic = Array("FKCACHE1".utf8)

    /// Where warnings about discarded entries go (standard error by default).
    nonisolated(unsafe) public static var warn: (String) -> Void = { message in
        FileHandle.standardError.write(Data(("warning: " + message + "\n").utf8))
    }

    /// The payload stored at `path` under `key`, or nil when there is no entry or it is damaged
    /// (a damaged entry is removed and reported).
    public static func read(_ path: String, key: String) -> Data? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            discard(path, "it cannot be read")
            return nil
        }
        switch decode(data, key: key) {
        case .success(let payload): return payload
        case .failure(let reason):
            discard(path, reason.message)
            return nil
        }
    }

    /// Writes `payload` under `key` to `path` atomically, creating the folder. Failures are
    /// returned, not thrown: a cache that cannot be written only costs recomputation.
    @discardableResult
    public static func write(_ payload: Data, key: String, to path: String) -> Error? {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try AtomicFile.write(encode(payload, key: key), to: path, format: "cache entry")
            return nil
        } catch {
            return error
        }
    }

    public static func encode(_ payload: Data, key: String) -> Data {
        var out = Data(magic)
        let keyBytes = Array(key.utf8)
        withUnsafeBytes(of: UInt32(keyBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: keyBytes)
        withUnsafeBytes(of: UInt64(payload.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: SHA256.hash(data: payload))
        out.append(payload)
        return out
    }

    public struct Damage: Error { public let message: String }

    public static func decode(_ data: Data, key: String) -> Result<Data, Damage> {
        let bytes = [UInt8](data)
        func fail(_ m: String) -> Result<Data, Damage> { .failure(Damage(message: m)) }
        guard bytes.count >= 12, Array(bytes[0..<8]) == magic else { return fail("it is not a FusionKit cache entry (bad magic)") }
        func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
        let keyLength = u32(8)
        guard keyLength <= 1 << 16, bytes.count >= 12 + keyLength + 8 + 32 else { return fail("its header is truncated") }
        let storedKey = String(decoding: bytes[12..<(12 + keyLength)], as: UTF8.self)
        guard storedKey == key else { return fail("it holds '\(storedKey.prefix(80))', not '\(key.prefix(80))'") }
        var o = 12 + keyLength
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[o + i]) << (8 * UInt64(i)) }
        o += 8
        let digest = Array(bytes[o..<(o + 32)])
        o += 32
        guard length == UInt64(bytes.count - o) else { return fail("it is \(bytes.count - o) payload bytes, its header says \(length)") }
        let payload = Data(bytes[o...])
        guard Array(SHA256.hash(data: payload)) == digest else { return fail("its checksum does not match (the file is damaged)") }
        return .success(payload)
    }

    private static func discard(_ path: String, _ reason: String) {
        unlink(path)
        warn("discarded the cache entry \(path): \(reason); it will be recomputed")
    }
}
