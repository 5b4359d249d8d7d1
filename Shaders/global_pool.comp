#version 450
// Global max / average pooling: planes [P, HW] -> [P] (one workgroup per plane: strided
// per-thread max / fp32 sum, then a shared-memory tree). POOL_KIND 0 = max, 1 = mean
// (sum / HW). The encoder dispatches ranges of planes that fit one binding and bounds HW
// so no thread runs more than llvmpipe's 65,535 loop iterations.
// Specialization constant 0: workgroup size (power of two).
#include "common.glsl"
#include "light_ops.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint planes;   // planes (workgroups) in this dispatch
    uint hw;       // elements per plane
    uint xOff;
    uint yOff;
} pc;

shared float red[WG];

void main() {
    uint p = linearGroupIndex();
    if (p >= pc.planes) {
        return;   // uniform per workgroup
    }
    uint t = gl_LocalInvocationID.x;
    uint first = pc.xOff + p * pc.hw;
#if POOL_KIND == 0
    float acc = uintBitsToFloat(0xff800000u);   // -inf: threads past the plane's end
    for (uint e = t; e < pc.hw; e += WG) {
        acc = max(acc, float(x[first + e]));
    }
#elif POOL_KIND == 1
    float acc = 0.0;
    for (uint e = t; e < pc.hw; e += WG) {
        acc += float(x[first + e]);
    }
#else
#error "global_pool.comp: POOL_KIND must be 0 or 1"
#endif
    red[t] = acc;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
#if POOL_KIND == 0
            red[t] = max(red[t], red[t + s]);
#else
            red[t] += red[t + s];
#endif
        }
        barrier();
    }
    if (t == 0u) {
#if POOL_KIND == 0
        y[pc.yOff + p] = STORE_T(red[0]);
#else
        y[pc.yOff + p] = STORE_T(red[0] / float(pc.hw));
#endif
    }
}
