/* conv_rect.c: forward-only convolution with a rectangular KH×KW kernel (Inception-v3's 1x3, 3x1,
 * 1x7, 7x1, 3x3, 5x5), a stride and a zero padding per axis, its bias and ReLU fused; and bias +
 * ReLU alone, the epilogue of 1x1 convolutions run as one bare gemm. Contracts in
 * core/op_list.h; activations (C,B,H,W).
 *
 * A 1x1 stride-1 unpadded convolution is one gemm on the input itself: out (OC, B·H·W) =
 * w (OC,C) · in (C, B·H·W). Others go through im2col in chunks of whole output rows (row r is
 * sample r / Ho, output row r % Ho) whose column buffer, (C·KH·KW, rows·Wo), stays near 4 MiB
 * (in cache) but is at least 4·OC columns wide (packing the weights once per chunk stays cheap);
 * each chunk's gemm writes its column block of out through the leading dimension B·Ho·Wo.
 * Threads: OpenMP in im2col and in the epilogue, OpenBLAS's own in the gemm. The column buffer
 * is grow-only static scratch (one per scalar type): not reentrant. */
#include <stdlib.h>
#include <string.h>
#include "core/real.h"
#include "core/common.h"

#define COL_LIMIT ((size_t)4 << 20)   /* bytes of column buffer per chunk: cache-sized */

static real *col_buf;
static size_t col_cap;

static real *col_grow(size_t n)
{
    if (n > col_cap) {
        free(col_buf);
        col_buf = xmalloc(n * sizeof(real));
        col_cap = n;
    }
    return col_buf;
}

/* col (C·KH·KW, (r1−r0)·Wo) <- the output rows r0 .. r1−1 of in (C,B,H,W); col row k = (c,kh,kw) */
static void im2col(real *col, const real *in, int B, int C, int H, int W, int KH, int KW, int sh, int sw,
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
        real *dst = col + (size_t)k * N;
        for (int r = r0; r < r1; r++, dst += Wo) {
            const int b = r / Ho, oh = r % Ho;
            const real *plane = in + ((size_t)c * B + b) * HW;
            const int ih = oh * sh - ph + kh;
            if (ih < 0 || ih >= H) {
                memset(dst, 0, (size_t)Wo * sizeof(real));
                continue;
            }
            const real *s = plane + (size_t)ih * W - pw + kw;
            for (int ow = 0; ow < lo; ow++) dst[ow] = 0;
            if (sw == 1)
                memcpy(dst + lo, s + lo, (size_t)(hi - lo) * sizeof(real));
            else
                for (int ow = lo; ow < hi; ow++) dst[ow] = s[ow * sw];
            for (int ow = hi; ow < Wo; ow++) dst[ow] = 0;
        }
    }
}

void OPNAME(conv2d_rect_forward)(real *out, const real *in, const real *w, const real *b, int B, int C, int H,
                                 int W, int OC, int KH, int KW, int sh, int sw, int ph, int pw, int relu)
{
    const int Ho = (H + 2 * ph - KH) / sh + 1, Wo = (W + 2 * pw - KW) / sw + 1;
    const size_t HoWo = (size_t)Ho * Wo, N = (size_t)B * HoWo;
    const int K = C * KH * KW;
    if (KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0) {
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)N, C, 1, w, C, in, (int)N, 0, out, (int)N);
    } else {
        const int R = B * Ho;
        size_t cols = COL_LIMIT / ((size_t)K * sizeof(real));
        if (cols < (size_t)4 * OC) cols = (size_t)4 * OC;
        int nr = (int)(cols / (size_t)Wo);
        if (nr < 1) nr = 1;
        if (nr > R) nr = R;
        real *col = col_grow((size_t)K * nr * Wo);
        for (int r0 = 0; r0 < R; r0 += nr) {
            int r1 = R - r0 < nr ? R : r0 + nr;
            im2col(col, in, B, C, H, W, KH, KW, sh, sw, ph, pw, Ho, Wo, r0, r1);
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (r1 - r0) * Wo, K, 1, w, K, col,
                       (r1 - r0) * Wo, 0, out + (size_t)r0 * Wo, (int)N);
        }
    }
    if (b || relu) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < OC; o++) {
            real *p = out + (size_t)o * N;
            const real bias = b ? b[o] : 0;
            if (relu)
                for (size_t i = 0; i < N; i++) { real v = p[i] + bias; p[i] = v > 0 ? v : 0; }
            else
                for (size_t i = 0; i < N; i++) p[i] += bias;
        }
    }
}

void OPNAME(bias_relu_forward)(real *out, const real *in, const real *b, int rows, size_t N)
{
#pragma omp parallel for schedule(static)
    for (int o = 0; o < rows; o++) {
        const real *x = in + (size_t)o * N;
        real *y = out + (size_t)o * N;
        const real bias = b[o];
        for (size_t i = 0; i < N; i++) { real v = x[i] + bias; y[i] = v > 0 ? v : 0; }
    }
}
