import Foundation
import FusionCore

/// Bytes that hold one or more tensors: a range of a memory-mapped file (kept alive by
/// `owner`), or a buffer of its own.
public final class TensorStorage: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let ownedPointer: UnsafeMutableRawPointer?

    /// A view into memory that `owner` keeps alive (a `MappedFile`).
    public init(bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
        self.ownedPointer = nil
    }

    /// A copy of `data`.
    public init(copying data: UnsafeRawBufferPointer) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        if let src = data.baseAddress, data.count > 0 { p.copyMemory(from: src, byteCount: data.count) }
        bytes = UnsafeRawBufferPointer(start: p, count: data.count)
        owner = nil
        ownedPointer = p
    }

    deinit { ownedPointer?.deallocate() }
}

/// One tensor as a checkpoint stores it: a typed, strided view of a storage.
///
/// The initialiser checks that every element the view can reach lies inside the storage,
/// so reading values can never go out of bounds, whatever the file declared.
public struct StoredTensor: @unchecked Sendable, CustomStringConvertible {
    public var name: String
    public let dtype: StorageDType
    public let shape: [Int]
    /// Strides in elements.
    public let strides: [Int]
    /// Offset of the first element, in elements.
    public let offset: Int
    public let storage: TensorStorage

    /// Fails with a message (no file name: the reader adds it) when the view does not fit.
    public init(name: String, dtype: StorageDType, shape: [Int], strides: [Int]? = nil, offset: Int = 0, storage: TensorStorage) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw StoredTensor.error(name, "negative dimension in shape \(shape)") }
        let strides = strides ?? contiguousStrides(shape)
        guard strides.count == shape.count else {
            throw StoredTensor.error(name, "\(strides.count) strides for a \(shape.count)-d shape")
        }
        guard offset >= 0, strides.allSatisfy({ $0 >= 0 }) else {
            throw StoredTensor.error(name, "negative offset or stride")
        }
        // Element count and last reachable element, without overflow.
        var count = 1
        var last = offset
        for (d, s) in zip(shape, strides) {
            let (c, o1) = count.multipliedReportingOverflow(by: d)
            guard !o1, c <= Int(Int32.max) * 64 else { throw StoredTensor.error(name, "shape \(shape) is too large") }
            count = c
            if d > 0 {
                let (span, o2) = (d - 1).multipliedReportingOverflow(by: s)
                let (l, o3) = last.addingReportingOverflow(span)
                guard !o2, !o3 else { throw StoredTensor.error(name, "strides \(strides) overflow") }
                last = l
            }
        }
        if count > 0 {
            let available = storage.bytes.count / dtype.byteSize
            guard last < available else {
                throw StoredTensor.error(name, "shape \(shape) with strides \(strides) and offset \(offset) needs \(last + 1) \(dtype) elements, the storage holds \(available)")
            }
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.storage = storage
    }

    private static func error(_ name: String, _ message: String) -> FileFormatError {
        FileFormatError(path: "", format: "", "tensor '\(name)': \(message)")
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var isContiguous: Bool { strides == contiguousStrides(shape) || elementCount <= 1 }

    public var description: String { "\(name): \(dtype) \(shape)" }

    /// Calls `body` with each element's byte offset in storage, in row-major order.
    @inline(__always)
    private func forEachElementOffset(_ body: (Int, Int) -> Void) {
        let n = elementCount
        guard n > 0 else { return }
        let size = dtype.byteSize
        if isContiguous {
            for i in 0..<n { body(i, (offset + i) * size) }
            return
        }
        var index = [Int](repeating: 0, count: shape.count)
        var position = offset
        for i in 0..<n {
            body(i, position * size)
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                position += strides[d]
                if index[d] < shape[d] { break }
                position -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }

    /// The values as Float, whatever the stored type (f16/bf16 widen exactly).
    public func floatValues() -> [Float] {
        var out = [Float](repeating: 0, count: elementCount)
        let raw = storage.bytes
        out.withUnsafeMutableBufferPointer { dst in
            switch dtype {
            case .f32: forEachElementOffset { i, o in dst[i] = raw.loadUnaligned(fromByteOffset: o, as: Float.self) }
            case .f64: forEachElementOffset { i, o in dst[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: Double.self)) }
            case .f16: forEachElementOffset { i, o in dst[i] = halfToFloat(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
            case .bf16: forEachElementOffset { i, o in dst[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)) << 16) }
            case .i64: forEachElementOffset { i, o in dst[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: Int64.self)) }
            case .i32: forEachElementOffset { i, o in dst[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: Int32.self)) }
            case .i16: forEachElementOffset { i, o in dst[i] = Float(raw.loadUnaligned(fromByteOffset: o, as: Int16.self)) }
            case .i8: forEachElementOffset { i, o in dst[i] = Float(raw.load(fromByteOffset: o, as: Int8.self)) }
            case .u8, .bool: forEachElementOffset { i, o in dst[i] = Float(raw.load(fromByteOffset: o, as: UInt8.self)) }
            }
        }
        return out
    }

    /// The values as Int64 (integer and bool types; floats truncate toward zero).
    public func integerValues() -> [Int64] {
        var out = [Int64](repeating: 0, count: elementCount)
        let raw = storage.bytes
        out.withUnsafeMutableBufferPointer { dst in
            switch dtype {
            case .i64: forEachElementOffset { i, o in dst[i] = raw.loadUnaligned(fromByteOffset: o, as: Int64.self) }
            case .i32: forEachElementOffset { i, o in dst[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: Int32.self)) }
            case .i16: forEachElementOffset { i, o in dst[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: Int16.self)) }
            case .i8: forEachElementOffset { i, o in dst[i] = Int64(raw.load(fromByteOffset: o, as: Int8.self)) }
            case .u8, .bool: forEachElementOffset { i, o in dst[i] = Int64(raw.load(fromByteOffset: o, as: UInt8.self)) }
            default:
                let f = floatValues()
                for i in 0..<f.count { dst[i] = f[i].isFinite ? Int64(max(min(f[i], 9.2e18), -9.2e18)) : 0 }
            }
        }
        return out
    }

    /// The raw element bytes in row-major order (a contiguous copy in the stored type).
    public func contiguousBytes() -> Data {
        let size = dtype.byteSize
        var data = Data(count: elementCount * size)
        let raw = storage.bytes
        data.withUnsafeMutableBytes { dst in
            guard let d = dst.baseAddress, let s = raw.baseAddress else { return }
            if isContiguous {
                d.copyMemory(from: s + offset * size, byteCount: elementCount * size)
            } else {
                forEachElementOffset { i, o in (d + i * size).copyMemory(from: s + o, byteCount: size) }
            }
        }
        return data
    }

    /// An engine tensor: floating types become f32 (f16/bf16 widen on load), integer types
    /// i32 (an error names the tensor when a value does not fit), u8 and bool stay u8.
    public func toTensor() throws -> Tensor {
        switch dtype {
        case .f64, .f32, .f16, .bf16:
            return Tensor(shape: shape, floats: floatValues())
        case .i64, .i32, .i16, .i8:
            let values = integerValues()
            if let bad = values.first(where: { $0 < Int64(Int32.min) || $0 > Int64(Int32.max) }) {
                throw StoredTensor.error(name, "value \(bad) does not fit in int32")
            }
            return Tensor(shape: shape, ints: values.map { Int32($0) })
        case .u8, .bool:
            let t = Tensor(shape: shape, dtype: .u8)
            let d = contiguousBytes()
            d.withUnsafeBytes { if let s = $0.baseAddress, d.count > 0 { t.data.copyMemory(from: s, byteCount: d.count) } }
            return t
        }
    }
}

/// IEEE half to float, exact (subnormals, infinities and NaN included).
@inline(__always)
public func halfToFloat(_ bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
}

/// Float to IEEE half, round to nearest even.
@inline(__always)
public func floatToHalf(_ value: Float) -> UInt16 {
    Float16(value).bitPattern
}

/// Float to bfloat16, round to nearest even (NaN stays NaN).
@inline(__always)
public func floatToBFloat16(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(bits >> 16) | 0x40 }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(rounded >> 16)
}
