// Window attention, one head of one window: the inner loop of TextFusion on the CPU.
//
// For 16 queries at a time the scores of every key are 16 consecutive floats, so the
// softmax over keys runs elementwise across keys (no horizontal sums) and
// out[c, queries] = sum_j v[c, j] p[j, queries] is a broadcast multiply-add per key. Every
// inner loop is 16 contiguous lanes, which the compiler vectorises: the same source is
// compiled for AVX-512 and AVX2+FMA (chosen at run time, isa.h) and for the baseline, so
// the binary runs on any x86-64 and elsewhere. With AVX-512's 32 registers a pass takes 8
// keys (scores) or 8 channels (outputs) instead of 4: twice the independent multiply-adds
// per load of the 16 queries or probabilities.
#include "isa.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

// exp(x) in float32, about 1 ulp, branch-free so that loops calling it vectorise; the
// arithmetic of FusionCPU's `fastExp` (0 below -87.34, large and finite above 88.38).
static inline __attribute__((always_inline)) float fk_exp(float x) {
    const float lo = -87.33654f;
    float xc = x < lo ? lo : x;
    xc = xc > 88.37626f ? 88.37626f : xc;
    const float magic = 12582912.0f;
    float t = xc * 1.44269504f + magic;
    float n = t - magic;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.1219444e-4f;
    float p = 1.98756915e-4f;
    p = p * r + 1.39819995e-3f;
    p = p * r + 8.3334519e-3f;
    p = p * r + 4.1665796e-2f;
    p = p * r + 1.66666655e-1f;
    p = p * r + 5.0000001e-1f;
    p = p * (r * r) + r + 1.0f;
    int32_t ti, mi;
    memcpy(&ti, &t, 4);
    memcpy(&mi, &magic, 4);
    int32_t bits = (ti - mi + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    float y = p * scale;
    return x < lo ? 0.0f : y;
}

/// The most keys (scores) or channels (outputs) one pass takes.
#define FK_MAX_BLOCK 8

// Scores of keys j ..< j+kb for 16 queries: kb independent accumulators per lane, so the
// multiply-adds over the head's channels overlap instead of waiting on one another.
static inline __attribute__((always_inline))
void scores_block(int kb, int t, int dh, int j, const float *restrict q, const float *restrict k,
                  float s[FK_MAX_BLOCK][16]) {
    for (int u = 0; u < kb; u++)
        for (int l = 0; l < 16; l++) s[u][l] = 0.0f;
    for (int c = 0; c < dh; c++) {
        const float *qr = q + c * t;
        const float *kr = k + c * t + j;
        for (int l = 0; l < 16; l++) {
            const float x = qr[l];
            for (int u = 0; u < kb; u++) s[u][l] += kr[u] * x;
        }
    }
}

// Output channels c ..< c+cb for 16 queries: each probability row is loaded once for cb
// sums. `out` points at the first query.
static inline __attribute__((always_inline))
void out_block(int cb, int t, int c, const float *restrict v, const float *restrict scores,
               const float *restrict sum, float *restrict out) {
    float acc[FK_MAX_BLOCK][16];
    for (int u = 0; u < cb; u++)
        for (int l = 0; l < 16; l++) acc[u][l] = 0.0f;
    const float *vc = v + c * t;
    for (int j = 0; j < t; j++) {
        const float *row = scores + j * 16;
        for (int l = 0; l < 16; l++) {
            const float p = row[l];
            for (int u = 0; u < cb; u++) acc[u][l] += vc[u * t + j] * p;
        }
    }
    for (int u = 0; u < cb; u++) {
        float *o = out + (c + u) * t;
        for (int l = 0; l < 16; l++) o[l] = acc[u][l] / sum[l];
    }
}

// One head: kb keys per scores pass and cb channels per output pass (t a multiple of both).
static inline __attribute__((always_inline))
void head_impl(int kb, int cb, int t, int dh, int dvh, float scale, const float *restrict q, const float *restrict k,
               const float *restrict v, const float *restrict bias_t, float *restrict out, float *restrict scores) {
    for (int q0 = 0; q0 < t; q0 += 16) {
        float mx[16], sum[16];
        for (int l = 0; l < 16; l++) { mx[l] = -INFINITY; sum[l] = 0.0f; }
        for (int j = 0; j < t; j += kb) {   // t is a multiple of 16
            float s[FK_MAX_BLOCK][16];
            scores_block(kb, t, dh, j, q + q0, k, s);
            for (int u = 0; u < kb; u++) {
                const float *b = bias_t + (j + u) * t + q0;
                float *row = scores + (j + u) * 16;
                for (int l = 0; l < 16; l++) {
                    float x = s[u][l] * scale + b[l];
                    row[l] = x;
                    mx[l] = x > mx[l] ? x : mx[l];
                }
            }
        }
        for (int j = 0; j < t; j++) {
            float *row = scores + j * 16;
            for (int l = 0; l < 16; l++) {
                float e = fk_exp(row[l] - mx[l]);
                row[l] = e;
                sum[l] += e;
            }
        }
        int c = 0;
        for (; c + cb <= dvh; c += cb) out_block(cb, t, c, v, scores, sum, out + q0);
        if (cb > 4)
            for (; c + 4 <= dvh; c += 4) out_block(4, t, c, v, scores, sum, out + q0);
        for (; c < dvh; c++) {
            float acc[16];
            for (int l = 0; l < 16; l++) acc[l] = 0.0f;
            const float *vr = v + c * t;
            for (int j = 0; j < t; j++) {
                const float vv = vr[j];
                const float *row = scores + j * 16;
                for (int l = 0; l < 16; l++) acc[l] += vv * row[l];
            }
            float *o = out + c * t + q0;
            for (int l = 0; l < 16; l++) o[l] = acc[l] / sum[l];
        }
    }
}

// One window: gathers q, k, v channel-major ([channels][T], T = window^2, each row of the
// window a contiguous segment of the image), runs every head, scatters the result.
static inline __attribute__((always_inline))
void window_impl(int kb, int cb, int window, int heads, int c, int cv, int width, int plane, float scale,
                 const float *restrict q, const float *restrict k, const float *restrict v,
                 const float *restrict bias_t, float *restrict out, float *restrict scratch) {
    const int t = window * window, dh = c / heads, dvh = cv / heads;
    float *qc = scratch, *kc = qc + c * t, *vc = kc + c * t, *oc = vc + cv * t, *scores = oc + cv * t;
    for (int ch = 0; ch < c; ch++) {
        for (int ty = 0; ty < window; ty++) {
            const float *sq = q + ch * plane + ty * width, *sk = k + ch * plane + ty * width;
            float *dq = qc + ch * t + ty * window, *dk = kc + ch * t + ty * window;
            for (int x = 0; x < window; x++) { dq[x] = sq[x]; dk[x] = sk[x]; }
        }
    }
    for (int ch = 0; ch < cv; ch++) {
        for (int ty = 0; ty < window; ty++) {
            const float *sv = v + ch * plane + ty * width;
            float *dv = vc + ch * t + ty * window;
            for (int x = 0; x < window; x++) dv[x] = sv[x];
        }
    }
    for (int h = 0; h < heads; h++)
        head_impl(kb, cb, t, dh, dvh, scale, qc + h * dh * t, kc + h * dh * t, vc + h * dvh * t, bias_t + h * t * t,
                  oc + h * dvh * t, scores);
    for (int ch = 0; ch < cv; ch++) {
        for (int ty = 0; ty < window; ty++) {
            float *d = out + ch * plane + ty * width;
            const float *so = oc + ch * t + ty * window;
            for (int x = 0; x < window; x++) d[x] = so[x];
        }
    }
}

#define FK_WINDOW_ARGS int window, int heads, int c, int cv, int width, int plane, float scale, \
    const float *q, const float *k, const float *v, const float *bias_t, float *out, float *scratch
#define FK_WINDOW_CALL window, heads, c, cv, width, plane, scale, q, k, v, bias_t, out, scratch

#define FK_WINDOW_ATTENTION_NARROW(...) window_impl(4, 4, __VA_ARGS__)
#define FK_WINDOW_ATTENTION_WIDE(...) window_impl(8, 8, __VA_ARGS__)
FK_DEFINE_ISA_KERNEL(fk_window_attention, FK_WINDOW_ARGS, FK_WINDOW_CALL, FK_WINDOW_ATTENTION_NARROW, FK_WINDOW_ATTENTION_WIDE)
