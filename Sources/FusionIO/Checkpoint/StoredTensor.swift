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

    /// The file the bytes come from, when they view a mapped file (for error messages).
    public var sourcePath: String? { (owner as? MappedFile)?.path }
}

/// One tensor as a checkpoint stores it: a typed, strided view of a storage.
///
/// The initialiser checks that every element the view can reach lies inside the storage,
/// so reading values can never go out of bounds, whatever the file declared; every product
/// of declared sizes is overflow-checked. Values are only copied out (`floatValues`,
/// `integerValues`, `contiguousBytes`, `toTensor`) up to `maxMaterializedBytes`, because a
/// view can repeat one stored element any number of times (zero strides).
public struct StoredTensor: @unchecked Sendable, CustomStringConvertible {
    /// The most bytes one materialised tensor may take, counted in the type it is copied
    /// out as (f32 for `floatValues` and float `toTensor`, Int64 for `integerValues`, the
    /// stored type for `contiguousBytes`): 4 GiB by default, the size of 2^30 f32 values.
    /// Larger tensors fail with an error naming the tensor, its shape and the bytes needed.
    /// Settable (tests lower it; a tool that truly needs more raises it).
    public static var maxMaterializedBytes: Int {
        get { limitLock.lock(); defer { limitLock.unlock() }; return _maxMaterializedBytes }
        set { limitLock.lock(); _maxMaterializedBytes = newValue; limitLock.unlock() }
    }
    /// The default of `maxMaterializedBytes`: 4 GiB.
    public static let defaultMaxMaterializedBytes = 4 << 30
    private static let limitLock = NSLock()
    private nonisolated(unsafe) static var _maxMaterializedBytes = defaultMaxMaterializedBytes

    /// The most elements a declared shape may have (2^37 - 64: 512 GiB of f32), whatever
    /// the storage holds; with overflow checks, it keeps every index computation in range.
    public static let maxElementCount = Int(Int32.max) * 64

    public var name: String
    public let dtype: StorageDType
    public let shape: [Int]
    /// Strides in elements.
    public let strides: [Int]
    /// Offset of the first element, in elements.
    public let offset: Int
    public let storage: TensorStorage
    /// The number of elements (the product of `shape`, checked when the view was made).
    public let elementCount: Int
    /// Whether the elements lie in row-major order without gaps from `offset`.
    public let isContiguous: Bool

    /// Fails with a message (no file name: the reader adds it) when the view does not fit.
    public init(name: String, dtype: StorageDType, shape: [Int], strides: [Int]? = nil, offset: Int = 0, storage: TensorStorage) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw StoredTensor.error(name, "negative dimension in shape \(shape)") }
        // Element count, left to right without overflow; a zero dimension makes it zero
        // whatever the other sizes are.
        var count = 1
        if shape.contains(0) {
            count = 0
        } else {
            for d in shape {
                let (c, o1) = count.multipliedReportingOverflow(by: d)
                guard !o1, c <= StoredTensor.maxElementCount else {
                    throw StoredTensor.error(name, "shape \(shape) is too large (over \(StoredTensor.maxElementCount) elements)")
                }
                count = c
            }
        }
        let rowMajor = checkedContiguousStrides(shape)
        // Only an empty shape has no row-major strides ([0, 1 << 32, 1 << 32]: they
        // overflow), and no element is ever addressed through them: zeros do.
        let strides = strides ?? rowMajor ?? Array(repeating: 0, count: shape.count)
        guard strides.count == shape.count else {
            throw StoredTensor.error(name, "\(strides.count) strides for a \(shape.count)-d shape")
        }
        guard offset >= 0, strides.allSatisfy({ $0 >= 0 }) else {
            throw StoredTensor.error(name, "negative offset or stride")
        }
        // Last reachable element, without overflow.
        var last = offset
        if count > 0 {
            for (d, s) in zip(shape, strides) {
                let (span, o2) = (d - 1).multipliedReportingOverflow(by: s)
                let (l, o3) = last.addingReportingOverflow(span)
                guard !o2, !o3 else { throw StoredTensor.error(name, "strides \(strides) overflow") }
                last = l
            }
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
        self.elementCount = count
        self.isContiguous = count <= 1 || strides == rowMajor
    }

    private static func error(_ name: String, _ message: String) -> FileFormatError {
        FileFormatError(path: "", format: "", "tensor '\(name)': \(message)")
    }

    public var description: String { "\(name): \(dtype) \(shape)" }

    /// Bytes shown as GiB (or MiB, KiB, bytes when smaller), one decimal.
    static func formatBytes(_ bytes: Double) -> String {
        let units: [(Double, String)] = [(Double(1 << 30), "GiB"), (Double(1 << 20), "MiB"), (1024, "KiB")]
        for (size, unit) in units where bytes >= size {
            return String(format: "%.1f %@", bytes / size, unit)
        }
        return "\(Int(bytes)) bytes"
    }

    /// Throws unless `elementCount` values of `bytesPerElement` bytes fit the limit.
    /// `typeName` is what the values are copied out as ("f32", "int64"...).
    public func checkMaterializable(bytesPerElement: Int, as typeName: String) throws {
        let limit = StoredTensor.maxMaterializedBytes
        let (needed, overflow) = elementCount.multipliedReportingOverflow(by: bytesPerElement)
        guard overflow || needed > limit else { return }
        let neededText = StoredTensor.formatBytes(Double(elementCount) * Double(bytesPerElement))
        throw FileFormatError(path: storage.sourcePath ?? "", format: storage.sourcePath == nil ? "" : "checkpoint", "tensor '\(name)' of shape \(shape) would need \(neededText) as \(typeName); the limit is \(StoredTensor.formatBytes(Double(limit))) (StoredTensor.maxMaterializedBytes)")
    }

    /// Calls `body` with each element's byte offset in storage, in row-major order.
    ///
    /// Positions step with wrapping arithmetic: a stride of a size-1 dimension may be huge
    /// (it never moves to a second element), and every position `body` sees was checked
    /// to lie in the storage by the initialiser, so the wrapped sums are exact there.
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
                position &+= strides[d]
                if index[d] < shape[d] { break }
                position &-= strides[d] &* shape[d]
                index[d] = 0
                d -= 1
            }
        }
    }

    /// The values as Float, whatever the stored type (f16/bf16 widen exactly). Throws when
    /// they would take more than `maxMaterializedBytes` as f32.
    public func floatValues() throws -> [Float] {
        try checkMaterializable(bytesPerElement: MemoryLayout<Float>.size, as: "f32")
        return unsafeFloatValues()
    }

    private func unsafeFloatValues() -> [Float] {
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

    /// The values as Int64 (integer and bool types; floats truncate toward zero). Throws
    /// when they would take more than `maxMaterializedBytes` as int64.
    public func integerValues() throws -> [Int64] {
        try checkMaterializable(bytesPerElement: MemoryLayout<Int64>.size, as: "int64")
        var out = [Int64](repeating: 0, count: elementCount)
        let raw = storage.bytes
        let floats: [Float] = dtype.isFloatingPoint ? unsafeFloatValues() : []
        out.withUnsafeMutableBufferPointer { dst in
            switch dtype {
            case .i64: forEachElementOffset { i, o in dst[i] = raw.loadUnaligned(fromByteOffset: o, as: Int64.self) }
            case .i32: forEachElementOffset { i, o in dst[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: Int32.self)) }
            case .i16: forEachElementOffset { i, o in dst[i] = Int64(raw.loadUnaligned(fromByteOffset: o, as: Int16.self)) }
            case .i8: forEachElementOffset { i, o in dst[i] = Int64(raw.load(fromByteOffset: o, as: Int8.self)) }
            case .u8, .bool: forEachElementOffset { i, o in dst[i] = Int64(raw.load(fromByteOffset: o, as: UInt8.self)) }
            default:
                for i in 0..<floats.count { dst[i] = floats[i].isFinite ? Int64(max(min(floats[i], 9.2e18), -9.2e18)) : 0 }
            }
        }
        return out
    }

    /// The raw element bytes in row-major order (a contiguous copy in the stored type).
    /// Throws when they would take more than `maxMaterializedBytes`.
    public func contiguousBytes() throws -> Data {
        let size = dtype.byteSize
        try checkMaterializable(bytesPerElement: size, as: dtype.rawValue)
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
    /// Throws when the tensor would take more than `maxMaterializedBytes`.
    public func toTensor() throws -> Tensor {
        // The engine's Tensor multiplies the sizes left to right: an empty shape such as
        // [1 << 32, 1 << 32, 0] would overflow there.
        var product = 1
        for d in shape {
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw FileFormatError(path: storage.sourcePath ?? "", format: storage.sourcePath == nil ? "" : "checkpoint",
                                      "tensor '\(name)': shape \(shape) cannot be an engine tensor (its sizes overflow when multiplied)")
            }
            product = p
        }
        switch dtype {
        case .f64, .f32, .f16, .bf16:
            return Tensor(shape: shape, floats: try floatValues())
        case .i64, .i32, .i16, .i8:
            try checkMaterializable(bytesPerElement: MemoryLayout<Int32>.size, as: "int32")
            let values = try integerValues()
            if let bad = values.first(where: { $0 < Int64(Int32.min) || $0 > Int64(Int32.max) }) {
                throw StoredTensor.error(name, "value \(bad) does not fit in int32").located(path: storage.sourcePath ?? "", format: storage.sourcePath == nil ? "" : "checkpoint")
            }
            return Tensor(shape: shape, ints: values.map { Int32($0) })
        case .u8, .bool:
            let d = try contiguousBytes()
            let t = Tensor(shape: shape, dtype: .u8)
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
