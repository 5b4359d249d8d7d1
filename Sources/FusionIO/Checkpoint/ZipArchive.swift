import CZlib
import Foundation

/// A read-only view of a zip archive's stored (uncompressed) entries, as `torch.save` and
/// `torch.jit.save` write them.
///
/// Hand-written rather than built on a zip library because checkpoints need zero-copy
/// access: an entry is a range of the memory-mapped file, so a multi-gigabyte checkpoint
/// is never copied. Every size and offset comes from the file and is checked before use;
/// each entry's CRC-32 is verified the first time it is read, so a damaged tensor is an
/// error rather than silently wrong weights.
public final class ZipArchive {
    public struct Entry {
        public let name: String
        public let method: UInt16
        public let crc32: UInt32
        public let compressedSize: Int
        public let uncompressedSize: Int
        public let localHeaderOffset: Int
    }

    public let file: MappedFile
    public let format: String
    /// Entries in central-directory order.
    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]
    private var verified: Set<String> = []

    public init(file: MappedFile, format: String = "zip") throws {
        self.file = file
        self.format = format
        try readCentralDirectory()
    }

    private func fail(_ message: String) -> FileFormatError {
        FileFormatError(path: file.path, format: format, message)
    }

    private func u16(_ offset: Int) -> UInt16? {
        file.slice(offset, 2).map { UInt16($0[0]) | UInt16($0[1]) << 8 }
    }

    private func u32(_ offset: Int) -> UInt32? {
        file.slice(offset, 4).map { $0.loadUnaligned(as: UInt32.self).littleEndian }
    }

    private func u64(_ offset: Int) -> UInt64? {
        file.slice(offset, 8).map { $0.loadUnaligned(as: UInt64.self).littleEndian }
    }

    /// A file-controlled 64-bit size or offset as an Int inside the file, or nil.
    private func position(_ value: UInt64) -> Int? {
        value <= UInt64(file.count) ? Int(value) : nil
    }

    private func readCentralDirectory() throws {
        guard file.count >= 22 else { throw fail("file is \(file.count) bytes, too short for a zip archive") }
        guard u32(0) == 0x0403_4B50 else { throw fail("not a zip archive (no local file header at offset 0)") }
        // End of central directory: the last 22 bytes, or earlier when a comment follows.
        var eocd = -1
        let earliest = max(0, file.count - 22 - 65_535)
        var p = file.count - 22
        while p >= earliest {
            if u32(p) == 0x0605_4B50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw fail("end of central directory not found (file truncated?)") }
        guard var entryCount = u16(eocd + 10).map(Int.init),
              var directorySize = u32(eocd + 12).map(Int.init),
              var directoryOffset = u32(eocd + 16).map(Int.init) else {
            throw fail("end of central directory is truncated")
        }
        // Zip64: the locator sits just before the end record.
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF, eocd >= 20,
           u32(eocd - 20) == 0x0706_4B50 {
            guard let recordOffset = u64(eocd - 12).flatMap(position), u32(recordOffset) == 0x0606_4B50,
                  let count = u64(recordOffset + 32), let size = u64(recordOffset + 40).flatMap(position),
                  let offset = u64(recordOffset + 48).flatMap(position) else {
                throw fail("zip64 end of central directory is damaged")
            }
            guard count <= UInt64(file.count / 46) else { throw fail("zip64 directory declares \(count) entries, more than the file can hold") }
            entryCount = Int(count)
            directorySize = size
            directoryOffset = offset
        }
        guard directoryOffset <= file.count, directorySize <= file.count - directoryOffset else {
            throw fail("central directory (offset \(directoryOffset), \(directorySize) bytes) lies outside the \(file.count)-byte file")
        }
        guard entryCount <= directorySize / 46 + 1 else {
            throw fail("central directory declares \(entryCount) entries in \(directorySize) bytes")
        }
        var cursor = directoryOffset
        let end = directoryOffset + directorySize
        entries.reserveCapacity(entryCount)
        for n in 0..<entryCount {
            guard cursor + 46 <= end, u32(cursor) == 0x0201_4B50,
                  let method = u16(cursor + 10), let crc = u32(cursor + 16),
                  let compressed32 = u32(cursor + 20), let uncompressed32 = u32(cursor + 24),
                  let nameLength = u16(cursor + 28).map(Int.init), let extraLength = u16(cursor + 30).map(Int.init),
                  let commentLength = u16(cursor + 32).map(Int.init), let local32 = u32(cursor + 42) else {
                throw fail("central directory entry \(n) is damaged")
            }
            let nameStart = cursor + 46
            guard nameStart + nameLength + extraLength + commentLength <= end,
                  let nameBytes = file.slice(nameStart, nameLength) else {
                throw fail("central directory entry \(n) runs past the directory")
            }
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw fail("central directory entry \(n) has a name that is not UTF-8")
            }
            var compressed = UInt64(compressed32), uncompressed = UInt64(uncompressed32), local = UInt64(local32)
            // Zip64 extended information: the fields that overflowed, in this order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd, let tag = u16(extra), let size = u16(extra + 2).map(Int.init) {
                let data = extra + 4
                guard data + size <= extraEnd else { break }
                if tag == 0x0001 {
                    var field = data
                    func next() -> UInt64? {
                        guard field + 8 <= data + size, let v = u64(field) else { return nil }
                        field += 8
                        return v
                    }
                    if uncompressed32 == 0xFFFF_FFFF { guard let v = next() else { throw fail("entry '\(name)': zip64 field missing") }; uncompressed = v }
                    if compressed32 == 0xFFFF_FFFF { guard let v = next() else { throw fail("entry '\(name)': zip64 field missing") }; compressed = v }
                    if local32 == 0xFFFF_FFFF { guard let v = next() else { throw fail("entry '\(name)': zip64 field missing") }; local = v }
                }
                extra = data + size
            }
            guard let c = position(compressed), let u = position(uncompressed), let l = position(local) else {
                throw fail("entry '\(name)' declares sizes or an offset beyond the \(file.count)-byte file")
            }
            if index[name] == nil { index[name] = entries.count }
            entries.append(Entry(name: name, method: method, crc32: crc, compressedSize: c, uncompressedSize: u, localHeaderOffset: l))
            cursor = nameStart + nameLength + extraLength + commentLength
        }
    }

    public func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The bytes of a stored entry (a view into the mapped file), CRC-checked on first use.
    public func contents(of name: String) throws -> UnsafeRawBufferPointer {
        guard let entry = entry(named: name) else { throw fail("entry '\(name)' is missing") }
        guard entry.method == 0 else {
            throw fail("entry '\(name)' is compressed (method \(entry.method)); PyTorch writes checkpoints uncompressed, re-save it with torch.save")
        }
        guard entry.compressedSize == entry.uncompressedSize else {
            throw fail("entry '\(name)' is stored but its sizes differ (\(entry.compressedSize) vs \(entry.uncompressedSize))")
        }
        let h = entry.localHeaderOffset
        guard u32(h) == 0x0403_4B50, let nameLength = u16(h + 26).map(Int.init), let extraLength = u16(h + 28).map(Int.init) else {
            throw fail("entry '\(name)': local header at offset \(h) is damaged")
        }
        guard let bytes = file.slice(h + 30 + nameLength + extraLength, entry.uncompressedSize) else {
            throw fail("entry '\(name)': \(entry.uncompressedSize) bytes at offset \(h + 30 + nameLength + extraLength) run past the end of the \(file.count)-byte file (truncated?)")
        }
        if !verified.contains(name) {
            let crc = ZipArchive.crc32(bytes)
            guard crc == entry.crc32 else {
                throw fail(String(format: "entry '%@' is damaged: CRC-32 %08x, expected %08x", name, crc, entry.crc32))
            }
            verified.insert(name)
        }
        return bytes
    }

    /// zlib's CRC-32, in chunks (zlib takes 32-bit lengths).
    public static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        var crc: uLong = CZlib.crc32(0, nil, 0)
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)
            crc = CZlib.crc32(crc, base + offset, uInt(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
