#version 450
#include "common.glsl"
// Merges the key splits of attention.comp (PARTIAL): for each output element
//   M = max_s m_s,  out = sum_s exp(m_s - M) o_s / sum_s exp(m_s - M) l_s
// where o_s is split s's unnormalised accumulator and (m_s, l_s) its running max and sum.
// A row no split could see (every m_s = -inf) gets 0. One thread per output element.
//
// partial[partOff + ((s * bhCount + bh) * Nq + i) * dv + c], stats[statsOff + (... ) * 2 + {0, 1}],
// out[outOff + (bh * Nq + i) * dv + c].

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

layout(std430, set = 0, binding = 0) readonly buffer PartBuf { STORE_T part[]; };
layout(std430, set = 0, binding = 1) readonly buffer StatsBuf { float stats[]; };
layout(std430, set = 0, binding = 2) writeonly buffer OutBuf { STORE_T outb[]; };

layout(push_constant) uniform Params {
    int bhCount; int Nq; int dv; int splits;
    int partOff; int statsOff; int outOff;
} p;

const float NEG_INF = -1.0 / 0.0;

void main() {
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    const int idx = group * int(WG) + int(gl_LocalInvocationID.x);
    const int total = p.bhCount * p.Nq * p.dv;
    if (idx >= total) {
        return;
    }
    const int row = idx / p.dv;          // bh * Nq + i
    const int c = idx - row * p.dv;
    const int rowsPerSplit = p.bhCount * p.Nq;

    float m = NEG_INF;
    for (int s = 0; s < p.splits; ++s) {
        m = max(m, stats[p.statsOff + (s * rowsPerSplit + row) * 2]);
    }
    float result = 0.0;
    if (m != NEG_INF) {
        float l = 0.0;
        float o = 0.0;
        for (int s = 0; s < p.splits; ++s) {
            const int r = s * rowsPerSplit + row;
            const float ms = stats[p.statsOff + r * 2];
            if (ms == NEG_INF) {
                continue;   // this split saw no visible key
            }
            const float w = exp(ms - m);
            l = fma(w, stats[p.statsOff + r * 2 + 1], l);
            o = fma(w, float(part[p.partOff + r * p.dv + c]), o);
        }
        result = l > 0.0 ? o / l : 0.0;
    }
    outb[p.outOff + idx] = STORE_T(result);
}
