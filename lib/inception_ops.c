/* inception_ops.c: see inception_ops.h. */
#include "inception_ops.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define COL_LIMIT ((size_t)32 << 20)   /* bytes of im2col buffer per chunk */

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

/* col (C·KH·KW, nb·Ho·Wo) <- samples b0 .. b0+nb−1 of in (C,B,H,W); row r = (c,kh,kw) */
static void im2col(float *col, const float *in, int B, int C, int H, int W, int KH, int KW, int sh, int sw,
                   int ph, int pw, int Ho, int Wo, int b0, int nb)
{
    const size_t HW = (size_t)H * W, N = (size_t)nb * Ho * Wo;
    const int rows = C * KH * KW;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const int c = r / (KH * KW), kh = (r / KW) % KH, kw = r % KW;
        /* valid output columns: 0 <= ow·sw − pw + kw < W */
        int lo = 0, hi = Wo;
        while (lo < Wo && lo * sw - pw + kw < 0) lo++;
        while (hi > lo && (hi - 1) * sw - pw + kw >= W) hi--;
        float *dst = col + (size_t)r * N;
        for (int b = b0; b < b0 + nb; b++) {
            const float *plane = in + ((size_t)c * B + b) * HW;
            for (int oh = 0; oh < Ho; oh++, dst += Wo) {
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
        size_t per = (size_t)K * HoWo * sizeof(float);
        int nb = (int)(COL_LIMIT / (per ? per : 1));
        if (nb < 1) nb = 1;
        if (nb > B) nb = B;
        float *col = col_grow((size_t)K * nb * HoWo);
        for (int b0 = 0; b0 < B; b0 += nb) {
            int n = B - b0 < nb ? B - b0 : nb;
            im2col(col, in, B, C, H, W, KH, KW, sh, sw, ph, pw, Ho, Wo, b0, n);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)(n * HoWo), K, 1.0f, w, K, col,
                        (int)(n * HoWo), 0.0f, out + (size_t)b0 * HoWo, (int)N);
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

void imaxpool3_forward(float *out, const float *in, size_t planes, int H, int W, int s, int p)
{
    const int Ho = (H + 2 * p - 3) / s + 1, Wo = (W + 2 * p - 3) / s + 1;
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < planes; q++) {
        const float *x = in + q * (size_t)H * W;
        float *y = out + q * (size_t)Ho * Wo;
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                float m = -INFINITY;
                for (int kh = 0; kh < 3; kh++) {
                    int ih = oh * s - p + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (int kw = 0; kw < 3; kw++) {
                        int iw = ow * s - p + kw;
                        if (iw < 0 || iw >= W) continue;
                        float v = x[(size_t)ih * W + iw];
                        if (v > m || isnan(v)) m = v;
                    }
                }
                y[(size_t)oh * Wo + ow] = m;
            }
    }
}

void iavgpool3_forward(float *out, const float *in, size_t planes, int H, int W, int count_include_pad)
{
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < planes; q++) {
        const float *x = in + q * (size_t)H * W;
        float *y = out + q * (size_t)H * W;
        for (int oh = 0; oh < H; oh++) {
            int h0 = oh > 0 ? oh - 1 : 0, h1 = oh + 1 < H ? oh + 1 : H - 1;
            for (int ow = 0; ow < W; ow++) {
                int w0 = ow > 0 ? ow - 1 : 0, w1 = ow + 1 < W ? ow + 1 : W - 1;
                float s = 0;
                for (int ih = h0; ih <= h1; ih++)
                    for (int iw = w0; iw <= w1; iw++) s += x[(size_t)ih * W + iw];
                int cnt = count_include_pad ? 9 : (h1 - h0 + 1) * (w1 - w0 + 1);
                y[(size_t)oh * W + ow] = s / (float)cnt;
            }
        }
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
