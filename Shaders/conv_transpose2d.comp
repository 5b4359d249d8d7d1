#version 450
// PyTorch ConvTranspose2d, gathered: one thread per output element of a range of output
// channels of one sample,
//   y[co, oy, ox] = sum over taps (ky, kx) with oy + py - ky = iy * sy and ox + px - kx =
//                   ix * sx (0 <= iy < H, 0 <= ix < W), over the group's input channels ci,
//                   of x[ci, iy, ix] * w[ci, co % og, ky, kx]    (+ bias[co] at the end)
// Only the taps that hit an input pixel are visited (ky = (oy + py) mod sy, + sy, ...), so
// kernel == stride (RFC's and CLIPSeg's 4x4 stride-4 upsamplers) reads one tap per output.
// fp32 accumulation; the encoder bounds taps x input channels under llvmpipe's loop limit.
// Weight [Cin, og, kh, kw]; x is one sample [Cin, H, W]; y the range's planes.
// With EPILOGUE the node's epilogue is applied at the store (epilogue.glsl; its operands
// bound from binding 4, `flatBase` the output flat index of this dispatch's element 0).
// Specialization constant 0: workgroup size.
#include "common.glsl"
#include "light_ops.glsl"
#include "epilogue.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { STORE_T x[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { STORE_T wt[]; };
layout(std430, set = 0, binding = 2) readonly buffer B { STORE_T bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { STORE_T y[]; };

layout(push_constant) uniform Params {
    uint count;       // output elements in this dispatch
    uint coFirst;     // first output channel of the range
    uint cg;          // input channels per group
    uint og;          // output channels per group
    uint height;      // input H, W
    uint width;
    uint outHeight;   // output Ho, Wo
    uint outWidth;
    uint kh;
    uint kw;
    uint sy;
    uint sx;
    uint py;
    uint px;
    uint hasBias;
    uint xOff;
    uint wOff;
    uint bOff;
    uint yOff;
    uint flatBase;
    EPILOGUE_PUSH
} pc;

void main() {
    uint i = linearInvocationIndex();
    if (i >= pc.count) {
        return;
    }
    uint ox = i % pc.outWidth;
    uint t = i / pc.outWidth;
    uint oy = t % pc.outHeight;
    uint co = pc.coFirst + t / pc.outHeight;
    uint g = co / pc.og;
    uint j = co - g * pc.og;
    int ay = int(oy + pc.py), ax = int(ox + pc.px);
    int sy = int(pc.sy), sx = int(pc.sx);
    int h = int(pc.height), w = int(pc.width);
    uint plane = pc.height * pc.width;
    uint taps = pc.kh * pc.kw;
    float acc = 0.0;
    for (int ky = ay % sy; ky < int(pc.kh); ky += sy) {
        int iy = (ay - ky) / sy;
        if (iy < 0) {
            break;   // later taps are further above the input
        }
        if (iy >= h) {
            continue;
        }
        for (int kx = ax % sx; kx < int(pc.kw); kx += sx) {
            int ix = (ax - kx) / sx;
            if (ix < 0) {
                break;
            }
            if (ix >= w) {
                continue;
            }
            uint xi = pc.xOff + g * pc.cg * plane + uint(iy) * pc.width + uint(ix);
            uint wi = pc.wOff + (g * pc.cg * pc.og + j) * taps + uint(ky) * pc.kw + uint(kx);
            uint wStep = pc.og * taps;
            for (uint ci = 0u; ci < pc.cg; ++ci) {
                acc += float(x[xi]) * float(wt[wi]);
                xi += plane;
                wi += wStep;
            }
        }
    }
    if (pc.hasBias != 0u) {
        acc += float(bias[pc.bOff + co]);
    }
#ifdef EPILOGUE
    acc = epilogueApply(acc, pc.flatBase + i, pc.epiC, pc.epiBC);
#endif
    y[pc.yOff + i] = STORE_T(acc);
}
