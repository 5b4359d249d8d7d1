#version 450
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Scaled dot-product attention, flash style (online softmax, never materialises Nq x Nk).
//
//   out[b,h,i,:] = sum_j softmax_j(scale * q[b,h,i,:] . k[b,h,j,:] + bias[b,h,i,j]) v[b,h,j,:]
//
// q [B,H,Nq,d], k [B,H,Nk,d], v [B,H,Nk,dv], out [B,H,Nq,dv], all contiguous. The additive
// bias is addressed through four element strides (0 on broadcast dimensions). With CAUSAL,
// key j is visible to query i iff j <= i + (Nk - Nq); a query that sees no key at all gets 0.
//
// Work decomposition: a workgroup of WG threads owns BQ queries of one (b, h) and DVT output
// columns (grid x = bh * qBlocks * dvSlices, folded into y when large). It walks the keys in
// blocks of BK:
//   1. S = Q K^T for the block, reduced over d in chunks of DC staged in shared memory (Q stays
//      resident in shared memory when d <= DC); each thread owns BQ * BK / WG scores.
//   2. Scores get scale, bias and masks; the V block [BK x DVT] is staged (it reuses K's space).
//   3. Each thread owns DVT / (WG / BQ) output columns of one query row in registers; it
//      updates the row's running max m and sum l (every thread of the row computes the same
//      values), rescales its accumulator by exp(m_old - m_new) and adds P V.
// Key splits (flash-decoding): with PARTIAL, the keys are cut into `splits` ranges of
// keysPerSplit; workgroup (bh, query block, dv slice, split) writes its unnormalised
// accumulator to the partial buffer and its (max, sum) to the stats buffer, and
// attention_combine.comp merges the splits. This spreads long key ranges over more
// workgroups and bounds the loop trip count of one invocation.
// Requires WG % BQ == 0, WG % BK == 0, (BQ * BK) % WG == 0, DVT % (WG / BQ) == 0, DC % 8 == 0.
// Head dims beyond DC cost extra passes over shared memory; dv beyond DVT costs extra
// workgroups (each recomputes the scores of its slice), so any d / dv works.

layout(local_size_x_id = 0) in;

layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint BQ = 16;     // queries per workgroup
layout(constant_id = 2) const uint BK = 32;     // keys per block
layout(constant_id = 3) const uint DC = 128;    // head-dim chunk staged in shared memory
layout(constant_id = 4) const uint DVT = 128;   // output columns per workgroup
layout(constant_id = 5) const bool HAS_BIAS = false;
layout(constant_id = 6) const bool CAUSAL = false;
layout(constant_id = 7) const bool PARTIAL = false;

const uint TPR = WG / BQ;                 // threads per query row (output phase)
const uint OREG = DVT / TPR;              // output columns per thread
const uint SPT = (BQ * BK) / WG;          // scores per thread
const uint SR_STEP = WG / BK;             // rows between a thread's scores
const uint QS_STRIDE = DC + 1u;
const uint KS_STRIDE = DC + 1u;
const uint KV_SIZE = BK * (KS_STRIDE > DVT ? KS_STRIDE : DVT);
const uint S_STRIDE = BK + 1u;
// Cooperative loads per thread (constant trip counts, so they unroll).
const uint Q_LOADS = (BQ * DC + WG - 1u) / WG;
const uint K_LOADS = (BK * DC + WG - 1u) / WG;
const uint V_LOADS = (BK * DVT + WG - 1u) / WG;

layout(std430, set = 0, binding = 0) readonly buffer QBuf { STORE_T qb[]; };
layout(std430, set = 0, binding = 1) readonly buffer KBuf { STORE_T kb[]; };
layout(std430, set = 0, binding = 2) readonly buffer VBuf { STORE_T vb[]; };
layout(std430, set = 0, binding = 3) writeonly buffer OBuf { STORE_T ob[]; };
layout(std430, set = 0, binding = 4) readonly buffer BiasBuf { STORE_T biasb[]; };
// PARTIAL only: per (split, bh, query) running max and sum.
layout(std430, set = 0, binding = 5) writeonly buffer StatsBuf { float statsb[]; };

layout(push_constant) uniform Params {
    int H; int Nq; int Nk; int d; int dv;
    int qBlocks; int dvSlices; int bhCount; int bhBase;
    int qOff; int kOff; int vOff; int oOff; int biasOff;
    int sb0; int sb1; int sb2; int sb3;
    float scale;
    int splits; int keysPerSplit; int statsOff;
} p;

shared float Qs[BQ * QS_STRIDE];
shared float KV[KV_SIZE];
shared float S[BQ * S_STRIDE];

const float NEG_INF = -1.0 / 0.0;

void main() {
    const uint tid = gl_LocalInvocationID.x;
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

    const int qBase = p.qOff + bh * p.Nq * p.d;
    const int kBase = p.kOff + bh * p.Nk * p.d;
    const int vBase = p.vOff + bh * p.Nk * p.dv;
    // Output row base: the final tensor, or this split's slice of the partial buffer.
    const int oBase = p.oOff + (split * p.bhCount + bh) * p.Nq * p.dv;
    const int biasBase = p.biasOff + bIdx * p.sb0 + hIdx * p.sb1;

    // Keys of this split that this query block can see: [kBegin, kEnd).
    const int kBegin = split * p.keysPerSplit;
    const int kStop = min(p.Nk, kBegin + p.keysPerSplit);
    int kEnd = kStop;
    if (CAUSAL) {
        kEnd = min(kStop, q0 + int(BQ) - 1 + (p.Nk - p.Nq) + 1);
    }

    const bool qResident = p.d <= int(DC);
    if (qResident) {
        [[unroll]] for (uint rr = 0u; rr < Q_LOADS; ++rr) {
            const uint e = tid + rr * WG;
            if (e >= BQ * DC) {
                continue;
            }
            const uint r = e / DC, k = e % DC;
            const int qi = q0 + int(r);
            float v = 0.0;
            if (qi < p.Nq && int(k) < p.d) {
                v = qb[qBase + qi * p.d + int(k)];
            }
            Qs[r * QS_STRIDE + k] = v;
        }
    }

    // Score ownership: key column sj, rows sr0 + i * SR_STEP.
    const uint sj = tid % BK;
    const uint sr0 = tid / BK;
    const uint orow = tid / TPR;
    const uint ocol = tid % TPR;
    // Running max and sum of this thread's query row, and its output columns.
    float rowMax = NEG_INF;
    float rowSum = 0.0;
    float o[OREG];
    [[unroll]] for (uint i = 0u; i < OREG; ++i) {
        o[i] = 0.0;
    }

    for (int k0 = kBegin; k0 < kEnd; k0 += int(BK)) {
        // ---- 1. scores -------------------------------------------------------------------
        float sacc[SPT];
        [[unroll]] for (uint i = 0u; i < SPT; ++i) {
            sacc[i] = 0.0;
        }
        for (int dc0 = 0; dc0 < p.d; dc0 += int(DC)) {
            if (!qResident) {
                [[unroll]] for (uint rr = 0u; rr < Q_LOADS; ++rr) {
                    const uint e = tid + rr * WG;
                    if (e >= BQ * DC) {
                        continue;
                    }
                    const uint r = e / DC, k = e % DC;
                    const int qi = q0 + int(r);
                    const int dd = dc0 + int(k);
                    float v = 0.0;
                    if (qi < p.Nq && dd < p.d) {
                        v = qb[qBase + qi * p.d + dd];
                    }
                    Qs[r * QS_STRIDE + k] = v;
                }
            }
            [[unroll]] for (uint rr = 0u; rr < K_LOADS; ++rr) {
                const uint e = tid + rr * WG;
                if (e >= BK * DC) {
                    continue;
                }
                const uint j = e / DC, k = e % DC;
                const int kj = k0 + int(j);
                const int dd = dc0 + int(k);
                float v = 0.0;
                if (kj < kStop && dd < p.d) {
                    v = kb[kBase + kj * p.d + dd];
                }
                KV[j * KS_STRIDE + k] = v;
            }
            barrier();
            // Q and K are zero padded to DC, so the full chunk can be summed.
            // Unrolled by 8 only: full unrolling makes lavapipe's JIT very slow.
            for (uint k0 = 0u; k0 < DC; k0 += 8u) {
                [[unroll]] for (uint k = k0; k < k0 + 8u; ++k) {
                    const float kv = KV[sj * KS_STRIDE + k];
                    [[unroll]] for (uint i = 0u; i < SPT; ++i) {
                        sacc[i] = fma(Qs[(sr0 + i * SR_STEP) * QS_STRIDE + k], kv, sacc[i]);
                    }
                }
            }
            barrier();
        }

        // ---- 2. scale, bias, mask; stage V -----------------------------------------------
        [[unroll]] for (uint i = 0u; i < SPT; ++i) {
            const uint r = sr0 + i * SR_STEP, j = sj;
            const int qi = q0 + int(r);
            const int kj = k0 + int(j);
            float s = NEG_INF;
            bool visible = qi < p.Nq && kj < kStop;
            if (CAUSAL) {
                visible = visible && kj <= qi + (p.Nk - p.Nq);
            }
            if (visible) {
                s = sacc[i] * p.scale;
                if (HAS_BIAS) {
                    s += biasb[biasBase + qi * p.sb2 + kj * p.sb3];
                }
            }
            S[r * S_STRIDE + j] = s;
        }
        [[unroll]] for (uint rr = 0u; rr < V_LOADS; ++rr) {
            const uint e = tid + rr * WG;
            if (e >= BK * DVT) {
                continue;
            }
            const uint j = e / DVT, c = e % DVT;
            const int kj = k0 + int(j);
            const int cc = c0 + int(c);
            float v = 0.0;
            if (kj < kStop && cc < p.dv) {
                v = vb[vBase + kj * p.dv + cc];
            }
            KV[j * DVT + c] = v;
        }
        barrier();

        // ---- 3. online softmax and P V ----------------------------------------------------
        // Every thread of a row redoes the row's statistics from the shared scores (the same
        // values in the same order, so the copies agree): no serial phase, no extra barrier.
        float mBlock = NEG_INF;
        [[unroll]] for (uint j = 0u; j < BK; ++j) {
            mBlock = max(mBlock, S[orow * S_STRIDE + j]);
        }
        const float mNew = max(rowMax, mBlock);
        // Masked entries are tested explicitly rather than relying on exp(-inf) = 0; while
        // nothing is visible (mNew = -inf) alpha and every p are 0 and the state stays 0.
        const float alpha = rowMax == NEG_INF ? 0.0 : exp(rowMax - mNew);
        rowSum *= alpha;
        [[unroll]] for (uint i = 0u; i < OREG; ++i) {
            o[i] *= alpha;
        }
        // Keys past the split are masked and have zero V rows.
        for (uint j = 0u; j < BK; ++j) {
            const float sj = S[orow * S_STRIDE + j];
            const float pj = sj == NEG_INF ? 0.0 : exp(sj - mNew);
            rowSum += pj;
            [[unroll]] for (uint i = 0u; i < OREG; ++i) {
                o[i] = fma(pj, KV[j * DVT + ocol + i * TPR], o[i]);
            }
        }
        rowMax = mNew;
        barrier();
    }

    const int qi = q0 + int(orow);
    if (qi < p.Nq) {
        const float l = rowSum;
        float inv = l > 0.0 ? 1.0 / l : 0.0;
        if (PARTIAL) {
            inv = 1.0;   // the combine pass normalises
            if (ds == 0 && ocol == 0u) {
                const int st = p.statsOff + ((split * p.bhCount + bh) * p.Nq + qi) * 2;
                statsb[st] = rowMax;
                statsb[st + 1] = l;
            }
        }
        [[unroll]] for (uint i = 0u; i < OREG; ++i) {
            const int cc = c0 + int(ocol + i * TPR);
            if (cc < p.dv) {
                ob[oBase + qi * p.dv + cc] = STORE_T(o[i] * inv);
            }
        }
    }
}
