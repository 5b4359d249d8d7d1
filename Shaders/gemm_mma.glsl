// The multiply-add of one staged K slice (gemm_tiling.glsl): acc += As(stage s) * Bs(stage s)
// for this thread's TM x TN register tile, fp32 from shared memory.
// This is the only helper a cooperative-matrix build would replace (fragment loads from
// shared memory, coopMatMulAdd, a store of the accumulator fragments); the tiling, indexing
// and epilogue around it stay shared.
#ifndef FUSIONKIT_GEMM_MMA_GLSL
#define FUSIONKIT_GEMM_MMA_GLSL 1

void gemmMultiplyStage(uint s, uint tx, uint ty) {
    const uint aBase = s * A_STAGE, bBase = s * B_STAGE;
    [[unroll]] for (uint kk = 0u; kk < BK; ++kk) {
        float ar[TM];
        float br[TN];
        [[unroll]] for (uint i = 0u; i < TM; ++i) {
            ar[i] = As[aBase + kk * AS_STRIDE + ty + i * THREADS_M];
        }
        [[unroll]] for (uint j = 0u; j < TN; ++j) {
            br[j] = Bs[bBase + kk * BS_STRIDE + tx + j * THREADS_N];
        }
        [[unroll]] for (uint i = 0u; i < TM; ++i) {
            [[unroll]] for (uint j = 0u; j < TN; ++j) {
                acc[i * TN + j] = fma(ar[i], br[j], acc[i * TN + j]);
            }
        }
    }
}

#endif // FUSIONKIT_GEMM_MMA_GLSL
