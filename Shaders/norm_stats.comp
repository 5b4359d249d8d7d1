#version 450
// Segment statistics for groupNorm, globalNorm and globalStats: the input is split into
// `segments` contiguous segments of `segment` elements (one per (n, group) or per sample),
// each cut into `parts` parts of `partLen` elements. fp32 throughout, with per-thread
// strided sums and pairwise (tree) sums inside every workgroup, and the corrected
// two-pass scheme (provisional mean m0, then sums of d = x - m0 and d^2):
//
//   STATS_PASS 0   partial[2w] = sum of part w                     (one workgroup per part)
//   STATS_PASS 1   partial[2w], partial[2w+1] = sum of d, sum of d^2 over part w
//   STATS_FINAL 0  stats[4s] = m0 = sum(partials of s) / segment    (one workgroup per segment)
//   STATS_FINAL 1  delta = sum(d) / segment, var = sum(d^2) / segment - delta^2:
//                  stats[4s+1] = delta, stats[4s+2] = 1 / sqrt(var + eps); with
//                  STATS_OUTPUT also out[2s] = m0 + delta, out[2s+1] = sqrt(var + eps)
//                  (globalStats' [N, 2] output)
//
// The partial passes may be split into several dispatches over ranges of parts whose
// elements fit one binding (`wgBase`, `elemBase`).
// Specialization constant 0: workgroup size (power of two).
#include "common.glsl"
#include "light_ops.glsl"

shared vec2 red[WG];

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
    return red[0];
}

#if defined(STATS_PASS)

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Partial { float partial[]; };
#if STATS_PASS == 1
layout(std430, set = 0, binding = 2) readonly buffer Stats { float stats[]; };
#endif

layout(push_constant) uniform Params {
    uint groups;    // parts (workgroups) in this dispatch
    uint wgBase;    // global index of the first part
    uint parts;     // parts per segment
    uint segment;   // elements per segment
    uint partLen;   // elements per part (the last part of a segment may be shorter)
    uint elemBase;  // global element index at element xOff of the x binding
    uint xOff;
    uint pOff;
    uint sOff;
} pc;

void main() {
    uint local = linearGroupIndex();
    if (local >= pc.groups) {
        return;   // uniform per workgroup
    }
    uint w = pc.wgBase + local;
    uint seg = w / pc.parts;
    uint part = w - seg * pc.parts;
    uint start = part * pc.partLen;
    uint end = min(start + pc.partLen, pc.segment);
    // Binding index of the part's first element: every part of this dispatch starts at or
    // after elemBase, so the difference never goes negative.
    uint first = seg * pc.segment + start - pc.elemBase + pc.xOff;
#if STATS_PASS == 1
    float m0 = stats[pc.sOff + 4u * seg];
#endif
    vec2 acc = vec2(0.0);
    for (uint e = gl_LocalInvocationID.x; e < end - start; e += WG) {
#if STATS_PASS == 0
        acc.x += x[first + e];
#else
        precise float d = x[first + e] - m0;
        acc += vec2(d, d * d);
#endif
    }
    vec2 total = workgroupSum(acc);
    if (gl_LocalInvocationID.x == 0u) {
        partial[pc.pOff + 2u * w] = total.x;
#if STATS_PASS == 1
        partial[pc.pOff + 2u * w + 1u] = total.y;
#endif
    }
}

#elif defined(STATS_FINAL)

layout(std430, set = 0, binding = 0) readonly buffer Partial { float partial[]; };
layout(std430, set = 0, binding = 1) buffer Stats { float stats[]; };
#if defined(STATS_OUTPUT)
layout(std430, set = 0, binding = 2) writeonly buffer Out { STORE_T outStats[]; };   // the graph value (mean, sd)
#endif

layout(push_constant) uniform Params {
    uint segments;
    uint parts;
    uint segment;
    uint pOff;
    uint sOff;
    uint oOff;
    float eps;
} pc;

void main() {
    uint seg = linearGroupIndex();
    if (seg >= pc.segments) {
        return;
    }
    vec2 acc = vec2(0.0);
    for (uint p = gl_LocalInvocationID.x; p < pc.parts; p += WG) {
        uint w = seg * pc.parts + p;
#if STATS_FINAL == 0
        acc.x += partial[pc.pOff + 2u * w];
#else
        acc += vec2(partial[pc.pOff + 2u * w], partial[pc.pOff + 2u * w + 1u]);
#endif
    }
    vec2 total = workgroupSum(acc);
    if (gl_LocalInvocationID.x == 0u) {
        float n = float(pc.segment);
#if STATS_FINAL == 0
        stats[pc.sOff + 4u * seg] = total.x / n;
#elif STATS_FINAL == 1
        float delta = total.x / n;
        float var = max(total.y / n - delta * delta, 0.0);
        float sd = sqrt(var + pc.eps);
        stats[pc.sOff + 4u * seg + 1u] = delta;
        stats[pc.sOff + 4u * seg + 2u] = 1.0 / sd;
#if defined(STATS_OUTPUT)
        outStats[pc.oOff + 2u * seg] = STORE_T(stats[pc.sOff + 4u * seg] + delta);
        outStats[pc.oOff + 2u * seg + 1u] = STORE_T(sd);
#endif
#else
#error "unknown STATS_FINAL"
#endif
    }
}

#else
#error "norm_stats.comp: define STATS_PASS or STATS_FINAL"
#endif
