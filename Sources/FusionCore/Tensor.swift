import CProcessGuard
import Foundation

/// A dense, contiguous, row-major tensor in host memory.
///
/// Reference type on purpose: tensors are large, and graph constants are shared between
/// backends without copying. Memory is 64-byte aligned for vector loads.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let dtype: DType
    public let count: Int
    public let data: UnsafeMutableRawPointer

    public var byteCount: Int { count * dtype.byteSize }

    /// A zero-filled tensor.
    public init(shape: [Int], dtype: DType = .f32) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.dtype = dtype
        var count = 1
        for d in shape {
            let (c, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { fatalShape(shape) }
            count = c
        }
        self.count = count
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        if overflow { fatalShape(shape) }
        // Zeroed; a failed allocation ends the process with a message naming the size.
        self.data = HostMemory.allocateOrExit(bytes, for: "a \(dtype) tensor of shape \(shape)")
    }

    public convenience init(shape: [Int], floats: [Float]) {
        precondition(floats.count == shape.reduce(1, *), "\(floats.count) values for shape \(shape)")
        self.init(shape: shape, dtype: .f32)
        floats.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    public convenience init(shape: [Int], ints: [Int32]) {
        precondition(ints.count == shape.reduce(1, *), "\(ints.count) values for shape \(shape)")
        self.init(shape: shape, dtype: .i32)
        ints.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// Uniform random values in [lo, hi) from a seeded generator (reproducible).
    public static func random(shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
        let t = Tensor(shape: shape, dtype: .f32)
        var rng = SplitMix64(seed: seed)
        let p = t.floats
        let lo = range.lowerBound, span = range.upperBound - range.lowerBound
        for i in 0..<t.count { p[i] = lo + span * rng.nextUnitFloat() }
        return t
    }

    deinit { HostMemory.deallocate(data, bytes: byteCount) }

    public var floats: UnsafeMutableBufferPointer<Float> {
        precondition(dtype == .f32, "tensor is \(dtype), not f32")
        return UnsafeMutableBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: count)
    }

    public var int32s: UnsafeMutableBufferPointer<Int32> {
        precondition(dtype == .i32, "tensor is \(dtype), not i32")
        return UnsafeMutableBufferPointer(start: data.assumingMemoryBound(to: Int32.self), count: count)
    }

    public var bytes: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: data, count: byteCount)
    }

    public func toFloatArray() -> [Float] { Array(floats) }

    /// A copy with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        let t = Tensor(shape: newShape, dtype: dtype)
        t.data.copyMemory(from: data, byteCount: byteCount)
        return t
    }

    public var description: String { "Tensor(\(dtype), \(shape))" }
}

/// A tensor whose element count does not fit in an Int: no input can ask for one (readers
/// check declared shapes), so this ends the process with a message.
private func fatalShape(_ shape: [Int]) -> Never {
    let message = "error: a tensor of shape \(shape) has more elements than memory can address"
    message.withCString { fk_guard_fail($0, 70) }
}

/// Small, fast, seedable generator so tests and parity cases are reproducible.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }
}
