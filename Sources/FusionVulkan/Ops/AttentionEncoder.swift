import FusionCore

extension EncodeContext {
    /// Scaled dot-product attention with attention.comp (flash style: online softmax, no
    /// Nq x Nk buffer). Tensors larger than a binding are split over (batch, head) slabs,
    /// which are contiguous in q, k, v and the output; the bias is bound whole.
    func encodeAttention(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .attention(scale, causal) = node.op else { return }
        let q = inputs[0], k = inputs[1], v = inputs[2]
        let bias = inputs.count > 3 ? inputs[3] : nil
        let B = q.shape[0], H = q.shape[1], Nq = q.shape[2], d = q.shape[3]
        let Nk = k.shape[2], dv = v.shape[3]
        guard output.count > 0 else { return }

        // Configuration: 128 threads, 16 queries x 32 keys per block; head-dim chunk and
        // output slice as small as the sizes allow (powers of two, 16...128), shrunk to 64
        // when shared memory is scarce.
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
        let qBlocks = (Nq + bq - 1) / bq
        let dvSlices = (dv + dvt - 1) / dvt
        let spec: [UInt32] = [UInt32(wg), UInt32(bq), UInt32(bk), UInt32(dc), UInt32(dvt),
                              bias != nil ? 1 : 0, causal ? 1 : 0]

        // Bias strides over [B, H, Nq, Nk] (0 on broadcast dims).
        var biasStrides = [0, 0, 0, 0]
        var biasBinding: BufferBinding?
        var biasOff = 0
        if let bias = bias {
            let shape = Array(repeating: 1, count: 4 - bias.shape.count) + bias.shape
            var running = 1
            for i in stride(from: 3, through: 0, by: -1) {
                biasStrides[i] = shape[i] == 1 ? 0 : running
                running *= shape[i]
            }
            biasBinding = try bind(bias, .read)
            biasOff = 0
        }

        let perQ = Nq * d, perK = Nk * d, perV = Nk * dv, perO = Nq * dv
        let bhTotal = B * H
        var bhChunk = bhTotal
        let budget = heavySplitBytes - offsetAlignment
        let largest = max(perQ, perK, perV, perO, 1) * 4
        if !(heavyFits(elements: q.count) && heavyFits(elements: k.count)
             && heavyFits(elements: v.count) && heavyFits(elements: output.count)) {
            bhChunk = max(1, min(bhTotal, budget / largest))
        }
        for bh0 in stride(from: 0, to: bhTotal, by: bhChunk) {
            let count = min(bhChunk, bhTotal - bh0)
            let (qb, qOff) = try bindElements(q, .read, start: bh0 * perQ, elements: count * perQ)
            let (kb, kOff) = try bindElements(k, .read, start: bh0 * perK, elements: count * perK)
            let (vb, vOff) = try bindElements(v, .read, start: bh0 * perV, elements: count * perV)
            let (ob, oOff) = try bindElements(output, .write, start: bh0 * perO, elements: count * perO)
            var args = ShaderArguments()
            args.ints([H, Nq, Nk, d, dv, qBlocks, dvSlices, count, bh0])
            args.ints([qOff, kOff, vOff, oOff, biasOff])
            args.ints(biasStrides)
            args.float(scale)
            try dispatch("attention.comp", specialization: spec,
                         bindings: [qb, kb, vb, ob, biasBinding ?? qb], arguments: args,
                         groups: (count * qBlocks * dvSlices, 1, 1))
        }
    }
}
