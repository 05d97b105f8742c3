/* band_sqrt_check: checks of lib/eval/sy2band.c and lib/eval/band_sqrt.c, the fast path of fid's
 * tr sqrt(S1·S2), run by test/fid.bats.
 *   1. the quadrature: Σ c_j·λ/(λ + s_j) against sqrt(λ) over [m, M] for M/m from 1 to 1e12;
 *   2. sy2band: random symmetric (indefinite) matrices of sizes 1..600 and half-widths 1..32,
 *      1, 2 and 3 threads: the band's eigenvalues (band_eigvals) against dsyevd of the matrix, and
 *      its Frobenius norm (kept by an orthogonal similarity);
 *   3. band_trace_sqrt on Q·diag(λ)·Qᵀ reduced by sy2band, λ log-spaced over condition numbers
 *      1 to 1e11, also with clustered and repeated eigenvalues: against Σ sqrt(λ), and bit-equal
 *      on 1 and 2 threads;
 *   4. tridiag_trace_sqrt on the tridiagonal forms of such matrices, with 0, 6 and 40 eigenvalues
 *      below 1e-12 of the largest (some zero), against dsterf's eigenvalues of the same matrix;
 *      refusing 100 zero eigenvalues and a clearly negative one;
 *   5. the refusals: singular, indefinite, zero and 1e14-conditioned bands return 1.
 * Prints one line per failure and a summary; exit 1 on any failure. */
#include "eval/band_sqrt.h"
#include "core/common.h"
#include "eval/sy2band.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

static void expect(int ok, const char *what, double got, double want, double tol) {
    checks++;
    if (ok) return;
    failures++;
    printf("FAIL %s: got %.17g, want %.17g (tolerance %.3g)\n", what, got, want, tol);
}

static uint64_t rng_state = 88172645463325252ull;
static double uniform(void) {   /* xorshift64*, in (-1, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 4503599627370496.0 - 1.0;
}

/* a random orthogonal n×n (column-major): Q of the QR of a random matrix */
static double *random_orthogonal(int n) {
    double *q = xmalloc(sizeof(double) * (size_t)n * n), *tau = xmalloc(sizeof(double) * (size_t)n);
    for (size_t i = 0; i < (size_t)n * n; i++) q[i] = uniform();
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, n, q, n, tau);
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, n, n, q, n, tau);
    free(tau);
    return q;
}

/* a = Q·diag(lam)·Qᵀ (column-major, both triangles) */
static double *with_spectrum(int n, const double *lam) {
    double *q = random_orthogonal(n), *qs = xmalloc(sizeof(double) * (size_t)n * n), *a = xmalloc(sizeof(double) * (size_t)n * n);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) qs[(size_t)j * n + i] = q[(size_t)j * n + i] * lam[j];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, qs, n, q, n, 0.0, a, n);
    for (int j = 0; j < n; j++)   /* exactly symmetric */
        for (int i = j + 1; i < n; i++) a[(size_t)i * n + j] = a[(size_t)j * n + i];
    free(q);
    free(qs);
    return a;
}

static void check_quadrature(void) {
    const double kappas[] = {1.0, 1.5, 10.0, 1e3, 1e6, 1e9, 1e12};
    for (size_t k = 0; k < sizeof kappas / sizeof *kappas; k++) {
        double lo = 0.37, hi = 0.37 * kappas[k];
        int nodes = sqrt_quadrature_nodes(lo, hi);
        double *s = xmalloc(sizeof(double) * (size_t)nodes), *c = xmalloc(sizeof(double) * (size_t)nodes), worst = 0;
        sqrt_quadrature(lo, hi, nodes, s, c);
        for (int i = 0; i <= 400; i++) {
            double lam = lo * pow(hi / lo, i / 400.0), r = 0;
            for (int j = 0; j < nodes; j++) r += c[j] * lam / (lam + s[j]);
            double e = fabs(r / sqrt(lam) - 1);
            worst = e > worst ? e : worst;
        }
        char what[96];
        snprintf(what, sizeof what, "quadrature on [m, %.0e·m] (%d nodes), worst relative error", kappas[k], nodes);
        double tol = kappas[k] > 1e10 ? 1e-11 : kappas[k] > 1e6 ? 1e-12 : 1e-13;
        expect(worst < tol, what, worst, 0, tol);
        free(s);
        free(c);
    }
}

static void check_sy2band(int n, int kd, int threads) {
    char err[256], what[400];
    double *a = xmalloc(sizeof(double) * (size_t)n * n), *a0 = xmalloc(sizeof(double) * (size_t)n * n);
    for (int j = 0; j < n; j++)
        for (int i = j; i < n; i++) a[(size_t)j * n + i] = a[(size_t)i * n + j] = uniform();
    memcpy(a0, a, sizeof(double) * (size_t)n * n);
    double fro = 0;
    for (size_t i = 0; i < (size_t)n * n; i++) fro += a[i] * a[i];
    double *w0 = xmalloc(sizeof(double) * (size_t)n), *w = xmalloc(sizeof(double) * (size_t)n);
    LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'L', n, a0, n, w0);
    double *ab = xmalloc(sizeof(double) * (size_t)(kd + 1) * n);
    int rc = sy2band(n, kd, a, ab, threads, err, sizeof err);
    snprintf(what, sizeof what, "sy2band n %d kd %d threads %d returns 0 (%s)", n, kd, threads, rc ? err : "");
    expect(rc == 0, what, rc, 0, 0);
    double bfro = 0;
    for (int j = 0; j < n; j++)
        for (int p = 0; p <= kd && j + p < n; p++) bfro += (p ? 2 : 1) * ab[(size_t)j * (kd + 1) + p] * ab[(size_t)j * (kd + 1) + p];
    snprintf(what, sizeof what, "sy2band n %d kd %d threads %d: Frobenius norm of the band", n, kd, threads);
    expect(fabs(sqrt(bfro) - sqrt(fro)) <= 1e-13 * sqrt(fro) * n, what, sqrt(bfro), sqrt(fro), 1e-13 * n);
    rc = band_eigvals(n, kd, ab, w, err, sizeof err);
    double worst = 0, big = fabs(w0[0]) > fabs(w0[n - 1]) ? fabs(w0[0]) : fabs(w0[n - 1]);
    for (int i = 0; i < n; i++) worst = fabs(w[i] - w0[i]) > worst ? fabs(w[i] - w0[i]) : worst;
    snprintf(what, sizeof what, "sy2band n %d kd %d threads %d: eigenvalues against dsyevd, worst |difference|", n, kd, threads);
    expect(rc == 0 && worst <= 1e-13 * big * (n > 10 ? n : 10), what, worst, 0, 1e-13 * big * n);
    free(a); free(a0); free(w0); free(w); free(ab);
}

/* tr sqrt of Q·diag(lam)·Qᵀ through sy2band + band_trace_sqrt, against Σ sqrt(lam) */
static void check_trace(const char *name, int n, const double *lam, double tol) {
    char err[256], what[400];
    int kd = n > 32 ? 32 : n > 1 ? n - 1 : 0;
    double *a = with_spectrum(n, lam), want = 0, got1 = 0, got2 = 0;
    for (int i = 0; i < n; i++) want += sqrt(lam[i]);
    double *ab = xmalloc(sizeof(double) * (size_t)(kd + 1) * n);
    int rc = sy2band(n, kd, a, ab, 2, err, sizeof err);
    band_sqrt_info info = {0, 0, 0, 0};
    int r1 = rc ? -1 : band_trace_sqrt(n, kd, ab, 1, &got1, &info);
    int r2 = rc ? -1 : band_trace_sqrt(n, kd, ab, 2, &got2, NULL);
    snprintf(what, sizeof what, "band_trace_sqrt %s (n %d, %d nodes on [%.3g, %.3g]): relative error", name, n, info.nodes, info.lo, info.hi);
    expect(r1 == 0 && fabs(got1 - want) <= tol * want, what, got1, want, tol);
    snprintf(what, sizeof what, "band_trace_sqrt %s: 1 and 2 threads bit-equal", name);
    expect(r2 == 0 && got1 == got2, what, got2, got1, 0);
    free(a);
    free(ab);
}

/* tridiag_trace_sqrt on the tridiagonal form of Q·diag(lam)·Qᵀ (sy2band, band_tridiag) against
 * Σ √max(λ, 0) over the same tridiagonal's eigenvalues (dsterf); want_exact: how many lie below
 * 1e-12 of the largest (-1: the function must refuse) */
static void check_tridiag(const char *name, int n, const double *lam, int want_exact) {
    char err[256], what[400];
    int kd = n > 32 ? 32 : n - 1;
    double *a = with_spectrum(n, lam), *ab = xmalloc(sizeof(double) * (size_t)(kd + 1) * n);
    double *d = xmalloc(sizeof(double) * (size_t)n), *e = xmalloc(sizeof(double) * (size_t)n);
    double *w = xmalloc(sizeof(double) * (size_t)n), *f = xmalloc(sizeof(double) * (size_t)n);
    int rc = sy2band(n, kd, a, ab, 2, err, sizeof err);
    if (rc == 0) rc = band_tridiag(n, kd, ab, d, e, err, sizeof err);
    memcpy(w, d, sizeof(double) * (size_t)n);
    memcpy(f, e, sizeof(double) * (size_t)n);
    LAPACKE_dsterf(n, w, f);
    double want = 0, got = -1, wmin = 0;
    for (int i = 0; i < n; i++) want += w[i] > 0 ? sqrt(w[i]) : 0;
    band_sqrt_info info = {0, 0, 0, 0};
    int r = rc ? -1 : tridiag_trace_sqrt(n, d, e, &got, &wmin, &info);
    if (want_exact < 0) {
        snprintf(what, sizeof what, "tridiag_trace_sqrt refuses %s (returns 1)", name);
        expect(r == 1 && got == -1, what, r, 1, 0);
    } else {
        /* eigenvalues at rounding level (|λ| ≲ ε·‖T‖) are only known to that: bisection and dsterf
         * may differ by a few ε·‖T‖ there, and their square roots by √(ε·‖T‖) each */
        double norm = fabs(w[0]) > fabs(w[n - 1]) ? fabs(w[0]) : fabs(w[n - 1]), eps = 2.220446049250313e-16;
        double tol = 1e-12 * want + want_exact * sqrt(16 * eps * norm);
        snprintf(what, sizeof what, "tridiag_trace_sqrt %s (%d nodes, %d eigenvalues below m): error against dsterf",
                 name, info.nodes, info.exact);
        expect(r == 0 && fabs(got - want) <= tol, what, got, want, tol);
        snprintf(what, sizeof what, "tridiag_trace_sqrt %s: eigenvalues below m and the least one", name);
        expect(r == 0 && info.exact == want_exact && (want_exact ? fabs(wmin - w[0]) <= 16 * eps * norm : wmin == info.lo), what,
               wmin, w[0], 16 * eps * norm);
    }
    free(a); free(ab); free(d); free(e); free(w); free(f);
}

static void check_refused(const char *name, int n, const double *lam) {
    char err[256], what[400];
    int kd = n > 32 ? 32 : n - 1;
    double *a = with_spectrum(n, lam), *ab = xmalloc(sizeof(double) * (size_t)(kd + 1) * n), t = -1;
    int rc = sy2band(n, kd, a, ab, 2, err, sizeof err);
    int r = rc ? -1 : band_trace_sqrt(n, kd, ab, 2, &t, NULL);
    snprintf(what, sizeof what, "band_trace_sqrt refuses %s (returns 1, leaves the trace)", name);
    expect(r == 1 && t == -1, what, r, 1, 0);
    free(a);
    free(ab);
}

int main(void) {
    progname = "band_sqrt_check";
    check_quadrature();

    const int sizes[][2] = {{1, 0}, {2, 1}, {5, 1}, {5, 4}, {33, 3}, {64, 32}, {65, 32}, {100, 7}, {300, 32}, {600, 32}, {513, 17}};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (int threads = 1; threads <= 3; threads++) check_sy2band(sizes[k][0], sizes[k][1], threads);

    int n = 300;
    double *lam = xmalloc(sizeof(double) * 700);
    const double kappas[] = {1.0, 10.0, 1e4, 1e8, 1e11};
    for (size_t k = 0; k < sizeof kappas / sizeof *kappas; k++) {
        for (int i = 0; i < n; i++) lam[i] = 2.5 * pow(kappas[k], -(double)i / (n - 1));
        char name[64];
        snprintf(name, sizeof name, "log-spaced spectrum, condition %.0e", kappas[k]);
        check_trace(name, n, lam, kappas[k] > 1e9 ? 1e-10 : kappas[k] > 1e6 ? 1e-11 : 1e-13);
    }
    for (int i = 0; i < n; i++) lam[i] = i < 150 ? 3.0 : 3.0 + 1e-9 * i;   /* clustered, repeated */
    check_trace("clustered and repeated eigenvalues", n, lam, 1e-13);
    for (int i = 0; i < 700; i++) lam[i] = 1e-3 + fabs(uniform()) * 50;
    check_trace("uniform spectrum, n 700", 700, lam, 1e-13);
    lam[0] = 4.0;
    check_trace("1×1", 1, lam, 1e-15);
    for (int i = 0; i < 3; i++) lam[i] = 1.0 + i;
    check_trace("3×3", 3, lam, 1e-14);

    for (int i = 0; i < n; i++) lam[i] = 3.0 * pow(1e-6, (double)i / (n - 1));
    check_tridiag("with none below 1e-12", n, lam, 0);
    for (int i = 0; i < n; i++) lam[i] = i < 5 ? 1e-18 * (i + 1) : 3.0 * pow(1e-6, (double)i / (n - 1));
    lam[5] = 2e-14;
    check_tridiag("with 6 nearly zero", n, lam, 6);
    for (int i = 0; i < n; i++) lam[i] = i < 40 ? 0.0 : 1.0 + i % 11;
    check_tridiag("with 40 zero (rounding either side)", n, lam, 40);
    for (int i = 0; i < n; i++) lam[i] = i < 100 ? 0.0 : 1.0 + i % 11;
    check_tridiag("with 100 zero", n, lam, -1);
    for (int i = 0; i < n; i++) lam[i] = i == 0 ? -0.5 : 1.0 + i % 11;
    check_tridiag("an indefinite one", n, lam, -1);

    for (int i = 0; i < n; i++) lam[i] = i < 10 ? 0.0 : 1.0 + i;
    check_refused("a singular matrix", n, lam);
    for (int i = 0; i < n; i++) lam[i] = i == 0 ? -1e-3 : 1.0 + i;
    check_refused("an indefinite matrix", n, lam);
    for (int i = 0; i < n; i++) lam[i] = i == 0 ? 1e-14 : 1.0 + i % 7;
    check_refused("a matrix with condition 1e14", n, lam);
    for (int i = 0; i < n; i++) lam[i] = 0;
    check_refused("the zero matrix", n, lam);
    free(lam);

    printf("band_sqrt_check: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
