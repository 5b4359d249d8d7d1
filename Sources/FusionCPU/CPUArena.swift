import Foundation
import FusionCore

/// The intermediate memory of every graph a `CPUBackend` prepared, shared: block `i` is as
/// large as the largest block `i` any run has needed, grows when a larger plan runs and
/// never shrinks. Preparing a graph for a new image size allocates nothing, and a dataset
/// of mixed sizes holds the memory of its largest size once instead of once per size.
/// Runs of the backend's executables take the arena in turn (each run uses every core).
final class CPUArena: @unchecked Sendable {
    private let lock = NSLock()
    private var blocks: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []
    /// Kernel scratch (im2col columns, attention rows), shared the same way.
    let scratch = Scratch()
    /// Bumped whenever a block moves, so executables know to rebind their addresses.
    private(set) var generation = 0

    /// Holds the arena while `body` runs with blocks of at least `sizes` bytes.
    func withBlocks<T>(_ sizes: [Int], for what: @autoclosure () -> String,
                       _ body: ([UnsafeMutableRawPointer], Int) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        for (i, size) in sizes.enumerated() {
            let need = max(size, 64)
            if i < blocks.count, blocks[i].bytes >= need { continue }
            if i < blocks.count {
                blocks[i] = (try HostMemory.grow(blocks[i].pointer, from: blocks[i].bytes, to: need, for: what()), need)
            } else {
                blocks.append((try HostMemory.allocate(need, for: what()), need))
            }
            generation += 1
        }
        return try body(blocks.prefix(sizes.count).map(\.pointer), generation)
    }

    /// Bytes held.
    var bytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return blocks.reduce(0) { $0 + $1.bytes }
    }

    deinit { for b in blocks { HostMemory.deallocate(b.pointer, bytes: b.bytes) } }
}
