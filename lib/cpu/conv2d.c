/* conv2d.c: 2-D convolution over a channel-major batch, PyTorch nn.Conv2d semantics (square
 * kernel K, any stride, zero padding, optional bias).
 *
 * The batch is a matrix product: im2col turns in (C,B,H,W) into col (C·K·K, B·Ho·Wo), then
 * out (OC, B·Ho·Wo) = w (OC, C·K·K) · col. Backward: dw += dout · colᵀ, dcol = wᵀ · dout, then
 * col2im scatters dcol into din. K=1, stride 1, pad 0 needs no im2col: the input already is col.
 *
 * Threads: the batch is cut into units of whole samples that the OpenMP threads take
 * dynamically; each runs its own im2col, gemm and col2im on its unit, with OpenBLAS switched to
 * one thread meanwhile (restored after). A unit's slice of out/dout/col is a column block of
 * (·, B·Ho·Wo), addressed through the gemm's leading dimension; din planes of different
 * samples are disjoint, so no locking; dw is summed from one partial per unit, in unit order,
 * so results do not depend on which thread ran what. Why not serial im2col/col2im around
 * multi-threaded OpenBLAS gemms over the whole batch (test/c/bench_conv compares the two): here
 * no core idles during im2col/col2im, OpenBLAS's and libgomp's threads never spin against each
 * other, and each core's chunk stays in its own cache.
 *
 * Memory: col lives in grow-only static scratch buffers, one per thread and scalar type (this
 * file is compiled once per type). A unit whose col would pass conv2d_col_limit bytes is done
 * in chunks of whole output rows (b, oh), a gemm per chunk; the default, 4 MiB, keeps a chunk
 * in cache from im2col to its gemm (a larger limit spills it). Not reentrant.
 *
 * The float build on AVX-512 first offers each convolution to lib/cpu/conv_winograd.c (3×3
 * stride 1 and 4×4 stride 2 by Winograd's minimal filtering), then to lib/cpu/conv_direct.c
 * (3×3, 4×4 stride 2 and 1×1 without im2col); each takes what it handles and pays for (a
 * backward call may be split: din there, dw here), and this file does the rest. The knobs
 * conv2d_direct_cpu = 0 (everything here) and conv2d_winograd_cpu = 0 (no Winograd) are for
 * benchmarks. The double build, which the finite-difference tests run, always takes the path
 * below, and test/c/gradcheck.c checks every fast path of the float build against it. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/real.h"
#include "cpu/threads.h"
#include "core/common.h"

/* Bytes of col per thread above which its range is done in chunks. Not in core/op_list.h: a
 * tuning knob that the tests lower to exercise the chunked path. */
size_t OPNAME(conv2d_col_limit) = (size_t)4 << 20;

#ifndef OPS_F64
/* Whether the direct path is taken where it applies (a knob for benchmarks and tests; it
 * exists in every float build, and does nothing without AVX-512). */
int conv2d_direct_cpu = 1;
/* Whether the fast paths may use Winograd's minimal filtering (lib/cpu/conv_winograd.c). */
int conv2d_winograd_cpu = 1;
#endif
#if !defined(OPS_F64) && defined(__AVX512F__)
#define CONV_DIRECT 1
#include "cpu/conv_fast.h"
/* DFGAN_CPU_CONV=im2col in the environment turns both knobs off at the first convolution: every
 * convolution then takes the im2col + gemm path below, the algorithm of the CUDA twin, so that a
 * CPU-vs-CUDA comparison compares like with like (test/gpu/dfgan_step_cuda.bats). */
static void knobs_from_env(void)
{
    static int read;
    if (read) return;
    read = 1;
    const char *e = getenv("DFGAN_CPU_CONV");
    if (!e || !*e) return;
    if (strcmp(e, "im2col")) die_runtime("expected DFGAN_CPU_CONV=im2col or unset, found '%s'", e);
    conv2d_direct_cpu = conv2d_winograd_cpu = 0;
}
#endif

#define MAX_THREADS 64

typedef struct { real *p; size_t cap; } Buf;
static Buf col_buf[MAX_THREADS];       /* per thread */
static Buf dw_buf[4 * MAX_THREADS];    /* per unit of work, see conv2d_backward */

static real *grow(Buf *b, size_t n)
{
    if (n > b->cap) {
        free(b->p);
        b->p = xmalloc(n * sizeof(real));
        b->cap = n;
    }
    return b->p;
}

/* Threads for a convolution over B samples doing `flops` of gemm work. */
static int conv_team(int B, double flops)
{
    int nt = team_size(flops, B);
    return nt > MAX_THREADS ? MAX_THREADS : nt;
}

/* Samples per unit of work: threads take units dynamically, so a thread slowed by another
 * process on its core does less. About 4 units per thread, but at least 256 output columns
 * per unit when the batch allows (small gemms are slow), and at least one unit per thread. */
static int unit_samples(int B, int nt, size_t HoWo)
{
    if (nt <= 1) return B;
    int spu = (B + 4 * nt - 1) / (4 * nt);
    int wide = (int)((256 + HoWo - 1) / HoWo);
    if (spu < wide) spu = wide;
    if (spu > (B + nt - 1) / nt) spu = (B + nt - 1) / nt;
    return spu < 1 ? 1 : spu;
}


/* Output rows per chunk for a range of G rows: as many as keep col within the limit (at least
 * one), balanced so that the chunks are even. */
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
    for (int r = 0; r < C * K * K; r++) {
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

/* din (C,B,H,W) += scatter of col (C·K·K, ng·Wo), the im2col rows g0 .. g0+ng−1. */
static void col2im(real *din, const real *col, int B, int C, int H, int W, int K, int stride,
                   int pad, int Ho, int Wo, int g0, int ng)
{
    const size_t HW = (size_t)H * W, N = (size_t)ng * Wo;
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

/* Shapes shared by forward and backward. */
typedef struct {
    int B, C, H, W, OC, K, stride, pad, Ho, Wo, CKK;
    size_t HoWo, N;     /* N = B·Ho·Wo: columns of out/dout/col */
    int pointwise;      /* K = 1, stride 1, pad 0: in is col */
} Geom;

static Geom geom(int B, int C, int H, int W, int OC, int K, int stride, int pad)
{
    Geom g = { B, C, H, W, OC, K, stride, pad, out_size(H, K, stride, pad),
               out_size(W, K, stride, pad), C * K * K, 0, 0, K == 1 && stride == 1 && pad == 0 };
    g.HoWo = (size_t)g.Ho * g.Wo;
    g.N = (size_t)B * g.HoWo;
    return g;
}

/* Size every scratch col buffer for threads 0 .. nt−1 (before the parallel region). */
static void grow_cols(const Geom *g, int nt, int spu)
{
    if (g->pointwise) return;
    const int maxrows = spu * g->Ho;
    const int ng = chunk_rows(maxrows, (size_t)g->CKK * g->Wo * sizeof(real));
    for (int t = 0; t < nt; t++) grow(&col_buf[t], (size_t)g->CKK * ng * g->Wo);
}

/* out columns of samples b0 .. b1−1 */
static void forward_range(const Geom *g, real *out, const real *in, const real *w,
                          const real *b, int b0, int b1, real *col)
{
    const size_t c0 = (size_t)b0 * g->HoWo, nc = (size_t)(b1 - b0) * g->HoWo;
    if (b0 >= b1) return;
    if (b)   /* preset the bias so the gemm adds onto it (beta = 1 spares a pass) */
        for (int oc = 0; oc < g->OC; oc++) {
            real *o = out + (size_t)oc * g->N + c0, v = b[oc];
            for (size_t i = 0; i < nc; i++) o[i] = v;
        }
    const real beta = b ? 1 : 0;
    if (g->pointwise) {
        /* out[:, c0:c0+nc] (OC, nc) = w (OC, C) · in[:, c0:c0+nc] */
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->OC, (int)nc, g->C,
                   1, w, g->C, in + c0, (int)g->N, beta, out + c0, (int)g->N);
        return;
    }
    const int G0 = b0 * g->Ho, G1 = b1 * g->Ho;
    const int ng = chunk_rows(G1 - G0, (size_t)g->CKK * g->Wo * sizeof(real));
    for (int r0 = G0; r0 < G1; r0 += ng) {
        const int n = G1 - r0 < ng ? G1 - r0 : ng, Nc = n * g->Wo;
        im2col(col, in, g->B, g->C, g->H, g->W, g->K, g->stride, g->pad, g->Ho, g->Wo, r0, n);
        /* out[:, r0·Wo : (r0+n)·Wo] (OC, Nc, ld N) = w (OC, CKK) · col (CKK, Nc) */
        cblas_gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->OC, Nc, g->CKK,
                   1, w, g->CKK, col, Nc, beta, out + (size_t)r0 * g->Wo, (int)g->N);
    }
}

/* conv2d_forward, and with act (the float build's fast paths) its leaky ReLU as it writes:
 * returns 1 when that was done, 0 when the activation is left to the caller */
static int forward_act(real *out, const real *in, const real *w, const real *b,
                       int B, int C, int H, int W, int OC, int K, int stride, int pad,
                       const real *mask, real slope, int act)
{
#ifdef CONV_DIRECT
    knobs_from_env();
    const ConvEpi epi = { mask, slope, act }, *ep = act ? &epi : NULL;
    if (conv2d_direct_cpu && conv2d_winograd_cpu &&
        conv2d_winograd_forward_cpu(out, in, w, b, B, C, H, W, OC, K, stride, pad, ep))
        return 1;
    if (conv2d_direct_cpu && conv2d_direct_forward_cpu(out, in, w, b, B, C, H, W, OC, K, stride, pad, ep))
        return 1;
#else
    (void)mask; (void)slope; (void)act;
#endif
    const Geom g = geom(B, C, H, W, OC, K, stride, pad);
    const int nt = conv_team(B, 2.0 * OC * g.CKK * (double)g.N);
    const int spu = unit_samples(B, nt, g.HoWo), units = (B + spu - 1) / spu;
    grow_cols(&g, nt, spu);
    const int saved = blas_single(nt);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
    for (int u = 0; u < units; u++)
        forward_range(&g, out, in, w, b, u * spu, (u + 1) * spu < B ? (u + 1) * spu : B,
                      col_buf[omp_get_thread_num()].p);
    blas_restore(nt, saved);
    return 0;
}

/* out (OC,B,Ho,Wo) = w (OC,C,K,K) ⋆ in (C,B,H,W) + b (OC) */
void OPNAME(conv2d_forward)(real *out, const real *in, const real *w, const real *b,
                            int B, int C, int H, int W, int OC, int K, int stride, int pad)
{
    forward_act(out, in, w, b, B, C, H, W, OC, K, stride, pad, NULL, 0, 0);
}

/* out = leaky_relu(w ⋆ in + b) (mask NULL), or (w ⋆ in + b)·(mask > 0 ? 1 : slope): a leaky
 * ReLU's tangent at mask (OC,B,Ho,Wo). One pass where the fast paths write. */
void OPNAME(conv2d_forward_lrelu)(real *out, const real *in, const real *w, const real *b, const real *mask,
                                  real slope, int B, int C, int H, int W, int OC, int K, int stride, int pad)
{
    if (forward_act(out, in, w, b, B, C, H, W, OC, K, stride, pad, mask, slope, 1)) return;
    const size_t n = (size_t)OC * B * ((H + 2 * pad - K) / stride + 1) * ((W + 2 * pad - K) / stride + 1);
    if (mask) OPNAME(leaky_relu_backward)(out, out, mask, n, slope);
    else OPNAME(leaky_relu_forward)(out, out, n, slope);
}

/* din for samples b0 .. b1−1 (assigned) and dw += their share; either may be NULL */
static void backward_range(const Geom *g, real *din, real *dw, const real *dout,
                           const real *in, const real *w, int b0, int b1, real *col)
{
    const size_t c0 = (size_t)b0 * g->HoWo, nc = (size_t)(b1 - b0) * g->HoWo;
    const int N = (int)g->N;
    if (b0 >= b1) return;
    if (g->pointwise) {
        if (dw)  /* dw (OC,C) += dout[:, cols] (OC,nc) · in[:, cols]ᵀ (nc,C) */
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->OC, g->C, (int)nc,
                       1, dout + c0, N, in + c0, N, 1, dw, g->C);
        if (din) /* din[:, cols] (C,nc) = wᵀ (C,OC) · dout[:, cols] (OC,nc) */
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->C, (int)nc, g->OC,
                       1, w, g->C, dout + c0, N, 0, din + c0, N);
        return;
    }
    const size_t HW = (size_t)g->H * g->W;
    if (din)   /* col2im accumulates: clear this range's planes of every channel */
        for (int c = 0; c < g->C; c++)
            memset(din + ((size_t)c * g->B + b0) * HW, 0, (size_t)(b1 - b0) * HW * sizeof(real));
    const int G0 = b0 * g->Ho, G1 = b1 * g->Ho;
    const int ng = chunk_rows(G1 - G0, (size_t)g->CKK * g->Wo * sizeof(real));
    for (int r0 = G0; r0 < G1; r0 += ng) {
        const int n = G1 - r0 < ng ? G1 - r0 : ng, Nc = n * g->Wo;
        const real *gd = dout + (size_t)r0 * g->Wo;   /* (OC, Nc) block, leading dimension N */
        if (dw) {
            im2col(col, in, g->B, g->C, g->H, g->W, g->K, g->stride, g->pad, g->Ho, g->Wo, r0, n);
            /* dw (OC, CKK) += gd (OC, Nc) · colᵀ (Nc, CKK) */
            cblas_gemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->OC, g->CKK, Nc,
                       1, gd, N, col, Nc, 1, dw, g->CKK);
        }
        if (din) {
            /* dcol (CKK, Nc) = wᵀ (CKK, OC) · gd (OC, Nc), into the same scratch */
            cblas_gemm(CblasRowMajor, CblasTrans, CblasNoTrans, g->CKK, Nc, g->OC,
                       1, w, g->CKK, gd, N, 0, col, Nc);
            col2im(din, col, g->B, g->C, g->H, g->W, g->K, g->stride, g->pad, g->Ho, g->Wo, r0, n);
        }
    }
}

/* conv2d_backward, with din's leaky ReLU gradient at mask done as it is written where a fast
 * path makes din: returns 1 when that was done, 0 when it is left to the caller */
static int backward_act(real *din, real *dw, real *db, const real *dout, const real *in,
                        const real *w, int B, int C, int H, int W, int OC, int K, int stride, int pad,
                        const real *mask, real slope, int act)
{
    const Geom g = geom(B, C, H, W, OC, K, stride, pad);
    const size_t nw = (size_t)OC * g.CKK;
    int din_done = 0;
#ifdef CONV_DIRECT
    knobs_from_env();
    const ConvEpi epi = { mask, slope, act }, *ep = act ? &epi : NULL;
    if (conv2d_direct_cpu && conv2d_winograd_cpu && (din || dw)) {
        const int did = conv2d_winograd_backward_cpu(din, dw, dout, in, w, B, C, H, W, OC, K, stride, pad, ep);
        if (did & 1) { din = NULL; din_done = 1; }
        if (did & 2) dw = NULL;
    }
    if ((din || dw) && conv2d_direct_cpu) {
        const int did = conv2d_direct_backward_cpu(din, dw, dout, in, w, B, C, H, W, OC, K, stride, pad, ep);
        if (did & 1) { din = NULL; din_done = 1; }   /* done: what is left (db, perhaps dw) goes below */
        if (did & 2) dw = NULL;
    }
#else
    (void)mask; (void)slope; (void)act;
#endif
    const int nt = conv_team(B, 2.0 * OC * g.CKK * (double)g.N * ((din != NULL) + (dw != NULL)));
    const int spu = unit_samples(B, nt, g.HoWo), units = (B + spu - 1) / spu;
    if (din || dw) grow_cols(&g, nt, spu);
    /* Unit 0 accumulates onto dw, the others into partials added in unit order at the end:
     * whichever thread runs a unit, dw comes out the same bits (deterministic training). */
    if (dw)
        for (int u = 1; u < units; u++) memset(grow(&dw_buf[u], nw), 0, nw * sizeof(real));
    const int saved = blas_single(nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        if (db) {
#pragma omp for schedule(static)
            for (int oc = 0; oc < OC; oc++) {
                const real *gd = dout + (size_t)oc * g.N;
                double s = 0;
                /* in double, vectorised: simd may reorder the sum (one chain of scalar
                 * double adds is a latency-bound loop) */
#pragma omp simd reduction(+ : s)
                for (size_t i = 0; i < g.N; i++) s += gd[i];
                db[oc] += (real)s;
            }
        }
        if (din || dw) {
#pragma omp for schedule(dynamic, 1) nowait
            for (int u = 0; u < units; u++)
                backward_range(&g, din, dw ? (u == 0 ? dw : dw_buf[u].p) : NULL, dout, in, w,
                               u * spu, (u + 1) * spu < B ? (u + 1) * spu : B,
                               col_buf[omp_get_thread_num()].p);
        }
    }
    blas_restore(nt, saved);
    if (dw)
        for (int u = 1; u < units; u++) {
            const real *p = dw_buf[u].p;
            for (size_t i = 0; i < nw; i++) dw[i] += p[i];
        }
    return din_done;
}

/* din (C,B,H,W) = wᵀ·dout scattered back (assigned); dw (OC,C,K,K) += dout·colᵀ;
 * db (OC) += Σ dout over (B,Ho,Wo). dout (OC,B,Ho,Wo). */
void OPNAME(conv2d_backward)(real *din, real *dw, real *db, const real *dout, const real *in,
                             const real *w, int B, int C, int H, int W, int OC, int K,
                             int stride, int pad)
{
    backward_act(din, dw, db, dout, in, w, B, C, H, W, OC, K, stride, pad, NULL, 0, 0);
}

/* conv2d_backward whose din is then the gradient through a leaky ReLU whose output (or input)
 * is mask (C,B,H,W): din = (wᵀ·dout scattered back)·(mask > 0 ? 1 : slope). One pass where the
 * fast paths write din. */
void OPNAME(conv2d_backward_lrelu)(real *din, real *dw, real *db, const real *dout, const real *in,
                                   const real *w, const real *mask, real slope, int B, int C, int H, int W,
                                   int OC, int K, int stride, int pad)
{
    if (backward_act(din, dw, db, dout, in, w, B, C, H, W, OC, K, stride, pad, mask, slope, din != NULL)) return;
    if (din) OPNAME(leaky_relu_backward)(din, din, mask, (size_t)C * B * H * W, slope);
}
