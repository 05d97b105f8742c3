/* fid.h: the Fréchet distance between two Gaussians (FID), and feature statistics (mean and
 * scatter) that accumulate in one pass with memory independent of N and merge exactly.
 *
 * FID = ‖mu1 − mu2‖² + tr(S1) + tr(S2) − 2·tr sqrt(S1·S2), in float64 through LAPACK's symmetric
 * eigensolvers, never a general matrix square root: tr sqrt(S1·S2) = Σ √max(μ, 0) over the
 * eigenvalues μ of a symmetric matrix similar to S1·S2 (negative μ are rounding in the null
 * space of a singular product; pytorch-fid's `covmean.real` drops the imaginary parts that
 * scipy's sqrtm gives them).
 *   - Cholesky route, when S1 is numerically positive definite (dpotrf succeeds) and the least
 *     eigenvalue of M is positive: S1 = L·Lᵀ, M = Lᵀ·S2·L (dsygst), eigenvalues of M (dsyevd).
 *   - eigen route, otherwise (N < d and similar): S1 = V·diag(λ)·Vᵀ (dsyevd),
 *     A = sqrt(S1) = V·diag(√max(λ,0))·Vᵀ, eigenvalues of M = A·S2·A (dsymm, dgemm, dsyevd).
 * BLAS and LAPACK thread as OpenBLAS decides (OMP_NUM_THREADS / OPENBLAS_NUM_THREADS).
 *
 * Singular products (N < d): the exact tr sqrt(S1·S2) is not what pytorch-fid prints; scipy's
 * sqrtm of the non-normal product adds √(rounding) from every null direction, ~1e-6 of the FID
 * at d = 2048. The eigen route forms A·S2·A over all d directions and so carries rounding of the
 * same kind; that is why singular products take it.
 *
 * The eps rule: pytorch-fid adds eps·I to both covariances (for the square root only; the trace
 * terms keep the covariances as given) when scipy's sqrtm(S1·S2) fails, which happens only for
 * some patterns of features that are constant over A or over B (fid_needs_eps below, in fid.c).
 * We add it exactly then, and fid_result says so. Nearly singular products do not make sqrtm
 * fail, so pytorch-fid adds no eps to them and neither do we. */
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
    int threads;         /* OpenBLAS threads it ran on */
} fid_result;

enum { FID_ROUTE_CHOLESKY = 1, FID_ROUTE_EIGEN = 2 };

/* The Fréchet distance of (mu1, s1) and (mu2, s2): mu (d), s (d,d) float64, exactly symmetric
 * (fid_load_stats and fstats_finalize make them so), used as scratch: their contents are
 * undefined afterwards (no copies of the d×d covariances). eps as pytorch-fid's (FID_EPS); eps < 0
 * never applies it. route 0 chooses, FID_ROUTE_* forces one (tests and benchmarks). Dies with one
 * line through die_runtime when LAPACK fails, when S1·S2 overflows float64, or when a forced
 * Cholesky route meets a singular s1. */
void fid_frechet_inplace(int64_t d, const double *mu1, double *s1, const double *mu2, double *s2, double eps,
                         int route, fid_result *r);

/* 1 when pytorch-fid's sqrtm(s1·s2) would fail, so that it adds eps (s1, s2 symmetric). */
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
/* Add n feature vectors x (n,d), row-major. Non-finite values are refused: ERR_NONFINITE
 * (core/finite.h) and "features: expected finite values, found NaN at (R,C) in the rows added" (R
 * within x), and nothing of that call is added. */
int fstats_add_f32(fstats *s, const float *x, int64_t n, char *err, size_t errlen);
int fstats_add_f64(fstats *s, const double *x, int64_t n, char *err, size_t errlen);
/* Fold buffered rows in and make scatter a full symmetric matrix. */
void fstats_flush(fstats *s);
/* dst += src (src is flushed). -1 with a message when d differs. */
int fstats_merge(fstats *dst, fstats *src, char *err, size_t errlen);
/* mu (d) and sigma (d,d) = scatter/(count − 1), as np.mean(x, 0) and np.cov(x, rowvar=False).
 * -1 with "expected at least 2 feature vectors, found N" when count < 2. */
int fstats_finalize(fstats *s, double *mu, double *sigma, char *err, size_t errlen);
/* Write mu, sigma (float64), count (int64, 0-d) and scatter (float64) atomically; -1 with a message
 * (fewer than 2 rows, a write error), or ERR_NONFINITE when a statistic overflowed float64 ("the
 * statistics: expected finite values, found +Inf at (3,4) in 'sigma'"), nothing written. */
int fstats_save(fstats *s, const char *path, char *err, size_t errlen);
/* Read partial statistics (keys mu, count, scatter; sigma is ignored) into s (initialised
 * here). Messages name the path and the key; ERR_NONFINITE for a NaN or Inf, as fid_load_stats. */
int fstats_load(fstats *s, const char *path, char *err, size_t errlen);

/* Read mu (d,) and sigma (d,d) (float64 or float32; any other keys are ignored) from a stats
 * .npz: ours, DF-GAN's (bird_val256_FIDK0.npz) or pytorch-fid's --save-stats file. Checks shapes,
 * finiteness, symmetry and a non-negative diagonal; *mu and *sigma are malloc'd float64.
 * -1 with a one-line "PATH: expected ..., found ..." message; ERR_NONFINITE (core/finite.h) for a
 * NaN or Inf: "PATH: expected finite values, found NaN at (3,4) in 'sigma'". */
int fid_load_stats(const char *path, int64_t *d, double **mu, double **sigma, char *err, size_t errlen);

/* ---- feature streams ----
 * Read the next feature array from a stream (.npy arrays back to back): float32 or float64 of
 * shape (N,d); *d < 0 takes d from this array, else it must match. 1 ok, 0 at a clean end of
 * stream, -1 with "NAME: expected float32 or float64 (N,d), found int64 (3,4) in array 2"
 * (*io_error set when it was a read error rather than bad data); ERR_NONFINITE (core/finite.h) with
 * "NAME: expected finite values, found NaN at (4,2) in batch 1" for a NaN or Inf. */
int feat_read(FILE *f, const char *name, long index, int64_t *d, npy_array *a, int *io_error, char *err, size_t errlen);
/* Every array of the feature stream at path ('-': stdin) through feat_read, concatenated as float64
 * (n,d), malloc'd. For the tools: dies (exit 2) naming opt on an unreadable path, a bad array or an
 * empty stream; exit 3 naming the path on a NaN or Inf (feat_read's message); exit 1 on a read error. */
double *feat_read_all(const char *opt, const char *path, int64_t *n, int64_t *d);

#endif
