// Shared header for FusionKit compute shaders. Include with `#include "common.glsl"`
// (expanded textually by ShaderLibrary, once per shader). Keep this op-agnostic.
#ifndef FUSIONKIT_COMMON_GLSL
#define FUSIONKIT_COMMON_GLSL 1

// Storage precision of activation and weight buffers. EncodeContext.dispatch defines
// FK_FP16 for every shader when the context stores activations in fp16
// (FusionOptions.Vulkan.precision); it is part of the SPIR-V and pipeline cache keys.
//   STORE_T  element type of activation / weight buffers (float16_t or float).
//   Reads widen to fp32 implicitly (float16_t -> float); all arithmetic, accumulation and
//   statistics stay fp32. Writes narrow explicitly: `y[i] = STORE_T(v)`.
// Statistics and partial-sum scratch buffers stay `float` in both variants.
#ifdef FK_FP16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define STORE_T float16_t
#else
#define STORE_T float
#endif

// GEMM output element type: STORE_T, except fp32 where the encoder keeps an fp32 scratch
// result (partial Gram matrices of channel attention) and defines C_FP32.
#if defined(FK_FP16) && !defined(C_FP32)
#define C_STORE_T float16_t
#else
#define C_STORE_T float
#endif

#endif // FUSIONKIT_COMMON_GLSL
