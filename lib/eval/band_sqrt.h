/* band_sqrt.h: tr(sqrt(B)) of a symmetric positive definite band matrix without its eigenvalues
 * (and of a tridiagonal one that may be nearly singular, with its smallest eigenvalues exact).
 *
 * For λ > 0, sqrt(λ) = (2/π)·λ·∫₀^∞ dt/(t² + λ). With t = √m·sc(u | k), k' = √(m/M) (Jacobi
 * elliptic functions, u from 0 to the quarter period K) the integrand is analytic in a strip
 * about [0, K] for every λ in [m, M], so the midpoint rule with N nodes converges geometrically
 * (Hale, Higham & Trefethen, "Computing A^α, log(A), and related matrix functions by contour
 * integrals", SIAM J. Numer. Anal. 46, 2008):
 *     sqrt(λ) ≈ Σ_j c_j·λ/(λ + s_j),  c_j, s_j > 0,  relative error ≈ exp(−2π²·N / ln(16·M/m)),
 * hence tr sqrt(B) ≈ Σ_j c_j·tr(B·(B + s_j·I)⁻¹). Each trace comes from the band Cholesky factor
 * of B + s_j·I and the band of its inverse (Takahashi's recurrence), O(n·kd²) flops; N is chosen
 * for 1e-15 (N ≈ 1.9·ln(16·M/m) + 2, 8 to 60 nodes), the nodes are shared over the threads and
 * summed in a fixed order (the result does not depend on the thread count).
 * M is a Gershgorin bound of B; m the largest of M/10, M/100, ..., M·1e-12 at which B − m·I still
 * has a Cholesky factor (Sylvester's inertia: every eigenvalue exceeds m). When none has, B is
 * singular or nearly so at rounding level, and the caller takes its eigenvalues instead. */
#ifndef DFGAN_BAND_SQRT_H
#define DFGAN_BAND_SQRT_H

#include <stdint.h>

typedef struct {
    int nodes;       /* quadrature nodes used */
    double lo, hi;   /* the interval [m, M] of the quadrature (band: certified to hold B's eigenvalues) */
    int exact;       /* tridiag_trace_sqrt: the eigenvalues below m, taken exactly */
} band_sqrt_info;

#define TRIDIAG_MAX_SMALL 64   /* tridiag_trace_sqrt: at most this many eigenvalues below m */

/* ab: B in LAPACK's lower band layout, ab[(i − j) + j·(kd + 1)] = B(i, j), 0 ≤ i − j ≤ kd.
 * Returns 0 with *trace = tr sqrt(B), or 1 when B is not certified positive definite with every
 * eigenvalue above 1e-12·M (nothing written to *trace). */
int band_trace_sqrt(int64_t n, int64_t kd, const double *ab, int threads, double *trace, band_sqrt_info *info);

/* tr sqrt(T) of a symmetric tridiagonal T (diagonal d, n; off-diagonal e, n − 1) that may be
 * singular or nearly so, its negative eigenvalues counted as zero: the quadrature on [m, M]
 * (M Gershgorin's bound, m = 1e-12·M) over T + s_j·I = L·D·Lᵀ and the diagonal of its inverse
 * (O(n) a node), and for the k eigenvalues below m, found by bisection (Sturm count, LAPACK's
 * dstebz), √max(λ, 0) in place of the quadrature's r(λ), which is exact there. Returns 0 with
 * *trace and *wmin (T's least eigenvalue, or m when none is below m), or 1 when k exceeds
 * TRIDIAG_MAX_SMALL or the least eigenvalue is negative enough to near a node's pole (the caller
 * then takes all the eigenvalues). */
int tridiag_trace_sqrt(int64_t n, const double *d, const double *e, double *trace, double *wmin, band_sqrt_info *info);

/* The quadrature on [lo, hi] with `nodes` nodes: shifts s[j] and weights c[j] with
 * sqrt(λ) ≈ Σ c_j·λ/(λ + s_j). Exposed for the tests. */
void sqrt_quadrature(double lo, double hi, int nodes, double *s, double *c);

/* The node count for relative error 1e-15 on [lo, hi]. */
int sqrt_quadrature_nodes(double lo, double hi);

#endif
