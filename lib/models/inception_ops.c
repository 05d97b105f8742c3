/* inception_ops.c: see inception_ops.h. */
#include "models/inception_ops.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

#define COL_LIMIT ((size_t)4 << 20)   /* bytes of im2col buffer per chunk: cache-sized (measured best of 1–32 MiB) */

static float *col_buf;
static size_t col_cap;

static float *col_grow(size_t n)
{
    if (n > col_cap) {
        free(col_buf);
        col_buf = xmalloc(n * sizeof(float));
        col_cap = n;
    }
    return col_buf;
}

/* col (C·KH·KW, (r1−r0)·Wo) <- the output rows r0 .. r1−1 of in (C,B,H,W), output row r being
 * sample r / Ho, oh = r % Ho; col row k = (c,kh,kw) */
static void im2col(float *col, const float *in, int B, int C, int H, int W, int KH, int KW, int sh, int sw,
                   int ph, int pw, int Ho, int Wo, int r0, int r1)
{
    const size_t HW = (size_t)H * W, N = (size_t)(r1 - r0) * Wo;
    const int rows = C * KH * KW;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < rows; k++) {
        const int c = k / (KH * KW), kh = (k / KW) % KH, kw = k % KW;
        /* valid output columns: 0 <= ow·sw − pw + kw < W */
        int lo = 0, hi = Wo;
        while (lo < Wo && lo * sw - pw + kw < 0) lo++;
        while (hi > lo && (hi - 1) * sw - pw + kw >= W) hi--;
        float *dst = col + (size_t)k * N;
        for (int r = r0; r < r1; r++, dst += Wo) {
            const int b = r / Ho, oh = r % Ho;
            const float *plane = in + ((size_t)c * B + b) * HW;
            const int ih = oh * sh - ph + kh;
            if (ih < 0 || ih >= H) {
                memset(dst, 0, (size_t)Wo * sizeof(float));
                continue;
            }
            const float *s = plane + (size_t)ih * W - pw + kw;
            for (int ow = 0; ow < lo; ow++) dst[ow] = 0;
            if (sw == 1)
                memcpy(dst + lo, s + lo, (size_t)(hi - lo) * sizeof(float));
            else
                for (int ow = lo; ow < hi; ow++) dst[ow] = s[ow * sw];
            for (int ow = hi; ow < Wo; ow++) dst[ow] = 0;
        }
    }
}

void iconv_forward(float *out, const float *in, const float *w, const float *b, int B, int C, int H, int W,
                   int OC, int KH, int KW, int sh, int sw, int ph, int pw, int relu)
{
    const int Ho = (H + 2 * ph - KH) / sh + 1, Wo = (W + 2 * pw - KW) / sw + 1;
    const size_t HoWo = (size_t)Ho * Wo, N = (size_t)B * HoWo;
    const int K = C * KH * KW;
    if (KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)N, C, 1.0f, w, C, in, (int)N, 0.0f, out,
                    (int)N);
    } else {
        /* chunks of whole output rows: a column buffer that stays in cache, but at least 4·OC
         * columns so that packing the weights once per chunk stays cheap */
        const int R = B * Ho;
        size_t cols = COL_LIMIT / ((size_t)K * sizeof(float));
        if (cols < (size_t)4 * OC) cols = (size_t)4 * OC;
        int nr = (int)(cols / (size_t)Wo);
        if (nr < 1) nr = 1;
        if (nr > R) nr = R;
        float *col = col_grow((size_t)K * nr * Wo);
        for (int r0 = 0; r0 < R; r0 += nr) {
            int r1 = R - r0 < nr ? R : r0 + nr;
            im2col(col, in, B, C, H, W, KH, KW, sh, sw, ph, pw, Ho, Wo, r0, r1);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (r1 - r0) * Wo, K, 1.0f, w, K, col,
                        (r1 - r0) * Wo, 0.0f, out + (size_t)r0 * Wo, (int)N);
        }
    }
    if (b || relu) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < OC; o++) {
            float *p = out + (size_t)o * N;
            const float bias = b ? b[o] : 0.0f;
            if (relu)
                for (size_t i = 0; i < N; i++) { float v = p[i] + bias; p[i] = v > 0 ? v : 0; }
            else
                for (size_t i = 0; i < N; i++) p[i] += bias;
        }
    }
}

/* max that propagates NaN as PyTorch's pooling does (any NaN in the window wins) */
static inline float nmax(float m, float v) { return (v > m || v != v) ? v : m; }

void imaxpool3_forward(float *out, const float *in, size_t planes, int H, int W, int s, int p)
{
    const int Ho = (H + 2 * p - 3) / s + 1, Wo = (W + 2 * p - 3) / s + 1;
#pragma omp parallel
    {
        float *r = xmalloc((size_t)(W + 2) * sizeof(float));   /* r[1 + iw], r[0] = r[W+1] = −inf */
        r[0] = r[W + 1] = -INFINITY;
#pragma omp for schedule(static)
        for (size_t q = 0; q < planes; q++) {
            const float *x = in + q * (size_t)H * W;
            float *y = out + q * (size_t)Ho * Wo;
            for (int oh = 0; oh < Ho; oh++) {
                int h0 = oh * s - p, h1 = h0 + 2;
                if (h0 < 0) h0 = 0;
                if (h1 > H - 1) h1 = H - 1;
                const float *x0 = x + (size_t)h0 * W;
                memcpy(r + 1, x0, (size_t)W * sizeof(float));
                for (int ih = h0 + 1; ih <= h1; ih++) {
                    const float *xi = x + (size_t)ih * W;
                    for (int iw = 0; iw < W; iw++) r[1 + iw] = nmax(r[1 + iw], xi[iw]);
                }
                float *yo = y + (size_t)oh * Wo;
                const float *rr = r + 1 - p;   /* rr[ow·s + k], k = 0..2 */
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

/* planes q of in (C·B planes, channel c = q / B): out = relu?(avg3x3(in) + bias[c]) */
static void avgpool3(float *out, const float *in, size_t planes, int B, int H, int W, int count_include_pad,
                     const float *bias, int relu)
{
    float *inv = xmalloc((size_t)H * W * sizeof(float));   /* 1 / divisor per output pixel */
    for (int oh = 0; oh < H; oh++)
        for (int ow = 0; ow < W; ow++) {
            int nh = 3 - (oh == 0) - (oh == H - 1), nw = 3 - (ow == 0) - (ow == W - 1);
            if (H == 1) nh = 1;
            if (W == 1) nw = 1;
            inv[oh * W + ow] = count_include_pad ? 1.0f / 9.0f : 1.0f / (float)(nh * nw);
        }
#pragma omp parallel
    {
        float *r = xmalloc((size_t)(W + 2) * sizeof(float));
        r[0] = r[W + 1] = 0;
#pragma omp for schedule(static)
        for (size_t q = 0; q < planes; q++) {
            const float *x = in + q * (size_t)H * W;
            float *y = out + q * (size_t)H * W;
            const float bb = bias ? bias[q / (size_t)B] : 0.0f;
            for (int oh = 0; oh < H; oh++) {
                int h0 = oh > 0 ? oh - 1 : 0, h1 = oh + 1 < H ? oh + 1 : H - 1;
                memcpy(r + 1, x + (size_t)h0 * W, (size_t)W * sizeof(float));
                for (int ih = h0 + 1; ih <= h1; ih++) {
                    const float *xi = x + (size_t)ih * W;
                    for (int iw = 0; iw < W; iw++) r[1 + iw] += xi[iw];
                }
                float *yo = y + (size_t)oh * W;
                const float *iv = inv + (size_t)oh * W;
                if (relu)
                    for (int ow = 0; ow < W; ow++) {
                        float v = (r[ow] + r[ow + 1] + r[ow + 2]) * iv[ow] + bb;
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

void iavgpool3_bias_relu(float *out, const float *in, int C, int B, int H, int W, int count_include_pad,
                         const float *bias, int relu)
{
    avgpool3(out, in, (size_t)C * B, B, H, W, count_include_pad, bias, relu);
}

void ibias_relu(float *out, const float *in, const float *b, int rows, size_t N)
{
#pragma omp parallel for schedule(static)
    for (int o = 0; o < rows; o++) {
        const float *x = in + (size_t)o * N;
        float *y = out + (size_t)o * N;
        const float bias = b[o];
        for (size_t i = 0; i < N; i++) { float v = x[i] + bias; y[i] = v > 0 ? v : 0; }
    }
}

void imeanpool_forward(float *out, const float *in, size_t planes, int HW)
{
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < planes; q++) {
        const float *x = in + q * (size_t)HW;
        double s = 0;
        for (int i = 0; i < HW; i++) s += x[i];
        out[q] = (float)(s / HW);
    }
}

/* PyTorch's area_pixel_compute_source_index for linear modes */
static void src_index(int o, int in, int outn, int ac, int *i0, int *i1, float *l1)
{
    float scale = ac ? (outn > 1 ? (float)(in - 1) / (float)(outn - 1) : 0.0f) : (float)in / (float)outn;
    float src = ac ? scale * (float)o : scale * ((float)o + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int i = (int)src;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i + (i < in - 1 ? 1 : 0);
    *l1 = src - (float)i;
}

void iresize_bilinear(float *out, const float *in, size_t planes, int H, int W, int Ho, int Wo, int ac)
{
    int *h0 = xmalloc((size_t)(Ho + Wo) * 2 * sizeof(int)), *h1 = h0 + Ho, *w0 = h1 + Ho, *w1 = w0 + Wo;
    float *lh = xmalloc((size_t)(Ho + Wo) * sizeof(float)), *lw = lh + Ho;
    for (int o = 0; o < Ho; o++) src_index(o, H, Ho, ac, &h0[o], &h1[o], &lh[o]);
    for (int o = 0; o < Wo; o++) src_index(o, W, Wo, ac, &w0[o], &w1[o], &lw[o]);
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < planes; q++) {
        const float *x = in + q * (size_t)H * W;
        float *y = out + q * (size_t)Ho * Wo;
        for (int oh = 0; oh < Ho; oh++) {
            const float *r0 = x + (size_t)h0[oh] * W, *r1 = x + (size_t)h1[oh] * W;
            const float a1 = lh[oh], a0 = 1.0f - a1;
            for (int ow = 0; ow < Wo; ow++) {
                const float b1 = lw[ow], b0 = 1.0f - b1;
                y[(size_t)oh * Wo + ow] = a0 * (b0 * r0[w0[ow]] + b1 * r0[w1[ow]]) + a1 * (b0 * r1[w0[ow]] + b1 * r1[w1[ow]]);
            }
        }
    }
    free(h0);
    free(lh);
}
