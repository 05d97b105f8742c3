/* layernorm.c: LayerNorm over the last dimension (torch.nn.LayerNorm semantics, biased
 * variance), forward and backward; rows are split over the OpenMP threads. */
#include <math.h>
#include <omp.h>
#include "core/real.h"

static int rows_team(long work) { int nt = omp_in_parallel() ? 1 : omp_get_max_threads(); return work < 65536 || nt < 1 ? 1 : nt; }

/* out (N,C) = (in − mean)·rstd·w + b;  mean, rstd (N) saved when not NULL */
void OPNAME(layernorm_forward)(real *out, real *mean, real *rstd, const real *in, const real *w,
                               const real *b, int N, int C, double eps)
{
    const int nt = rows_team((long)N * C);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int i = 0; i < N; i++) {
        const real *x = in + (size_t)i * C;
        real *y = out + (size_t)i * C;
        double s = 0, s2 = 0;
        for (int c = 0; c < C; c++) s += x[c];
        const double m = s / C;
        for (int c = 0; c < C; c++) { const double d = x[c] - m; s2 += d * d; }
        const double r = 1.0 / sqrt(s2 / C + eps);
        const real mr = (real)m, rr = (real)r;
        for (int c = 0; c < C; c++) y[c] = (x[c] - mr) * rr * w[c] + b[c];
        if (mean) mean[i] = mr;
        if (rstd) rstd[i] = rr;
    }
}

/* din = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dout·w, x̂ = (x − mean)·rstd;
 * dw += Σ_rows dout·x̂; db += Σ_rows dout */
void OPNAME(layernorm_backward)(real *din, real *dw, real *db, const real *dout, const real *in,
                                const real *mean, const real *rstd, const real *w, int N, int C)
{
    const int nt = rows_team((long)N * C);
    if (din) {
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int i = 0; i < N; i++) {
            const real *x = in + (size_t)i * C, *g = dout + (size_t)i * C;
            real *dx = din + (size_t)i * C;
            const real m = mean[i], r = rstd[i];
            double sg = 0, sgx = 0;
            for (int c = 0; c < C; c++) {
                const double gw = (double)g[c] * w[c];
                sg += gw;
                sgx += gw * (x[c] - m) * r;
            }
            const real mg = (real)(sg / C), mgx = (real)(sgx / C);
            for (int c = 0; c < C; c++) dx[c] = r * (g[c] * w[c] - mg - (x[c] - m) * r * mgx);
        }
    }
    if (dw || db) {
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int c = 0; c < C; c++) {
            double sw = 0, sb = 0;
            for (int i = 0; i < N; i++) {
                const real g = dout[(size_t)i * C + c];
                sw += (double)g * (in[(size_t)i * C + c] - mean[i]) * rstd[i];
                sb += g;
            }
            if (dw) dw[c] += (real)sw;
            if (db) db[c] += (real)sb;
        }
    }
}
