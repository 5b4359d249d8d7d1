// The block product of attention_tiled.comp: the one place where the plain kernel and its
// cooperative-matrix twin differ (the same split as gemm_mma.glsl for the GEMM kernels).
//
//   attnTileProduct(aBase, kLen): prod = A * B for this thread's TM x TN tile of the
//   BQ x BK block, where A(m, k) = As[aBase + k * AS_STRIDE + m] (k-major: Q^T or P^T) and
//   B(k, n) = Bs[k * BS_STRIDE + n] (K^T or a BK-wide column chunk of V). prod[i * TN + j] is
//   row ty + i * THREADS_M, column tx + j * THREADS_N (strided, as in gemm_tiling.glsl).
//   Must be reached by the whole workgroup (the cooperative build synchronises).
//
// Plain (default): fp32 from shared memory, fma into registers.
//
// ATTN_COOPMAT (GL_NV_cooperative_matrix, fp16 x fp16 -> fp32, 16 x 16 x 16 fragments,
// subgroups of 32): subgroup w multiplies the WM x WN warp tile at ((w / (BK / WN)) * WM,
// (w % (BK / WN)) * WN) of the block, stores its fp32 fragments to Cs (BQ x BK) and each
// thread reads its TM x TN tile back. The system glslang (12.x) knows only the NV extension;
// GL_KHR_cooperative_matrix needs a newer glslang, so the twin is written against the NV one.
// Needs WG = 32 * (BQ / WM) * (BK / WN), kLen % 16 == 0 and fp16 stages (SHARED_T).
#ifndef FUSIONKIT_ATTENTION_MMA_GLSL
#define FUSIONKIT_ATTENTION_MMA_GLSL 1

// The product is a global, not an array parameter: shaderc's optimiser rejects copies of
// arrays sized by specialization constants (OpCopyLogical).
float prod[TM * TN];

#ifdef ATTN_COOPMAT
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require

layout(constant_id = 13) const uint WM = 16;   // warp tile rows
layout(constant_id = 14) const uint WN = 32;   // warp tile columns
const uint FRAG_M = WM / 16u;
const uint FRAG_N = WN / 16u;
const uint WARPS_N = BK / WN;

shared float Cs[BQ * BK];

void attnTileProduct(uint aBase, uint kLen) {
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % THREADS_N, ty = tid / THREADS_N;
    const uint warp = tid / 32u;
    const uint wm0 = (warp / WARPS_N) * WM, wn0 = (warp % WARPS_N) * WN;
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> accFrag[FRAG_M * FRAG_N];
    [[unroll]] for (uint f = 0u; f < FRAG_M * FRAG_N; ++f) {
        accFrag[f] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    }
    for (uint kk = 0u; kk < kLen; kk += 16u) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> aFrag[FRAG_M];
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> bFrag[FRAG_N];
        [[unroll]] for (uint i = 0u; i < FRAG_M; ++i) {
            // A is k-major: a column-major M x K fragment.
            coopMatLoadNV(aFrag[i], As, aBase + kk * AS_STRIDE + wm0 + i * 16u, AS_STRIDE, true);
        }
        [[unroll]] for (uint j = 0u; j < FRAG_N; ++j) {
            coopMatLoadNV(bFrag[j], Bs, kk * BS_STRIDE + wn0 + j * 16u, BS_STRIDE, false);
        }
        [[unroll]] for (uint i = 0u; i < FRAG_M; ++i) {
            [[unroll]] for (uint j = 0u; j < FRAG_N; ++j) {
                accFrag[i * FRAG_N + j] = coopMatMulAddNV(aFrag[i], bFrag[j], accFrag[i * FRAG_N + j]);
            }
        }
    }
    [[unroll]] for (uint i = 0u; i < FRAG_M; ++i) {
        [[unroll]] for (uint j = 0u; j < FRAG_N; ++j) {
            coopMatStoreNV(accFrag[i * FRAG_N + j], Cs, (wm0 + i * 16u) * BK + wn0 + j * 16u, BK, false);
        }
    }
    barrier();
    [[unroll]] for (uint i = 0u; i < TM; ++i) {
        [[unroll]] for (uint j = 0u; j < TN; ++j) {
            prod[i * TN + j] = Cs[(ty + i * THREADS_M) * BK + tx + j * THREADS_N];
        }
    }
}

#else

void attnTileProduct(uint aBase, uint kLen) {
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % THREADS_N, ty = tid / THREADS_N;
    [[unroll]] for (uint i = 0u; i < TM * TN; ++i) {
        prod[i] = 0.0;
    }
    // Unrolled by 4 only: full unrolling makes lavapipe's JIT very slow.
    for (uint k0 = 0u; k0 < kLen; k0 += 4u) {
        [[unroll]] for (uint k = k0; k < k0 + 4u; ++k) {
            float ar[TM];
            float br[TN];
            [[unroll]] for (uint i = 0u; i < TM; ++i) {
                ar[i] = As[aBase + k * AS_STRIDE + ty + i * THREADS_M];
            }
            [[unroll]] for (uint j = 0u; j < TN; ++j) {
                br[j] = Bs[k * BS_STRIDE + tx + j * THREADS_N];
            }
            [[unroll]] for (uint i = 0u; i < TM; ++i) {
                [[unroll]] for (uint j = 0u; j < TN; ++j) {
                    prod[i * TN + j] = fma(ar[i], br[j], prod[i * TN + j]);
                }
            }
        }
    }
}

#endif // ATTN_COOPMAT

#endif // FUSIONKIT_ATTENTION_MMA_GLSL
