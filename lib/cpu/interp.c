/* interp.c: resizing planes as torch.nn.functional.interpolate with align_corners=False and no
 * antialiasing (bicubic A = −0.75 with clamped border indices as upsample_bicubic2d, bilinear as
 * upsample_bilinear2d, legacy nearest as upsample_nearest2d), forward and backward. Done
 * separably: a horizontal pass into (planes,H,Wo), then a vertical one; each 2-d kernel of
 * PyTorch is the product of the two 1-d ones, so only rounding differs. Planes are split over
 * the OpenMP threads.
 *
 * resize_bilinear2d_forward (Inception-v3's input transform) is bilinear with align_corners
 * either way, computed as PyTorch 1.13's upsample_bilinear2d does it: source indices and weights
 * in the op's precision, each output the 2-d weighted sum of its four taps. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/real.h"
#include "core/common.h"

#define TAPS 4

typedef struct { int idx[TAPS]; real w[TAPS]; } tap;

static double cc1(double x, double A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }          /* |x| ≤ 1 */
static double cc2(double x, double A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }   /* 1 < |x| < 2 */
static int clampi(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

/* the 1-d taps of each output position (unused taps have weight 0 and index 0) */
static tap *make_taps(int in, int out, int mode)
{
    tap *t = calloc((size_t)out, sizeof *t);
    if (!t) abort();
    const double scale = (double)in / out;
    for (int o = 0; o < out; o++) {
        tap *p = &t[o];
        if (mode == RESIZE_BICUBIC) {
            const double real_x = scale * (o + 0.5) - 0.5, fl = floor(real_x), x = real_x - fl, A = -0.75;
            const int i0 = (int)fl;
            const double w[4] = {cc2(x + 1, A), cc1(x, A), cc1(1 - x, A), cc2(2 - x, A)};
            for (int k = 0; k < 4; k++) { p->idx[k] = clampi(i0 - 1 + k, in - 1); p->w[k] = (real)w[k]; }
        } else if (mode == RESIZE_BILINEAR) {
            double r = scale * (o + 0.5) - 0.5;
            if (r < 0) r = 0;
            const int i0 = (int)r, i1 = i0 + (i0 < in - 1);
            const double l1 = r - i0;
            p->idx[0] = i0; p->w[0] = (real)(1 - l1);
            p->idx[1] = i1; p->w[1] = (real)l1;
        } else {   /* nearest: PyTorch computes the scale and the index in float */
            const float s = (float)in / (float)out;
            int i = (int)floorf((float)o * s);
            p->idx[0] = i > in - 1 ? in - 1 : i; p->w[0] = 1;
        }
    }
    return t;
}
static int ntaps(int mode) { return mode == RESIZE_BICUBIC ? 4 : mode == RESIZE_BILINEAR ? 2 : 1; }
static int team(size_t work) { int nt = omp_in_parallel() ? 1 : omp_get_max_threads(); return work < 65536 || nt < 1 ? 1 : nt; }

void OPNAME(resize_forward)(real *out, const real *in, int planes, int H, int W, int Ho, int Wo, int mode)
{
    tap *tx = make_taps(W, Wo, mode), *ty = make_taps(H, Ho, mode);
    const int K = ntaps(mode);
    const int nt = team((size_t)planes * Ho * Wo * K);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        real *row = malloc((size_t)H * Wo * sizeof(real) + 1);   /* one plane after the horizontal pass */
#pragma omp for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
            const real *src = in + (size_t)pl * H * W;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < Wo; x++) {
                    real s = 0;
                    for (int k = 0; k < K; k++) s += tx[x].w[k] * src[(size_t)y * W + tx[x].idx[k]];
                    row[(size_t)y * Wo + x] = s;
                }
            real *dst = out + (size_t)pl * Ho * Wo;
            for (int y = 0; y < Ho; y++) {
                real *d = dst + (size_t)y * Wo;
                for (int x = 0; x < Wo; x++) d[x] = 0;
                for (int k = 0; k < K; k++) {
                    const real w = ty[y].w[k];
                    const real *r = row + (size_t)ty[y].idx[k] * Wo;
                    for (int x = 0; x < Wo; x++) d[x] += w * r[x];
                }
            }
        }
        free(row);
    }
    free(tx);
    free(ty);
}

void OPNAME(resize_backward)(real *din, const real *dout, int planes, int H, int W, int Ho, int Wo, int mode)
{
    tap *tx = make_taps(W, Wo, mode), *ty = make_taps(H, Ho, mode);
    const int K = ntaps(mode);
    const int nt = team((size_t)planes * Ho * Wo * K);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        real *row = malloc((size_t)H * Wo * sizeof(real) + 1);
#pragma omp for schedule(static)
        for (int pl = 0; pl < planes; pl++) {
            const real *g = dout + (size_t)pl * Ho * Wo;
            memset(row, 0, (size_t)H * Wo * sizeof(real));
            for (int y = 0; y < Ho; y++)
                for (int k = 0; k < K; k++) {
                    const real w = ty[y].w[k];
                    real *r = row + (size_t)ty[y].idx[k] * Wo;
                    for (int x = 0; x < Wo; x++) r[x] += w * g[(size_t)y * Wo + x];
                }
            real *dst = din + (size_t)pl * H * W;
            memset(dst, 0, (size_t)H * W * sizeof(real));
            for (int y = 0; y < H; y++)
                for (int x = 0; x < Wo; x++) {
                    const real v = row[(size_t)y * Wo + x];
                    for (int k = 0; k < K; k++) dst[(size_t)y * W + tx[x].idx[k]] += tx[x].w[k] * v;
                }
        }
        free(row);
    }
    free(tx);
    free(ty);
}

/* PyTorch's area_pixel_compute_source_index for the linear modes: output o of outn reads input
 * i0 with weight 1 − l1 and i1 with weight l1 (of in) */
static void src_index(int o, int in, int outn, int ac, int *i0, int *i1, real *l1)
{
    real scale = ac ? (outn > 1 ? (real)(in - 1) / (real)(outn - 1) : 0) : (real)in / (real)outn;
    real src = ac ? scale * (real)o : scale * ((real)o + (real)0.5) - (real)0.5;
    if (src < 0) src = 0;
    int i = (int)src;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i + (i < in - 1 ? 1 : 0);
    *l1 = src - (real)i;
}

void OPNAME(resize_bilinear2d_forward)(real *out, const real *in, size_t planes, int H, int W, int Ho, int Wo,
                                       int ac)
{
    int *h0 = xmalloc((size_t)(Ho + Wo) * 2 * sizeof(int)), *h1 = h0 + Ho, *w0 = h1 + Ho, *w1 = w0 + Wo;
    real *lh = xmalloc((size_t)(Ho + Wo) * sizeof(real)), *lw = lh + Ho;
    for (int o = 0; o < Ho; o++) src_index(o, H, Ho, ac, &h0[o], &h1[o], &lh[o]);
    for (int o = 0; o < Wo; o++) src_index(o, W, Wo, ac, &w0[o], &w1[o], &lw[o]);
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < planes; q++) {
        const real *x = in + q * (size_t)H * W;
        real *y = out + q * (size_t)Ho * Wo;
        for (int oh = 0; oh < Ho; oh++) {
            const real *r0 = x + (size_t)h0[oh] * W, *r1 = x + (size_t)h1[oh] * W;
            const real a1 = lh[oh], a0 = 1 - a1;
            for (int ow = 0; ow < Wo; ow++) {
                const real b1 = lw[ow], b0 = 1 - b1;
                y[(size_t)oh * Wo + ow] = a0 * (b0 * r0[w0[ow]] + b1 * r0[w1[ow]]) + a1 * (b0 * r1[w0[ow]] + b1 * r1[w1[ow]]);
            }
        }
    }
    free(h0);
    free(lh);
}
