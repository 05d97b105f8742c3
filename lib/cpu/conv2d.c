/* conv2d.c: 2-D convolution over a channel-major batch, PyTorch nn.Conv2d semantics (square
 * kernel K, any stride, zero padding, optional bias).
 *
 * The batch is one matrix product: im2col turns in (C,B,H,W) into col (C·K·K, B·Ho·Wo), then
 * out (OC, B·Ho·Wo) = w (OC, C·K·K) · col. Backward: dw += dout · colᵀ, dcol = wᵀ · dout, then
 * col2im scatters dcol into din. K=1, stride 1, pad 0 needs no im2col: the input already is col.
 *
 * col lives in a grow-only static scratch buffer (one per scalar type: this file is compiled
 * once per type). When col would pass conv2d_col_limit bytes, the columns are done in chunks of
 * whole output rows (b, oh), a gemm per chunk; a chunk's slice of out/dout is a column block of
 * (OC, B·Ho·Wo) addressed through the gemm's leading dimension. The default limit, 4 MiB, keeps
 * a chunk in cache from im2col to its gemm: measured faster than whole-batch col matrices
 * (224 vs 288 ms on bench_conv's DF-GAN layers). Not reentrant (one static buffer). */
#include <stdlib.h>
#include <string.h>
#include "real.h"
#include "common.h"

/* The OpenMP loops run in parallel only when built with -DOPS_OMP=1. Next to the pthread
 * OpenBLAS on 2 cores, libgomp's workers keep spinning after a region and take a core from the
 * next gemm (measured on conv2d: 2.5× slower when idle, 10× under load); serial is faster. */
#ifndef OPS_OMP
#define OPS_OMP 0
#endif

/* Bytes the col matrix may take before the columns are split into chunks. Not in
 * ops_cpu_decl.h: a tuning knob that the tests lower to exercise the chunked path. */
size_t OPNAME(conv2d_col_limit) = (size_t)4 << 20;

static real *scratch;
static size_t scratch_cap;

static real *get_scratch(size_t n)
{
    if (n > scratch_cap) {
        free(scratch);
        scratch = xmalloc(n * sizeof(real));
        scratch_cap = n;
    }
    return scratch;
}

/* Output rows (b, oh) per chunk: as many as keep col within conv2d_col_limit bytes, at least
 * one, balanced so that the chunks are even. */
static int chunk_rows(int G, size_t col_bytes_per_row)
{
    size_t fit = col_bytes_per_row ? OPNAME(conv2d_col_limit) / col_bytes_per_row : (size_t)G;
    if (fit < 1) fit = 1;
    if (fit >= (size_t)G) return G;
    int nchunks = (int)(((size_t)G + fit - 1) / fit);
    return (G + nchunks - 1) / nchunks;
}

/* Range [*lo, *hi) of output columns ow whose input column ow·stride − pad + kw lies in [0, W). */
static void valid_range(int *lo, int *hi, int W, int Wo, int kw, int stride, int pad)
{
    int a = pad - kw;                       /* need ow·stride >= a */
    int l = a > 0 ? (a + stride - 1) / stride : 0;
    int e = W - 1 + pad - kw;               /* need ow·stride <= e */
    int h = e >= 0 ? e / stride + 1 : 0;
    if (h > Wo) h = Wo;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* col (C·K·K, ng·Wo) <- output rows g0 .. g0+ng−1 (g = b·Ho + oh) of the im2col matrix of
 * in (C,B,H,W). Row r = (c,kh,kw). Each row of col is written front to back, Wo at a time. */
static void im2col(real *col, const real *in, int B, int C, int H, int W, int K, int stride,
                   int pad, int Ho, int Wo, int g0, int ng)
{
    const size_t HW = (size_t)H * W, N = (size_t)ng * Wo;
    const int rows = C * K * K;
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)rows * N > 65536)
    for (int r = 0; r < rows; r++) {
        const int c = r / (K * K), kh = (r / K) % K, kw = r % K;
        int lo, hi;
        valid_range(&lo, &hi, W, Wo, kw, stride, pad);
        real *dst = col + (size_t)r * N;
        int b = g0 / Ho, oh = g0 % Ho;
        for (int g = 0; g < ng; g++, dst += Wo) {
            const int ih = oh * stride - pad + kh;
            if (ih < 0 || ih >= H) {
                memset(dst, 0, (size_t)Wo * sizeof(real));
            } else {
                for (int ow = 0; ow < lo; ow++) dst[ow] = 0;
                if (hi > lo) {
                    /* s[(ow−lo)·stride] = in[c, b, ih, ow·stride − pad + kw] */
                    const real *s = in + ((size_t)c * B + b) * HW + (size_t)ih * W + (lo * stride - pad + kw);
                    if (stride == 1)
                        memcpy(dst + lo, s, (size_t)(hi - lo) * sizeof(real));
                    else
                        for (int ow = lo; ow < hi; ow++) dst[ow] = s[(ow - lo) * stride];
                }
                for (int ow = hi; ow < Wo; ow++) dst[ow] = 0;
            }
            if (++oh == Ho) {
                oh = 0;
                b++;
            }
        }
    }
}

/* din (C,B,H,W) += scatter of col (C·K·K, ng·Wo), the im2col rows g0 .. g0+ng−1.
 * Parallel over channels: each channel of din is owned by one thread. */
static void col2im(real *din, const real *col, int B, int C, int H, int W, int K, int stride,
                   int pad, int Ho, int Wo, int g0, int ng)
{
    const size_t HW = (size_t)H * W, N = (size_t)ng * Wo;
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)C * K * K * N > 65536)
    for (int c = 0; c < C; c++)
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                int lo, hi;
                valid_range(&lo, &hi, W, Wo, kw, stride, pad);
                const real *s = col + ((size_t)(c * K + kh) * K + kw) * N;
                int b = g0 / Ho, oh = g0 % Ho;
                for (int g = 0; g < ng; g++, s += Wo) {
                    const int ih = oh * stride - pad + kh;
                    if (ih >= 0 && ih < H && hi > lo) {
                        real *d = din + ((size_t)c * B + b) * HW + (size_t)ih * W + (lo * stride - pad + kw);
                        if (stride == 1)
                            for (int ow = lo; ow < hi; ow++) d[ow - lo] += s[ow];
                        else
                            for (int ow = lo; ow < hi; ow++) d[(ow - lo) * stride] += s[ow];
                    }
                    if (++oh == Ho) {
                        oh = 0;
                        b++;
                    }
                }
            }
}

static int out_size(int n, int K, int stride, int pad) { return (n + 2 * pad - K) / stride + 1; }

/* out (OC,B,Ho,Wo) = w (OC,C,K,K) ⋆ in (C,B,H,W) + b (OC) */
void OPNAME(conv2d_forward)(real *out, const real *in, const real *w, const real *b,
                            int B, int C, int H, int W, int OC, int K, int stride, int pad)
{
    const int Ho = out_size(H, K, stride, pad), Wo = out_size(W, K, stride, pad);
    const size_t HoWo = (size_t)Ho * Wo, N = (size_t)B * HoWo;
    const int CKK = C * K * K;
    if (b) {
        /* preset the bias so the gemm adds onto it (beta = 1 spares a pass over out) */
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)OC * N > 65536)
        for (int oc = 0; oc < OC; oc++) {
            real *o = out + (size_t)oc * N, v = b[oc];
            for (size_t i = 0; i < N; i++) o[i] = v;
        }
    }
    const real beta = b ? 1 : 0;
    if (K == 1 && stride == 1 && pad == 0) {
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)N, C,
                   1, w, C, in, (int)N, beta, out, (int)N);
        return;
    }
    const int G = B * Ho, ng = chunk_rows(G, (size_t)CKK * Wo * sizeof(real));
    real *col = get_scratch((size_t)CKK * ng * Wo);
    for (int g0 = 0; g0 < G; g0 += ng) {
        const int n = G - g0 < ng ? G - g0 : ng, Nc = n * Wo;
        im2col(col, in, B, C, H, W, K, stride, pad, Ho, Wo, g0, n);
        /* out[:, g0·Wo : (g0+n)·Wo] (OC, Nc, ld N) = w (OC, CKK) · col (CKK, Nc) */
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, Nc, CKK,
                   1, w, CKK, col, Nc, beta, out + (size_t)g0 * Wo, (int)N);
    }
}

/* din (C,B,H,W) = wᵀ·dout scattered back (assigned); dw (OC,C,K,K) += dout·colᵀ;
 * db (OC) += Σ dout over (B,Ho,Wo). dout (OC,B,Ho,Wo). */
void OPNAME(conv2d_backward)(real *din, real *dw, real *db, const real *dout, const real *in,
                             const real *w, int B, int C, int H, int W, int OC, int K,
                             int stride, int pad)
{
    const int Ho = out_size(H, K, stride, pad), Wo = out_size(W, K, stride, pad);
    const size_t HoWo = (size_t)Ho * Wo, N = (size_t)B * HoWo;
    const int CKK = C * K * K;
    if (db) {
#pragma omp parallel for schedule(static) if (OPS_OMP && (size_t)OC * N > 65536)
        for (int oc = 0; oc < OC; oc++) {
            const real *g = dout + (size_t)oc * N;
            double s = 0;
            for (size_t i = 0; i < N; i++) s += g[i];
            db[oc] += (real)s;
        }
    }
    if (!din && !dw) return;
    if (K == 1 && stride == 1 && pad == 0) {
        if (dw)  /* dw (OC,C) += dout (OC,N) · inᵀ (N,C) */
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, C, (int)N,
                       1, dout, (int)N, in, (int)N, 1, dw, C);
        if (din) /* din (C,N) = wᵀ (C,OC) · dout (OC,N) */
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, (int)N, OC,
                       1, w, C, dout, (int)N, 0, din, (int)N);
        return;
    }
    const int G = B * Ho, ng = chunk_rows(G, (size_t)CKK * Wo * sizeof(real));
    real *col = get_scratch((size_t)CKK * ng * Wo);
    if (din) memset(din, 0, (size_t)C * B * H * W * sizeof(real));   /* col2im accumulates */
    for (int g0 = 0; g0 < G; g0 += ng) {
        const int n = G - g0 < ng ? G - g0 : ng, Nc = n * Wo;
        const real *g = dout + (size_t)g0 * Wo;   /* (OC, Nc) block, leading dimension N */
        if (dw) {
            im2col(col, in, B, C, H, W, K, stride, pad, Ho, Wo, g0, n);
            /* dw (OC, CKK) += g (OC, Nc) · colᵀ (Nc, CKK) */
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, CKK, Nc,
                       1, g, (int)N, col, Nc, 1, dw, CKK);
        }
        if (din) {
            /* dcol (CKK, Nc) = wᵀ (CKK, OC) · g (OC, Nc), into the same scratch */
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, Nc, OC,
                       1, w, CKK, g, (int)N, 0, col, Nc);
            col2im(din, col, B, C, H, W, K, stride, pad, Ho, Wo, g0, n);
        }
    }
}
