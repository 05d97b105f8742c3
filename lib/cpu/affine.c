/* affine.c: the reshaping and modulating ops of DF-GAN's blocks: per-sample per-channel affine
 * modulation gamma·x + beta (DFBLK), the sentence embedding replicated over space (NetC's
 * input), row concatenation (noise ‖ sentence), and the NCHW <-> CNHW layout transposes.
 * Every gradient here is an activation gradient and is assigned. */
#include <string.h>
#include "core/real.h"

/* Big loops are split over the OpenMP threads, the same threads that conv2d.c and linear.c
 * run their one-thread gemms on (measured 2.5× faster than serial on 2 cores). -DOPS_OMP=0
 * makes them serial. */
#ifndef OPS_OMP
#define OPS_OMP 1
#endif

#define PAR_MIN 32768   /* elements below which a loop runs on one thread */

/* out (C,B,HW) = gamma[b,c]·x[c,b,:] + beta[b,c];  gamma, beta (B,C); out may alias x */
void OPNAME(affine_forward)(real *out, const real *x, const real *gamma, const real *beta,
                            int C, int B, int HW)
{
    const int rows = C * B;
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)rows * HW > PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const int c = r / B, b = r % B;
        const real g = gamma[(size_t)b * C + c], e = beta[(size_t)b * C + c];
        const real *s = x + (size_t)r * HW;
        real *d = out + (size_t)r * HW;
        for (int i = 0; i < HW; i++) d[i] = g * s[i] + e;
    }
}

/* dx (C,B,HW) = gamma·dout;  dgamma (B,C) = Σ_i dout·x;  dbeta (B,C) = Σ_i dout (all assigned) */
void OPNAME(affine_backward)(real *dx, real *dgamma, real *dbeta, const real *dout, const real *x,
                             const real *gamma, int C, int B, int HW)
{
    const int rows = C * B;
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)rows * HW > PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const int c = r / B, b = r % B;
        const size_t k = (size_t)b * C + c;
        const real *g = dout + (size_t)r * HW, *s = x + (size_t)r * HW;
        if (dgamma || dbeta) {
            double sg = 0, sb = 0;
            /* in double, vectorised (simd may reorder the sums) */
#pragma omp simd reduction(+ : sg, sb)
            for (int i = 0; i < HW; i++) {
                sg += (double)g[i] * s[i];
                sb += g[i];
            }
            if (dgamma) dgamma[k] = (real)sg;
            if (dbeta) dbeta[k] = (real)sb;
        }
        if (dx) {
            const real gm = gamma[k];
            real *d = dx + (size_t)r * HW;
            for (int i = 0; i < HW; i++) d[i] = gm * g[i];
        }
    }
}

/* out (C,B,HW) = leaky_relu(gamma[b,c]·x[c,b,:] + beta[b,c], slope): affine_forward then
 * leaky_relu_forward without a second pass over memory; out may alias x */
void OPNAME(affine_lrelu_forward)(real *out, const real *x, const real *gamma, const real *beta,
                                  int C, int B, int HW, real slope)
{
    const int rows = C * B;
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)rows * HW > PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const int c = r / B, b = r % B;
        const real g = gamma[(size_t)b * C + c], e = beta[(size_t)b * C + c];
        const real *s = x + (size_t)r * HW;
        real *d = out + (size_t)r * HW;
#pragma omp simd
        for (int i = 0; i < HW; i++) {
            const real v = g * s[i] + e;
            d[i] = v > 0 ? v : slope * v;
        }
    }
}

/* g = dout·(y > 0 ? 1 : slope), y (C,B,HW) the forward's output:  dx (C,B,HW) = gamma·g;
 * dgamma (B,C) = Σ_i g·x;  dbeta (B,C) = Σ_i g (all assigned; dx may alias dout) */
void OPNAME(affine_lrelu_backward)(real *dx, real *dgamma, real *dbeta, const real *dout, const real *x,
                                   const real *y, const real *gamma, int C, int B, int HW, real slope)
{
    const int rows = C * B;
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)rows * HW > PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const int c = r / B, b = r % B;
        const size_t k = (size_t)b * C + c;
        const real *g = dout + (size_t)r * HW, *s = x + (size_t)r * HW, *m = y + (size_t)r * HW;
        const real gm = gamma[k];
        double sg = 0, sb = 0;
        if (dx) {   /* one pass: each element's gradient read before dx (which may be dout) is written */
            real *d = dx + (size_t)r * HW;
#pragma omp simd reduction(+ : sg, sb)
            for (int i = 0; i < HW; i++) {
                const real v = g[i] * (m[i] > 0 ? 1 : slope);
                sg += (double)v * s[i];
                sb += v;
                d[i] = gm * v;
            }
        } else if (dgamma || dbeta) {
#pragma omp simd reduction(+ : sg, sb)
            for (int i = 0; i < HW; i++) {
                const real v = g[i] * (m[i] > 0 ? 1 : slope);
                sg += (double)v * s[i];
                sb += v;
            }
        }
        if (dgamma) dgamma[k] = (real)sg;
        if (dbeta) dbeta[k] = (real)sb;
    }
}

/* out (S,B,HW): out[s,b,:] = in[b,s];  in (B,S) */
void OPNAME(replicate_forward)(real *out, const real *in, int B, int S, int HW)
{
    const int rows = S * B;
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)rows * HW > PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const real v = in[(size_t)(r % B) * S + r / B];
        real *d = out + (size_t)r * HW;
        for (int i = 0; i < HW; i++) d[i] = v;
    }
}

/* ds (B,S) = Σ_i dout[s,b,i];  dout (S,B,HW) */
void OPNAME(replicate_backward)(real *ds, const real *dout, int B, int S, int HW)
{
    const int rows = S * B;
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)rows * HW > PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const real *g = dout + (size_t)r * HW;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < HW; i++) s += g[i];
        ds[(size_t)(r % B) * S + r / B] = (real)s;
    }
}

/* out (B,A+Bn) = [a (B,A) | b (B,Bn)] */
void OPNAME(concat_rows_forward)(real *out, const real *a, const real *b, int B, int A, int Bn)
{
    for (int i = 0; i < B; i++) {
        real *d = out + (size_t)i * (A + Bn);
        memcpy(d, a + (size_t)i * A, (size_t)A * sizeof(real));
        memcpy(d + A, b + (size_t)i * Bn, (size_t)Bn * sizeof(real));
    }
}

/* da (B,A), db (B,Bn) = the two column blocks of dout (B,A+Bn); either may be NULL */
void OPNAME(concat_rows_backward)(real *da, real *db, const real *dout, int B, int A, int Bn)
{
    for (int i = 0; i < B; i++) {
        const real *g = dout + (size_t)i * (A + Bn);
        if (da) memcpy(da + (size_t)i * A, g, (size_t)A * sizeof(real));
        if (db) memcpy(db + (size_t)i * Bn, g + A, (size_t)Bn * sizeof(real));
    }
}

/* out (C,B,HW) <- in (B,C,HW) */
void OPNAME(nchw_to_cnhw)(real *out, const real *in, int B, int C, int HW)
{
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)B * C * HW > 4 * PAR_MIN)
    for (int r = 0; r < C * B; r++) {
        const int c = r / B, b = r % B;
        memcpy(out + (size_t)r * HW, in + ((size_t)b * C + c) * HW, (size_t)HW * sizeof(real));
    }
}

/* out (B,C,HW) <- in (C,B,HW) */
void OPNAME(cnhw_to_nchw)(real *out, const real *in, int B, int C, int HW)
{
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)B * C * HW > 4 * PAR_MIN)
    for (int r = 0; r < B * C; r++) {
        const int b = r / C, c = r % C;
        memcpy(out + (size_t)r * HW, in + ((size_t)c * B + b) * HW, (size_t)HW * sizeof(real));
    }
}
