/// Stacking tensors along a new leading batch dimension and taking samples back out: how
/// the batched model entries turn N pairs of [1, ...] tensors into one [N, ...] graph input
/// and its [N, ...] output back into N tensors.
extension Tensor {
    /// The tensors, each [1, d1, ...] of one shape and dtype, as one [N, d1, ...] tensor.
    public static func stacked(_ items: [Tensor]) throws -> Tensor {
        guard let first = items.first else {
            throw FusionError.invalidArgument(op: "stack", detail: "no tensors to stack")
        }
        guard first.shape.first == 1 else {
            throw FusionError.invalidArgument(op: "stack", detail: "tensors must have a leading dimension of 1, the first has shape \(first.shape)")
        }
        for (i, t) in items.enumerated() where t.shape != first.shape || t.dtype != first.dtype {
            throw FusionError.invalidArgument(op: "stack", detail: "tensor \(i) has shape \(t.shape) (\(t.dtype)), tensor 0 \(first.shape) (\(first.dtype)): they must match")
        }
        let out = Tensor(shape: [items.count] + first.shape.dropFirst(), dtype: first.dtype)
        let bytes = first.byteCount
        for (i, t) in items.enumerated() where bytes > 0 {
            (out.data + i * bytes).copyMemory(from: t.data, byteCount: bytes)
        }
        return out
    }

    /// Sample `index` of an [N, d1, ...] tensor as a [1, d1, ...] copy.
    public func sample(_ index: Int) -> Tensor {
        precondition(!shape.isEmpty && index >= 0 && index < shape[0], "sample \(index) of a tensor of shape \(shape)")
        let out = Tensor(shape: [1] + shape.dropFirst(), dtype: dtype)
        let bytes = out.byteCount
        if bytes > 0 { out.data.copyMemory(from: data + index * bytes, byteCount: bytes) }
        return out
    }

    /// Every sample of an [N, d1, ...] tensor, each [1, d1, ...].
    public func samples() -> [Tensor] {
        (0..<(shape.first ?? 0)).map { sample($0) }
    }
}
