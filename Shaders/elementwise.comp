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


// ---------------------------------------------------------------------------------------
// Float approximations used by the unary kernels (fp32, branch-free where possible).

// erf(x) with max |error| ~7e-8 absolute (~1.2 ulp) over all floats, fitted (Lawson
// minimax) for this file:
//   |x| < 1:      erf(x) = x + x * P(x^2)        (P ~ erf(x)/x - 1, degree 6)
//   1 <= |x| < 3.925: erf(x) = 1 - exp(-x^2) * Q(|x| - 2.4625)  (Q ~ erfc(x) e^{x^2}, degree 10)
//   |x| >= 3.925: erf(x) = +-1 (erfc < half an ulp of 1)
float erf_approx(float x) {
    float a = abs(x);
    float r;
    if (a < 1.0) {
        float s = a * a;
        float p = 7.647118263e-05;
        p = p * s - 7.942356489e-04;
        p = p * s + 5.179749572e-03;
        p = p * s - 2.684859133e-02;
        p = p * s + 1.128343012e-01;
        p = p * s - 3.761260599e-01;
        p = p * s + 1.283791584e-01;
        r = a + a * p;
    } else if (a < 3.925) {
        float u = a - 2.4625;
        float q = 7.031626782e-06;
        q = q * u + 1.099472590e-05;
        q = q * u + 2.684318210e-05;
        q = q * u - 8.171032509e-05;
        q = q * u + 1.985761318e-04;
        q = q * u - 7.911826750e-04;
        q = q * u + 2.617241525e-03;
        q = q * u - 8.376485577e-03;
        q = q * u + 2.585996459e-02;
        q = q * u - 7.625223524e-02;
        q = q * u + 2.136298501e-01;
        r = 1.0 - exp(-(a * a)) * q;
    } else {
        r = 1.0;
    }
    return x < 0.0 ? -r : r;
}

// tanh without overflow: |x| < 0.7 uses x + x * s * P(s) (max error ~4e-8 relative),
// larger |x| uses 1 - 2 / (exp(2|x|) + 1) with |x| clamped to 9 (tanh(9) rounds to 1).
// Max |error| ~8e-8 absolute. Drivers may implement tanh() as a quotient of exps that
// overflows to NaN for large |x|; this never produces inf or NaN for finite input.
float tanh_approx(float x) {
    float a = abs(x);
    float r;
    if (a < 0.7) {
        float s = a * a;
        float p = -6.783438414e-04;
        p = p * s + 3.044679590e-03;
        p = p * s - 8.644192626e-03;
        p = p * s + 2.181884179e-02;
        p = p * s - 5.396172223e-02;
        p = p * s + 1.333329134e-01;
        p = p * s - 3.333333234e-01;
        r = a + a * (p * s);
    } else {
        float e = exp(2.0 * min(a, 9.0));
        r = 1.0 - 2.0 / (e + 1.0);
    }
    return x < 0.0 ? -r : r;
}

// Logistic sigmoid, accurate for large negative x (no 1 - tiny cancellation, no overflow).
float sigmoid_approx(float x) {
    float e = exp(-abs(x));            // in (0, 1]
    float r = 1.0 / (1.0 + e);         // sigmoid(|x|)
    return x >= 0.0 ? r : e * r;       // sigmoid(-|x|) = e / (1 + e)
}

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
