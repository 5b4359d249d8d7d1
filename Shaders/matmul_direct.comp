#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.glsl"
// SGEMM without shared memory, for CPU implementations of Vulkan (lavapipe / llvmpipe):
//   C[z](m, n) = alpha * sum_k A[z](m, k) * B[z](k, n)  (+ bias[n]) (+ C[z](m, n))
// Same bindings, push constants, strides and batch decoding as matmul.comp (see there).
//
// Why: on a CPU driver the shared-memory tiles and barriers of matmul.comp cost a coroutine
// switch per barrier and a gather per shared read (a 1 x 512 x 1024 linear took 0.7 s on
// llvmpipe). Here each invocation owns one column n (consecutive columns in consecutive
// lanes) and OB rows in registers. Per k a lane loads its B(k, n) and, for each block of SG
// rows, one A(m0 + b * SG + lane, k); subgroup shuffles with constant indices broadcast
// the A values, each feeding one vector FMA. Needs the subgroup size SG (a divisor of OB)
// and WG a multiple of SG; all lanes stay active (columns past N compute and are dropped).
//
// Grid: x (folded into y when large) = tilesM * tilesN workgroups, z = batch.

#include "epilogue.glsl"   // node epilogue at the store when EPILOGUE is defined

layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;

layout(constant_id = 0) const uint WG = 64;          // columns per workgroup
layout(constant_id = 1) const uint OB = 32;          // rows per invocation
layout(constant_id = 2) const bool HAS_BIAS = false;
layout(constant_id = 3) const uint SG = 8;           // subgroup size; divides OB

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

void main() {
    const int tilesN = (p.N + int(WG) - 1) / int(WG);
    const int tilesM = (p.M + int(OB) - 1) / int(OB);
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= tilesM * tilesN) {
        return;
    }
    const int m0 = (group / tilesN) * int(OB);
    const int n = (group % tilesN) * int(WG) + int(gl_LocalInvocationID.x);
    const bool nValid = n < p.N;

    const int z = int(gl_WorkGroupID.z);
    const int i2 = z % p.d2;
    const int i1 = (z / p.d2) % p.d1;
    const int i0 = z / (p.d2 * p.d1);
    const int aBase = p.aOff + i0 * p.aB0 + i1 * p.aB1 + i2 * p.aB2;
    const int bBase = p.bOff + i0 * p.bB0 + i1 * p.bB1 + i2 * p.bB2;
    const int cBase = p.cOff + i0 * p.cB0 + i1 * p.cB1 + i2 * p.cB2;

    // The A row this lane loads in each block of SG rows (clamped past M; never stored).
    const uint lane = gl_SubgroupInvocationID;
    int aRow[OB / SG];
    [[unroll]] for (uint blk = 0u; blk < OB / SG; ++blk) {
        aRow[blk] = aBase + min(m0 + int(blk * SG + lane), p.M - 1) * p.asM;
    }
    const int bCol = bBase + min(n, p.N - 1) * p.bsN;
    float acc[OB];
    [[unroll]] for (uint i = 0u; i < OB; ++i) {
        acc[i] = 0.0;
    }
    for (int k = 0; k < p.K; ++k) {
        const float bv = b[bCol + k * p.bsK];
        [[unroll]] for (uint blk = 0u; blk < OB / SG; ++blk) {
            const float av = a[aRow[blk] + k * p.asK];
            [[unroll]] for (uint j = 0u; j < SG; ++j) {
                acc[blk * SG + j] = fma(subgroupShuffle(av, j), bv, acc[blk * SG + j]);
            }
        }
    }

    if (!nValid) {
        return;
    }
    [[unroll]] for (uint i = 0u; i < OB; ++i) {
        const int m = m0 + int(i);
        if (m >= p.M) {
            continue;
        }
        float v = p.alpha * acc[i];
        if (HAS_BIAS) {
            v += bias[p.biasOff + n];
        }
        const int idx = cBase + m * p.ldc + n;
        if (p.accumulate != 0) {
            v += c[idx];
        }
#ifdef EPILOGUE
        v = epilogueApply(v, uint(idx), p.epiC, p.epiBC);
#endif
        c[idx] = C_STORE_T(v);
    }
}
