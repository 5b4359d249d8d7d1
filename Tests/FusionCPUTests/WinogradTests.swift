import XCTest
import FusionCore
@testable import FusionCPU

/// Winograd F(2x2,3x3) and F(4x4,3x3) convolution (WinogradConv.swift) against a float64
/// direct convolution of the same float32 inputs.
///
/// Error bound, per output element i:
///
///     |winograd_i - exact_i| <= tol * (sum over taps |w| |x| + |bias|)_i
///
/// with tol 2e-6 for F(2,3) and 1e-5 for F(4,3) (measured worst cases are about 1e-7 and 1e-6
/// on these shapes). A wrong transform entry, a patch taken one pixel off, a wrongly clipped
/// edge tile or a missing bias gives errors of order 0.1 or more on this scale.
final class WinogradTests: XCTestCase {
    struct Shape: CustomStringConvertible {
        var n, c, o, h, w: Int
        var pad: (Int, Int, Int, Int) = (1, 1, 1, 1)
        var reflect = false
        var bias = false
        var description: String {
            "n\(n) c\(c)->o\(o) \(h)x\(w) pad\(pad)\(reflect ? " reflect" : "")\(bias ? " bias" : "")"
        }
    }

    static let shapes: [Shape] = [
        Shape(n: 1, c: 1, o: 1, h: 1, w: 1),
        Shape(n: 1, c: 3, o: 5, h: 7, w: 9),
        Shape(n: 2, c: 4, o: 3, h: 13, w: 11, bias: true),
        Shape(n: 1, c: 8, o: 8, h: 16, w: 16, reflect: true),
        Shape(n: 3, c: 5, o: 7, h: 9, w: 17, reflect: true, bias: true),
        Shape(n: 1, c: 17, o: 9, h: 23, w: 31, bias: true),
        Shape(n: 2, c: 32, o: 48, h: 21, w: 19),
        Shape(n: 1, c: 48, o: 24, h: 40, w: 37, reflect: true),
        Shape(n: 1, c: 96, o: 96, h: 24, w: 32),
        Shape(n: 1, c: 6, o: 6, h: 10, w: 12, pad: (0, 1, 1, 1)),          // a band: no top padding
        Shape(n: 1, c: 6, o: 4, h: 10, w: 12, pad: (1, 0, 1, 1), bias: true),
        Shape(n: 1, c: 5, o: 5, h: 11, w: 9, pad: (0, 0, 0, 0)),           // valid conv
        Shape(n: 2, c: 3, o: 4, h: 6, w: 14, pad: (2, 1, 0, 2), reflect: true),
        Shape(n: 1, c: 2, o: 3, h: 2, w: 2, reflect: true),
        Shape(n: 1, c: 2, o: 2, h: 3, w: 2, pad: (1, 1, 1, 1)),
    ]

    /// Input, weight, bias of a shape (uniform in [-1, 1]).
    func operands(_ s: Shape, seed: UInt64) -> (x: [Float], w: [Float], b: [Float]) {
        (Tensor.random(shape: [s.n, s.c, s.h, s.w], seed: seed, in: -1...1).toFloatArray(),
         Tensor.random(shape: [s.o, s.c, 3, 3], seed: seed + 1, in: -1...1).toFloatArray(),
         Tensor.random(shape: [s.o], seed: seed + 2, in: -1...1).toFloatArray())
    }

    func outputSize(_ s: Shape) -> (Int, Int) {
        (s.h + s.pad.0 + s.pad.1 - 2, s.w + s.pad.2 + s.pad.3 - 2)
    }

    /// Float64 direct convolution and the per-element magnitude sum |w||x| + |b|.
    func reference(_ s: Shape, x: [Float], w: [Float], b: [Float]) -> (y: [Double], scale: [Double]) {
        let (ho, wo) = outputSize(s)
        var y = [Double](repeating: 0, count: s.n * s.o * ho * wo)
        var scale = y
        for n in 0..<s.n {
            for o in 0..<s.o {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var acc = s.bias ? Double(b[o]) : 0, mag = s.bias ? abs(Double(b[o])) : 0
                        for c in 0..<s.c {
                            for ky in 0..<3 {
                                let iy = paddedIndex(oy - s.pad.0 + ky, s.h, reflect: s.reflect)
                                if iy < 0 { continue }
                                for kx in 0..<3 {
                                    let ix = paddedIndex(ox - s.pad.2 + kx, s.w, reflect: s.reflect)
                                    if ix < 0 { continue }
                                    let p = Double(x[((n * s.c + c) * s.h + iy) * s.w + ix]) * Double(w[((o * s.c + c) * 3 + ky) * 3 + kx])
                                    acc += p
                                    mag += abs(p)
                                }
                            }
                        }
                        let i = ((n * s.o + o) * ho + oy) * wo + ox
                        y[i] = acc
                        scale[i] = mag
                    }
                }
            }
        }
        return (y, scale)
    }

    func attributes(_ s: Shape) -> Conv2DAttributes {
        Conv2DAttributes(stride: (1, 1), padding: s.pad, paddingMode: s.reflect ? .reflect : .zero)
    }

    /// Runs `conv2dWinograd` directly (optionally through a weight cache).
    func winograd(_ s: Shape, _ variant: WinogradVariant, x: [Float], w: [Float], b: [Float], threads: Int,
                  cache: WinogradWeightCache? = nil) -> [Float] {
        let (ho, wo) = outputSize(s)
        let p = Conv2DProblem(attributes(s), x: [s.n, s.c, s.h, s.w], weight: [s.o, s.c, 3, 3], out: [s.n, s.o, ho, wo])
        var out = [Float](repeating: .nan, count: s.n * s.o * ho * wo)
        let ctx = KernelContext(threads: threads, scratch: Scratch(), winogradCache: cache)
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                b.withUnsafeBufferPointer { bp in
                    out.withUnsafeMutableBufferPointer { op in
                        conv2dWinograd(p, variant: variant, x: xp.baseAddress!, weight: wp.baseAddress!,
                                       bias: s.bias ? bp.baseAddress! : nil, out: op.baseAddress!, ctx: ctx)
                    }
                }
            }
        }
        return out
    }

    /// Worst error relative to the magnitude bound; also the worst absolute error.
    func error(_ got: [Float], _ ref: (y: [Double], scale: [Double])) -> (relative: Double, absolute: Double) {
        var rel = 0.0, abs_ = 0.0
        for i in 0..<got.count {
            let e = abs(Double(got[i]) - ref.y[i])
            if !e.isFinite { return (.infinity, .infinity) }
            rel = max(rel, e / max(ref.scale[i], 1e-30))
            abs_ = max(abs_, e)
        }
        return (rel, abs_)
    }

    func tolerance(_ v: WinogradVariant) -> Double { v == .f4 ? 1e-5 : 2e-6 }

    func testMatchesFloat64DirectConvolution() {
        for variant in [WinogradVariant.f2, .f4] {
            for (i, s) in Self.shapes.enumerated() {
                let (x, w, b) = operands(s, seed: UInt64(10 * i + 1))
                let ref = reference(s, x: x, w: w, b: b)
                for threads in [1, 3] {
                    let got = winograd(s, variant, x: x, w: w, b: b, threads: threads)
                    let e = error(got, ref)
                    print("[winograd] \(variant) \(s) threads \(threads): max |err| \(e.absolute), relative \(e.relative)")
                    XCTAssertLessThanOrEqual(e.relative, tolerance(variant), "\(variant) \(s) threads \(threads)")
                }
            }
        }
    }

    /// A batch equals its samples run alone, bit for bit (blocks never straddle samples).
    func testBatchEqualsSamples() {
        let s = Shape(n: 3, c: 40, o: 36, h: 29, w: 35, bias: true)
        let (x, w, b) = operands(s, seed: 77)
        let (ho, wo) = outputSize(s)
        for variant in [WinogradVariant.f2, .f4] {
            let all = winograd(s, variant, x: x, w: w, b: b, threads: 2)
            var one = s
            one.n = 1
            for n in 0..<s.n {
                let xs = Array(x[(n * s.c * s.h * s.w)..<((n + 1) * s.c * s.h * s.w)])
                let alone = winograd(one, variant, x: xs, w: w, b: b, threads: 2)
                let inBatch = Array(all[(n * s.o * ho * wo)..<((n + 1) * s.o * ho * wo)])
                let differing = zip(alone, inBatch).filter { $0 != $1 }.count
                XCTAssertEqual(differing, 0, "\(variant) sample \(n): \(differing) of \(alone.count) values differ from the batch")
            }
        }
    }

    /// Cached kernels give the same result as kernels transformed per call, and are transformed once.
    func testWeightCache() {
        let s = Shape(n: 1, c: 12, o: 20, h: 18, w: 22, bias: true)
        let (x, w, b) = operands(s, seed: 5)
        let cache = WinogradWeightCache()
        for variant in [WinogradVariant.f2, .f4] {
            let plain = winograd(s, variant, x: x, w: w, b: b, threads: 2)
            let first = winograd(s, variant, x: x, w: w, b: b, threads: 2, cache: cache)
            let second = winograd(s, variant, x: x, w: w, b: b, threads: 2, cache: cache)
            XCTAssertTrue(plain == first, "\(variant): cached kernels differ from per-call ones")
            XCTAssertTrue(first == second, "\(variant): a second cached run differs")
        }
        XCTAssertEqual(cache.count, 2, "one entry per (weight, variant)")
        let full = WinogradWeightCache(limitBytes: 0)
        let past = winograd(s, .f4, x: x, w: w, b: b, threads: 1, cache: full)
        XCTAssertEqual(full.count, 0, "a cache at its limit holds nothing more")
        XCTAssertLessThanOrEqual(error(past, reference(s, x: x, w: w, b: b)).relative, tolerance(.f4))
    }

    /// Through the graph: a conv the dispatcher sends to Winograd (constant weight, cached)
    /// and the same conv with the weight as a graph input (changing between runs, never cached).
    func testGraphDispatchAndNonConstantWeights() throws {
        let s = Shape(n: 1, c: 48, o: 40, h: 36, w: 44, bias: true)
        let (ho, wo) = outputSize(s)
        let p = Conv2DProblem(attributes(s), x: [s.n, s.c, s.h, s.w], weight: [s.o, s.c, 3, 3], out: [s.n, s.o, ho, wo])
        XCTAssertNotNil(WinogradConv.variant(for: p), "this shape should take the Winograd path")
        let (x, w, b) = operands(s, seed: 31)
        let ref = reference(s, x: x, w: w, b: b)

        let g = Graph()
        let xv = g.input("x", shape: [s.n, s.c, s.h, s.w])
        let wv = g.input("w", shape: [s.o, s.c, 3, 3])
        let bv = g.constant(Tensor(shape: [s.o], floats: b))
        g.output("constant", try g.conv2d(xv, weight: g.constant(Tensor(shape: [s.o, s.c, 3, 3], floats: w)), bias: bv, attributes(s)))
        g.output("input", try g.conv2d(xv, weight: wv, bias: bv, attributes(s)))
        let exe = try CPUBackend(threads: 2).prepare(g)
        let xt = Tensor(shape: [s.n, s.c, s.h, s.w], floats: x)
        for run in 0..<2 {
            // Second run: a different weight in the same input buffer shape; the cached kernels of
            // the constant must not leak into it, nor stale kernels of the first run's input.
            let wRun = run == 0 ? w : w.map { -2 * $0 }
            let out = try exe.run(["x": xt, "w": Tensor(shape: [s.o, s.c, 3, 3], floats: wRun)])
            let constant = try XCTUnwrap(out["constant"]).toFloatArray()
            XCTAssertLessThanOrEqual(error(constant, ref).relative, tolerance(.f4), "constant weight, run \(run)")
            let input = try XCTUnwrap(out["input"]).toFloatArray()
            let expected = run == 0 ? ref : reference(s, x: x, w: wRun, b: b)
            XCTAssertLessThanOrEqual(error(input, expected).relative, tolerance(.f4), "weight input, run \(run)")
        }
    }

    /// The tolerance is tight enough to notice a patch read one column off.
    func testToleranceCatchesAnOffByOnePatch() {
        let s = Shape(n: 1, c: 4, o: 4, h: 12, w: 12, bias: true)
        let (x, w, b) = operands(s, seed: 3)
        let ref = reference(s, x: x, w: w, b: b)
        var shifted = s
        shifted.pad = (1, 1, 0, 2)        // the same conv read one column off
        let wrong = winograd(shifted, .f4, x: x, w: w, b: b, threads: 1)
        XCTAssertGreaterThan(error(wrong, ref).relative, 100 * tolerance(.f4))
    }
}

/// Timings of the conv paths on Text-IF's 3x3 shapes (dim 48), to choose where `conv2d`
/// dispatches to Winograd. Runs only with FUSIONKIT_WINOGRAD_BENCH=1 (it takes a minute).
final class WinogradBenchmarkTests: XCTestCase {
    func testTimeTextIFShapes() throws {
        try XCTSkipUnless(FusionOptions.current.winogradBench, "set FUSIONKIT_WINOGRAD_BENCH=1")
        // (C, O, H, W): FFN convs per level at 480x640 and 256x256, downsamples, upsamples.
        let shapes: [(Int, Int, Int, Int)] = [
            (96, 96, 480, 640), (192, 192, 240, 320), (384, 384, 120, 160), (768, 768, 60, 80),
            (48, 24, 480, 640), (96, 48, 240, 320), (192, 96, 120, 160),
            (96, 192, 240, 320), (192, 384, 120, 160), (384, 768, 60, 80),
            (96, 96, 256, 256), (192, 192, 128, 128), (384, 384, 64, 64), (768, 768, 32, 32),
            (48, 24, 256, 256), (96, 192, 128, 128), (384, 768, 32, 32), (96, 3, 256, 256),
        ]
        let threads = ProcessInfo.processInfo.activeProcessorCount
        let scratch = Scratch()
        for (c, o, h, w) in shapes {
            let x = Tensor.random(shape: [1, c, h, w], seed: 1).toFloatArray()
            let wt = Tensor.random(shape: [o, c, 3, 3], seed: 2, in: -0.05...0.05).toFloatArray()
            var out = [Float](repeating: 0, count: o * h * w)
            let attrs = Conv2DAttributes(padding: 1)
            let cache = WinogradWeightCache()
            func time(_ mode: WinogradVariant?) -> Double {
                let saved = WinogradConv.enabled
                defer { WinogradConv.enabled = saved }
                var best = Double.infinity
                let reps = c * o * h * w > 2_000_000_000 ? 2 : 3
                for _ in 0..<reps {
                    let start = DispatchTime.now().uptimeNanoseconds
                    x.withUnsafeBufferPointer { xp in
                        wt.withUnsafeBufferPointer { wp in
                            out.withUnsafeMutableBufferPointer { op in
                                let ctx = KernelContext(threads: threads, scratch: scratch, winogradCache: cache)
                                if let mode {
                                    let p = Conv2DProblem(attrs, x: [1, c, h, w], weight: [o, c, 3, 3], out: [1, o, h, w])
                                    BLASRuntime.ensureLoaded()
                                    conv2dWinograd(p, variant: mode, x: xp.baseAddress!, weight: wp.baseAddress!, bias: nil, out: op.baseAddress!, ctx: ctx)
                                } else {
                                    WinogradConv.enabled = false
                                    conv2d(attrs, x: xp.baseAddress!, xShape: [1, c, h, w], weight: wp.baseAddress!, wShape: [o, c, 3, 3],
                                           bias: nil, out: op.baseAddress!, outShape: [1, o, h, w], ctx: ctx)
                                }
                            }
                        }
                    }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
                }
                return best
            }
            let direct = time(nil), f2 = time(.f2), f4 = time(.f4)
            let gflop = 2.0 * Double(c * o * 9 * h * w) * 1e-9
            let p = Conv2DProblem(attrs, x: [1, c, h, w], weight: [o, c, 3, 3], out: [1, o, h, w])
            print(String(format: "[winograd-bench] %4d->%-4d %4dx%-4d direct %8.2f ms (%5.1f GFLOP/s)  F2 %8.2f ms (x%.2f)  F4 %8.2f ms (x%.2f)",
                         c, o, h, w, direct * 1e3, gflop / direct, f2 * 1e3, direct / f2, f4 * 1e3, direct / f4)
                  + "  dispatch " + (WinogradConv.variant(for: p)?.description ?? "direct"))
        }
    }
}

/// Error of each path against float64 on Text-IF's 3x3 shapes (dim 48, planes cut down so
/// the float64 loops stay short): inputs uniform in [-1, 1], weights uniform in
/// +-1/sqrt(9 C) (PyTorch's default init scale). Runs only with FUSIONKIT_WINOGRAD_BENCH=1.
final class WinogradAccuracyTests: XCTestCase {
    func testTextIFShapesAgainstFloat64() throws {
        try XCTSkipUnless(FusionOptions.current.winogradBench, "set FUSIONKIT_WINOGRAD_BENCH=1")
        let shapes: [(Int, Int, Int, Int)] = [(96, 96, 48, 64), (192, 192, 32, 40), (384, 384, 20, 24), (768, 768, 12, 16), (96, 48, 48, 64), (384, 768, 12, 16)]
        let threads = 2
        for (c, o, h, w) in shapes {
            let x = Tensor.random(shape: [1, c, h, w], seed: 3, in: -1...1).toFloatArray()
            let bound = 1 / Float(9 * c).squareRoot()
            let wt = Tensor.random(shape: [o, c, 3, 3], seed: 4, in: -bound...bound).toFloatArray()
            // float64 reference
            var ref = [Double](repeating: 0, count: o * h * w)
            let xd = x.map(Double.init), wd = wt.map(Double.init)
            ref.withUnsafeMutableBufferPointer { r in
                DispatchQueue.concurrentPerform(iterations: o) { oc in
                    for ci in 0..<c {
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                let k = wd[((oc * c + ci) * 3 + ky) * 3 + kx]
                                for oy in 0..<h {
                                    let iy = oy - 1 + ky
                                    if iy < 0 || iy >= h { continue }
                                    for ox in 0..<w {
                                        let ix = ox - 1 + kx
                                        if ix < 0 || ix >= w { continue }
                                        r[(oc * h + oy) * w + ox] += k * xd[(ci * h + iy) * w + ix]
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let scale = max(1, ref.map(abs).max()!)
            var line = String(format: "[winograd-accuracy] %4d->%-4d %3dx%-3d max|ref| %.2f:", c, o, h, w, ref.map(abs).max()!)
            for mode in [nil, WinogradVariant.f2, .f4] {
                var out = [Float](repeating: 0, count: o * h * w)
                x.withUnsafeBufferPointer { xp in
                    wt.withUnsafeBufferPointer { wp in
                        out.withUnsafeMutableBufferPointer { op in
                            let ctx = KernelContext(threads: threads, scratch: Scratch())
                            let attrs = Conv2DAttributes(padding: 1)
                            BLASRuntime.ensureLoaded()
                            if let mode {
                                let p = Conv2DProblem(attrs, x: [1, c, h, w], weight: [o, c, 3, 3], out: [1, o, h, w])
                                conv2dWinograd(p, variant: mode, x: xp.baseAddress!, weight: wp.baseAddress!, bias: nil, out: op.baseAddress!, ctx: ctx)
                            } else {
                                WinogradConv.enabled = false
                                defer { WinogradConv.enabled = true }
                                conv2d(attrs, x: xp.baseAddress!, xShape: [1, c, h, w], weight: wp.baseAddress!, wShape: [o, c, 3, 3],
                                       bias: nil, out: op.baseAddress!, outShape: [1, o, h, w], ctx: ctx)
                            }
                        }
                    }
                }
                let err = zip(out, ref).map { abs(Double($0) - $1) }.max()!
                line += "  " + (mode?.description ?? "direct") + String(format: " max|err| %.2e (%.2e of scale)", err, err / scale)
                XCTAssertLessThan(err / scale, 1e-4, "\(mode?.description ?? "direct") \(c)->\(o)")
            }
            print(line)
        }
    }
}
