#version 450
// Copy-bandwidth probe (`fusion bench --peak`): a grid-stride vec4 copy; bytes moved =
// 2 x the copied size (one read, one write).
layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer Src { vec4 src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { vec4 dst[]; };

layout(push_constant) uniform Params {
    uint count;   // vec4 elements
} p;

void main() {
    const uint threads = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.count; i += threads) {
        dst[i] = src[i];
    }
}
