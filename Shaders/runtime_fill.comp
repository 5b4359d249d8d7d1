#version 450
// Runtime self-test kernel: fill or copy-add 32-bit words.
//   mode 0: dst[i] = value + i * stride
//   mode 1: dst[i] = src[i] + value
// Specialization constant 0 is the workgroup size (local_size_x; 1 when not specialised).
// Define FILL_SCALE to multiply the result (exercises compile-time defines).
#include "common.glsl"

#ifndef FILL_SCALE
#define FILL_SCALE 1u
#endif

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) writeonly buffer Dst { uint dst[]; };
layout(std430, set = 0, binding = 1) readonly buffer Src { uint src[]; };

layout(push_constant) uniform Params {
    uint count;
    uint mode;
    uint value;
    uint stride;
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= pc.count) {
        return;
    }
    uint v = (pc.mode == 0u) ? pc.value + i * pc.stride : src[i] + pc.value;
    dst[i] = v * FILL_SCALE;
}
