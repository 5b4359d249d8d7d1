#version 450
// Data-movement kernels on 32-bit words (f32 or i32), one thread per output element.
//
//   STRIDED_COPY  dst[dstOff + sum c_k * ds_k] = src[srcOff + sum c_k * ss_k] over a box of
//                 up to 6 dims (d0 is implied by count). Covers permute, slice, crop,
//                 concat (one copy per input) and pixel (un)shuffle (as 6-D permutes).
//                 The encoder coalesces dims and splits boxes whose spans do not fit one
//                 binding, so offsets here are relative to the bound spans.
//   PAD           [planes, H, W] -> [planes, Ho, Wo] with (top, left) offsets; reflect
//                 (PyTorch, no edge repeat) or zero. Planes are split into ranges that fit.
//
// Specialization constant 0: workgroup size.
#include "common.glsl"
#include "light_ops.glsl"


// WORD16: 16-bit elements (fp16 storage), set by the encoder from the tensors' dtype.
#ifdef WORD16
#define WORD_T float16_t
#else
#define WORD_T uint
#endif
layout(std430, set = 0, binding = 0) readonly buffer Src { WORD_T src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { WORD_T dst[]; };

#if defined(STRIDED_COPY)

layout(push_constant) uniform Params {
    uint count;                         // elements in the box
    uint d1, d2, d3, d4, d5;            // box dims 1..5 (d0 = count / (d1*...*d5))
    uint ss0, ss1, ss2, ss3, ss4, ss5;  // source strides
    uint ds0, ds1, ds2, ds3, ds4, ds5;  // destination strides
    uint srcOff;
    uint dstOff;
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
    uint t = i;
    uint c5 = t % pc.d5; t /= pc.d5;
    uint c4 = t % pc.d4; t /= pc.d4;
    uint c3 = t % pc.d3; t /= pc.d3;
    uint c2 = t % pc.d2; t /= pc.d2;
    uint c1 = t % pc.d1;
    uint c0 = t / pc.d1;
    uint s = pc.srcOff + c0 * pc.ss0 + c1 * pc.ss1 + c2 * pc.ss2 + c3 * pc.ss3 + c4 * pc.ss4 + c5 * pc.ss5;
    uint d = pc.dstOff + c0 * pc.ds0 + c1 * pc.ds1 + c2 * pc.ds2 + c3 * pc.ds3 + c4 * pc.ds4 + c5 * pc.ds5;
    dst[d] = src[s];
}

#elif defined(PAD)

layout(push_constant) uniform Params {
    uint count;     // output elements in this range of planes
    uint height;    // input H, W
    uint width;
    uint outHeight;
    uint outWidth;
    int top;
    int left;
    uint reflect;   // 1: reflect, 0: zero
    uint srcOff;
    uint dstOff;
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
    uint ox = i % pc.outWidth;
    uint t = i / pc.outWidth;
    uint oy = t % pc.outHeight;
    uint plane = t / pc.outHeight;
    int h = int(pc.height), w = int(pc.width);
    int sy = int(oy) - pc.top;
    int sx = int(ox) - pc.left;
    WORD_T v = WORD_T(0);   // bit pattern of 0.0
    if (pc.reflect != 0u) {
        // Padding is smaller than the size (checked by shape inference): one reflection.
        sy = sy < 0 ? -sy : (sy >= h ? 2 * (h - 1) - sy : sy);
        sx = sx < 0 ? -sx : (sx >= w ? 2 * (w - 1) - sx : sx);
        sy = clamp(sy, 0, h - 1);
        sx = clamp(sx, 0, w - 1);
        v = src[pc.srcOff + (plane * pc.height + uint(sy)) * pc.width + uint(sx)];
    } else if (sy >= 0 && sy < h && sx >= 0 && sx < w) {
        v = src[pc.srcOff + (plane * pc.height + uint(sy)) * pc.width + uint(sx)];
    }
    dst[pc.dstOff + i] = v;
}

#else
#error "layout.comp: define STRIDED_COPY or PAD"
#endif
