import FusionCore

extension HeavyOpsTuning {
    /// Tuner and test hook: when set, every GEMM and conv the encoders record goes through
    /// the register-tiled kernels (as with FUSIONKIT_KERNELS=tiled), and each problem's
    /// choice comes from this function, given the problem and the index of the node being
    /// encoded (nil: the usual choice). Splits are clamped to what the problem allows.
    nonisolated(unsafe) static var gemmChoiceResolver: ((GemmShapeKey, Int?) -> GemmChoice?)?
}

extension EncodeContext {
    /// The kernel choice for `key`: the test / tuner override, else FUSIONKIT_GEMM_VARIANT
    /// (`options.gemmVariant`), else the device's tuning table, else the default from the
    /// device's properties. A forced variant the device cannot run is an error naming it.
    func gemmChoice(_ key: GemmShapeKey) throws -> GemmChoice {
        let info = context.info
        let coopmatOn = context.enabledFeatures.cooperativeMatrixNV
        func unsupported(_ v: GemmVariant) -> String? {
            v.unsupportedReason(on: info, precision: precision)
                ?? (v.cooperativeMatrix && !coopmatOn ? "cooperative matrices are not enabled on this device" : nil)
        }
        if let resolver = HeavyOpsTuning.gemmChoiceResolver, let forced = resolver(key, node?.index) {
            if let why = unsupported(forced.variant) {
                throw FusionError.invalidArgument(op: opName, detail: "GEMM variant \(forced.variant.name) cannot run on '\(info.name)': \(why)")
            }
            return forced
        }
        if let name = context.options.gemmVariant, name != "legacy" {
            guard let v = GemmVariant.named(name) else {
                throw FusionError.invalidArgument(op: "environment", detail: "FUSIONKIT_GEMM_VARIANT='\(name)' is not a GEMM variant; known: \(GemmVariant.all.map(\.name).joined(separator: ", "))")
            }
            if let why = unsupported(v) {
                throw FusionError.invalidArgument(op: "environment", detail: "FUSIONKIT_GEMM_VARIANT='\(name)' cannot run on '\(info.name)': \(why)")
            }
            var choice = GemmVariant.defaultChoice(for: key, on: info, precision: precision, cooperativeMatrixEnabled: coopmatOn)
            if choice.variant != v {
                let busy = info.type.contains("CPU") ? 8 : 256
                let blocks = ((key.m + v.bm - 1) / v.bm) * ((key.n + v.bn - 1) / v.bn) * key.batch
                choice = GemmChoice(variant: v, splits: GemmVariant.defaultSplits(k: key.k, blocks: blocks, busy: busy, bk: v.bk))
            }
            return choice
        }
        if let tuned = context.gemmTuning?.choice(for: key), unsupported(tuned.variant) == nil {
            return tuned
        }
        return GemmVariant.defaultChoice(for: key, on: info, precision: precision, cooperativeMatrixEnabled: coopmatOn)
    }

    /// K per split for `splits` splits of `k` (a multiple of `bk`, so vec4 loads stay
    /// aligned), and the splits that actually result.
    func splitK(_ k: Int, splits: Int, bk: Int) -> (chunk: Int, splits: Int) {
        guard splits > 1, k > bk else { return (max(k, 1), 1) }
        var chunk = (k + splits - 1) / splits
        chunk = (chunk + bk - 1) / bk * bk
        return (chunk, (k + chunk - 1) / chunk)
    }

    /// One register-tiled GEMM (gemm_tiled.comp) of a problem that fits the bindings (see
    /// `encodeGemm`), with a split-K reduction pass when the choice splits K.
    func dispatchTiledGemm(_ p: GemmProblem, epilogue: FusedEpilogue?, cDefines: [(String, String)]) throws {
        let key = GemmShapeKey(kind: .gemm, m: p.M, n: p.N, k: p.K, batch: p.batchCount, fp16: precision == .fp16)
        var choice = try gemmChoice(key)
        let v = choice.variant
        let maxZ = Int(context.info.maxComputeWorkGroupCount[2])
        choice.splits = min(choice.splits, max(1, maxZ / max(p.batchCount, 1)))
        // The partial sums must fit one binding.
        while choice.splits > 1, !heavyFits(elements: choice.splits * p.batchCount * p.M * p.N) { choice.splits /= 2 }
        let (kChunk, splits) = splitK(p.K, splits: choice.splits, bk: v.bk)

        let g = try bindGemm(p)
        let (aBinding, bBinding, cBinding, biasBinding) = (g.a, g.b, g.c, g.bias)
        let (aOff, bOff, cOff, biasOff, dims) = (g.aOff, g.bOff, g.cOff, g.biasOff, g.dims)
        let (aKContig, bNContig) = (p.aKContiguous, p.bNContiguous)
        let vecAligned = offsetAlignment % 16 == 0
        let aVec4 = vecAligned && p.asK == 1 && p.K % 4 == 0 && p.asM % 4 == 0 && aOff % 4 == 0 && dims.allSatisfy { $0.a % 4 == 0 }
        let bVec4 = vecAligned && p.bsN == 1 && p.N % 4 == 0 && p.bsK % 4 == 0 && bOff % 4 == 0 && dims.allSatisfy { $0.b % 4 == 0 }
        let spec = v.specialization(v.tileConstants + [aKContig ? 1 : 0, bNContig ? 1 : 0, aVec4 ? 1 : 0, bVec4 ? 1 : 0, p.bias != nil ? 1 : 0])
        let kernelDefines = cDefines + v.defines
        let tiles = ((p.M + v.bm - 1) / v.bm) * ((p.N + v.bn - 1) / v.bn)

        var args = ShaderArguments()
        g.pushHead(p, into: &args)
        args.ints([kChunk, p.batchCount])

        if splits == 1 {
            epilogue?.push(&args)
            try dispatch(GemmVariant.shader(.gemm), defines: kernelDefines + (epilogue?.defines ?? []),
                         specialization: epilogue?.specialization(spec) ?? spec,
                         bindings: [aBinding, bBinding, cBinding, biasBinding] + (epilogue?.bindings ?? []),
                         arguments: args, groups: (tiles, 1, p.batchCount))
            if epilogue != nil { markEpilogueApplied() }
            return
        }
        let part = try scratch(shape: [splits * p.batchCount * p.M * p.N])
        let partBinding = try bind(part, .write)
        try dispatch(GemmVariant.shader(.gemm), defines: kernelDefines + [("SPLIT_K", "1")], specialization: spec,
                     bindings: [aBinding, bBinding, partBinding, biasBinding],
                     arguments: args, groups: (tiles, 1, splits * p.batchCount))
        try dispatchSplitKReduce(part: part, splits: splits, batches: p.batchCount, M: p.M, N: p.N,
                                 c: cBinding, cOff: cOff, ldc: p.ldc, dims: dims,
                                 bias: p.bias != nil ? biasBinding : nil, biasOff: biasOff, biasRows: false,
                                 alpha: p.alpha, accumulate: p.accumulate, epilogue: epilogue, cDefines: cDefines)
    }

    /// gemm_splitk_reduce.comp: the splits' partial sums added in order, then alpha, bias,
    /// accumulation, the epilogue and the store (`dims`: three batch dims, outermost first).
    func dispatchSplitKReduce(part: DeviceTensor, splits: Int, batches: Int, M: Int, N: Int,
                              c: BufferBinding, cOff: Int, ldc: Int, dims: [GemmBatchDim],
                              bias: BufferBinding?, biasOff: Int, biasRows: Bool,
                              alpha: Float, accumulate: Bool, epilogue: FusedEpilogue?, cDefines: [(String, String)]) throws {
        let wg = 256
        let partRead = try bind(part, .read)
        var args = ShaderArguments()
        args.ints([M, N, splits, batches, cOff, biasOff, ldc, dims[1].size, dims[2].size])
        args.ints([dims[0].c, dims[1].c, dims[2].c])
        args.float(alpha)
        args.int(accumulate ? 1 : 0)
        epilogue?.push(&args)
        let spec: [UInt32] = [UInt32(wg), bias != nil ? 1 : 0, biasRows ? 1 : 0]
        try dispatch("gemm_splitk_reduce.comp", defines: cDefines + (epilogue?.defines ?? []),
                     specialization: epilogue?.specialization(spec) ?? spec,
                     bindings: [partRead, partRead, c, bias ?? partRead] + (epilogue?.bindings ?? []),
                     arguments: args, groups: (groupCount(batches * M * N, wg), 1, 1))
        if epilogue != nil { markEpilogueApplied() }
    }

    /// conv2d with groups = 1 whose tensors fit one binding each, as a register-tiled
    /// implicit GEMM (conv2d_gemm.comp), split-K when the choice says so. Batches are
    /// dispatched `maxZ / splits` at a time.
    func encodeImplicitGemmConv(_ g: ConvGeometry, _ x: DeviceTensor, _ w: DeviceTensor,
                                _ bias: DeviceTensor?, _ out: DeviceTensor) throws {
        let K = g.C * g.khw
        let key = GemmShapeKey(kind: .conv, m: g.O, n: g.P, k: K, batch: g.N, fp16: precision == .fp16)
        var choice = try gemmChoice(key)
        let v = choice.variant
        let maxZ = Int(context.info.maxComputeWorkGroupCount[2])
        choice.splits = min(choice.splits, maxZ)
        let perBatchOut = g.O * g.P
        while choice.splits > 1, !heavyFits(elements: choice.splits * min(g.N, maxZ / choice.splits) * perBatchOut) { choice.splits /= 2 }
        let (kChunk, splits) = splitK(K, splits: choice.splits, bk: v.bk)
        let batchesPerDispatch = max(1, maxZ / splits)

        let xb = try bind(x, .read), yb = try bind(out, .write)
        let wBinding = try bind(w, .read)
        let bBinding = try bias.map { try bind($0, .read) } ?? wBinding
        let epilogue = try fusedEpilogue(output: out)
        let vecAligned = offsetAlignment % 16 == 0
        let aVec4 = vecAligned && K % 4 == 0
        let bVec4 = vecAligned && g.pointwise && g.HW % 4 == 0
        let spec = v.specialization(v.tileConstants + [1, 1, aVec4 ? 1 : 0, bVec4 ? 1 : 0, bias != nil ? 1 : 0, g.reflect ? 1 : 0, g.pointwise ? 1 : 0])
        let tiles = ((g.O + v.bm - 1) / v.bm) * ((g.P + v.bn - 1) / v.bn)

        var n0 = 0
        while n0 < g.N {
            let nb = min(batchesPerDispatch, g.N - n0)
            var args = ShaderArguments()
            args.ints([n0 * g.C * g.HW, n0 * perBatchOut, 0, 0, g.H, g.W, g.Ho, g.Wo])
            args.ints([g.C, g.O, K, g.C * g.HW, perBatchOut])
            args.ints(g.windowArguments)
            args.ints([kChunk, nb])
            if splits == 1 {
                epilogue?.push(&args)
                try dispatch(GemmVariant.shader(.conv), defines: v.defines + (epilogue?.defines ?? []),
                             specialization: epilogue?.specialization(spec) ?? spec,
                             bindings: [xb, wBinding, yb, bBinding] + (epilogue?.bindings ?? []),
                             arguments: args, groups: (tiles, 1, nb))
            } else {
                let part = try scratch(shape: [splits * nb * perBatchOut])
                try dispatch(GemmVariant.shader(.conv), defines: v.defines + [("SPLIT_K", "1")], specialization: spec,
                             bindings: [xb, wBinding, try bind(part, .write), bBinding],
                             arguments: args, groups: (tiles, 1, splits * nb))
                let dims = [GemmBatchDim(size: nb, a: 0, b: 0, c: perBatchOut), GemmBatchDim(size: 1, a: 0, b: 0, c: 0),
                            GemmBatchDim(size: 1, a: 0, b: 0, c: 0)]
                try dispatchSplitKReduce(part: part, splits: splits, batches: nb, M: g.O, N: g.P,
                                         c: yb, cOff: n0 * perBatchOut, ldc: g.P, dims: dims,
                                         bias: bias != nil ? bBinding : nil, biasOff: 0, biasRows: true,
                                         alpha: 1, accumulate: false, epilogue: epilogue, cDefines: [])
            }
            n0 += nb
        }
        if epilogue != nil { markEpilogueApplied() }
    }
}

/// Runs code with every register-tiled GEMM / conv dispatch forced to one choice (the
/// tuner's candidates, `fusion parity --ops`'s variant sweep, tests). Executables record
/// their dispatches when prepared or re-recorded, so prepare and run inside `body`.
public enum GemmChoiceOverride {
    public static func with<T>(_ choice: GemmChoice?, _ body: () throws -> T) rethrows -> T {
        try with({ _, _ in choice }, body)
    }

    /// Like `with(_:_:)` with a choice per problem: `resolver(problem, node index)`, nil
    /// for the usual choice.
    public static func with<T>(_ resolver: @escaping (GemmShapeKey, Int?) -> GemmChoice?, _ body: () throws -> T) rethrows -> T {
        let saved = HeavyOpsTuning.gemmChoiceResolver
        HeavyOpsTuning.gemmChoiceResolver = resolver
        defer { HeavyOpsTuning.gemmChoiceResolver = saved }
        return try body()
    }
}
