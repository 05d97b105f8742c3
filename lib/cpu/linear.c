/* linear.c: fully connected layer, PyTorch nn.Linear semantics: out = in · wᵀ + b, with w
 * stored (O,I) as in a state_dict. Each direction is one gemm. The input width is called N
 * here, not I: cblas.h pulls in <complex.h>, whose macro I is the imaginary unit. */
#include "real.h"

/* out (B,O) = in (B,N) · wᵀ (N,O) + b (O);  w (O,N); b may be NULL */
void OPNAME(linear_forward)(real *out, const real *in, const real *w, const real *b,
                            int B, int N, int O)
{
    if (b) {
        /* preset the bias; the gemm adds onto it */
        for (int i = 0; i < B; i++)
            for (int o = 0; o < O; o++) out[(size_t)i * O + o] = b[o];
    }
    cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, O, N,
               1, in, N, w, N, b ? 1 : 0, out, O);
}

/* din (B,N) = dout (B,O) · w (O,N) (assigned);  dw (O,N) += doutᵀ · in;  db (O) += Σ_b dout */
void OPNAME(linear_backward)(real *din, real *dw, real *db, const real *dout, const real *in,
                             const real *w, int B, int N, int O)
{
    if (din)
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, N, O,
                   1, dout, O, w, N, 0, din, N);
    if (dw)
        cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, N, B,
                   1, dout, O, in, N, 1, dw, N);
    if (db)
        for (int i = 0; i < B; i++)
            for (int o = 0; o < O; o++) db[o] += dout[(size_t)i * O + o];
}
