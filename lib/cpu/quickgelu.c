/* quickgelu.c: CLIP's QuickGELU activation x·sigmoid(1.702·x), forward and backward. */
#include <math.h>
#include <omp.h>
#include "core/real.h"

static int team(size_t n) { int nt = omp_in_parallel() ? 1 : omp_get_max_threads(); return n < 65536 || nt < 1 ? 1 : nt; }

void OPNAME(quickgelu_forward)(real *out, const real *in, size_t n)
{
    const int nt = team(n);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (size_t i = 0; i < n; i++) {
        const real x = in[i];
        out[i] = x / (1 + REAL_EXP(-(real)1.702 * x));
    }
}

/* din = dout·(s + 1.702·x·s·(1 − s)), s = sigmoid(1.702·x); din may alias dout */
void OPNAME(quickgelu_backward)(real *din, const real *dout, const real *in, size_t n)
{
    const int nt = team(n);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (size_t i = 0; i < n; i++) {
        const real x = in[i], s = 1 / (1 + REAL_EXP(-(real)1.702 * x));
        din[i] = dout[i] * (s + (real)1.702 * x * s * (1 - s));
    }
}
