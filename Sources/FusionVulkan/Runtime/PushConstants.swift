/// A scalar that can be appended to a push-constant block (4 bytes, little-endian as the
/// host; std430 scalars are naturally 4-byte aligned).
public protocol PushConstantScalar {
    func appendPushConstantBytes(to bytes: inout [UInt8])
}

extension UInt32: PushConstantScalar {
    public func appendPushConstantBytes(to bytes: inout [UInt8]) {
        withUnsafeBytes(of: self) { bytes.append(contentsOf: $0) }
    }
}

extension Int32: PushConstantScalar {
    public func appendPushConstantBytes(to bytes: inout [UInt8]) {
        withUnsafeBytes(of: self) { bytes.append(contentsOf: $0) }
    }
}

extension Float: PushConstantScalar {
    public func appendPushConstantBytes(to bytes: inout [UInt8]) {
        withUnsafeBytes(of: self) { bytes.append(contentsOf: $0) }
    }
}

/// Builds push-constant bytes from a mix of `UInt32`, `Int32` and `Float`:
/// `let pc: PushConstants = [UInt32(n), Float(0.5), Int32(-1)]`.
public struct PushConstants: ExpressibleByArrayLiteral {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public init(arrayLiteral elements: PushConstantScalar...) {
        for element in elements { element.appendPushConstantBytes(to: &bytes) }
    }

    public init(_ elements: [PushConstantScalar]) {
        for element in elements { element.appendPushConstantBytes(to: &bytes) }
    }

    public mutating func append(_ value: UInt32) { value.appendPushConstantBytes(to: &bytes) }
    public mutating func append(_ value: Int32) { value.appendPushConstantBytes(to: &bytes) }
    public mutating func append(_ value: Float) { value.appendPushConstantBytes(to: &bytes) }

    /// Appends an `Int` as `Int32`; nil-safe alternative to a trapping conversion.
    public mutating func append(int value: Int) throws {
        guard let narrowed = Int32(exactly: value) else {
            throw VulkanError.invalidArgument("push constant \(value) does not fit in Int32")
        }
        append(narrowed)
    }

    public var count: Int { bytes.count }
}
