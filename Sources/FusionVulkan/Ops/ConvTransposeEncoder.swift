import FusionCore

// ConvTranspose2d (Shaders/conv_transpose2d.comp). Per sample, when the columns fit one
// binding: a GEMM (encodeGemm: the direct or tiled kernel) gives every tap's sum over the
// input channels, cols [Cout*kh*kw, H*W] (fp32 scratch; laid out like a 1x1 conv's output,
// pixels contiguous, which the direct kernel runs fastest), and the kernel's COLS variant
// adds each output's taps (col2im). Otherwise the kernel gathers x and w itself, one thread per
// output. Both dispatch ranges of output channels whose planes fit one binding. A node's
// epilogue is applied at the store when its operands can be bound (`fusedEpilogue`), else it
// runs as the generic pass afterwards.

extension EncodeContext {
    func encodeConvTranspose2d(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .convTranspose2d(a) = node.op else { return }
        let x = inputs[0], weight = inputs[1], bias = inputs.count > 2 ? inputs[2] : nil
        try lightCheck([x, weight, output] + (bias.map { [$0] } ?? []))
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let og = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let o = output.shape[1], ho = output.shape[2], wo = output.shape[3]
        let cg = c / a.groups, taps = kh * kw
        guard output.count > 0 else { return }
        let sampleIn = c * h * w, plane = ho * wo, colStride = h * w
        let useColumns = cg > 0 && heavyFits(elements: o * taps * colStride)
        if !useColumns {
            // llvmpipe ends a shader loop after 65,535 iterations per invocation.
            let iterations = cg * ((kh + a.stride.0 - 1) / a.stride.0) * ((kw + a.stride.1 - 1) / a.stride.1)
            guard iterations <= 60_000 else {
                throw FusionError.limitExceeded(op: opName,
                    detail: "\(cg) input channels per group x \(kh)x\(kw) kernel at stride \(a.stride) is \(iterations) steps per output; the kernel takes at most 60000")
            }
        }
        let cols = useColumns ? try scratch(shape: [o * taps, colStride]) : nil
        let (wb, wOff) = try lightBindWhole(weight, .read)
        let (bb, bOff) = try bias.map { try lightBindWhole($0, .read) } ?? (wb, 0)
        let epilogue = try fusedEpilogue(output: output)
        for b in 0..<n {
            let source: (BufferBinding, Int)
            if let cols {
                // cols[(g*og + j)*taps + t, p] = sum_ci w[g*cg + ci, j, t] x[b, g*cg + ci, p]
                try encodeGemm(GemmProblem(
                    M: og * taps, N: h * w, K: cg,
                    a: weight, aOffset: 0, asM: 1, asK: og * taps,
                    b: x, bOffset: b * sampleIn, bsK: h * w, bsN: 1,
                    c: cols, cOffset: 0, ldc: colStride,
                    batch: a.groups > 1 ? [GemmBatchDim(size: a.groups, a: cg * og * taps, b: cg * h * w, c: og * taps * colStride)] : []))
                source = try lightBindWhole(cols, .read)
            } else {
                source = try lightBind(x, .read, elements: (b * sampleIn)..<((b + 1) * sampleIn))
            }
            for r in try lightItemRanges(o, itemElements: plane, tensorForError: output, access: .write) {
                let first = (b * o + r.lowerBound) * plane
                let (yb, yOff) = try lightBind(output, .write, elements: first..<(first + r.count * plane))
                var args = ShaderArguments()
                args.ints([r.count * plane, r.lowerBound, cg, og, h, w, ho, wo, kh, kw, a.stride.0, a.stride.1,
                           a.padding.0, a.padding.1, bias == nil ? 0 : 1, source.1, wOff, bOff, yOff, colStride, first])
                epilogue?.push(&args)
                let spec = [UInt32(lightWorkgroupSize)]
                let defines = (useColumns ? [("COLS", "1")] : []) + (epilogue?.defines ?? [])
                try dispatch("conv_transpose2d.comp", defines: defines, specialization: epilogue?.specialization(spec) ?? spec,
                             bindings: [source.0, wb, bb, yb] + (epilogue?.bindings ?? []), arguments: args,
                             groups: (groupCount(r.count * plane, lightWorkgroupSize), 1, 1))
            }
        }
        if epilogue != nil { markEpilogueApplied() }
    }
}
