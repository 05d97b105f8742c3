/* pointwise.c: elementwise activations, PyTorch semantics: LeakyReLU, ReLU (gradient 0 at 0),
 * Tanh. n elements; out may alias in and din may alias dout. */
#include <math.h>
#include <stddef.h>
#include "core/real.h"

/* Big loops are split over the OpenMP threads, the same threads that conv2d.c and linear.c
 * run their one-thread gemms on (measured 2.5× faster than serial on 2 cores). -DOPS_OMP=0
 * makes them serial. */
#ifndef OPS_OMP
#define OPS_OMP 1
#endif

#define PAR_MIN 32768   /* elements below which a loop runs on one thread */

/* out (n) = in > 0 ? in : slope·in */
void OPNAME(leaky_relu_forward)(real *out, const real *in, size_t n, real slope)
{
#pragma omp parallel for simd schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : slope * in[i];
}

/* din (n) = dout · (x > 0 ? 1 : slope); x is the forward input or output (same sign) */
void OPNAME(leaky_relu_backward)(real *din, const real *dout, const real *x, size_t n, real slope)
{
#pragma omp parallel for simd schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (size_t i = 0; i < n; i++) din[i] = x[i] > 0 ? dout[i] : slope * dout[i];
}

/* out (n) = max(in, 0) */
void OPNAME(relu_forward)(real *out, const real *in, size_t n)
{
#pragma omp parallel for simd schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = in[i] > 0 ? in[i] : 0;
}

/* din (n) = x > 0 ? dout : 0; x is the forward input or output */
void OPNAME(relu_backward)(real *din, const real *dout, const real *x, size_t n)
{
#pragma omp parallel for simd schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (size_t i = 0; i < n; i++) din[i] = x[i] > 0 ? dout[i] : 0;
}

/* out (n) = tanh(in) */
void OPNAME(tanh_forward)(real *out, const real *in, size_t n)
{
#pragma omp parallel for schedule(static) if (OPS_OMP && n > PAR_MIN / 4)
    for (size_t i = 0; i < n; i++) out[i] = REAL_TANH(in[i]);
}

/* din (n) = dout · (1 − out²); out is tanh's output */
void OPNAME(tanh_backward)(real *din, const real *dout, const real *out, size_t n)
{
#pragma omp parallel for simd schedule(static) if (OPS_OMP && n > PAR_MIN)
    for (size_t i = 0; i < n; i++) din[i] = dout[i] * (1 - out[i] * out[i]);
}
