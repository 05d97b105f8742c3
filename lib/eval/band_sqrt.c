/* band_sqrt.c: tr sqrt(B) of a symmetric positive definite band matrix by an elliptic-midpoint
 * rational quadrature over shifted band Cholesky factors, and the same on a tridiagonal matrix
 * with its few smallest eigenvalues taken exactly; see band_sqrt.h. */
#include "eval/band_sqrt.h"
#include "core/common.h"

#include <float.h>
#include <lapacke.h>
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
        info->exact = 0;
    }
    return 0;
}

/* ---- the same on a tridiagonal matrix, with its smallest eigenvalues taken exactly ---- */

/* eigenvalues of the tridiagonal (d, e) below sigma: the signs of the LDLᵀ pivots of T − sigma·I
 * (Sturm; a zero pivot is taken as −pivmin, as LAPACK's dstebz does) */
static int64_t count_below(int64_t n, const double *d, const double *e, double sigma, double pivmin) {
    int64_t k = 0;
    double q = d[0] - sigma;
    for (int64_t i = 0;; i++) {
        if (fabs(q) < pivmin) q = -pivmin;
        k += q < 0;
        if (i + 1 == n) break;
        q = (d[i + 1] - sigma) - e[i] * e[i] / q;
    }
    return k;
}

/* tr(T·(T + shift·I)⁻¹) from T + shift·I = L·D·Lᵀ and the diagonal of its inverse,
 * z_i = 1/p_i + l_i²·z_{i+1}; -1 on a pivot that is not positive. As for the band: n − shift·tr Z
 * for shift < M/4, tr(T·Z) above. */
static int tridiag_shifted_trace(int64_t n, const double *d, const double *e, double shift, double hi, double *p, double *l,
                                 double *out) {
    p[0] = d[0] + shift;
    for (int64_t i = 0; i + 1 < n; i++) {
        if (!(p[i] > 0)) return -1;
        l[i] = e[i] / p[i];
        p[i + 1] = d[i + 1] + shift - l[i] * e[i];
    }
    if (!(p[n - 1] > 0)) return -1;
    double z = 1.0 / p[n - 1], trz = z, trtz = d[n - 1] * z;
    for (int64_t i = n - 2; i >= 0; i--) {
        double below = z;                     /* z_{i+1} */
        z = 1.0 / p[i] + l[i] * l[i] * below;
        trz += z;
        trtz += d[i] * z - 2.0 * e[i] * l[i] * below;   /* Z(i+1, i) = −l_i·z_{i+1} */
    }
    *out = shift >= 0.25 * hi ? trtz : (double)n - shift * trz;
    return 0;
}

int tridiag_trace_sqrt(int64_t n, const double *d, const double *e, double *trace, double *wmin, band_sqrt_info *info) {
    if (n < 1) return 1;
    double hi = 0, emax = 0;
    for (int64_t i = 0; i < n; i++) {
        double r = fabs(d[i]) + (i > 0 ? fabs(e[i - 1]) : 0) + (i + 1 < n ? fabs(e[i]) : 0);
        hi = r > hi ? r : hi;
        if (i + 1 < n) emax = fabs(e[i]) > emax ? fabs(e[i]) : emax;
    }
    if (!(hi > 0) || !isfinite(hi)) return 1;
    double lo = 1e-12 * hi, pivmin = DBL_MIN * (emax * emax > 1 ? emax * emax : 1);
    int64_t k = count_below(n, d, e, lo, pivmin);
    if (k > TRIDIAG_MAX_SMALL) return 1;
    double small[TRIDIAG_MAX_SMALL];
    if (k > 0) {   /* the k least, ascending, by bisection */
        lapack_int found = 0, nsplit = 0, *iblock = xmalloc(sizeof(lapack_int) * (size_t)(2 * n)), *isplit = iblock + n;
        double *w = xmalloc(sizeof(double) * (size_t)n);
        lapack_int rc = LAPACKE_dstebz('I', 'E', (lapack_int)n, 0, 0, 1, (lapack_int)k, 0.0, d, e, &found, &nsplit, w, iblock,
                                       isplit);
        for (int64_t i = 0; i < k; i++) small[i] = w[i];
        free(w);
        free(iblock);
        if (rc != 0 || found != k) return 1;
    }
    int nodes = sqrt_quadrature_nodes(lo, hi);
    double *s = xmalloc(sizeof(double) * (size_t)nodes * 2), *c = s + nodes;
    sqrt_quadrature(lo, hi, nodes, s, c);
    double smin = s[0];
    for (int j = 1; j < nodes; j++) smin = s[j] < smin ? s[j] : smin;
    if (k > 0 && small[0] <= -0.5 * smin) { free(s); return 1; }   /* a node's shift too near a pole */
    double *p = xmalloc(sizeof(double) * (size_t)n * 2), *l = p + n, sum = 0;
    int bad = 0;
    for (int j = 0; j < nodes && !bad; j++) {
        double term;
        if (tridiag_shifted_trace(n, d, e, s[j], hi, p, l, &term)) bad = 1;
        else sum += c[j] * term;
    }
    /* the quadrature's r(λ) = Σ c_j·λ/(λ + s_j) is off below lo: put √max(λ, 0) in its place */
    for (int64_t i = 0; i < k && !bad; i++) {
        double r = 0, lam = small[i];
        for (int j = 0; j < nodes; j++) r += c[j] * lam / (lam + s[j]);
        sum += (lam > 0 ? sqrt(lam) : 0) - r;
    }
    free(p);
    free(s);
    if (bad) return 1;
    *trace = sum;
    *wmin = k > 0 ? small[0] : lo;
    if (info) {
        info->nodes = nodes;
        info->lo = lo;
        info->hi = hi;
        info->exact = (int)k;
    }
    return 0;
}
