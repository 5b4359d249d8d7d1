import CProcessGuard
import Foundation

/// Large host allocations, checked: a request that cannot be met is an error (or, where no
/// caller can take an error, a clean exit) that says how much was needed and for what,
/// never a trap, and never an allocation that pushes a library over the address-space
/// limit into an endless retry (OpenBLAS's buffer allocator).
public enum HostMemory {
    /// Bytes of address space left under `ulimit -v`; nil when unlimited.
    public static var addressSpaceHeadroom: Int? {
        let left = fk_guard_address_space_headroom()
        return left < 0 ? nil : Int(left)
    }

    /// Address space kept free for what runs after a checked allocation: thread stacks,
    /// OpenBLAS's buffers, codec and driver allocations.
    public static let reserveBytes = 192 << 20

    /// Throws `FusionError.outOfMemory` unless `bytes` more (plus `reserveBytes`) fit under
    /// the address-space limit.
    public static func check(_ bytes: Int, for what: @autoclosure () -> String) throws {
        guard let left = addressSpaceHeadroom else { return }
        if bytes > left - reserveBytes { throw FusionError.outOfMemory(what: what(), bytes: bytes, available: left) }
    }

    /// `bytes` of zeroed memory aligned to `alignment`, or `FusionError.outOfMemory`;
    /// release it with `deallocate(_:bytes:)` and the same size.
    public static func allocate(_ bytes: Int, alignment: Int = 64, for what: @autoclosure () -> String) throws -> UnsafeMutableRawPointer {
        try check(bytes, for: what())
        guard let p = rawAllocate(bytes, alignment: alignment) else {
            throw FusionError.outOfMemory(what: what(), bytes: bytes, available: addressSpaceHeadroom)
        }
        return p
    }

    /// As `allocate`, for callers that cannot throw: a failure ends the process with status
    /// 71 (EX_OSERR) and the message, after removing temporary files.
    public static func allocateOrExit(_ bytes: Int, alignment: Int = 64, for what: @autoclosure () -> String) -> UnsafeMutableRawPointer {
        if let p = rawAllocate(bytes, alignment: alignment) { return p }
        let message = "error: " + FusionError.outOfMemory(what: what(), bytes: bytes, available: addressSpaceHeadroom).description
        message.withCString { fk_guard_fail($0, 71) }
    }

    /// Blocks of this size or more are mapped from the kernel: page-aligned, zero without
    /// being written (pages are zeroed when first touched), and returned whole on release.
    /// Preparing a graph for a new image size then costs no memset of its arena.
    static let mappedThreshold = 256 << 10

    private static func rawAllocate(_ bytes: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= 0 else { return nil }
        if bytes >= mappedThreshold, alignment <= 4096 {
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else { return nil }
            return p
        }
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, max(alignment, MemoryLayout<Int>.size), max(bytes, 1)) == 0, let p else { return nil }
        memset(p, 0, max(bytes, 1))
        return p
    }

    /// Grows a block from `allocate` to `newBytes`, keeping its contents. Mapped blocks grow
    /// with `mremap`, which moves page tables, not bytes: pages already touched stay, so a
    /// grown arena faults only its new part. Returns the (possibly moved) block.
    public static func grow(_ p: UnsafeMutableRawPointer, from oldBytes: Int, to newBytes: Int, for what: @autoclosure () -> String) throws -> UnsafeMutableRawPointer {
        try check(newBytes - oldBytes, for: what())
        if oldBytes >= mappedThreshold, newBytes >= oldBytes, let moved = fk_grow_mapping(p, oldBytes, newBytes) {
            return moved
        }
        let q = try allocate(newBytes, for: what())
        q.copyMemory(from: p, byteCount: min(oldBytes, newBytes))
        deallocate(p, bytes: oldBytes)
        return q
    }

    /// Releases memory from `allocate` / `allocateOrExit`; `bytes` is the size asked for.
    public static func deallocate(_ p: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= mappedThreshold { munmap(p, bytes) } else { free(p) }
    }

    /// "1.05 GiB", "310 MiB", "12 KiB".
    public static func describe(_ bytes: Int) -> String {
        let b = Double(bytes)
        if b >= Double(1 << 30) { return String(format: "%.2f GiB", b / Double(1 << 30)) }
        if b >= Double(1 << 20) { return String(format: "%.0f MiB", b / Double(1 << 20)) }
        return String(format: "%.0f KiB", b / 1024)
    }
}
