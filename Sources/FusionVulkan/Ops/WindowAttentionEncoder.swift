import FusionCore

extension EncodeContext {
    /// Window attention with window_attention.comp: one workgroup per (batch, head, window),
    /// reading q / k / v straight from NCHW. Tensors larger than a binding are split into
    /// (batch, head) slabs, which are contiguous channel ranges.
    func encodeWindowAttention(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .windowAttention(heads, window, scale) = node.op else { return }
        let q = inputs[0], k = inputs[1], v = inputs[2], bias = inputs[3]
        let N = q.shape[0], C = q.shape[1], H = q.shape[2], W = q.shape[3]
        let Cv = v.shape[1]
        let dq = C / heads, dvh = Cv / heads
        let T = window * window
        let HW = H * W
        guard output.count > 0 else { return }

        func roundUp(_ n: Int, _ m: Int) -> Int { (max(n, 1) + m - 1) / m * m }
        let dqMax = roundUp(dq, 8), dvMax = roundUp(dvh, 8)
        let registerLimit = 512
        guard dqMax <= registerLimit, dvMax <= registerLimit else {
            throw FusionError.limitExceeded(op: opName,
                detail: "head dims q/k \(dq) and v \(dvh) over the \(registerLimit) the window attention kernel keeps in registers")
        }
        let wg = min(256, roundUp(T, 32))
        let sharedBudget = min(Int(context.info.maxComputeSharedMemorySize), 32768)
        let kb = max(1, min(T, 256, sharedBudget / (4 * (dqMax + dvMax))))
        let spec: [UInt32] = [UInt32(wg), UInt32(kb), UInt32(dqMax), UInt32(dvMax)]
        let windows = (H / window) * (W / window)
        let biasBinding = try bind(bias, .read)

        func dispatchWA(nCount: Int, h0: Int, hCount: Int,
                        qb: BufferBinding, qOff: Int, kbind: BufferBinding, kOff: Int,
                        vb: BufferBinding, vOff: Int, ob: BufferBinding, oOff: Int) throws {
            var args = ShaderArguments()
            args.ints([H, W, window, dq, dvh, nCount, hCount, h0])
            args.ints([qOff, kOff, vOff, oOff, 0])
            args.ints([C * HW, dq * HW, Cv * HW, dvh * HW])
            args.float(scale)
            try dispatch("window_attention.comp", specialization: spec,
                         bindings: [qb, kbind, vb, ob, biasBinding], arguments: args,
                         groups: (nCount * hCount * windows, 1, 1))
        }

        if heavyFits(elements: q.count), heavyFits(elements: v.count), heavyFits(elements: output.count) {
            let qb = try bind(q, .read), kbind = try bind(k, .read), vb = try bind(v, .read)
            let ob = try bind(output, .write)
            try dispatchWA(nCount: N, h0: 0, hCount: heads, qb: qb, qOff: 0, kbind: kbind, kOff: 0,
                           vb: vb, vOff: 0, ob: ob, oOff: 0)
            return
        }
        for n in 0..<N {
            for h in 0..<heads {
                let qStart = (n * C + h * dq) * HW, vStart = (n * Cv + h * dvh) * HW
                let (qb, qOff) = try bindElements(q, .read, start: qStart, elements: dq * HW)
                let (kbind, kOff) = try bindElements(k, .read, start: qStart, elements: dq * HW)
                let (vb, vOff) = try bindElements(v, .read, start: vStart, elements: dvh * HW)
                let (ob, oOff) = try bindElements(output, .write, start: vStart, elements: dvh * HW)
                try dispatchWA(nCount: 1, h0: h, hCount: 1, qb: qb, qOff: qOff, kbind: kbind, kOff: kOff,
                               vb: vb, vOff: vOff, ob: ob, oOff: oOff)
            }
        }
    }
}
