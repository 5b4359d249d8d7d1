import FusionCore

/// RFC's `processmodule` (PModule): six bias-free `Conv1d(1, 64, 512)`, i.e. linears 512 -> 64,
/// on the process embedding, stacked as the FiLM vectors of the three ResBlocks.
public enum RFCProcessModule {
    /// embedding [1, 512] -> (film_w, film_b), each [3, 1, 64].
    public static func filmVectors(_ g: Graph, _ w: RFCFusionWeights, embedding: Value) throws -> (w: Value, b: Value) {
        func stack(_ weights: [Tensor]) throws -> Value {
            let rows = try weights.map { try g.reshape(g.linear(embedding, weight: g.constant($0)), [1, 1, 64]) }
            return try g.concat(rows, axis: 0)
        }
        return (try stack(w.processW), try stack(w.processB))
    }
}
