/* vec.c: vector helpers, a NaN/Inf search and the Adam update (torch.optim.Adam semantics, no
 * weight decay, no amsgrad). */
#include <math.h>
#include <stddef.h>
#include "core/real.h"
#include "core/finite.h"

/* Big loops are split over the OpenMP threads, the same threads that conv2d.c and linear.c
 * run their one-thread gemms on (measured 2.5× faster than serial on 2 cores). -DOPS_OMP=0
 * makes them serial. */
#ifndef OPS_OMP
#define OPS_OMP 1
#endif

#ifdef OPS_F64
#define SQRT sqrt
#else
#define SQRT sqrtf
#endif
#define PAR_MIN 65536   /* elements below which a loop runs on one thread */

/* out (n) = a + b */
void OPNAME(vec_add)(real *out, const real *a, const real *b, size_t n)
{
#pragma omp parallel for simd schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* y (n) += alpha·x */
void OPNAME(vec_axpy)(real *y, real alpha, const real *x, size_t n)
{
#pragma omp parallel for simd schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

/* y (n) *= alpha */
void OPNAME(vec_scale)(real *y, real alpha, size_t n)
{
#pragma omp parallel for simd schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] *= alpha;
}

/* Σ a·b, accumulated in double over 8 fixed blocks summed in order, so that the result does
 * not depend on the number of threads */
double OPNAME(vec_dot)(const real *a, const real *b, size_t n)
{
    enum { NB = 8 };
    double part[NB];
#pragma omp parallel for schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (int k = 0; k < NB; k++) {
        const size_t i0 = n * k / NB, i1 = n * (k + 1) / NB;
        double s = 0;
        for (size_t i = i0; i < i1; i++) s += (double)a[i] * b[i];
        part[k] = s;
    }
    double s = 0;
    for (int k = 0; k < NB; k++) s += part[k];
    return s;
}

/* the index of the first NaN or ±Inf in x (n), or −1: core/finite.h's search (float), a plain one
 * (double). One thread: the pass is bound by memory, and waking the other threads for it cost more
 * than it saved whenever other work shared the cores */
int64_t OPNAME(vec_first_nonfinite)(const real *x, size_t n)
{
#ifdef OPS_F64
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (int64_t)i;
    return -1;
#else
    return (int64_t)first_nonfinite(x, n);
#endif
}

/* One Adam step on p (n) with gradient g (n); step is the 1-based count after this update.
 *   m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g·g
 *   p −= lr/(1−b1^step) · m / (sqrt(v)/sqrt(1−b2^step) + eps)
 * Bias corrections in double; the elementwise work in `real`, in the order of PyTorch's
 * single-tensor Adam (denom = sqrt(v)/bc2_sqrt + eps; p += −step_size·(m/denom)). */
void OPNAME(adam_update)(real *p, real *m, real *v, const real *g, size_t n,
                         double lr, double beta1, double beta2, double eps, long step)
{
    const double bc1 = 1 - pow(beta1, (double)step), bc2 = 1 - pow(beta2, (double)step);
    const real neg_step_size = (real)(-lr / bc1), bc2_sqrt = (real)sqrt(bc2);
    const real b1 = (real)beta1, b2 = (real)beta2, c1 = (real)(1 - beta1), c2 = (real)(1 - beta2);
    const real e = (real)eps;
#pragma omp parallel for simd schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        const real gi = g[i];
        const real mi = b1 * m[i] + c1 * gi;
        const real vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] += neg_step_size * (mi / (SQRT(vi) / bc2_sqrt + e));
    }
}
