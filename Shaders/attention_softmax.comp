#version 450
#include "common.glsl"
// Row softmax of an attention score slab, for the GEMM-based attention of CPU drivers:
//   S[r, j] = softmax_j(S[r, j] + bias[b, h, i, j])   with key j masked when CAUSAL and
//   j > i + causalShift; a row with no visible key (or only -inf scores) becomes all zeros.
// Row r of the slab is query i = q0 + (r % rows) of (batch, head) bh = bhBase + r / rows,
// b = bh / H, h = bh % H. The scores arrive already scaled (the GEMM's alpha). One workgroup
// per row; each thread strides over the keys, and the row max and sum are reduced in shared
// memory (WG a power of two).

layout(local_size_x_id = 0) in;

layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const bool HAS_BIAS = false;
layout(constant_id = 2) const bool CAUSAL = false;

layout(std430, set = 0, binding = 0) buffer SBuf { STORE_T s[]; };
layout(std430, set = 0, binding = 1) readonly buffer BiasBuf { STORE_T biasb[]; };

layout(push_constant) uniform Params {
    int rowCount; int Nk; int rows; int bhBase; int q0; int H;
    int sOff; int biasOff; int sb0; int sb1; int sb2; int sb3;
    int causalShift;
} p;

shared float red[WG];

const float NEG_INF = -1.0 / 0.0;

void main() {
    const int r = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (r >= p.rowCount) {
        return;   // uniform per workgroup
    }
    const uint t = gl_LocalInvocationID.x;
    const int bh = p.bhBase + r / p.rows;
    const int i = p.q0 + r % p.rows;
    const int base = p.sOff + r * p.Nk;
    const int biasBase = p.biasOff + (bh / p.H) * p.sb0 + (bh % p.H) * p.sb1 + i * p.sb2;
    const int lastKey = CAUSAL ? min(p.Nk - 1, i + p.causalShift) : p.Nk - 1;

    float m = NEG_INF;
    for (int j = int(t); j <= lastKey; j += int(WG)) {
        float v = s[base + j];
        if (HAS_BIAS) {
            v += biasb[biasBase + j * p.sb3];
        }
        s[base + j] = STORE_T(v);
        m = max(m, v);
    }
    red[t] = m;
    barrier();
    for (uint w = WG / 2u; w > 0u; w >>= 1u) {
        if (t < w) {
            red[t] = max(red[t], red[t + w]);
        }
        barrier();
    }
    m = red[0];
    barrier();
    // Every visible score -inf (a masking bias): the row has no key, like a causal row
    // without one, and must come out as zeros rather than NaN.
    const bool empty = m == NEG_INF;

    float sum = 0.0;
    for (int j = int(t); j <= lastKey; j += int(WG)) {
        const float e = empty ? 0.0 : exp(s[base + j] - m);
        s[base + j] = STORE_T(e);
        sum += e;
    }
    red[t] = sum;
    barrier();
    for (uint w = WG / 2u; w > 0u; w >>= 1u) {
        if (t < w) {
            red[t] += red[t + w];
        }
        barrier();
    }
    const float inv = !empty && lastKey >= 0 && red[0] > 0.0 ? 1.0 / red[0] : 0.0;
    for (int j = int(t); j < p.Nk; j += int(WG)) {
        s[base + j] = STORE_T(j <= lastKey ? s[base + j] * inv : 0.0);
    }
}
