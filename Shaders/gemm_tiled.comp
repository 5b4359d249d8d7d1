#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Register-tiled strided GEMM (GPU kernel set; tiling in gemm_tiling.glsl):
//   C[z](m, n) = alpha * sum_k A[z](m, k) * B[z](k, n)  (+ bias[n]) (+ C[z](m, n))
// Same operands, strides, batches and push constants as matmul.comp, plus split-K:
// gl_WorkGroupID.z = split * batches + batch. With SPLIT_K defined, split s writes its
// fp32 partial sums (no alpha, bias or epilogue) to part[((s * batches + z) * M + m) * N + n]
// in binding 2, and gemm_splitk_reduce.comp adds the splits in a fixed order and stores C.
//   A(m, k) = a[aBase + m * asM + k * asK],  B(k, n) = b[bBase + k * bsK + n * bsN],
//   C(m, n) = c[cBase + m * ldc + n]; split s covers k in [s * kChunk, (s + 1) * kChunk).

#include "epilogue.glsl"   // node epilogue at the store when EPILOGUE is defined
#include "gemm_tiling.glsl"

layout(constant_id = 10) const bool HAS_BIAS = false;

#ifdef FK_FP16
#define STORE4_T f16vec4
#else
#define STORE4_T vec4
#endif

layout(std430, set = 0, binding = 0) readonly buffer ABuf { STORE_T a[]; };
layout(std430, set = 0, binding = 0) readonly buffer ABuf4 { STORE4_T a4[]; };
layout(std430, set = 0, binding = 1) readonly buffer BBuf { STORE_T b[]; };
layout(std430, set = 0, binding = 1) readonly buffer BBuf4 { STORE4_T b4[]; };
#ifdef SPLIT_K
layout(std430, set = 0, binding = 2) writeonly buffer PartBuf { float part[]; };
#else
layout(std430, set = 0, binding = 2) buffer CBuf { C_STORE_T c[]; };
#endif
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
    int kChunk;
    int batches;
    EPILOGUE_PUSH
} p;

int aBase, bBase;

float loadA(int m, int k) { return float(a[aBase + m * p.asM + k * p.asK]); }
vec4 loadA4(int m, int k) { return vec4(a4[(aBase + m * p.asM + k) >> 2]); }
float loadB(int k, int n) { return float(b[bBase + k * p.bsK + n * p.bsN]); }
vec4 loadB4(int k, int n) { return vec4(b4[(bBase + k * p.bsK + n) >> 2]); }

void main() {
    const int tilesN = (p.N + int(BN) - 1) / int(BN);
    const int tilesM = (p.M + int(BM) - 1) / int(BM);
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= tilesM * tilesN) {
        return;   // uniform for the whole workgroup: no barrier has been reached yet
    }
    const int m0 = (group / tilesN) * int(BM);
    const int n0 = (group % tilesN) * int(BN);

    const int split = int(gl_WorkGroupID.z) / p.batches;
    const int z = int(gl_WorkGroupID.z) % p.batches;
    const int i2 = z % p.d2;
    const int i1 = (z / p.d2) % p.d1;
    const int i0 = z / (p.d2 * p.d1);
    aBase = p.aOff + i0 * p.aB0 + i1 * p.aB1 + i2 * p.aB2;
    bBase = p.bOff + i0 * p.bB0 + i1 * p.bB1 + i2 * p.bB2;
    const int cBase = p.cOff + i0 * p.cB0 + i1 * p.cB1 + i2 * p.cB2;

    const int kBegin = split * p.kChunk;
    const int kEnd = min(p.K, kBegin + p.kChunk);
    gemmMainLoop(m0, n0, kBegin, kEnd, p.M, p.N);

    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % THREADS_N, ty = tid / THREADS_N;
    [[unroll]] for (uint i = 0u; i < TM; ++i) {
        const int gm = m0 + int(ty + i * THREADS_M);
        if (gm >= p.M) {
            continue;
        }
        [[unroll]] for (uint j = 0u; j < TN; ++j) {
            const int gn = n0 + int(tx + j * THREADS_N);
            if (gn >= p.N) {
                continue;
            }
#ifdef SPLIT_K
            part[((split * p.batches + z) * p.M + gm) * p.N + gn] = acc[i * TN + j];
#else
            float v = p.alpha * acc[i * TN + j];
            if (HAS_BIAS) {
                v += float(bias[p.biasOff + gn]);
            }
            const int idx = cBase + gm * p.ldc + gn;
            if (p.accumulate != 0) {
                v += float(c[idx]);
            }
#ifdef EPILOGUE
            v = epilogueApply(v, uint(idx), p.epiC, p.epiBC);
#endif
            c[idx] = C_STORE_T(v);
#endif
        }
    }
}
