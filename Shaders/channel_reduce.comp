#version 450
// Max / mean over the channels of each pixel: one sample's channels [c0, c0 + C) of [C, HW]
// -> [HW], one thread per pixel, channels in order (fp32). POOL_KIND 0 = max, 1 = mean
// (sum / total channels). When a sample's channels do not fit one binding the encoder
// dispatches chunks of channels: the first writes, later ones combine with what the output
// holds (`accumulate`); a mean chunk adds its own sum / total channels.
// Specialization constant 0: workgroup size.
#include "common.glsl"
#include "light_ops.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint hw;          // pixels (threads)
    uint channels;    // channels in this chunk
    uint total;       // channels of the sample (the mean's divisor)
    uint accumulate;  // 0: first chunk, 1: combine with y
    uint xOff;
    uint yOff;
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.hw) {
        return;
    }
    uint xi = pc.xOff + i;
    float acc = float(x[xi]);
    for (uint c = 1u; c < pc.channels; ++c) {
        xi += pc.hw;
#if POOL_KIND == 0
        acc = max(acc, float(x[xi]));
#elif POOL_KIND == 1
        acc += float(x[xi]);
#else
#error "channel_reduce.comp: POOL_KIND must be 0 or 1"
#endif
    }
#if POOL_KIND == 1
    acc /= float(pc.total);
#endif
    if (pc.accumulate != 0u) {
#if POOL_KIND == 0
        acc = max(acc, float(y[pc.yOff + i]));
#else
        acc += float(y[pc.yOff + i]);
#endif
    }
    y[pc.yOff + i] = STORE_T(acc);
}
