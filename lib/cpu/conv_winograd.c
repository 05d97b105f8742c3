/* conv_winograd.c: Winograd's minimal filtering (Lavin & Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2016) for the float build on AVX-512: the 3×3 stride-1 pad-1 layers by
 * F(2×2, 3×3) (forward, data gradient, weight gradient) and the 4×4 stride-2 pad-1 layers by
 * F(2×2, 2×2) over the input's parity classes (forward, and the data gradient from 64 input
 * channels; section at the end). lib/cpu/conv2d.c tries it first and falls back to conv_direct.c,
 * then to im2col + gemm (and the double build, which the finite-difference tests run, always takes
 * im2col). Measured one thread, batch 16, GFLOP/s counted as direct convolution's: 3×3 from 8×8 to
 * 32×32, 340-430 forward and data gradient, 290-340 weight gradient (direct: 185-230; im2col +
 * gemm: 110-165).
 *
 * F(2×2, 3×3): every 2×2 block of outputs ("tile") is
 *     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
 * with d the 4×4 input patch around the tile (rows and columns −1 .. 2 from the tile's corner)
 * and g the 3×3 weights; the 4×4 elementwise products, summed over input channels, are 16
 * matrix products (OC × C)·(C × tiles), one per position ξ of the 4×4 transform: 16 multiplies
 * per tile and channel pair where direct convolution does 36.
 *   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]     (input transform, 4×4 patch -> 4×4)
 *   G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]                (weight transform, 3×3 -> 4×4)
 *   Aᵀ = [1 1 1 0; 0 1 −1 −1]                           (output transform, 4×4 -> 2×2)
 * The data gradient is the same forward with the weights transposed and flipped. The weight
 * gradient backpropagates through the formula itself (exact, as the formula is exact algebra):
 *     dw = Gᵀ [ Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B) ] G,
 * products over tiles, vectorised over the 16 positions ξ (the transforms transposed 16×16 in
 * registers), so that no horizontal sums are needed.
 *
 * Layout. Tiles are taken a row of tiles at a time (W/2 tiles across, the 4 input rows they
 * read), 16 tiles to a vector: the even and odd columns of each input row are split apart with
 * permutes, so that each of the 16 patch values is one vector over 16 tiles, and the transforms
 * are adds and subtracts of vectors; rows of 8, 4 or 2 tiles share a vector (2, 4 or 8 rows).
 * A work block is TB tiles (whole rows of tiles, across samples): its transformed input
 * V[ξ][c][τ] is made once, then the products M[ξ][oc][τ] ξ by ξ (wg_kernel: up to 8 output
 * channels × 3 vectors of tiles in registers), then the outputs. Blocks go to the OpenMP threads
 * dynamically. For dw, each unit of blocks keeps its own partial (16·OC·C), summed in unit order
 * at the end, so the bits do not depend on the thread count. Weights are transformed per call.
 *
 * Memory: per-thread grow-only scratch for V and M, shared buffers for the transformed weights
 * and the dw partials; not reentrant (as conv2d.c). */
#include "core/real.h"

#if !defined(OPS_F64) && defined(__AVX512F__)
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/common.h"
#include "cpu/conv_fast.h"
#include "cpu/threads.h"

#define MAX_THREADS 64
#define TBMAX 96        /* tiles per work block, at most */
#define OCBMAX 8        /* output channels per register block */

typedef struct { float *p; size_t cap; } Buf;
static Buf v_buf[MAX_THREADS], m_buf[MAX_THREADS], u_buf, part_buf;

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

/* ---- shapes ---- */

typedef struct {
    int B, C, H, W, OC;
    int TW, TH;         /* tiles across a row, rows of tiles per sample */
    int rows;           /* rows of tiles in all: B·TH */
    int rpb, TB;        /* rows of tiles per work block, tiles per block (rpb·TW) */
    int ld;             /* TB rounded up to whole vectors: the stride of a block's rows of tiles */
    int nblk;           /* work blocks */
} Geom;

/* C: the channels a block transforms (forward: the input's; dw: input's and dout's together) */
static void geom(Geom *g, int B, int C, int H, int W, int OC, int nt, int Cblk)
{
    g->B = B; g->C = C; g->H = H; g->W = W; g->OC = OC;
    g->TW = W / 2;
    g->TH = H / 2;
    g->rows = B * g->TH;
    /* A block's transformed input (16·Cblk·TB floats) should stay within ~256 KB, so that the
     * products read it from L2 once per block of output channels (128 channels at 96 tiles
     * would be 768 KB, and the products ran at the pace of L3); but at least 48 tiles (3 vectors),
     * or the products' kernel loads as much as it multiplies (64 -> 128 channels, 4×4 stride 2
     * at 16×16: 335 GF/s at 48 tiles, 235 at 16). */
    int tb = 4096 / Cblk;
    tb = tb < 48 ? 48 : tb > TBMAX ? TBMAX : tb;
    g->rpb = tb / g->TW > 0 ? tb / g->TW : 1;
    /* at least ~4 blocks per thread where the layer is small (dynamic balance), whole rows, but
     * not under 32 tiles a block (a product call over one vector of tiles loads as much as it
     * multiplies: 3×3 at 4×4 fell to 16 tiles a block and its products to half speed) */
    while (g->rpb > 1 && (g->rows + g->rpb - 1) / g->rpb < 4 * nt && (g->rpb / 2) * g->TW >= 32) g->rpb /= 2;
    /* even blocks (not a full ones and a remnant of a vector or two) */
    const int nb0 = (g->rows + g->rpb - 1) / g->rpb;
    g->rpb = (g->rows + nb0 - 1) / nb0;
    g->TB = g->rpb * g->TW;
    g->ld = (g->TB + 15) & ~15;
    g->nblk = (g->rows + g->rpb - 1) / g->rpb;
}

/* F(2×2,3×3) pays where both channel counts are at least 16 (the transforms are a fixed cost per
 * channel and tile; the products scale with the other channel count), on even sizes whose row of
 * tiles fits a block, from 8×8 up: at 4×4 a row of 2 tiles fills an eighth of a vector and the
 * transforms cost more than they save (measured 70 GF/s against direct's 120 at 128 channels). */
static int usable(int C, int H, int W, int OC, int K, int stride, int pad)
{
    return K == 3 && stride == 1 && pad == 1 && H % 2 == 0 && W % 2 == 0 && H >= 4 && W >= 4 &&
           W / 2 <= TBMAX && C >= 16 && OC >= 16;
}

/* ---- channel blocks (as conv_direct.c): n channels in nblk near-even blocks of ≤ most ---- */

static int nblocks(int n, int most) { return (n + most - 1) / most; }
static void block(int n, int nblk, int k, int *c0, int *nb)
{
    const int base = n / nblk, extra = n % nblk;
    *c0 = k * base + (k < extra ? k : extra);
    *nb = base + (k < extra);
}

/* 16-bit mask of the lanes i with lo <= start + i < hi */
static __mmask16 lanes(int start, int lo, int hi)
{
    const int a = lo - start, e = hi - start;
    if (a >= 16 || e <= 0) return 0;
    unsigned m = 0xFFFF;
    if (a > 0) m &= ~((1u << a) - 1);
    if (e < 16) m &= (1u << e) - 1;
    return (__mmask16)m;
}

/* r[i] lane j <-> r[j] lane i (a 16×16 transpose in registers) */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* r[4i+k]: 128-bit lane L holds column 4L+k of rows 4i .. 4i+3 */
    for (int k = 0; k < 4; k++) {
        t[k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88);
        t[4 + k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xdd);
        t[8 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88);
        t[12 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xdd);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
        r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd);
        r[4 + k] = _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0xdd);
    }
}

/* the 16 vectors o[ξ] (lanes: the tiles j0 .. j0+15 of a row of TW) to their place: tr = 0,
 * V[ξ·xs + j0 + lane] (lanes < TW − j0); tr = 1, transposed, V[(j0 + lane)·16 + ξ] */
static inline __attribute__((always_inline)) void put16(float *v, size_t xs, __m512 o[16], int j0, int TW, int tr)
{
    if (!tr) {
        const __mmask16 m = lanes(j0, 0, TW);
        for (int x = 0; x < 16; x++) _mm512_mask_storeu_ps(v + j0 + x * xs, m, o[x]);
        return;
    }
    transpose16(o);
    const int n = TW - j0 < 16 ? TW - j0 : 16;
    for (int l = 0; l < n; l++) _mm512_store_ps(v + (size_t)(j0 + l) * 16, o[l]);
}

static const int ev_idx[16] = { 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30 };
static const int od_idx[16] = { 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31 };
static const int lo_idx[16] = { 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23 };
static const int hi_idx[16] = { 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };

/* ---- weights: U[ξ] = (G g Gᵀ)[ξ] for g (3×3), 16 filters at a time (one per lane) ---- */

static inline __attribute__((always_inline)) void wtrans(__m512 u[16], const __m512 g[9])
{
    const __m512 h = _mm512_set1_ps(0.5f);
    __m512 t[4][3];   /* G g: rows of the transform, columns of g */
    for (int j = 0; j < 3; j++) {
        const __m512 a = g[j], b = g[3 + j], c = g[6 + j], ac = _mm512_add_ps(a, c);
        t[0][j] = a;
        t[1][j] = _mm512_mul_ps(h, _mm512_add_ps(ac, b));
        t[2][j] = _mm512_mul_ps(h, _mm512_sub_ps(ac, b));
        t[3][j] = c;
    }
    for (int i = 0; i < 4; i++) {
        const __m512 a = t[i][0], b = t[i][1], c = t[i][2], ac = _mm512_add_ps(a, c);
        u[i * 4 + 0] = a;
        u[i * 4 + 1] = _mm512_mul_ps(h, _mm512_add_ps(ac, b));
        u[i * 4 + 2] = _mm512_mul_ps(h, _mm512_sub_ps(ac, b));
        u[i * 4 + 3] = c;
    }
}

/* U[ξ][ci][j] (16, nin, nout) for the products, the `nout` channels they make contiguous.
 * Forward: outputs j = oc, sums ci = c, filter w[oc][c]. Transposed (the data gradient):
 * outputs j = c, sums ci = oc, filter w[oc][c] flipped both ways. */
static void arrange(float *U, const float *w, int OC, int C, int transposed)
{
    const int nout = transposed ? C : OC, nin = transposed ? OC : C;
    const size_t per = (size_t)OC * C;
    /* consecutive outputs j are 9 floats apart in w (transposed: 144 contiguous floats for 16)
     * or C·9 (forward); staged through tmp (a gather per tap ran 7 ns here) */
    const size_t step = transposed ? 9 : (size_t)9 * C;
#pragma omp for schedule(static)
    for (int ci = 0; ci < nin; ci++)
        for (int j0 = 0; j0 < nout; j0 += 16) {
            const int n = nout - j0 < 16 ? nout - j0 : 16;
            const __mmask16 m = lanes(j0, 0, nout);
            const float *base = transposed ? w + ((size_t)ci * C + j0) * 9 : w + ((size_t)j0 * C + ci) * 9;
            float tmp[9][16] __attribute__((aligned(64)));
            for (int l = 0; l < 16; l++)
                for (int k = 0; k < 9; k++) tmp[k][l] = l < n ? base[l * step + (transposed ? 8 - k : k)] : 0;
            __m512 g[9], u[16];
            for (int k = 0; k < 9; k++) g[k] = _mm512_load_ps(tmp[k]);
            wtrans(u, g);
            for (int x = 0; x < 16; x++) _mm512_mask_storeu_ps(U + x * per + (size_t)ci * nout + j0, m, u[x]);
        }
}

/* ---- input transform: V[ξ][c][τ] = (Bᵀ d B)[ξ] for the block's tiles ---- */

/* The patch columns 2t−1, 2t, 2t+1, 2t+2 of tiles t = j0 .. j0+15 in row p (W wide; NULL: zeros) */
static inline void cols4(__m512 d[4], const float *p, int j0, int W, __m512i ie, __m512i io)
{
    if (!p) {
        d[0] = d[1] = d[2] = d[3] = _mm512_setzero_ps();
        return;
    }
    const int a = 2 * j0 - 1, b = 2 * j0 + 1;
    const __m512 a1 = _mm512_maskz_loadu_ps(lanes(a, 0, W), p + a), a2 = _mm512_maskz_loadu_ps(lanes(a + 16, 0, W), p + a + 16);
    const __m512 b1 = _mm512_maskz_loadu_ps(lanes(b, 0, W), p + b), b2 = _mm512_maskz_loadu_ps(lanes(b + 16, 0, W), p + b + 16);
    d[0] = _mm512_permutex2var_ps(a1, ie, a2);   /* col 2t−1 */
    d[1] = _mm512_permutex2var_ps(a1, io, a2);   /* col 2t */
    d[2] = _mm512_permutex2var_ps(b1, ie, b2);   /* col 2t+1 */
    d[3] = _mm512_permutex2var_ps(b1, io, b2);   /* col 2t+2 */
}

/* Prefetch the rows lo .. hi of a plane stack (rows of W, H per sample; row index b·H + r
 * continues across samples) of one channel: a block reads a short stretch per channel, too short
 * for the hardware prefetcher to catch before the next channel's, so the next channel's is asked
 * for while this one is worked on (the transforms' loads missed cache at 1 in 3 without). */
static inline void prefetch_rows(const float *chan, int W, int lo, int hi)
{
    const char *a = (const char *)(chan + (size_t)lo * W), *e = (const char *)(chan + (size_t)(hi + 1) * W);
    for (; a < e; a += 64) _mm_prefetch(a, _MM_HINT_T0);
}

/* Channel c+PF_DIST's stretch (and, at c = 0, those of 1 .. PF_DIST−1). One channel ahead:
 * three ahead measured 5% slower a training step (more in flight than the caches keep). */
#define PF_DIST 1
static inline void prefetch_ahead(const float *x, int c, int C, size_t plane, int W, int lo, int hi)
{
    if (c == 0)
        for (int k = 1; k < PF_DIST && k < C; k++) prefetch_rows(x + (size_t)k * plane, W, lo, hi);
    if (c + PF_DIST < C) prefetch_rows(x + (size_t)(c + PF_DIST) * plane, W, lo, hi);
}

/* the input rows (as b·H + r) the tile rows r0 .. r0+nr−1 read: 2ti−1 .. 2ti+2, inside the images */
static inline void block_rows(const Geom *g, int r0, int nr, int *lo, int *hi)
{
    const int b0 = r0 / g->TH, t0 = r0 % g->TH, b1 = (r0 + nr - 1) / g->TH, t1 = (r0 + nr - 1) % g->TH;
    *lo = b0 * g->H + (2 * t0 - 1 > 0 ? 2 * t0 - 1 : 0);
    *hi = b1 * g->H + (2 * t1 + 2 < g->H - 1 ? 2 * t1 + 2 : g->H - 1);
}

/* o[ξ] = (Bᵀ d B)[ξ] from the patch d[row k][column set j] (vectors over tiles) */
static inline __attribute__((always_inline)) void btb(__m512 o[16], __m512 d[4][4])
{
    __m512 t[4][4];
    for (int j = 0; j < 4; j++) {          /* Bᵀ down the columns */
        t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
        t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
        t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
        t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
    }
    for (int i = 0; i < 4; i++) {          /* and B along the rows */
        o[i * 4 + 0] = _mm512_sub_ps(t[i][0], t[i][2]);
        o[i * 4 + 1] = _mm512_add_ps(t[i][1], t[i][2]);
        o[i * 4 + 2] = _mm512_sub_ps(t[i][2], t[i][1]);
        o[i * 4 + 3] = _mm512_sub_ps(t[i][1], t[i][3]);
    }
}

/* Rows of 8, 4 or 2 tiles (W = 16, 8, 4): G = 16/TW rows of tiles share a vector, lanes q·TW + t
 * for row q; rows of 16 tiles or more, or of another count, take vectors of their own (G = 1). */
static inline int groups(int TW) { return TW == 8 ? 2 : TW == 4 ? 4 : TW == 2 ? 8 : 1; }

/* r[q] holds a row's columns s .. s+15 (masked to the image); pack(r) gives, in lane q·TW + t,
 * r[q]'s lane 2t (even) or 2t+1 (odd). */
static inline __attribute__((always_inline)) __m512 pack(const __m512 r[8], int G, __m512i idx)
{
    if (G == 2) return _mm512_permutex2var_ps(r[0], idx, r[1]);
    if (G == 4)   /* each row's lanes 0..7 suffice; pair them up first */
        return _mm512_permutex2var_ps(_mm512_shuffle_f32x4(r[0], r[1], 0x44), idx,
                                      _mm512_shuffle_f32x4(r[2], r[3], 0x44));
    /* G = 8: lanes 0..3 of each row, four rows to a vector */
    __m512 z[2];
    for (int h = 0; h < 2; h++) {
        __m512 v = _mm512_castps128_ps512(_mm512_castps512_ps128(r[4 * h]));
        v = _mm512_insertf32x4(v, _mm512_castps512_ps128(r[4 * h + 1]), 1);
        v = _mm512_insertf32x4(v, _mm512_castps512_ps128(r[4 * h + 2]), 2);
        z[h] = _mm512_insertf32x4(v, _mm512_castps512_ps128(r[4 * h + 3]), 3);
    }
    return _mm512_permutex2var_ps(z[0], idx, z[1]);
}

/* V for the tile rows r0 .. r0+nr−1 of x (C,B,H,W), tile τ = (row − r0)·TW + t: tr = 0,
 * V[ξ][c][τ] (16, C, ldv); tr = 1, V[c][τ][ξ] (C, ldv, 16) */
static void in_trans(const Geom *g, float *V, size_t ldv, const float *x, int r0, int nr, int tr)
{
    const int C = g->C, H = g->H, W = g->W, TW = g->TW, TH = g->TH, B = g->B;
    const __m512i ie = _mm512_loadu_si512(ev_idx), io = _mm512_loadu_si512(od_idx);
    const size_t xs = (size_t)C * ldv;     /* ξ stride (tr = 0) */
    const int G = groups(TW);
    int plo, phi;
    block_rows(g, r0, nr, &plo, &phi);
    for (int c = 0; c < C; c++) {
        const float *chan = x + (size_t)c * B * H * W;
        prefetch_ahead(x, c, C, (size_t)B * H * W, W, plo, phi);
        if (G > 1) {
            const __mmask16 ma = lanes(-1, 0, W), mb = lanes(1, 0, W);
            for (int rr = 0; rr < nr; rr += G) {
                const float *p[4][8];      /* [k][q]: input row 2ti−1+k of tile row rr+q */
                for (int q = 0; q < 8; q++) {
                    const int row = r0 + rr + q, b = row / TH, ti = row % TH;
                    for (int k = 0; k < 4; k++) {
                        const int r = 2 * ti - 1 + k;
                        p[k][q] = q < G && rr + q < nr && r >= 0 && r < H ? chan + ((size_t)b * H + r) * W : NULL;
                    }
                }
                __m512 d[4][4], o[16];
                for (int k = 0; k < 4; k++) {
                    __m512 a[8], e[8];     /* columns −1 .. 14 and 1 .. 16 of each row */
                    for (int q = 0; q < G; q++) {
                        a[q] = p[k][q] ? _mm512_maskz_loadu_ps(ma, p[k][q] - 1) : _mm512_setzero_ps();
                        e[q] = p[k][q] ? _mm512_maskz_loadu_ps(mb, p[k][q] + 1) : _mm512_setzero_ps();
                    }
                    d[k][0] = pack(a, G, ie);   /* col 2t−1 */
                    d[k][1] = pack(a, G, io);   /* col 2t */
                    d[k][2] = pack(e, G, ie);   /* col 2t+1 */
                    d[k][3] = pack(e, G, io);   /* col 2t+2 */
                }
                btb(o, d);
                const int n = (nr - rr < G ? nr - rr : G) * TW;
                float *v = tr ? V + ((size_t)c * ldv + (size_t)rr * TW) * 16 : V + (size_t)c * ldv + (size_t)rr * TW;
                put16(v, xs, o, 0, n, tr);
            }
            continue;
        }
        /* rows 2ti+1, 2ti+2 of tile row ti are rows 2ti'−1, 2ti' of the next one (ti' = ti+1):
         * their columns are kept rather than loaded and split again */
        for (int j0 = 0; j0 < TW; j0 += 16) {
            __m512 d[4][4], o[16];
            int prev = -1;                 /* the tile row whose patch d holds */
            for (int rr = 0; rr < nr; rr++) {
                const int row = r0 + rr, b = row / TH, ti = row % TH;
                const float *plane = chan + (size_t)b * H * W;
                int k0 = 0;
                if (prev == row - 1 && ti > 0) {
                    for (int j = 0; j < 4; j++) {
                        d[0][j] = d[2][j];
                        d[1][j] = d[3][j];
                    }
                    k0 = 2;
                }
                for (int k = k0; k < 4; k++) {
                    const int r = 2 * ti - 1 + k;
                    cols4(d[k], r >= 0 && r < H ? plane + (size_t)r * W : NULL, j0, W, ie, io);
                }
                prev = row;
                btb(o, d);
                float *v = tr ? V + ((size_t)c * ldv + (size_t)rr * TW) * 16 : V + (size_t)c * ldv + (size_t)rr * TW;
                put16(v, xs, o, j0, TW, tr);
            }
        }
    }
}

/* ---- the products: res (OCB, NV·16) = Σ_(c < Cs) U[c·ldu + o]·V[c·ldv + i] ---- */

static inline __attribute__((always_inline)) void wg_kernel(float *restrict res, size_t ldr, const float *V,
        size_t ldv, int Cs, const float *U, size_t ldu, const int OCB, const int NV)
{
    __m512 acc[OCBMAX][3];
#pragma GCC unroll 8
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) acc[o][v] = _mm512_setzero_ps();
    for (int c = 0; c < Cs; c++, V += ldv, U += ldu) {
        __m512 xv[3];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) xv[v] = _mm512_load_ps(V + 16 * v);
#pragma GCC unroll 8
        for (int o = 0; o < OCB; o++) {
            const __m512 wb = _mm512_set1_ps(U[o]);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++) acc[o][v] = _mm512_fmadd_ps(wb, xv[v], acc[o][v]);
        }
    }
#pragma GCC unroll 8
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) _mm512_store_ps(res + o * ldr + 16 * v, acc[o][v]);
}

/* vectors of tiles for the next product call out of `left`: 3 at a time, but 2 + 2 for 4 (a call
 * with one vector loads as much as it multiplies) */
static inline int nv_chunk(int left) { return left == 4 ? 2 : left < 3 ? left : 3; }

typedef void (*wg_fn)(float *restrict, size_t, const float *, size_t, int, const float *, size_t);
#define WGK(O, NV) \
    static void wg_##O##_##NV(float *restrict r, size_t ldr, const float *V, size_t ldv, int Cs, const float *U, size_t ldu) \
    { wg_kernel(r, ldr, V, ldv, Cs, U, ldu, O, NV); }
#define WGK3(O) WGK(O, 1) WGK(O, 2) WGK(O, 3)
WGK3(1) WGK3(2) WGK3(3) WGK3(4) WGK3(5) WGK3(6) WGK3(7) WGK3(8)
static const wg_fn wg_fns[OCBMAX + 1][4] = {
    { 0 }, { 0, wg_1_1, wg_1_2, wg_1_3 }, { 0, wg_2_1, wg_2_2, wg_2_3 }, { 0, wg_3_1, wg_3_2, wg_3_3 },
    { 0, wg_4_1, wg_4_2, wg_4_3 }, { 0, wg_5_1, wg_5_2, wg_5_3 }, { 0, wg_6_1, wg_6_2, wg_6_3 },
    { 0, wg_7_1, wg_7_2, wg_7_3 }, { 0, wg_8_1, wg_8_2, wg_8_3 },
};

/* ---- output transform: y rows 2ti, 2ti+1 of the block's tiles from M[ξ][o][τ] ---- */

/* the 2×2 outputs of 16 tiles from their M[ξ] (Aᵀ M A), + bias */
static inline __attribute__((always_inline)) void ata(__m512 y[4], const __m512 m[16], __m512 bv)
{
    __m512 s0[4], s1[4];
    for (int j = 0; j < 4; j++) {          /* Aᵀ down the columns */
        s0[j] = _mm512_add_ps(_mm512_add_ps(m[j], m[4 + j]), m[8 + j]);
        s1[j] = _mm512_sub_ps(_mm512_sub_ps(m[4 + j], m[8 + j]), m[12 + j]);
    }
    /* and A along the rows: y[2a+e] is output (a, e) of each tile */
    y[0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), s0[2]), bv);
    y[1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s0[1], s0[2]), s0[3]), bv);
    y[2] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), s1[2]), bv);
    y[3] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s1[1], s1[2]), s1[3]), bv);
}

/* the 2×2 outputs of 16 tiles from their M[ξ] of F(2×2,2×2) (3×3: Aᵀ = [1 1 0; 0 1 1]), + bias */
static inline __attribute__((always_inline)) void ata9(__m512 y[4], const __m512 m[9], __m512 bv)
{
    __m512 s0[3], s1[3];
    for (int j = 0; j < 3; j++) {
        s0[j] = _mm512_add_ps(m[j], m[3 + j]);
        s1[j] = _mm512_add_ps(m[3 + j], m[6 + j]);
    }
    y[0] = _mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), bv);
    y[1] = _mm512_add_ps(_mm512_add_ps(s0[1], s0[2]), bv);
    y[2] = _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), bv);
    y[3] = _mm512_add_ps(_mm512_add_ps(s1[1], s1[2]), bv);
}

/* the outputs of 16 tiles: F(2×2,3×3) from 16 M[ξ] (nxi = 16) or F(2×2,2×2) from 9 */
static inline __attribute__((always_inline)) void outputs(__m512 y[4], const float *mm, size_t xs, int nxi, __m512 bv)
{
    __m512 m[16];
    for (int x = 0; x < nxi; x++) m[x] = _mm512_loadu_ps(mm + x * xs);
    if (nxi == 16) ata(y, m, bv);
    else ata9(y, m, bv);
}

/* y (OC,B,H,W) for channels o0 .. o0+nb−1 (+ bias) of the tile rows r0 .. r0+nr−1, from
 * M[ξ·xs + o·ldm + τ] (o < nb: M starts at channel o0's row), nxi = 16 ξ (F(2×2,3×3)) or 9
 * (F(2×2,2×2)) */
static void out_trans(const Geom *g, float *y, const float *M, size_t ldm, size_t xs, int o0, int nb,
                      int r0, int nr, const float *bias, int nxi, const ConvEpi *ep)
{
    const int H = g->H, W = g->W, TW = g->TW, TH = g->TH, B = g->B;
    const __m512i il = _mm512_loadu_si512(lo_idx), ih = _mm512_loadu_si512(hi_idx);
    const int G = groups(TW);
    for (int o = 0; o < nb; o++) {
        const __m512 bv = _mm512_set1_ps(bias ? bias[o0 + o] : 0);
        float *chan = y + (size_t)(o0 + o) * B * H * W;
        if (G > 1) {
            for (int rr = 0; rr < nr; rr += G) {
                const float *mm = M + (size_t)o * ldm + (size_t)rr * TW;
                __m512 yv[4];
                outputs(yv, mm, xs, nxi, bv);
                /* interleaved, tiles 0..7 then 8..15 of the vector: 2 rows of outputs per tile row */
                __m512 r0v[2], r1v[2];
                r0v[0] = _mm512_permutex2var_ps(yv[0], il, yv[1]);
                r0v[1] = _mm512_permutex2var_ps(yv[0], ih, yv[1]);
                r1v[0] = _mm512_permutex2var_ps(yv[2], il, yv[3]);
                r1v[1] = _mm512_permutex2var_ps(yv[2], ih, yv[3]);
                for (int q = 0; q < G && rr + q < nr; q++) {
                    const int row = r0 + rr + q, b = row / TH, ti = row % TH;
                    float *y0 = chan + ((size_t)b * H + 2 * ti) * W, *y1 = y0 + W;
                    /* W = 16: a vector per output row; W = 8: half of one; W = 4: lanes
                     * l .. l+3 of one, stored from there (masked stores are slow here: only
                     * where needed) */
                    const float *mk = ep && ep->mask ? ep->mask + (y0 - y) : NULL;
                    if (G == 2) {
                        _mm512_storeu_ps(y0, conv_epi_v(r0v[q], ep, mk, 0xFFFF));
                        _mm512_storeu_ps(y1, conv_epi_v(r1v[q], ep, mk ? mk + W : NULL, 0xFFFF));
                    } else if (G == 4) {
                        __m512 a = r0v[q >> 1], e = r1v[q >> 1];
                        if (q & 1) {
                            a = _mm512_shuffle_f32x4(a, a, 0xEE);   /* upper half down */
                            e = _mm512_shuffle_f32x4(e, e, 0xEE);
                        }
                        a = conv_epi_v(a, ep, mk, 0xFF);
                        e = conv_epi_v(e, ep, mk ? mk + W : NULL, 0xFF);
                        _mm256_storeu_ps(y0, _mm512_castps512_ps256(a));
                        _mm256_storeu_ps(y1, _mm512_castps512_ps256(e));
                    } else {
                        const int l = 4 * (q & 3);
                        const __mmask16 m = (__mmask16)(0xFu << l);
                        _mm512_mask_storeu_ps(y0 - l, m, conv_epi_v(r0v[q >> 2], ep, mk ? mk - l : NULL, m));
                        _mm512_mask_storeu_ps(y1 - l, m, conv_epi_v(r1v[q >> 2], ep, mk ? mk + W - l : NULL, m));
                    }
                }
            }
            continue;
        }
        for (int rr = 0; rr < nr; rr++) {
            const int row = r0 + rr, b = row / TH, ti = row % TH;
            float *y0 = chan + ((size_t)b * H + 2 * ti) * W, *y1 = y0 + W;
            const float *mm = M + (size_t)o * ldm + (size_t)rr * TW;
            for (int j0 = 0; j0 < TW; j0 += 16) {
                __m512 yv[4];
                outputs(yv, mm + j0, xs, nxi, bv);
                const int col = 2 * j0;
                const __mmask16 ma = lanes(col, 0, W), mb = lanes(col + 16, 0, W);
                const float *mk = ep && ep->mask ? ep->mask + (y0 - y) + col : NULL;
                _mm512_mask_storeu_ps(y0 + col, ma, conv_epi_v(_mm512_permutex2var_ps(yv[0], il, yv[1]), ep, mk, ma));
                _mm512_mask_storeu_ps(y0 + col + 16, mb,
                                      conv_epi_v(_mm512_permutex2var_ps(yv[0], ih, yv[1]), ep, mk ? mk + 16 : NULL, mb));
                _mm512_mask_storeu_ps(y1 + col, ma,
                                      conv_epi_v(_mm512_permutex2var_ps(yv[2], il, yv[3]), ep, mk ? mk + W : NULL, ma));
                _mm512_mask_storeu_ps(y1 + col + 16, mb,
                                      conv_epi_v(_mm512_permutex2var_ps(yv[2], ih, yv[3]), ep, mk ? mk + W + 16 : NULL, mb));
            }
        }
    }
}

/* ---- the products of a block ----
 * M[ξ][o][τ] (nxi, Cout, ldv) = Σ_(c < Cin) U[ξ·uxs + c·ldu + o]·V[ξ·vxs + c·ldv + τ], all Cout
 * channels, ξ by ξ: each ξ's slice of V (Cin·TB floats) stays in cache for all the blocks of
 * output channels (block by block with all ξ, V is re-read whole per block: at 512 input channels
 * (4×4 stride 2 at 8×8) that ran at the pace of L3). */
static void products(float *M, const float *V, size_t vxs, size_t ldv, const float *U, size_t uxs, size_t ldu,
                     int Cin, int Cout, int nxi, int nv)
{
    const int ob = nblocks(Cout, OCBMAX);
    for (int xi = 0; xi < nxi; xi++)
        for (int kb = 0; kb < ob; kb++) {
            int o0, nb;
            block(Cout, ob, kb, &o0, &nb);
            float *Mx = M + ((size_t)xi * Cout + o0) * ldv;
            const float *Vx = V + xi * vxs, *Ux = U + xi * uxs + o0;
            for (int v0 = 0, n; v0 < nv; v0 += n) {
                n = nv_chunk(nv - v0);
                wg_fns[nb][n](Mx + 16 * v0, ldv, Vx + 16 * v0, ldv, Cin, Ux, ldu);
            }
        }
}

/* ---- forward (also the data gradient) ---- */

/* y (Cout,B,H,W) = Winograd convolution of x (Cin,B,H,W) with transformed weights U (already
 * arranged for Cout outputs), + bias */
/* Called inside a parallel region (its loop is the region's work sharing), U complete. */
static void wg_conv(const Geom *g, float *y, const float *x, const float *U, const float *bias, const ConvEpi *ep)
{
    const int Cin = g->C, Cout = g->OC, ob = nblocks(Cout, OCBMAX);
    const size_t ldv = (size_t)g->ld, per = (size_t)Cout * Cin;
    {
        const int th = omp_get_thread_num();
        float *V = v_buf[th].p, *M = m_buf[th].p;
#pragma omp for schedule(dynamic, 1) nowait
        for (int k = 0; k < g->nblk; k++) {
            const int r0 = k * g->rpb, nr = g->rows - r0 < g->rpb ? g->rows - r0 : g->rpb;
            const int nv = (nr * g->TW + 15) / 16;        /* vectors of tiles in this block */
            in_trans(g, V, ldv, x, r0, nr, 0);
            products(M, V, (size_t)Cin * ldv, ldv, U, per, (size_t)Cout, Cin, Cout, 16, nv);
            for (int kb = 0; kb < ob; kb++) {
                int o0, nb;
                block(Cout, ob, kb, &o0, &nb);
                out_trans(g, y, M + (size_t)o0 * ldv, ldv, (size_t)Cout * ldv, o0, nb, r0, nr, bias, 16, ep);
            }
        }
    }
}

static void scratch(const Geom *g, int nt, int Cin, int Cout)
{
    for (int t = 0; t < nt; t++) {
        grow(&v_buf[t], (size_t)16 * Cin * g->ld + 64);
        grow(&m_buf[t], (size_t)16 * Cout * g->ld + 64);
    }
}

/* out (OC,B,H,W) = w (OC,C,3,3) ⋆ in (C,B,H,W) + b; 0 (nothing done) when not usable */
static int winograd_s2_forward(float *out, const float *in, const float *w, const float *b,
                               int B, int C, int H, int W, int OC, int K, int stride, int pad, const ConvEpi *ep);
static int winograd_s2_din(float *din, const float *dout, const float *w, int B, int C, int H, int W,
                           int OC, int K, int stride, int pad, const ConvEpi *ep);

int conv2d_winograd_forward_cpu(float *out, const float *in, const float *w, const float *b,
                                int B, int C, int H, int W, int OC, int K, int stride, int pad,
                                const ConvEpi *ep)
{
    if (K == 4) return winograd_s2_forward(out, in, w, b, B, C, H, W, OC, K, stride, pad, ep);
    if (!usable(C, H, W, OC, K, stride, pad)) return 0;
    const int nt0 = team_size(8.0 * OC * C * (double)B * H * W, B * H / 2);
    Geom g;
    geom(&g, B, C, H, W, OC, nt0, C);
    const int nt = nt0 < g.nblk ? nt0 : g.nblk;
    float *U = grow(&u_buf, (size_t)16 * OC * C);
    scratch(&g, nt, C, OC);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        arrange(U, w, OC, C, 0);    /* ends in a barrier: U complete */
        wg_conv(&g, out, in, U, b, ep);
    }
    return 1;
}

/* ---- weight gradient ---- */

/* m[ξ] = (A dY Aᵀ)[ξ] from the tiles' 2×2 gradients y[2a+e] (vectors over tiles) */
static inline __attribute__((always_inline)) void aya(__m512 m[16], const __m512 y[4])
{
    /* A = [1 0; 1 1; 1 −1; 0 −1]: rows i of A·dY, then columns j of (A·dY)·Aᵀ */
    const __m512 zero = _mm512_setzero_ps();
    __m512 r[4][2];
    r[0][0] = y[0];                        r[0][1] = y[1];
    r[1][0] = _mm512_add_ps(y[0], y[2]);   r[1][1] = _mm512_add_ps(y[1], y[3]);
    r[2][0] = _mm512_sub_ps(y[0], y[2]);   r[2][1] = _mm512_sub_ps(y[1], y[3]);
    r[3][0] = _mm512_sub_ps(zero, y[2]);   r[3][1] = _mm512_sub_ps(zero, y[3]);
    for (int i = 0; i < 4; i++) {
        m[i * 4 + 0] = r[i][0];
        m[i * 4 + 1] = _mm512_add_ps(r[i][0], r[i][1]);
        m[i * 4 + 2] = _mm512_sub_ps(r[i][0], r[i][1]);
        m[i * 4 + 3] = _mm512_sub_ps(zero, r[i][1]);
    }
}

/* dM[o][τ][ξ] = (A dY Aᵀ)[ξ] for the OC channels of dy (OC,B,H,W), tile rows r0 .. r0+nr−1,
 * into D (OC, ldd, 16) */
static void dy_trans(const Geom *g, float *D, size_t ldd, const float *dy, int r0, int nr)
{
    const int H = g->H, W = g->W, TW = g->TW, TH = g->TH, B = g->B;
    const __m512i ie = _mm512_loadu_si512(ev_idx), io = _mm512_loadu_si512(od_idx);
    const int G = groups(TW);
    /* the output rows 2ti, 2ti+1 of the block's tiles */
    const int plo = (r0 / TH) * H + 2 * (r0 % TH), phi = ((r0 + nr - 1) / TH) * H + 2 * ((r0 + nr - 1) % TH) + 1;
    for (int o = 0; o < g->OC; o++) {
        const float *chan = dy + (size_t)o * B * H * W;
        prefetch_ahead(dy, o, g->OC, (size_t)B * H * W, W, plo, phi);
        if (G > 1) {
            const __mmask16 mw = lanes(0, 0, W);
            for (int rr = 0; rr < nr; rr += G) {
                __m512 a[8], e[8], yv[4], m[16];      /* output rows 2ti and 2ti+1 of tile row rr+q */
                for (int q = 0; q < G; q++) {
                    if (rr + q < nr) {
                        const int row = r0 + rr + q, b = row / TH, ti = row % TH;
                        const float *p0 = chan + ((size_t)b * H + 2 * ti) * W;
                        a[q] = _mm512_maskz_loadu_ps(mw, p0);
                        e[q] = _mm512_maskz_loadu_ps(mw, p0 + W);
                    } else {
                        a[q] = e[q] = _mm512_setzero_ps();
                    }
                }
                yv[0] = pack(a, G, ie);
                yv[1] = pack(a, G, io);
                yv[2] = pack(e, G, ie);
                yv[3] = pack(e, G, io);
                aya(m, yv);
                const int n = (nr - rr < G ? nr - rr : G) * TW;
                put16(D + ((size_t)o * ldd + (size_t)rr * TW) * 16, 0, m, 0, n, 1);
            }
            continue;
        }
        for (int rr = 0; rr < nr; rr++) {
            const int row = r0 + rr, b = row / TH, ti = row % TH;
            const float *p0 = chan + ((size_t)b * H + 2 * ti) * W, *p1 = p0 + W;
            float *d = D + ((size_t)o * ldd + (size_t)rr * TW) * 16;
            for (int j0 = 0; j0 < TW; j0 += 16) {
                const int col = 2 * j0;
                const __mmask16 ma = lanes(col, 0, W), mb = lanes(col + 16, 0, W);
                const __m512 a1 = _mm512_maskz_loadu_ps(ma, p0 + col), a2 = _mm512_maskz_loadu_ps(mb, p0 + col + 16);
                const __m512 b1 = _mm512_maskz_loadu_ps(ma, p1 + col), b2 = _mm512_maskz_loadu_ps(mb, p1 + col + 16);
                __m512 yv[4], m[16];
                yv[0] = _mm512_permutex2var_ps(a1, ie, a2);
                yv[1] = _mm512_permutex2var_ps(a1, io, a2);
                yv[2] = _mm512_permutex2var_ps(b1, ie, b2);
                yv[3] = _mm512_permutex2var_ps(b1, io, b2);
                aya(m, yv);
                put16(d, 0, m, j0, TW, 1);
            }
        }
    }
}

/* part[o][c][ξ] += Σ_(τ < n) D[o][τ][ξ]·V[c][τ][ξ] for OCB × CB channel pairs (vectors over ξ) */
static inline __attribute__((always_inline)) void wd_kernel(float *part, size_t ldp, const float *D, size_t ldd,
        const float *V, size_t ldv, int n, const int OCB, const int CB)
{
    __m512 acc[4][6];
#pragma GCC unroll 4
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 6
        for (int c = 0; c < CB; c++) acc[o][c] = _mm512_setzero_ps();
    for (int t = 0; t < n; t++, D += 16, V += 16) {
        __m512 dv[4];
#pragma GCC unroll 4
        for (int o = 0; o < OCB; o++) {
            dv[o] = _mm512_load_ps(D + o * ldd * 16);
            __asm__("" : "+v"(dv[o]));   /* in a register, not folded into each FMA */
        }
#pragma GCC unroll 6
        for (int c = 0; c < CB; c++) {
            __m512 xv = _mm512_load_ps(V + c * ldv * 16);
            __asm__("" : "+v"(xv));
#pragma GCC unroll 4
            for (int o = 0; o < OCB; o++) acc[o][c] = _mm512_fmadd_ps(dv[o], xv, acc[o][c]);
        }
    }
#pragma GCC unroll 4
    for (int o = 0; o < OCB; o++)
#pragma GCC unroll 6
        for (int c = 0; c < CB; c++) {
            float *q = part + (o * ldp + c) * 16;
            _mm512_store_ps(q, _mm512_add_ps(_mm512_load_ps(q), acc[o][c]));
        }
}

typedef void (*wd_fn)(float *, size_t, const float *, size_t, const float *, size_t, int);
#define WDK(O, CB) \
    static void wd_##O##_##CB(float *p, size_t ldp, const float *D, size_t ldd, const float *V, size_t ldv, int n) \
    { wd_kernel(p, ldp, D, ldd, V, ldv, n, O, CB); }
#define WDK6(O) WDK(O, 1) WDK(O, 2) WDK(O, 3) WDK(O, 4) WDK(O, 5) WDK(O, 6)
WDK6(1) WDK6(2) WDK6(3) WDK6(4)
static const wd_fn wd_fns[5][7] = {
    { 0 }, { 0, wd_1_1, wd_1_2, wd_1_3, wd_1_4, wd_1_5, wd_1_6 }, { 0, wd_2_1, wd_2_2, wd_2_3, wd_2_4, wd_2_5, wd_2_6 },
    { 0, wd_3_1, wd_3_2, wd_3_3, wd_3_4, wd_3_5, wd_3_6 }, { 0, wd_4_1, wd_4_2, wd_4_3, wd_4_4, wd_4_5, wd_4_6 },
};

/* dw (OC,C,3,3) += Gᵀ [Σ_units part] G, part[u][oc][c][ξ]; 16 input channels at a time */
static void dw_finish(float *dw, const float *part, int units, int OC, int C)
{
    const size_t nw = (size_t)16 * OC * C;
    const __m512 h = _mm512_set1_ps(0.5f);
#pragma omp for schedule(static)
    for (int oc = 0; oc < OC; oc++)
        for (int c0 = 0; c0 < C; c0 += 16) {
            const int n = C - c0 < 16 ? C - c0 : 16;
            __m512 s[16];
            for (int l = 0; l < 16; l++) {        /* s[l]: the 16 sums ξ of channel c0+l */
                s[l] = _mm512_setzero_ps();
                if (l < n)
                    for (int u = 0; u < units; u++)
                        s[l] = _mm512_add_ps(s[l], _mm512_load_ps(part + (size_t)u * nw + ((size_t)oc * C + c0 + l) * 16));
            }
            transpose16(s);                       /* s[ξ]: over the 16 channels */
            /* g = Gᵀ s G: Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1] */
            __m512 t[3][4], d[9];
            for (int j = 0; j < 4; j++) {
                const __m512 p = _mm512_mul_ps(h, _mm512_add_ps(s[4 + j], s[8 + j]));
                t[0][j] = _mm512_add_ps(s[j], p);
                t[1][j] = _mm512_mul_ps(h, _mm512_sub_ps(s[4 + j], s[8 + j]));
                t[2][j] = _mm512_add_ps(p, s[12 + j]);
            }
            for (int i = 0; i < 3; i++) {
                const __m512 p = _mm512_mul_ps(h, _mm512_add_ps(t[i][1], t[i][2]));
                d[i * 3 + 0] = _mm512_add_ps(t[i][0], p);
                d[i * 3 + 1] = _mm512_mul_ps(h, _mm512_sub_ps(t[i][1], t[i][2]));
                d[i * 3 + 2] = _mm512_add_ps(p, t[i][3]);
            }
            /* dw[oc][c0 .. c0+n−1][0 .. 8] is 9n contiguous floats: through tmp, not scatters */
            float tmp[9][16] __attribute__((aligned(64)));
            for (int k = 0; k < 9; k++) _mm512_store_ps(tmp[k], d[k]);
            float *base = dw + ((size_t)oc * C + c0) * 9;
            for (int l = 0; l < n; l++)
                for (int k = 0; k < 9; k++) base[l * 9 + k] += tmp[k][l];
        }
}

/* din (C,B,H,W) = transposed convolution of dout (assigned); dw (OC,C,3,3) += dout ⋆ in; either
 * may be NULL. Returns what it did: 1 din, 2 dw (0: neither, the shape is not usable).
 * The weight gradient is left to the caller below 32×32 channel pairs: its products are
 * C·OC per tile while its 16×16 transposes are C + OC, and at 32 → 16 channels, 64×64 images,
 * direct convolution measured faster (173 GF/s against 155). */
int conv2d_winograd_backward_cpu(float *din, float *dw, const float *dout, const float *in,
                                 const float *w, int B, int C, int H, int W, int OC, int K,
                                 int stride, int pad, const ConvEpi *ep)
{
    /* 4×4 stride 2: the data gradient only, from 64 input channels (below, its four transforms of
     * dY outweigh the saved products: 16 -> 32 channels at 64×64 ran at 121 GF/s against direct's
     * 159, 64 -> 128 at 16×16 at 173 against 160); the weight gradient stays direct */
    if (K == 4)
        return din && C >= 64 && winograd_s2_din(din, dout, w, B, C, H, W, OC, K, stride, pad, ep) ? 1 : 0;
    if (!usable(C, H, W, OC, K, stride, pad)) return 0;
    if (C * OC < 1024) dw = NULL;
    const int did = (din ? 1 : 0) | (dw ? 2 : 0);
    if (!did) return 0;
    /* both in one parallel region (a region costs a wake-up of the other threads): the data
     * gradient's blocks, then the weight gradient's units */
    const int nt0 = team_size(8.0 * OC * C * (double)B * H * W * ((din != NULL) + (dw != NULL)), B * H / 2);
    Geom gd, gw;
    /* the data gradient: a forward from OC channels to C with w transposed and flipped */
    if (din) geom(&gd, B, OC, H, W, C, nt0, OC);
    if (dw) geom(&gw, B, C, H, W, OC, nt0, C + OC);
    /* dw's units: whole blocks, a fixed number (the sum's order must not follow the threads) */
    const int units = dw ? (gw.nblk < 8 ? gw.nblk : 8) : 0;
    const int items = (din ? gd.nblk : 0) > units ? gd.nblk : units, nt = nt0 < items ? nt0 : items;
    float *U = din ? grow(&u_buf, (size_t)16 * OC * C) : NULL;
    if (din) scratch(&gd, nt, OC, C);
    const size_t nw = (size_t)16 * OC * C;
    float *part = dw ? grow(&part_buf, (size_t)units * nw) : NULL;
    if (dw)
        for (int t = 0; t < nt; t++) {
            grow(&v_buf[t], (size_t)16 * C * gw.ld + 64);
            grow(&m_buf[t], (size_t)16 * OC * gw.ld + 64);
        }
    const int ob = nblocks(OC, 4), cb = nblocks(C, 6);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        if (din) {
            arrange(U, w, OC, C, 1);    /* ends in a barrier */
            wg_conv(&gd, din, dout, U, NULL, ep);
        }
        if (dw) {
            const int th = omp_get_thread_num();
            float *V = v_buf[th].p, *D = m_buf[th].p;
            const size_t ldv = (size_t)gw.ld;
#pragma omp for schedule(dynamic, 1)
            for (int u = 0; u < units; u++) {
                float *p = part + (size_t)u * nw;
                memset(p, 0, nw * sizeof(float));
                for (int k = u; k < gw.nblk; k += units) {
                    const int r0 = k * gw.rpb, nr = gw.rows - r0 < gw.rpb ? gw.rows - r0 : gw.rpb;
                    in_trans(&gw, V, ldv, in, r0, nr, 1);
                    dy_trans(&gw, D, ldv, dout, r0, nr);
                    for (int kb = 0; kb < ob; kb++) {
                        int o0, nb;
                        block(OC, ob, kb, &o0, &nb);
                        for (int kc = 0; kc < cb; kc++) {
                            int c0, ncb;
                            block(C, cb, kc, &c0, &ncb);
                            wd_fns[nb][ncb](p + ((size_t)o0 * C + c0) * 16, C, D + (size_t)o0 * ldv * 16, ldv,
                                            V + (size_t)c0 * ldv * 16, ldv, nr * gw.TW);
                        }
                    }
                }
            }
            dw_finish(dw, part, units, OC, C);
        }
    }
    return did;
}

/* ==== 4×4 stride 2 pad 1 (NetD's downsampling convolutions) by F(2×2,2×2) ====
 *
 * With H, W even, split x into its 4 parity classes P_(py,px)[i][j] = x[2i+py][2j+px] (Ho × Wo
 * each, Ho = H/2). Then out[y][x] = Σ_c Σ_(py,px) Σ_(a,e ∈ 0,1) g[a][e]·P[y+a−py][x+e−px] with
 * g[a][e] = w[2a+1−py][2e+1−px]: per class a 2×2 correlation whose window starts a row (column)
 * back for py = 1 (px = 1), zero outside. Winograd's F(2×2,2×2),
 *   Bᵀ = [1 −1 0; 0 1 0; 0 −1 1],  G = [1 0; 1 1; 0 1],  Aᵀ = [1 1 0; 0 1 1],
 * does a 2×2 tile of outputs with 9 multiplies per channel pair where direct convolution does 16;
 * the 4C classes are the input channels of 9 products (OC × 4C)·(4C × tiles). The patch of class
 * (py,px) for the tile at (2ti, 2tj) is rows 4ti+2a−py, columns 4tj+2e−px (a, e = 0..2) of x:
 * of the 6 rows 4ti−1 .. 4ti+4, the columns 4t−1 .. 4t+4 of 16 tiles, split by remainder mod 4
 * with two rounds of permutes (rows of 2, 4 or 8 tiles share a vector, as above).
 * The data gradient: din's class (qy,qx) is Σ_oc Σ_(a,e) g'[a][e]·dY[i+a−1+qy][j+e−1+qx] with
 * g'[a][e] = w[3−2a−qy][3−2e−qx], the same kind of correlation over dY (Ho × Wo) but with a
 * window that depends on the output class: the 4 corner 3×3 windows of dY's 4×4 patch around
 * the tile (rows 2ti−1 .. 2ti+2), so dY is transformed 4 ways and the products go class by class;
 * their 2×2 outputs land in din interleaved with the other classes'. The weight gradient stays
 * with conv_direct.c. */

static int usable_s2(int C, int H, int W, int OC, int K, int stride, int pad)
{
    return K == 4 && stride == 2 && pad == 1 && H % 4 == 0 && W % 4 == 0 && H >= 8 && W >= 8 &&
           W / 4 <= TBMAX && C >= 4 && OC >= 16;
}

/* u (9) = (G g Gᵀ) for the 2×2 filters g[a·2+e] of 16 lanes */
static inline __attribute__((always_inline)) void wtrans9(__m512 u[9], const __m512 g[4])
{
    __m512 t[3][2];
    for (int e = 0; e < 2; e++) {
        t[0][e] = g[e];
        t[1][e] = _mm512_add_ps(g[e], g[2 + e]);
        t[2][e] = g[2 + e];
    }
    for (int i = 0; i < 3; i++) {
        u[i * 3 + 0] = t[i][0];
        u[i * 3 + 1] = _mm512_add_ps(t[i][0], t[i][1]);
        u[i * 3 + 2] = t[i][1];
    }
}

/* Forward: U[ξ][c'][oc] (9, 4C, OC), c' = 4c + 2py + px, g[a][e] = w[oc][c][2a+1−py][2e+1−px].
 * Data gradient (transposed): U[ξ][oc][q·C + c] (9, OC, 4C), class q = 2qy + qx,
 * g[a][e] = w[oc][c][3−2a−qy][3−2e−qx]. */
static void arrange_s2(float *U, const float *w, int OC, int C, int transposed)
{
    const int nout = transposed ? 4 * C : OC, nin = transposed ? OC : 4 * C;
    const size_t per = (size_t)OC * 4 * C;
#pragma omp for schedule(static)
    for (int ci = 0; ci < nin; ci++)
        for (int j0 = 0; j0 < nout; j0 += 16) {
            const __mmask16 m = lanes(j0, 0, nout);
            float tmp[4][16] __attribute__((aligned(64)));
            for (int l = 0; l < 16; l++) {
                const int j = j0 + l;
                for (int k = 0; k < 4; k++) {
                    const int a = k >> 1, e = k & 1;
                    float v = 0;
                    if (j < nout) {
                        if (!transposed) {          /* ci = c', j = oc */
                            const int c = ci >> 2, py = (ci >> 1) & 1, px = ci & 1;
                            v = w[(((size_t)j * C + c) * 4 + 2 * a + 1 - py) * 4 + 2 * e + 1 - px];
                        } else {                    /* ci = oc, j = q·C + c */
                            const int q = j / C, c = j % C, qy = q >> 1, qx = q & 1;
                            v = w[(((size_t)ci * C + c) * 4 + 3 - 2 * a - qy) * 4 + 3 - 2 * e - qx];
                        }
                    }
                    tmp[k][l] = v;
                }
            }
            __m512 g[4], u[9];
            for (int k = 0; k < 4; k++) g[k] = _mm512_load_ps(tmp[k]);
            wtrans9(u, g);
            for (int x = 0; x < 9; x++) _mm512_mask_storeu_ps(U + x * per + (size_t)ci * nout + j0, m, u[x]);
        }
}

/* o[ξ] = (Bᵀ d B)[ξ] of F(2×2,2×2) for the 3×3 patch d[a][e] (vectors over tiles) */
static inline __attribute__((always_inline)) void btb9(__m512 o[9], __m512 d[3][3])
{
    __m512 t[3][3];
    for (int e = 0; e < 3; e++) {
        t[0][e] = _mm512_sub_ps(d[0][e], d[1][e]);
        t[1][e] = d[1][e];
        t[2][e] = _mm512_sub_ps(d[2][e], d[1][e]);
    }
    for (int i = 0; i < 3; i++) {
        o[i * 3 + 0] = _mm512_sub_ps(t[i][0], t[i][1]);
        o[i * 3 + 1] = t[i][1];
        o[i * 3 + 2] = _mm512_sub_ps(t[i][2], t[i][1]);
    }
}

/* The columns 4t−1 .. 4t+4 (S[0 .. 5]) of 16 tiles from 64 floats v[0..3] holding columns 4t .. 4t+3
 * of each tile in lane order. before/after: what column 4t−1 of the first lane and 4t+4 of the
 * last lane are (the neighbours of the 16 tiles in their row); rows of TW < 16 tiles sharing the
 * vector (G > 1) get zeros at their own ends instead (mstart/mend: the lanes not at a start/end). */
static inline __attribute__((always_inline)) void cols6(__m512 S[6], const __m512 v[4], __m512 before, __m512 after,
        int G, __mmask16 mstart, __mmask16 mend, __m512i ie, __m512i io)
{
    const __m512 e01 = _mm512_permutex2var_ps(v[0], ie, v[1]), o01 = _mm512_permutex2var_ps(v[0], io, v[1]);
    const __m512 e23 = _mm512_permutex2var_ps(v[2], ie, v[3]), o23 = _mm512_permutex2var_ps(v[2], io, v[3]);
    const __m512 r0 = _mm512_permutex2var_ps(e01, ie, e23), r2 = _mm512_permutex2var_ps(e01, io, e23);
    const __m512 r1 = _mm512_permutex2var_ps(o01, ie, o23), r3 = _mm512_permutex2var_ps(o01, io, o23);
    /* lane L of cm1 = r3[L−1], of c4 = r0[L+1] */
    __m512 cm1 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(r3), _mm512_castps_si512(before), 15));
    __m512 c4 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(after), _mm512_castps_si512(r0), 1));
    if (G > 1) {
        cm1 = _mm512_maskz_mov_ps(mstart, cm1);
        c4 = _mm512_maskz_mov_ps(mend, c4);
    }
    S[0] = cm1; S[1] = r0; S[2] = r1; S[3] = r2; S[4] = r3; S[5] = c4;
}

/* lanes of a vector of G rows of TW tiles that are not a row's first (start) or last (end) */
static void row_ends(int TW, int G, __mmask16 *mstart, __mmask16 *mend)
{
    unsigned a = 0xFFFF, e = 0xFFFF;
    for (int q = 0; q < G; q++) {
        a &= ~(1u << (q * TW));
        e &= ~(1u << (q * TW + TW - 1));
    }
    *mstart = (__mmask16)a;
    *mend = (__mmask16)e;
}

/* V[ξ][c'][τ] (9, 4C, ldv) for the tile rows r0 .. r0+nr−1 of the output grid g (Ho × Wo) from
 * x (C,B,H,W), H = 2Ho */
static void in_trans_s2(const Geom *g, float *V, size_t ldv, const float *x, int C, int r0, int nr)
{
    const int TW = g->TW, TH = g->TH, B = g->B, H = 2 * g->H, W = 2 * g->W;
    const __m512i ie = _mm512_loadu_si512(ev_idx), io = _mm512_loadu_si512(od_idx);
    const size_t xs = (size_t)4 * C * ldv;
    const int G = groups(TW);
    __mmask16 mstart, mend;
    row_ends(TW, G, &mstart, &mend);
    /* the rows of x the block reads: 4ti−1 .. 4ti+4 of its tile rows (as b·H + r) */
    const int b0 = r0 / TH, t0 = r0 % TH, b1 = (r0 + nr - 1) / TH, t1 = (r0 + nr - 1) % TH;
    const int plo = b0 * H + (4 * t0 - 1 > 0 ? 4 * t0 - 1 : 0), phi = b1 * H + (4 * t1 + 4 < H - 1 ? 4 * t1 + 4 : H - 1);
    for (int c = 0; c < C; c++) {
        const float *chan = x + (size_t)c * B * H * W;
        prefetch_ahead(x, c, C, (size_t)B * H * W, W, plo, phi);
        for (int rr = 0; rr < nr; rr += G)
            for (int j0 = 0; j0 < TW; j0 += 16) {
                __m512 S[6][6];
                for (int k = 0; k < 6; k++) {
                    __m512 v[4], before = _mm512_setzero_ps(), after = _mm512_setzero_ps();
                    if (G == 1) {
                        const int row = r0 + rr, b = row / TH, r = 4 * (row % TH) - 1 + k;
                        const float *p = r >= 0 && r < H ? chan + ((size_t)b * H + r) * W : NULL;
                        for (int i = 0; i < 4; i++) {
                            const int col = 4 * j0 + 16 * i;
                            v[i] = p ? _mm512_maskz_loadu_ps(lanes(col, 0, W), p + col) : _mm512_setzero_ps();
                        }
                        if (p && j0 > 0) before = _mm512_set1_ps(p[4 * j0 - 1]);
                        if (p && 4 * (j0 + 16) < W) after = _mm512_set1_ps(p[4 * (j0 + 16)]);
                    } else {
                        for (int q = 0; q < G; q++) {
                            const int row = r0 + rr + q, b = row / TH, r = 4 * (row % TH) - 1 + k;
                            const float *p = rr + q < nr && r >= 0 && r < H ? chan + ((size_t)b * H + r) * W : NULL;
                            /* a row is 4·TW = 64/G floats: 4/G vectors of it, or half of one */
                            if (G == 8) {
                                const __m256 h = p ? _mm256_loadu_ps(p) : _mm256_setzero_ps();
                                v[q >> 1] = q & 1 ? _mm512_insertf32x8(v[q >> 1], h, 1) : _mm512_castps256_ps512(h);
                            } else {
                                for (int i = 0; i < 4 / G; i++)
                                    v[q * (4 / G) + i] = p ? _mm512_loadu_ps(p + 16 * i) : _mm512_setzero_ps();
                            }
                        }
                    }
                    cols6(S[k], v, before, after, G, mstart, mend, ie, io);
                }
                const int n = G > 1 ? (nr - rr < G ? nr - rr : G) * TW : (TW - j0 < 16 ? TW - j0 : 16);
                const __mmask16 m = lanes(0, 0, n);
                float *v = V + (size_t)(4 * c) * ldv + (size_t)rr * TW + j0;
                for (int py = 0; py < 2; py++)
                    for (int px = 0; px < 2; px++) {
                        __m512 d[3][3], o[9];
                        for (int a = 0; a < 3; a++)
                            for (int e = 0; e < 3; e++) d[a][e] = S[2 * a + 1 - py][2 * e + 1 - px];
                        btb9(o, d);
                        float *vc = v + (size_t)(2 * py + px) * ldv;
                        for (int x9 = 0; x9 < 9; x9++) _mm512_mask_storeu_ps(vc + x9 * xs, m, o[x9]);
                    }
            }
    }
}

/* out (OC,B,Ho,Wo) = w (OC,C,4,4) ⋆ in (C,B,H,W), stride 2, pad 1, + b; 0 when not usable */
static int winograd_s2_forward(float *out, const float *in, const float *w, const float *b,
                               int B, int C, int H, int W, int OC, int K, int stride, int pad, const ConvEpi *ep)
{
    if (!usable_s2(C, H, W, OC, K, stride, pad)) return 0;
    const int Ho = H / 2, Wo = W / 2, Cg = 4 * C, ob = nblocks(OC, OCBMAX);
    const int nt0 = team_size(2.0 * 16 * OC * C * (double)B * Ho * Wo, B * Ho / 2);
    Geom g;
    geom(&g, B, Cg, Ho, Wo, OC, nt0, Cg);
    const int nt = nt0 < g.nblk ? nt0 : g.nblk;
    const size_t ldv = (size_t)g.ld, per = (size_t)OC * Cg;
    float *U = grow(&u_buf, (size_t)9 * OC * Cg);
    scratch(&g, nt, Cg, OC);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        arrange_s2(U, w, OC, C, 0);
        const int th = omp_get_thread_num();
        float *V = v_buf[th].p, *M = m_buf[th].p;
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < g.nblk; k++) {
            const int r0 = k * g.rpb, nr = g.rows - r0 < g.rpb ? g.rows - r0 : g.rpb;
            const int nv = (nr * g.TW + 15) / 16;
            in_trans_s2(&g, V, ldv, in, C, r0, nr);
            products(M, V, (size_t)Cg * ldv, ldv, U, per, (size_t)OC, Cg, OC, 9, nv);
            for (int kb = 0; kb < ob; kb++) {
                int o0, nb;
                block(OC, ob, kb, &o0, &nb);
                out_trans(&g, out, M + (size_t)o0 * ldv, ldv, (size_t)OC * ldv, o0, nb, r0, nr, b, 9, ep);
            }
        }
    }
    return 1;
}

/* The 4×4 patches (rows 2ti−1 .. 2ti+2, columns 2t−1 .. 2t+2) of 16 tiles of the plane stack chan
 * (Ho × Wo planes, the grid g): d[k][j]; tile rows rr.. of the block (G of them when TW is 4 or 8) */
static inline __attribute__((always_inline)) void patch4(__m512 d[4][4], const Geom *g, const float *chan, int r0,
        int rr, int nr, int j0, int G, __m512i ie, __m512i io)
{
    const int H = g->H, W = g->W, TH = g->TH;
    if (G > 1) {
        const __mmask16 ma = lanes(-1, 0, W), mb = lanes(1, 0, W);
        for (int k = 0; k < 4; k++) {
            __m512 a[8], e[8];
            for (int q = 0; q < G; q++) {
                const int row = r0 + rr + q, b = row / TH, r = 2 * (row % TH) - 1 + k;
                const float *p = rr + q < nr && r >= 0 && r < H ? chan + ((size_t)b * H + r) * W : NULL;
                a[q] = p ? _mm512_maskz_loadu_ps(ma, p - 1) : _mm512_setzero_ps();
                e[q] = p ? _mm512_maskz_loadu_ps(mb, p + 1) : _mm512_setzero_ps();
            }
            d[k][0] = pack(a, G, ie);
            d[k][1] = pack(a, G, io);
            d[k][2] = pack(e, G, ie);
            d[k][3] = pack(e, G, io);
        }
        return;
    }
    const int row = r0 + rr, b = row / TH, ti = row % TH;
    for (int k = 0; k < 4; k++) {
        const int r = 2 * ti - 1 + k;
        cols4(d[k], r >= 0 && r < H ? chan + ((size_t)b * H + r) * W : NULL, j0, W, ie, io);
    }
}

/* V[s][ξ][oc][τ] (4, 9, OC, ldv): the F(2×2,2×2) transforms of dy's 4 corner windows s = 2sy+sx
 * (rows 2ti−1+sy .., columns 2tj−1+sx ..) for the block's tiles */
static void dy_trans_s2(const Geom *g, float *V, size_t ldv, const float *dy, int OC, int r0, int nr)
{
    const int TW = g->TW, B = g->B, H = g->H, W = g->W;
    const __m512i ie = _mm512_loadu_si512(ev_idx), io = _mm512_loadu_si512(od_idx);
    const size_t xs = (size_t)OC * ldv, ss = 9 * xs;
    const int G = groups(TW);
    int plo, phi;
    block_rows(g, r0, nr, &plo, &phi);
    for (int oc = 0; oc < OC; oc++) {
        const float *chan = dy + (size_t)oc * B * H * W;
        prefetch_ahead(dy, oc, OC, (size_t)B * H * W, W, plo, phi);
        for (int rr = 0; rr < nr; rr += G)
            for (int j0 = 0; j0 < TW; j0 += 16) {
                __m512 d[4][4];
                patch4(d, g, chan, r0, rr, nr, j0, G, ie, io);
                const int n = G > 1 ? (nr - rr < G ? nr - rr : G) * TW : (TW - j0 < 16 ? TW - j0 : 16);
                const __mmask16 m = lanes(0, 0, n);
                float *v = V + (size_t)oc * ldv + (size_t)rr * TW + j0;
                for (int sy = 0; sy < 2; sy++)
                    for (int sx = 0; sx < 2; sx++) {
                        __m512 w3[3][3], o[9];
                        for (int a = 0; a < 3; a++)
                            for (int e = 0; e < 3; e++) w3[a][e] = d[sy + a][sx + e];
                        btb9(o, w3);
                        float *vs = v + (size_t)(2 * sy + sx) * ss;
                        for (int x9 = 0; x9 < 9; x9++) _mm512_mask_storeu_ps(vs + x9 * xs, m, o[x9]);
                    }
            }
    }
}

/* din (C,B,H,W) rows 4ti+2a+qy, columns 4tj+2e+qx, of class (qy,qx), channels c0 .. c0+nb−1,
 * from the products M (9, nb, ldm) of the tile rows r0 .. r0+nr−1: written into every other
 * column, merged with what the row holds (the other class's columns) */
static void out_s2(const Geom *g, float *din, const float *M, size_t ldm, size_t xs, int c0, int nb, int qy,
                   int qx, int r0, int nr)
{
    const int TW = g->TW, TH = g->TH, B = g->B, H = 2 * g->H, W = 2 * g->W;
    const __m512i il = _mm512_loadu_si512(lo_idx), ih = _mm512_loadu_si512(hi_idx);
    /* merge: lanes of parity qx take vals[8h + lane/2], the others keep the row's */
    int mi[2][16];
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 16; l++) mi[h][l] = (l & 1) == qx ? 16 + 8 * h + l / 2 : l;
    const __m512i mg[2] = { _mm512_loadu_si512(mi[0]), _mm512_loadu_si512(mi[1]) };
    const __mmask16 par = qx ? 0xAAAA : 0x5555;     /* the lanes of parity qx */
    const int G = groups(TW);
    const __m512 zero = _mm512_setzero_ps();
    for (int o = 0; o < nb; o++) {
        float *chan = din + (size_t)(c0 + o) * B * H * W;
        for (int rr = 0; rr < nr; rr += G)
            for (int j0 = 0; j0 < TW; j0 += 16) {
                __m512 yv[4];
                outputs(yv, M + (size_t)o * ldm + (size_t)rr * TW + j0, xs, 9, zero);
                for (int a = 0; a < 2; a++) {
                    /* tiles' outputs (a, 0), (a, 1) in column order: tiles 0..7 in lo, 8..15 in hi */
                    const __m512 half[2] = { _mm512_permutex2var_ps(yv[2 * a], il, yv[2 * a + 1]),
                                             _mm512_permutex2var_ps(yv[2 * a], ih, yv[2 * a + 1]) };
                    if (G == 1) {                  /* 16 tiles: 64 columns of one row from 4j0 */
                        const int row = r0 + rr, b = row / TH, r = 4 * (row % TH) + 2 * a + qy;
                        float *p = chan + ((size_t)b * H + r) * W + 4 * j0;
                        for (int k = 0; k < 4; k++) {
                            const __mmask16 m = lanes(4 * j0 + 16 * k, 0, W);
                            if (!m) continue;
                            const __m512 old = _mm512_maskz_loadu_ps(m, p + 16 * k);
                            _mm512_mask_storeu_ps(p + 16 * k, m, _mm512_permutex2var_ps(old, mg[k & 1], half[k >> 1]));
                        }
                    } else if (G == 8) {           /* rows of 8 columns: 4 values each */
                        for (int q = 0; q < G && rr + q < nr; q++) {
                            const int row = r0 + rr + q, b = row / TH, r = 4 * (row % TH) + 2 * a + qy;
                            float *p = chan + ((size_t)b * H + r) * W;
                            /* values 4(q mod 4) .. +3 of half[q / 4] to the columns of parity qx */
                            const __m512i ix = _mm512_add_epi32(mg[0], _mm512_maskz_set1_epi32(par, 4 * (q & 3)));
                            const __m512 old = _mm512_maskz_loadu_ps(0xFF, p);
                            _mm512_mask_storeu_ps(p, 0xFF, _mm512_permutex2var_ps(old, ix, half[q >> 2]));
                        }
                    } else {                       /* G rows of 4·TW = 64/G columns each */
                        for (int q = 0; q < G && rr + q < nr; q++) {
                            const int row = r0 + rr + q, b = row / TH, r = 4 * (row % TH) + 2 * a + qy;
                            float *p = chan + ((size_t)b * H + r) * W;
                            /* row q's values: lanes [q·TW·2, (q+1)·TW·2) of lo|hi, i.e. 8 per vector half */
                            for (int k = 0; k < 4 / G; k++) {
                                const int v = (q * 4 / G + k);      /* which 8 values: v-th eighth of lo|hi */
                                const __m512 old = _mm512_loadu_ps(p + 16 * k);
                                _mm512_storeu_ps(p + 16 * k, _mm512_permutex2var_ps(old, mg[v & 1], half[v >> 1]));
                            }
                        }
                    }
                }
            }
    }
}

/* din (C,B,H,W) = the 4×4 stride-2 pad-1 transposed convolution of dout (OC,B,H/2,W/2)
 * (assigned); 0 when not usable */
static int winograd_s2_din(float *din, const float *dout, const float *w, int B, int C, int H, int W,
                           int OC, int K, int stride, int pad, const ConvEpi *ep)
{
    if (!usable_s2(C, H, W, OC, K, stride, pad)) return 0;
    const int Ho = H / 2, Wo = W / 2, Cg = 4 * C, cbk = nblocks(C, OCBMAX);
    const int nt0 = team_size(2.0 * 16 * OC * C * (double)B * Ho * Wo, B * Ho / 2);
    Geom g;
    geom(&g, B, OC, Ho, Wo, Cg, nt0, 2 * OC);
    const int nt = nt0 < g.nblk ? nt0 : g.nblk;
    const size_t ldv = (size_t)g.ld, per = (size_t)OC * Cg;
    float *U = grow(&u_buf, (size_t)9 * OC * Cg);
    for (int t = 0; t < nt; t++) {
        grow(&v_buf[t], (size_t)4 * 9 * OC * g.ld + 64);
        grow(&m_buf[t], (size_t)9 * C * g.ld + 64);
    }
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        arrange_s2(U, w, OC, C, 1);
        const int th = omp_get_thread_num();
        float *V = v_buf[th].p, *M = m_buf[th].p;
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < g.nblk; k++) {
            const int r0 = k * g.rpb, nr = g.rows - r0 < g.rpb ? g.rows - r0 : g.rpb;
            const int nv = (nr * g.TW + 15) / 16;
            dy_trans_s2(&g, V, ldv, dout, OC, r0, nr);
            for (int q = 0; q < 4; q++) {
                const int qy = q >> 1, qx = q & 1;
                const float *Vq = V + (size_t)q * 9 * OC * ldv;   /* window (sy,sx) = (qy,qx) */
                /* class q's C output channels: columns q·C .. of U */
                products(M, Vq, (size_t)OC * ldv, ldv, U + (size_t)q * C, per, (size_t)Cg, OC, C, 9, nv);
                for (int kb = 0; kb < cbk; kb++) {
                    int c0, nb;
                    block(C, cbk, kb, &c0, &nb);
                    out_s2(&g, din, M + (size_t)c0 * ldv, ldv, (size_t)C * ldv, c0, nb, qy, qx, r0, nr);
                }
            }
        }
        /* the classes interleave in din as they are written: an activation comes after, at once */
        conv_epi_all(din, (size_t)C * B * H * W, ep);
    }
    return 1;
}

#else
/* the double build, or no AVX-512: conv2d.c takes its other paths */
typedef int conv_winograd_unused;
#endif
