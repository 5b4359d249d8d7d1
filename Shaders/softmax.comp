#version 450
// Softmax over the last dimension: y = exp(x - max) / sum(exp(x - max)), fp32.
// Default: one workgroup per row, shared-memory tree reductions for the max and the sum.
// ROW_PER_THREAD: one thread per row (short rows).
// Specialization constant 0: workgroup size (a power of two).
#include "common.glsl"
#include "light_ops.glsl"


layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint rows;    // rows in this chunk
    uint width;   // row length
    uint xOff;
    uint yOff;
} pc;

#if defined(ROW_PER_THREAD)

void main() {
    uint row = linearInvocationIndex();
    if (row >= pc.rows) {
        return;
    }
    uint xb = pc.xOff + row * pc.width;
    uint yb = pc.yOff + row * pc.width;
    float m = uintBitsToFloat(0xff800000u);   // -inf
    for (uint c = 0u; c < pc.width; ++c) {
        m = max(m, float(x[xb + c]));
    }
    float s = 0.0;
    for (uint c = 0u; c < pc.width; ++c) {
        s += exp(x[xb + c] - m);
    }
    for (uint c = 0u; c < pc.width; ++c) {
        y[yb + c] = STORE_T(exp(x[xb + c] - m) / s);
    }
}

#else

shared float red[WG];

void main() {
    uint row = linearGroupIndex();
    if (row >= pc.rows) {
        return;   // uniform per workgroup
    }
    uint t = gl_LocalInvocationID.x;
    uint xb = pc.xOff + row * pc.width;
    uint yb = pc.yOff + row * pc.width;

    float m = uintBitsToFloat(0xff800000u);   // -inf
    for (uint c = t; c < pc.width; c += WG) {
        m = max(m, float(x[xb + c]));
    }
    red[t] = m;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
            red[t] = max(red[t], red[t + s]);
        }
        barrier();
    }
    m = red[0];
    barrier();

    float sum = 0.0;
    for (uint c = t; c < pc.width; c += WG) {
        sum += exp(x[xb + c] - m);
    }
    red[t] = sum;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
            red[t] += red[t + s];
        }
        barrier();
    }
    sum = red[0];

    for (uint c = t; c < pc.width; c += WG) {
        y[yb + c] = STORE_T(exp(x[xb + c] - m) / sum);
    }
}

#endif
