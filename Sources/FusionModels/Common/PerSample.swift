import FusionCore

extension Graph {
    /// `body` applied to each sample of x [N, ...] on its own ([1, ...] slices), the results
    /// concatenated along axis 0; just `body(x)` when N is 1.
    ///
    /// For the small per-prompt linears of the batched graphs: a linear over [N, K] is one
    /// GEMM with N rows, which BLAS may round differently from the 1-row GEMM of a batch-1
    /// run (another kernel or thread split for a different shape). Row by row, each sample
    /// gets exactly the batch-1 arithmetic, at the cost of N tiny GEMMs.
    func perSample(_ x: Value, _ body: (Value) throws -> Value) throws -> Value {
        let n = x.shape.first ?? 1
        if n == 1 { return try body(x) }
        let parts = try (0..<n).map { try body(slice(x, axis: 0, start: $0, length: 1)) }
        return try concat(parts, axis: 0)
    }
}
