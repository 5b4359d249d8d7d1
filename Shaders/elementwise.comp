#version 450
// Elementwise kernels: unary activations, binary ops with NumPy broadcasting, FiLM and
// PReLU. One thread per output element; the encoder splits tensors larger than one
// storage-buffer binding into flat ranges, so every index below is relative to the
// current range (`base` is the global index of its first element).
//
// Select the kernel with one define:
//   UNARY_OP  0 relu, 1 leaky relu (p0 = slope), 2 gelu (exact erf), 3 quick gelu,
//             4 tanh, 5 sigmoid, 6 affine (x * p0 + p1)
//   BINARY_OP 0 add, 1 sub, 2 mul, 3 div; BROADCAST 1 indexes operands through
//             broadcast strides (rank <= 4), 0 treats them as same-shape flat ranges
//   FILM      (1 + gamma[n,c]) * x + beta[n,c]
//   PRELU     x >= 0 ? x : slope[c] * x
// Specialization constant 0: workgroup size.
#include "common.glsl"
#include "light_ops.glsl"
#include "activations.glsl"


// ---------------------------------------------------------------------------------------
#if defined(UNARY_OP)

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint count;   // elements in this range
    uint xOff;    // element offset of the range inside the x binding
    uint yOff;
    float p0;     // leaky slope / affine scale
    float p1;     // affine shift
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
    float v = x[pc.xOff + i];
    float r;
#if UNARY_OP == 0
    r = v < 0.0 ? 0.0 : v;   // NaN propagates (the comparison is false)
#elif UNARY_OP == 1
    r = v >= 0.0 ? v : v * pc.p0;
#elif UNARY_OP == 2
    r = 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));
#elif UNARY_OP == 3
    r = v * sigmoid_approx(1.702 * v);
#elif UNARY_OP == 4
    r = tanh_approx(v);
#elif UNARY_OP == 5
    r = sigmoid_approx(v);
#elif UNARY_OP == 6
    r = v * pc.p0 + pc.p1;
#else
#error "unknown UNARY_OP"
#endif
    y[pc.yOff + i] = STORE_T(r);
}

// ---------------------------------------------------------------------------------------
#elif defined(BINARY_OP)

layout(std430, set = 0, binding = 0) readonly buffer A { STORE_T a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { STORE_T b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint count;   // output elements in this range
    uint base;    // global flat index of the range's first output element
    int aOff;     // added to the operand's flat index (binding offset minus range start)
    int bOff;
    uint yOff;
    uint d1, d2, d3;          // output dims 1..3 (rank padded to 4 with leading ones)
    uint as0, as1, as2, as3;  // a strides per output dim (0 where broadcast)
    uint bs0, bs1, bs2, bs3;
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
#if BROADCAST
    uint g = pc.base + i;
    uint c3 = g % pc.d3;
    uint t = g / pc.d3;
    uint c2 = t % pc.d2;
    t /= pc.d2;
    uint c1 = t % pc.d1;
    uint c0 = t / pc.d1;
    int ia = int(c0 * pc.as0 + c1 * pc.as1 + c2 * pc.as2 + c3 * pc.as3) + pc.aOff;
    int ib = int(c0 * pc.bs0 + c1 * pc.bs1 + c2 * pc.bs2 + c3 * pc.bs3) + pc.bOff;
#else
    int ia = int(i) + pc.aOff;
    int ib = int(i) + pc.bOff;
#endif
    float va = a[ia];
    float vb = b[ib];
    float r;
#if BINARY_OP == 0
    r = va + vb;
#elif BINARY_OP == 1
    r = va - vb;
#elif BINARY_OP == 2
    r = va * vb;
#elif BINARY_OP == 3
    r = va / vb;
#else
#error "unknown BINARY_OP"
#endif
    y[pc.yOff + i] = STORE_T(r);
}

// ---------------------------------------------------------------------------------------
#elif defined(FILM)

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) readonly buffer G { STORE_T gamma[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bt { STORE_T beta[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint count;   // elements in this range
    uint base;    // global flat index of the range's first element
    uint plane;   // H * W
    uint xOff;
    uint gOff;
    uint bOff;
    uint yOff;
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
    uint nc = (pc.base + i) / pc.plane;
    y[pc.yOff + i] = STORE_T((1.0 + gamma[pc.gOff + nc]) * x[pc.xOff + i] + beta[pc.bOff + nc]);
}

// ---------------------------------------------------------------------------------------
#elif defined(PRELU)

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) readonly buffer S { STORE_T slope[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint count;
    uint base;
    uint inner;     // elements per channel (product of dims after C)
    uint channels;  // slope length (1 for a shared slope)
    uint xOff;
    uint sOff;
    uint yOff;
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
    uint c = ((pc.base + i) / pc.inner) % pc.channels;
    float v = x[pc.xOff + i];
    y[pc.yOff + i] = STORE_T(v >= 0.0 ? v : slope[pc.sOff + c] * v);
}

#else
#error "elementwise.comp: define UNARY_OP, BINARY_OP, FILM or PRELU"
#endif
