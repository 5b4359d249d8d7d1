import FusionCore

extension EncodeContext {
    /// Scaled dot-product attention with the variant `attentionVariant` picks: a flash
    /// kernel (online softmax, no Nq x Nk buffer; the scalar attention.comp or a
    /// register-tiled attention_tiled.comp configuration) or, on CPU drivers, two GEMMs around
    /// a row softmax.
    func encodeAttention(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .attention(scale, causal) = node.op else { return }
        let q = inputs[0], k = inputs[1], v = inputs[2]
        let bias = inputs.count > 3 ? inputs[3] : nil
        guard output.count > 0 else { return }
        let key = AttentionShapeKey(batch: q.shape[0] * q.shape[1], nq: q.shape[2], nk: k.shape[2], d: q.shape[3], dv: v.shape[3],
                                    bias: bias != nil, causal: causal, fp16: precision == .fp16)
        let variant = try attentionVariant(key)
        switch variant.kernel {
        case .gemms:
            try encodeAttentionAsGemms(q: q, k: k, v: v, bias: bias, output: output, scale: scale, causal: causal)
        case .scalar:
            try encodeFlashAttention(scalarAttentionKernel(d: key.d, dv: key.dv, bias: bias != nil, causal: causal),
                                     q: q, k: k, v: v, bias: bias, output: output, scale: scale)
        case .tiled:
            try encodeFlashAttention(tiledAttentionKernel(variant, d: key.d, dv: key.dv, bias: bias != nil, causal: causal),
                                     q: q, k: k, v: v, bias: bias, output: output, scale: scale)
        }
    }

    /// attention.comp's configuration: 128 threads, 16 queries x 32 keys per block; head-dim
    /// chunk and output slice as small as the sizes allow (powers of two, 16...128), shrunk
    /// when shared memory is scarce.
    func scalarAttentionKernel(d: Int, dv: Int, bias: Bool, causal: Bool) -> FlashAttentionKernel {
        let wg = 128, bq = 16, bk = 32
        func bucket(_ n: Int, _ cap: Int) -> Int {
            var b = 16
            while b < n && b < cap { b *= 2 }
            return b
        }
        var dc = bucket(d, 128), dvt = bucket(dv, 128)
        func sharedBytes(_ dc: Int, _ dvt: Int) -> Int {
            4 * (bq * (dc + 1) + bk * max(dc + 1, dvt) + bq * (bk + 1) + 3 * bq)
        }
        let sharedLimit = Int(context.info.maxComputeSharedMemorySize)
        while sharedBytes(dc, dvt) > sharedLimit && (dc > 16 || dvt > 16) {
            if dc >= dvt { dc /= 2 } else { dvt /= 2 }
        }
        // About DC / 8 + BK + 8 loop iterations per key block and head-dim chunk.
        let dChunks = max(1, (d + dc - 1) / dc)
        return FlashAttentionKernel(shader: "attention.comp", defines: [], bq: bq, bk: bk, outputColumns: dvt,
                                    iterationsPerBlock: dChunks * (dc / 8 + 2) + bk + 8) { partial in
            [UInt32(wg), UInt32(bq), UInt32(bk), UInt32(dc), UInt32(dvt), bias ? 1 : 0, causal ? 1 : 0, partial ? 1 : 0]
        }
    }

    /// attention_tiled.comp with `variant`'s tiles: the head-dim chunk no longer than d needs
    /// (rounded to the product's step), up to `AttentionVariant.maxOutputChunks` BK-wide
    /// output chunks per workgroup.
    func tiledAttentionKernel(_ variant: AttentionVariant, d: Int, dv: Int, bias: Bool, causal: Bool) -> FlashAttentionKernel {
        let step = variant.cooperativeMatrix ? 16 : 4
        let dk = min(variant.dk, max(step, (d + step - 1) / step * step))
        let chunks = min(AttentionVariant.maxOutputChunks, max(1, (dv + variant.bk - 1) / variant.bk))
        let dChunks = max(1, (d + dk - 1) / dk)
        // Loops that are not unrolled: the products (4 per iteration), the row reductions.
        let iterations = dChunks * (dk / 4 + 2) + 2 * (variant.bk / variant.tn) * variant.tm + chunks * (variant.bk / 4 + 2) + 8
        return FlashAttentionKernel(shader: "attention_tiled.comp", defines: variant.defines, bq: variant.bq, bk: variant.bk,
                                    outputColumns: chunks * variant.bk, iterationsPerBlock: iterations) { partial in
            variant.specialization(dk: dk, outputChunks: chunks, bias: bias, causal: causal, partial: partial)
        }
    }

    /// One flash-attention kernel over the whole problem. Long key ranges over few query
    /// blocks are split across workgroups and merged by attention_combine.comp
    /// (flash-decoding). Tensors larger than a binding are split over (batch, head) slabs,
    /// which are contiguous in q, k, v and the output; the bias is bound whole (a bias over
    /// the binding limit throws `limitExceeded`).
    func encodeFlashAttention(_ kernel: FlashAttentionKernel, q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, bias: DeviceTensor?,
                              output: DeviceTensor, scale: Float) throws {
        let B = q.shape[0], H = q.shape[1], Nq = q.shape[2], d = q.shape[3]
        let Nk = k.shape[2], dv = v.shape[3]
        let bq = kernel.bq, bk = kernel.bk
        let qBlocks = (Nq + bq - 1) / bq
        let dvSlices = (dv + kernel.outputColumns - 1) / kernel.outputColumns
        let bhTotal = B * H

        // Key splits (flash-decoding): when the grid is small, long key ranges are spread over
        // more workgroups; and no workgroup walks more than `maxKeysPerGroup` keys. That bounds
        // the loop iterations of one invocation, which lavapipe silently caps at 65535 (kept
        // under 40000).
        let maxKeysPerGroup = max(bk, min(16384, 40000 / kernel.iterationsPerBlock * bk))
        let minKeysPerSplit = 1024, targetGroups = 256
        let baseGroups = bhTotal * qBlocks * dvSlices
        var splits = (Nk + maxKeysPerGroup - 1) / maxKeysPerGroup
        if baseGroups < targetGroups, Nk >= 2 * minKeysPerSplit {
            splits = max(splits, min((targetGroups + baseGroups - 1) / baseGroups, Nk / minKeysPerSplit))
        }
        splits = max(1, splits)
        let keysPerSplit = ((Nk + splits - 1) / splits + bk - 1) / bk * bk
        splits = max(1, (Nk + keysPerSplit - 1) / max(keysPerSplit, 1))
        let partial = splits > 1
        let spec = kernel.specialization(partial)

        let (biasBinding, biasOff, biasStrides) = try bindAttentionBias(bias)

        let perQ = Nq * d, perK = Nk * d, perV = Nk * dv, perO = Nq * dv
        let perPartial = partial ? splits * perO : 0
        var bhChunk = bhTotal
        let budget = heavySplitBytes - offsetAlignment
        let largest = max(perQ, perK, perV, perO, perPartial, 1) * 4
        if !(heavyFits(elements: q.count) && heavyFits(elements: k.count) && heavyFits(elements: v.count)
             && heavyFits(elements: output.count) && heavyFits(elements: bhTotal * perPartial)) {
            bhChunk = max(1, min(bhTotal, budget / largest))
        }
        // Partial accumulators and (max, sum) stats of one chunk; reused by every chunk.
        let partBuffer = partial ? try scratch(shape: [bhChunk * perPartial], dtype: storageFloat) : nil
        let statsBuffer = partial ? try scratch(shape: [bhChunk * splits * Nq * 2]) : nil

        for bh0 in stride(from: 0, to: bhTotal, by: bhChunk) {
            let count = min(bhChunk, bhTotal - bh0)
            let (qb, qOff) = try bindElements(q, .read, start: bh0 * perQ, elements: count * perQ)
            let (kb, kOff) = try bindElements(k, .read, start: bh0 * perK, elements: count * perK)
            let (vb, vOff) = try bindElements(v, .read, start: bh0 * perV, elements: count * perV)
            let (ob, oOff) = try bindElements(output, .write, start: bh0 * perO, elements: count * perO)
            var target = ob, targetOff = oOff
            var statsBinding = qb, statsOff = 0
            if let partBuffer, let statsBuffer {
                (target, targetOff) = try bindElements(partBuffer, .write, start: 0, elements: count * perPartial)
                (statsBinding, statsOff) = try bindElements(statsBuffer, .write, start: 0, elements: count * splits * Nq * 2)
            }
            var args = ShaderArguments()
            args.ints([H, Nq, Nk, d, dv, qBlocks, dvSlices, count, bh0])
            args.ints([qOff, kOff, vOff, targetOff, biasOff])
            args.ints(biasStrides)
            args.float(scale)
            args.ints([splits, keysPerSplit, statsOff])
            try dispatch(kernel.shader, defines: kernel.defines, specialization: spec,
                         bindings: [qb, kb, vb, target, biasBinding ?? qb, statsBinding], arguments: args,
                         groups: (count * qBlocks * dvSlices * splits, 1, 1))

            if partial {
                let wgCombine = 256
                let total = count * perO
                var combine = ShaderArguments()
                combine.ints([count, Nq, dv, splits, targetOff, statsOff, oOff])
                try dispatch("attention_combine.comp", specialization: [UInt32(wgCombine)],
                             bindings: [rebound(target, .read), rebound(statsBinding, .read), ob],
                             arguments: combine, groups: (groupCount(total, wgCombine), 1, 1))
            }
        }
    }
}

/// What differs between the flash-attention kernels for one problem: the shader and its
/// build, the query and key block, the output columns per workgroup, an estimate of the
/// loop iterations per key block (lavapipe's cap), and the specialization constants with and
/// without key splits. Buffers, push constants and the split layout are the same.
struct FlashAttentionKernel {
    let shader: String
    let defines: [(String, String)]
    let bq: Int, bk: Int
    let outputColumns: Int
    let iterationsPerBlock: Int
    let specialization: (_ partial: Bool) -> [UInt32]
}

extension EncodeContext {
    /// Attention on CPU drivers: per slab of query rows, S = scale * Q K^T (direct GEMM), the
    /// masked, biased row softmax in place (`attention_softmax.comp`), then O = S V (direct
    /// GEMM). The slab holds at most 16 Mi scores (64 MiB) whatever the sequence length, so
    /// the Nq x Nk matrix never exists; on llvmpipe this runs 5-10x faster than the
    /// shared-memory flash kernel, whose barriers are coroutine switches there.
    func encodeAttentionAsGemms(q: DeviceTensor, k: DeviceTensor, v: DeviceTensor, bias: DeviceTensor?,
                                output: DeviceTensor, scale: Float, causal: Bool) throws {
        let H = q.shape[1], Nq = q.shape[2], d = q.shape[3], Nk = k.shape[2], dv = v.shape[3]
        let bhTotal = q.shape[0] * H
        let slabElements = max(1, min(heavySplitBytes - offsetAlignment, 64 << 20) / 4)
        let bhChunk = max(1, min(bhTotal, slabElements / max(Nk, 1)))
        let rowsPerSlab = max(1, min(Nq, slabElements / max(Nk * bhChunk, 1)))
        let slab = try scratch(shape: [bhChunk * rowsPerSlab * Nk], dtype: storageFloat)

        let (biasBinding, biasOff, biasStrides) = try bindAttentionBias(bias)
        let wg = 64
        for bh0 in stride(from: 0, to: bhTotal, by: bhChunk) {
            let count = min(bhChunk, bhTotal - bh0)
            for q0 in stride(from: 0, to: Nq, by: rowsPerSlab) {
                let rows = min(rowsPerSlab, Nq - q0)
                try encodeGemm(GemmProblem(
                    M: rows, N: Nk, K: d,
                    a: q, aOffset: (bh0 * Nq + q0) * d, asM: d, asK: 1,
                    b: k, bOffset: bh0 * Nk * d, bsK: 1, bsN: d,
                    c: slab, cOffset: 0, ldc: Nk,
                    batch: count > 1 ? [GemmBatchDim(size: count, a: Nq * d, b: Nk * d, c: rows * Nk)] : [],
                    alpha: scale))
                let (sb, sOff) = try bindElements(slab, .readWrite, start: 0, elements: count * rows * Nk)
                var args = ShaderArguments()
                args.ints([count * rows, Nk, rows, bh0, q0, H, sOff, biasOff])
                args.ints(biasStrides)
                args.int(Nk - Nq)
                try dispatch("attention_softmax.comp", specialization: [UInt32(wg), bias != nil ? 1 : 0, causal ? 1 : 0],
                             bindings: [sb, biasBinding ?? sb], arguments: args, groups: (count * rows, 1, 1))
                try encodeGemm(GemmProblem(
                    M: rows, N: dv, K: Nk,
                    a: slab, aOffset: 0, asM: Nk, asK: 1,
                    b: v, bOffset: bh0 * Nk * dv, bsK: dv, bsN: 1,
                    c: output, cOffset: (bh0 * Nq + q0) * dv, ldc: dv,
                    batch: count > 1 ? [GemmBatchDim(size: count, a: rows * Nk, b: Nk * dv, c: Nq * dv)] : []))
            }
        }
    }
}

extension EncodeContext {
    /// Binds an attention bias whole, with its element strides over [B, H, Nq, Nk] (0 on
    /// broadcast dimensions); nil binding and zero strides without a bias.
    func bindAttentionBias(_ bias: DeviceTensor?) throws -> (binding: BufferBinding?, offset: Int, strides: [Int]) {
        guard let bias else { return (nil, 0, [0, 0, 0, 0]) }
        var strides = [0, 0, 0, 0]
        let shape = Array(repeating: 1, count: 4 - bias.shape.count) + bias.shape
        var running = 1
        for i in stride(from: 3, through: 0, by: -1) {
            strides[i] = shape[i] == 1 ? 0 : running
            running *= shape[i]
        }
        let (binding, offset) = try bindElements(bias, .read, start: 0, elements: bias.count)
        return (binding, offset, strides)
    }
}

/// The same range with another access (for a later dispatch reading what one wrote).
fileprivate func rebound(_ b: BufferBinding, _ access: BufferBinding.Access) -> BufferBinding {
    BufferBinding(buffer: b.buffer, offset: b.offset, size: b.size, access: access)
}
