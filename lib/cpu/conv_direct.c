/* conv_direct.c: direct convolution for the float build on AVX-512, without im2col: the
 * 3×3 stride-1 pad-1 and 4×4 stride-2 pad-1 layers of DF-GAN (forward, data gradient, weight
 * gradient) and the 1×1 ones. lib/cpu/conv2d.c tries conv_winograd.c first, then this, and falls
 * back to im2col + gemm for the shapes both decline (and always in the double build, which the
 * finite-difference tests run). Measured one thread, batch 16 (GFLOP/s; im2col + gemm in
 * brackets): 3×3 at 16×16 to 64×64, 175-230 (80-140); 4×4 stride 2, 140-210 (75-165); 1×1,
 * 120-230 (70-190). Declined: images of 4×4 outputs or fewer with 64 channels or more each way
 * (there the grid below is over half padding, and gemm is as fast).
 *
 * The grid. Each sample's plane is laid out with one zero column after every row and one zero
 * row after the plane: rows of Wp = Wo+1, Hp = Ho+1 rows per sample, samples back to back, with
 * `lead` zeros before position 0 and zeros after the end. On that grid a convolution is a 1-D
 * one: output position q = (b·Hp + y)·Wp + x reads src[q + first + r·Wp + e] for the KT×KT taps
 * (r, e), and every read that falls outside its image lands on a zero (the pad column of this or
 * the previous row, the pad row of this or the previous sample, or the margins). So the inner
 * loop is: for each input channel and tap, a few unaligned vector loads of consecutive positions
 * and FMAs against broadcast weights, with no bounds, no masks and no im2col matrix.
 *   3×3, stride 1, pad 1: the input's grid is the output's (Ho = H); KT = 3, first = −Wp−1.
 *   4×4, stride 2, pad 1: out[y,x] = Σ w[kh,kw]·xpad[2y+kh, 2x+kw] (xpad: the input padded by 1).
 *     With kh = 2a+py, kw = 2e+px this is a 2×2 stride-1 convolution over the 4 phase planes
 *     P[c,py,px][i,j] = xpad[2i+py, 2j+px] (i ≤ Ho, j ≤ Wo: exactly the output's grid), KT = 2,
 *     first = 0. Input channels become Cg = 4C grid channels c' = 4c + 2py + px.
 * Positions of the grid that are not outputs (x = Wo or y = Ho) are computed and dropped.
 *
 * Forward: out (OC) = Σ_(c',t) w·xg[c'][q + off(t)] over the input grid xg (Cg channels).
 * Data gradient: the transposed convolution, the same kernel run the other way (taps reversed,
 *   starting at −Wp−1): dxg[c'][p] = Σ_(oc,t) w·dg[oc][p − off(t)] over the grid dg of dout (zero
 *   wherever q is not an output), then dxg goes back to din (3×3: the grid's interior; 4×4: the
 *   phases interleaved).
 * Weight gradient: dw[oc][c'][t] += Σ_q dg[oc][q]·xg[c'][q + off(t)].
 * 1×1: the tensors themselves are the grid (no padding), one tap.
 *
 * Blocking: tile_* computes a block of up to 8 output channels over SPAN = 96 consecutive grid
 * positions in registers (OCB×NV accumulators of 16 floats, NV·16 positions at a time), reading
 * each loaded input vector OCB times; weights are rearranged per call so that a block's
 * broadcasts are consecutive. dw_* keeps OCB×T accumulators (T = 9 or 4 taps) for one input
 * channel over a unit of R grid positions. Work items (tile, channel block) or (unit, channel
 * block) go to the OpenMP threads dynamically; dw sums one partial per unit, in unit order, so
 * its bits do not depend on the thread count.
 *
 * Memory: the grids, rearranged weights and dw partials live in grow-only static buffers, as
 * conv2d.c's col; not reentrant. */
#include "core/real.h"

#if !defined(OPS_F64) && defined(__AVX512F__)
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/common.h"
#include "cpu/conv_fast.h"
#include "cpu/threads.h"

#define SPAN 96        /* grid positions per forward / backward-data tile (6 vectors) */
#define MAXB 8         /* output channels per tile block */
#define DW_R 2048      /* grid positions per dw unit */

/* ---- scratch ---- */

typedef struct { float *p; size_t cap; } Buf;
static Buf xg_buf, dg_buf, wt_buf, part_buf;

static float *grow(Buf *b, size_t n)
{
    if (n > b->cap) {
        free(b->p);
        b->p = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
        if (!b->p) die_runtime("expected %zu bytes of convolution scratch, found no memory", n * sizeof(float));
        b->cap = n;
    }
    return b->p;
}

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* ---- geometry ---- */

typedef struct {
    int B, C, H, W, OC, Ho, Wo;
    int phase;          /* 0: 3×3 s1 p1; 1: 4×4 s2 p1 over phase planes */
    int Cg, T;          /* grid input channels (C or 4C), taps (9 or 4) */
    int Hp, Wp;         /* grid rows per sample, row stride */
    size_t Q, Qr;       /* grid positions B·Hp·Wp; rounded up to whole tiles */
    size_t lead, L;     /* zeros before position 0; channel stride of a grid buffer */
    int KT;             /* taps per side (3 or 2): T = KT² */
    int first;          /* forward: offset of tap (0,0); taps (r,e) at first + r·Wp + e */
} Geom;

/* 1 and *g filled when the direct path handles this convolution */
static int geom(Geom *g, int B, int C, int H, int W, int OC, int K, int stride, int pad)
{
    memset(g, 0, sizeof *g);
    if (K == 3 && stride == 1 && pad == 1 && H >= 1 && W >= 1) g->phase = 0;
    else if (K == 4 && stride == 2 && pad == 1 && H >= 2 && W >= 2) g->phase = 1;
    else return 0;
    g->B = B; g->C = C; g->H = H; g->W = W; g->OC = OC;
    g->Ho = g->phase ? (H - 2) / 2 + 1 : H;
    g->Wo = g->phase ? (W - 2) / 2 + 1 : W;
    /* Images of 4×4 outputs or fewer cost the grid 56% or more in pad positions; with many
     * channels each way im2col + gemm is as fast or faster there (measured: 128 → 128 channels,
     * 3×3 at 4×4 and 4×4 s2 at 8×8, batch 16). */
    if (g->Ho * g->Wo <= 16 && C >= 64 && OC >= 64) return 0;
    g->Hp = g->Ho + 1;
    g->Wp = g->Wo + 1;
    g->Cg = g->phase ? 4 * C : C;
    g->KT = g->phase ? 2 : 3;
    g->T = g->KT * g->KT;
    g->Q = (size_t)B * g->Hp * g->Wp;
    g->Qr = (g->Q + SPAN - 1) / SPAN * SPAN;
    g->lead = up16((size_t)g->Wp + 1);
    g->L = g->lead + g->Qr + up16((size_t)g->Wp + 1);
    g->first = g->phase ? 0 : -(g->Wp + 1);
    return 1;
}

/* index in w (OC,C,K,K) of the weight of output channel oc, grid channel cg, tap t */
static size_t widx(const Geom *g, int oc, int cg, int t)
{
    if (!g->phase) return ((size_t)oc * g->C + cg) * 9 + t;
    const int c = cg >> 2, py = (cg >> 1) & 1, px = cg & 1, a = t >> 1, e = t & 1;
    return (((size_t)oc * g->C + c) * 4 + 2 * a + py) * 4 + 2 * e + px;
}

/* n channels cut into nblk blocks of whole units of `unit` channels (1, or 2 to keep the
 * phase pairs px = 0, 1 together), at most `most` channels each, as even as possible */
typedef struct { int n, unit, nblk; } Blocks;
static Blocks blocks(int n, int most, int unit)
{
    const int units = n / unit, per = most / unit;
    return (Blocks){ n, unit, (units + per - 1) / per };
}
/* block k: first channel *c0, *nb channels */
static void block(const Blocks *bs, int k, int *c0, int *nb)
{
    const int n = bs->n / bs->unit, base = n / bs->nblk, extra = n % bs->nblk;
    *c0 = (k * base + (k < extra ? k : extra)) * bs->unit;
    *nb = (base + (k < extra)) * bs->unit;
}
/* the block of channel j: its first channel *c0, size *nb, and j's place *o in it */
static void which_block(const Blocks *bs, int j, int *c0, int *nb, int *o)
{
    const int n = bs->n / bs->unit, base = n / bs->nblk, extra = n % bs->nblk, big = extra * (base + 1);
    const int ju = j / bs->unit, k = ju < big ? ju / (base + 1) : extra + (ju - big) / base;
    block(bs, k, c0, nb);
    *o = j - *c0;
}

static int direct1x1_forward(float *out, const float *in, const float *w, const float *bias,
                             int B, int C, int H, int W, int OC, int K, int stride, int pad, const ConvEpi *ep);
static int direct1x1_backward(float *din, float *dw, const float *dout, const float *in,
                              const float *w, int B, int C, int H, int W, int OC, int K,
                              int stride, int pad, const ConvEpi *ep);

/* ---- grids (called inside a parallel region: each is an omp for over planes) ---- */

/* dst (planes, L) <- src (planes/B... ) : planes·B sample planes of h×w into the grid of g
 * (rows of Wp, Hp rows per sample), zeros everywhere else, margins included. h = Ho, w = Wo. */
static void fill_plain(const Geom *g, float *dst, const float *src, int planes, int h, int w)
{
    const int B = g->B, Hp = g->Hp, Wp = g->Wp;
#pragma omp for schedule(static)
    for (int pb = 0; pb < planes * B; pb++) {
        const int p = pb / B, b = pb % B;
        float *chan = dst + (size_t)p * g->L;
        float *d = chan + g->lead + (size_t)b * Hp * Wp;
        const float *s = src + (size_t)pb * h * w;
        if (b == 0) memset(chan, 0, g->lead * sizeof(float));
        if (b == B - 1) memset(chan + g->lead + g->Q, 0, (g->L - g->lead - g->Q) * sizeof(float));
        for (int y = 0; y < h; y++) {
            memcpy(d + (size_t)y * Wp, s + (size_t)y * w, (size_t)w * sizeof(float));
            for (int x = w; x < Wp; x++) d[(size_t)y * Wp + x] = 0;
        }
        memset(d + (size_t)h * Wp, 0, (size_t)(Hp - h) * Wp * sizeof(float));
    }
}

/* the even and odd columns of a row of 16·2 floats */
static const int ev_idx[16] = { 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30 };
static const int od_idx[16] = { 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31 };

/* one input row s (W floats; NULL: a zero row) to its two phase rows of Wp:
 * p0[j] = s[2j−1] (px = 0), p1[j] = s[2j] (px = 1), 0 outside the row */
static void split_row(float *p0, float *p1, const float *s, int W, int Wp)
{
    if (!s) {
        memset(p0, 0, (size_t)Wp * sizeof(float));
        memset(p1, 0, (size_t)Wp * sizeof(float));
        return;
    }
    const __m512i ie = _mm512_loadu_si512(ev_idx), io = _mm512_loadu_si512(od_idx);
    int j = 0;
    p0[0] = 0;
    for (; 2 * j + 32 <= W && j + 16 < Wp; j += 16) {
        const __m512 a = _mm512_loadu_ps(s + 2 * j), b = _mm512_loadu_ps(s + 2 * j + 16);
        _mm512_storeu_ps(p1 + j, _mm512_permutex2var_ps(a, ie, b));
        _mm512_storeu_ps(p0 + j + 1, _mm512_permutex2var_ps(a, io, b));
    }
    for (; j < Wp; j++) {
        p1[j] = 2 * j < W ? s[2 * j] : 0;
        if (j + 1 < Wp) p0[j + 1] = 2 * j + 1 < W ? s[2 * j + 1] : 0;
    }
}

/* xg (Cg, L) <- in (C,B,H,W): the input grid the forward reads */
static void fill_input(const Geom *g, float *xg, const float *in)
{
    if (!g->phase) {
        fill_plain(g, xg, in, g->C, g->H, g->W);
        return;
    }
    const int B = g->B, H = g->H, W = g->W, Hp = g->Hp, Wp = g->Wp;
    const size_t L = g->L;
#pragma omp for schedule(static)
    for (int cb = 0; cb < g->C * B; cb++) {
        const int c = cb / B, b = cb % B;
        const float *s = in + (size_t)cb * H * W;
        float *d[4];                                    /* phase (py,px) = 2py+px of (c, b) */
        for (int ph = 0; ph < 4; ph++) {
            float *chan = xg + (size_t)(4 * c + ph) * L;
            d[ph] = chan + g->lead + (size_t)b * Hp * Wp;
            if (b == 0) memset(chan, 0, g->lead * sizeof(float));
            if (b == B - 1) memset(chan + g->lead + g->Q, 0, (L - g->lead - g->Q) * sizeof(float));
        }
        /* phase row i of py holds input row r = 2i+py−1 */
        for (int i = 0; i < Hp; i++)
            for (int py = 0; py < 2; py++) {
                const int r = 2 * i + py - 1;
                split_row(d[2 * py] + (size_t)i * Wp, d[2 * py + 1] + (size_t)i * Wp,
                          r >= 0 && r < H ? s + (size_t)r * W : NULL, W, Wp);
            }
    }
}

/* w (OC,C,K,K) -> wt: blocks of the channels the product makes (forward: oc; backward data:
 * c'), each block laid out [ci][t][o < nb] over the channels it sums (forward: c'; backward
 * data: oc, with the taps reversed: the transposed convolution reads the grid the other way).
 * w is read in memory order (one streaming pass; a gather in wt's order ran from cache misses). */
static void arrange(const Geom *g, float *wt, const float *w, const Blocks *bs, int transposed)
{
    const int T = g->T, KK = g->phase ? 16 : 9, Cg = g->Cg, OC = g->OC;
    /* where each channel of the product goes: wt offset of its block, block size, place */
    enum { MAXC = 4096 };
    int base[MAXC], size[MAXC], place[MAXC];
    const int n = transposed ? Cg : OC;
    if (n > MAXC) die_runtime("expected at most %d convolution channels, found %d", MAXC, n);
    for (int j = 0; j < n; j++) {
        int c0, nb, o;
        which_block(bs, j, &c0, &nb, &o);
        base[j] = c0 * (transposed ? OC : Cg) * T;
        size[j] = nb;
        place[j] = o;
    }
#pragma omp for schedule(static)
    for (int oc = 0; oc < OC; oc++)
        for (int c = 0; c < g->C; c++) {
            const float *s = w + ((size_t)oc * g->C + c) * KK;
            for (int k = 0; k < KK; k++) {
                int cg = c, t = k;
                if (g->phase) {             /* k = kh·4 + kw, kh = 2a+py, kw = 2e+px */
                    const int kh = k >> 2, kw = k & 3;
                    cg = 4 * c + 2 * (kh & 1) + (kw & 1);
                    t = 2 * (kh >> 1) + (kw >> 1);
                }
                if (!transposed)
                    wt[base[oc] + ((size_t)cg * T + t) * size[oc] + place[oc]] = s[k];
                else
                    wt[base[cg] + ((size_t)oc * T + (T - 1 - t)) * size[cg] + place[cg]] = s[k];
            }
        }
}

/* ---- the tile kernel: res (OCB, SPAN) = Σ_(c < Cs) Σ_(r,e < KT) wt[c][r·KT+e][o]·src[c·L + i + r·Wp + e]
 *      (src already moved to the first tap: the taps are the KT×KT square from there) ---- */

static inline __attribute__((always_inline)) void tile_kernel(float *restrict res, const float *src,
        size_t L, int Cs, int Wp, const float *wt, const int KT, const int OCB, const int NV)
{
    const int T = KT * KT;
    for (int h = 0; h < SPAN; h += NV * 16) {
        __m512 acc[MAXB][6];
#pragma GCC unroll 8
        for (int o = 0; o < OCB; o++)
#pragma GCC unroll 6
            for (int v = 0; v < NV; v++) acc[o][v] = _mm512_setzero_ps();
        const float *x = src + h, *wc = wt;
        for (int c = 0; c < Cs; c++, x += L, wc += T * OCB) {
            /* the next tile's new stretch of this channel (its last tap row), one tile ahead:
             * each channel is a short stream the hardware prefetcher does not follow */
#pragma GCC unroll 6
            for (int v = 0; v < NV; v++) _mm_prefetch((const char *)(x + (size_t)(KT - 1) * Wp + SPAN + 16 * v), _MM_HINT_T0);
#pragma GCC unroll 3
            for (int r = 0; r < KT; r++) {
                const float *xr = x + (size_t)r * Wp;
#pragma GCC unroll 3
                for (int e = 0; e < KT; e++) {
                    __m512 xv[6];
#pragma GCC unroll 6
                    for (int v = 0; v < NV; v++) xv[v] = _mm512_loadu_ps(xr + e + 16 * v);
                    const float *wp = wc + (r * KT + e) * OCB;
#pragma GCC unroll 8
                    for (int o = 0; o < OCB; o++) {
                        const __m512 wb = _mm512_set1_ps(wp[o]);
#pragma GCC unroll 6
                        for (int v = 0; v < NV; v++) acc[o][v] = _mm512_fmadd_ps(wb, xv[v], acc[o][v]);
                    }
                }
            }
        }
#pragma GCC unroll 8
        for (int o = 0; o < OCB; o++)
#pragma GCC unroll 6
            for (int v = 0; v < NV; v++) _mm512_store_ps(res + o * SPAN + h + 16 * v, acc[o][v]);
    }
}

typedef void (*tile_fn)(float *restrict, const float *, size_t, int, int, const float *);
#define TILE(KT, O) \
    static void tile_##KT##_##O(float *restrict r, const float *s, size_t L, int Cs, int Wp, const float *wt) \
    { tile_kernel(r, s, L, Cs, Wp, wt, KT, O, (O) <= 4 ? 6 : 3); }
TILE(3, 1) TILE(3, 2) TILE(3, 3) TILE(3, 4) TILE(3, 5) TILE(3, 6) TILE(3, 7) TILE(3, 8)
TILE(2, 1) TILE(2, 2) TILE(2, 3) TILE(2, 4) TILE(2, 5) TILE(2, 6) TILE(2, 7) TILE(2, 8)
TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4) TILE(1, 5) TILE(1, 6) TILE(1, 7) TILE(1, 8)
static const tile_fn tile3[MAXB + 1] = { 0, tile_3_1, tile_3_2, tile_3_3, tile_3_4, tile_3_5, tile_3_6, tile_3_7, tile_3_8 };
static const tile_fn tile2[MAXB + 1] = { 0, tile_2_1, tile_2_2, tile_2_3, tile_2_4, tile_2_5, tile_2_6, tile_2_7, tile_2_8 };
static const tile_fn tile1[MAXB + 1] = { 0, tile_1_1, tile_1_2, tile_1_3, tile_1_4, tile_1_5, tile_1_6, tile_1_7, tile_1_8 };

/* ---- from a tile's result to the (C,B,h,w) tensor ---- */

/* dst[(ch0+o), b, y, x] = res[o][i] (+ bias[ch0+o], then the epilogue ep) for the grid
 * positions q0+i that are inside the h×w image (y < h, x < w); the grid's rows are Wp long, Hp
 * per sample. */
static void emit_plain(const Geom *g, float *dst, const float *res, int ch0, int nb, size_t q0,
                       int h, int w, const float *bias, const ConvEpi *ep)
{
    const int Wp = g->Wp, Hp = g->Hp, B = g->B;
    const size_t end = q0 + SPAN < g->Q ? q0 + SPAN : g->Q;
    size_t q = q0;
    size_t row = q0 / Wp;
    int x = (int)(q0 - row * Wp);
    int b = (int)(row / Hp), y = (int)(row % Hp);
    while (q < end) {
        const int run = (int)(end - q < (size_t)(Wp - x) ? end - q : (size_t)(Wp - x));
        if (y < h && x < w) {
            const int n = run < w - x ? run : w - x, i = (int)(q - q0);
            for (int o = 0; o < nb; o++) {
                const float *s = res + o * SPAN + i;
                float *d = dst + (((size_t)(ch0 + o) * B + b) * h + y) * w + x;
                const float bv = bias ? bias[ch0 + o] : 0;
                if (ep && ep->act) {
                    const float *m = ep->mask ? ep->mask + (d - dst) : NULL;
                    for (int k = 0; k < n; k++) d[k] = conv_epi_s(s[k] + bv, ep, m ? m[k] : 0);
                } else {
                    for (int k = 0; k < n; k++) d[k] = s[k] + bv;
                }
            }
        }
        q += run;
        x = 0;
        if (++y == Hp) { y = 0; b++; }
    }
}

/* 16-bit mask of the lanes of a store at column cs that fall in [lo, hi) */
static __mmask16 lanes(int cs, int lo, int hi)
{
    const int a = lo - cs, e = hi - cs;
    if (a >= 16 || e <= 0) return 0;
    unsigned m = 0xFFFF;
    if (a > 0) m &= ~((1u << a) - 1);
    if (e < 16) m &= (1u << e) - 1;
    return (__mmask16)m;
}

/* din[c, b, 2i+py−1, 2j+px−1] = res[o][k] for grid channels c' = ch0+o = 4c+2py+px and phase
 * grid positions q0+k = (b·Hp + i)·Wp + j inside the image. Blocks hold whole pairs px = 0, 1
 * (Blocks unit 2), whose rows interleave into one row of din. */
static void emit_phase(const Geom *g, float *din, const float *res, int ch0, int nb, size_t q0)
{
    const int Wp = g->Wp, Hp = g->Hp, B = g->B, H = g->H, W = g->W;
    const size_t end = q0 + SPAN < g->Q ? q0 + SPAN : g->Q;
    static const int lo_idx[16] = { 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23 };
    static const int hi_idx[16] = { 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };
    const __m512i il = _mm512_loadu_si512(lo_idx), ih = _mm512_loadu_si512(hi_idx);
    for (int o = 0; o + 1 < nb; o += 2) {
        const int cg = ch0 + o, c = cg >> 2, py = (cg >> 1) & 1;   /* cg: px = 0, cg+1: px = 1 */
        const float *r0 = res + o * SPAN, *r1 = r0 + SPAN;
        size_t q = q0, row = q0 / Wp;
        int j = (int)(q0 - row * Wp), b = (int)(row / Hp), i = (int)(row % Hp);
        while (q < end) {
            const int run = (int)(end - q < (size_t)(Wp - j) ? end - q : (size_t)(Wp - j));
            const int r = 2 * i + py - 1, k0 = (int)(q - q0);
            if (r >= 0 && r < H) {
                /* din row cols 2j'−1 (r0[j']) and 2j' (r1[j']) for j' in [j, j+run), inside [0, W) */
                float *d = din + (((size_t)c * B + b) * H + r) * W;
                const int lo = 2 * j - 1 > 0 ? 2 * j - 1 : 0, hi = 2 * (j + run) - 1 < W ? 2 * (j + run) - 1 : W;
                for (int k = 0; k < run; k += 16) {
                    const __mmask16 in = lanes(k, 0, run);
                    const __m512 a = _mm512_maskz_loadu_ps(in, r0 + k0 + k), e = _mm512_maskz_loadu_ps(in, r1 + k0 + k);
                    const int cs = 2 * (j + k) - 1;                /* column of the first lane */
                    _mm512_mask_storeu_ps(d + cs, lanes(cs, lo, hi), _mm512_permutex2var_ps(a, il, e));
                    _mm512_mask_storeu_ps(d + cs + 16, lanes(cs + 16, lo, hi), _mm512_permutex2var_ps(a, ih, e));
                }
            }
            q += run;
            j = 0;
            if (++i == Hp) { i = 0; b++; }
        }
    }
}

/* ---- forward ---- */

/* out (OC,B,Ho,Wo) = w ⋆ in (C,B,H,W) + b; 0 (nothing done) when the shape is not handled */
int conv2d_direct_forward_cpu(float *out, const float *in, const float *w, const float *bias,
                              int B, int C, int H, int W, int OC, int K, int stride, int pad,
                              const ConvEpi *ep)
{
    if (K == 1) return direct1x1_forward(out, in, w, bias, B, C, H, W, OC, K, stride, pad, ep);
    Geom g;
    if (!geom(&g, B, C, H, W, OC, K, stride, pad)) return 0;
    float *xg = grow(&xg_buf, (size_t)g.Cg * g.L), *wt = grow(&wt_buf, (size_t)OC * g.Cg * g.T);
    const Blocks bs = blocks(OC, MAXB, 1);
    const int nblk = bs.nblk, tiles = (int)(g.Qr / SPAN), items = tiles * nblk;
    const tile_fn *fn = g.phase ? tile2 : tile3;
    const int nt = team_size(2.0 * OC * g.Cg * g.T * (double)g.Q, items);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        fill_input(&g, xg, in);
        arrange(&g, wt, w, &bs, 0);
        /* the implicit barriers of the two loops above: grid and weights complete */
        float res[MAXB * SPAN] __attribute__((aligned(64)));
#pragma omp for schedule(dynamic, 4)
        for (int it = 0; it < items; it++) {
            const int tile = it / nblk, k = it % nblk;
            int o0, nb;
            block(&bs, k, &o0, &nb);
            const size_t q0 = (size_t)tile * SPAN;
            fn[nb](res, xg + g.lead + q0 + g.first, g.L, g.Cg, g.Wp, wt + (size_t)o0 * g.Cg * g.T);
            emit_plain(&g, out, res, o0, nb, q0, g.Ho, g.Wo, bias, ep);
        }
    }
    return 1;
}

/* ---- backward weights: part[o][t] = Σ_(q < n) d[o·L + q]·x[q + r·Wp + e], t = r·KT + e
 *      (x already moved to the first tap) ---- */

static inline __attribute__((always_inline)) void dw_kernel(float *part, const float *d, const float *x,
        size_t L, size_t n, int Wp, size_t ostride, const int KT, const int OCB)
{
    __m512 acc[6][9];
#pragma GCC unroll 6
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 9
        for (int t = 0; t < KT * KT; t++) acc[o][t] = _mm512_setzero_ps();
    for (size_t q = 0; q < n; q += 16) {
        __m512 dv[6];
#pragma GCC unroll 6
        for (int o = 0; o < OCB; o++) {
            dv[o] = _mm512_load_ps(d + o * L + q);
            __asm__("" : "+v"(dv[o]));   /* in a register, not folded into each FMA */
        }
#pragma GCC unroll 3
        for (int r = 0; r < KT; r++)
#pragma GCC unroll 3
            for (int e = 0; e < KT; e++) {
                __m512 xv = _mm512_loadu_ps(x + q + (size_t)r * Wp + e);
                __asm__("" : "+v"(xv));   /* one load, reused OCB times (not folded into each FMA) */
#pragma GCC unroll 6
                for (int o = 0; o < OCB; o++) acc[o][r * KT + e] = _mm512_fmadd_ps(dv[o], xv, acc[o][r * KT + e]);
            }
    }
#pragma GCC unroll 6
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 9
        for (int t = 0; t < KT * KT; t++) part[o * ostride + t] = _mm512_reduce_add_ps(acc[o][t]);
}

typedef void (*dw_fn)(float *, const float *, const float *, size_t, size_t, int, size_t);
#define DWK(KT, O) \
    static void dw_##KT##_##O(float *p, const float *d, const float *x, size_t L, size_t n, int Wp, size_t os) \
    { dw_kernel(p, d, x, L, n, Wp, os, KT, O); }
DWK(3, 1) DWK(3, 2) DWK(3, 3)
DWK(2, 1) DWK(2, 2) DWK(2, 3) DWK(2, 4) DWK(2, 5) DWK(2, 6)
static const dw_fn dw3[4] = { 0, dw_3_1, dw_3_2, dw_3_3 };
static const dw_fn dw2[7] = { 0, dw_2_1, dw_2_2, dw_2_3, dw_2_4, dw_2_5, dw_2_6 };

/* ---- backward ---- */

/* din (C,B,H,W) = transposed convolution of dout (OC,B,Ho,Wo) (assigned); dw (OC,C,K,K) +=
 * dout ⋆ in. Either may be NULL. Returns what it did: 1 din, 2 dw (0: neither, the shape is
 * not handled). */
int conv2d_direct_backward_cpu(float *din, float *dw, const float *dout, const float *in,
                               const float *w, int B, int C, int H, int W, int OC, int K,
                               int stride, int pad, const ConvEpi *ep)
{
    if (K == 1) return direct1x1_backward(din, dw, dout, in, w, B, C, H, W, OC, K, stride, pad, ep);
    Geom g;
    if (!geom(&g, B, C, H, W, OC, K, stride, pad)) return 0;
    if (!din && !dw) return 0;
    const int T = g.T, Cg = g.Cg;
    float *dg = grow(&dg_buf, (size_t)OC * g.L);
    float *xg = dw ? grow(&xg_buf, (size_t)Cg * g.L) : NULL;
    float *wt = din ? grow(&wt_buf, (size_t)OC * Cg * T) : NULL;
    /* backward data: tiles over the input grid × blocks of grid input channels */
    const Blocks cbs = blocks(Cg, MAXB, g.phase ? 2 : 1);   /* phases px = 0, 1 in one block */
    const int cblk = cbs.nblk, tiles = (int)(g.Qr / SPAN), ditems = din ? tiles * cblk : 0;
    const tile_fn *fn = g.phase ? tile2 : tile3;
    /* backward weights: units of DW_R positions × blocks of output channels */
    const Blocks obs = blocks(OC, T == 9 ? 3 : 6, 1);
    const int oblk = obs.nblk;
    const size_t Q16 = up16(g.Q), nw = (size_t)OC * Cg * T;
    const int units = dw ? (int)((Q16 + DW_R - 1) / DW_R) : 0, witems = units * oblk;
    float *part = dw ? grow(&part_buf, (size_t)units * nw) : NULL;
    const dw_fn *wfn = g.phase ? dw2 : dw3;
    const double flops = 2.0 * OC * Cg * T * (double)g.Q * ((din != NULL) + (dw != NULL));
    const int nt = team_size(flops, ditems + witems);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        fill_plain(&g, dg, dout, OC, g.Ho, g.Wo);
        if (dw) fill_input(&g, xg, in);
        if (din) arrange(&g, wt, w, &cbs, 1);
        float res[MAXB * SPAN] __attribute__((aligned(64)));
        if (din) {
#pragma omp for schedule(dynamic, 4) nowait
            for (int it = 0; it < ditems; it++) {
                const int tile = it / cblk, k = it % cblk;
                int c0, nb;
                block(&cbs, k, &c0, &nb);
                const size_t q0 = (size_t)tile * SPAN;
                fn[nb](res, dg + g.lead + q0 - (g.Wp + 1), g.L, OC, g.Wp, wt + (size_t)c0 * OC * T);
                if (g.phase) emit_phase(&g, din, res, c0, nb, q0);
                else emit_plain(&g, din, res, c0, nb, q0, H, W, NULL, ep);
            }
            /* the phases interleave in din as they are written: an activation comes after */
            if (g.phase) conv_epi_all(din, (size_t)C * B * H * W, ep);
        }
        if (dw) {
#pragma omp for schedule(dynamic, 1)
            for (int it = 0; it < witems; it++) {
                const int u = it / oblk, k = it % oblk;
                int o0, nb;
                block(&obs, k, &o0, &nb);
                const size_t q0 = (size_t)u * DW_R, n = Q16 - q0 < DW_R ? Q16 - q0 : DW_R;
                const float *d = dg + g.lead + (size_t)o0 * g.L + q0;
                float *p = part + (size_t)u * nw + (size_t)o0 * Cg * T;
                for (int cg = 0; cg < Cg; cg++)
                    wfn[nb](p + (size_t)cg * T, d, xg + g.lead + (size_t)cg * g.L + q0 + g.first, g.L, n,
                            g.Wp, (size_t)Cg * T);
            }
            /* dw += Σ_u part[u], in unit order */
#pragma omp for schedule(static)
            for (int oc = 0; oc < OC; oc++)
                for (int cg = 0; cg < Cg; cg++)
                    for (int t = 0; t < T; t++) {
                        const size_t i = ((size_t)oc * Cg + cg) * T + t;
                        float s = 0;
                        for (int u = 0; u < units; u++) s += part[(size_t)u * nw + i];
                        dw[widx(&g, oc, cg, t)] += s;
                    }
        }
    }
    return (din ? 1 : 0) | (dw ? 2 : 0);
}

/* ---- 1×1, stride 1, no padding: a product over channels at each of the N = B·H·W positions,
 *      by the same kernels with one tap and the tensors themselves as the "grid" ---- */

static Buf tail_buf, part1_buf;

/* res (nb, SPAN) for positions q0 .. q0+SPAN−1 of src (Cs channels, stride N), weights wt
 * [Cs][nb]; the last, partial tile goes through a zero-padded copy (the kernel reads whole tiles) */
static void tile1x1(float *res, const float *src, size_t N, int Cs, const float *wt, int nb, size_t q0, float *pad)
{
    if (q0 + SPAN <= N) {
        tile1[nb](res, src + q0, N, Cs, 0, wt);
        return;
    }
    const size_t n = N - q0;
    for (int c = 0; c < Cs; c++) {
        memcpy(pad + (size_t)c * SPAN, src + (size_t)c * N + q0, n * sizeof(float));
        memset(pad + (size_t)c * SPAN + n, 0, (SPAN - n) * sizeof(float));
    }
    tile1[nb](res, pad, SPAN, Cs, 0, wt);
}

/* dst[(ch0+o)·N + q0 + i] = res[o][i] (+ bias, then the epilogue) for the positions below N */
static void emit1x1(float *dst, const float *res, size_t N, int ch0, int nb, size_t q0, const float *bias,
                    const ConvEpi *ep)
{
    const size_t n = N - q0 < SPAN ? N - q0 : SPAN;
    for (int o = 0; o < nb; o++) {
        const float *s = res + o * SPAN, bv = bias ? bias[ch0 + o] : 0;
        float *d = dst + (size_t)(ch0 + o) * N + q0;
        if (ep && ep->act) {
            const float *m = ep->mask ? ep->mask + (d - dst) : NULL;
            for (size_t i = 0; i < n; i++) d[i] = conv_epi_s(s[i] + bv, ep, m ? m[i] : 0);
        } else {
            for (size_t i = 0; i < n; i++) d[i] = s[i] + bv;
        }
    }
}

/* w (OC,C) -> wt in blocks of the product's channels (forward: oc, summing c; transposed: c,
 * summing oc), each block [ci][o < nb] */
static void arrange1x1(float *wt, const float *w, int OC, int C, const Blocks *bs, int transposed)
{
    const int nin = transposed ? OC : C;
#pragma omp for schedule(static)
    for (int k = 0; k < bs->nblk; k++) {
        int o0, nb;
        block(bs, k, &o0, &nb);
        float *d = wt + (size_t)o0 * nin;
        for (int ci = 0; ci < nin; ci++)
            for (int o = 0; o < nb; o++)
                d[(size_t)ci * nb + o] = transposed ? w[(size_t)ci * C + o0 + o] : w[(size_t)(o0 + o) * C + ci];
    }
}

/* y (Cout, N) = wt-product of x (Cin, N) (+ bias): the forward (Cin = C) or the data gradient.
 * Inside a parallel region (its loops are the region's work sharing); pads: SPAN·Cin floats per
 * thread */
static void conv1x1(float *y, const float *x, const float *w, const float *bias, int C, int OC, size_t N,
                    int transposed, float *wt, float *pads, const ConvEpi *ep)
{
    const int Cin = transposed ? OC : C, Cout = transposed ? C : OC;
    const Blocks bs = blocks(Cout, MAXB, 1);
    const int tiles = (int)((N + SPAN - 1) / SPAN), items = tiles * bs.nblk;
    arrange1x1(wt, w, OC, C, &bs, transposed);   /* ends in a barrier */
    float res[MAXB * SPAN] __attribute__((aligned(64)));
    float *pad = pads + (size_t)omp_get_thread_num() * Cin * SPAN;
#pragma omp for schedule(dynamic, 4) nowait
    for (int it = 0; it < items; it++) {
        const int tile = it / bs.nblk, k = it % bs.nblk;
        int o0, nb;
        block(&bs, k, &o0, &nb);
        const size_t q0 = (size_t)tile * SPAN;
        tile1x1(res, x, N, Cin, wt + (size_t)o0 * Cin, nb, q0, pad);
        emit1x1(y, res, N, o0, nb, q0, bias, ep);
    }
}

/* part[o][c] = Σ_(q < n) d[o·N + q]·x[c·N + q] for OCB × CB channel pairs; the last vector masked */
static inline __attribute__((always_inline)) void dw1_kernel(float *part, size_t ldp, const float *d, const float *x,
        size_t N, size_t n, const int OCB, const int CB)
{
    __m512 acc[4][6];
#pragma GCC unroll 4
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 6
        for (int c = 0; c < CB; c++) acc[o][c] = _mm512_setzero_ps();
    for (size_t q = 0; q < n; q += 16) {
        const __mmask16 m = n - q >= 16 ? 0xFFFF : (__mmask16)((1u << (n - q)) - 1);
        __m512 dv[4];
#pragma GCC unroll 4
        for (int o = 0; o < OCB; o++) {
            dv[o] = _mm512_maskz_loadu_ps(m, d + o * N + q);
            __asm__("" : "+v"(dv[o]));
        }
#pragma GCC unroll 6
        for (int c = 0; c < CB; c++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + c * N + q);
            __asm__("" : "+v"(xv));
#pragma GCC unroll 4
            for (int o = 0; o < OCB; o++) acc[o][c] = _mm512_fmadd_ps(dv[o], xv, acc[o][c]);
        }
    }
#pragma GCC unroll 4
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 6
        for (int c = 0; c < CB; c++) part[o * ldp + c] = _mm512_reduce_add_ps(acc[o][c]);
}

typedef void (*dw1_fn)(float *, size_t, const float *, const float *, size_t, size_t);
#define DW1(O, CB) \
    static void dw1_##O##_##CB(float *p, size_t ldp, const float *d, const float *x, size_t N, size_t n) \
    { dw1_kernel(p, ldp, d, x, N, n, O, CB); }
#define DW1_6(O) DW1(O, 1) DW1(O, 2) DW1(O, 3) DW1(O, 4) DW1(O, 5) DW1(O, 6)
DW1_6(1) DW1_6(2) DW1_6(3) DW1_6(4)
static const dw1_fn dw1_fns[5][7] = {
    { 0 }, { 0, dw1_1_1, dw1_1_2, dw1_1_3, dw1_1_4, dw1_1_5, dw1_1_6 },
    { 0, dw1_2_1, dw1_2_2, dw1_2_3, dw1_2_4, dw1_2_5, dw1_2_6 },
    { 0, dw1_3_1, dw1_3_2, dw1_3_3, dw1_3_4, dw1_3_5, dw1_3_6 },
    { 0, dw1_4_1, dw1_4_2, dw1_4_3, dw1_4_4, dw1_4_5, dw1_4_6 },
};

/* dw (OC,C) += dout (OC,N) · in (C,N)ᵀ: units of DW_R positions × channel blocks, one partial
 * per unit summed in unit order. Inside a parallel region; part: units·OC·C floats. */
static void dw1x1(float *dw, const float *dout, const float *in, int C, int OC, size_t N, float *part)
{
    const Blocks obs = blocks(OC, 4, 1), cbs = blocks(C, 6, 1);
    const int units = (int)((N + DW_R - 1) / DW_R), per = obs.nblk * cbs.nblk, items = units * per;
    const size_t nw = (size_t)OC * C;
#pragma omp for schedule(dynamic, 2)
    for (int it = 0; it < items; it++) {
        const int u = it / per, kb = it % per;
        int o0, nb, c0, cb;
        block(&obs, kb / cbs.nblk, &o0, &nb);
        block(&cbs, kb % cbs.nblk, &c0, &cb);
        const size_t q0 = (size_t)u * DW_R, n = N - q0 < DW_R ? N - q0 : DW_R;
        dw1_fns[nb][cb](part + (size_t)u * nw + (size_t)o0 * C + c0, C, dout + (size_t)o0 * N + q0,
                        in + (size_t)c0 * N + q0, N, n);
    }
#pragma omp for schedule(static)
    for (int oc = 0; oc < OC; oc++)
        for (int c = 0; c < C; c++) {
            float s = 0;
            for (int u = 0; u < units; u++) s += part[(size_t)u * nw + (size_t)oc * C + c];
            dw[(size_t)oc * C + c] += s;
        }
}

/* 1×1 convolutions with at least 8 channels each way (fewer: the gemm path is as good) */
static int is1x1(int C, int OC, int K, int stride, int pad) { return K == 1 && stride == 1 && pad == 0 && C >= 8 && OC >= 8; }

static int direct1x1_forward(float *out, const float *in, const float *w, const float *bias,
                             int B, int C, int H, int W, int OC, int K, int stride, int pad, const ConvEpi *ep)
{
    if (!is1x1(C, OC, K, stride, pad)) return 0;
    const size_t N = (size_t)B * H * W;
    const int nt = team_size(2.0 * OC * C * (double)N, (int)((N + SPAN - 1) / SPAN) * blocks(OC, MAXB, 1).nblk);
    float *wt = grow(&wt_buf, (size_t)OC * C), *pads = grow(&tail_buf, (size_t)nt * C * SPAN);
#pragma omp parallel num_threads(nt) if (nt > 1)
    conv1x1(out, in, w, bias, C, OC, N, 0, wt, pads, ep);
    return 1;
}

static int direct1x1_backward(float *din, float *dw, const float *dout, const float *in,
                              const float *w, int B, int C, int H, int W, int OC, int K,
                              int stride, int pad, const ConvEpi *ep)
{
    if (!is1x1(C, OC, K, stride, pad)) return 0;
    const size_t N = (size_t)B * H * W;
    /* Past 64×64 channel pairs a unit's rows of `in` outgrow L2 and OpenBLAS's blocked gemm
     * does the weight gradient faster (128 -> 64 at 16×16: 163 GF/s against 146) */
    if (C * OC > 4096) dw = NULL;
    if (!din && !dw) return 0;
    /* both in one parallel region (each region wakes the other threads) */
    const int units = (int)((N + DW_R - 1) / DW_R);
    const int items = din ? (int)((N + SPAN - 1) / SPAN) * blocks(C, MAXB, 1).nblk : units * 4;
    const int nt = team_size(2.0 * OC * C * (double)N * ((din != NULL) + (dw != NULL)), items);
    float *wt = din ? grow(&wt_buf, (size_t)OC * C) : NULL, *pads = din ? grow(&tail_buf, (size_t)nt * OC * SPAN) : NULL;
    float *part = dw ? grow(&part1_buf, (size_t)units * OC * C) : NULL;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        if (din) conv1x1(din, dout, w, NULL, C, OC, N, 1, wt, pads, ep);
        if (dw) dw1x1(dw, dout, in, C, OC, N, part);
    }
    return (din ? 1 : 0) | (dw ? 2 : 0);
}

#else
/* the double build, or no AVX-512: conv2d.c uses im2col + gemm throughout */
typedef int conv_direct_unused;
#endif
