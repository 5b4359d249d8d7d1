#version 450
// Normalisation kernels, fp32, biased variance, eps inside the square root. Statistics use
// the corrected two-pass scheme: pass 1 gives a provisional mean m0 = sum(x) / n; pass 2
// accumulates d = x - m0 as e = sum(d) and q = sum(d^2); then the mean is m0 + e/n, the
// variance q/n - (e/n)^2, and outputs use (x - m0) - e/n. The correction e/n recovers the
// rounding error of m0, which otherwise dominates when the variance is small next to the
// mean (for example two channels with close values, where 1/sqrt(eps) amplifies it).
// Select one kernel with a define:
//
//   LN_CHANNELS_PASS  layerNormChannels over C of x [N,C,H,W], one thread per pixel,
//                     coalesced along the pixels. The encoder binds a range of x that
//                     covers channels [c0, c1) and pixels [p0, p0 + pixels) of `items`
//                     consecutive batch items (items > 1 only when the range spans all
//                     channels and pixels):
//                       0  fused: the range holds every channel (mean, variance, output)
//                       1  sum[p] (+)= sum over the chunk's channels of x
//                       2  e[p] (+)= sum of d, m2[p] (+)= sum of d^2, d = x - sum[p]/C
//                       3  y = (d - e/C) / sqrt(m2/C - (e/C)^2 + eps) * w[c] + b[c]
//                     Passes 1-3 cover tensors whose channels do not fit in one binding.
//   LAYER_NORM        layerNorm over the last dim; one workgroup per row (shared-memory
//                     tree reductions), or one thread per row with ROW_PER_THREAD for
//                     short rows.
//   NORM_APPLY        groupNorm / globalNorm output from per-segment (m0, delta, rstd) made by
//                     norm_stats.comp: y = ((x - m0) - delta) * rstd * w[c] + b[c].
//
// Specialization constant 0: workgroup size (a power of two for LAYER_NORM).
#include "common.glsl"
#include "light_ops.glsl"


// ---------------------------------------------------------------------------------------
#if defined(LN_CHANNELS_PASS)

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
#if LN_CHANNELS_PASS == 0 || LN_CHANNELS_PASS == 3
layout(std430, set = 0, binding = 1) readonly buffer W { STORE_T weight[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bs { STORE_T bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { STORE_T y[]; };
#endif
#if LN_CHANNELS_PASS == 1
layout(std430, set = 0, binding = 1) buffer Sum { float sums[]; };
#elif LN_CHANNELS_PASS == 2
layout(std430, set = 0, binding = 1) readonly buffer Sum { float sums[]; };
layout(std430, set = 0, binding = 2) buffer E { float es[]; };
layout(std430, set = 0, binding = 3) buffer M2 { float m2s[]; };
#elif LN_CHANNELS_PASS == 3
layout(std430, set = 0, binding = 4) readonly buffer Sum { float sums[]; };
layout(std430, set = 0, binding = 5) readonly buffer E { float es[]; };
layout(std430, set = 0, binding = 6) readonly buffer M2 { float m2s[]; };
#endif

layout(push_constant) uniform Params {
    uint pixels;      // pixels per item in this chunk
    uint items;       // batch items in this chunk
    uint plane;       // H * W (distance between channels)
    uint itemStride;  // C * H * W (distance between items)
    uint c0;          // first channel of the chunk
    uint c1;          // one past its last channel
    uint channels;    // C
    uint xOff;        // element offsets of the bindings
    uint yOff;
    uint sOff;        // sum / e / m2 scratch (indexed by chunk pixel)
    uint eOff;
    uint mOff;
    uint wOff;
    uint bOff;
    uint flags;       // bit 0: has bias; bit 1: accumulate into scratch
    float eps;
} pc;

void main() {
    uint j = linearInvocationIndex();
    if (j >= pc.pixels * pc.items) {
        return;
    }
    uint item = j / pc.pixels;
    uint base = pc.xOff + item * pc.itemStride + (j - item * pc.pixels);
    uint nc = pc.c1 - pc.c0;
    bool accumulate = (pc.flags & 2u) != 0u;
#if LN_CHANNELS_PASS == 0
    float s = 0.0;
    for (uint c = 0u; c < nc; ++c) {
        s += x[base + c * pc.plane];
    }
    float m0 = s / float(pc.channels);
    float e = 0.0, m2 = 0.0;
    for (uint c = 0u; c < nc; ++c) {
        precise float d = x[base + c * pc.plane] - m0;
        e += d;
        m2 += d * d;
    }
    float delta = e / float(pc.channels);
    float rstd = 1.0 / sqrt(max(m2 / float(pc.channels) - delta * delta, 0.0) + pc.eps);
    uint ybase = pc.yOff + (base - pc.xOff);
    bool hasBias = (pc.flags & 1u) != 0u;
    for (uint c = 0u; c < nc; ++c) {
        precise float d = (x[base + c * pc.plane] - m0) - delta;
        float v = d * rstd * weight[pc.wOff + pc.c0 + c];
        if (hasBias) {
            v += bias[pc.bOff + pc.c0 + c];
        }
        y[ybase + c * pc.plane] = STORE_T(v);
    }
#elif LN_CHANNELS_PASS == 1
    float s = 0.0;
    for (uint c = 0u; c < nc; ++c) {
        s += x[base + c * pc.plane];
    }
    uint si = pc.sOff + j;
    sums[si] = accumulate ? sums[si] + s : s;
#elif LN_CHANNELS_PASS == 2
    float m0 = sums[pc.sOff + j] / float(pc.channels);
    float e = 0.0, m2 = 0.0;
    for (uint c = 0u; c < nc; ++c) {
        precise float d = x[base + c * pc.plane] - m0;
        e += d;
        m2 += d * d;
    }
    uint ei = pc.eOff + j, mi = pc.mOff + j;
    es[ei] = accumulate ? es[ei] + e : e;
    m2s[mi] = accumulate ? m2s[mi] + m2 : m2;
#elif LN_CHANNELS_PASS == 3
    float m0 = sums[pc.sOff + j] / float(pc.channels);
    float delta = es[pc.eOff + j] / float(pc.channels);
    float rstd = 1.0 / sqrt(max(m2s[pc.mOff + j] / float(pc.channels) - delta * delta, 0.0) + pc.eps);
    uint ybase = pc.yOff + (base - pc.xOff);
    bool hasBias = (pc.flags & 1u) != 0u;
    for (uint c = 0u; c < nc; ++c) {
        precise float d = (x[base + c * pc.plane] - m0) - delta;
        float v = d * rstd * weight[pc.wOff + pc.c0 + c];
        if (hasBias) {
            v += bias[pc.bOff + pc.c0 + c];
        }
        y[ybase + c * pc.plane] = STORE_T(v);
    }
#else
#error "unknown LN_CHANNELS_PASS"
#endif
}

// ---------------------------------------------------------------------------------------
#elif defined(LAYER_NORM)

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { STORE_T weight[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bs { STORE_T bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint rows;      // rows in this chunk
    uint width;     // C (last dim)
    uint xOff;
    uint yOff;
    uint wOff;
    uint bOff;
    uint hasBias;
    float eps;
} pc;

#if defined(ROW_PER_THREAD)
void main() {
    uint row = linearInvocationIndex();
    if (row >= pc.rows) {
        return;
    }
    uint xb = pc.xOff + row * pc.width;
    uint yb = pc.yOff + row * pc.width;
    float s = 0.0;
    for (uint c = 0u; c < pc.width; ++c) {
        s += x[xb + c];
    }
    float m0 = s / float(pc.width);
    float e = 0.0, m2 = 0.0;
    for (uint c = 0u; c < pc.width; ++c) {
        precise float d = x[xb + c] - m0;
        e += d;
        m2 += d * d;
    }
    float delta = e / float(pc.width);
    float rstd = 1.0 / sqrt(max(m2 / float(pc.width) - delta * delta, 0.0) + pc.eps);
    for (uint c = 0u; c < pc.width; ++c) {
        precise float d = (x[xb + c] - m0) - delta;
        float v = d * rstd * weight[pc.wOff + c];
        if (pc.hasBias != 0u) {
            v += bias[pc.bOff + c];
        }
        y[yb + c] = STORE_T(v);
    }
}
#else
shared vec2 red[WG];

// Sums of v over the workgroup (pairwise tree in shared memory), both components at once.
vec2 workgroupSum(vec2 v) {
    uint t = gl_LocalInvocationID.x;
    red[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
            red[t] += red[t + s];
        }
        barrier();
    }
    vec2 r = red[0];
    barrier();   // red is reused by the next reduction
    return r;
}

void main() {
    uint row = linearGroupIndex();
    if (row >= pc.rows) {
        return;   // uniform across the workgroup: no barrier is skipped by some threads only
    }
    uint t = gl_LocalInvocationID.x;
    uint xb = pc.xOff + row * pc.width;
    uint yb = pc.yOff + row * pc.width;
    float s = 0.0;
    for (uint c = t; c < pc.width; c += WG) {
        s += x[xb + c];
    }
    float m0 = workgroupSum(vec2(s, 0.0)).x / float(pc.width);
    float e = 0.0, m2 = 0.0;
    for (uint c = t; c < pc.width; c += WG) {
        precise float d = x[xb + c] - m0;
        e += d;
        m2 += d * d;
    }
    vec2 em = workgroupSum(vec2(e, m2));
    float delta = em.x / float(pc.width);
    float rstd = 1.0 / sqrt(max(em.y / float(pc.width) - delta * delta, 0.0) + pc.eps);
    for (uint c = t; c < pc.width; c += WG) {
        precise float d = (x[xb + c] - m0) - delta;
        float v = d * rstd * weight[pc.wOff + c];
        if (pc.hasBias != 0u) {
            v += bias[pc.bOff + c];
        }
        y[yb + c] = STORE_T(v);
    }
}
#endif

// ---------------------------------------------------------------------------------------
#elif defined(NORM_APPLY)

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Stats { float stats[]; };  // (m0, delta, rstd, -) per segment
layout(std430, set = 0, binding = 2) readonly buffer W { STORE_T weight[]; };
layout(std430, set = 0, binding = 3) readonly buffer Bs { STORE_T bias[]; };
layout(std430, set = 0, binding = 4) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint count;     // elements in this range
    uint base;      // global flat index of the range's first element
    uint segment;   // elements per normalised segment (group or sample)
    uint plane;     // elements per channel
    uint channels;  // C
    uint xOff;
    uint yOff;
    uint sOff;
    uint wOff;
    uint bOff;
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
    uint g = pc.base + i;
    uint seg = g / pc.segment;
    uint c = (g / pc.plane) % pc.channels;
    float m0 = stats[pc.sOff + 4u * seg];
    float delta = stats[pc.sOff + 4u * seg + 1u];
    float rstd = stats[pc.sOff + 4u * seg + 2u];
    precise float d = (x[pc.xOff + i] - m0) - delta;
    y[pc.yOff + i] = STORE_T(d * rstd * weight[pc.wOff + c] + bias[pc.bOff + c]);
}

#else
#error "norm.comp: define LN_CHANNELS_PASS, LAYER_NORM or NORM_APPLY"
#endif
