import CCPUKernels
import FusionCore

/// Stride-1, undilated depthwise convs up to 7x7 (TextFusion's 5x5 local branch on 24
/// channels) in C (`fk_depthwise_rows`): each output row accumulated 64 columns at a time
/// in registers from the band's padded input rows, with AVX-512 or AVX2+FMA where the CPU
/// has it (the Swift loops are built for the baseline ISA, without FMA). Tasks are
/// (plane, band of rows); `finish` (the node's epilogue) runs on each band while it is in
/// cache.
enum DepthwiseRows {
    static func applies(_ p: Conv2DProblem) -> Bool {
        p.groups == p.c && p.o == p.c && p.cg == 1 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && takes(kh: p.kh, kw: p.kw)
    }

    /// Kernel sizes the C kernel takes (`pointwiseDepthwise` asks too, to sum as this does).
    static func takes(kh: Int, kw: Int) -> Bool { kh <= 7 && kw <= 7 }

    static func run(_ p: Conv2DProblem, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                    bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, finish: EpilogueRows? = nil,
                    ctx: KernelContext) {
        var problem = fk_conv_problem(c: 1, h: Int32(p.h), w: Int32(p.w), o: 1, kh: Int32(p.kh), kw: Int32(p.kw),
                                      ho: Int32(p.ho), wo: Int32(p.wo), pt: Int32(p.pt), pl: Int32(p.pl), reflect: p.reflect ? 1 : 0)
        let planes = p.n * p.c
        let bandRows = max(1, min(p.ho, 32))
        let bands = (p.ho + bandRows - 1) / bandRows
        let perWorker = (bandRows + p.kh - 1) * (p.wo + p.kw - 1)
        let scratch = ctx.scratch.floats(workerCount(planes * bands, threads: ctx.threads) * perWorker)
        withUnsafePointer(to: &problem) { problem in
            parallelTasks(planes * bands, threads: ctx.threads) { worker, t in
                let plane = t / bands, y0 = (t % bands) * bandRows
                let c = plane % p.c
                let y1 = min(p.ho, y0 + bandRows)
                fk_depthwise_rows(problem, x + plane * p.h * p.w, weight + c * p.kh * p.kw, bias?[c] ?? 0, out + plane * p.ho * p.wo,
                                  Int32(y0), Int32(y1), scratch + worker * perWorker)
                if let finish { for y in y0..<y1 { finish.apply(row: plane * p.ho + y) } }
            }
        }
    }
}
