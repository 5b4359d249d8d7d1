// The multiply-add of one staged K slice (gemm_tiling.glsl) and the accumulator's begin and
// end: the one place where the plain kernels and their cooperative-matrix twins differ.
//
// Plain (default): acc += As(stage s) * Bs(stage s) for this thread's TM x TN register tile,
// fp32 from shared memory; begin / end do nothing (acc is the accumulator).
//
// GEMM_COOPMAT (GL_NV_cooperative_matrix, fp16 x fp16 -> fp32, 16 x 16 x 16 fragments,
// subgroups of 32): subgroup w owns the WM x WN warp tile at ((w / (BN / WN)) * WM,
// (w % (BN / WN)) * WN) of the block, (WM / 16) x (WN / 16) accumulator fragments. The end
// stores the fragments to shared memory (fp32, BM x BN) and each thread reads its TM x TN
// outputs back into `acc`. Needs WG = 32 * (BM / WM) * (BN / WN) and BK % 16 == 0.
#ifndef FUSIONKIT_GEMM_MMA_GLSL
#define FUSIONKIT_GEMM_MMA_GLSL 1

#ifdef GEMM_COOPMAT
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require

layout(constant_id = 13) const uint WM = 32;   // warp tile rows
layout(constant_id = 14) const uint WN = 32;   // warp tile columns
const uint FRAG_M = WM / 16u;
const uint FRAG_N = WN / 16u;
const uint WARPS_N = BN / WN;

shared float Cs[BM * BN];
fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> accFrag[FRAG_M * FRAG_N];

void gemmBeginAccumulation() {
    [[unroll]] for (uint f = 0u; f < FRAG_M * FRAG_N; ++f) {
        accFrag[f] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    }
}

void gemmMultiplyStage(uint s, uint tx, uint ty) {
    const uint warp = gl_LocalInvocationID.x / 32u;
    const uint wm0 = (warp / WARPS_N) * WM, wn0 = (warp % WARPS_N) * WN;
    const uint aBase = s * A_STAGE, bBase = s * B_STAGE;
    [[unroll]] for (uint kk = 0u; kk < BK; kk += 16u) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> aFrag[FRAG_M];
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> bFrag[FRAG_N];
        [[unroll]] for (uint i = 0u; i < FRAG_M; ++i) {
            // As is k-major: A(m, k) at k * AS_STRIDE + m, a column-major M x K fragment.
            coopMatLoadNV(aFrag[i], As, aBase + kk * AS_STRIDE + wm0 + i * 16u, AS_STRIDE, true);
        }
        [[unroll]] for (uint j = 0u; j < FRAG_N; ++j) {
            coopMatLoadNV(bFrag[j], Bs, bBase + kk * BS_STRIDE + wn0 + j * 16u, BS_STRIDE, false);
        }
        [[unroll]] for (uint i = 0u; i < FRAG_M; ++i) {
            [[unroll]] for (uint j = 0u; j < FRAG_N; ++j) {
                accFrag[i * FRAG_N + j] = coopMatMulAddNV(aFrag[i], bFrag[j], accFrag[i * FRAG_N + j]);
            }
        }
    }
}

void gemmEndAccumulation(uint tx, uint ty) {
    const uint warp = gl_LocalInvocationID.x / 32u;
    const uint wm0 = (warp / WARPS_N) * WM, wn0 = (warp % WARPS_N) * WN;
    [[unroll]] for (uint i = 0u; i < FRAG_M; ++i) {
        [[unroll]] for (uint j = 0u; j < FRAG_N; ++j) {
            coopMatStoreNV(accFrag[i * FRAG_N + j], Cs, (wm0 + i * 16u) * BN + wn0 + j * 16u, BN, false);
        }
    }
    barrier();
    [[unroll]] for (uint i = 0u; i < TM; ++i) {
        [[unroll]] for (uint j = 0u; j < TN; ++j) {
            acc[i * TN + j] = Cs[(ty + i * THREADS_M) * BN + tx + j * THREADS_N];
        }
    }
}

#else

void gemmBeginAccumulation() {}

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

void gemmEndAccumulation(uint tx, uint ty) {}

#endif // GEMM_COOPMAT

#endif // FUSIONKIT_GEMM_MMA_GLSL
