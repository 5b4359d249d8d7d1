#version 450
#include "common.glsl"
// Channel attention, pass 1: partial sums of squares of rows of q or k over H*W.
//
// x holds `rows` rows of length HW (row r at xOff + r * HW). The HW range is split into
// `splits` chunks of `chunk` elements; workgroup (row, s) writes
//     out[outOff + s * outSplitStride + row] = sum_{p in chunk s} x[row, p]^2
// (the softmax pass adds the chunks and takes the square root). Tree reduction in shared
// memory. Grid x = rows * splits (folded into y when large).

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 256;

layout(std430, set = 0, binding = 0) readonly buffer XBuf { STORE_T x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer OutBuf { float outb[]; };

layout(push_constant) uniform Params {
    int rows; int HW; int splits; int chunk;
    int xOff; int outOff; int outSplitStride;
} p;

shared float partial[WG];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= p.rows * p.splits) {
        return;   // uniform per workgroup
    }
    const int row = group / p.splits;
    const int s = group % p.splits;
    const int begin = s * p.chunk;
    const int end = min(p.HW, begin + p.chunk);
    const int base = p.xOff + row * p.HW;

    float acc = 0.0;
    for (int i = begin + int(tid); i < end; i += int(WG)) {
        const float v = x[base + i];
        acc = fma(v, v, acc);
    }
    partial[tid] = acc;
    barrier();
    for (uint stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if (tid < stride) {
            partial[tid] += partial[tid + stride];
        }
        barrier();
    }
    if (tid == 0u) {
        outb[p.outOff + s * p.outSplitStride + row] = partial[0];
    }
}
