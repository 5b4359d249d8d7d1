import FusionCore

extension GemmTuner {
    /// One tuned attention problem: the default's and the winner's time.
    public typealias AttentionOutcome = Measured<AttentionShapeKey, AttentionVariant>

    /// The attention candidates of `key` on this device, the default first: every variant
    /// the device runs (cooperative-matrix ones where enabled), at most `maxCandidates`.
    func attentionCandidates(for key: AttentionShapeKey) -> [AttentionVariant] {
        let info = backend.context.info, precision = backend.precision
        let coopmatOn = backend.context.enabledFeatures.cooperativeMatrixNV
        var out = [AttentionVariant.defaultChoice(directKernels: backend.context.usesDirectKernels)]
        for v in AttentionVariant.supported(on: info, precision: precision) where (!v.cooperativeMatrix || coopmatOn) && !out.contains(v) {
            out.append(v)
        }
        return Array(out.prefix(maxCandidates))
    }

    /// Tunes every attention problem of `graph` (already optimised as the backend runs it)
    /// over the attention variants, like `tune` does for GEMMs.
    public func tuneAttention(graph: Graph, inputs: [String: Tensor], log: (String) -> Void = { _ in }) throws -> [AttentionOutcome] {
        try tuneRounds(graph: graph, inputs: inputs, candidates: attentionCandidates(for:),
                       order: { ($0.batch, $0.nq, $0.nk, $0.d, $0.dv) < ($1.batch, $1.nq, $1.nk, $1.d, $1.dv) },
                       override: { try AttentionVariantOverride.with($0, $1) }, what: "attention problem shapes", log: log)
    }
}
