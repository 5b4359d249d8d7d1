import FusionCore

// Global pooling (Shaders/global_pool.comp: one workgroup per (n, c) plane) and the
// per-pixel channel reduction (Shaders/channel_reduce.comp: one thread per pixel), max or
// mean (`PoolKind`, the POOL_KIND define).

extension EncodeContext {
    func encodeGlobalPool(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .globalPool(kind) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, output])
        let planes = x.shape[0] * x.shape[1], hw = x.shape[2] * x.shape[3]
        guard planes > 0 else { return }
        let wg = 256
        // llvmpipe ends a shader loop after 65,535 iterations per invocation.
        guard (hw + wg - 1) / wg <= 65_000 else {
            throw FusionError.limitExceeded(op: opName, detail: "planes of \(hw) elements; the kernel takes at most \(65_000 * wg)")
        }
        for r in try lightItemRanges(planes, itemElements: hw, tensorForError: x, access: .read) {
            let (xb, xOff) = try lightBind(x, .read, elements: (r.lowerBound * hw)..<(r.upperBound * hw))
            let (yb, yOff) = try lightBind(output, .write, elements: r)
            var args = ShaderArguments()
            args.ints([r.count, hw, xOff, yOff])
            try dispatch("global_pool.comp", defines: [("POOL_KIND", kind.shaderIndex)], specialization: [UInt32(wg)],
                         bindings: [xb, yb], arguments: args, groups: (r.count, 1, 1))
        }
    }

    func encodeChannelReduce(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .channelReduce(kind) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, output])
        let n = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3]
        guard n > 0, hw > 0 else { return }
        // Chunks of channels that fit one binding and llvmpipe's loop limit.
        let perChunk = min(max(1, lightMaxElements / hw), 16_384)
        if lightMaxElements / hw == 0 { _ = try bind(x, .read) }   // one channel plane over a binding: typed error
        for b in 0..<n {
            let (yb, yOff) = try lightBind(output, .readWrite, elements: (b * hw)..<((b + 1) * hw))
            for (k, r) in lightRanges(c, maxItems: perChunk).enumerated() {
                let first = (b * c + r.lowerBound) * hw
                let (xb, xOff) = try lightBind(x, .read, elements: first..<(first + r.count * hw))
                var args = ShaderArguments()
                args.ints([hw, r.count, c, k == 0 ? 0 : 1, xOff, yOff])
                try lightDispatch("channel_reduce.comp", defines: [("POOL_KIND", kind.shaderIndex)], bindings: [xb, yb],
                                  arguments: args, items: hw)
            }
        }
    }
}

extension PoolKind {
    /// The shaders' POOL_KIND define.
    var shaderIndex: String {
        switch self {
        case .max: return "0"
        case .mean: return "1"
        }
    }
}
