/* fid.h: the Fréchet distance between two Gaussians (FID), and feature statistics (mean and
 * scatter) that accumulate in one pass with memory independent of N and merge exactly.
 *
 * FID = ‖mu1 − mu2‖² + tr(S1) + tr(S2) − 2·tr(sqrt(S1·S2)), in float64 through symmetric
 * eigenproblems only (LAPACK), never a general matrix square root. tr sqrt(S1·S2) = Σ √μ over
 * the eigenvalues μ of a symmetric matrix similar to S1·S2:
 *   - Cholesky route, when S1 is numerically positive definite and S2 is too (no eigenvalue of
 *     M ≤ 0): S1 = L·Lᵀ (dpotrf), M = Lᵀ·S2·L (dsygst), M to a symmetric band of half-width 32
 *     by orthogonal similarity (sy2band.h: level-3 BLAS), then tr sqrt(M) = tr sqrt(band) by a
 *     rational quadrature of sqrt over the band's certified spectrum interval (band_sqrt.h:
 *     relative error below 1e-13, like the eigenvalues' own rounding); when the band is not
 *     certified positive definite with λmin ≥ 1e-12·‖M‖, the same quadrature on its tridiagonal
 *     form (dsbtrd) with the few eigenvalues below that taken exactly (bisection), or, past 64 of
 *     them, all the eigenvalues (dsterf): 8/3·d³ flops, about 0.2 s at d = 2048 on 2 idle cores
 *     (0.4 s on one), 0.28 s nearly singular;
 *   - eigen route, otherwise (fewer samples than dimensions): S1 = V·diag(λ)·Vᵀ (dsyevd),
 *     A = sqrt(S1) = V·diag(√max(λ,0))·Vᵀ, M = A·S2·A (dgemm, dsymm), eigenvalues of M.
 * Negative eigenvalues of M (rounding in the null space of a singular product) count as zero,
 * as pytorch-fid's `covmean.real` drops the imaginary parts sqrtm gives them.
 *
 * Singular products (N < d). The exact tr sqrt(S1·S2) of the rank-deficient covariances is not
 * what pytorch-fid prints: scipy's sqrtm of the non-normal product adds √(rounding) from every
 * null direction, ~1e-6 of the FID at d = 2048 (measured 1.0e-6 to 1.35e-6 below the exact value
 * for N from 500 to 1,500, with scipy 1.10). The eigen route forms A·S2·A over all d directions
 * and so carries rounding of the same kind; it agrees with pytorch-fid within 1.2e-7 to 7.4e-7
 * there (N = 500 … 2,000, also 500 against 5,000), and it is the route used for singular
 * products for that reason; a rank-truncated route (the exact value) would differ from
 * pytorch-fid by up to 1.35e-6. The Cholesky route agrees with scipy to ~1e-11 on positive
 * definite covariances.
 *
 * The eps rule (pytorch-fid's calculate_frechet_distance, exactly as it behaves): pytorch-fid
 * adds eps·I to both covariances (for the square root only; the trace terms keep the original
 * covariances) when scipy.linalg.sqrtm(S1·S2) fails, and sqrtm fails only when its blocked
 * Schur square root meets a zero denominator R_ii + R_jj = 0 with a nonzero numerator inside one
 * of its diagonal blocks (64 wide; n//64 blocks). That happens for exact zeros on the Schur
 * diagonal, which LAPACK's balancing (dgebal 'P', called by dgees) isolates from all-zero rows
 * of S1 (features constant over all of A) and all-zero columns of S2 (constant over B):
 * fid_needs_eps() replays that permutation and the block recurrence on the zero pattern. In
 * practice: at d = 64 (pytorch-fid --dims 64, one block) a feature constant over A but not B
 * together with another constant over B but not A triggers it; at d = 2048 the zeros from A
 * (moved to the bottom) and from B (to the top) share a 64-block only when fewer than about 64
 * features vary in both sets, so real Inception statistics never get eps there. Validated
 * against scipy 1.10 on 300 random dead-feature patterns at d = 64…256 (86 with eps): the same
 * decision in every case.
 * Nearly singular products (N < d) do not make sqrtm fail, so pytorch-fid adds no eps to them
 * and neither do we. fid_frechet() reports whether it applied eps. */
#ifndef DFGAN_FID_H
#define DFGAN_FID_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io/npy.h"

#define FID_EPS 1e-6   /* pytorch-fid's calculate_frechet_distance default */

typedef struct {
    double fid;
    double mean_term;    /* ‖mu1 − mu2‖² */
    double tr1, tr2;     /* tr(S1), tr(S2) of the covariances as given (no eps) */
    double tr_covmean;   /* tr sqrt(S1·S2) (with eps·I added to both when eps_applied) */
    int eps_applied;     /* 1 when pytorch-fid's sqrtm would fail and eps was added */
    int route;           /* FID_ROUTE_CHOLESKY or FID_ROUTE_EIGEN */
    int threads;         /* OpenBLAS threads it ran on (fid_blas_begin) */
    int nodes;           /* quadrature nodes of the Cholesky route, 0 when it took eigenvalues */
    int exact;           /* -1: the quadrature ran on the band; k >= 0: on the tridiagonal form, with
                            its k eigenvalues below 1e-12 of Gershgorin's bound taken exactly */
} fid_result;

enum { FID_ROUTE_CHOLESKY = 1, FID_ROUTE_EIGEN = 2 };
/* or'ed into force_route: the Cholesky route takes the band's eigenvalues, never the quadrature */
enum { FID_EIGENVALUES = 0x10 };

/* The Fréchet distance of (mu1, s1) and (mu2, s2): mu (d), s (d,d) float64, exactly symmetric (the
 * Cholesky route reads the upper triangle of the row-major arrays, the eigen route the lower;
 * fid_load_stats and fstats_finalize make them exactly symmetric).
 * eps as pytorch-fid's (FID_EPS); eps < 0 never applies it. force_route 0 chooses, FID_ROUTE_*
 * forces one (tests and benchmarks), FID_EIGENVALUES or'ed in turns the quadrature off. Returns 0, or -1 with a one-line message in err (LAPACK
 * failure, a forced Cholesky route on a singular s1). */
int fid_frechet(int64_t d, const double *mu1, const double *s1, const double *mu2, const double *s2,
                double eps, int force_route, fid_result *r, char *err, size_t errlen);

/* The same on s1 and s2 as scratch (no copies of the d×d covariances: 64 MB less to allocate
 * and fault in at d = 2048); their contents are undefined afterwards. */
int fid_frechet_inplace(int64_t d, const double *mu1, double *s1, const double *mu2, double *s2, double eps,
                        int force_route, fid_result *r, char *err, size_t errlen);

/* 1 when pytorch-fid's sqrtm(s1·s2) would fail (see above), so that it adds eps. */
int fid_needs_eps(int64_t d, const double *s1, const double *s2);

/* ---- feature statistics ----
 *
 * count, mean (float64) and scatter Σ(x − mean)(x − mean)ᵀ (float64) of feature vectors. Rows
 * added are buffered (up to `cap` rows) and folded in as one batch: batch mean, centred batch
 * scatter by dsyrk, then Chan, Golub and LeVeque's parallel update
 *     n = na + nb, δ = mean_b − mean_a, mean = mean_a + δ·nb/n,
 *     scatter = scatter_a + scatter_b + δ·δᵀ·na·nb/n,
 * which is also how two partial statistics merge (exactly, in exact arithmetic; in floating
 * point to rounding). Memory: d² + cap·d doubles whatever N is.
 *
 *   fstats s; fstats_init(&s, 2048);
 *   while (batch) if (fstats_add_f32(&s, feats, n, err, sizeof err)) die...;
 *   fstats_save(&s, "stats.npz", err, sizeof err);     // mu, sigma, count, scatter
 * and for several runs or GPUs: fstats_load(&a, "part0.npz"), fstats_load(&b, ...),
 * fstats_merge(&a, &b), fstats_save(&a, ...). */
typedef struct {
    int64_t d, count;   /* count: rows folded in; count + nbuf rows have been added */
    double *mean;       /* (d) */
    double *scatter;    /* (d,d) row-major; the lower triangle is kept current, the full matrix after fstats_flush */
    double *buf;        /* (cap,d) rows not yet folded in */
    int64_t nbuf, cap;
} fstats;

void fstats_init(fstats *s, int64_t d);
void fstats_free(fstats *s);
/* Add n feature vectors x (n,d), row-major. Non-finite values are refused: -1 and
 * "expected finite features, found nan at row R, column C" (R within x), and nothing of that
 * call is added. */
int fstats_add_f32(fstats *s, const float *x, int64_t n, char *err, size_t errlen);
int fstats_add_f64(fstats *s, const double *x, int64_t n, char *err, size_t errlen);
/* Fold buffered rows in and make scatter a full symmetric matrix. */
void fstats_flush(fstats *s);
/* dst += src (src is flushed). -1 with a message when d differs. */
int fstats_merge(fstats *dst, fstats *src, char *err, size_t errlen);
/* mu (d) and sigma (d,d) = scatter/(count − 1), as np.mean(x, 0) and np.cov(x, rowvar=False).
 * -1 with "expected at least 2 feature vectors, found N" when count < 2. */
int fstats_finalize(fstats *s, double *mu, double *sigma, char *err, size_t errlen);
/* Write mu, sigma (float64), count (int64, 0-d) and scatter (float64) atomically. */
int fstats_save(fstats *s, const char *path, char *err, size_t errlen);
/* Read partial statistics (keys mu, count, scatter; sigma is ignored) into s (initialised
 * here). Messages name the path and the key. */
int fstats_load(fstats *s, const char *path, char *err, size_t errlen);

/* Read mu (d,) and sigma (d,d) (float64 or float32; any other keys are ignored) from a stats
 * .npz: ours, DF-GAN's (bird_val256_FIDK0.npz) or pytorch-fid's --save-stats file. Checks shapes,
 * finiteness, symmetry and a non-negative diagonal; *mu and *sigma are malloc'd float64.
 * -1 with a one-line "PATH: expected ..., found ..." message. */
int fid_load_stats(const char *path, int64_t *d, double **mu, double **sigma, char *err, size_t errlen);

/* OpenBLAS threads for a piece of work. Small work (flops < 2^28) runs on one thread: a parallel
 * region per BLAS-2 call costs more than it saves there. Big work leaves a core to each task of
 * other processes that is runnable right now (/proc/stat): OpenBLAS's fork-join barriers stall
 * whenever one of its threads is descheduled, and with one core busy elsewhere a d = 2048 FID
 * took 3 to 8 s on 2 threads against 1 s on one (0.35 s on 2 idle cores). fid_blas_begin
 * returns the previous count; fid_blas_end(previous) restores it. */
int fid_blas_begin(double flops);
void fid_blas_end(int previous);

/* ---- feature streams ----
 * Read the next feature array from a stream (.npy arrays back to back): float32 or float64 of
 * shape (N,d); *d < 0 takes d from this array, else it must match. 1 ok, 0 at a clean end of
 * stream, -1 with "NAME: expected float32 or float64 (N,d), found int64 (3,4) in array 2"
 * (*io_error set when it was a read error rather than bad data). */
int feat_read(FILE *f, const char *name, long index, int64_t *d, npy_array *a, int *io_error, char *err, size_t errlen);

#endif
