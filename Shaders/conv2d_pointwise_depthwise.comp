#version 450
#extension GL_EXT_control_flow_attributes : enable
#if DIRECT
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
#include "common.glsl"
// pointwiseDepthwise: depthwise(conv1x1(layerNormChannels(x))) in one kernel, NCHW, fp32
// arithmetic (STORE_T storage). The LayerNorm output and the 1x1 output live only in
// shared memory, never in a buffer.
//
// A workgroup owns an 8 x 8 tile of output pixels and a block of MB = 16 depthwise
// channels, with one thread per pixel of its halo tile, the (8 + KH - 1) x (8 + KW - 1)
// input pixels the taps reach. Steps:
//   1. (NORM) each thread's halo pixel's LayerNorm statistics over all C channels, with
//      norm.comp's corrected two-pass scheme (provisional mean m0, then e = sum(x - m0) and
//      q = sum((x - m0)^2): mean m0 + e/C, variance q/C - (e/C)^2);
//   2. each thread accumulates the 1x1 outputs of its halo pixel (the block's MB channels)
//      in registers, over c in order as the unfused conv kernels do: GPUs stage the
//      normalised x and the weights in shared memory in chunks of CK channels; CPU drivers
//      (DIRECT) read both straight from the buffers;
//   3. the 1x1 outputs go to shared memory, zero for halo pixels outside the image (the
//      depthwise conv's zero padding);
//   4. the first 64 threads compute one output pixel of the tile each, every channel of
//      the block.
// Shared memory: CK*HP + MB*CK + MB*HP + MB*KH*KW + 3*HP floats (HP halo pixels), about
// 21 KiB for 5x5 kernels, within lavapipe's 32 KiB.
//
// Defines: KH, KW (depthwise kernel, at most 5x5), NORM (1: x is normalised first), DIRECT
// (1: no shared staging in step 2; SG, the subgroup size, divides MB).
// Grid: x (folded into y when large) = tilesY * tilesX * ceil(mCount / MB), z = batch.
// Weights are bound whole; x and y per dispatch (the encoder splits large outputs into
// channel chunks: mStart is the chunk's first channel, y is bound from it).


const int TILE = 8;
const int MB = 16;
const int CK = 16;
const int HH = TILE + KH - 1;
const int HW = TILE + KW - 1;
const int HP = HH * HW;
// One thread per halo pixel (at least the tile's 64 output pixels), a multiple of 32. The
// 1x1 accumulators are then indexed only inside unrolled loops: Mesa lowers an array
// indexed by a rolled loop's counter to a select ladder over every element.
const int NT = (HP + 31) / 32 * 32;
layout(local_size_x = NT) in;

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
    for (int t = tid; t < MB * KH * KW; t += NT) {
        const int m = m0 + t / (KH * KW);
        taps[t] = m < p.mStart + p.mCount ? float(dw[m * KH * KW + t % (KH * KW)]) : 0.0;
    }

#if NORM
    // 1. Statistics of each halo pixel inside the image.
    for (int hp = tid; hp < HP; hp += NT) {
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

    float acc[MB];
    [[unroll]] for (int mc = 0; mc < MB; ++mc) {
        acc[mc] = 0.0;
    }
    const int hp = tid;
    const int hy = iy0 + hp / HW, hx = ix0 + hp % HW;
    const bool inside = hp < HP && hy >= 0 && hy < p.H && hx >= 0 && hx < p.W;
#if DIRECT
    // 2. (CPU drivers) The 1x1 straight from the buffers, no shared staging and no barrier
    //    in the loop (llvmpipe runs each barrier as a coroutine switch and each shared read
    //    as a gather): each thread normalises its halo pixel's x channel by channel; each
    //    lane loads MB / SG of the block's weights and subgroupShuffle broadcasts them (a
    //    register move), as conv2d_direct.comp does. Every thread runs the loop (shuffles
    //    need every lane); pixels outside the image multiply zeros.
    {
        const int at = inside ? xBase + hy * p.W + hx : 0;
        const uint lane = gl_SubgroupInvocationID;
        int wRow[MB / SG];
        [[unroll]] for (int b = 0; b < MB / SG; ++b) {
            // Rows past the last channel read the last one and are never stored.
            wRow[b] = min(m0 + b * SG + int(lane), p.M - 1) * p.C;
        }
#if NORM
        const float pm = hp < HP ? mean0[hp] : 0.0, pd = hp < HP ? delta[hp] : 0.0, pr = hp < HP ? rstd[hp] : 0.0;
#endif
        for (int c = 0; c < p.C; ++c) {
            float v = 0.0;
            if (inside) {
                v = float(x[at + c * plane]);
#if NORM
                precise float dv = (v - pm) - pd;
                v = dv * pr * float(normW[c]) + float(normB[c]);
#endif
            }
            [[unroll]] for (int b = 0; b < MB / SG; ++b) {
                const float wv = float(pw[wRow[b] + c]);
                [[unroll]] for (int j = 0; j < SG; ++j) {
                    acc[b * SG + j] = fma(subgroupShuffle(wv, uint(j)), v, acc[b * SG + j]);
                }
            }
        }
    }
#else
    // 2. The 1x1 over C in chunks: the normalised x of the halo pixels and the block's
    //    weights go to shared memory; each thread accumulates its halo pixel's MB outputs.
    //    Each sum runs over c in order, as the unfused conv kernels do.
    for (int c0 = 0; c0 < p.C; c0 += CK) {
        for (int e = tid; e < CK * HP; e += NT) {
            const int k = e / HP, ep = e - k * HP;
            const int c = c0 + k;
            const int iy = iy0 + ep / HW, ix = ix0 + ep % HW;
            float v = 0.0;
            if (c < p.C && iy >= 0 && iy < p.H && ix >= 0 && ix < p.W) {
                v = float(x[xBase + c * plane + iy * p.W + ix]);
#if NORM
                precise float dv = (v - mean0[ep]) - delta[ep];
                v = dv * rstd[ep] * float(normW[c]) + float(normB[c]);
#endif
            }
            xs[e] = v;
        }
        for (int e = tid; e < MB * CK; e += NT) {
            const int mc = e / CK, k = e - mc * CK;
            const int m = m0 + mc, c = c0 + k;
            ws[e] = (m < p.mStart + p.mCount && c < p.C) ? float(pw[m * p.C + c]) : 0.0;
        }
        barrier();
        if (hp < HP) {
            const int kEnd = min(CK, p.C - c0);
            for (int k = 0; k < kEnd; ++k) {
                const float xv = xs[k * HP + hp];
                [[unroll]] for (int mc = 0; mc < MB; ++mc) {
                    acc[mc] = fma(ws[mc * CK + k], xv, acc[mc]);
                }
            }
        }
        barrier();
    }
#endif

    // 3. 1x1 outputs to shared memory; zero outside the image (the depthwise padding).
    if (hp < HP) {
        [[unroll]] for (int mc = 0; mc < MB; ++mc) {
            mid[mc * HP + hp] = inside ? acc[mc] : 0.0;
        }
    }
    barrier();

    // 4. Depthwise: one output pixel per thread (the first 64), every channel of the block.
    const int ly = tid / TILE, lx = tid % TILE;
    if (tid >= TILE * TILE) {
        return;
    }
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
