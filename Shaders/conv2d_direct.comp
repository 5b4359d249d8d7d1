#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "common.glsl"
// conv2d as a direct, register-blocked loop without shared memory: the kernel the engine
// uses on CPU implementations of Vulkan (lavapipe / llvmpipe, SwiftShader).
//
// Why a second kernel: a CPU Vulkan driver runs a workgroup as a loop on one thread, with
// invocations packed into SIMD lanes. The shared-memory tiles of conv2d.comp cost it a
// coroutine switch per barrier and a gather per shared-memory read, so that kernel reaches
// ~2% of llvmpipe's FMA peak. Here each invocation owns one output pixel and OB output
// channels, and loads are shared through the subgroup instead of shared memory: for each
// (input channel, tap) a lane loads its own pixel's input value and, for every SG output
// channels, one weight (lane l the weight of channel l of the block); each weight then
// reaches every lane by a subgroup shuffle with a constant index (a register broadcast on
// llvmpipe) and feeds one vector FMA. One load per SG FMA lanes instead of one per FMA.
// No barriers, no shared memory. Needs the subgroup size SG (a divisor of OB), all lanes
// active, and subgroups that do not straddle workgroups (WG a multiple of SG).
//
// Same bindings, push constants and channel-chunk semantics as conv2d.comp (see there):
// Y[o, pix] = sum over (c, ky, kx) of W[o, c, ky, kx] * X[c, iy, ix] (+ bias[o]), per group,
// adding onto Y when `accumulate` is set.
//
// Grid: x (folded into y when large) = G * tilesM * tilesP workgroups of WG pixels x OB
// channels, z = batch.

#include "epilogue.glsl"   // node epilogue at the store when EPILOGUE is defined

layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;

layout(constant_id = 0) const uint WG = 64;          // pixels per workgroup
layout(constant_id = 1) const uint OB = 16;          // output channels per invocation
layout(constant_id = 2) const bool HAS_BIAS = false;
layout(constant_id = 3) const bool REFLECT = false;
layout(constant_id = 4) const uint SG = 8;           // subgroup size; divides OB
// Kernel size when fixed at pipeline creation (0: from the push constants), so that the
// driver unrolls the tap loops of the common 1x1 and 3x3 convolutions.
layout(constant_id = 5) const int KH = 0;
layout(constant_id = 6) const int KW = 0;

layout(std430, set = 0, binding = 0) readonly buffer XBuf { STORE_T x[]; };
layout(std430, set = 0, binding = 1) readonly buffer WBuf { STORE_T w[]; };
layout(std430, set = 0, binding = 2) buffer YBuf { STORE_T y[]; };
layout(std430, set = 0, binding = 3) readonly buffer BiasBuf { STORE_T bias[]; };

layout(push_constant) uniform Params {
    int xOff; int yOff; int wOff; int bOff;
    int H; int W; int Ho; int Wo;
    int Cc; int Oc; int G; int wRow;
    int xsN; int ysN;
    int kh; int kw; int sy; int sx;
    int dy; int dx; int pt; int pl;
    int accumulate;
    EPILOGUE_PUSH
} p;

int reflectIndex(int i, int n) {
    i = i < 0 ? -i : i;
    i = i >= n ? 2 * n - 2 - i : i;
    return i;
}

void main() {
    const int P = p.Ho * p.Wo;
    const int kh = KH > 0 ? KH : p.kh;
    const int kw = KW > 0 ? KW : p.kw;
    const int khw = kh * kw;
    const int tilesP = (P + int(WG) - 1) / int(WG);
    const int tilesM = (p.Oc + int(OB) - 1) / int(OB);
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= p.G * tilesM * tilesP) {
        return;
    }
    const int g = group / (tilesM * tilesP);
    const int rest = group % (tilesM * tilesP);
    const int m0 = (rest / tilesP) * int(OB);
    const int pix = (rest % tilesP) * int(WG) + int(gl_LocalInvocationID.x);
    const int n = int(gl_WorkGroupID.z);
    const bool pixValid = pix < P;
    const int oy = pixValid ? pix / p.Wo : 0;
    const int ox = pixValid ? pix % p.Wo : 0;
    const int iy0 = oy * p.sy - p.pt;
    const int ix0 = ox * p.sx - p.pl;
    const int HW = p.H * p.W;
    const int xBase = p.xOff + n * p.xsN + g * p.Cc * HW;

    // Weight row of the channel this lane loads in each block of SG channels (clamped in
    // the last tile; those channels are never stored).
    const uint lane = gl_SubgroupInvocationID;
    int wRowStart[OB / SG];
    [[unroll]] for (uint b = 0u; b < OB / SG; ++b) {
        wRowStart[b] = p.wOff + (g * p.Oc + min(m0 + int(b * SG + lane), p.Oc - 1)) * p.wRow;
    }
    float acc[OB];
    [[unroll]] for (uint o = 0u; o < OB; ++o) {
        acc[o] = 0.0;
    }

    for (int c = 0; c < p.Cc; ++c) {
        const int xc = xBase + c * HW;
        const int wc = c * khw;
        for (int ky = 0; ky < kh; ++ky) {
            int iy = iy0 + ky * p.dy;
            if (REFLECT) {
                iy = reflectIndex(iy, p.H);
            }
            const bool rowValid = pixValid && iy >= 0 && iy < p.H;
            for (int kx = 0; kx < kw; ++kx) {
                int ix = ix0 + kx * p.dx;
                if (REFLECT) {
                    ix = reflectIndex(ix, p.W);
                }
                const float xv = (rowValid && ix >= 0 && ix < p.W) ? x[xc + iy * p.W + ix] : 0.0;
                const int wk = wc + ky * kw + kx;
                [[unroll]] for (uint b = 0u; b < OB / SG; ++b) {
                    const float wv = w[wRowStart[b] + wk];
                    [[unroll]] for (uint j = 0u; j < SG; ++j) {
                        acc[b * SG + j] = fma(subgroupShuffle(wv, j), xv, acc[b * SG + j]);
                    }
                }
            }
        }
    }

    if (!pixValid) {
        return;
    }
    const int yBase = p.yOff + n * p.ysN + g * p.Oc * P;
    [[unroll]] for (uint o = 0u; o < OB; ++o) {
        const int oc = m0 + int(o);
        if (oc >= p.Oc) {
            continue;
        }
        float v = acc[o];
        if (HAS_BIAS && p.accumulate == 0) {
            v += bias[p.bOff + g * p.Oc + oc];
        }
        const int idx = yBase + oc * P + pix;
        if (p.accumulate != 0) {
            v += y[idx];
        }
#ifdef EPILOGUE
        v = epilogueApply(v, uint(idx), p.epiC, p.epiBC);
#endif
        y[idx] = STORE_T(v);
    }
}
