// Shared header for FusionKit compute shaders. Include with `#include "common.glsl"`
// (expanded textually by ShaderLibrary, once per shader). Keep this op-agnostic.
#ifndef FUSIONKIT_COMMON_GLSL
#define FUSIONKIT_COMMON_GLSL 1

#endif // FUSIONKIT_COMMON_GLSL
