/* sy2band.c: dense symmetric -> band (stage one of a two-stage tridiagonalisation) and the exact
 * eigenvalues of a band; see sy2band.h. */
#include "sy2band.h"
#include "common.h"

#include <cblas.h>
#include <lapacke.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define TILE 256   /* tiles of the trailing matrix: 256×256 doubles (512 KB) stay in L2 */

extern void dsytrd_sb2st_(const char *stage1, const char *vect, const char *uplo, const int *n, const int *kd,
                          double *ab, const int *ldab, double *d, double *e, double *hous, const int *lhous,
                          double *work, const int *lwork, int *info);

/* the t-th tile of the lower triangle of an nt×nt tiling, row by row: (0,0), (1,0), (1,1), ... */
static void tile_of(int t, int *ti, int *tj) {
    int i = 0;
    while ((i + 1) * (i + 2) / 2 <= t) i++;
    *ti = i;
    *tj = t - i * (i + 1) / 2;
}

/* One pass over the lower tiles of the trailing matrix A (m×m, lda), two jobs per tile while it
 * is in cache:
 *   1. the previous panel's update, delayed until now: A −= W·Vᵀ + V·Wᵀ, given as WV = [W V] and
 *      VW = [V W] (ld ldp, 2·bp columns; bp = 0: none), the diagonal tiles by dsyr2k so that A's
 *      strict upper triangle is never written;
 *   2. Y (m×b) = A·V for this panel's V (ld m): each thread adds the products of its tiles (a
 *      fixed share, so that the sums do not change from run to run) into its own accumulator
 *      acc + thread·m·b, whose sum lands in Y; a tile off the diagonal serves both A_IJ·V_J and
 *      A_IJᵀ·V_I. */
static void tiled_update_symm(int m, double *A, int lda, const double *WV, const double *VW, int ldp, int bp,
                              const double *V, int b, double *Y, double *acc, int threads) {
    int nt = (m + TILE - 1) / TILE, ntiles = nt * (nt + 1) / 2;
    size_t mb = (size_t)m * (size_t)b;
    memset(acc, 0, sizeof(double) * mb * (size_t)threads);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        double *y = acc + mb * (size_t)omp_get_thread_num();
#pragma omp for schedule(static, 1)
        for (int t = 0; t < ntiles; t++) {
            int ti, tj;
            tile_of(t, &ti, &tj);
            int i0 = ti * TILE, j0 = tj * TILE;
            int mi = m - i0 < TILE ? m - i0 : TILE, mj = m - j0 < TILE ? m - j0 : TILE;
            double *aij = A + (size_t)j0 * (size_t)lda + (size_t)i0;
            if (ti > tj) {
                if (bp)
                    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, mi, mj, 2 * bp, -1.0, WV + i0, ldp, VW + j0, ldp, 1.0, aij, lda);
                cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, mi, b, mj, 1.0, aij, lda, V + j0, m, 1.0, y + i0, m);
                cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, mj, b, mi, 1.0, aij, lda, V + i0, m, 1.0, y + j0, m);
            } else {
                if (bp)   /* W_I·V_Iᵀ + V_I·W_Iᵀ: W_I and V_I are the first halves of WV and VW */
                    cblas_dsyr2k(CblasColMajor, CblasLower, CblasNoTrans, mi, bp, -1.0, WV + i0, ldp, VW + i0, ldp, 1.0, aij, lda);
                cblas_dsymm(CblasColMajor, CblasLeft, CblasLower, mi, b, 1.0, aij, lda, V + i0, m, 1.0, y + i0, m);
            }
        }
    }
    memcpy(Y, acc, sizeof(double) * mb);
    for (int k = 1; k < threads; k++)
        for (size_t i = 0; i < mb; i++) Y[i] += acc[mb * (size_t)k + i];
}

/* Panel by panel, with a look-ahead: panel k's update of the trailing matrix waits for panel
 * k + kd's pass (tiled_update_symm), except for the columns of panel k + kd itself (and the band
 * block above them), which are brought up to date at once so that their QR can go first. So the
 * trailing matrix is read and written once per panel. */
int sy2band(int64_t n64, int64_t kd64, double *a, double *ab, int threads, char *err, size_t errlen) {
    int n = (int)n64, kd = (int)kd64, ld = kd + 1;
    if (threads < 1) threads = 1;
    if (kd < 0 || (kd == 0 && n > 1) || (kd >= n && n > 0))
        return seterr(err, errlen, "expected a band half-width in [1, %d), found %d", n, kd);
    int saved = openblas_get_num_threads();   /* one-thread BLAS inside the tiles */
    if (saved != 1) openblas_set_num_threads(1);
    int rc = 0;
    if (n > kd + 1) {
        size_t mmax = (size_t)(n - kd), kk = (size_t)kd * (size_t)kd;
        double *T = xmalloc(sizeof(double) * kk), *X = xmalloc(sizeof(double) * kk * 2), *Z = X + kk;
        double *qrwork = xmalloc(sizeof(double) * kk);
        double *Y = xmalloc(sizeof(double) * mmax * (size_t)kd);
        double *acc = xmalloc(sizeof(double) * mmax * (size_t)kd * (size_t)threads);
        double *buf[2][2];   /* [this panel, the delayed one][WV = [W V], VW = [V W]], m×2b each */
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) buf[i][j] = xmalloc(sizeof(double) * mmax * (size_t)kd * 2);
        int cur = 0, mp = 0, bp = 0;   /* the delayed update: m and b of its panel (bp = 0: none) */
        for (int k = 0; k + kd < n && rc == 0; k += kd) {
            int m = n - k - kd, b = kd < m ? kd : m;                          /* b reflectors */
            double *P = a + (size_t)k * (size_t)n + (size_t)(k + kd);        /* the panel below the band, m×kd */
            double *A22 = a + (size_t)(k + kd) * (size_t)n + (size_t)(k + kd);
            double *WV = buf[cur][0], *VW = buf[cur][1];
            memset(T, 0, sizeof(double) * kk);   /* dgeqrt sets T's upper triangle only */
            lapack_int info = LAPACKE_dgeqrt_work(LAPACK_COL_MAJOR, m, kd, b, P, n, T, kd, qrwork);   /* P = Q·R, Q = I − V·T·Vᵀ (V m×b) */
            if (info != 0) { rc = seterr(err, errlen, "expected dgeqrt to succeed, found info %d", (int)info); break; }
            double *V = VW, *Vc = WV + (size_t)m * (size_t)b;   /* V (m×b, unit lower trapezoid) twice */
            for (int j = 0; j < b; j++)
                for (int i = 0; i < m; i++)
                    V[(size_t)j * m + i] = i < j ? 0.0 : i == j ? 1.0 : P[(size_t)j * n + i];
            memcpy(Vc, V, sizeof(double) * (size_t)m * (size_t)b);
            /* the delayed update of the previous panel (its rows start kd above A22), then Y = A22·V */
            const double *WVp = buf[1 - cur][0] + kd, *VWp = buf[1 - cur][1] + kd;
            tiled_update_symm(m, A22, n, WVp, VWp, mp, bp, V, b, Y, acc, threads);
            cblas_dtrmm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, m, b, 1.0, T, kd, Y, m);  /* Y = A22·V·T */
            cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, b, b, m, 1.0, V, m, Y, m, 0.0, X, b);     /* Vᵀ·Y */
            cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, b, b, b, 1.0, T, kd, X, b, 0.0, Z, b);    /* Tᵀ·Vᵀ·Y */
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, b, b, -0.5, V, m, Z, b, 1.0, Y, m);  /* W */
            memcpy(WV, Y, sizeof(double) * (size_t)m * (size_t)b);                     /* WV = [W V] */
            memcpy(VW + (size_t)m * (size_t)b, Y, sizeof(double) * (size_t)m * (size_t)b);   /* VW = [V W] */
            /* look-ahead: the next panel's columns (the first c of A22) now; the rest waits */
            int c = kd < m ? kd : m;
            cblas_dsyr2k(CblasColMajor, CblasLower, CblasNoTrans, c, b, -1.0, WV, m, VW, m, 1.0, A22, n);
            if (m > c)
                cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, m - c, c, 2 * b, -1.0, WV + c, m, VW, m, 1.0, A22 + c, n);
            mp = m;
            bp = b;
            cur = 1 - cur;
            /* P now holds R over the Householder vectors: the band keeps R (rows ≤ column) only */
        }
        /* the last panel's trailing matrix (at most kd wide) was all look-ahead: nothing is left */
        free(T); free(X); free(qrwork); free(Y); free(acc);
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

int band_eigvals(int64_t n64, int64_t kd64, double *ab, double *w, char *err, size_t errlen) {
    int n = (int)n64, kd = (int)kd64, ld = kd + 1, info = 0, lh = -1, lw = -1;
    double qh = 0, qw = 0;
    double *e = xmalloc(sizeof(double) * (size_t)(n > 1 ? n : 1));
    /* dsytrd_sb2st's own OpenMP tasks made it slower on 2 threads (0.19-0.22 s against 0.15-0.16 s
     * with dsterf at n = 2048, kd = 32): one thread */
    int omp_saved = omp_get_max_threads();
    omp_set_num_threads(1);
    dsytrd_sb2st_("N", "N", "L", &n, &kd, ab, &ld, w, e, &qh, &lh, &qw, &lw, &info);   /* workspace query */
    if (info == 0) {
        lh = (int)qh > 1 ? (int)qh : 1;
        lw = (int)qw > 1 ? (int)qw : 1;
        double *hous = xmalloc(sizeof(double) * (size_t)lh), *work = xmalloc(sizeof(double) * (size_t)lw);
        dsytrd_sb2st_("N", "N", "L", &n, &kd, ab, &ld, w, e, hous, &lh, work, &lw, &info);
        free(hous);
        free(work);
    }
    omp_set_num_threads(omp_saved);
    if (info != 0) { free(e); return seterr(err, errlen, "expected dsytrd_sb2st to succeed, found info %d", info); }
    info = LAPACKE_dsterf(n, w, e);
    free(e);
    if (info != 0) return seterr(err, errlen, "expected dsterf to converge, found info %d", info);
    return 0;
}
