import FusionCore

/// Knobs of the compute-heavy encoders (conv2d, matmul, linear, attention kernels).
enum HeavyOpsTuning {
    /// Test hook: when set, the heavy-op encoders split their work as if a binding could
    /// hold at most this many bytes, so that the chunked paths (channel / row / batch / K
    /// splits with accumulation) can be exercised on small tensors.
    nonisolated(unsafe) static var splitBytesOverride: Int?
}

/// One batch dimension of a strided GEMM: its size and the element stride of each operand
/// (0 where an operand broadcasts).
struct GemmBatchDim: Equatable {
    var size: Int
    var a: Int
    var b: Int
    var c: Int
}

/// A strided, batched GEMM on device tensors:
/// `C(m, n) = alpha * sum_k A(m, k) B(k, n) (+ bias[n]) (+ C(m, n) when accumulating)` with
/// `A(m, k) = a[aOffset + m * asM + k * asK + batch]`, `B(k, n) = b[bOffset + k * bsK + n * bsN + batch]`,
/// `C(m, n) = c[cOffset + m * ldc + n + batch]` (offsets in elements from each tensor's element 0).
struct GemmProblem {
    var M: Int, N: Int, K: Int
    var a: DeviceTensor, aOffset: Int, asM: Int, asK: Int
    var b: DeviceTensor, bOffset: Int, bsK: Int, bsN: Int
    var c: DeviceTensor, cOffset: Int, ldc: Int
    var batch: [GemmBatchDim] = []
    var bias: DeviceTensor? = nil
    var biasOffset: Int = 0
    var alpha: Float = 1
    var accumulate: Bool = false

    var batchCount: Int { batch.reduce(1) { $0 * $1.size } }

    /// Elements spanned by each operand (last touched index - first + 1).
    var aSpan: Int { span(M, asM, K, asK, batch.map { ($0.size, $0.a) }) }
    var bSpan: Int { span(K, bsK, N, bsN, batch.map { ($0.size, $0.b) }) }
    var cSpan: Int { span(M, ldc, N, 1, batch.map { ($0.size, $0.c) }) }

    private func span(_ n0: Int, _ s0: Int, _ n1: Int, _ s1: Int, _ dims: [(Int, Int)]) -> Int {
        var last = max(n0 - 1, 0) * s0 + max(n1 - 1, 0) * s1
        for (size, stride) in dims { last += max(size - 1, 0) * stride }
        return last + 1
    }
}

extension GemmProblem {
    /// Whether A's K axis (B's N axis) is the one to read along: unit stride, or the
    /// smaller stride of the two.
    var aKContiguous: Bool { asK == 1 || (asM != 1 && asK < asM) }
    var bNContiguous: Bool { bsN == 1 || (bsK != 1 && bsN < bsK) }
}

/// A GEMM's operands bound for one of the GEMM kernels (`matmul*.comp`, `gemm_tiled.comp`),
/// which share the head of their push constants.
struct BoundGemm {
    let a: BufferBinding, aOff: Int
    let b: BufferBinding, bOff: Int
    let c: BufferBinding, cOff: Int
    /// A's binding when there is no bias (the kernel reads none then).
    let bias: BufferBinding, biasOff: Int
    /// Exactly three batch dims, outermost first (missing ones of size 1).
    let dims: [GemmBatchDim]

    /// Sizes, element offsets, strides, batch dims, alpha and the accumulate flag.
    func pushHead(_ p: GemmProblem, into args: inout ShaderArguments) {
        args.ints([p.M, p.N, p.K, aOff, bOff, cOff, biasOff, p.asM, p.asK, p.bsK, p.bsN, p.ldc])
        args.ints([dims[1].size, dims[2].size])
        args.ints([dims[0].a, dims[1].a, dims[2].a])
        args.ints([dims[0].b, dims[1].b, dims[2].b])
        args.ints([dims[0].c, dims[1].c, dims[2].c])
        args.float(p.alpha)
        args.int(p.accumulate ? 1 : 0)
    }
}

extension EncodeContext {
    /// The largest binding the heavy encoders plan for (the device limit, or the test override).
    var heavySplitBytes: Int {
        let limit = maxBindingBytes
        if let override = HeavyOpsTuning.splitBytesOverride { return max(64, min(override, limit)) }
        return limit
    }

    /// True when `elements` f32 values starting anywhere fit in one planned binding
    /// (leaving room for the offset alignment slack).
    func heavyFits(elements: Int) -> Bool {
        elements * 4 + offsetAlignment <= heavySplitBytes
    }

    /// Binds `elements` values of `t` (f32, or f16 under fp16 storage) starting at element
    /// `start`; returns the binding and the element offset the shader adds. Throws
    /// `limitExceeded` if the range is too large.
    func bindElements(_ t: DeviceTensor, _ access: BufferBinding.Access, start: Int, elements: Int) throws -> (BufferBinding, Int) {
        let count = max(elements, 1)
        let size = t.dtype.byteSize
        let r = try bind(t, access, byteRange: (start * size)..<((start + count) * size))
        return (r.binding, r.elementOffset)
    }

    /// Binds a GEMM's operands (with K = 0 neither A nor B is read: one element each).
    func bindGemm(_ p: GemmProblem) throws -> BoundGemm {
        let (a, aOff) = try bindElements(p.a, .read, start: p.aOffset, elements: p.K == 0 ? 1 : p.aSpan)
        let (b, bOff) = try bindElements(p.b, .read, start: p.bOffset, elements: p.K == 0 ? 1 : p.bSpan)
        let (c, cOff) = try bindElements(p.c, p.accumulate ? .readWrite : .write, start: p.cOffset, elements: p.cSpan)
        var bias = a, biasOff = 0
        if let t = p.bias { (bias, biasOff) = try bindElements(t, .read, start: p.biasOffset, elements: p.N) }
        var dims = p.batch
        while dims.count < 3 { dims.insert(GemmBatchDim(size: 1, a: 0, b: 0, c: 0), at: 0) }
        return BoundGemm(a: a, aOff: aOff, b: b, bOff: bOff, c: c, cOff: cOff, bias: bias, biasOff: biasOff, dims: dims)
    }

    // MARK: - matmul

    func encodeMatmul(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .matmul(transposeA, transposeB, alpha) = node.op else { return }
        let a = inputs[0], b = inputs[1]
        let ra = a.shape.count, rb = b.shape.count, ro = output.shape.count
        let M = output.shape[ro - 2], N = output.shape[ro - 1]
        let K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1]
        guard output.count > 0 else { return }

        // Batch dims of the output with each operand's element stride (0 = broadcast).
        let batchRank = ro - 2
        func strides(_ shape: [Int]) -> [Int] {
            var s = Array(repeating: 1, count: shape.count)
            if shape.count > 1 { for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] } }
            return s
        }
        let sa = strides(a.shape), sb = strides(b.shape), sc = strides(output.shape)
        var dims: [GemmBatchDim] = []
        for i in 0..<batchRank {
            let ia = i - (batchRank - (ra - 2)), ib = i - (batchRank - (rb - 2))
            let strideA = ia >= 0 && a.shape[ia] != 1 ? sa[ia] : 0
            let strideB = ib >= 0 && b.shape[ib] != 1 ? sb[ib] : 0
            dims.append(GemmBatchDim(size: output.shape[i], a: strideA, b: strideB, c: sc[i]))
        }
        var problem = GemmProblem(
            M: M, N: N, K: K,
            a: a, aOffset: 0, asM: transposeA ? 1 : K, asK: transposeA ? M : 1,
            b: b, bOffset: 0, bsK: transposeB ? 1 : N, bsN: transposeB ? K : 1,
            c: output, cOffset: 0, ldc: N,
            batch: Self.mergeBatchDims(dims), alpha: alpha)
        // A batch over which B is shared folds into M when A's rows stay contiguous: one
        // bigger GEMM instead of many small ones.
        if problem.batch.count == 1, !transposeA, problem.batch[0].b == 0,
           problem.batch[0].a == M * K, problem.batch[0].c == M * N {
            problem.M *= problem.batch[0].size
            problem.batch = []
        }
        try encodeGemm(problem, nodeOutput: true)
    }

    // MARK: - linear

    func encodeLinear(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case .linear = node.op else { return }
        let x = inputs[0], w = inputs[1]
        let K = w.shape[1], N = w.shape[0]
        let rows = x.shape.dropLast().reduce(1, *)
        guard output.count > 0 else { return }
        let problem = GemmProblem(
            M: rows, N: N, K: K,
            a: x, aOffset: 0, asM: K, asK: 1,
            b: w, bOffset: 0, bsK: 1, bsN: K,
            c: output, cOffset: 0, ldc: N,
            bias: inputs.count > 2 ? inputs[2] : nil)
        try encodeGemm(problem, nodeOutput: true)
    }

    /// Drops size-1 batch dims and merges adjacent dims that address every operand densely.
    static func mergeBatchDims(_ dims: [GemmBatchDim]) -> [GemmBatchDim] {
        var out: [GemmBatchDim] = []
        for d in dims where d.size != 1 {
            if let last = out.last, last.a == d.a * d.size, last.b == d.b * d.size, last.c == d.c * d.size {
                out[out.count - 1] = GemmBatchDim(size: last.size * d.size, a: d.a, b: d.b, c: d.c)
            } else {
                out.append(d)
            }
        }
        return out
    }

    // MARK: - GEMM driver

    /// Records `problem` with matmul.comp, cut into blocks where needed: an operand larger
    /// than a binding is split along its most major dimension (batch, M, N or K; K blocks
    /// after the first accumulate), the batch is kept within the z workgroup limit, K within
    /// `maxGemmK` per dispatch (lavapipe ends any invocation after 65535 loop iterations),
    /// and batches beyond the 3 dims the shader decodes are looped here.
    /// `nodeOutput`: C is the node's whole, contiguous output (matmul, linear), so a problem
    /// taken in one dispatch applies the node's epilogue at its store.
    func encodeGemm(_ problem: GemmProblem, nodeOutput: Bool = false) throws {
        let p = problem
        guard p.M > 0, p.N > 0, p.batchCount > 0 else { return }
        if p.batch.count > 3 {
            let d = p.batch[0]
            for i in 0..<d.size {
                var sub = p
                sub.batch.removeFirst()
                sub.aOffset += i * d.a; sub.bOffset += i * d.b; sub.cOffset += i * d.c
                try encodeGemm(sub)
            }
            return
        }
        let maxZ = Int(context.info.maxComputeWorkGroupCount[2])
        let maxGemmK = maxReductionPerDispatch

        // Dims: batch..., M, N, K with each operand's element stride (0 = not involved).
        let nb = p.batch.count
        let sizes = p.batch.map { $0.size } + [p.M, p.N, p.K]
        let strides: [[Int]] = [   // [operand][dim]
            p.batch.map { $0.a } + [p.asM, 0, p.asK],
            p.batch.map { $0.b } + [0, p.bsN, p.bsK],
            p.batch.map { $0.c } + [p.ldc, 1, 0],
        ]
        let dM = nb, dK = nb + 2
        var chunk = sizes.map { max($0, 1) }
        func span(_ operand: Int) -> Int {
            1 + zip(chunk, strides[operand]).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
        }
        while true {
            let offenders = (0..<3).filter { !heavyFits(elements: span($0)) }.sorted { span($0) > span($1) }
            var dim: Int?
            if chunk[dK] > maxGemmK {
                dim = dK
            } else if let worst = offenders.first {
                // The dim contributing most to the worst operand's span.
                var best = 0
                for d in chunk.indices where chunk[d] > 1 {
                    let contribution = (chunk[d] - 1) * strides[worst][d]
                    if contribution > best { best = contribution; dim = d }
                }
            } else if chunk[0..<nb].reduce(1, *) > maxZ {
                dim = (0..<nb).max { chunk[$0] < chunk[$1] }
            }
            guard let d = dim else { break }   // fits, or cannot shrink (bind reports the limit)
            chunk[d] = (chunk[d] + 1) / 2
        }

        // Enumerate the blocks, K outermost so that every first K block is written before
        // any later one accumulates.
        func starts(_ d: Int) -> [Int] { Array(stride(from: 0, to: max(sizes[d], 1), by: chunk[d])) }
        var order = Array(0..<sizes.count)
        order.removeLast()
        order.insert(dK, at: 0)
        var index = Array(repeating: 0, count: sizes.count)
        let allStarts = (0..<sizes.count).map(starts)
        let epilogue = nodeOutput && allStarts.allSatisfy({ $0.count == 1 }) ? try fusedEpilogue(output: p.c) : nil
        while true {
            var sub = p
            for d in 0..<sizes.count {
                let start = allStarts[d][index[d]]
                let length = min(chunk[d], sizes[d] - start)
                sub.aOffset += start * strides[0][d]
                sub.bOffset += start * strides[1][d]
                sub.cOffset += start * strides[2][d]
                if d < nb { sub.batch[d].size = length }
                else if d == dM { sub.M = length }
                else if d == dM + 1 { sub.N = length; sub.biasOffset += start }
                else {
                    sub.K = max(length, 0)
                    if start > 0 { sub.accumulate = true; sub.bias = nil }
                }
            }
            try dispatchGemm(sub, epilogue: epilogue)
            // Next block (odometer over `order`, last entry fastest).
            var level = order.count - 1
            while level >= 0 {
                let d = order[level]
                index[d] += 1
                if index[d] < allStarts[d].count { break }
                index[d] = 0
                level -= 1
            }
            if level < 0 { break }
        }
    }

    /// One matmul.comp dispatch (at most 3 batch dims, batch within the z limit).
    /// `epilogue`: the node's, applied at the store when the C binding starts at element 0
    /// (the store index is then the output's flat index).
    private func dispatchGemm(_ p: GemmProblem, epilogue fused: FusedEpilogue? = nil) throws {
        // Register tile: 8 x 8 threads with up to 8 x 8 outputs each (64 x 64 per workgroup);
        // skinny shapes shrink the short side, and small problems use 32 x 32 tiles so that
        // more workgroups share the work.
        let wgX = 8, wgY = 8, tk = 16
        // Powers of two keep the number of pipeline variants small.
        func perThread(_ n: Int, _ threads: Int) -> Int {
            var r = 1
            while r < 8 && r * threads < n { r *= 2 }
            return r
        }
        var rm = perThread(p.M, wgY), rn = perThread(p.N, wgX)
        if rm == 8, rn == 8 {
            let tiles = ((p.M + 63) / 64) * ((p.N + 63) / 64) * p.batchCount
            if tiles < 32 { rm = 4; rn = 4 }
        }
        let tm = wgY * rm, tn = wgX * rn
        let g = try bindGemm(p)
        let (aBinding, bBinding, cBinding, biasBinding) = (g.a, g.b, g.c, g.bias)
        let (aKContig, bNContig) = (p.aKContiguous, p.bNContiguous)
        var args = ShaderArguments()
        g.pushHead(p, into: &args)
        let epilogue = p.cOffset == 0 && g.cOff == 0 && !p.accumulate ? fused : nil
        epilogue?.push(&args)

        // fp16 storage with an f32 result (a scratch of partial sums): C stays fp32.
        let cDefines: [(String, String)] = p.c.dtype == .f32 && precision == .fp16 ? [("C_FP32", "1")] : []
        if useDirectKernels {
            // CPU drivers: 64 columns x up to 4 subgroups' worth of rows per workgroup.
            let sg = Int(context.info.subgroupSize)
            let ob = directRowsPerInvocation(p.M)
            let tiles = ((p.M + ob - 1) / ob) * ((p.N + 63) / 64)
            let spec: [UInt32] = [64, UInt32(ob), p.bias != nil ? 1 : 0, UInt32(sg)]
            try dispatch("matmul_direct.comp", defines: cDefines + (epilogue?.defines ?? []), specialization: epilogue?.specialization(spec) ?? spec,
                         bindings: [aBinding, bBinding, cBinding, biasBinding] + (epilogue?.bindings ?? []),
                         arguments: args, groups: (tiles, 1, p.batchCount))
            if epilogue != nil { markEpilogueApplied() }
            return
        }
        if !useLegacyTiledKernels {
            // GPUs (and FUSIONKIT_KERNELS=tiled): the register-tiled variants.
            try dispatchTiledGemm(p, epilogue: epilogue, cDefines: cDefines)
            return
        }
        let tiles = ((p.M + tm - 1) / tm) * ((p.N + tn - 1) / tn)
        let spec: [UInt32] = [UInt32(wgX), UInt32(wgY), UInt32(rm), UInt32(rn), UInt32(tk),
                              aKContig ? 1 : 0, bNContig ? 1 : 0, p.bias != nil ? 1 : 0]
        try dispatch("matmul.comp", defines: cDefines + (epilogue?.defines ?? []), specialization: epilogue?.specialization(spec) ?? spec,
                     bindings: [aBinding, bBinding, cBinding, biasBinding] + (epilogue?.bindings ?? []),
                     arguments: args, groups: (tiles, 1, p.batchCount))
        if epilogue != nil { markEpilogueApplied() }
    }
}
