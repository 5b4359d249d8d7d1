#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Tiled SGEMM:  C[z](m, n) = alpha * sum_k A[z](m, k) * B[z](k, n)  (+ bias[n]) (+ C[z](m, n))
//
// Used by matmul, linear (B = W^T through strides), and the last pass of channel attention.
//
// Tiling: a workgroup of WG_X x WG_Y threads owns a TM x TN tile of C (TM = WG_Y * RM,
// TN = WG_X * RN). The K loop stages a TM x TK slice of A and a TK x TN slice of B in shared
// memory; each thread accumulates an RM x RN register tile in fp32 with strided rows and
// columns (row ty + i * WG_Y, column tx + j * WG_X), so shared reads of B are conflict free
// and reads of A are broadcasts. While a tile is being consumed the next one is already
// being fetched into registers (one-stage software pipelining).
//
// Operands are addressed through element strides, so transposes and the linear layer's W^T
// need no copies:  A(m, k) = a[aBase + m * asM + k * asK],  B(k, n) = b[bBase + k * bsK + n * bsN],
// C(m, n) = c[cBase + m * ldc + n]. A_KCONTIG / B_NCONTIG pick the fastest-varying index of
// the cooperative loads so global reads coalesce.
//
// Batches: gl_WorkGroupID.z = ((i0 * d1) + i1) * d2 + i2 and each operand's batch base is
// the dot product of (i0, i1, i2) with its batch strides; a stride of 0 broadcasts. The
// encoder loops over further batch dimensions and splits operands larger than a binding
// (over batches, M, N, or K with accumulation).
// Tiles of one batch are linearised in x (folded into y by the dispatcher when large).

#include "epilogue.glsl"   // node epilogue at the store when EPILOGUE is defined

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z = 1) in;

layout(constant_id = 0) const uint WG_X = 16;      // threads along N
layout(constant_id = 1) const uint WG_Y = 16;      // threads along M
layout(constant_id = 2) const uint RM = 4;         // rows of C per thread
layout(constant_id = 3) const uint RN = 4;         // columns of C per thread
layout(constant_id = 4) const uint TK = 16;        // K slice staged per iteration
layout(constant_id = 5) const bool A_KCONTIG = true;
layout(constant_id = 6) const bool B_NCONTIG = true;
layout(constant_id = 7) const bool HAS_BIAS = false;

const uint NT = WG_X * WG_Y;
const uint TM = WG_Y * RM;
const uint TN = WG_X * RN;
const uint AS_STRIDE = TM + 1u;   // padding breaks bank conflicts on the transposing store
const uint BS_STRIDE = TN + 1u;
// Elements each thread fetches per slice (rounded up; the tail is bounds checked).
const uint A_PER_THREAD = (TM * TK + NT - 1u) / NT;
const uint B_PER_THREAD = (TN * TK + NT - 1u) / NT;

layout(std430, set = 0, binding = 0) readonly buffer ABuf { STORE_T a[]; };
layout(std430, set = 0, binding = 1) readonly buffer BBuf { STORE_T b[]; };
layout(std430, set = 0, binding = 2) buffer CBuf { C_STORE_T c[]; };
layout(std430, set = 0, binding = 3) readonly buffer BiasBuf { STORE_T bias[]; };

layout(push_constant) uniform Params {
    int M; int N; int K;
    int aOff; int bOff; int cOff; int biasOff;
    int asM; int asK; int bsK; int bsN; int ldc;
    int d1; int d2;
    int aB0; int aB1; int aB2;
    int bB0; int bB1; int bB2;
    int cB0; int cB1; int cB2;
    float alpha;
    int accumulate;
    EPILOGUE_PUSH
} p;

shared float As[TK * AS_STRIDE];
shared float Bs[TK * BS_STRIDE];

void main() {
    const uint tx = gl_LocalInvocationID.x;
    const uint ty = gl_LocalInvocationID.y;
    const uint tid = ty * WG_X + tx;

    const int tilesN = (p.N + int(TN) - 1) / int(TN);
    const int tilesM = (p.M + int(TM) - 1) / int(TM);
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= tilesM * tilesN) {
        return;   // uniform for the whole workgroup: no barrier has been reached yet
    }
    const int m0 = (group / tilesN) * int(TM);
    const int n0 = (group % tilesN) * int(TN);

    const int z = int(gl_WorkGroupID.z);
    const int i2 = z % p.d2;
    const int i1 = (z / p.d2) % p.d1;
    const int i0 = z / (p.d2 * p.d1);
    const int aBase = p.aOff + i0 * p.aB0 + i1 * p.aB1 + i2 * p.aB2;
    const int bBase = p.bOff + i0 * p.bB0 + i1 * p.bB1 + i2 * p.bB2;
    const int cBase = p.cOff + i0 * p.cB0 + i1 * p.cB1 + i2 * p.cB2;

    float acc[RM * RN];
    [[unroll]] for (uint i = 0u; i < RM * RN; ++i) {
        acc[i] = 0.0;
    }

    // Register staging of the next slice.
    float aReg[A_PER_THREAD];
    float bReg[B_PER_THREAD];

    // Fetch slice starting at k0 into registers (zero outside the matrices).
    #define FETCH(k0)                                                                      \
    [[unroll]] for (uint r = 0u; r < A_PER_THREAD; ++r) {                                             \
        const uint e = tid + r * NT;                                                       \
        uint mm, kk;                                                                       \
        if (A_KCONTIG) { kk = e % TK; mm = e / TK; } else { mm = e % TM; kk = e / TM; }    \
        const int gm = m0 + int(mm), gk = (k0) + int(kk);                                  \
        aReg[r] = 0.0;                                                                     \
        if (e < TM * TK && gm < p.M && gk < p.K) { aReg[r] = a[aBase + gm * p.asM + gk * p.asK]; } \
    }                                                                                      \
    [[unroll]] for (uint r = 0u; r < B_PER_THREAD; ++r) {                                             \
        const uint e = tid + r * NT;                                                       \
        uint nn, kk;                                                                       \
        if (B_NCONTIG) { nn = e % TN; kk = e / TN; } else { kk = e % TK; nn = e / TK; }    \
        const int gn = n0 + int(nn), gk = (k0) + int(kk);                                  \
        bReg[r] = 0.0;                                                                     \
        if (e < TN * TK && gn < p.N && gk < p.K) { bReg[r] = b[bBase + gk * p.bsK + gn * p.bsN]; } \
    }

    FETCH(0)

    for (int k0 = 0; k0 < p.K; k0 += int(TK)) {
        // Registers -> shared.
        [[unroll]] for (uint r = 0u; r < A_PER_THREAD; ++r) {
            const uint e = tid + r * NT;
            uint mm, kk;
            if (A_KCONTIG) { kk = e % TK; mm = e / TK; } else { mm = e % TM; kk = e / TM; }
            if (e < TM * TK) {
                As[kk * AS_STRIDE + mm] = aReg[r];
            }
        }
        [[unroll]] for (uint r = 0u; r < B_PER_THREAD; ++r) {
            const uint e = tid + r * NT;
            uint nn, kk;
            if (B_NCONTIG) { nn = e % TN; kk = e / TN; } else { kk = e % TK; nn = e / TK; }
            if (e < TN * TK) {
                Bs[kk * BS_STRIDE + nn] = bReg[r];
            }
        }
        barrier();

        // Prefetch the next slice while this one is multiplied.
        const int kn = k0 + int(TK);
        if (kn < p.K) {
            FETCH(kn)
        }

        [[unroll]] for (uint kk = 0u; kk < TK; ++kk) {
            float ar[RM];
            float br[RN];
            [[unroll]] for (uint i = 0u; i < RM; ++i) {
                ar[i] = As[kk * AS_STRIDE + ty + i * WG_Y];
            }
            [[unroll]] for (uint j = 0u; j < RN; ++j) {
                br[j] = Bs[kk * BS_STRIDE + tx + j * WG_X];
            }
            [[unroll]] for (uint i = 0u; i < RM; ++i) {
                [[unroll]] for (uint j = 0u; j < RN; ++j) {
                    acc[i * RN + j] = fma(ar[i], br[j], acc[i * RN + j]);
                }
            }
        }
        barrier();
    }

    [[unroll]] for (uint i = 0u; i < RM; ++i) {
        const int gm = m0 + int(ty + i * WG_Y);
        if (gm >= p.M) {
            continue;
        }
        [[unroll]] for (uint j = 0u; j < RN; ++j) {
            const int gn = n0 + int(tx + j * WG_X);
            if (gn >= p.N) {
                continue;
            }
            float v = p.alpha * acc[i * RN + j];
            if (HAS_BIAS) {
                v += bias[p.biasOff + gn];
            }
            const int idx = cBase + gm * p.ldc + gn;
            if (p.accumulate != 0) {
                v += c[idx];
            }
#ifdef EPILOGUE
            v = epilogueApply(v, uint(idx), p.epiC, p.epiBC);
#endif
            c[idx] = C_STORE_T(v);
        }
    }
}
