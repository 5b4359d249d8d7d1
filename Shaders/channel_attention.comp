#version 450
#include "common.glsl"
// Channel attention (Restormer "transposed" attention), pass 3 of 4:
// reduce the split partial sums, L2-normalise, apply the temperature and softmax.
//
//   passes: 1. channel_attention_norms.comp: partial sums of squares of q and k rows per HW chunk
//           2. matmul.comp (split-K over HW): partial Gram matrices q_h k_h^T per chunk
//           3. this shader: attn[nh, i, j] = softmax_j(G_ij / (max(|q_i|, eps) max(|k_j|, eps)) * t[h])
//           4. matmul.comp: out_h = attn_h v_h
//
// One workgroup per (nh, i) row (grid x = NH * Ch, folded into y when large); threads stride
// over the Ch columns; max and sum are tree-reduced in shared memory. Logits are parked in
// the output row and re-read by the thread that wrote them, so Ch is not limited.
//
// Layouts (element offsets and strides in push constants):
//   gram[gOff + nh * gsNH + s * gsS + i * Ch + j]                  s < splits
//   sq[nOff + s * nsS + which * nsW + nh * Ch + i]                  which 0 = q, 1 = k
//   attn[aOff + (nh * Ch + i) * Ch + j],  temperature[tOff + nh % heads]

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;   // power of two

layout(std430, set = 0, binding = 0) readonly buffer GramBuf { float gram[]; };
layout(std430, set = 0, binding = 1) readonly buffer SqBuf { float sq[]; };
layout(std430, set = 0, binding = 2) readonly buffer TempBuf { STORE_T temperature[]; };
layout(std430, set = 0, binding = 3) buffer AttnBuf { STORE_T attn[]; };

layout(push_constant) uniform Params {
    int NH; int Ch; int heads; int splits;
    int gOff; int gsNH; int gsS;
    int nOff; int nsS; int nsW;
    int aOff; int tOff;
} p;

shared float red[WG];

const float EPS = 1e-12;

float reduceSum(float v) {
    const uint tid = gl_LocalInvocationID.x;
    barrier();
    red[tid] = v;
    barrier();
    for (uint stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (tid < stride) {
            red[tid] += red[tid + stride];
        }
        barrier();
    }
    return red[0];
}

float reduceMax(float v) {
    const uint tid = gl_LocalInvocationID.x;
    barrier();
    red[tid] = v;
    barrier();
    for (uint stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (tid < stride) {
            red[tid] = max(red[tid], red[tid + stride]);
        }
        barrier();
    }
    return red[0];
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= p.NH * p.Ch) {
        return;   // uniform per workgroup
    }
    const int nh = group / p.Ch;
    const int i = group % p.Ch;
    const int rowBase = nh * p.Ch;

    // |q_i|^2 summed over the chunks.
    float part = 0.0;
    for (int s = int(tid); s < p.splits; s += int(WG)) {
        part += sq[p.nOff + s * p.nsS + rowBase + i];
    }
    const float qn = max(sqrt(reduceSum(part)), EPS);
    const float t = temperature[p.tOff + nh % p.heads];

    const int aRow = p.aOff + (rowBase + i) * p.Ch;
    const int gRow = p.gOff + nh * p.gsNH + i * p.Ch;
    float localMax = -1.0 / 0.0;
    for (int j = int(tid); j < p.Ch; j += int(WG)) {
        float g = 0.0;
        float kk = 0.0;
        for (int s = 0; s < p.splits; ++s) {
            g += gram[gRow + s * p.gsS + j];
            kk += sq[p.nOff + s * p.nsS + p.nsW + rowBase + j];
        }
        const float logit = g / (qn * max(sqrt(kk), EPS)) * t;
        attn[aRow + j] = STORE_T(logit);
        localMax = max(localMax, logit);
    }
    const float m = reduceMax(localMax);

    float localSum = 0.0;
    for (int j = int(tid); j < p.Ch; j += int(WG)) {
        const float e = exp(attn[aRow + j] - m);
        attn[aRow + j] = STORE_T(e);
        localSum += e;
    }
    const float inv = 1.0 / reduceSum(localSum);
    for (int j = int(tid); j < p.Ch; j += int(WG)) {
        attn[aRow + j] = STORE_T(attn[aRow + j] * inv);
    }
}
