#version 450
// A node's epilogue (see epilogue.glsl) as a pass of its own, in place on the node's output:
// the fallback when the op's kernel could not apply it at its store (a conv2d split into
// accumulating channel chunks, a GEMM split into blocks, operand shapes the fused index
// cannot express). All steps in one pass; up to 4 operand slots per dispatch (the encoder
// splits longer epilogues into several passes).
//
// One thread per output element; tensors larger than one binding are processed in flat
// ranges (`base` is the global index of the range's first element). Operands are indexed
// through broadcast strides over the output's dims (rank <= 4 after merging, as in
// elementwise.comp's BROADCAST), plus a per-slot element offset (for an operand bound
// range by range: its binding offset minus the range start).
// The encoder defines EPILOGUE and EPI_OPERANDS.
// Bindings: 0 the output (read and written), 1..EPI_OPERANDS the operands.
// Specialization constant 0: workgroup size; 16..35: the steps (epilogue.glsl).
#define EPI_FIRST_BINDING 1
#include "common.glsl"
#include "light_ops.glsl"
#include "epilogue.glsl"

layout(std430, set = 0, binding = 0) buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    ivec4 off;            // per operand slot: element offset added to its index
    uvec4 s0, s1, s2, s3; // per operand slot: element stride along output dim 0..3
    uint count;           // output elements in this range
    uint base;            // global flat index of the range's first element
    uint yOff;            // element offset of the range inside the y binding
    uint d1, d2, d3;      // output dims 1..3 (rank padded to 4 with leading ones)
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
    uint g = pc.base + i;
    uint c3 = g % pc.d3;
    uint t = g / pc.d3;
    uint c2 = t % pc.d2;
    t /= pc.d2;
    uint c1 = t % pc.d1;
    uint c0 = t / pc.d1;
    ivec4 idx = ivec4(pc.s0 * c0 + pc.s1 * c1 + pc.s2 * c2 + pc.s3 * c3) + pc.off;
    y[pc.yOff + i] = STORE_T(epiRun(float(y[pc.yOff + i]), idx));
}
