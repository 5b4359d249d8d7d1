#version 450
#include "common.glsl"
// Depthwise conv2d (groups == Cin == Cout), NCHW, fp32.
//
// Each workgroup owns a strip of WG x OPT consecutive output pixels of one channel (row-major
// over Ho x Wo); each thread computes OPT pixels spaced WG apart, so neighbouring threads
// read neighbouring inputs. The channel's kh x kw taps are staged once in shared memory
// (up to MAX_TAPS, otherwise read from the weight buffer). Stride, dilation, zero / reflect
// padding and the optional bias are handled in place.
//
// Grid: x (folded into y when large) = C * tiles, z = batch. The encoder splits tensors
// larger than a binding into channel chunks (offsets point at the chunk).

#include "epilogue.glsl"   // node epilogue at the store when EPILOGUE is defined

layout(local_size_x_id = 0) in;

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint OPT = 2;          // outputs per thread
layout(constant_id = 2) const bool HAS_BIAS = false;
layout(constant_id = 3) const bool REFLECT = false;

const uint MAX_TAPS = 256u;

layout(std430, set = 0, binding = 0) readonly buffer XBuf { STORE_T x[]; };
layout(std430, set = 0, binding = 1) readonly buffer WBuf { STORE_T w[]; };
layout(std430, set = 0, binding = 2) writeonly buffer YBuf { STORE_T y[]; };
layout(std430, set = 0, binding = 3) readonly buffer BiasBuf { STORE_T bias[]; };

layout(push_constant) uniform Params {
    int xOff; int yOff; int wOff; int bOff;
    int C; int H; int W; int Ho; int Wo;
    int xsN; int ysN;
    int kh; int kw; int sy; int sx;
    int dy; int dx; int pt; int pl;
    EPILOGUE_PUSH
} p;

shared float taps[MAX_TAPS];

int reflectIndex(int i, int n) {
    i = i < 0 ? -i : i;
    i = i >= n ? 2 * n - 2 - i : i;
    return i;
}

void main() {
    const int P = p.Ho * p.Wo;
    const int perGroup = int(WG * OPT);
    const int tiles = (P + perGroup - 1) / perGroup;
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= p.C * tiles) {
        return;   // uniform per workgroup
    }
    const int c = group / tiles;
    const int start = (group % tiles) * perGroup;
    const int n = int(gl_WorkGroupID.z);
    const int khw = p.kh * p.kw;
    const bool staged = khw <= int(MAX_TAPS);

    if (staged) {
        for (int t = int(gl_LocalInvocationID.x); t < khw; t += int(WG)) {
            taps[t] = w[p.wOff + c * khw + t];
        }
    }
    barrier();

    const int xBase = p.xOff + n * p.xsN + c * p.H * p.W;
    const int yBase = p.yOff + n * p.ysN + c * P;
    float b = 0.0;
    if (HAS_BIAS) {
        b = bias[p.bOff + c];
    }

    for (uint r = 0u; r < OPT; ++r) {
        const int pix = start + int(gl_LocalInvocationID.x + r * WG);
        if (pix >= P) {
            break;
        }
        const int oy = pix / p.Wo;
        const int ox = pix - oy * p.Wo;
        const int iy0 = oy * p.sy - p.pt;
        const int ix0 = ox * p.sx - p.pl;
        float acc = 0.0;
        for (int ky = 0; ky < p.kh; ++ky) {
            int iy = iy0 + ky * p.dy;
            if (REFLECT) {
                iy = reflectIndex(iy, p.H);
            } else if (iy < 0 || iy >= p.H) {
                continue;
            }
            const int row = xBase + iy * p.W;
            for (int kx = 0; kx < p.kw; ++kx) {
                int ix = ix0 + kx * p.dx;
                if (REFLECT) {
                    ix = reflectIndex(ix, p.W);
                } else if (ix < 0 || ix >= p.W) {
                    continue;
                }
                const int t = ky * p.kw + kx;
                const float wt = staged ? taps[t] : w[p.wOff + c * khw + t];
                acc = fma(wt, float(x[row + ix]), acc);
            }
        }
#ifdef EPILOGUE
        y[yBase + pix] = STORE_T(epilogueApply(acc + b, uint(yBase + pix), p.epiC, p.epiBC));
#else
        y[yBase + pix] = STORE_T(acc + b);
#endif
    }
}
