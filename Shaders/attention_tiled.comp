#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Register-tiled flash attention: same op, buffers, push constants and key splits as
// attention.comp (see there; PARTIAL output is merged by attention_combine.comp), with the
// products done like the register-tiled GEMM (gemm_tiling.glsl):
//
//   out[b,h,i,:] = sum_j softmax_j(scale * q[b,h,i,:] . k[b,h,j,:] + bias[b,h,i,j]) v[b,h,j,:]
//
// A workgroup of WG = (BQ / TM) x (BK / TN) threads owns BQ queries of one (b, h) and DVT
// output columns (DVT = OC * BK). Per key block of BK keys:
//   1. S = Q K^T: the head dim is walked in chunks of DK; Q^T [DK x BQ] and K^T [DK x BK] are
//      staged k-major in shared memory (Q stays resident when d <= DK) and each thread gets
//      its TM x TN scores in registers (attnTileProduct, attention_mma.glsl).
//   2. scale, bias, causal / bounds masks in registers; each thread's partial row maxima go
//      to shared memory, every thread reduces the THREADS_N partials of its TM rows (fp32),
//      rescales its output tile by exp(m_old - m_new) and writes P = exp(s - m_new) k-major.
//   3. O += P V: per BK-wide chunk of the output columns, V [BK x BK] is staged and each
//      thread adds its TM x TN product to its output registers.
// Each thread keeps a partial row sum over its own columns (all threads of a row share the
// running max, so the partials rescale alike); they are reduced once, at the end.
//
// The products run through attnTileProduct only, so the cooperative-matrix build
// (ATTN_COOPMAT: fp16 stages, 16 x 16 fragments) shares all tiling, masking and indexing
// with this plain one, which is what runs on lavapipe in CI (the "plain twin").
//
// Requires BQ % TM == 0, BK % TN == 0, BK % 4 == 0, DK % 4 == 0 (16 for ATTN_COOPMAT).

layout(local_size_x_id = 0) in;

layout(constant_id = 0) const uint WG = 128;      // (BQ / TM) * (BK / TN)
layout(constant_id = 1) const uint BQ = 32;       // queries per workgroup
layout(constant_id = 2) const uint BK = 32;       // keys per block
layout(constant_id = 3) const uint DK = 32;       // head-dim chunk staged per step
layout(constant_id = 4) const uint OC = 1;        // BK-wide output chunks per workgroup
layout(constant_id = 5) const uint TM = 2;        // rows per thread
layout(constant_id = 6) const uint TN = 4;        // columns per thread
layout(constant_id = 7) const bool HAS_BIAS = false;
layout(constant_id = 8) const bool CAUSAL = false;
layout(constant_id = 9) const bool PARTIAL = false;

const uint THREADS_N = BK / TN;
const uint THREADS_M = BQ / TM;
const uint DVT = OC * BK;
#ifdef ATTN_COOPMAT
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define SHARED_T float16_t
const uint ROW_PAD = 8u;   // 16-byte aligned fragment rows
#else
#define SHARED_T float
const uint ROW_PAD = 1u;
#endif
const uint AS_STRIDE = BQ + ROW_PAD;
const uint BS_STRIDE = BK + ROW_PAD;
const uint P_BASE = DK * AS_STRIDE;                     // P^T [BK x BQ] after Q^T [DK x BQ]
const uint B_ROWS = DK > BK ? DK : BK;                  // K^T [DK x BK] or V [BK x BK]
const uint Q_LOADS = (BQ * DK + WG - 1u) / WG;
const uint K_LOADS = (BK * DK + WG - 1u) / WG;
const uint V_LOADS = (BK * BK + WG - 1u) / WG;

layout(std430, set = 0, binding = 0) readonly buffer QBuf { STORE_T qb[]; };
layout(std430, set = 0, binding = 1) readonly buffer KBuf { STORE_T kb[]; };
layout(std430, set = 0, binding = 2) readonly buffer VBuf { STORE_T vb[]; };
layout(std430, set = 0, binding = 3) writeonly buffer OBuf { STORE_T ob[]; };
layout(std430, set = 0, binding = 4) readonly buffer BiasBuf { STORE_T biasb[]; };
layout(std430, set = 0, binding = 5) writeonly buffer StatsBuf { float statsb[]; };

layout(push_constant) uniform Params {
    int H; int Nq; int Nk; int d; int dv;
    int qBlocks; int dvSlices; int bhCount; int bhBase;
    int qOff; int kOff; int vOff; int oOff; int biasOff;
    int sb0; int sb1; int sb2; int sb3;
    float scale;
    int splits; int keysPerSplit; int statsOff;
} p;

shared SHARED_T As[P_BASE + BK * AS_STRIDE];
shared SHARED_T Bs[B_ROWS * BS_STRIDE];
shared float Red[BQ * THREADS_N];   // per (row, thread column) partial max / sum

#include "attention_mma.glsl"

const float NEG_INF = -1.0 / 0.0;

int qBase, kBase, vBase;

// Q^T chunk [dc0, dc0 + DK) of the query block, zero padded.
void stageQ(uint tid, int q0, int dc0) {
    [[unroll]] for (uint r = 0u; r < Q_LOADS; ++r) {
        const uint e = tid + r * WG;
        const uint m = e / DK, k = e % DK;
        const int qi = q0 + int(m), dd = dc0 + int(k);
        if (e < BQ * DK) {
            float v = 0.0;
            if (qi < p.Nq && dd < p.d) {
                v = float(qb[qBase + qi * p.d + dd]);
            }
            As[k * AS_STRIDE + m] = SHARED_T(v);
        }
    }
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % THREADS_N, ty = tid / THREADS_N;
    const int group = int(gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x);
    if (group >= p.bhCount * p.qBlocks * p.dvSlices * p.splits) {
        return;   // uniform per workgroup
    }
    const int split = group % p.splits;
    const int rest = group / p.splits;
    const int ds = rest % p.dvSlices;
    const int qblk = (rest / p.dvSlices) % p.qBlocks;
    const int bh = rest / (p.dvSlices * p.qBlocks);
    const int q0 = qblk * int(BQ);
    const int c0 = ds * int(DVT);
    const int bhAbs = p.bhBase + bh;
    const int bIdx = bhAbs / p.H;
    const int hIdx = bhAbs % p.H;

    qBase = p.qOff + bh * p.Nq * p.d;
    kBase = p.kOff + bh * p.Nk * p.d;
    vBase = p.vOff + bh * p.Nk * p.dv;
    const int oBase = p.oOff + (split * p.bhCount + bh) * p.Nq * p.dv;
    const int biasBase = p.biasOff + bIdx * p.sb0 + hIdx * p.sb1;

    const int kBegin = split * p.keysPerSplit;
    const int kStop = min(p.Nk, kBegin + p.keysPerSplit);
    int kEnd = kStop;
    if (CAUSAL) {
        kEnd = min(kStop, q0 + int(BQ) - 1 + (p.Nk - p.Nq) + 1);
    }

    const bool qResident = p.d <= int(DK);
    if (qResident) {
        stageQ(tid, q0, 0);
    }

    float rowMax[TM];
    float rowSum[TM];   // partial: this thread's columns only
    float o[OC * TM * TN];
    [[unroll]] for (uint i = 0u; i < TM; ++i) {
        rowMax[i] = NEG_INF;
        rowSum[i] = 0.0;
    }
    [[unroll]] for (uint i = 0u; i < OC * TM * TN; ++i) {
        o[i] = 0.0;
    }
    float s[TM * TN];

    for (int k0 = kBegin; k0 < kEnd; k0 += int(BK)) {
        // ---- 1. scores ---------------------------------------------------------------------
        [[unroll]] for (uint i = 0u; i < TM * TN; ++i) {
            s[i] = 0.0;
        }
        for (int dc0 = 0; dc0 < p.d; dc0 += int(DK)) {
            if (!qResident) {
                stageQ(tid, q0, dc0);
            }
            [[unroll]] for (uint r = 0u; r < K_LOADS; ++r) {
                const uint e = tid + r * WG;
                const uint j = e / DK, k = e % DK;
                const int kj = k0 + int(j), dd = dc0 + int(k);
                if (e < BK * DK) {
                    float v = 0.0;
                    if (kj < kStop && dd < p.d) {
                        v = float(kb[kBase + kj * p.d + dd]);
                    }
                    Bs[k * BS_STRIDE + j] = SHARED_T(v);
                }
            }
            barrier();
            attnTileProduct(0u, DK);
            [[unroll]] for (uint i = 0u; i < TM * TN; ++i) {
                s[i] += prod[i];
            }
            barrier();
        }

        // ---- 2. scale, bias, masks; row maxima; P -------------------------------------------
        [[unroll]] for (uint i = 0u; i < TM; ++i) {
            const int qi = q0 + int(ty + i * THREADS_M);
            float m = NEG_INF;
            [[unroll]] for (uint j = 0u; j < TN; ++j) {
                const int kj = k0 + int(tx + j * THREADS_N);
                bool visible = qi < p.Nq && kj < kStop;
                if (CAUSAL) {
                    visible = visible && kj <= qi + (p.Nk - p.Nq);
                }
                float v = NEG_INF;
                if (visible) {
                    v = s[i * TN + j] * p.scale;
                    if (HAS_BIAS) {
                        v += float(biasb[biasBase + qi * p.sb2 + kj * p.sb3]);
                    }
                }
                s[i * TN + j] = v;
                m = max(m, v);
            }
            Red[(ty + i * THREADS_M) * THREADS_N + tx] = m;
        }
        barrier();
        [[unroll]] for (uint i = 0u; i < TM; ++i) {
            const uint row = ty + i * THREADS_M;
            float mBlock = NEG_INF;
            for (uint t = 0u; t < THREADS_N; ++t) {
                mBlock = max(mBlock, Red[row * THREADS_N + t]);
            }
            const float mNew = max(rowMax[i], mBlock);
            // Masked entries are tested explicitly rather than relying on exp(-inf) = 0; while
            // nothing is visible (mNew = -inf) alpha and every p are 0 and the state stays 0.
            const float alpha = rowMax[i] == NEG_INF ? 0.0 : exp(rowMax[i] - mNew);
            rowMax[i] = mNew;
            rowSum[i] *= alpha;
            [[unroll]] for (uint c = 0u; c < OC; ++c) {
                [[unroll]] for (uint j = 0u; j < TN; ++j) {
                    o[(c * TM + i) * TN + j] *= alpha;
                }
            }
            [[unroll]] for (uint j = 0u; j < TN; ++j) {
                const float sv = s[i * TN + j];
                const float pv = sv == NEG_INF ? 0.0 : exp(sv - mNew);
                rowSum[i] += pv;
                As[P_BASE + (tx + j * THREADS_N) * AS_STRIDE + row] = SHARED_T(pv);
            }
        }

        // ---- 3. O += P V, one BK-wide chunk of the output columns at a time ------------------
        [[unroll]] for (uint c = 0u; c < OC; ++c) {
            [[unroll]] for (uint r = 0u; r < V_LOADS; ++r) {
                const uint e = tid + r * WG;
                const uint j = e / BK, n = e % BK;
                const int kj = k0 + int(j), cc = c0 + int(c * BK + n);
                if (e < BK * BK) {
                    float v = 0.0;
                    if (kj < kStop && cc < p.dv) {
                        v = float(vb[vBase + kj * p.dv + cc]);
                    }
                    Bs[j * BS_STRIDE + n] = SHARED_T(v);
                }
            }
            barrier();
            attnTileProduct(P_BASE, BK);
            [[unroll]] for (uint i = 0u; i < TM * TN; ++i) {
                o[c * TM * TN + i] += prod[i];
            }
            barrier();
        }
    }

    // Row sums: the partials of the THREADS_N threads of each row.
    [[unroll]] for (uint i = 0u; i < TM; ++i) {
        Red[(ty + i * THREADS_M) * THREADS_N + tx] = rowSum[i];
    }
    barrier();
    [[unroll]] for (uint i = 0u; i < TM; ++i) {
        const uint row = ty + i * THREADS_M;
        const int qi = q0 + int(row);
        if (qi >= p.Nq) {
            continue;
        }
        float l = 0.0;
        for (uint t = 0u; t < THREADS_N; ++t) {
            l += Red[row * THREADS_N + t];
        }
        float inv = l > 0.0 ? 1.0 / l : 0.0;
        if (PARTIAL) {
            inv = 1.0;   // the combine pass normalises
            if (ds == 0 && tx == 0u) {
                const int st = p.statsOff + ((split * p.bhCount + bh) * p.Nq + qi) * 2;
                statsb[st] = rowMax[i];
                statsb[st + 1] = l;
            }
        }
        [[unroll]] for (uint c = 0u; c < OC; ++c) {
            [[unroll]] for (uint j = 0u; j < TN; ++j) {
                const int cc = c0 + int(c * BK + tx + j * THREADS_N);
                if (cc < p.dv) {
                    ob[oBase + qi * p.dv + cc] = STORE_T(o[(c * TM + i) * TN + j] * inv);
                }
            }
        }
    }
}
