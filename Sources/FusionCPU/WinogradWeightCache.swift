import Foundation
import FusionCore

/// Winograd-transformed kernels (U = G g G^T, laid out [position][O][C]) of constant weight
/// tensors, computed on first use and kept for the life of their owner.
///
/// One per `CPUExecutable`, which hands it to `conv2d` (through `KernelContext`) only for
/// convolutions whose weight is a graph constant: those tensors live as long as the
/// executable's graph, so a weight's address (with its shape and the variant) identifies
/// the transformed kernels for good. Weights that change between runs (graph inputs,
/// intermediates) never reach the cache; their kernels are transformed per call into scratch.
///
/// Memory: the transformed kernels are (a/3)^2 times their weight (4x for F(4x4,3x3)): about
/// 770 MB for Text-IF's released configuration. `limitBytes` bounds what is held, and an
/// entry is only added while it fits under the address-space limit (`HostMemory`); past
/// either, kernels are transformed per call (into scratch), which is slower, not wrong.
final class WinogradWeightCache: @unchecked Sendable {
    private struct Key: Hashable {
        let address: UInt
        let o: Int, c: Int
        let variant: WinogradVariant
    }

    private let lock = NSLock()
    private var entries: [Key: UnsafeMutablePointer<Float>] = [:]
    private(set) var bytes = 0
    let limitBytes: Int

    init(limitBytes: Int = 1 << 30) {
        self.limitBytes = limitBytes
    }

    /// The transformed kernels of `weight` [O, C, 3, 3], or nil when caching them would pass
    /// `limitBytes` (the caller then transforms into its own memory).
    func kernels(_ weight: UnsafePointer<Float>, o: Int, c: Int, variant: WinogradVariant, threads: Int = 1) -> UnsafePointer<Float>? {
        let key = Key(address: UInt(bitPattern: weight), o: o, c: c, variant: variant)
        lock.lock()
        defer { lock.unlock() }
        if let u = entries[key] { return UnsafePointer(u) }
        let count = variant.positions * o * c
        let size = count * MemoryLayout<Float>.stride
        guard bytes + size <= limitBytes, (try? HostMemory.check(size, for: "Winograd kernels")) != nil else { return nil }
        let u = UnsafeMutablePointer<Float>.allocate(capacity: count)
        variant.transformWeights(weight, o: o, c: c, into: u, threads: threads)
        entries[key] = u
        bytes += size
        return UnsafePointer(u)
    }

    /// Number of kernels held.
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    deinit {
        for u in entries.values { u.deallocate() }
    }
}
