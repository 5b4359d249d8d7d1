import Foundation
import FusionCore

/// The intermediate memory of every graph a `VulkanBackend` prepared, shared (as
/// `CPUArena` on the CPU): device-local block `i` is at least as large as the largest block
/// `i` any of the backend's executables planned, grows when a larger plan comes and never
/// shrinks. A dataset of mixed sizes then holds the intermediates of its largest size once
/// instead of once per prepared size, and a new size that fits allocates nothing.
///
/// A block grows to the larger of the need and 1.25 times its old size (1 MiB steps), so a
/// run of ascending sizes replaces it a few times, not at every size. The slack stops at
/// half the device-local heap: beyond that the exact need is taken, and a slack
/// allocation that fails is retried at the exact need.
///
/// Sharing is safe because a backend submits to one queue and every submission of its
/// executables starts with a barrier against all earlier work on that queue (see
/// `VulkanExecutable`): the GPU runs the backend's graphs one after another, whichever
/// thread queued them. The lock serialises growth, recording and queueing.
///
/// Recorded commands bind specific `VkBuffer`s (and `CommandSequence` retains what it
/// binds), so a replaced block must outlive every recording that binds it and every
/// submission of those. Growth therefore, under the lock: waits for the queue to be idle
/// (no submission can still use an old block), bumps `generation` and has every
/// executable drop its recordings (they re-record, under this lock, before their next
/// submission), drops the old blocks and allocates the new ones. An old block is freed
/// there unless a submission queued but not yet collected still holds its recording: then
/// it goes when that submission is collected (it already finished on the GPU).
final class VulkanArena: @unchecked Sendable {
    let context: VulkanContext
    private let lock = NSLock()
    private var blocks: [VulkanBuffer?] = []
    /// Bumped whenever blocks are replaced, so executables know to re-record.
    private var generation = 0
    /// Executables whose recordings bind the blocks (weak: an executable's deinit frees its own).
    private var users: [WeakExecutable] = []

    private struct WeakExecutable { weak var value: VulkanExecutable? }

    init(context: VulkanContext) {
        self.context = context
    }

    /// Adds an executable to those told to drop their recordings when blocks are replaced.
    func register(_ executable: VulkanExecutable) {
        lock.locked {
            users.removeAll { $0.value == nil }
            users.append(WeakExecutable(value: executable))
        }
    }

    /// Holds the arena while `body` runs with blocks of at least `sizes` bytes and the
    /// generation they belong to. `body` may record and queue commands that bind them;
    /// the blocks stay until the generation changes, which waits for the queue first.
    func withBlocks<T>(_ sizes: [Int], for what: @autoclosure () -> String,
                       _ body: ([VulkanBuffer], Int) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        try grow(to: sizes, for: what())
        return try body(blocks.prefix(sizes.count).map { $0! }, generation)
    }

    /// Device bytes held (shared by every executable of the backend).
    var bytes: Int {
        lock.locked { blocks.reduce(0) { $0 + ($1?.size ?? 0) } }
    }

    /// Replaces the blocks smaller than `sizes` (see the type's comment). Called with the lock held.
    private func grow(to sizes: [Int], for what: String) throws {
        let short = sizes.indices.filter { i in i >= blocks.count || (blocks[i]?.size ?? 0) < max(sizes[i], 4) }
        guard !short.isEmpty else { return }
        try context.waitIdle()
        generation += 1
        for user in users { user.value?.dropRecordings() }
        users.removeAll { $0.value == nil }
        while blocks.count < sizes.count { blocks.append(nil) }
        let info = context.info
        let largest = Int(clamping: info.maxMemoryAllocationSize)
        let slackLimit = max(0, Int(clamping: info.deviceLocalHeapBytes) / 2)
        for i in short {
            let need = max(sizes[i], 4)
            let old = blocks[i]?.size ?? 0
            blocks[i] = nil // freed first, so the heap need not hold the old block and the new one
            var grown = need
            if old > 0 {
                let slack = min(alignUp(old + old / 4, 1 << 20), largest)
                if slack > need, slack <= slackLimit { grown = slack }
            }
            do {
                blocks[i] = try allocate(grown, block: i, for: what)
            } catch VulkanError.outOfDeviceMemory where grown > need {
                blocks[i] = try allocate(need, block: i, for: what)
            }
        }
    }

    private func allocate(_ bytes: Int, block: Int, for what: String) throws -> VulkanBuffer {
        do {
            return try context.makeBuffer(bytes: bytes, kind: .deviceLocal)
        } catch VulkanError.outOfDeviceMemory(let requested, let detail) {
            let held = blocks.reduce(0) { $0 + ($1?.size ?? 0) }
            throw VulkanError.outOfDeviceMemory(requested: requested,
                context: "\(what): shared intermediate block \(block) of \(bytes) bytes (the backend's other blocks hold \(held) bytes); \(detail)")
        }
    }
}
