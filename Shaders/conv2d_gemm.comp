#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// conv2d (groups = 1, NCHW) as an implicit GEMM on the register-tiled main loop of
// gemm_tiling.glsl (GPU kernel set):
//   Y[n](o, pix) = sum_k W(o, k) * X_col[n](k, pix) (+ bias[o])
// with k = (c, ky, kx) over K = C * kh * kw and pix = (oy, ox) over P = Ho * Wo. X_col is
// never stored: the B-slice loader gathers X with stride, dilation and zero / reflect
// padding on the fly (POINTWISE: a 1x1, stride 1, unpadded conv reads X_col = X directly,
// vec4 where aligned). A = the weights [O, K], row-major.
// gl_WorkGroupID.z = split * batches + n; split s covers k in [s * kChunk, (s + 1) * kChunk).
// With SPLIT_K defined, split s writes fp32 partials to part[((s * batches + n) * O + o) * P + pix]
// and gemm_splitk_reduce.comp finishes (bias per row, epilogue, store).

#include "epilogue.glsl"   // node epilogue at the store when EPILOGUE is defined
#include "gemm_tiling.glsl"

layout(constant_id = 10) const bool HAS_BIAS = false;
layout(constant_id = 11) const bool REFLECT = false;
layout(constant_id = 12) const bool POINTWISE = false;

#ifdef FK_FP16
#define STORE4_T f16vec4
#else
#define STORE4_T vec4
#endif

layout(std430, set = 0, binding = 0) readonly buffer XBuf { STORE_T x[]; };
layout(std430, set = 0, binding = 0) readonly buffer XBuf4 { STORE4_T x4[]; };
layout(std430, set = 0, binding = 1) readonly buffer WBuf { STORE_T w[]; };
layout(std430, set = 0, binding = 1) readonly buffer WBuf4 { STORE4_T w4[]; };
#ifdef SPLIT_K
layout(std430, set = 0, binding = 2) writeonly buffer PartBuf { float part[]; };
#else
layout(std430, set = 0, binding = 2) buffer YBuf { STORE_T y[]; };
#endif
layout(std430, set = 0, binding = 3) readonly buffer BiasBuf { STORE_T bias[]; };

layout(push_constant) uniform Params {
    int xOff; int yOff; int wOff; int bOff;
    int H; int W; int Ho; int Wo;
    int C; int O; int K;
    int xsN; int ysN;
    int kh; int kw; int sy; int sx;
    int dy; int dx; int pt; int pl;
    int kChunk; int batches;
    EPILOGUE_PUSH
} p;

int xBase;
// The B loader's decode of the last pixel it saw: every variant has WG % BN == 0, so a thread
// gathers one fixed pixel of its block for every slice and decodes it once.
int memoPix = -1, memoIy0 = 0, memoIx0 = 0;
float invKhw, invKw;

// a / b for 0 <= a < 2^22 and b >= 1 without an integer division: a float estimate (off by at
// most one) and one correction step.
int quotient(int a, int b, float invB) {
    int q = int(float(a) * invB);
    q -= (q * b > a) ? 1 : 0;
    q += ((q + 1) * b <= a) ? 1 : 0;
    return q;
}

int reflectIndex(int i, int n) {
    // Single reflection without edge repeat; padding < n is guaranteed by shape inference.
    i = i < 0 ? -i : i;
    i = i >= n ? 2 * n - 2 - i : i;
    return i;
}

float loadA(int m, int k) { return float(w[p.wOff + m * p.K + k]); }
vec4 loadA4(int m, int k) { return vec4(w4[(p.wOff + m * p.K + k) >> 2]); }

float loadB(int k, int pix) {
    if (POINTWISE) {
        return float(x[xBase + k * p.H * p.W + pix]);
    }
    if (pix != memoPix) {
        memoPix = pix;
        const int oy = pix / p.Wo;
        memoIy0 = oy * p.sy - p.pt;
        memoIx0 = (pix - oy * p.Wo) * p.sx - p.pl;
    }
    const int khw = p.kh * p.kw;
    const int c = quotient(k, khw, invKhw);
    const int kr = k - c * khw;
    const int ky = quotient(kr, p.kw, invKw);
    const int kx = kr - ky * p.kw;
    int iy = memoIy0 + ky * p.dy;
    int ix = memoIx0 + kx * p.dx;
    if (REFLECT) {
        iy = reflectIndex(iy, p.H);
        ix = reflectIndex(ix, p.W);
    }
    if (iy < 0 || iy >= p.H || ix < 0 || ix >= p.W) {
        return 0.0;
    }
    return float(x[xBase + (c * p.H + iy) * p.W + ix]);
}

vec4 loadB4(int k, int pix) { return vec4(x4[(xBase + k * p.H * p.W + pix) >> 2]); }

void main() {
    const int P = p.Ho * p.Wo;
    const int tilesN = (P + int(BN) - 1) / int(BN);
    const int tilesM = (p.O + int(BM) - 1) / int(BM);
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= tilesM * tilesN) {
        return;   // uniform for the whole workgroup
    }
    const int m0 = (group / tilesN) * int(BM);
    const int n0 = (group % tilesN) * int(BN);
    const int split = int(gl_WorkGroupID.z) / p.batches;
    const int n = int(gl_WorkGroupID.z) % p.batches;
    xBase = p.xOff + n * p.xsN;
    invKhw = 1.0 / float(p.kh * p.kw);
    invKw = 1.0 / float(p.kw);

    const int kBegin = split * p.kChunk;
    const int kEnd = min(p.K, kBegin + p.kChunk);
    gemmMainLoop(m0, n0, kBegin, kEnd, p.O, P);

    const int yBase = p.yOff + n * p.ysN;
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % THREADS_N, ty = tid / THREADS_N;
    [[unroll]] for (uint i = 0u; i < TM; ++i) {
        const int o = m0 + int(ty + i * THREADS_M);
        if (o >= p.O) {
            continue;
        }
        [[unroll]] for (uint j = 0u; j < TN; ++j) {
            const int pix = n0 + int(tx + j * THREADS_N);
            if (pix >= P) {
                continue;
            }
#ifdef SPLIT_K
            part[((split * p.batches + n) * p.O + o) * P + pix] = acc[i * TN + j];
#else
            float v = acc[i * TN + j];
            if (HAS_BIAS) {
                v += float(bias[p.bOff + o]);
            }
            const int idx = yBase + o * P + pix;
#ifdef EPILOGUE
            v = epilogueApply(v, uint(idx), p.epiC, p.epiBC);
#endif
            y[idx] = STORE_T(v);
#endif
        }
    }
}
