import Foundation
import FusionCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// Writes `.safetensors` files byte for byte as the official implementation does.
///
/// The layout follows `safetensors.serialize`: tensors are ordered by descending dtype
/// alignment, then by name, so every tensor's data is naturally aligned when the file is
/// mapped; the header is compact JSON with `__metadata__` first (its keys sorted) and then
/// one entry per tensor in data order, padded with spaces to a multiple of 8 bytes.
/// Files are written atomically: a failure never leaves a partial file at the destination.
public enum SafetensorsWriter {
    /// How f32 data is stored.
    public enum Float32Encoding: Sendable {
        case f32
        /// IEEE half, round to nearest even.
        case f16
        /// bfloat16, round to nearest even.
        case bf16
    }

    /// The file as bytes. Errors (duplicate or reserved names) have an empty path.
    public static func encode(_ tensors: [StoredTensor], metadata: [String: String] = [:],
                              float32As encoding: Float32Encoding = .f32) throws -> Data {
        let layout = try Layout(tensors, metadata: metadata, encoding: encoding)
        var data = Data(capacity: layout.totalByteCount)
        try layout.emit { buffer in
            if let base = buffer.baseAddress, buffer.count > 0 {
                data.append(base.assumingMemoryBound(to: UInt8.self), count: buffer.count)
            }
        }
        return data
    }

    /// Writes the tensors (named by their `name`) to `path`, atomically.
    public static func write(_ tensors: [StoredTensor], metadata: [String: String] = [:],
                             float32As encoding: Float32Encoding = .f32, to path: String) throws {
        let layout: Layout
        do {
            layout = try Layout(tensors, metadata: metadata, encoding: encoding)
        } catch let error as FileFormatError {
            throw error.located(path: path, format: SafetensorsReader.format)
        }
        try AtomicFile.write(to: path, format: SafetensorsReader.format) { temporary in
            try writeFile(layout, to: temporary, reportedAs: path)
        }
    }

    /// The file as bytes, from engine tensors (f32 → F32 or as `encoding`, f16 → F16,
    /// i32 → I32, u8 → U8).
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                              float32As encoding: Float32Encoding = .f32) throws -> Data {
        try encode(tensors.map(storedTensor), metadata: metadata, float32As: encoding)
    }

    /// Writes engine tensors to `path`, atomically (types as in `encode`).
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             float32As encoding: Float32Encoding = .f32, to path: String) throws {
        try write(tensors.map(storedTensor), metadata: metadata, float32As: encoding, to: path)
    }

    /// A zero-copy view of an engine tensor (the view keeps the tensor alive).
    private static func storedTensor(_ item: (name: String, tensor: Tensor)) throws -> StoredTensor {
        let dtype: StorageDType
        switch item.tensor.dtype {
        case .f32: dtype = .f32
        case .f16: dtype = .f16
        case .i32: dtype = .i32
        case .u8: dtype = .u8
        }
        return try StoredTensor(name: item.name, dtype: dtype, shape: item.tensor.shape,
                                storage: TensorStorage(bytes: UnsafeRawBufferPointer(item.tensor.bytes), owner: item.tensor))
    }

    /// Streams the layout to a new file at `temporary`; errors name `path`.
    private static func writeFile(_ layout: Layout, to temporary: String, reportedAs path: String) throws {
        func failure(_ what: String) -> FileFormatError {
            FileFormatError(path: path, format: SafetensorsReader.format, "cannot \(what): \(String(cString: strerror(errno)))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o666)
        guard fd >= 0 else { throw failure("create the file") }
        var closed = false
        defer { if !closed { close(fd) } }

        // Small tensors are gathered so that a checkpoint of many tiny tensors does not
        // cost a system call each; large ones go straight from their storage.
        let chunk = 1 << 20
        var pending = [UInt8]()
        pending.reserveCapacity(chunk)
        func writeAll(_ buffer: UnsafeRawBufferPointer) throws {
            guard var p = buffer.baseAddress else { return }
            var left = buffer.count
            while left > 0 {
                let n = systemWrite(fd, p, left)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure("write")
                }
                p += n
                left -= n
            }
        }
        func flush() throws {
            try pending.withUnsafeBytes { try writeAll($0) }
            pending.removeAll(keepingCapacity: true)
        }
        try layout.emit { buffer in
            if pending.count + buffer.count > chunk { try flush() }
            if buffer.count >= chunk {
                try writeAll(buffer)
            } else {
                pending.append(contentsOf: buffer)
            }
        }
        try flush()
        closed = true
        guard close(fd) == 0 else { throw failure("finish writing") }
    }
}

extension SafetensorsWriter {
    /// Where everything goes: the header bytes (with their length) and the tensors in data order.
    struct Layout {
        let header: [UInt8]
        let items: [Item]
        let totalByteCount: Int

        struct Item {
            let tensor: StoredTensor
            let dtype: StorageDType
            let byteCount: Int
        }

        init(_ tensors: [StoredTensor], metadata: [String: String], encoding: Float32Encoding) throws {
            func failure(_ message: String) -> FileFormatError {
                FileFormatError(path: "", format: SafetensorsReader.format, message)
            }
            var seen = Set<String>()
            var items: [Item] = []
            items.reserveCapacity(tensors.count)
            for tensor in tensors {
                guard tensor.name != "__metadata__" else {
                    throw failure("'__metadata__' is reserved for metadata and cannot name a tensor")
                }
                guard seen.insert(tensor.name).inserted else {
                    throw failure("duplicate tensor name '\(JSONHeader.shortened(tensor.name))'")
                }
                var dtype = tensor.dtype
                if dtype == .f32 {
                    switch encoding {
                    case .f32: break
                    case .f16: dtype = .f16
                    case .bf16: dtype = .bf16
                    }
                }
                // The element count fits: StoredTensor checked it when it was made.
                items.append(Item(tensor: tensor, dtype: dtype, byteCount: tensor.elementCount * dtype.byteSize))
            }
            items.sort { a, b in
                let (ra, rb) = (Self.alignmentRank(a.dtype), Self.alignmentRank(b.dtype))
                return ra != rb ? ra > rb : a.tensor.name < b.tensor.name
            }

            var json = "{"
            if !metadata.isEmpty {
                json += "\"__metadata__\":{"
                json += metadata.keys.sorted().map { jsonStringLiteral($0) + ":" + jsonStringLiteral(metadata[$0] ?? "") }.joined(separator: ",")
                json += "}"
                if !items.isEmpty { json += "," }
            }
            var offset = 0
            var entries: [String] = []
            entries.reserveCapacity(items.count)
            for item in items {
                let (end, overflow) = offset.addingReportingOverflow(item.byteCount)
                guard !overflow else { throw failure("the tensors' total size overflows") }
                let shape = item.tensor.shape.map(String.init).joined(separator: ",")
                entries.append(jsonStringLiteral(item.tensor.name)
                    + ":{\"dtype\":\"\(item.dtype.safetensorsName)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
                offset = end
            }
            json += entries.joined(separator: ",") + "}"

            var headerJSON = Array(json.utf8)
            headerJSON.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - headerJSON.count % 8) % 8))
            guard headerJSON.count <= SafetensorsReader.maxHeaderLength else {
                throw failure("the header would be \(headerJSON.count) bytes, over the 100 MB limit readers accept")
            }
            var header = [UInt8]()
            header.reserveCapacity(8 + headerJSON.count)
            withUnsafeBytes(of: UInt64(headerJSON.count).littleEndian) { header.append(contentsOf: $0) }
            header.append(contentsOf: headerJSON)

            self.header = header
            self.items = items
            let (total, overflow) = header.count.addingReportingOverflow(offset)
            guard !overflow else { throw failure("the file size overflows") }
            self.totalByteCount = total
        }

        /// The official order of dtypes (`safetensors::Dtype`), which sorts by alignment.
        static func alignmentRank(_ dtype: StorageDType) -> Int {
            switch dtype {
            case .bool: return 0
            case .u8: return 1
            case .i8: return 2
            case .i16: return 3
            case .f16: return 4
            case .bf16: return 5
            case .i32: return 6
            case .f32: return 7
            case .f64: return 8
            case .i64: return 9
            }
        }

        /// Hands the file's bytes to `sink` in order: header, then each tensor's data.
        func emit(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
            try header.withUnsafeBytes { try sink($0) }
            for item in items {
                let tensor = item.tensor
                if item.dtype != tensor.dtype {
                    // f32 stored narrower.
                    let values = try tensor.floatValues()
                    let bits = item.dtype == .bf16 ? values.map(floatToBFloat16) : values.map(floatToHalf)
                    try bits.withUnsafeBytes { try sink($0) }
                } else if item.byteCount == 0 {
                    continue  // An empty view's offset need not lie inside its storage.
                } else if tensor.isContiguous {
                    let start = tensor.offset * tensor.dtype.byteSize
                    try sink(UnsafeRawBufferPointer(rebasing: tensor.storage.bytes[start ..< start + item.byteCount]))
                } else {
                    let data = try tensor.contiguousBytes()
                    try data.withUnsafeBytes { try sink($0) }
                }
            }
        }
    }
}
