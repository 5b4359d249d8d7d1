import FusionCore

// Data movement: pixel (un)shuffle, concat, slice, pad, crop and permute.

/// Rows per parallel task for row loops of `rowLength` elements.
@inline(__always)
private func rowGrain(_ rowLength: Int) -> Int { max(1, (1 << 14) / max(1, rowLength)) }

/// out[n, c, y*r + dy, x*r + dx] = in[n, c*r*r + dy*r + dx, y, x].
func pixelShuffle(factor r: Int, x: UnsafePointer<Float>, shape: [Int], out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let n = shape[0], cin = shape[1], h = shape[2], w = shape[3]
    let c = cin / (r * r), ho = h * r, wo = w * r
    parallelFor(n * c * ho, threads: ctx.threads, grain: rowGrain(wo)) { t in
        let yo = t % ho, nc = t / ho
        let ni = nc / c, ci = nc % c
        let y = yo / r, dy = yo % r
        let dst = out + t * wo
        for dx in 0..<r {
            let src = x + ((ni * cin + ci * r * r + dy * r + dx) * h + y) * w
            for xi in 0..<w { dst[xi * r + dx] = src[xi] }
        }
    }
}

/// out[n, c*r*r + dy*r + dx, y, x] = in[n, c, r*y + dy, r*x + dx].
func pixelUnshuffle(factor r: Int, x: UnsafePointer<Float>, shape: [Int], out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let n = shape[0], c = shape[1], h = shape[2], w = shape[3]
    let co = c * r * r, ho = h / r, wo = w / r
    parallelFor(n * co * ho, threads: ctx.threads, grain: rowGrain(wo)) { t in
        let y = t % ho, nc = t / ho
        let ni = nc / co, oc = nc % co
        let ci = oc / (r * r), dy = (oc % (r * r)) / r, dx = oc % r
        let src = x + ((ni * c + ci) * h + r * y + dy) * w + dx
        let dst = out + t * wo
        for xi in 0..<wo { dst[xi] = src[xi * r] }
    }
}

func concat(axis: Int, inputs: [(UnsafePointer<Float>, [Int])], out: UnsafeMutablePointer<Float>, outShape: [Int], ctx: KernelContext) {
    let outer = outShape[..<axis].reduce(1, *)
    let after = outShape[(axis + 1)...].reduce(1, *)
    let outRow = outShape[axis] * after
    if outer * outRow == 0 { return }
    var offsets: [Int] = []
    var o = 0
    for (_, s) in inputs { offsets.append(o); o += s[axis] * after }
    let k = inputs.count
    parallelFor(outer * k, threads: ctx.threads, grain: rowGrain(outRow / max(k, 1))) { t in
        let row = t / k, i = t % k
        let (src, s) = inputs[i]
        let len = s[axis] * after
        if len > 0 { (out + row * outRow + offsets[i]).update(from: src + row * len, count: len) }
    }
}

func slice(axis: Int, start: Int, length: Int, x: UnsafePointer<Float>, shape: [Int], out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    let outer = shape[..<axis].reduce(1, *)
    let after = shape[(axis + 1)...].reduce(1, *)
    let len = length * after, inRow = shape[axis] * after
    if outer * len == 0 { return }
    parallelFor(outer, threads: ctx.threads, grain: rowGrain(len)) { row in
        (out + row * len).update(from: x + row * inRow + start * after, count: len)
    }
}

func pad(top: Int, left: Int, mode: PaddingMode, x: UnsafePointer<Float>, shape: [Int],
         out: UnsafeMutablePointer<Float>, outShape: [Int], ctx: KernelContext) {
    let h = shape[2], w = shape[3], ho = outShape[2], wo = outShape[3]
    let planes = shape[0] * shape[1]
    let reflect = mode == .reflect
    if planes * ho * wo == 0 { return }
    let (lo, hi) = validRange(count: wo, stride: 1, offset: -left, size: w)
    parallelFor(planes * ho, threads: ctx.threads, grain: rowGrain(wo)) { t in
        let plane = t / ho, yo = t % ho
        let dst = out + t * wo
        let sy = paddedIndex(yo - top, h, reflect: reflect)
        if sy < 0 {
            dst.update(repeating: 0, count: wo)
        } else {
            gatherRow(dst, 0, wo, src: x + (plane * h + sy) * w, width: w, stride: 1, offset: -left,
                      validLo: lo, validHi: hi, reflect: reflect)
        }
    }
}

func crop(y: Int, x x0: Int, x: UnsafePointer<Float>, shape: [Int], out: UnsafeMutablePointer<Float>, outShape: [Int], ctx: KernelContext) {
    let h = shape[2], w = shape[3], ho = outShape[2], wo = outShape[3]
    let planes = shape[0] * shape[1]
    if planes * ho * wo == 0 { return }
    parallelFor(planes * ho, threads: ctx.threads, grain: rowGrain(wo)) { t in
        let plane = t / ho, yo = t % ho
        (out + t * wo).update(from: x + (plane * h + y + yo) * w + x0, count: wo)
    }
}

/// Generic permute of elements of any size (1, 2, 4 or 8 bytes).
func permute(_ perm: [Int], x: UnsafeRawPointer, shape: [Int], elementSize: Int, out: UnsafeMutableRawPointer, ctx: KernelContext) {
    switch elementSize {
    case 1: permuteTyped(perm, x.assumingMemoryBound(to: UInt8.self), shape, out.assumingMemoryBound(to: UInt8.self), ctx)
    case 2: permuteTyped(perm, x.assumingMemoryBound(to: UInt16.self), shape, out.assumingMemoryBound(to: UInt16.self), ctx)
    case 8: permuteTyped(perm, x.assumingMemoryBound(to: UInt64.self), shape, out.assumingMemoryBound(to: UInt64.self), ctx)
    default: permuteTyped(perm, x.assumingMemoryBound(to: UInt32.self), shape, out.assumingMemoryBound(to: UInt32.self), ctx)
    }
}

private func permuteTyped<T>(_ perm: [Int], _ x: UnsafePointer<T>, _ shape: [Int], _ out: UnsafeMutablePointer<T>, _ ctx: KernelContext) {
    let total = shape.reduce(1, *)
    if total == 0 { return }
    let inStrides = contiguousStrides(shape)
    // Output dimensions with the input stride each reads, size-1 dims dropped and dims that
    // stay adjacent in the input merged.
    var sizes: [Int] = [], strides: [Int] = []
    for d in perm where shape[d] != 1 {
        if let last = sizes.indices.last, strides[last] == inStrides[d] * shape[d] {
            sizes[last] *= shape[d]
            strides[last] = inStrides[d]
        } else {
            sizes.append(shape[d]); strides.append(inStrides[d])
        }
    }
    if sizes.count <= 1 {
        out.update(from: x, count: total)
        return
    }
    let k = sizes.count
    let outStrides = contiguousStrides(sizes)
    if strides[k - 1] == 1 {
        // Contiguous innermost rows: copy row by row.
        let inner = sizes[k - 1]
        let outerSizes = Array(sizes.dropLast()), outerStrides = Array(strides.dropLast())
        parallelFor(total / inner, threads: ctx.threads, grain: rowGrain(inner)) { row in
            var rem = row, off = 0
            for d in stride(from: outerSizes.count - 1, through: 0, by: -1) {
                off += (rem % outerSizes[d]) * outerStrides[d]
                rem /= outerSizes[d]
            }
            (out + row * inner).update(from: x + off, count: inner)
        }
        return
    }
    // Innermost output dim is strided in the input: tiled 2D transpose between that dim and
    // the output dim `j` that is contiguous in the input.
    let j = strides.firstIndex(of: 1)!
    let sizeJ = sizes[j], sizeL = sizes[k - 1]
    let strideL = strides[k - 1], outStrideJ = outStrides[j]
    var restSizes: [Int] = [], restIn: [Int] = [], restOut: [Int] = []
    for d in 0..<(k - 1) where d != j {
        restSizes.append(sizes[d]); restIn.append(strides[d]); restOut.append(outStrides[d])
    }
    let rest = restSizes.reduce(1, *)
    let tile = 32
    let tilesJ = (sizeJ + tile - 1) / tile, tilesL = (sizeL + tile - 1) / tile
    parallelFor(rest * tilesJ, threads: ctx.threads, grain: max(1, 16 / max(1, tilesL))) { t in
        let r = t / tilesJ, tj = t % tilesJ
        var rem = r, inOff = 0, outOff = 0
        for d in stride(from: restSizes.count - 1, through: 0, by: -1) {
            let i = rem % restSizes[d]
            rem /= restSizes[d]
            inOff += i * restIn[d]
            outOff += i * restOut[d]
        }
        let a0 = tj * tile, a1 = min(sizeJ, a0 + tile)
        for tl in 0..<tilesL {
            let b0 = tl * tile, b1 = min(sizeL, b0 + tile)
            for a in a0..<a1 {
                let dst = out + outOff + a * outStrideJ
                let src = x + inOff + a
                for b in b0..<b1 { dst[b] = src[b * strideL] }
            }
        }
    }
}
