/* sy2band.c: dense symmetric -> band (stage one of a two-stage tridiagonalisation) and the exact
 * eigenvalues of a band; see sy2band.h. */
#include "eval/sy2band.h"
#include "core/common.h"

#include <cblas.h>
#include <lapacke.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define TILE 256   /* tiles of the trailing matrix: 256×256 doubles (512 KB) stay in L2 */

/* the t-th tile of the lower triangle of an nt×nt tiling, row by row: (0,0), (1,0), (1,1), ... */
static void tile_of(int t, int *ti, int *tj) {
    int i = 0;
    while ((i + 1) * (i + 2) / 2 <= t) i++;
    *ti = i;
    *tj = t - i * (i + 1) / 2;
}

/* A panel's pass over the lower tiles of its trailing matrix A (m×m, lda), two jobs per tile
 * while the tile is in cache:
 *   1. the previous panel's update, delayed until now: A −= W·Vᵀ + V·Wᵀ, given as WV = [W V] and
 *      VW = [V W] (ld ldp, 2·bp columns; bp = 0: none), the diagonal tiles by dsyr2k so that A's
 *      strict upper triangle is never written;
 *   2. Y = A·V for this panel's V (m×b, ld m): each thread adds the products of its own tiles
 *      into its own accumulator, and the accumulators are summed in thread order, so the result
 *      does not depend on timing; a tile off the diagonal serves both A_IJ·V_J and A_IJᵀ·V_I. */
typedef struct {
    int m, b, bp, ldp, lda;
    double *A;
    const double *WV, *VW, *V;
} tile_pass;

static void tile_geometry(const tile_pass *p, int t, int *ti, int *tj, int *i0, int *j0, int *mi, int *mj) {
    tile_of(t, ti, tj);
    *i0 = *ti * TILE;
    *j0 = *tj * TILE;
    *mi = p->m - *i0 < TILE ? p->m - *i0 : TILE;
    *mj = p->m - *j0 < TILE ? p->m - *j0 : TILE;
}

static void tile_update(const tile_pass *p, int t) {
    int ti, tj, i0, j0, mi, mj;
    if (!p->bp) return;
    tile_geometry(p, t, &ti, &tj, &i0, &j0, &mi, &mj);
    double *aij = p->A + (size_t)j0 * (size_t)p->lda + (size_t)i0;
    if (ti > tj)
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, mi, mj, 2 * p->bp, -1.0, p->WV + i0, p->ldp, p->VW + j0, p->ldp,
                    1.0, aij, p->lda);
    else   /* W_I·V_Iᵀ + V_I·W_Iᵀ: W_I and V_I are the first halves of WV and VW */
        cblas_dsyr2k(CblasColMajor, CblasLower, CblasNoTrans, mi, p->bp, -1.0, p->WV + i0, p->ldp, p->VW + i0, p->ldp, 1.0, aij,
                     p->lda);
}

static void tile_symm(const tile_pass *p, int t, double *y) {
    int ti, tj, i0, j0, mi, mj, m = p->m, b = p->b;
    tile_geometry(p, t, &ti, &tj, &i0, &j0, &mi, &mj);
    const double *aij = p->A + (size_t)j0 * (size_t)p->lda + (size_t)i0;
    if (ti > tj) {
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, mi, b, mj, 1.0, aij, p->lda, p->V + j0, m, 1.0, y + i0, m);
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, mj, b, mi, 1.0, aij, p->lda, p->V + i0, m, 1.0, y + j0, m);
    } else {
        cblas_dsymm(CblasColMajor, CblasLeft, CblasLower, mi, b, 1.0, aij, p->lda, p->V + i0, m, 1.0, y + i0, m);
    }
}

/* Which tiles each thread owns: contiguous runs of the tile order, balanced by cost (a diagonal
 * tile half an off-diagonal one) with thread 0's share reduced by its serial work (the QR, W and
 * the look-ahead: about 2.5·m·kd tile-cost units, by measurement at n = 2048).
 * first[i] .. first[i + 1] − 1 are thread i's. A pure function of its arguments, so ownership, and
 * with it every sum, is the same from run to run. */
static double tile_cost(int m, int t) {   /* a diagonal tile costs half an off-diagonal one */
    int ti, tj;
    tile_of(t, &ti, &tj);
    double mi = m - ti * TILE < TILE ? m - ti * TILE : TILE, mj = m - tj * TILE < TILE ? m - tj * TILE : TILE;
    return ti > tj ? mi * mj : 0.5 * mi * mi;
}

static void split_tiles(int m, int kd, int threads, int *first) {
    int nt = (m + TILE - 1) / TILE, ntiles = nt * (nt + 1) / 2;
    double total = 0;
    for (int t = 0; t < ntiles; t++) total += tile_cost(m, t);
    double serial = 2.5 * m * kd, share0 = (total - (threads - 1) * serial) / threads;
    if (share0 < 0) share0 = 0;
    double rest = threads > 1 ? (total - share0) / (threads - 1) : 0, acc = 0, goal = share0;
    int th = 0;
    first[0] = 0;
    for (int t = 0; t < ntiles; t++) {
        while (th < threads - 1 && acc >= goal) first[++th] = t, goal += rest;
        acc += tile_cost(m, t);
    }
    while (th < threads - 1) first[++th] = ntiles;
    first[threads] = ntiles;
}

/* the look-ahead: the columns of the next panel (the first c of A22, all its rows) get panel k's
 * update now, so that their QR need not wait for the rest of the trailing matrix */
static void look_ahead(int m, int b, int kd, double *A22, int lda, const double *WV, const double *VW) {
    int c = kd < m ? kd : m;
    cblas_dsyr2k(CblasColMajor, CblasLower, CblasNoTrans, c, b, -1.0, WV, m, VW, m, 1.0, A22, lda);
    if (m > c) cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m - c, c, 2 * b, -1.0, WV + c, m, VW, m, 1.0, A22 + c, lda);
}

#define MAX_TEAM 64

/* Panel by panel. Panel k's update of its trailing matrix waits for panel k + kd's pass over the
 * tiles, so that the trailing matrix is read and written once per panel; only the columns of
 * panel k + kd (and the band block above them) get it at once (look-ahead), so that their QR can
 * go first. While thread 0 does that serial part (look-ahead, QR, V), the other threads already
 * apply the delayed update to their own tiles; then everyone multiplies its tiles by V. */
int sy2band(int64_t n64, int64_t kd64, double *a, double *ab, int threads, char *err, size_t errlen) {
    int n = (int)n64, kd = (int)kd64, ld = kd + 1;
    if (threads < 1) threads = 1;
    if (threads > MAX_TEAM) threads = MAX_TEAM;
    if (kd < 0 || (kd == 0 && n > 1) || (kd >= n && n > 0))
        return seterr(err, errlen, "expected a band half-width in [1, %d), found %d", n, kd);
    int saved = openblas_get_num_threads();   /* one-thread BLAS inside the tiles */
    if (saved != 1) openblas_set_num_threads(1);
    int rc = 0;
    if (n > kd + 1) {
        size_t mmax = (size_t)(n - kd), kk = (size_t)kd * (size_t)kd;
        double *T = xmalloc(sizeof(double) * kk), *X = xmalloc(sizeof(double) * kk * 2), *Z = X + kk;
        double *qrwork = xmalloc(sizeof(double) * kk);
        double *acc = xmalloc(sizeof(double) * mmax * (size_t)kd * (size_t)threads);
        double *buf[2][2];   /* [this panel, the delayed one][WV = [W V], VW = [V W]], m×2b each */
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) buf[i][j] = xmalloc(sizeof(double) * mmax * (size_t)kd * 2);
        int cur = 0, mp = 0, bp = 0;   /* the delayed update: m and b of its panel (bp = 0: none) */
        double *A22p = NULL;            /* and the trailing matrix it belongs to */
        _Atomic int ready = 0;         /* panels whose V is ready (thread 0 -> the others) */
        int failed = 0;
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            int me = omp_get_thread_num(), team = omp_get_num_threads(), first[MAX_TEAM + 1];
            for (int k = 0, panel = 1; k + kd < n; k += kd, panel++) {
                int m = n - k - kd, b = kd < m ? kd : m;                          /* b reflectors */
                double *P = a + (size_t)k * (size_t)n + (size_t)(k + kd);        /* the panel below the band, m×kd */
                double *A22 = a + (size_t)(k + kd) * (size_t)n + (size_t)(k + kd);
                tile_pass pass = {m, b, bp, mp, n, A22, buf[1 - cur][0] + kd, buf[1 - cur][1] + kd, buf[cur][1]};
                split_tiles(m, kd, team, first);
                int done = first[me];   /* my tiles up to here already have the delayed update */
                if (me == 0) {
                    if (bp) look_ahead(mp, bp, kd, A22p, n, buf[1 - cur][0], buf[1 - cur][1]);
                    memset(T, 0, sizeof(double) * kk);   /* dgeqrt sets T's upper triangle only */
                    lapack_int info = LAPACKE_dgeqrt_work(LAPACK_COL_MAJOR, m, kd, b, P, n, T, kd, qrwork);   /* P = Q·R, Q = I − V·T·Vᵀ */
                    if (info != 0) failed = (int)info;
                    double *V = buf[cur][1], *Vc = buf[cur][0] + (size_t)m * (size_t)b;   /* V (m×b, unit lower trapezoid) twice */
                    for (int j = 0; j < b; j++)
                        for (int i = 0; i < m; i++)
                            V[(size_t)j * m + i] = i < j ? 0.0 : i == j ? 1.0 : P[(size_t)j * n + i];
                    memcpy(Vc, V, sizeof(double) * (size_t)m * (size_t)b);
                    ready = panel;
                } else {
                    while (done < first[me + 1] && ready != panel) tile_update(&pass, done++);
                    while (ready != panel) {}
                }
                double *y = acc + (size_t)me * (size_t)m * (size_t)b;
                memset(y, 0, sizeof(double) * (size_t)m * (size_t)b);
                for (int t = first[me]; t < first[me + 1]; t++) {
                    if (t >= done) tile_update(&pass, t);
                    tile_symm(&pass, t, y);
                }
#pragma omp barrier
                if (me == 0) {   /* Y = Σ accumulators, then W, in place in WV = [W V]; VW = [V W] */
                    double *V = buf[cur][1], *Y = buf[cur][0], *VW = buf[cur][1];
                    size_t mb = (size_t)m * (size_t)b;
                    memcpy(Y, acc, sizeof(double) * mb);
                    for (int i = 1; i < team; i++)
                        for (size_t q = 0; q < mb; q++) Y[q] += acc[mb * (size_t)i + q];
                    cblas_dtrmm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, m, b, 1.0, T, kd, Y, m);  /* A22·V·T */
                    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, b, b, m, 1.0, V, m, Y, m, 0.0, X, b);     /* Vᵀ·Y */
                    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, b, b, b, 1.0, T, kd, X, b, 0.0, Z, b);    /* Tᵀ·Vᵀ·Y */
                    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, b, b, -0.5, V, m, Z, b, 1.0, Y, m);  /* W */
                    memcpy(VW + mb, Y, sizeof(double) * mb);                /* VW = [V W] */
                    mp = m;
                    bp = b;
                    A22p = A22;
                    cur = 1 - cur;
                }
#pragma omp barrier
            }
        }
        /* the last panel's look-ahead covers what is left of its trailing matrix (at most kd wide) */
        if (bp) look_ahead(mp, bp, kd, A22p, n, buf[1 - cur][0], buf[1 - cur][1]);
        if (failed) rc = seterr(err, errlen, "expected dgeqrt to succeed, found info %d", failed);
        free(T); free(X); free(qrwork); free(acc);
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) free(buf[i][j]);
    }
    if (rc == 0)
        for (int j = 0; j < n; j++) {
            int w = n - 1 - j < kd ? n - 1 - j : kd;
            for (int i = 0; i <= kd; i++) ab[(size_t)j * ld + i] = i <= w ? a[(size_t)j * n + j + i] : 0.0;
        }
    if (saved != 1) openblas_set_num_threads(saved);
    return rc;
}

int band_tridiag(int64_t n, int64_t kd, double *ab, double *d, double *e, char *err, size_t errlen) {
    /* dsbtrd (Kaufman's vectorised Givens rotations): 0.074 s at n = 2048, kd = 32, against 0.085 s
     * for the Householder bulge chase of dsytrd_sb2st (whose OpenMP tasks were slower still on 2) */
    lapack_int info = LAPACKE_dsbtrd(LAPACK_COL_MAJOR, 'N', 'L', (lapack_int)n, (lapack_int)kd, ab, (lapack_int)(kd + 1), d, e,
                                     NULL, 1);
    if (info != 0) return seterr(err, errlen, "expected dsbtrd to succeed, found info %d", (int)info);
    return 0;
}

int band_eigvals(int64_t n, int64_t kd, double *ab, double *w, char *err, size_t errlen) {
    double *e = xmalloc(sizeof(double) * (size_t)(n > 1 ? n : 1));
    int rc = band_tridiag(n, kd, ab, w, e, err, errlen);
    if (rc == 0) {
        int info = LAPACKE_dsterf((lapack_int)n, w, e);
        if (info != 0) rc = seterr(err, errlen, "expected dsterf to converge, found info %d", info);
    }
    free(e);
    return rc;
}
