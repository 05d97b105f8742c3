/* preprocess.c: the pieces of CLIP's image preprocessing that sit in the differentiable path
 * besides the resize (interp.c): an elementwise a·x + b ([-1,1] -> [0,1]), the per-channel
 * normalisation by CLIP's mean and std, and the patch extraction that turns conv1 (stride =
 * kernel = P) into a matrix product. All are cheap next to the transformer and run serially. */
#include <stddef.h>
#include <string.h>
#include "core/real.h"

/* out (n) = a·in + b */
void OPNAME(scale_shift)(real *out, const real *in, size_t n, real a, real b)
{
    for (size_t i = 0; i < n; i++) out[i] = in[i] * a + b;
}

/* out (B,3,HW) = (in − mean_c)/std_c */
void OPNAME(clip_normalize_forward)(real *out, const real *in, int B, size_t HW)
{
    static const float mean[3] = CLIP_MEAN_RGB, std[3] = CLIP_STD_RGB;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++) {
            const size_t o = ((size_t)b * 3 + c) * HW;
            for (size_t i = 0; i < HW; i++) out[o + i] = (in[o + i] - mean[c]) / std[c];
        }
}

/* din (B,3,HW) = dout/std_c */
void OPNAME(clip_normalize_backward)(real *din, const real *dout, int B, size_t HW)
{
    static const float std[3] = CLIP_STD_RGB;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3; c++) {
            const size_t o = ((size_t)b * 3 + c) * HW;
            for (size_t i = 0; i < HW; i++) din[o + i] = dout[o + i] / std[c];
        }
}

/* out (B·g·g, C·P·P) <- in (B,C,S,S), g = S/P */
void OPNAME(patchify_forward)(real *out, const real *in, int B, int C, int S, int P)
{
    const int g = S / P, K = C * P * P;
    for (int b = 0; b < B; b++)
        for (int gy = 0; gy < g; gy++)
            for (int gx = 0; gx < g; gx++) {
                real *row = out + ((size_t)(b * g + gy) * g + gx) * K;
                for (int c = 0; c < C; c++)
                    for (int ky = 0; ky < P; ky++)
                        memcpy(row + (c * P + ky) * P, in + (((size_t)b * C + c) * S + gy * P + ky) * S + gx * P,
                               (size_t)P * sizeof(real));
            }
}

/* din (B,C,S,S) <- dout (B·g·g, C·P·P) */
void OPNAME(patchify_backward)(real *din, const real *dout, int B, int C, int S, int P)
{
    const int g = S / P, K = C * P * P;
    for (int b = 0; b < B; b++)
        for (int gy = 0; gy < g; gy++)
            for (int gx = 0; gx < g; gx++) {
                const real *row = dout + ((size_t)(b * g + gy) * g + gx) * K;
                for (int c = 0; c < C; c++)
                    for (int ky = 0; ky < P; ky++)
                        memcpy(din + (((size_t)b * C + c) * S + gy * P + ky) * S + gx * P, row + (c * P + ky) * P,
                               (size_t)P * sizeof(real));
            }
}
