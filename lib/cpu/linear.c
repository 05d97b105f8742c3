/* linear.c: fully connected layer, PyTorch nn.Linear semantics: out = in · wᵀ + b, with w
 * stored (O,I) as in a state_dict. The input width is called N here, not I: cblas.h pulls in
 * <complex.h>, whose macro I is the imaginary unit.
 *
 * Threads as in conv2d.c: big products are split over the OpenMP threads by output columns
 * (forward, dw) or input columns (din), each thread calling a one-thread gemm on its slice with
 * OpenBLAS's own threads switched off meanwhile, so that OpenBLAS and libgomp threads never
 * spin against each other on the 2 cores. Small ones run on the calling thread. */
#include <omp.h>
#include "core/real.h"
#include "cpu/threads.h"


/* Threads for `flops` of work that splits into at most `parts` slices. */

/* out (B,O) = in (B,N) · wᵀ (N,O) + b (O);  w (O,N); b may be NULL */
void OPNAME(linear_forward)(real *out, const real *in, const real *w, const real *b,
                            int B, int N, int O)
{
    if (b)   /* preset the bias; the gemm adds onto it */
        for (int i = 0; i < B; i++)
            for (int o = 0; o < O; o++) out[(size_t)i * O + o] = b[o];
    const real beta = b ? 1 : 0;
    const int nt = team_size(2.0 * B * N * O, O);
    const int saved = blas_single(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = omp_get_thread_num(), o0 = (int)((long)O * t / nt), o1 = (int)((long)O * (t + 1) / nt);
        /* out[:, o0:o1] (B, o1−o0) = in (B,N) · w[o0:o1, :]ᵀ */
        if (o1 > o0)
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, o1 - o0, N,
                       1, in, N, w + (size_t)o0 * N, N, beta, out + o0, O);
    }
    blas_restore(nt, saved);
}

/* din (B,N) = dout (B,O) · w (O,N) (assigned);  dw (O,N) += doutᵀ · in;  db (O) += Σ_b dout */
void OPNAME(linear_backward)(real *din, real *dw, real *db, const real *dout, const real *in,
                             const real *w, int B, int N, int O)
{
    if (db)
        for (int i = 0; i < B; i++)
            for (int o = 0; o < O; o++) db[o] += dout[(size_t)i * O + o];
    if (!din && !dw) return;
    const int nt = team_size(2.0 * B * N * O * ((din != NULL) + (dw != NULL)), N < O ? N : O);
    const int saved = blas_single(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = omp_get_thread_num();
        if (din) {   /* din[:, i0:i1] (B, i1−i0) = dout (B,O) · w[:, i0:i1] */
            const int i0 = (int)((long)N * t / nt), i1 = (int)((long)N * (t + 1) / nt);
            if (i1 > i0)
                cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, i1 - i0, O,
                           1, dout, O, w + i0, N, 0, din + i0, N);
        }
        if (dw) {    /* dw[o0:o1, :] (o1−o0, N) += dout[:, o0:o1]ᵀ · in (B,N) */
            const int o0 = (int)((long)O * t / nt), o1 = (int)((long)O * (t + 1) / nt);
            if (o1 > o0)
                cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, N, B,
                           1, dout + o0, O, in, N, 1, dw + (size_t)o0 * N, N);
        }
    }
    blas_restore(nt, saved);
}
