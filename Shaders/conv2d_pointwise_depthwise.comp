#version 450
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
// pointwiseDepthwise: depthwise(conv1x1(layerNormChannels(x))) in one kernel, NCHW, fp32
// arithmetic (STORE_T storage). The LayerNorm output and the 1x1 output live only in
// shared memory, never in a buffer.
//
// A workgroup (64 threads) owns an 8 x 8 tile of output pixels and a block of MB = 16
// depthwise channels. Its halo tile covers the (8 + KH - 1) x (8 + KW - 1) input pixels the
// taps reach. Steps:
//   1. (NORM) per halo pixel, the LayerNorm statistics over all C channels, with norm.comp's
//      corrected two-pass scheme (provisional mean m0, then e = sum(x - m0) and
//      q = sum((x - m0)^2): mean m0 + e/C, variance q/C - (e/C)^2);
//   2. over C in chunks of CK: the normalised x of the halo pixels and the 1x1 weights of the
//      block go to shared memory, and each thread accumulates the 1x1 outputs of its halo
//      pixels (every channel of the block) in registers;
//   3. the 1x1 outputs go to shared memory, zero for halo pixels outside the image (the
//      depthwise conv's zero padding);
//   4. each thread computes one output pixel of the tile for the block's channels.
// Shared memory: CK*HP + MB*CK + MB*HP + MB*KH*KW + 3*HP floats (HP halo pixels), about
// 21 KiB for 5x5 kernels, within lavapipe's 32 KiB.
//
// Defines: KH, KW (depthwise kernel, at most 5x5), NORM (1: x is normalised first).
// Grid: x (folded into y when large) = tilesY * tilesX * ceil(mCount / MB), z = batch.
// Weights are bound whole; x and y per dispatch (the encoder splits large outputs into
// channel chunks: mStart is the chunk's first channel, y is bound from it).

layout(local_size_x = 64) in;

const int TILE = 8;
const int MB = 16;
const int CK = 16;
const int HH = TILE + KH - 1;
const int HW = TILE + KW - 1;
const int HP = HH * HW;
const int SLOTS = (HP + 63) / 64;   // halo pixels per thread

layout(std430, set = 0, binding = 0) readonly buffer XBuf { STORE_T x[]; };
layout(std430, set = 0, binding = 1) readonly buffer PwBuf { STORE_T pw[]; };
layout(std430, set = 0, binding = 2) readonly buffer DwBuf { STORE_T dw[]; };
layout(std430, set = 0, binding = 3) readonly buffer NormWBuf { STORE_T normW[]; };
layout(std430, set = 0, binding = 4) readonly buffer NormBBuf { STORE_T normB[]; };
layout(std430, set = 0, binding = 5) writeonly buffer YBuf { STORE_T y[]; };

layout(push_constant) uniform Params {
    int xOff; int yOff;
    int C; int H; int W;
    int M; int Ho; int Wo;
    int pt; int pl;
    int tilesX; int tilesY;
    int mStart; int mCount;
    int xsN; int ysN;
    float eps;
} p;

shared float xs[CK * HP];      // normalised x chunk, [k][halo pixel]
shared float ws[MB * CK];      // 1x1 weight chunk, [channel][k]
shared float mid[MB * HP];     // 1x1 outputs, [channel][halo pixel]
shared float taps[MB * KH * KW];
shared float mean0[HP];
shared float delta[HP];
shared float rstd[HP];

void main() {
    const int tid = int(gl_LocalInvocationID.x);
    const int blocks = (p.mCount + MB - 1) / MB;
    const int tiles = p.tilesX * p.tilesY;
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= tiles * blocks) {
        return;   // uniform per workgroup
    }
    const int n = int(gl_WorkGroupID.z);
    const int blk = group / tiles;
    const int tile = group - blk * tiles;
    const int ty = tile / p.tilesX;
    const int oy0 = ty * TILE, ox0 = (tile - ty * p.tilesX) * TILE;
    const int iy0 = oy0 - p.pt, ix0 = ox0 - p.pl;
    const int m0 = p.mStart + blk * MB;             // first channel of the block
    const int plane = p.H * p.W;
    const int xBase = p.xOff + n * p.xsN;

    // Depthwise taps of the block.
    for (int t = tid; t < MB * KH * KW; t += 64) {
        const int m = m0 + t / (KH * KW);
        taps[t] = m < p.mStart + p.mCount ? float(dw[m * KH * KW + t % (KH * KW)]) : 0.0;
    }

#if NORM
    // 1. Statistics of each halo pixel inside the image.
    for (int hp = tid; hp < HP; hp += 64) {
        const int iy = iy0 + hp / HW, ix = ix0 + hp % HW;
        float m = 0.0, d = 0.0, r = 0.0;
        if (iy >= 0 && iy < p.H && ix >= 0 && ix < p.W) {
            const int at = xBase + iy * p.W + ix;
            float s = 0.0;
            for (int c = 0; c < p.C; ++c) {
                s += float(x[at + c * plane]);
            }
            m = s / float(p.C);
            float e = 0.0, q = 0.0;
            for (int c = 0; c < p.C; ++c) {
                precise float dv = float(x[at + c * plane]) - m;
                e += dv;
                q += dv * dv;
            }
            d = e / float(p.C);
            r = 1.0 / sqrt(max(q / float(p.C) - d * d, 0.0) + p.eps);
        }
        mean0[hp] = m;
        delta[hp] = d;
        rstd[hp] = r;
    }
    barrier();
#endif

    // 2. The 1x1 over C in chunks. Each thread owns halo pixels tid, tid + 64, ... and all
    //    MB channels of them: per k one x read and MB (uniform) weight reads feed
    //    SLOTS x MB fmas. Each sum runs over c in order, as the unfused conv kernels do.
    float acc[SLOTS * MB];
    [[unroll]] for (int i = 0; i < SLOTS * MB; ++i) {
        acc[i] = 0.0;
    }
    for (int c0 = 0; c0 < p.C; c0 += CK) {
        for (int e = tid; e < CK * HP; e += 64) {
            const int k = e / HP, hp = e - k * HP;
            const int c = c0 + k;
            const int iy = iy0 + hp / HW, ix = ix0 + hp % HW;
            float v = 0.0;
            if (c < p.C && iy >= 0 && iy < p.H && ix >= 0 && ix < p.W) {
                v = float(x[xBase + c * plane + iy * p.W + ix]);
#if NORM
                precise float dv = (v - mean0[hp]) - delta[hp];
                v = dv * rstd[hp] * float(normW[c]) + float(normB[c]);
#endif
            }
            xs[e] = v;
        }
        for (int e = tid; e < MB * CK; e += 64) {
            const int mc = e / CK, k = e - mc * CK;
            const int m = m0 + mc, c = c0 + k;
            ws[e] = (m < p.mStart + p.mCount && c < p.C) ? float(pw[m * p.C + c]) : 0.0;
        }
        barrier();
        const int kEnd = min(CK, p.C - c0);
        [[unroll]] for (int s = 0; s < SLOTS; ++s) {
            const int hp = tid + s * 64;
            if (hp < HP) {
                for (int k = 0; k < kEnd; ++k) {
                    const float xv = xs[k * HP + hp];
                    [[unroll]] for (int mc = 0; mc < MB; ++mc) {
                        acc[s * MB + mc] = fma(ws[mc * CK + k], xv, acc[s * MB + mc]);
                    }
                }
            }
        }
        barrier();
    }

    // 3. 1x1 outputs to shared memory; zero outside the image (the depthwise padding).
    [[unroll]] for (int s = 0; s < SLOTS; ++s) {
        const int hp = tid + s * 64;
        if (hp < HP) {
            const int iy = iy0 + hp / HW, ix = ix0 + hp % HW;
            const bool inside = iy >= 0 && iy < p.H && ix >= 0 && ix < p.W;
            [[unroll]] for (int mc = 0; mc < MB; ++mc) {
                mid[mc * HP + hp] = inside ? acc[s * MB + mc] : 0.0;
            }
        }
    }
    barrier();

    // 4. Depthwise: one output pixel per thread, every channel of the block.
    const int ly = tid / TILE, lx = tid % TILE;
    const int oy = oy0 + ly, ox = ox0 + lx;
    if (oy >= p.Ho || ox >= p.Wo) {
        return;
    }
    const int P = p.Ho * p.Wo;
    const int yBase = p.yOff + n * p.ysN + oy * p.Wo + ox;
    for (int mc = 0; mc < MB; ++mc) {
        const int m = m0 + mc;
        if (m >= p.mStart + p.mCount) {
            break;
        }
        float s = 0.0;
        [[unroll]] for (int ky = 0; ky < KH; ++ky) {
            [[unroll]] for (int kx = 0; kx < KW; ++kx) {
                s = fma(taps[(mc * KH + ky) * KW + kx], mid[mc * HP + (ly + ky) * HW + lx + kx], s);
            }
        }
        y[yBase + (m - p.mStart) * P] = STORE_T(s);
    }
}
