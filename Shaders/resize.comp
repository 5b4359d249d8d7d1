#version 450
// Resize [planes, H, W] -> [planes, Ho, Wo] with PyTorch F.interpolate semantics
// (align_corners = False). RESIZE_MODE:
//   0 nearest:  PyTorch's legacy rule src = min(floor(dst * scale), in - 1), scale =
//               float32(in) / out divided on the host (correctly rounded), the product a
//               single correctly rounded float32 multiply (`precise`)
//   1 bilinear: src = max((dst + 0.5) * in / out - 0.5, 0), two taps, the second clamped
//   2 bicubic:  src = (dst + 0.5) * in / out - 0.5, cubic convolution a = -0.75, four taps
//               clamped to the border; interpolates along x per row, then along y
//   3 bilinear, antialias=True (torchvision Resize): per axis a triangle filter of radius
//               support = max(scale, 1) around center = scale (dst + 0.5), taps
//               int(center -+ support + 0.5) clamped to the image, weights normalised to sum
//               1, all in float32 exactly as ATen's _compute_weights_aa (scale and 1/scale
//               divided on the host); rows filtered along x, then combined along y
// Source coordinates are exact: floor and fraction come from the integer fraction
// ((2 dst + 1) in - out) / (2 out) (the encoder checks it fits 31 bits), so large scale
// factors lose no precision to a float `dst * scale` (which would be off by ~1e-4 near
// coordinate 1000).
// One thread per output element; the encoder splits planes into ranges that fit.
// Specialization constant 0: workgroup size.
#include "common.glsl"
#include "light_ops.glsl"


layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint count;     // output elements in this range of planes
    uint height;    // input H, W
    uint width;
    uint outHeight;
    uint outWidth;
    uint xOff;
    uint yOff;
    float scaleY;   // nearest, antialiased bilinear: float32 in / out per axis
    float scaleX;
    float invScaleY; // antialiased bilinear: float32(1 / scale) where scale >= 1, else 1
    float invScaleX;
} pc;

float at(uint plane, int yy, int xx) {
    return x[pc.xOff + (plane * pc.height + uint(yy)) * pc.width + uint(xx)];
}

#if RESIZE_MODE == 2
const float A = -0.75;
float cubic1(float t) { return ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0; }
float cubic2(float t) { return ((A * t - 5.0 * A) * t + 8.0 * A) * t - 4.0 * A; }
vec4 cubicWeights(float t) {
    return vec4(cubic2(t + 1.0), cubic1(t), cubic1(1.0 - t), cubic2(2.0 - t));
}
#endif

#if RESIZE_MODE == 1 || RESIZE_MODE == 2
// (dst + 0.5) * in / out - 0.5 = num / den with num = (2 dst + 1) in - out, den = 2 out:
// returns floor(num / den) and the fraction (num mod den) / den.
void sourceCoordinate(uint dst, uint inSize, uint outSize, out int index, out float frac) {
    int num = int((2u * dst + 1u) * inSize) - int(outSize);
    int den = int(2u * outSize);
    int q = num >= 0 ? num / den : -((den - 1 - num) / den);
    index = q;
    frac = float(num - q * den) / float(den);
}
#endif

#if RESIZE_MODE == 3
// int(v + 0.5) of ATen's double arithmetic for a float v (truncation; callers clamp at 0):
// floor(v) plus one when the exact fraction v - floor(v) is at least 0.5.
int roundHalfUp(float v) {
    precise float f = floor(v);
    return int(f) + (v - f >= 0.5 ? 1 : 0);
}

// Taps [first, first + count) of output index dst along an axis of `inSize` samples.
void antialiasTaps(uint dst, uint inSize, float scale, out int first, out int count, out float center) {
    precise float support = max(scale, 1.0);
    precise float c = scale * (float(dst) + 0.5);
    center = c;
    precise float lo = c - support;
    precise float hi = c + support;
    first = max(roundHalfUp(lo), 0);
    count = clamp(min(roundHalfUp(hi), int(inSize)) - first, 0, int(ceil(support)) * 2 + 1);
}

// Unnormalised triangle weight of tap j: ((j - center) + 0.5) * invScale rounded once (the
// fma is exact where ATen's double product is), then 1 - |x| clamped at 0.
float antialiasWeight(int j, float center, float invScale) {
    precise float d = float(j) - center;
    precise float x = abs(fma(d, invScale, 0.5 * invScale));
    return x < 1.0 ? 1.0 - x : 0.0;
}
#endif

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
    float r;
#if RESIZE_MODE == 0
    precise float fy = float(oy) * pc.scaleY;
    precise float fx = float(ox) * pc.scaleX;
    int sy = min(int(floor(fy)), h - 1);
    int sx = min(int(floor(fx)), w - 1);
    r = at(plane, sy, sx);
#elif RESIZE_MODE == 1
    int y0, x0;
    float ly, lx;
    sourceCoordinate(oy, pc.height, pc.outHeight, y0, ly);
    sourceCoordinate(ox, pc.width, pc.outWidth, x0, lx);
    if (y0 < 0) { y0 = 0; ly = 0.0; }   // src clamped at 0 (PyTorch, linear modes)
    if (x0 < 0) { x0 = 0; lx = 0.0; }
    y0 = min(y0, h - 1);
    x0 = min(x0, w - 1);
    int y1 = y0 + (y0 < h - 1 ? 1 : 0);
    int x1 = x0 + (x0 < w - 1 ? 1 : 0);
    float top = (1.0 - lx) * at(plane, y0, x0) + lx * at(plane, y0, x1);
    float bottom = (1.0 - lx) * at(plane, y1, x0) + lx * at(plane, y1, x1);
    r = (1.0 - ly) * top + ly * bottom;
#elif RESIZE_MODE == 2
    int iy, ix;
    float ty, tx;
    sourceCoordinate(oy, pc.height, pc.outHeight, iy, ty);
    sourceCoordinate(ox, pc.width, pc.outWidth, ix, tx);
    vec4 wy = cubicWeights(ty);
    vec4 wx = cubicWeights(tx);
    int xs0 = clamp(ix - 1, 0, w - 1), xs1 = clamp(ix, 0, w - 1);
    int xs2 = clamp(ix + 1, 0, w - 1), xs3 = clamp(ix + 2, 0, w - 1);
    r = 0.0;
    for (int k = 0; k < 4; ++k) {
        int yy = clamp(iy - 1 + k, 0, h - 1);
        float row = at(plane, yy, xs0) * wx.x + at(plane, yy, xs1) * wx.y
                  + at(plane, yy, xs2) * wx.z + at(plane, yy, xs3) * wx.w;
        r += row * wy[k];
    }
#elif RESIZE_MODE == 3
    int y0, ny, x0, nx;
    float cy, cx;
    antialiasTaps(oy, pc.height, pc.scaleY, y0, ny, cy);
    antialiasTaps(ox, pc.width, pc.scaleX, x0, nx, cx);
    precise float totalY = 0.0, totalX = 0.0;
    for (int k = 0; k < ny; ++k) { totalY += antialiasWeight(y0 + k, cy, pc.invScaleY); }
    for (int k = 0; k < nx; ++k) { totalX += antialiasWeight(x0 + k, cx, pc.invScaleX); }
    precise float acc = 0.0;
    for (int a = 0; a < ny; ++a) {
        precise float row = 0.0;
        for (int b = 0; b < nx; ++b) {
            float wx = totalX != 0.0 ? antialiasWeight(x0 + b, cx, pc.invScaleX) / totalX : 0.0;
            row += at(plane, y0 + a, x0 + b) * wx;
        }
        float wy = totalY != 0.0 ? antialiasWeight(y0 + a, cy, pc.invScaleY) / totalY : 0.0;
        acc += row * wy;
    }
    r = acc;
#else
#error "resize.comp: RESIZE_MODE must be 0, 1, 2 or 3"
#endif
    y[pc.yOff + i] = STORE_T(r);
}
