#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Window attention straight from NCHW (Swin / Uformer style), fp32.
//
// q, k [N,C,H,W], v [N,Cv,H,W], bias [heads, T, T] with T = win * win; output [N,Cv,H,W].
// Windows are win x win pixel blocks, tokens row-major inside a window; head h owns channels
// h*dq.. of q/k and h*dvh.. of v. Per window and head:
//     out_i = sum_j softmax_j(scale * q_i . k_j + bias[h, i, j]) v_j
//
// One workgroup per (batch, head, window): grid x = nCount * hCount * windows (folded into y).
// Each thread owns one query token (several passes when T > WG) with q_i and its output row
// in registers (DQ_MAX / DV_MAX >= the head dims). Keys and values are staged KB tokens at a
// time in shared memory; the softmax is streamed (running max, rescaling the accumulator only
// when the max grows), so T is not limited by shared memory.

layout(local_size_x_id = 0) in;

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint KB = 64;       // key tokens staged per block
layout(constant_id = 2) const uint DQ_MAX = 32;   // >= dq
layout(constant_id = 3) const uint DV_MAX = 32;   // >= dvh

layout(std430, set = 0, binding = 0) readonly buffer QBuf { STORE_T qb[]; };
layout(std430, set = 0, binding = 1) readonly buffer KBuf { STORE_T kb[]; };
layout(std430, set = 0, binding = 2) readonly buffer VBuf { STORE_T vb[]; };
layout(std430, set = 0, binding = 3) writeonly buffer OBuf { STORE_T ob[]; };
layout(std430, set = 0, binding = 4) readonly buffer BiasBuf { STORE_T biasb[]; };

layout(push_constant) uniform Params {
    int H; int W; int win; int dq; int dvh;
    int nCount; int hCount; int hBase;
    int qOff; int kOff; int vOff; int oOff; int biasOff;
    int qsN; int qsH;        // q and k: batch and head strides (elements)
    int vsN; int vsH;        // v and out: batch and head strides
    float scale;
} p;

shared float Ks[KB * DQ_MAX];
shared float Vs[KB * DV_MAX];

const float NEG_INF = -1.0 / 0.0;

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const int winX = p.W / p.win;
    const int windows = (p.H / p.win) * winX;
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= p.nCount * p.hCount * windows) {
        return;   // uniform per workgroup
    }
    const int wi = group % windows;
    const int h = (group / windows) % p.hCount;
    const int n = group / (windows * p.hCount);
    const int oy = (wi / winX) * p.win;
    const int ox = (wi % winX) * p.win;
    const int T = p.win * p.win;
    const int HW = p.H * p.W;
    const int head = p.hBase + h;

    const int qBase = p.qOff + n * p.qsN + h * p.qsH;
    const int kBase = p.kOff + n * p.qsN + h * p.qsH;
    const int vBase = p.vOff + n * p.vsN + h * p.vsH;
    const int oBase = p.oOff + n * p.vsN + h * p.vsH;
    const int biasBase = p.biasOff + head * T * T;

    for (int i0 = 0; i0 < T; i0 += int(WG)) {
        const int i = i0 + int(tid);
        const bool live = i < T;
        const int ipix = live ? (oy + i / p.win) * p.W + ox + i % p.win : 0;

        float q[DQ_MAX];
        float o[DV_MAX];
        [[unroll]] for (uint c = 0u; c < DQ_MAX; ++c) {
            q[c] = 0.0;
            if (live && int(c) < p.dq) {
                q[c] = qb[qBase + int(c) * HW + ipix];
            }
        }
        [[unroll]] for (uint c = 0u; c < DV_MAX; ++c) {
            o[c] = 0.0;
        }
        float m = NEG_INF;
        float l = 0.0;

        for (int j0 = 0; j0 < T; j0 += int(KB)) {
            const int jLen = min(int(KB), T - j0);
            barrier();   // previous block fully consumed
            for (int e = int(tid); e < jLen * p.dq; e += int(WG)) {
                const int c = e / jLen, j = e % jLen;
                const int t = j0 + j;
                const int pix = (oy + t / p.win) * p.W + ox + t % p.win;
                Ks[j * int(DQ_MAX) + c] = kb[kBase + c * HW + pix];
            }
            for (int e = int(tid); e < jLen * p.dvh; e += int(WG)) {
                const int c = e / jLen, j = e % jLen;
                const int t = j0 + j;
                const int pix = (oy + t / p.win) * p.W + ox + t % p.win;
                Vs[j * int(DV_MAX) + c] = vb[vBase + c * HW + pix];
            }
            barrier();
            if (!live) {
                continue;
            }
            for (int j = 0; j < jLen; ++j) {
                float s = 0.0;
                [[unroll]] for (uint c = 0u; c < DQ_MAX; ++c) {
                    if (int(c) < p.dq) {
                        s = fma(q[c], Ks[uint(j) * DQ_MAX + c], s);
                    }
                }
                s = s * p.scale + biasb[biasBase + i * T + j0 + j];
                if (s == NEG_INF) {
                    continue;   // masked key (bias -inf): probability 0
                }
                if (s > m) {
                    // New running max: rescale what has been accumulated so far.
                    const float corr = m == NEG_INF ? 0.0 : exp(m - s);
                    l *= corr;
                    [[unroll]] for (uint c = 0u; c < DV_MAX; ++c) {
                        o[c] *= corr;
                    }
                    m = s;
                }
                const float pj = exp(s - m);
                l += pj;
                [[unroll]] for (uint c = 0u; c < DV_MAX; ++c) {
                    if (int(c) < p.dvh) {
                        o[c] = fma(pj, Vs[uint(j) * DV_MAX + c], o[c]);
                    }
                }
            }
        }

        if (live) {
            const float inv = l > 0.0 ? 1.0 / l : 0.0;
            [[unroll]] for (uint c = 0u; c < DV_MAX; ++c) {
                if (int(c) < p.dvh) {
                    ob[oBase + int(c) * HW + ipix] = STORE_T(o[c] * inv);
                }
            }
        }
    }
}
