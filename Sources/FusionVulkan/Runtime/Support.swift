import CVulkan
import Foundation
import FusionCore

extension NSLock {
    /// Runs `body` while holding the lock.
    @inline(__always)
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A heap-allocated value with a stable address, for Vulkan `pNext` chains and out-structs.
final class HeapBox<T> {
    let pointer: UnsafeMutablePointer<T>
    init(_ value: T) {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: value)
    }
    deinit {
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }
    var value: T {
        get { pointer.pointee }
        set { pointer.pointee = newValue }
    }
    var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(pointer) }
}

/// NUL-terminated copies of Swift strings kept alive for the lifetime of this object,
/// exposed as the `const char* const*` arrays Vulkan create-infos want.
final class CStringArray {
    private var storage: [UnsafeMutablePointer<CChar>?]
    let pointer: UnsafeMutablePointer<UnsafePointer<CChar>?>
    let count: Int

    init(_ strings: [String]) {
        storage = strings.map { strdup($0) }
        count = strings.count
        pointer = .allocate(capacity: max(1, strings.count))
        for (i, s) in storage.enumerated() { pointer[i] = UnsafePointer(s) }
    }
    deinit {
        for s in storage { free(s) }
        pointer.deallocate()
    }
}

/// Decodes a fixed-size C `char[N]` array (imported as a tuple) into a String.
func stringFromCCharTuple<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.bindMemory(to: UInt8.self)
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
    }
}

/// The bytes of a fixed-size C `uint8_t[N]` array (imported as a tuple).
func bytesFromTuple<T>(_ tuple: T) -> [UInt8] {
    withUnsafeBytes(of: tuple) { Array($0) }
}

/// Renders a packed Vulkan version as "major.minor.patch".
func vulkanVersionString(_ v: UInt32) -> String {
    "\(v >> 22 & 0x7F).\(v >> 12 & 0x3FF).\(v & 0xFFF)"
}

/// `VK_MAKE_API_VERSION(0, major, minor, patch)`.
func vulkanMakeVersion(_ major: UInt32, _ minor: UInt32, _ patch: UInt32 = 0) -> UInt32 {
    (major << 22) | (minor << 12) | patch
}

/// `major.minor` of a packed version, ignoring patch and variant.
func vulkanMajorMinor(_ v: UInt32) -> UInt32 { v & ~UInt32(0xFFF) & 0x1FFF_FFFF }

/// Rounds `value` up to a multiple of `alignment` (any positive alignment).
@inline(__always)
func alignUp(_ value: Int, _ alignment: Int) -> Int {
    guard alignment > 1 else { return value }
    return (value + alignment - 1) / alignment * alignment
}
