/* attention.c: the core of multi-head self-attention over packed sequences of different lengths
 * (see core/op_list.h): per (sequence, head), S = q·kᵀ/√hs (gemm), a row softmax (with the causal
 * mask: row i sees columns ≤ i), out = P·v (gemm); q, k, v are read in place from the fused
 * in_proj output with a leading dimension of 3C. The (sequence, head) pairs are split over the
 * OpenMP threads, each calling a one-thread gemm (OpenBLAS's own threads off meanwhile, as in
 * linear.c). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include "core/real.h"
#include "cpu/threads.h"


/* offsets of each sequence's probabilities in att, and the longest sequence */
static size_t *att_offsets(const int *off, int B, int nh, int *Tmax, double *flops, int C)
{
    size_t *ao = malloc((size_t)(B + 1) * sizeof *ao);
    if (!ao) abort();
    ao[0] = 0;
    *Tmax = 0;
    *flops = 0;
    for (int b = 0; b < B; b++) {
        const int T = off[b + 1] - off[b];
        ao[b + 1] = ao[b] + (size_t)nh * T * T;
        if (T > *Tmax) *Tmax = T;
        *flops += 4.0 * T * T * C;
    }
    return ao;
}

void OPNAME(attention_forward)(real *out, real *att, const real *qkv, const int *off, int B, int C,
                               int nh, int causal)
{
    const int hs = C / nh, ld = 3 * C;
    const real scale = (real)(1.0 / sqrt((double)hs));
    int Tmax;
    double flops;
    size_t *ao = att_offsets(off, B, nh, &Tmax, &flops, C);
    const int nt = team_size(flops, B * nh);
    const int saved = blas_single(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        real *scratch = att ? NULL : malloc((size_t)Tmax * Tmax * sizeof(real) + 1);
#pragma omp for schedule(dynamic)
        for (int task = 0; task < B * nh; task++) {
            const int b = task / nh, h = task % nh, T = off[b + 1] - off[b];
            if (T <= 0) continue;
            const real *q = qkv + (size_t)off[b] * ld + (size_t)h * hs, *k = q + C, *v = q + 2 * C;
            real *P = att ? att + ao[b] + (size_t)h * T * T : scratch;
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, scale, q, ld, k, ld, 0, P, T);
            for (int i = 0; i < T; i++) {
                real *p = P + (size_t)i * T;
                const int n = causal ? i + 1 : T;
                real mx = p[0];
                for (int j = 1; j < n; j++) if (p[j] > mx) mx = p[j];
                double s = 0;
                for (int j = 0; j < n; j++) { p[j] = REAL_EXP(p[j] - mx); s += p[j]; }
                const real inv = (real)(1.0 / s);
                for (int j = 0; j < n; j++) p[j] *= inv;
                for (int j = n; j < T; j++) p[j] = 0;
            }
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1, P, T, v, ld, 0,
                       out + (size_t)off[b] * C + (size_t)h * hs, C);
        }
        free(scratch);
    }
    blas_restore(nt, saved);
    free(ao);
}

/* dP = dO·vᵀ; dS = P∘(dP − rowsum(P∘dP)); dq = dS·k/√hs; dk = dSᵀ·q/√hs; dv = Pᵀ·dO */
void OPNAME(attention_backward)(real *dqkv, const real *dout, const real *qkv, const real *att,
                                const int *off, int B, int C, int nh)
{
    const int hs = C / nh, ld = 3 * C;
    const real scale = (real)(1.0 / sqrt((double)hs));
    int Tmax;
    double flops;
    size_t *ao = att_offsets(off, B, nh, &Tmax, &flops, C);
    const int nt = team_size(2 * flops, B * nh);
    const int saved = blas_single(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        real *dS = malloc((size_t)Tmax * Tmax * sizeof(real) + 1);
#pragma omp for schedule(dynamic)
        for (int task = 0; task < B * nh; task++) {
            const int b = task / nh, h = task % nh, T = off[b + 1] - off[b];
            if (T <= 0) continue;
            const size_t r0 = (size_t)off[b];
            const real *q = qkv + r0 * ld + (size_t)h * hs, *k = q + C, *v = q + 2 * C;
            const real *dO = dout + r0 * C + (size_t)h * hs;
            const real *P = att + ao[b] + (size_t)h * T * T;
            real *dq = dqkv + r0 * ld + (size_t)h * hs, *dk = dq + C, *dv = dq + 2 * C;
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1, dO, C, v, ld, 0, dS, T);
            for (int i = 0; i < T; i++) {
                const real *p = P + (size_t)i * T;
                real *d = dS + (size_t)i * T;
                double s = 0;
                for (int j = 0; j < T; j++) s += (double)p[j] * d[j];
                const real sr = (real)s;
                for (int j = 0; j < T; j++) d[j] = p[j] * (d[j] - sr);
            }
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, scale, dS, T, k, ld, 0, dq, ld);
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, scale, dS, T, q, ld, 0, dk, ld);
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1, P, T, dO, C, 0, dv, ld);
        }
        free(dS);
    }
    blas_restore(nt, saved);
    free(ao);
}

/* ---- the class-token attention (CLIP's last image block; see core/op_list.h): one task per
 *      (sequence, head), too small for gemms ---- */

/* out (B,C) = softmax(q·kᵀ/√hs)·v per head; att (B,nh,T) the probabilities (may be NULL) */
void OPNAME(cls_attention_forward)(real *out, real *att, const real *q, const real *kv, int B, int T,
                                   int C, int nh)
{
    const int hs = C / nh;
    const real scale = (real)(1.0 / sqrt((double)hs));
#pragma omp parallel for schedule(static) if (B * nh > 1)
    for (int task = 0; task < B * nh; task++) {
        const int b = task / nh, h = task % nh;
        real pbuf[T > 0 ? T : 1];
        real *p = att ? att + (size_t)task * T : pbuf;
        const real *qh = q + (size_t)b * C + h * hs;
        real mx = -INFINITY;
        for (int t = 0; t < T; t++) {
            const real *k = kv + ((size_t)b * T + t) * 2 * C + h * hs;
            real sdot = 0;
            for (int c = 0; c < hs; c++) sdot += qh[c] * k[c];
            p[t] = sdot * scale;
            if (p[t] > mx) mx = p[t];
        }
        double sum = 0;
        for (int t = 0; t < T; t++) { p[t] = REAL_EXP(p[t] - mx); sum += p[t]; }
        const real inv = (real)(1.0 / sum);
        real *o = out + (size_t)b * C + h * hs;
        for (int c = 0; c < hs; c++) o[c] = 0;
        for (int t = 0; t < T; t++) {
            p[t] *= inv;
            const real *v = kv + ((size_t)b * T + t) * 2 * C + C + h * hs;
            for (int c = 0; c < hs; c++) o[c] += p[t] * v[c];
        }
    }
}

/* dq (B,C) and dkv (B·T,2C) assigned from dout (B,C): dP = dO·vᵀ; dS = P∘(dP − Σ P∘dP);
 * dq = dS·k/√hs; dk = dSᵀ·q/√hs; dv = Pᵀ·dO */
void OPNAME(cls_attention_backward)(real *dq, real *dkv, const real *dout, const real *q, const real *kv,
                                    const real *att, int B, int T, int C, int nh)
{
    const int hs = C / nh;
    const real scale = (real)(1.0 / sqrt((double)hs));
#pragma omp parallel for schedule(static) if (B * nh > 1)
    for (int task = 0; task < B * nh; task++) {
        const int b = task / nh, h = task % nh;
        const real *p = att + (size_t)task * T, *dO = dout + (size_t)b * C + h * hs, *qh = q + (size_t)b * C + h * hs;
        real ds[T > 0 ? T : 1];
        double sr = 0;
        for (int t = 0; t < T; t++) {
            const real *v = kv + ((size_t)b * T + t) * 2 * C + C + h * hs;
            real d = 0;
            for (int c = 0; c < hs; c++) d += dO[c] * v[c];
            ds[t] = d;
            sr += (double)p[t] * d;
        }
        real *dqh = dq + (size_t)b * C + h * hs;
        for (int c = 0; c < hs; c++) dqh[c] = 0;
        for (int t = 0; t < T; t++) {
            const real g = p[t] * (ds[t] - (real)sr) * scale;
            const real *k = kv + ((size_t)b * T + t) * 2 * C + h * hs;
            real *dk = dkv + ((size_t)b * T + t) * 2 * C + h * hs, *dv = dk + C;
            for (int c = 0; c < hs; c++) {
                dqh[c] += g * k[c];
                dk[c] = g * qh[c];
                dv[c] = p[t] * dO[c];
            }
        }
    }
}
