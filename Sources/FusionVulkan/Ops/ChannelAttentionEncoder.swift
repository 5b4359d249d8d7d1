import FusionCore

extension EncodeContext {
    /// Restormer channel ("transposed") attention in four passes:
    ///  1. channel_attention_norms.comp: partial sums of squares of the q and k rows over
    ///     chunks of H*W (rows x chunks workgroups).
    ///  2. matmul.comp, split-K over the same chunks: partial Gram matrices q_h k_h^T per
    ///     (batch, head, chunk) into scratch.
    ///  3. channel_attention.comp: add the partials, divide by the clamped norms, scale by the
    ///     head's temperature and softmax each row.
    ///  4. matmul.comp: out_h = attn_h v_h.
    /// Every pass binds only what it touches; the GEMM driver splits operands larger than a
    /// binding (over batches, rows, columns or K with accumulation) and pass 1 splits rows.
    func encodeChannelAttention(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .channelAttention(heads) = node.op else { return }
        let q = inputs[0], k = inputs[1], v = inputs[2], temperature = inputs[3]
        let N = q.shape[0], C = q.shape[1], HW = q.shape[2] * q.shape[3]
        let Ch = C / heads, NH = N * heads, R = N * C
        guard output.count > 0 else { return }

        // H*W chunks: about 4096 elements each, capped so the partial Gram matrices stay small.
        var splits = max(1, (HW + 4095) / 4096)
        let gramPerSplit = max(NH * Ch * Ch, 1)
        splits = max(1, min(splits, 1024, (heavySplitBytes / 2) / (4 * gramPerSplit)))
        let chunk = max(1, ((HW + splits - 1) / splits + 15) / 16 * 16)
        splits = max(1, (HW + chunk - 1) / chunk)
        let full = HW / chunk, rem = HW - full * chunk

        let sq = try scratch(shape: [splits, 2, R])
        let gram = try scratch(shape: [NH, splits, Ch, Ch])
        let attn = try scratch(shape: [NH, Ch, Ch], dtype: storageFloat)   // gram and sq stay f32

        // Pass 1: row norms (partial sums of squares).
        let budget = heavySplitBytes - offsetAlignment
        let sqBinding = try bind(sq, .write)
        for (which, x) in [(0, q), (1, k)] {
            let rowsPer = heavyFits(elements: x.count) ? R : max(1, budget / (HW * 4))
            for r0 in stride(from: 0, to: R, by: rowsPer) {
                let rows = min(rowsPer, R - r0)
                let (xb, xOff) = try bindElements(x, .read, start: r0 * HW, elements: rows * HW)
                var args = ShaderArguments()
                args.ints([rows, HW, splits, chunk, xOff, which * R + r0, 2 * R])
                try dispatch("channel_attention_norms.comp", specialization: [256],
                             bindings: [xb, sqBinding], arguments: args, groups: (rows * splits, 1, 1))
            }
        }

        // Pass 2: partial Gram matrices, G[nh, s] = q_h[:, chunk s] k_h[:, chunk s]^T.
        let headStride = Ch * HW
        if full > 0 {
            try encodeGemm(GemmProblem(
                M: Ch, N: Ch, K: chunk,
                a: q, aOffset: 0, asM: HW, asK: 1,
                b: k, bOffset: 0, bsK: 1, bsN: HW,
                c: gram, cOffset: 0, ldc: Ch,
                batch: Self.mergeBatchDims([GemmBatchDim(size: NH, a: headStride, b: headStride, c: splits * Ch * Ch),
                                            GemmBatchDim(size: full, a: chunk, b: chunk, c: Ch * Ch)])))
        }
        if rem > 0 {
            try encodeGemm(GemmProblem(
                M: Ch, N: Ch, K: rem,
                a: q, aOffset: full * chunk, asM: HW, asK: 1,
                b: k, bOffset: full * chunk, bsK: 1, bsN: HW,
                c: gram, cOffset: full * Ch * Ch, ldc: Ch,
                batch: Self.mergeBatchDims([GemmBatchDim(size: NH, a: headStride, b: headStride, c: splits * Ch * Ch)])))
        }

        // Pass 3: normalise, temperature, softmax.
        var args = ShaderArguments()
        args.ints([NH, Ch, heads, splits])
        args.ints([0, splits * Ch * Ch, Ch * Ch])
        args.ints([0, 2 * R, R])
        args.ints([0, 0])
        try dispatch("channel_attention.comp", specialization: [64],
                     bindings: [try bind(gram, .read), try bind(sq, .read), try bind(temperature, .read), try bind(attn, .write)],
                     arguments: args, groups: (NH * Ch, 1, 1))

        // Pass 4: out_h = attn_h v_h.
        try encodeGemm(GemmProblem(
            M: Ch, N: HW, K: Ch,
            a: attn, aOffset: 0, asM: Ch, asK: 1,
            b: v, bOffset: 0, bsK: HW, bsN: 1,
            c: output, cOffset: 0, ldc: HW,
            batch: Self.mergeBatchDims([GemmBatchDim(size: NH, a: Ch * Ch, b: headStride, c: headStride)])))
    }
}
