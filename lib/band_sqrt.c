/* band_sqrt.c: tr sqrt(B) of a symmetric positive definite band matrix by an elliptic-midpoint
 * rational quadrature over shifted band Cholesky factors; see band_sqrt.h. */
#include "band_sqrt.h"
#include "common.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- Jacobi elliptic functions (Abramowitz & Stegun 16.4, 17.6: the arithmetic-geometric mean) ---- */

#define AGM_MAX 40

/* K(k) = π / (2·agm(1, k')) from the complementary modulus k' in (0, 1] */
static double quarter_period(double kp) {
    double a = 1.0, b = kp;
    for (int i = 0; i < AGM_MAX && a - b > 4e-16 * a; i++) {
        double an = 0.5 * (a + b);
        b = sqrt(a * b);
        a = an;
    }
    return M_PI / (2.0 * a);
}

/* sn, cn, dn of u for the complementary modulus k' (k² = 1 − k'²), by the descending AGM:
 * φ_N = 2^N·a_N·u, φ_{i−1} = (φ_i + asin(c_i·sin φ_i / a_i))/2, sn = sin φ_0, cn = cos φ_0,
 * dn = cos φ_0 / cos(φ_1 − φ_0). Accurate for 0 ≤ u ≤ K/2, where cn ≥ √(k'/(1 + k')). */
static void jacobi_sncndn(double u, double kp, double *sn, double *cn, double *dn) {
    double a[AGM_MAX + 1], c[AGM_MAX + 1], b = kp;
    int N = 0;
    a[0] = 1.0;
    c[0] = 0.0;
    while (N < AGM_MAX) {
        a[N + 1] = 0.5 * (a[N] + b);
        c[N + 1] = 0.5 * (a[N] - b);
        b = sqrt(a[N] * b);
        N++;
        if (c[N] <= 4e-16 * a[N]) break;
    }
    double phi = ldexp(a[N] * u, N), prev = phi;
    for (int i = N; i >= 1; i--) {
        prev = phi;
        phi = 0.5 * (phi + asin(c[i] * sin(phi) / a[i]));
    }
    *sn = sin(phi);
    *cn = cos(phi);
    *dn = *cn / cos(prev - phi);
}

int sqrt_quadrature_nodes(double lo, double hi) {
    int n = (int)ceil(1.866 * log(16.0 * hi / lo)) + 2;   /* exp(−2π²N/ln(16M/m)) ≤ 1e-16 */
    return n < 8 ? 8 : n;
}

/* Midpoint nodes u_j = (j + ½)·K/N. sqrt(λ) = (2/π)·λ·∫₀^K √m·dn(u) / (m·sn²(u) + λ·cn²(u)) du, so
 *   s_j = m·sc²(u_j),  c_j = (2/π)·(K/N)·√m·dn(u_j)/cn²(u_j);
 * past K/2 the same through v = K − u (sn(K−v) = cd v, cn(K−v) = k'·sd v, dn(K−v) = k'·nd v):
 *   s_j = M·cs²(v_j), c_j = (2/π)·(K/N)·√M·dn(v_j)/sn²(v_j), so cn is never taken near its zero. */
void sqrt_quadrature(double lo, double hi, int nodes, double *s, double *c) {
    double kp = sqrt(lo / hi), K = quarter_period(kp), h = K / nodes, w = 2.0 / M_PI * h;
    for (int j = 0; j < nodes; j++) {
        double u = (j + 0.5) * h, sn, cn, dn;
        if (u <= 0.5 * K) {
            jacobi_sncndn(u, kp, &sn, &cn, &dn);
            s[j] = lo * (sn / cn) * (sn / cn);
            c[j] = w * sqrt(lo) * dn / (cn * cn);
        } else {
            jacobi_sncndn(K - u, kp, &sn, &cn, &dn);
            s[j] = hi * (cn / sn) * (cn / sn);
            c[j] = w * sqrt(hi) * dn / (sn * sn);
        }
    }
}

/* ---- shifted band factorisations ---- */

/* l := the Cholesky factor of B + shift·I (lower band, ld = kd + 1). 0, or -1 when a pivot is not
 * positive (B + shift·I is not positive definite, by Sylvester's law of inertia). */
static int band_cholesky(int64_t n, int64_t kd, const double *ab, double shift, double *l) {
    int64_t ld = kd + 1;
    memcpy(l, ab, sizeof(double) * (size_t)(n * ld));
    for (int64_t j = 0; j < n; j++) l[j * ld] += shift;
    for (int64_t j = 0; j < n; j++) {
        double *cj = l + j * ld;
        if (!(cj[0] > 0)) return -1;
        double ljj = sqrt(cj[0]), r = 1.0 / ljj;
        int64_t w = n - 1 - j < kd ? n - 1 - j : kd;
        cj[0] = ljj;
        for (int64_t p = 1; p <= w; p++) cj[p] *= r;
        for (int64_t q = 0; q < w; q++) {         /* the trailing kd×kd window −= l·lᵀ */
            double *cq = l + (j + 1 + q) * ld, f = cj[1 + q];
            const double *lq = cj + 1 + q;
            for (int64_t t = 0; t < w - q; t++) cq[t] -= lq[t] * f;
        }
    }
    return 0;
}

/* tr(B·(B + shift·I)⁻¹) = Σ λ/(λ + shift) from l (the factor of B + shift·I): the band of
 * Z = (B + shift·I)⁻¹ by Takahashi's recurrence, from the last column back,
 *     Z(i, j) = −(1/L_jj)·Σ_{k=j+1}^{j+kd} Z(i, k)·L(k, j)   (j < i ≤ j + kd),
 *     Z(j, j) = (1/L_jj)·(1/L_jj − Σ_k Z(k, j)·L(k, j)),
 * which needs Z only within the band. The last kd + 1 columns live in `ring`, each whole (rows
 * c − kd .. c + kd at c's slot, index row − c + kd; a new column is also written into the upper
 * halves of the kd after it), so that the window product is kd plain axpys (they vectorise; the
 * symmetric half-storage form needed dot products, which do not without reassociation). Then
 * n − shift·tr Z when B + shift·I is ill-conditioned enough for tr(B·Z) to lose digits
 * (shift < M/4), tr(B·Z) = Σ B_ij·Z_ij otherwise, where n − shift·tr Z would cancel. */
static double shifted_trace(int64_t n, int64_t kd, const double *ab, const double *l, double shift, double hi,
                            double *ring, double *y) {
    int64_t ld = kd + 1, R = kd + 1, cl = 2 * kd + 1;   /* ring slot length */
    double trz = 0, trbz = 0;
    for (int64_t j = n - 1; j >= 0; j--) {
        const double *cj = l + j * ld, *u = cj + 1;
        double ljj = cj[0];
        int64_t w = n - 1 - j < kd ? n - 1 - j : kd;
        int64_t slot = j % R, next = slot + 1 == R ? 0 : slot + 1;   /* ring slots of j and j + 1 */
        for (int64_t p = 0; p < w; p++) y[p] = 0;
        for (int64_t q = 0, sq = next; q < w; q++, sq = sq + 1 == R ? 0 : sq + 1) {
            const double *zq = ring + sq * cl + kd - q;   /* y += Z(j+1.., j+1+q)·u_q; row j + 1 + p at zq[p] */
            double uq = u[q];
            for (int64_t p = 0; p < w; p++) y[p] += zq[p] * uq;
        }
        double *zj = ring + slot * cl + kd, dot = 0, rl = 1.0 / ljj;   /* zj[i] = Z(j + i, j) */
        for (int64_t p = 0, sp = next; p < w; p++, sp = sp + 1 == R ? 0 : sp + 1) {
            double z = -y[p] * rl;
            zj[1 + p] = z;
            ring[sp * cl + kd - 1 - p] = z;   /* Z(j, j+1+p) in column j+1+p */
            dot += y[p] * u[p];
        }
        zj[0] = (rl + dot * rl) * rl;
        const double *bj = ab + j * ld;
        double t = 0;
        for (int64_t p = 0; p < w; p++) t += bj[1 + p] * zj[1 + p];
        trz += zj[0];
        trbz += bj[0] * zj[0] + 2.0 * t;
    }
    return shift >= 0.25 * hi ? trbz : (double)n - shift * trz;
}

int band_trace_sqrt(int64_t n, int64_t kd, const double *ab, int threads, double *trace, band_sqrt_info *info) {
    int64_t ld = kd + 1;
    if (threads < 1) threads = 1;
    if (n < 1) return 1;
    /* M: Gershgorin's bound, the largest absolute row sum */
    double *rows = xcalloc((size_t)n, sizeof(double)), hi = 0;
    for (int64_t j = 0; j < n; j++) {
        rows[j] += fabs(ab[j * ld]);
        for (int64_t p = 1; p <= kd && j + p < n; p++) {
            double v = fabs(ab[j * ld + p]);
            rows[j] += v;
            rows[j + p] += v;
        }
    }
    for (int64_t j = 0; j < n; j++) hi = rows[j] > hi ? rows[j] : hi;
    free(rows);
    if (!(hi > 0) || !isfinite(hi)) return 1;
    /* m: the largest M·10^-k (k = 1..12) with B − m·I positive definite; positive definiteness
     * only grows with k, so a binary search (4 factorisations instead of up to 12) */
    double *l = xmalloc(sizeof(double) * (size_t)(n * ld));
    int klo = 0, khi = 12;   /* B − M·10^-klo·I is not positive definite (k = 0: M ≥ λmax), −khi is */
    if (band_cholesky(n, kd, ab, -hi * 1e-12, l) != 0) khi = -1;
    while (khi > 0 && khi - klo > 1) {
        int k = (klo + khi) / 2;
        if (band_cholesky(n, kd, ab, -hi * pow(10.0, -k), l) == 0) khi = k;
        else klo = k;
    }
    free(l);
    if (khi < 0) return 1;
    double lo = hi * pow(10.0, -khi);
    int nodes = sqrt_quadrature_nodes(lo, hi);
    double *s = xmalloc(sizeof(double) * (size_t)nodes * 3), *c = s + nodes, *term = c + nodes;
    sqrt_quadrature(lo, hi, nodes, s, c);
    int failed = 0;
    if (threads > nodes) threads = nodes;
#pragma omp parallel num_threads(threads) if (threads > 1) reduction(| : failed)
    {
        double *lt = xmalloc(sizeof(double) * (size_t)(n * ld)), *ring = xmalloc(sizeof(double) * (size_t)(ld * (2 * kd + 1)));
        double *y = xmalloc(sizeof(double) * (size_t)ld);
#pragma omp for schedule(dynamic, 1)
        for (int j = 0; j < nodes; j++) {
            if (band_cholesky(n, kd, ab, s[j], lt) != 0) { failed = 1; term[j] = 0; continue; }
            term[j] = shifted_trace(n, kd, ab, lt, s[j], hi, ring, y);
        }
        free(lt);
        free(ring);
        free(y);
    }
    double sum = 0;
    for (int j = 0; j < nodes; j++) sum += c[j] * term[j];
    free(s);
    if (failed) return 1;   /* B + s·I not positive definite for s > 0: B − lo·I was; cannot happen */
    *trace = sum;
    if (info) {
        info->nodes = nodes;
        info->lo = lo;
        info->hi = hi;
    }
    return 0;
}
