import Foundation
import FusionCore

// Winograd convolution driver: 3x3 kernels, stride 1, dilation 1, one group, zero or reflect
// padding (any, asymmetric included), optional bias. Transforms in WinogradTransforms.swift.
//
// The output of each sample is cut into m x m tiles (m = 4 for F(4x4,3x3), 2 for F(2x2,3x3);
// partial tiles at the right and bottom edges are computed whole and clipped), numbered row
// by row. Tiles are processed in blocks of T (a multiple of 8), one block per task, blocks
// running in parallel as the im2col path's tiles do. For a block, a worker:
//  1. gathers each tile's a x a input patch per channel (padding through `paddedIndex`) and
//     transforms it: V [positions][C][T];
//  2. runs one single-threaded sgemm per position: M[p] (O x T) = U[p] (O x C) * V[p] (C x T),
//     U being the transformed kernels (cached per constant weight, `WinogradWeightCache`);
//  3. transforms M back per output channel and writes the tiles (plus bias) to the output.
// Blocks never straddle samples, so a sample's result does not depend on the batch.

/// When the Winograd path applies and which variant it uses.
enum WinogradConv {
    /// Per-worker V + M buffers of a tile block.
    static let blockBytes = 8 << 20

    /// FUSIONKIT_CPU_WINOGRAD in the environment, for A/B measurements and accuracy checks:
    /// "0" never uses Winograd, "f2" / "f4" use that variant for every supported conv; unset
    /// (or anything else) chooses by `variant(for:)`'s measured rule.
    static let environment = FusionOptions.current.cpuWinograd
    /// Whether `conv2d` may dispatch here at all (tests switch it).
    nonisolated(unsafe) static var enabled = environment != "0"
    /// A variant forced on every supported conv (tests may set it).
    nonisolated(unsafe) static var forced: WinogradVariant? = environment == "f4" ? .f4 : environment == "f2" ? .f2 : nil

    /// The shapes the driver supports at all.
    static func supports(_ p: Conv2DProblem) -> Bool {
        p.kh == 3 && p.kw == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.groups == 1
    }

    /// The variant `conv2d` dispatches to, or nil to keep the direct paths. Chosen from
    /// measurements on 2 cores (Docs/benchmarks.md, "Winograd 3x3 convolution"): F(4x4,3x3) wins once both
    /// channel counts are large enough for its 36 GEMMs to be efficient and the plane has
    /// enough tiles to fill a few blocks.
    static func variant(for p: Conv2DProblem) -> WinogradVariant? {
        guard enabled, supports(p) else { return nil }
        if let forced { return forced }
        guard p.c >= 32, p.o >= 32 else { return nil }
        let tiles = ((p.ho + 3) / 4) * ((p.wo + 3) / 4)
        guard tiles >= 64 else { return nil }
        return .f4
    }

    /// Tiles per block: the V and M buffers near `blockBytes` (at least `minBlockTiles` tiles,
    /// so that the GEMMs stay efficient with many channels), a multiple of 8, and at least
    /// one block per thread. From one sample's tiles (not the batch's), so that a sample's
    /// GEMMs, and so its rounding, are the same in a batch as alone.
    static func blockTiles(_ p: Conv2DProblem, variant: WinogradVariant, tiles: Int, threads: Int) -> Int {
        let perTile = variant.positions * (p.c + p.o) * MemoryLayout<Float>.stride
        var t = min(maxBlockTiles, max(minBlockTiles, blockBytes / max(1, perTile))) / 8 * 8
        let perThread = (tiles + max(1, threads) - 1) / max(1, threads)
        t = min(t, (perThread + 7) / 8 * 8)
        return max(8, t)
    }

    static let minBlockTiles = 32
    static let maxBlockTiles = 256
}

/// `conv2d` through F(m x m, 3x3). `p` must satisfy `WinogradConv.supports`.
func conv2dWinograd(_ p: Conv2DProblem, variant: WinogradVariant, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                    bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
    precondition(WinogradConv.supports(p), "Winograd needs a 3x3 stride-1 undilated single-group conv")
    let m = variant.tile, a = variant.patch, positions = variant.positions
    let tilesX = (p.wo + m - 1) / m, tilesY = (p.ho + m - 1) / m
    let tiles = tilesX * tilesY
    let bt = WinogradConv.blockTiles(p, variant: variant, tiles: tiles, threads: ctx.threads)
    let blocks = (tiles + bt - 1) / bt
    let tasks = p.n * blocks
    let workers = workerCount(tasks, threads: ctx.threads)

    let cached = ctx.winogradCache?.kernels(weight, o: p.o, c: p.c, variant: variant, threads: ctx.threads)
    let kernelFloats = cached == nil ? positions * p.o * p.c : 0
    let vFloats = positions * p.c * bt, mFloats = positions * p.o * bt
    let perWorker = vFloats + mFloats + a * a * winogradLanes + m * m * winogradLanes
    let buffer = ctx.scratch.floats(kernelFloats + workers * perWorker)
    let u: UnsafePointer<Float>
    if let cached {
        u = cached
    } else {
        variant.transformWeights(weight, o: p.o, c: p.c, into: buffer, threads: ctx.threads)
        u = UnsafePointer(buffer)
    }
    let workBase = buffer + kernelFloats
    let hw = p.h * p.w, plane = p.ho * p.wo

    parallelGEMMTasks(tasks, threads: ctx.threads) { worker, task in
        let n = task / blocks, t0 = (task % blocks) * bt
        let count = min(bt, tiles - t0)
        let v = workBase + worker * perWorker
        let mm = v + vFloats
        let patch = mm + mFloats
        let y = patch + a * a * winogradLanes

        // 1. Input patches -> V.
        let xs = x + n * p.c * hw
        for c in 0..<p.c {
            let src = xs + c * hw
            var l = 0
            while l < count {
                let lanes = min(winogradLanes, count - l)
                for lane in 0..<winogradLanes {
                    if lane < lanes {
                        let t = t0 + l + lane
                        let ty = t / tilesX, tx = t - ty * tilesX
                        winogradGatherPatch(src, p, y0: ty * m - p.pt, x0: tx * m - p.pl, side: a, into: patch + lane)
                    } else {
                        for k in 0..<(a * a) { patch[k * winogradLanes + lane] = 0 }
                    }
                }
                let dst = v + c * bt + l
                if variant == .f4 {
                    winogradInputF4(patch, dst, stride: p.c * bt)
                } else {
                    winogradInputF2(patch, dst, stride: p.c * bt)
                }
                l += winogradLanes
            }
        }

        // 2. One GEMM per transform position.
        for q in 0..<positions {
            sgemm(m: p.o, n: count, k: p.c, a: u + q * p.o * p.c, lda: p.c, b: v + q * p.c * bt, ldb: bt,
                  c: mm + q * p.o * bt, ldc: bt)
        }

        // 3. M -> output tiles.
        let outSample = out + n * p.o * plane
        for o in 0..<p.o {
            let dstPlane = outSample + o * plane
            let b = bias?[o] ?? 0
            var l = 0
            while l < count {
                let lanes = min(winogradLanes, count - l)
                let src = UnsafePointer(mm + o * bt + l)
                if variant == .f4 {
                    winogradOutputF4(src, stride: p.o * bt, y)
                } else {
                    winogradOutputF2(src, stride: p.o * bt, y)
                }
                for lane in 0..<lanes {
                    let t = t0 + l + lane
                    let ty = t / tilesX, tx = t - ty * tilesX
                    let oy0 = ty * m, ox0 = tx * m
                    let rows = min(m, p.ho - oy0), cols = min(m, p.wo - ox0)
                    for i in 0..<rows {
                        let row = dstPlane + (oy0 + i) * p.wo + ox0
                        for j in 0..<cols { row[j] = y[(i * m + j) * winogradLanes + lane] + b }
                    }
                }
                l += winogradLanes
            }
        }
    }
}

/// Copies the `side` x `side` patch of `src` (one H x W plane) whose top-left corner is at
/// padded coordinates (y0, x0) into `dst[k * 8]` (k row-major), applying the problem's
/// padding. Coordinates past the padded input (partial tiles) read zeros or reflections;
/// the outputs they feed are clipped.
@inline(__always)
func winogradGatherPatch(_ src: UnsafePointer<Float>, _ p: Conv2DProblem, y0: Int, x0: Int, side: Int,
                         into dst: UnsafeMutablePointer<Float>) {
    if y0 >= 0 && x0 >= 0 && y0 + side <= p.h && x0 + side <= p.w {
        var s = src + y0 * p.w + x0
        var d = dst
        for _ in 0..<side {
            for j in 0..<side { d[j * winogradLanes] = s[j] }
            s += p.w
            d += side * winogradLanes
        }
        return
    }
    for r in 0..<side {
        let iy = paddedIndex(y0 + r, p.h, reflect: p.reflect)
        let d = dst + r * side * winogradLanes
        if iy < 0 {
            for j in 0..<side { d[j * winogradLanes] = 0 }
            continue
        }
        let row = src + iy * p.w
        for j in 0..<side {
            let ix = paddedIndex(x0 + j, p.w, reflect: p.reflect)
            d[j * winogradLanes] = ix >= 0 ? row[ix] : 0
        }
    }
}
