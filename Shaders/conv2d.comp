#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// conv2d as an implicit GEMM (no im2col buffer), NCHW, fp32 storage and accumulation.
//
// Per batch n and group g:  Y[o, pix] = sum_k W[o, k] * X_col[k, pix] (+ bias[o])
// with k = (c, ky, kx) over Cc * kh * kw and pix = (oy, ox) over Ho * Wo. X_col is never
// stored: each staged slice is gathered from X with stride, dilation and zero / reflect
// padding applied on the fly.
//
// Tiling: a workgroup of WG_X x WG_Y threads owns TM output channels x TN output pixels
// (TM = WG_Y * RM, TN = WG_X * RN); the K loop stages TM x TK weights and TK x TN gathered
// inputs in shared memory (with the next slice fetched into registers while the current one
// is consumed), and each thread keeps an RM x RN fp32 register tile. Requires
// (WG_X * WG_Y) % TN == 0 and (TK * TN) % (WG_X * WG_Y) == 0 so that each thread gathers a
// fixed output pixel (decoded once).
//
// One dispatch covers G groups of Cc input / Oc output channels each (channel c of group g
// is channel g * Cc + c of this dispatch's view of X, output o is g * Oc + o). The encoder
// splits tensors larger than a binding into channel chunks: then G = 1 and the offsets point
// at the chunk; a chunk that is not the first of its reduction adds onto Y (accumulate = 1).
//
// Grid: x (folded into y when large) = G * tilesM * tilesP tiles, z = batch.

#include "epilogue.glsl"   // node epilogue at the store when EPILOGUE is defined

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z = 1) in;

layout(constant_id = 0) const uint WG_X = 16;      // threads along pixels
layout(constant_id = 1) const uint WG_Y = 16;      // threads along output channels
layout(constant_id = 2) const uint RM = 4;         // output channels per thread
layout(constant_id = 3) const uint RN = 4;         // pixels per thread
layout(constant_id = 4) const uint TK = 16;        // reduction slice
layout(constant_id = 5) const bool HAS_BIAS = false;
layout(constant_id = 6) const bool REFLECT = false;
// 1x1 kernel, stride 1, no padding: X_col[c, pix] = X[c, pix] (plain GEMM).
layout(constant_id = 7) const bool POINTWISE = false;

const uint NT = WG_X * WG_Y;
const uint TM = WG_Y * RM;
const uint TN = WG_X * RN;
const uint AS_STRIDE = TM + 1u;
const uint BS_STRIDE = TN;            // written row-wise by consecutive threads: no conflicts
const uint A_PER_THREAD = (TM * TK + NT - 1u) / NT;
const uint B_PER_THREAD = (TK * TN) / NT;
const uint B_ROW_STEP = NT / TN;      // k rows between a thread's successive gathers

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

shared float As[TK * AS_STRIDE];
shared float Bs[TK * BS_STRIDE];

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

void main() {
    const uint tx = gl_LocalInvocationID.x;
    const uint ty = gl_LocalInvocationID.y;
    const uint tid = ty * WG_X + tx;

    const int P = p.Ho * p.Wo;
    const int K = p.Cc * p.kh * p.kw;
    const int khw = p.kh * p.kw;
    const int tilesP = (P + int(TN) - 1) / int(TN);
    const int tilesM = (p.Oc + int(TM) - 1) / int(TM);
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= p.G * tilesM * tilesP) {
        return;   // uniform per workgroup
    }
    const int g = group / (tilesM * tilesP);
    const int rest = group % (tilesM * tilesP);
    const int m0 = (rest / tilesP) * int(TM);
    const int n0 = (rest % tilesP) * int(TN);
    const int n = int(gl_WorkGroupID.z);

    const int xBase = p.xOff + n * p.xsN + g * p.Cc * p.H * p.W;
    const int wBase = p.wOff + g * p.Oc * p.wRow;
    const int HW = p.H * p.W;

    // The output pixel this thread gathers for every slice.
    const uint myCol = tid % TN;
    const uint myRow0 = tid / TN;
    const int pix = n0 + int(myCol);
    const bool pixValid = pix < P;
    const int oy = pixValid ? pix / p.Wo : 0;
    const int ox = pixValid ? pix % p.Wo : 0;
    const int iy0 = oy * p.sy - p.pt;
    const int ix0 = ox * p.sx - p.pl;
    const float invKhw = 1.0 / float(khw);
    const float invKw = 1.0 / float(p.kw);

    float acc[RM * RN];
    [[unroll]] for (uint i = 0u; i < RM * RN; ++i) {
        acc[i] = 0.0;
    }
    float aReg[A_PER_THREAD];
    float bReg[B_PER_THREAD];

    #define FETCH(k0)                                                                      \
    [[unroll]] for (uint r = 0u; r < A_PER_THREAD; ++r) {                                             \
        const uint e = tid + r * NT;                                                       \
        const int gk = (k0) + int(e % TK);                                                 \
        const int gm = m0 + int(e / TK);                                                   \
        aReg[r] = 0.0;                                                                     \
        if (e < TM * TK && gm < p.Oc && gk < K) { aReg[r] = w[wBase + gm * p.wRow + gk]; } \
    }                                                                                      \
    [[unroll]] for (uint r = 0u; r < B_PER_THREAD; ++r) {                                             \
        const int gk = (k0) + int(myRow0 + r * B_ROW_STEP);                                \
        bReg[r] = 0.0;                                                                     \
        if (pixValid && gk < K) {                                                          \
            if (POINTWISE) {                                                               \
                bReg[r] = x[xBase + gk * HW + pix];                                        \
            } else {                                                                       \
                const int c = quotient(gk, khw, invKhw);                                   \
                const int kr = gk - c * khw;                                               \
                const int ky = quotient(kr, p.kw, invKw);                                  \
                const int kx = kr - ky * p.kw;                                             \
                int iy = iy0 + ky * p.dy;                                                  \
                int ix = ix0 + kx * p.dx;                                                  \
                if (REFLECT) {                                                             \
                    iy = reflectIndex(iy, p.H);                                            \
                    ix = reflectIndex(ix, p.W);                                            \
                }                                                                          \
                if (iy >= 0 && iy < p.H && ix >= 0 && ix < p.W) {                          \
                    bReg[r] = x[xBase + c * HW + iy * p.W + ix];                           \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    }

    FETCH(0)

    for (int k0 = 0; k0 < K; k0 += int(TK)) {
        [[unroll]] for (uint r = 0u; r < A_PER_THREAD; ++r) {
            const uint e = tid + r * NT;
            if (e < TM * TK) {
                As[(e % TK) * AS_STRIDE + e / TK] = aReg[r];
            }
        }
        [[unroll]] for (uint r = 0u; r < B_PER_THREAD; ++r) {
            Bs[(myRow0 + r * B_ROW_STEP) * BS_STRIDE + myCol] = bReg[r];
        }
        barrier();

        const int kn = k0 + int(TK);
        if (kn < K) {
            FETCH(kn)
        }

        [[unroll]] for (uint kk = 0u; kk < TK; ++kk) {
            float ar[RM];
            float br[RN];
            [[unroll]] for (uint i = 0u; i < RM; ++i) {
                ar[i] = As[kk * AS_STRIDE + ty + i * WG_Y];
            }
            [[unroll]] for (uint j = 0u; j < RN; ++j) {
                br[j] = Bs[kk * BS_STRIDE + tx + j * WG_X];
            }
            [[unroll]] for (uint i = 0u; i < RM; ++i) {
                [[unroll]] for (uint j = 0u; j < RN; ++j) {
                    acc[i * RN + j] = fma(ar[i], br[j], acc[i * RN + j]);
                }
            }
        }
        barrier();
    }

    const int yBase = p.yOff + n * p.ysN + g * p.Oc * P;
    [[unroll]] for (uint i = 0u; i < RM; ++i) {
        const int o = m0 + int(ty + i * WG_Y);
        if (o >= p.Oc) {
            continue;
        }
        float b = 0.0;
        if (HAS_BIAS && p.accumulate == 0) {
            b = bias[p.bOff + g * p.Oc + o];
        }
        [[unroll]] for (uint j = 0u; j < RN; ++j) {
            const int q = n0 + int(tx + j * WG_X);
            if (q >= P) {
                continue;
            }
            const int idx = yBase + o * P + q;
            float v = acc[i * RN + j] + b;
            if (p.accumulate != 0) {
                v += y[idx];
            }
#ifdef EPILOGUE
            v = epilogueApply(v, uint(idx), p.epiC, p.epiBC);
#endif
            y[idx] = STORE_T(v);
        }
    }
}
