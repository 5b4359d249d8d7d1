import Foundation

/// Reads `.safetensors` files: an 8-byte little-endian header length N, N bytes of UTF-8
/// JSON describing each tensor (`dtype`, `shape`, `data_offsets` relative to the data
/// section) plus optional string `__metadata__`, then the data section.
///
/// Tensors are zero-copy views of the mapped file. Everything the file declares is checked
/// before it is used, with the rules of the official implementation: the header is at most
/// 100 MB, each tensor's byte range matches its shape and dtype exactly, and the tensors
/// cover the data section without overlaps or holes. Errors name the file and the tensor.
public enum SafetensorsReader {
    /// The largest header the official implementation accepts.
    public static let maxHeaderLength = 100_000_000

    static let format = CheckpointFormat.safetensors.rawValue

    /// Maps the file at `path` and reads it.
    public static func read(path: String) throws -> TensorArchive {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch let error as FileFormatError {
            throw FileFormatError(path: path, format: format, error.message)
        }
        return try read(file: file)
    }

    /// Reads a file already in memory or mapped; errors name `file.path`.
    public static func read(file: MappedFile) throws -> TensorArchive {
        let path = file.path
        func failure(_ message: String) -> FileFormatError {
            FileFormatError(path: path, format: format, message)
        }

        guard let lengthBytes = file.slice(0, 8) else {
            throw failure("the file is \(file.count) bytes, too short for the 8-byte header length")
        }
        let declared = UInt64(littleEndian: lengthBytes.loadUnaligned(as: UInt64.self))
        // Other formats' first bytes read as an absurd header length: when the length or
        // the header does not fit, say plainly that this is not a safetensors file, and
        // what it is when its magic says so.
        let head = Array(lengthBytes)
        func notSafetensors(_ problem: String) -> FileFormatError {
            var what = ""
            if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
                what = "it starts with PK, a zip archive (a PyTorch checkpoint? `fusion inspect` reads it): "
            } else if head.starts(with: [0x93] + Array("NUMPY".utf8)) {
                what = "it starts with \\x93NUMPY, a NumPy .npy array: "
            } else if head.starts(with: [0x80, 0x02, 0x8A, 0x0A]) {
                what = "it starts with a Python pickle (a legacy PyTorch checkpoint?): "
            }
            return failure("not a safetensors file: \(what)\(problem)")
        }
        let available = file.count - 8
        guard declared <= UInt64(maxHeaderLength) else {
            if declared > UInt64(available) {
                throw notSafetensors("the header length \(declared) exceeds the file size \(file.count) bytes (and the 100 MB limit, \(maxHeaderLength) bytes)")
            }
            throw failure("the header length \(declared) is over the 100 MB limit (\(maxHeaderLength) bytes)")
        }
        let headerLength = Int(declared)
        guard let headerBytes = file.slice(8, headerLength) else {
            throw notSafetensors("the header length \(headerLength) exceeds the file size \(file.count) bytes (beyond the end of the file: \(available) bytes follow the length)")
        }
        if headerLength > 0, headerBytes[0] != UInt8(ascii: "{") {
            let shown = head.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : "." }.joined()
            throw notSafetensors("the \(headerLength)-byte header does not start with '{' (the file starts with \"\(shown)\")")
        }
        let dataStart = 8 + headerLength
        let dataLength = file.count - dataStart

        let header: [String: Any]
        do {
            header = try JSONHeader.parseObject(headerBytes)
        } catch let problem as JSONHeader.Problem {
            throw failure(problem.message)
        }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        entries.reserveCapacity(header.count)
        // Sorted so that, of several faults, the same one is always reported.
        for name in header.keys.sorted() {
            guard let value = header[name] else { continue }
            if name == "__metadata__" {
                metadata = try parseMetadata(value, failure: failure)
            } else {
                entries.append(try parseEntry(name: name, value: value, dataLength: dataLength, failure: failure))
            }
        }

        // File order; several empty tensors can share an offset, then they go by name.
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var position = 0
        var previous: Entry?
        for entry in entries {
            if entry.begin < position, let previous {
                throw failure("tensor '\(entry.displayName)': data_offsets [\(entry.begin), \(entry.end)] overlap tensor '\(previous.displayName)' at [\(previous.begin), \(previous.end)]")
            }
            if entry.begin > position {
                throw failure("tensor '\(entry.displayName)': data_offsets start at \(entry.begin), leaving \(entry.begin - position) bytes after offset \(position) that no tensor covers (the format allows no holes)")
            }
            position = entry.end
            previous = entry
        }
        if position != dataLength {
            throw failure("the data section ends with \(dataLength - position) bytes after offset \(position) that no tensor covers (the format allows no holes)")
        }

        var tensors: [StoredTensor] = []
        tensors.reserveCapacity(entries.count)
        for entry in entries {
            // In range: 0 <= begin <= end <= dataLength was checked above.
            guard let bytes = file.slice(dataStart + entry.begin, entry.end - entry.begin) else {
                throw failure("tensor '\(entry.displayName)': data_offsets [\(entry.begin), \(entry.end)] are outside the file")
            }
            do {
                tensors.append(try StoredTensor(name: entry.name, dtype: entry.dtype, shape: entry.shape,
                                                storage: TensorStorage(bytes: bytes, owner: file)))
            } catch let error as FileFormatError {
                throw error.located(path: path, format: format)
            }
        }
        return TensorArchive(path: path, format: .safetensors, tensors: tensors, metadata: metadata, file: file)
    }

    /// One tensor's header entry, checked against itself and the data section's size.
    private struct Entry {
        let name: String
        let dtype: StorageDType
        let shape: [Int]
        let begin: Int
        let end: Int
        var displayName: String { JSONHeader.shortened(name) }
    }

    private static func parseEntry(name: String, value: Any, dataLength: Int,
                                   failure: (String) -> FileFormatError) throws -> Entry {
        let label = "tensor '\(JSONHeader.shortened(name))'"
        guard let fields = value as? [String: Any] else {
            throw failure("\(label): expected an object with dtype, shape and data_offsets, found \(JSONHeader.describe(value))")
        }
        func field(_ key: String) throws -> Any {
            guard let v = fields[key] else { throw failure("\(label): missing '\(key)'") }
            return v
        }

        let dtypeValue = try field("dtype")
        guard let dtypeName = dtypeValue as? String else {
            throw failure("\(label): dtype is \(JSONHeader.describe(dtypeValue)), not a string")
        }
        guard let dtype = StorageDType(safetensorsName: dtypeName) else {
            let known = StorageDType.allCases.map(\.safetensorsName).joined(separator: " ")
            throw failure("\(label): unsupported dtype '\(JSONHeader.shortened(dtypeName))' (supported: \(known))")
        }

        let shapeValue = try field("shape")
        guard let dims = shapeValue as? [Any] else {
            throw failure("\(label): shape is \(JSONHeader.describe(shapeValue)), not an array")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for (i, dim) in dims.enumerated() {
            guard let d = JSONHeader.nonNegativeInt(dim) else {
                throw failure("\(label): shape[\(i)] is \(JSONHeader.describe(dim)), not an integer from 0 to \(Int.max)")
            }
            shape.append(d)
        }

        let offsetsValue = try field("data_offsets")
        guard let offsets = offsetsValue as? [Any] else {
            throw failure("\(label): data_offsets is \(JSONHeader.describe(offsetsValue)), not an array [begin, end]")
        }
        guard offsets.count == 2 else {
            throw failure("\(label): data_offsets is an array of \(offsets.count), not [begin, end]")
        }
        guard let begin = JSONHeader.nonNegativeInt(offsets[0]), let end = JSONHeader.nonNegativeInt(offsets[1]) else {
            throw failure("\(label): data_offsets [\(JSONHeader.describe(offsets[0])), \(JSONHeader.describe(offsets[1]))] are not integers from 0 to \(Int.max)")
        }
        guard begin <= end else {
            throw failure("\(label): data_offsets [\(begin), \(end)] end before they begin")
        }

        // Left to right with overflow checks, as the official implementation counts.
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw failure("\(label): the element count of shape \(shape) overflows") }
            count = product
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw failure("\(label): the byte size of shape \(shape) in \(dtypeName) overflows") }
        guard end - begin == byteCount else {
            throw failure("\(label): shape \(shape) of \(dtypeName) needs \(byteCount) bytes, but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        guard end <= dataLength else {
            throw failure("\(label): data_offsets [\(begin), \(end)] are beyond the end of the data section (\(dataLength) bytes)")
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    private static func parseMetadata(_ value: Any, failure: (String) -> FileFormatError) throws -> [String: String] {
        if value is NSNull { return [:] }  // serde reads `null` as no metadata.
        guard let object = value as? [String: Any] else {
            throw failure("__metadata__ is \(JSONHeader.describe(value)), not an object of strings")
        }
        var metadata: [String: String] = [:]
        for key in object.keys.sorted() {
            guard let string = object[key] as? String else {
                throw failure("__metadata__ value for '\(JSONHeader.shortened(key))' is \(object[key].map(JSONHeader.describe) ?? "missing"), not a string")
            }
            metadata[key] = string
        }
        return metadata
    }
}
