/* resample.c: 2× nearest upsampling (F.interpolate(scale_factor=2, mode='nearest')) and 2×2
 * average pooling (F.avg_pool2d(x, 2)) over `planes` independent H×W planes (C·B of them in
 * the channel-major layout). Loops run over rows of the small side, inner loops along W. */
#include <string.h>
#include "core/real.h"

/* Big loops are split over the OpenMP threads, the same threads that conv2d.c and linear.c
 * run their one-thread gemms on (measured 2.5× faster than serial on 2 cores). -DOPS_OMP=0
 * makes them serial. */
#ifndef OPS_OMP
#define OPS_OMP 1
#endif

#define PAR_MIN 32768   /* elements below which a loop runs on one thread */

/* out (planes, 2H, 2W): out[p, 2i+a, 2j+e] = in[p, i, j] */
void OPNAME(upsample2x_forward)(real *out, const real *in, int planes, int H, int W)
{
    const long rows = (long)planes * H;
#pragma omp parallel for schedule(static) if (OPS_OMP && rows * W > PAR_MIN)
    for (long r = 0; r < rows; r++) {
        const real *s = in + (size_t)r * W;
        real *d = out + (size_t)r * 4 * W;   /* input row r -> output rows 2r, 2r+1 */
        for (int j = 0; j < W; j++) d[2 * j] = d[2 * j + 1] = s[j];
        memcpy(d + 2 * W, d, (size_t)2 * W * sizeof(real));
    }
}

/* din (planes, H, W) = sum of the 2×2 block of dout (planes, 2H, 2W) each input fed (assigned) */
void OPNAME(upsample2x_backward)(real *din, const real *dout, int planes, int H, int W)
{
    const long rows = (long)planes * H;
#pragma omp parallel for schedule(static) if (OPS_OMP && rows * W > PAR_MIN)
    for (long r = 0; r < rows; r++) {
        const real *g0 = dout + (size_t)r * 4 * W, *g1 = g0 + 2 * W;
        real *d = din + (size_t)r * W;
        for (int j = 0; j < W; j++)
            d[j] = (g0[2 * j] + g0[2 * j + 1]) + (g1[2 * j] + g1[2 * j + 1]);
    }
}

/* out (planes, H/2, W/2) = mean of each 2×2 block of in (planes, H, W); H, W even */
void OPNAME(avgpool2x2_forward)(real *out, const real *in, int planes, int H, int W)
{
    const long rows = (long)planes * (H / 2);
    const int Wo = W / 2;
#pragma omp parallel for schedule(static) if (OPS_OMP && rows * W > PAR_MIN)
    for (long r = 0; r < rows; r++) {
        const real *s0 = in + (size_t)r * 2 * W, *s1 = s0 + W;
        real *d = out + (size_t)r * Wo;
        for (int j = 0; j < Wo; j++)
            d[j] = (real)0.25 * ((s0[2 * j] + s0[2 * j + 1]) + (s1[2 * j] + s1[2 * j + 1]));
    }
}

/* din (planes, H, W) = (or += with add) dout (planes, H/2, W/2) / 4 spread over each 2×2 block */
static inline void avgpool_spread(real *din, const real *dout, int planes, int H, int W, int add)
{
    const long rows = (long)planes * (H / 2);
    const int Wo = W / 2;
#pragma omp parallel for schedule(static) if (OPS_OMP && rows * W > PAR_MIN)
    for (long r = 0; r < rows; r++) {
        const real *g = dout + (size_t)r * Wo;
        real *d0 = din + (size_t)r * 2 * W, *d1 = d0 + W;
        for (int j = 0; j < Wo; j++) {
            const real v = (real)0.25 * g[j];
            if (add) {
                d0[2 * j] += v;
                d0[2 * j + 1] += v;
                d1[2 * j] += v;
                d1[2 * j + 1] += v;
            } else {
                d0[2 * j] = d0[2 * j + 1] = d1[2 * j] = d1[2 * j + 1] = v;
            }
        }
    }
}

/* din (planes, H, W) += dout (planes, H/2, W/2) / 4 spread over each 2×2 block (accumulated) */
void OPNAME(avgpool2x2_backward_add)(real *din, const real *dout, int planes, int H, int W)
{
    avgpool_spread(din, dout, planes, H, W, 1);
}

/* din (planes, H, W) = dout (planes, H/2, W/2) / 4 spread over each 2×2 block (assigned) */
void OPNAME(avgpool2x2_backward)(real *din, const real *dout, int planes, int H, int W)
{
    avgpool_spread(din, dout, planes, H, W, 0);
}
