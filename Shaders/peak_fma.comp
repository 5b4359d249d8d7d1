#version 450
// Peak fp32 throughput probe (`fusion bench --peak`): every invocation runs `loops` rounds
// of 64 fused multiply-adds on 16 independent chains (enough to hide FMA latency on GPUs
// and on llvmpipe's 8-wide vectors), then writes one sum so nothing is dead code. The
// multiplier and addend come from push constants, so the compiler cannot fold the chains.
// FLOP per invocation = loops * 64 * 2.
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) writeonly buffer Out { float result[]; };

layout(push_constant) uniform Params {
    uint loops;
    float multiplier;
    float addend;
} p;

void main() {
    const uint gid = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    const float s = float(gid) * 1e-7;
    vec4 a = vec4(s, s + 1.0, s + 2.0, s + 3.0);
    vec4 b = a + 4.0, c = a + 8.0, d = a + 12.0;
    const vec4 m = vec4(p.multiplier), k = vec4(p.addend);
    for (uint i = 0u; i < p.loops; ++i) {
        a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); d = fma(d, m, k);
        a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); d = fma(d, m, k);
        a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); d = fma(d, m, k);
        a = fma(a, m, k); b = fma(b, m, k); c = fma(c, m, k); d = fma(d, m, k);
    }
    const vec4 t = a + b + c + d;
    result[gid] = t.x + t.y + t.z + t.w;
}
