import FusionCore

/// What a device with fp16 storage reads: every float input and weight rounded to the
/// nearest fp16. Giving the fp32 reference the same rounded values makes an fp16 comparison
/// bound the kernel's own error (fp32 arithmetic, fp16 intermediates and output) instead
/// of the inputs' rounding, which no kernel can undo.
enum HalfRounding {
    /// A copy of `t` with every float rounded to fp16 (integer tensors as they are).
    static func rounded(_ t: Tensor) -> Tensor {
        guard t.dtype == .f32 else { return t }
        let copy = Tensor(shape: t.shape, floats: Array(t.floats))
        roundInPlace(copy)
        return copy
    }

    /// Rounds every float constant of `graph` in place (the graph is the case's own).
    static func roundConstants(of graph: Graph) {
        for info in graph.values {
            if case let .constant(t) = info.kind, t.dtype == .f32 { roundInPlace(t) }
        }
    }

    private static func roundInPlace(_ t: Tensor) {
        let f = t.floats
        for i in 0..<f.count { f[i] = Float(Float16(f[i])) }
    }
}
