/// Reusable temporary memory for kernels (im2col columns, attention score rows...).
///
/// One per executable; it grows to the largest request and is kept across runs, so steady
/// state runs allocate nothing. A kernel asks once for everything it needs and splits the
/// block between its workers. Valid until the next request.
final class Scratch {
    private var buffer: UnsafeMutableRawPointer?
    private(set) var capacity = 0

    /// At least `count` floats, 64-byte aligned.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        bytes(max(1, count) * MemoryLayout<Float>.stride).assumingMemoryBound(to: Float.self)
    }

    func bytes(_ count: Int) -> UnsafeMutableRawPointer {
        if count > capacity || buffer == nil {
            buffer?.deallocate()
            let size = max(count, 4096)
            buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            capacity = size
        }
        return buffer!
    }

    deinit { buffer?.deallocate() }
}

/// What every kernel gets besides its operands.
struct KernelContext {
    let threads: Int
    let scratch: Scratch
    /// Winograd-transformed kernels of constant weights; set only for a conv whose weight is
    /// a graph constant (see `WinogradWeightCache`).
    var winogradCache: WinogradWeightCache? = nil
    /// Whether large 3x3 convs may take the Winograd path (`CPUBackend.winograd`).
    var winograd = true
}
