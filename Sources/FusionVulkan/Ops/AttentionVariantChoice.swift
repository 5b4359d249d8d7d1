import FusionCore

extension HeavyOpsTuning {
    /// Tuner and test hook: when set, each attention problem's variant comes from this
    /// function, given the problem and the index of the node being encoded (nil: the usual
    /// choice).
    nonisolated(unsafe) static var attentionVariantResolver: ((AttentionShapeKey, Int?) -> AttentionVariant?)?
}

extension EncodeContext {
    /// The attention kernel for `key`: the test / tuner override, else
    /// FUSIONKIT_ATTENTION_VARIANT (`options.attentionVariant`), else the device's tuning
    /// table, else the default (`AttentionVariant.defaultChoice`). A forced variant the
    /// device cannot run is an error naming it.
    func attentionVariant(_ key: AttentionShapeKey) throws -> AttentionVariant {
        let info = context.info
        let coopmatOn = context.enabledFeatures.cooperativeMatrixNV
        func unsupported(_ v: AttentionVariant) -> String? {
            v.unsupportedReason(on: info, precision: precision)
                ?? (v.cooperativeMatrix && !coopmatOn ? "cooperative matrices are not enabled on this device" : nil)
        }
        if let resolver = HeavyOpsTuning.attentionVariantResolver, let forced = resolver(key, node?.index) {
            if let why = unsupported(forced) {
                throw FusionError.invalidArgument(op: opName, detail: "attention variant \(forced.name) cannot run on '\(info.name)': \(why)")
            }
            return forced
        }
        if let name = context.options.attentionVariant {
            guard let v = AttentionVariant.named(name) else {
                throw FusionError.invalidArgument(op: "environment", detail: "FUSIONKIT_ATTENTION_VARIANT='\(name)' is not an attention variant; known: \(AttentionVariant.all.map(\.name).joined(separator: ", "))")
            }
            if let why = unsupported(v) {
                throw FusionError.invalidArgument(op: "environment", detail: "FUSIONKIT_ATTENTION_VARIANT='\(name)' cannot run on '\(info.name)': \(why)")
            }
            return v
        }
        if let tuned = context.gemmTuning?.attentionVariant(for: key), unsupported(tuned) == nil {
            return tuned
        }
        return AttentionVariant.defaultChoice(directKernels: useDirectKernels)
    }
}

/// Runs code with every attention dispatch forced to one variant (the tuner's candidates,
/// `fusion parity --ops`'s variant sweep, tests). Executables record their dispatches when
/// prepared or re-recorded, so prepare and run inside `body`.
public enum AttentionVariantOverride {
    public static func with<T>(_ variant: AttentionVariant?, _ body: () throws -> T) rethrows -> T {
        try with({ _, _ in variant }, body)
    }

    /// Like `with(_:_:)` with a variant per problem: `resolver(problem, node index)`, nil for
    /// the usual choice.
    public static func with<T>(_ resolver: @escaping (AttentionShapeKey, Int?) -> AttentionVariant?, _ body: () throws -> T) rethrows -> T {
        let saved = HeavyOpsTuning.attentionVariantResolver
        HeavyOpsTuning.attentionVariantResolver = resolver
        defer { HeavyOpsTuning.attentionVariantResolver = saved }
        return try body()
    }
}
