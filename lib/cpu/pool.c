/* pool.c: Inception-v3's pooling over independent H×W planes, forward only: 3x3 max pooling (any
 * stride and padding), 3x3 stride-1 average pooling with a per-channel bias and ReLU after it,
 * and global average pooling. Contracts in core/op_list.h.
 *
 * The 3x3 windows are done in two passes per output row: the (up to) three input rows are
 * reduced into one padded row r, then each output takes three neighbours of r. Planes are split
 * over the OpenMP threads, each with its own row buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/real.h"
#include "core/common.h"

/* max that propagates NaN as PyTorch's pooling does (any NaN in the window wins) */
static inline real nmax(real m, real v) { return (v > m || v != v) ? v : m; }

void OPNAME(maxpool3_forward)(real *out, const real *in, size_t planes, int H, int W, int s, int p)
{
    const int Ho = (H + 2 * p - 3) / s + 1, Wo = (W + 2 * p - 3) / s + 1;
#pragma omp parallel
    {
        real *r = xmalloc((size_t)(W + 2) * sizeof(real));   /* r[1 + iw], r[0] = r[W+1] = −inf */
        r[0] = r[W + 1] = -INFINITY;
#pragma omp for schedule(static)
        for (size_t q = 0; q < planes; q++) {
            const real *x = in + q * (size_t)H * W;
            real *y = out + q * (size_t)Ho * Wo;
            for (int oh = 0; oh < Ho; oh++) {
                int h0 = oh * s - p, h1 = h0 + 2;
                if (h0 < 0) h0 = 0;
                if (h1 > H - 1) h1 = H - 1;
                memcpy(r + 1, x + (size_t)h0 * W, (size_t)W * sizeof(real));
                for (int ih = h0 + 1; ih <= h1; ih++) {
                    const real *xi = x + (size_t)ih * W;
                    for (int iw = 0; iw < W; iw++) r[1 + iw] = nmax(r[1 + iw], xi[iw]);
                }
                real *yo = y + (size_t)oh * Wo;
                const real *rr = r + 1 - p;   /* rr[ow·s + k], k = 0..2 */
                if (s == 2)
                    for (int ow = 0; ow < Wo; ow++) yo[ow] = nmax(nmax(rr[2 * ow], rr[2 * ow + 1]), rr[2 * ow + 2]);
                else
                    for (int ow = 0; ow < Wo; ow++)
                        yo[ow] = nmax(nmax(rr[ow * s], rr[ow * s + 1]), rr[ow * s + 2]);
            }
        }
        free(r);
    }
}

void OPNAME(avgpool3_bias_relu_forward)(real *out, const real *in, int C, int B, int H, int W,
                                        int count_include_pad, const real *bias, int relu)
{
    const size_t planes = (size_t)C * B;
    real *inv = xmalloc((size_t)H * W * sizeof(real));   /* 1 / divisor per output pixel */
    for (int oh = 0; oh < H; oh++)
        for (int ow = 0; ow < W; ow++) {
            int nh = 3 - (oh == 0) - (oh == H - 1), nw = 3 - (ow == 0) - (ow == W - 1);
            if (H == 1) nh = 1;
            if (W == 1) nw = 1;
            inv[oh * W + ow] = count_include_pad ? (real)1 / (real)9 : (real)1 / (real)(nh * nw);
        }
#pragma omp parallel
    {
        real *r = xmalloc((size_t)(W + 2) * sizeof(real));   /* r[1 + iw], r[0] = r[W+1] = 0 */
        r[0] = r[W + 1] = 0;
#pragma omp for schedule(static)
        for (size_t q = 0; q < planes; q++) {
            const real *x = in + q * (size_t)H * W;
            real *y = out + q * (size_t)H * W;
            const real bb = bias ? bias[q / (size_t)B] : 0;
            for (int oh = 0; oh < H; oh++) {
                int h0 = oh > 0 ? oh - 1 : 0, h1 = oh + 1 < H ? oh + 1 : H - 1;
                memcpy(r + 1, x + (size_t)h0 * W, (size_t)W * sizeof(real));
                for (int ih = h0 + 1; ih <= h1; ih++) {
                    const real *xi = x + (size_t)ih * W;
                    for (int iw = 0; iw < W; iw++) r[1 + iw] += xi[iw];
                }
                real *yo = y + (size_t)oh * W;
                const real *iv = inv + (size_t)oh * W;
                if (relu)
                    for (int ow = 0; ow < W; ow++) {
                        real v = (r[ow] + r[ow + 1] + r[ow + 2]) * iv[ow] + bb;
                        yo[ow] = v > 0 ? v : 0;
                    }
                else
                    for (int ow = 0; ow < W; ow++) yo[ow] = (r[ow] + r[ow + 1] + r[ow + 2]) * iv[ow] + bb;
            }
        }
        free(r);
    }
    free(inv);
}

void OPNAME(meanpool_forward)(real *out, const real *in, size_t planes, int HW)
{
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < planes; q++) {
        const real *x = in + q * (size_t)HW;
        double s = 0;
        for (int i = 0; i < HW; i++) s += x[i];
        out[q] = (real)(s / HW);
    }
}
