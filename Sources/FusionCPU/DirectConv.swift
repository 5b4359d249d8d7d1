import CCPUKernels
import FusionCore

/// Stride-1 spatial convolutions with few channels on one side (at most 4 outputs or at
/// most 4 inputs: TextFusion's 48 -> 1 head convs and 1 -> 24 patch embeddings), where
/// a GEMM is one row or one column wide and runs far below the CPU's speed: each output
/// row is accumulated directly along the row (`fk_conv2d_direct_rows`, AVX-512 or AVX2+FMA where
/// the CPU has it). Tasks are (sample, band of rows).
enum DirectConv {
    static func applies(_ p: Conv2DProblem) -> Bool {
        p.groups == 1 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.kh * p.kw > 1
            && p.kh <= 7 && p.kw <= 7 && (p.o <= 4 || p.c <= 4) && p.wo >= 8
    }

    static func run(_ p: Conv2DProblem, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                    bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ctx: KernelContext) {
        var problem = fk_conv_problem(c: Int32(p.c), h: Int32(p.h), w: Int32(p.w), o: Int32(p.o), kh: Int32(p.kh), kw: Int32(p.kw),
                                      ho: Int32(p.ho), wo: Int32(p.wo), pt: Int32(p.pt), pl: Int32(p.pl), reflect: p.reflect ? 1 : 0)
        let perWorker = (p.wo + p.kw - 1) + p.o * p.wo
        let bandRows = max(1, min(p.ho, 4))
        let bands = (p.ho + bandRows - 1) / bandRows
        let tasks = p.n * bands
        let scratch = ctx.scratch.floats(workerCount(tasks, threads: ctx.threads) * perWorker)
        withUnsafePointer(to: &problem) { problem in
            parallelTasks(tasks, threads: ctx.threads) { worker, t in
                let n = t / bands, y0 = (t % bands) * bandRows
                fk_conv2d_direct_rows(problem, x + n * p.c * p.h * p.w, weight, bias, out + n * p.o * p.ho * p.wo,
                                      Int32(y0), Int32(min(p.ho, y0 + bandRows)), scratch + worker * perWorker)
            }
        }
    }
}
