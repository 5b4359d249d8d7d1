import FusionCore

// ConvTranspose2d (Shaders/conv_transpose2d.comp): one thread per output element, gathering
// the taps that hit an input pixel. Dispatched per sample over ranges of output channels
// whose planes fit one binding. A node's epilogue is applied at the store when its operands
// can be bound (`fusedEpilogue`), else it runs as the generic pass afterwards.

extension EncodeContext {
    func encodeConvTranspose2d(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .convTranspose2d(a) = node.op else { return }
        let x = inputs[0], weight = inputs[1], bias = inputs.count > 2 ? inputs[2] : nil
        try lightCheck([x, weight, output] + (bias.map { [$0] } ?? []))
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        let og = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let o = output.shape[1], ho = output.shape[2], wo = output.shape[3]
        let cg = c / a.groups
        guard output.count > 0 else { return }
        // llvmpipe ends a shader loop after 65,535 iterations per invocation.
        let iterations = cg * ((kh + a.stride.0 - 1) / a.stride.0) * ((kw + a.stride.1 - 1) / a.stride.1)
        guard iterations <= 60_000 else {
            throw FusionError.limitExceeded(op: opName,
                detail: "\(cg) input channels per group x \(kh)x\(kw) kernel at stride \(a.stride) is \(iterations) steps per output; the kernel takes at most 60000")
        }
        let (wb, wOff) = try lightBindWhole(weight, .read)
        let (bb, bOff) = try bias.map { try lightBindWhole($0, .read) } ?? (wb, 0)
        let epilogue = try fusedEpilogue(output: output)
        let sampleIn = c * h * w, plane = ho * wo
        for b in 0..<n {
            let (xb, xOff) = try lightBind(x, .read, elements: (b * sampleIn)..<((b + 1) * sampleIn))
            for r in try lightItemRanges(o, itemElements: plane, tensorForError: output, access: .write) {
                let first = (b * o + r.lowerBound) * plane
                let (yb, yOff) = try lightBind(output, .write, elements: first..<(first + r.count * plane))
                var args = ShaderArguments()
                args.ints([r.count * plane, r.lowerBound, cg, og, h, w, ho, wo, kh, kw, a.stride.0, a.stride.1,
                           a.padding.0, a.padding.1, bias == nil ? 0 : 1, xOff, wOff, bOff, yOff, first])
                epilogue?.push(&args)
                let spec = [UInt32(lightWorkgroupSize)]
                try dispatch("conv_transpose2d.comp", defines: epilogue?.defines ?? [],
                             specialization: epilogue?.specialization(spec) ?? spec,
                             bindings: [xb, wb, bb, yb] + (epilogue?.bindings ?? []), arguments: args,
                             groups: (groupCount(r.count * plane, lightWorkgroupSize), 1, 1))
            }
        }
        if epilogue != nil { markEpilogueApplied() }
    }
}
