import CZlib
import Foundation

/// Builds small PyTorch-style zip checkpoints in tests: a pickle assembled opcode by opcode
/// and stored (uncompressed) zip entries, as `torch.save` lays them out.
public struct PickleBuilder {
    public var bytes: [UInt8] = [0x80, 0x02]  // PROTO 2
    public init() {}

    public mutating func op(_ code: UInt8) { bytes.append(code) }
    public mutating func mark() { op(0x28) }
    public mutating func string(_ s: String) {
        let u = Array(s.utf8)
        op(0x58)
        bytes += withUnsafeBytes(of: UInt32(u.count).littleEndian, Array.init)
        bytes += u
    }
    public mutating func int(_ v: Int) {
        if v >= 0, v < 256 { op(0x4B); bytes.append(UInt8(v)) } else {
            op(0x4A); bytes += withUnsafeBytes(of: Int32(v).littleEndian, Array.init)
        }
    }
    public mutating func global(_ module: String, _ name: String) {
        op(0x63)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }
    public mutating func tuple(_ body: (inout PickleBuilder) -> Void) {
        mark()
        body(&self)
        op(0x74)
    }
    public mutating func put(_ i: UInt8) { op(0x71); bytes.append(i) }
    public mutating func get(_ i: UInt8) { op(0x68); bytes.append(i) }
    public mutating func emptyDict() { op(0x7D) }
    public mutating func orderedDict() { global("collections", "OrderedDict"); op(0x29); op(0x52) }
    /// Starts `key: value` pairs on the dict at the top of the stack; close with `setItems()`.
    public mutating func setItems() { op(0x75) }
    public mutating func stop() { op(0x2E) }

    /// `_rebuild_tensor_v2(storage(key), offset, size, stride, False, OrderedDict())`.
    public mutating func tensor(storage key: String, type: String, numel: Int, offset: Int, shape: [Int], strides: [Int], parameter: Bool = false) {
        if parameter { global("torch._utils", "_rebuild_parameter") }
        global("torch._utils", "_rebuild_tensor_v2")
        tuple { b in
            b.tuple { b in
                b.string("storage"); b.global("torch", type); b.string(key); b.string("cpu"); b.int(numel)
            }
            b.op(0x51)  // BINPERSID
            b.int(offset)
            b.tuple { b in shape.forEach { b.int($0) } }
            b.tuple { b in strides.forEach { b.int($0) } }
            b.op(0x89)  // False
            b.orderedDict()
        }
        op(0x52)
        if parameter {
            // (tensor, requires_grad, hooks) -> REDUCE
            bytes += [0x88]  // True
            orderedDict()
            op(0x87)  // TUPLE3
            op(0x52)
        }
    }
}

public enum ZipBuilder {
    /// A zip archive of stored entries; data offsets aligned to 64 bytes like PyTorch's.
    public static func archive(_ entries: [(String, [UInt8])], compressedMethodFor: Set<String> = []) -> Data {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        for (name, data) in entries {
            let nameBytes = Array(name.utf8)
            let offset = out.count
            // Pad the extra field so the data starts on a 64-byte boundary.
            let headerEnd = offset + 30 + nameBytes.count + 4
            let padding = (64 - headerEnd % 64) % 64
            let extra: [UInt8] = [0x4B, 0x46] + le16(padding) + [UInt8](repeating: 0x5A, count: padding)
            let crc = data.withUnsafeBytes { b -> UInt32 in
                UInt32(truncatingIfNeeded: crc32(0, b.baseAddress?.assumingMemoryBound(to: UInt8.self), uInt(b.count)))
            }
            let method = compressedMethodFor.contains(name) ? 8 : 0
            out += le32(0x0403_4B50) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0)
            out += le32(crc) + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(nameBytes.count) + le16(extra.count)
            out += nameBytes + extra + data
            central += le32(0x0201_4B50) + le16(20) + le16(20) + le16(0) + le16(method) + le16(0) + le16(0)
            central += le32(crc) + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(nameBytes.count) + le16(0) + le16(0)
            central += le16(0) + le16(0) + le32(0) + le32(UInt32(offset)) + nameBytes
        }
        let directoryOffset = out.count
        out += central
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count)
        out += le32(UInt32(central.count)) + le32(UInt32(directoryOffset)) + le16(0)
        return Data(out)
    }

    /// A `torch.save`-style checkpoint: `archive/data.pkl`, `archive/data/<key>` storages.
    public static func checkpoint(pickle: [UInt8], storages: [(String, [UInt8])], folder: String = "archive") -> Data {
        var entries: [(String, [UInt8])] = [("\(folder)/data.pkl", pickle)]
        entries += storages.map { ("\(folder)/data/\($0.0)", $0.1) }
        entries.append(("\(folder)/version", Array("3\n".utf8)))
        return archive(entries)
    }
}

/// Little-endian bytes of an array of numbers.
public func leBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } }
public func leBytes(_ values: [Float]) -> [UInt8] { leBytes(values.map(\.bitPattern)) }
