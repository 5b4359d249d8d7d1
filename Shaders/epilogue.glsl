// Node epilogues (FusionCore `Epilogue`): elementwise steps applied to a conv2d / linear /
// matmul result before it is stored. Included textually by the heavy kernels (conv2d,
// conv2d_direct, conv2d_depthwise, matmul, matmul_direct), which apply it at their store
// when the encoder defines EPILOGUE, and by epilogue.comp, the separate in-place pass used
// when a kernel cannot (channel-chunk accumulation, operands it cannot index).
// Includes activations.glsl. Without EPILOGUE this file declares
// nothing, so the kernels compile exactly as before.
//
// Defines (set by EpilogueEncoder.swift):
//   EPILOGUE            the kernel applies an epilogue
//   EPI_OPERANDS n      operand buffers bound (0..4), binding slots EPI_FIRST_BINDING + k
//   EPI_FIRST_BINDING   first operand binding (default 4: after the kernels' x, w, y, bias)
// Specialization constants (ids 16..35; the encoder pads the kernel's own list to 16):
//   16 + 4 s + {0, 1, 2, 3}: step s (0..3): kind, first operand slot, p0, p1
//     kind 0 none, 1 relu, 2 leaky relu (p0 slope), 3 gelu (erf), 4 quick gelu, 5 tanh,
//          6 sigmoid, 7 affine (v * p0 + p1), 8 add, 9 sub, 10 mul, 11 div (y op t),
//          12 sub_from (t - y), 13 div_from (t / y), 14 film (slots k, k + 1 = gamma, beta:
//          (1 + gamma) * y + beta), 15 prelu (y >= 0 ? y : t * y)
//   32 + k: operand slot k's broadcast mask for the fused kernels' index (see epiIndex)
//
// Index of an operand (fused kernels): the output is viewed as [A, B, C] (three groups of
// consecutive dims; the encoder picks a grouping where every operand is, per group, either
// the output's extent or all ones) and each operand as the contiguous sub-tensor over the
// groups in its mask (bit 2 = A, bit 1 = B, bit 0 = C). The kernel passes the output's flat
// index and the sizes C and B * C (two push constants, EPILOGUE_PUSH).
// epilogue.comp computes the operand indices itself (general broadcast strides) and calls
// epiRun.
#ifndef FUSIONKIT_EPILOGUE_GLSL
#define FUSIONKIT_EPILOGUE_GLSL 1

#include "common.glsl"
#include "activations.glsl"

#ifdef EPILOGUE

#ifndef EPI_OPERANDS
#define EPI_OPERANDS 0
#endif
#ifndef EPI_FIRST_BINDING
#define EPI_FIRST_BINDING 4
#endif

// Fields the kernels append to their push-constant block.
#define EPILOGUE_PUSH uint epiC; uint epiBC;

layout(constant_id = 16) const uint EPI_KIND0 = 0u;
layout(constant_id = 17) const uint EPI_SLOT0 = 0u;
layout(constant_id = 18) const float EPI_P0_0 = 0.0;
layout(constant_id = 19) const float EPI_P1_0 = 0.0;
layout(constant_id = 20) const uint EPI_KIND1 = 0u;
layout(constant_id = 21) const uint EPI_SLOT1 = 0u;
layout(constant_id = 22) const float EPI_P0_1 = 0.0;
layout(constant_id = 23) const float EPI_P1_1 = 0.0;
layout(constant_id = 24) const uint EPI_KIND2 = 0u;
layout(constant_id = 25) const uint EPI_SLOT2 = 0u;
layout(constant_id = 26) const float EPI_P0_2 = 0.0;
layout(constant_id = 27) const float EPI_P1_2 = 0.0;
layout(constant_id = 28) const uint EPI_KIND3 = 0u;
layout(constant_id = 29) const uint EPI_SLOT3 = 0u;
layout(constant_id = 30) const float EPI_P0_3 = 0.0;
layout(constant_id = 31) const float EPI_P1_3 = 0.0;
layout(constant_id = 32) const uint EPI_MASK0 = 7u;
layout(constant_id = 33) const uint EPI_MASK1 = 7u;
layout(constant_id = 34) const uint EPI_MASK2 = 7u;
layout(constant_id = 35) const uint EPI_MASK3 = 7u;

#if EPI_OPERANDS > 0
layout(std430, set = 0, binding = EPI_FIRST_BINDING + 0) readonly buffer EpiT0 { STORE_T epiT0[]; };
#endif
#if EPI_OPERANDS > 1
layout(std430, set = 0, binding = EPI_FIRST_BINDING + 1) readonly buffer EpiT1 { STORE_T epiT1[]; };
#endif
#if EPI_OPERANDS > 2
layout(std430, set = 0, binding = EPI_FIRST_BINDING + 2) readonly buffer EpiT2 { STORE_T epiT2[]; };
#endif
#if EPI_OPERANDS > 3
layout(std430, set = 0, binding = EPI_FIRST_BINDING + 3) readonly buffer EpiT3 { STORE_T epiT3[]; };
#endif

// Operand slot `k`'s element at `i[k]`.
float epiLoad(uint k, ivec4 i) {
#if EPI_OPERANDS > 0
    if (k == 0u) { return float(epiT0[i.x]); }
#endif
#if EPI_OPERANDS > 1
    if (k == 1u) { return float(epiT1[i.y]); }
#endif
#if EPI_OPERANDS > 2
    if (k == 2u) { return float(epiT2[i.z]); }
#endif
#if EPI_OPERANDS > 3
    if (k == 3u) { return float(epiT3[i.w]); }
#endif
    return 0.0;
}

// One step; the formulas are those of elementwise.comp's UNARY_OP / BINARY_OP / FILM / PRELU.
float epiStep(uint kind, uint slot, float p0, float p1, float v, ivec4 i) {
    if (kind == 0u) {
        return v;
    } else if (kind == 1u) {
        return v < 0.0 ? 0.0 : v;
    } else if (kind == 2u) {
        return v >= 0.0 ? v : v * p0;
    } else if (kind == 3u) {
        return 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));
    } else if (kind == 4u) {
        return v * sigmoid_approx(1.702 * v);
    } else if (kind == 5u) {
        return tanh_approx(v);
    } else if (kind == 6u) {
        return sigmoid_approx(v);
    } else if (kind == 7u) {
        return v * p0 + p1;
    } else if (kind == 14u) {
        return (1.0 + epiLoad(slot, i)) * v + epiLoad(slot + 1u, i);
    }
    const float t = epiLoad(slot, i);
    if (kind == 8u) {
        return v + t;
    } else if (kind == 9u) {
        return v - t;
    } else if (kind == 10u) {
        return v * t;
    } else if (kind == 11u) {
        return v / t;
    } else if (kind == 12u) {
        return t - v;
    } else if (kind == 13u) {
        return t / v;
    } else if (kind == 15u) {
        return v >= 0.0 ? v : t * v;
    }
    return v;
}

// All steps, operand slot k read at index i[k].
float epiRun(float v, ivec4 i) {
    v = epiStep(EPI_KIND0, EPI_SLOT0, EPI_P0_0, EPI_P1_0, v, i);
    v = epiStep(EPI_KIND1, EPI_SLOT1, EPI_P0_1, EPI_P1_1, v, i);
    v = epiStep(EPI_KIND2, EPI_SLOT2, EPI_P0_2, EPI_P1_2, v, i);
    v = epiStep(EPI_KIND3, EPI_SLOT3, EPI_P0_3, EPI_P1_3, v, i);
    return v;
}

// Index of an operand with broadcast mask `mask` at output flat index `f` (see the header).
int epiIndex(uint mask, uint f, uint sizeC, uint sizeBC) {
    if (mask == 7u) {
        return int(f);
    }
    if (mask == 0u) {
        return 0;
    }
    const uint c = f % sizeC;
    const uint b = (f % sizeBC) / sizeC;
    const uint a = f / sizeBC;
    uint i = (mask & 4u) != 0u ? a : 0u;
    if ((mask & 2u) != 0u) {
        i = i * (sizeBC / sizeC) + b;
    }
    if ((mask & 1u) != 0u) {
        i = i * sizeC + c;
    }
    return int(i);
}

// The epilogue at output flat index `f` (fused kernels).
float epilogueApply(float v, uint f, uint sizeC, uint sizeBC) {
    ivec4 i = ivec4(0);
#if EPI_OPERANDS > 0
    i.x = epiIndex(EPI_MASK0, f, sizeC, sizeBC);
#endif
#if EPI_OPERANDS > 1
    i.y = epiIndex(EPI_MASK1, f, sizeC, sizeBC);
#endif
#if EPI_OPERANDS > 2
    i.z = epiIndex(EPI_MASK2, f, sizeC, sizeBC);
#endif
#if EPI_OPERANDS > 3
    i.w = epiIndex(EPI_MASK3, f, sizeC, sizeBC);
#endif
    return epiRun(v, i);
}

#else
#define EPILOGUE_PUSH
#endif // EPILOGUE

#endif // FUSIONKIT_EPILOGUE_GLSL
