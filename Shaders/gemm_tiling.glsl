// Register-tiled GEMM main loop shared by gemm_tiled.comp (strided, batched GEMM) and
// conv2d_gemm.comp (implicit-GEMM convolution), after ggml-vulkan's mul_mm.comp and ncnn's
// Vulkan GEMM.
//
// A workgroup of WG = (BM / TM) x (BN / TN) threads owns a BM x BN block of C. The K loop
// stages a BM x BK slice of A and a BK x BN slice of B in shared memory (fp32, rows padded
// by one element so the transposing stores do not conflict), double-buffered: the next
// slice is fetched from global memory into registers while the current one is multiplied,
// then stored into the other stage, so each slice costs one barrier. Each thread keeps a
// TM x TN fp32 accumulator tile in registers with strided rows and columns (row ty + i * BM / TM,
// column tx + j * BN / TN): shared reads of B are conflict free, reads of A broadcasts.
// Inputs are STORE_T (fp16 under FK_FP16), widened on load; accumulation is fp32.
//
// Global loads are vec4 where the kernel guarantees alignment (A_VEC4: K contiguous, K and
// A's row/batch strides multiples of 4; B_VEC4: N contiguous, likewise).
//
// The kernel provides, after including this file:
//   float loadA(int m, int k)   vec4 loadA4(int m, int k)   (k..k+3)
//   float loadB(int k, int n)   vec4 loadB4(int k, int n)   (n..n+3)
// called only for in-bounds indices. It calls gemmMainLoop(...) from uniform control flow
// and reads the result from `acc` (acc[i * TN + j] is row ty + i * (BM / TM), column
// tx + j * (BN / TN) of the block).
//
// gemm_mma.glsl holds the multiply-add of one staged slice and the accumulator's begin / end;
// they are the only pieces a cooperative-matrix build (GEMM_COOPMAT, GL_NV_cooperative_matrix)
// replaces: stages then hold fp16, each subgroup multiplies 16 x 16 fragments of its WM x WN
// warp tile, and the end stores the fragments through shared memory into `acc`, so the
// kernels' indexing, epilogue and store are the same in both builds (the plain twin).
//
// Specialization constants 0..9 (10..15 are the kernel's own; 16..35 the epilogue's).
#ifndef FUSIONKIT_GEMM_TILING_GLSL
#define FUSIONKIT_GEMM_TILING_GLSL 1

layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;

layout(constant_id = 0) const uint WG = 64;        // threads: (BM / TM) * (BN / TN)
layout(constant_id = 1) const uint BM = 64;        // block rows of C
layout(constant_id = 2) const uint BN = 64;        // block columns of C
layout(constant_id = 3) const uint BK = 16;        // K slice staged per step
layout(constant_id = 4) const uint TM = 8;         // accumulator rows per thread
layout(constant_id = 5) const uint TN = 8;         // accumulator columns per thread
layout(constant_id = 6) const bool A_KCONTIG = true;   // A's k index is the fastest in memory
layout(constant_id = 7) const bool B_NCONTIG = true;   // B's n index is the fastest in memory
layout(constant_id = 8) const bool A_VEC4 = false;
layout(constant_id = 9) const bool B_VEC4 = false;

const uint THREADS_N = BN / TN;
const uint THREADS_M = BM / TM;
#ifdef GEMM_COOPMAT
// Cooperative-matrix build (gemm_mma.glsl): stages hold fp16, rows padded by 8 elements so
// every 16 x 16 fragment starts 16-byte aligned.
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define SHARED_T float16_t
const uint ROW_PAD = 8u;
#else
#define SHARED_T float
const uint ROW_PAD = 1u;
#endif
const uint AS_STRIDE = BM + ROW_PAD;
const uint BS_STRIDE = BN + ROW_PAD;
const uint A_STAGE = BK * AS_STRIDE;
const uint B_STAGE = BK * BS_STRIDE;
// Elements (or vec4s) each thread fetches per slice, rounded up; the tail is bounds checked.
const uint A_LOADS = (BM * BK + WG - 1u) / WG;
const uint B_LOADS = (BK * BN + WG - 1u) / WG;
const uint A_LOADS4 = (BM * BK / 4u + WG - 1u) / WG;
const uint B_LOADS4 = (BK * BN / 4u + WG - 1u) / WG;

shared SHARED_T As[2u * A_STAGE];
shared SHARED_T Bs[2u * B_STAGE];

float acc[TM * TN];
float aReg[A_LOADS];
float bReg[B_LOADS];
vec4 aReg4[A_LOADS4];
vec4 bReg4[B_LOADS4];

float loadA(int m, int k);
vec4 loadA4(int m, int k);
float loadB(int k, int n);
vec4 loadB4(int k, int n);

// Slice [k0, k0 + BK) of the block at (m0, n0) into registers, zero outside [0, M) x [0, kEnd) x [0, N).
void gemmFetch(int m0, int n0, int k0, int kEnd, int M, int N, uint tid) {
    if (A_VEC4) {
        [[unroll]] for (uint r = 0u; r < A_LOADS4; ++r) {
            const uint e = tid + r * WG;
            const uint kk = (e % (BK / 4u)) * 4u, mm = e / (BK / 4u);
            const int gm = m0 + int(mm), gk = k0 + int(kk);
            aReg4[r] = (e < BM * BK / 4u && gm < M && gk < kEnd) ? loadA4(gm, gk) : vec4(0.0);
        }
    } else {
        [[unroll]] for (uint r = 0u; r < A_LOADS; ++r) {
            const uint e = tid + r * WG;
            uint mm, kk;
            if (A_KCONTIG) { kk = e % BK; mm = e / BK; } else { mm = e % BM; kk = e / BM; }
            const int gm = m0 + int(mm), gk = k0 + int(kk);
            aReg[r] = (e < BM * BK && gm < M && gk < kEnd) ? loadA(gm, gk) : 0.0;
        }
    }
    if (B_VEC4) {
        [[unroll]] for (uint r = 0u; r < B_LOADS4; ++r) {
            const uint e = tid + r * WG;
            const uint nn = (e % (BN / 4u)) * 4u, kk = e / (BN / 4u);
            const int gn = n0 + int(nn), gk = k0 + int(kk);
            bReg4[r] = (e < BK * BN / 4u && gn < N && gk < kEnd) ? loadB4(gk, gn) : vec4(0.0);
        }
    } else {
        [[unroll]] for (uint r = 0u; r < B_LOADS; ++r) {
            const uint e = tid + r * WG;
            uint nn, kk;
            if (B_NCONTIG) { nn = e % BN; kk = e / BN; } else { kk = e % BK; nn = e / BK; }
            const int gn = n0 + int(nn), gk = k0 + int(kk);
            bReg[r] = (e < BK * BN && gn < N && gk < kEnd) ? loadB(gk, gn) : 0.0;
        }
    }
}

// Registers -> shared stage `s` (As is k-major: As[k][m], Bs[k][n]).
void gemmStage(uint s, uint tid) {
    const uint aBase = s * A_STAGE, bBase = s * B_STAGE;
    if (A_VEC4) {
        [[unroll]] for (uint r = 0u; r < A_LOADS4; ++r) {
            const uint e = tid + r * WG;
            const uint kk = (e % (BK / 4u)) * 4u, mm = e / (BK / 4u);
            if (e < BM * BK / 4u) {
                As[aBase + (kk + 0u) * AS_STRIDE + mm] = SHARED_T(aReg4[r].x);
                As[aBase + (kk + 1u) * AS_STRIDE + mm] = SHARED_T(aReg4[r].y);
                As[aBase + (kk + 2u) * AS_STRIDE + mm] = SHARED_T(aReg4[r].z);
                As[aBase + (kk + 3u) * AS_STRIDE + mm] = SHARED_T(aReg4[r].w);
            }
        }
    } else {
        [[unroll]] for (uint r = 0u; r < A_LOADS; ++r) {
            const uint e = tid + r * WG;
            uint mm, kk;
            if (A_KCONTIG) { kk = e % BK; mm = e / BK; } else { mm = e % BM; kk = e / BM; }
            if (e < BM * BK) {
                As[aBase + kk * AS_STRIDE + mm] = SHARED_T(aReg[r]);
            }
        }
    }
    if (B_VEC4) {
        [[unroll]] for (uint r = 0u; r < B_LOADS4; ++r) {
            const uint e = tid + r * WG;
            const uint nn = (e % (BN / 4u)) * 4u, kk = e / (BN / 4u);
            if (e < BK * BN / 4u) {
                const uint o = bBase + kk * BS_STRIDE + nn;
                Bs[o] = SHARED_T(bReg4[r].x);
                Bs[o + 1u] = SHARED_T(bReg4[r].y);
                Bs[o + 2u] = SHARED_T(bReg4[r].z);
                Bs[o + 3u] = SHARED_T(bReg4[r].w);
            }
        }
    } else {
        [[unroll]] for (uint r = 0u; r < B_LOADS; ++r) {
            const uint e = tid + r * WG;
            uint nn, kk;
            if (B_NCONTIG) { nn = e % BN; kk = e / BN; } else { kk = e % BK; nn = e / BK; }
            if (e < BK * BN) {
                Bs[bBase + kk * BS_STRIDE + nn] = SHARED_T(bReg[r]);
            }
        }
    }
}

#include "gemm_mma.glsl"

// acc = A(m0.., kBegin..kEnd) * B(kBegin..kEnd, n0..) for this thread's TM x TN outputs.
// Must be reached by the whole workgroup (it synchronises).
void gemmMainLoop(int m0, int n0, int kBegin, int kEnd, int M, int N) {
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % THREADS_N, ty = tid / THREADS_N;
    [[unroll]] for (uint i = 0u; i < TM * TN; ++i) {
        acc[i] = 0.0;
    }
    if (kBegin >= kEnd) {
        return;   // uniform: the same for every thread of the workgroup
    }
    gemmBeginAccumulation();
    gemmFetch(m0, n0, kBegin, kEnd, M, N, tid);
    gemmStage(0u, tid);
    barrier();
    uint s = 0u;
    for (int k0 = kBegin; k0 < kEnd; k0 += int(BK)) {
        const bool more = k0 + int(BK) < kEnd;
        if (more) {
            gemmFetch(m0, n0, k0 + int(BK), kEnd, M, N, tid);
        }
        gemmMultiplyStage(s, tx, ty);
        if (more) {
            gemmStage(s ^ 1u, tid);
        }
        barrier();
        s ^= 1u;
    }
    gemmEndAccumulation(tx, ty);
}

#endif // FUSIONKIT_GEMM_TILING_GLSL
