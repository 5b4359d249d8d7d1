#version 450
// Embedding lookup: y[r, d] = table[ids[r], d] for ids i32 [rows], table [V, D].
// Ids outside [0, V) read as zeros (never out of range). One thread per output element;
// the encoder splits rows into ranges whose ids and outputs fit one binding.
// Specialization constant 0: workgroup size.
#include "common.glsl"
#include "light_ops.glsl"


layout(std430, set = 0, binding = 0) readonly buffer Ids { int ids[]; };
layout(std430, set = 0, binding = 1) readonly buffer Table { STORE_T table[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint count;   // output elements in this range of rows
    uint dim;     // D
    uint vocab;   // V
    uint idOff;
    uint tOff;
    uint yOff;
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
    uint row = i / pc.dim;
    uint d = i - row * pc.dim;
    int id = ids[pc.idOff + row];
    float v = 0.0;
    if (id >= 0 && uint(id) < pc.vocab) {
        v = table[pc.tOff + uint(id) * pc.dim + d];
    }
    y[pc.yOff + i] = STORE_T(v);
}
