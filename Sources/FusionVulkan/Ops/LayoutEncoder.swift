import FusionCore

// Data movement (Shaders/layout.comp). Permute, slice, crop, concat and pixel
// (un)shuffle are all one strided-copy kernel over a box of up to 6 dims: the encoder
// coalesces dims, and splits a box whose source or destination span does not fit one
// binding along its widest dim until every piece fits. Pad has its own kernel, split by
// ranges of (n, c) planes.

extension EncodeContext {
    /// layout.comp moves 32-bit words, or 16-bit ones (WORD16) for f16 tensors under fp16 storage.
    private func wordDefines(_ t: DeviceTensor) -> [(String, String)] {
        t.dtype.byteSize == 2 ? [("WORD16", "1")] : []
    }

    func encodePermute(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .permute(perm) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, output])
        let inStrides = contiguousStrides(x.shape)
        try lightStridedCopy(from: x, to: output, dims: output.shape, srcStrides: perm.map { inStrides[$0] },
                             dstStrides: contiguousStrides(output.shape))
    }

    func encodePixelShuffle(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        let x = inputs[0]
        try lightCheck([x, output])
        let n = x.shape[0]
        switch node.op {
        case let .pixelShuffle(r):
            // in [n, co, r, r, h, w] (contiguous) -> out[n, co, y*r + dy, x*r + dx]
            let co = output.shape[1], h = x.shape[2], w = x.shape[3]
            let ho = h * r, wo = w * r
            try lightStridedCopy(from: x, to: output, dims: [n, co, r, r, h, w],
                                 srcStrides: contiguousStrides([n, co, r, r, h, w]),
                                 dstStrides: [co * ho * wo, ho * wo, wo, 1, r * wo, r])
        case let .pixelUnshuffle(r):
            // out [n, c, r, r, ho, wo] (contiguous) <- in[n, c, y*r + dy, x*r + dx]
            let c = x.shape[1], h = x.shape[2], w = x.shape[3]
            let ho = h / r, wo = w / r
            try lightStridedCopy(from: x, to: output, dims: [n, c, r, r, ho, wo],
                                 srcStrides: [c * h * w, h * w, w, 1, r * w, r],
                                 dstStrides: contiguousStrides([n, c, r, r, ho, wo]))
        default:
            return
        }
    }

    func encodeConcat(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .concat(axis) = node.op else { return }
        try lightCheck(inputs + [output])
        let outStrides = contiguousStrides(output.shape)
        var offset = 0
        for x in inputs {
            try lightStridedCopy(from: x, to: output, dims: x.shape, srcStrides: contiguousStrides(x.shape),
                                 dstStrides: outStrides, dstBase: offset * outStrides[axis])
            offset += x.shape[axis]
        }
    }

    func encodeSlice(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .slice(axis, start, _) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, output])
        let inStrides = contiguousStrides(x.shape)
        try lightStridedCopy(from: x, to: output, dims: output.shape, srcStrides: inStrides,
                             dstStrides: contiguousStrides(output.shape), srcBase: start * inStrides[axis])
    }

    func encodeCrop(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .crop(y, x0, _, _) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, output])
        let inStrides = contiguousStrides(x.shape)
        try lightStridedCopy(from: x, to: output, dims: output.shape, srcStrides: inStrides,
                             dstStrides: contiguousStrides(output.shape), srcBase: y * inStrides[2] + x0)
    }

    func encodePad(_ node: Node, _ inputs: [DeviceTensor], _ output: DeviceTensor) throws {
        guard case let .pad(top, _, left, _, mode) = node.op else { return }
        let x = inputs[0]
        try lightCheck([x, output])
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        let ho = output.shape[2], wo = output.shape[3]
        guard output.count > 0 else { return }
        if h * w == 0 && mode == .zero {
            // Nothing to read: the output is all padding.
            try lightZeroPad(output)
            return
        }
        let big = h * w >= ho * wo ? x : output
        for r in try lightItemRanges(planes, itemElements: max(h * w, ho * wo), tensorForError: big, access: .read) {
            let (xb, xOff) = try lightBind(x, .read, elements: (r.lowerBound * h * w)..<(r.upperBound * h * w))
            let (yb, yOff) = try lightBind(output, .write, elements: (r.lowerBound * ho * wo)..<(r.upperBound * ho * wo))
            var args = ShaderArguments()
            args.ints([r.count * ho * wo, h, w, ho, wo, top, left, mode == .reflect ? 1 : 0, xOff, yOff])
            try lightDispatch("layout.comp", defines: [("PAD", "1")] + wordDefines(output), bindings: [xb, yb], arguments: args,
                              items: r.count * ho * wo)
        }
    }

    /// Zero-fills `output` with the pad kernel run on a 0 x 0 source: every tap falls
    /// outside it, so the source (a one-word scratch buffer) is never read.
    private func lightZeroPad(_ output: DeviceTensor) throws {
        let ho = output.shape[2], wo = output.shape[3]
        let planes = output.shape[0] * output.shape[1]
        let dummy = try scratch(shape: [1])
        let (db, _) = try lightBind(dummy, .read, elements: 0..<1)
        for r in try lightItemRanges(planes, itemElements: ho * wo, tensorForError: output, access: .write) {
            let (yb, yOff) = try lightBind(output, .write, elements: (r.lowerBound * ho * wo)..<(r.upperBound * ho * wo))
            var args = ShaderArguments()
            args.ints([r.count * ho * wo, 0, 0, ho, wo, 0, 0, 0, 0, yOff])
            try lightDispatch("layout.comp", defines: [("PAD", "1")] + wordDefines(output), bindings: [db, yb], arguments: args,
                              items: r.count * ho * wo)
        }
    }

    /// Copies a box of `dims` from `src` (element index srcBase + sum c_k * srcStrides[k]) to
    /// `dst` (dstBase + sum c_k * dstStrides[k]); strides must be non-negative and the
    /// destination mapping injective.
    func lightStridedCopy(from src: DeviceTensor, to dst: DeviceTensor, dims: [Int], srcStrides: [Int],
                          dstStrides: [Int], srcBase: Int = 0, dstBase: Int = 0) throws {
        if dims.contains(0) { return }
        // Drop unit dims and merge dims both sides walk contiguously.
        var box = LightCopyBox(dims: [], src: [], dst: [], srcBase: srcBase, dstBase: dstBase)
        for k in dims.indices where dims[k] != 1 {
            if let last = box.dims.indices.last,
               box.src[last] == srcStrides[k] * dims[k], box.dst[last] == dstStrides[k] * dims[k] {
                box.dims[last] *= dims[k]
                box.src[last] = srcStrides[k]
                box.dst[last] = dstStrides[k]
            } else {
                box.dims.append(dims[k]); box.src.append(srcStrides[k]); box.dst.append(dstStrides[k])
            }
        }
        if box.dims.isEmpty { box = LightCopyBox(dims: [1], src: [0], dst: [0], srcBase: srcBase, dstBase: dstBase) }
        guard box.dims.count <= 6 else {
            throw FusionError.unsupportedOp(op: "\(opName) with \(box.dims.count) non-mergeable dims (> 6)", backend: "vulkan")
        }

        // Split until both spans fit one binding.
        let limit = lightMaxElements
        var pending = [box]
        var ready: [LightCopyBox] = []
        while let b = pending.popLast() {
            if b.srcSpan <= limit && b.dstSpan <= limit {
                ready.append(b)
                continue
            }
            // Halve the dim that contributes most to the span that is over the limit.
            let bySource = b.srcSpan > limit
            guard let k = b.dims.indices.filter({ b.dims[$0] > 1 })
                .max(by: { b.extent($0, source: bySource) < b.extent($1, source: bySource) }) else {
                _ = try bind(src.byteCount > dst.byteCount ? src : dst, .read)
                throw FusionError.limitExceeded(op: opName, detail: "cannot split a copy to fit maxStorageBufferRange")
            }
            let half = b.dims[k] / 2
            var lo = b, hi = b
            lo.dims[k] = half
            hi.dims[k] = b.dims[k] - half
            hi.srcBase += half * b.src[k]
            hi.dstBase += half * b.dst[k]
            pending += [hi, lo]
            guard pending.count + ready.count <= 1 << 16 else {
                throw FusionError.limitExceeded(op: opName, detail: "copy of \(dims) needs too many pieces to fit maxStorageBufferRange")
            }
        }

        for b in ready {
            let (sb, sOff) = try lightBind(src, .read, elements: b.srcBase..<(b.srcBase + b.srcSpan))
            let (db, dOff) = try lightBind(dst, .write, elements: b.dstBase..<(b.dstBase + b.dstSpan))
            let pad = 6 - b.dims.count
            let d = Array(repeating: 1, count: pad) + b.dims
            let ss = Array(repeating: 0, count: pad) + b.src
            let ds = Array(repeating: 0, count: pad) + b.dst
            let count = b.dims.reduce(1, *)
            var args = ShaderArguments()
            args.int(count)
            args.ints(Array(d[1...]))
            args.ints(ss)
            args.ints(ds)
            args.int(sOff)
            args.int(dOff)
            try lightDispatch("layout.comp", defines: [("STRIDED_COPY", "1")] + wordDefines(dst), bindings: [sb, db], arguments: args, items: count)
        }
    }
}

/// A box of a strided copy: dims with source and destination strides and base indices.
struct LightCopyBox {
    var dims: [Int]
    var src: [Int]
    var dst: [Int]
    var srcBase: Int
    var dstBase: Int

    /// Elements from the first to the last source element touched.
    var srcSpan: Int { zip(dims, src).reduce(1) { $0 + ($1.0 - 1) * $1.1 } }
    var dstSpan: Int { zip(dims, dst).reduce(1) { $0 + ($1.0 - 1) * $1.1 } }
    /// How much dim k contributes to the source (or destination) span.
    func extent(_ k: Int, source: Bool) -> Int { (dims[k] - 1) * (source ? src[k] : dst[k]) }
}
