#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Second pass of a split-K GEMM or implicit-GEMM conv (gemm_tiled.comp, conv2d_gemm.comp
// with SPLIT_K): adds the splits' fp32 partial sums part[((s * batches + z) * M + m) * N + n]
// for s = 0, 1, ... in that order (deterministic), then alpha, the bias (per column n for a
// GEMM, per row m for a conv: BIAS_ROWS), accumulation onto C, the node's epilogue, and the
// store C[z](m, n) = c[cBase + m * ldc + n] (batch base as in gemm_tiled.comp).
// One thread per output element.

#include "epilogue.glsl"

layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;
layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const bool HAS_BIAS = false;
layout(constant_id = 2) const bool BIAS_ROWS = false;

layout(std430, set = 0, binding = 0) readonly buffer PartBuf { float part[]; };
layout(std430, set = 0, binding = 1) readonly buffer Unused { float unused[]; };
layout(std430, set = 0, binding = 2) buffer CBuf { C_STORE_T c[]; };
layout(std430, set = 0, binding = 3) readonly buffer BiasBuf { STORE_T bias[]; };

layout(push_constant) uniform Params {
    int M; int N; int splits; int batches;
    int cOff; int biasOff; int ldc;
    int d1; int d2;
    int cB0; int cB1; int cB2;
    float alpha;
    int accumulate;
    EPILOGUE_PUSH
} p;

void main() {
    const int idx = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * int(WG) + int(gl_LocalInvocationID.x);
    const int perBatch = p.M * p.N;
    if (idx >= perBatch * p.batches) {
        return;
    }
    const int n = idx % p.N;
    const int m = (idx / p.N) % p.M;
    const int z = idx / perBatch;
    float v = 0.0;
    for (int s = 0; s < p.splits; ++s) {
        v += part[(s * p.batches + z) * perBatch + m * p.N + n];
    }
    v *= p.alpha;
    if (HAS_BIAS) {
        v += float(bias[p.biasOff + (BIAS_ROWS ? m : n)]);
    }
    const int i2 = z % p.d2;
    const int i1 = (z / p.d2) % p.d1;
    const int i0 = z / (p.d2 * p.d1);
    const int ci = p.cOff + i0 * p.cB0 + i1 * p.cB1 + i2 * p.cB2 + m * p.ldc + n;
    if (p.accumulate != 0) {
        v += float(c[ci]);
    }
#ifdef EPILOGUE
    v = epilogueApply(v, uint(ci), p.epiC, p.epiBC);
#endif
    c[ci] = C_STORE_T(v);
}
