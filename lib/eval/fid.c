/* fid.c: the Fréchet distance through LAPACK's symmetric eigensolvers, pytorch-fid's eps rule, and
 * feature statistics that accumulate and merge exactly (see fid.h). */
#include "eval/fid.h"
#include "core/common.h"
#include "core/finite.h"
#include "io/npz.h"

#include <cblas.h>
#include <errno.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- pytorch-fid's eps rule: when does scipy's sqrtm(S1·S2) fail? ----
 *
 * pytorch-fid adds eps when scipy.linalg.sqrtm(S1·S2) (scipy 1.10) returns non-finite values.
 * sqrtm takes the Schur form T of P = S1·S2 (LAPACK dgees), then runs the recurrence
 *     R_ij = (T_ij − Σ_{i<k<j} R_ik·R_kj) / (R_ii + R_jj),   R_ii = √T_ii,
 * inside diagonal blocks (n//64 of them, at least one; sizes from divmod(n, blocks), the smaller
 * ones first) and fails when a zero denominator meets a nonzero numerator: two exact zeros on T's
 * diagonal in one block, joined by a nonzero path. Exact zeros come only from dgees's balancing
 * (dgebal 'P'), which permutes P without rounding; QR iterations make none. Say a feature is
 * "dead" in a set when it is constant over it (its row of S is zero). Then:
 *   - features dead in A (zero rows of P) go to the bottom, in the order of their indices;
 *   - features dead in B only (zero columns of P) go to the top, positions 0 .. top−1;
 *   - features alive in both stay in between (when there are none, P = 0 and sqrtm succeeds).
 * Two top zeros are never joined (zero columns), nor two bottom ones (zero rows), nor a top one
 * to a bottom feature dead in both sets (its column is zero too); a top zero and a bottom feature
 * dead in A only are (T_ij = P_ij ≠ 0 through the features alive in both). So sqrtm fails exactly
 * when position top−1 and the position of the first bottom feature dead in A only fall in one
 * block. This matched scipy's own outcome on 1,100 random dead-feature patterns at d = 16 … 256
 * (N above and below d, nearly all features dead, 295 with eps) and on every case in test/fid.bats. */
/* which of scipy's sqrtm blocks holds position p of n */
static int64_t sqrtm_block(int64_t n, int64_t p) {
    int64_t blocks = n / 64 > 1 ? n / 64 : 1, small = n / blocks, nsmall = blocks - n % blocks;
    return p < nsmall * small ? p / small : nsmall + (p - nsmall * small) / (small + 1);
}

int fid_needs_eps(int64_t n, const double *s1, const double *s2) {
    unsigned char *dead_a = xcalloc((size_t)n, 1), *dead_b = xcalloc((size_t)n, 1);
    int64_t top = 0, alive = 0, bottom = 0;
    for (int64_t f = 0; f < n; f++) {
        int64_t j = 0;
        while (j < n && s1[f * n + j] == 0) j++;
        dead_a[f] = j == n;
        j = 0;
        while (j < n && s2[f * n + j] == 0) j++;   /* s2 symmetric: its row f is its column f */
        dead_b[f] = j == n;
        top += dead_b[f] && !dead_a[f];
        alive += !dead_a[f] && !dead_b[f];
        bottom += dead_a[f];
    }
    int64_t first = -1;   /* bottom position of the first feature dead in A only */
    for (int64_t f = 0, pos = n - bottom; f < n && first < 0; f++)
        if (dead_a[f]) {
            if (!dead_b[f]) first = pos;
            pos++;
        }
    free(dead_a);
    free(dead_b);
    if (top == 0 || alive == 0 || first < 0) return 0;
    return sqrtm_block(n, top - 1) == sqrtm_block(n, first);
}

/* ---- the Fréchet distance ---- */

/* eigenvalues w (ascending) of the symmetric m (n×n, column-major, its `uplo` triangle; destroyed),
 * which must be finite: a product of covariances too large for float64 overflows here */
static void eigenvalues(int64_t n, char uplo, double *m, double *w) {
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = uplo == 'L' ? j : 0; i < (uplo == 'L' ? n : j + 1); i++)
            if (!isfinite(m[j * n + i]))
                die_runtime("expected sigma1*sigma2 to be representable in float64, found it overflows "
                            "(covariance entries too large)");
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', uplo, (lapack_int)n, m, (lapack_int)n, w);
    if (info != 0) die_runtime("expected dsyevd to converge, found info %d", (int)info);
}

static double sum_sqrt_pos(int64_t n, const double *w) {
    double t = 0;
    for (int64_t i = 0; i < n; i++) t += w[i] > 0 ? sqrt(w[i]) : 0;
    return t;
}

/* Cholesky route: S1 = L·Lᵀ, w = eigenvalues of M = Lᵀ·S2·L (similar to S1·S2). 0 when S1 is not
 * numerically positive definite. Writes the diagonals and lower triangles (column-major) of a, b. */
static int route_cholesky(int64_t n, double *a, double *b, double *w) {
    lapack_int N = (lapack_int)n;
    if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', N, a, N) != 0) return 0;
    lapack_int info = LAPACKE_dsygst_work(LAPACK_COL_MAJOR, 2, 'L', N, b, N, a, N);   /* b := Lᵀ·b·L */
    if (info != 0) die_runtime("expected dsygst to succeed, found info %d", (int)info);
    eigenvalues(n, 'L', b, w);
    return 1;
}

/* Eigen route: S1 = V·diag(λ)·Vᵀ, A = sqrt(S1) = V·diag(√max(λ,0))·Vᵀ, w = eigenvalues of
 * A·S2·A. Reads the upper triangles (column-major) of a and b; a is destroyed. */
static void route_eigen(int64_t n, double *a, const double *b, double *w) {
    lapack_int N = (lapack_int)n;
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', N, a, N, w);   /* a := V */
    if (info != 0) die_runtime("expected dsyevd to converge, found info %d", (int)info);
    int64_t m = 0;                           /* the positive eigenvalues are the last m */
    while (m < n && w[n - 1 - m] > 0) m++;
    double *bv = a + (n - m) * n;            /* their vectors, scaled: B = V₊·diag(λ₊^¼) (n×m) */
    for (int64_t k = 0; k < m; k++) {
        double r = sqrt(sqrt(w[n - m + k]));
        for (int64_t i = 0; i < n; i++) bv[k * n + i] *= r;
    }
    size_t bytes = sizeof(double) * (size_t)(n * n);
    double *sq = xmalloc(bytes), *t = xmalloc(bytes);
    if (m > 0) cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, N, N, (int)m, 1.0, bv, N, bv, N, 0.0, sq, N);   /* A = B·Bᵀ */
    else memset(sq, 0, bytes);
    cblas_dsymm(CblasColMajor, CblasLeft, CblasUpper, N, N, 1.0, b, N, sq, N, 0.0, t, N);        /* S2·A */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0, sq, N, t, N, 0.0, a, N); /* A·S2·A */
    free(sq);
    free(t);
    eigenvalues(n, 'U', a, w);
}

void fid_frechet_inplace(int64_t n, const double *mu1, double *s1, const double *mu2, double *s2, double eps,
                         int route, fid_result *r) {
    memset(r, 0, sizeof *r);
    for (int64_t i = 0; i < n; i++) {
        double dm = mu1[i] - mu2[i];
        r->mean_term += dm * dm;
        r->tr1 += s1[i * n + i];
        r->tr2 += s2[i * n + i];
    }
    r->eps_applied = eps >= 0 && fid_needs_eps(n, s1, s2);
    double add = r->eps_applied ? eps : 0;
    for (int64_t i = 0; i < n; i++) {
        s1[i * n + i] += add;
        s2[i * n + i] += add;
    }
    r->threads = openblas_get_num_threads();
    double *w = xmalloc(sizeof(double) * (size_t)n);
    /* the Cholesky route leaves the strict upper triangles (column-major) and the diagonals saved
     * here as they were: all that the eigen route reads */
    double *diag = xmalloc(sizeof(double) * (size_t)(2 * n));
    for (int64_t i = 0; i < n; i++) {
        diag[i] = s1[i * n + i];
        diag[n + i] = s2[i * n + i];
    }
    r->route = route == FID_ROUTE_EIGEN ? FID_ROUTE_EIGEN : FID_ROUTE_CHOLESKY;
    if (r->route == FID_ROUTE_CHOLESKY) {
        int pd = route_cholesky(n, s1, s2, w);
        if (!pd && route == FID_ROUTE_CHOLESKY)
            die_runtime("expected a positive definite sigma1 for the Cholesky route, found dpotrf failing");
        /* S1 singular, or S2: M has eigenvalues at rounding level, some of them not positive */
        if ((!pd || w[0] <= 0) && route != FID_ROUTE_CHOLESKY) {
            r->route = FID_ROUTE_EIGEN;
            for (int64_t i = 0; i < n; i++) {
                s1[i * n + i] = diag[i];
                s2[i * n + i] = diag[n + i];
            }
        }
    }
    if (r->route == FID_ROUTE_EIGEN) route_eigen(n, s1, s2, w);
    r->tr_covmean = sum_sqrt_pos(n, w);
    r->fid = r->mean_term + r->tr1 + r->tr2 - 2 * r->tr_covmean;
    free(w);
    free(diag);
}

/* ---- feature statistics ---- */

void fstats_init(fstats *s, int64_t d) {
    memset(s, 0, sizeof *s);
    s->d = d;
    s->mean = xcalloc((size_t)d, sizeof(double));
    s->scatter = xcalloc((size_t)(d * d), sizeof(double));
    s->cap = 512;
    if (s->cap * d > ((int64_t)1 << 22)) s->cap = ((int64_t)1 << 22) / d > 16 ? ((int64_t)1 << 22) / d : 16;
    s->buf = xmalloc(sizeof(double) * (size_t)(s->cap * d));
}

void fstats_free(fstats *s) {
    free(s->mean); free(s->scatter); free(s->buf);
    memset(s, 0, sizeof *s);
}

/* Chan et al.: the batch's centred scatter is already added to s->scatter (lower triangle);
 * add the δ·δᵀ·na·nb/n correction and move the mean and count. */
static void chan_fold(fstats *s, int64_t nb, const double *mb) {
    int64_t d = s->d, na = s->count, n = na + nb;
    if (nb == 0) return;
    if (na == 0) {
        memcpy(s->mean, mb, sizeof(double) * (size_t)d);
    } else {
        double *delta = xmalloc(sizeof(double) * (size_t)d);
        for (int64_t i = 0; i < d; i++) delta[i] = mb[i] - s->mean[i];
        cblas_dsyr(CblasRowMajor, CblasLower, (int)d, (double)na * (double)nb / (double)n, delta, 1, s->scatter, (int)d);
        for (int64_t i = 0; i < d; i++) s->mean[i] += delta[i] * ((double)nb / (double)n);
        free(delta);
    }
    s->count = n;
}

/* the buffered rows as one batch: its mean, its centred scatter (dsyrk), then chan_fold */
static void fold_buffer(fstats *s) {
    int64_t d = s->d, nb = s->nbuf;
    if (nb == 0) return;
    double *mb = xcalloc((size_t)d, sizeof(double));
    for (int64_t r = 0; r < nb; r++)
        for (int64_t j = 0; j < d; j++) mb[j] += s->buf[r * d + j];
    for (int64_t j = 0; j < d; j++) mb[j] /= (double)nb;
    for (int64_t r = 0; r < nb; r++)
        for (int64_t j = 0; j < d; j++) s->buf[r * d + j] -= mb[j];
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)nb, 1.0, s->buf, (int)d, 1.0, s->scatter, (int)d);
    chan_fold(s, nb, mb);
    free(mb);
    s->nbuf = 0;
}

static int add_rows(fstats *s, const void *x, int is_f32, int64_t n, char *err, size_t errlen) {
    int64_t d = s->d;
    const npy_array a = {is_f32 ? NPY_F4 : NPY_F8, 2, {n, d}, n * d, (void *)x};
    if (check_finite(&a, err, errlen, "features", "in the rows added")) return ERR_NONFINITE;
    for (int64_t r = 0; r < n; r++) {
        if (s->nbuf == s->cap) fold_buffer(s);
        double *row = s->buf + s->nbuf * d;
        if (is_f32) for (int64_t j = 0; j < d; j++) row[j] = ((const float *)x)[r * d + j];
        else memcpy(row, (const double *)x + r * d, sizeof(double) * (size_t)d);
        s->nbuf++;
    }
    return 0;
}

int fstats_add_f32(fstats *s, const float *x, int64_t n, char *err, size_t errlen) { return add_rows(s, x, 1, n, err, errlen); }
int fstats_add_f64(fstats *s, const double *x, int64_t n, char *err, size_t errlen) { return add_rows(s, x, 0, n, err, errlen); }

void fstats_flush(fstats *s) {
    fold_buffer(s);
    int64_t d = s->d;
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < i; j++) s->scatter[j * d + i] = s->scatter[i * d + j];
}

int fstats_merge(fstats *dst, fstats *src, char *err, size_t errlen) {
    if (dst->d != src->d) {
        seterr(err, errlen, "expected statistics of dimension %lld, found %lld", (long long)dst->d, (long long)src->d);
        return -1;
    }
    fold_buffer(dst);
    fstats_flush(src);
    int64_t d = dst->d;
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j <= i; j++) dst->scatter[i * d + j] += src->scatter[i * d + j];
    chan_fold(dst, src->count, src->mean);
    return 0;
}

int fstats_finalize(fstats *s, double *mu, double *sigma, char *err, size_t errlen) {
    fstats_flush(s);
    if (s->count < 2) {
        seterr(err, errlen, "expected at least 2 feature vectors, found %lld", (long long)s->count);
        return -1;
    }
    int64_t d = s->d;
    memcpy(mu, s->mean, sizeof(double) * (size_t)d);
    double k = 1.0 / (double)(s->count - 1);
    for (int64_t i = 0; i < d * d; i++) sigma[i] = s->scatter[i] * k;
    return 0;
}

int fstats_save(fstats *s, const char *path, char *err, size_t errlen) {
    int64_t d = s->d;
    double *mu = xmalloc(sizeof(double) * (size_t)d), *sigma = xmalloc(sizeof(double) * (size_t)(d * d));
    if (fstats_finalize(s, mu, sigma, err, errlen)) { free(mu); free(sigma); return -1; }
    int64_t count = s->count;
    npz_item items[4] = {
        {"mu", {NPY_F8, 1, {d}, d, mu}},
        {"sigma", {NPY_F8, 2, {d, d}, d * d, sigma}},
        {"count", {NPY_I8, 0, {0}, 1, &count}},
        {"scatter", {NPY_F8, 2, {d, d}, d * d, s->scatter}},
    };
    int rc = 0;   /* finite features can still overflow float64 in the scatter */
    for (int i = 0; i < 4 && !rc; i++) rc = check_finite(&items[i].arr, err, errlen, "the statistics", "in '%s'", items[i].key);
    if (!rc) rc = npz_write(path, items, 4, err, errlen);
    free(mu);
    free(sigma);
    return rc;
}

/* ---- reading stats files ---- */

static const char *dims_str(char *buf, size_t n, const npy_array *a) {
    npy_format_shape(buf, n, a->ndim, a->shape);
    return buf;
}

static void key_list(const npz *z, char *buf, size_t n) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < z->n && k + 1 < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", z->items[i].key);
    if (z->n == 0) snprintf(buf, n, "none");
}

/* a float64 copy of key's array, which must be float32 or float64 of ndim dims, each equal to
 * d (or any when *d < 0, which then takes the first dimension), and finite (else NULL, *rc
 * ERR_NONFINITE; -1 for the other faults) */
static double *get_f64(const npz *z, const char *path, const char *key, int ndim, int64_t *d, const char *role,
                       int *rc, char *err, size_t errlen) {
    *rc = -1;
    const npy_array *a = npz_find(z, key);
    char keys[256], shp[160];
    if (!a) {
        key_list(z, keys, sizeof keys);
        seterr(err, errlen, "%s: expected key '%s' (%s), found keys %s", path, key, role, keys);
        return NULL;
    }
    if (a->dtype != NPY_F8 && a->dtype != NPY_F4) {
        seterr(err, errlen, "%s: expected '%s' of dtype float64 or float32, found %s", path, key, npy_dtype_name(a->dtype));
        return NULL;
    }
    int ok = a->ndim == ndim;
    if (ok && *d < 0) *d = a->shape[0];
    for (int i = 0; ok && i < ndim; i++) ok = a->shape[i] == *d;
    if (!ok || *d == 0) {
        char want[64];
        if (*d < 0) snprintf(want, sizeof want, ndim == 1 ? "(d,)" : "(d,d)");
        else if (ndim == 1) snprintf(want, sizeof want, "(%lld,)", (long long)*d);
        else snprintf(want, sizeof want, "(%lld,%lld)", (long long)*d, (long long)*d);
        seterr(err, errlen, "%s: expected '%s' of shape %s%s, found %s", path, key, want,
               ndim == 2 && *d >= 0 ? " (square, matching mu)" : "", dims_str(shp, sizeof shp, a));
        return NULL;
    }
    if (check_finite(a, err, errlen, path, "in '%s'", key)) {
        *rc = ERR_NONFINITE;
        return NULL;
    }
    int64_t c = a->count;
    double *out;
    if (a->dtype == NPY_F8) {              /* take the array over: no copy */
        out = a->data;
        ((npy_array *)a)->data = NULL;
    } else {
        out = xmalloc(sizeof(double) * (size_t)(c ? c : 1));
        for (int64_t i = 0; i < c; i++) out[i] = ((const float *)a->data)[i];
    }
    *rc = 0;
    return out;
}

/* a covariance-like matrix: non-negative diagonal, symmetric to 1e-5 of its largest entry (then
 * made exactly symmetric, (S + Sᵀ)/2, in place); s is finite here */
static int check_cov(const char *path, const char *key, int64_t d, double *s, char *err, size_t errlen) {
    for (int64_t i = 0; i < d; i++)
        if (s[i * d + i] < 0)
            return seterr(err, errlen, "%s: expected a covariance '%s' (non-negative diagonal), found %s[%lld,%lld] = %g",
                          path, key, key, (long long)i, (long long)i, s[i * d + i]);
    double big = 0, worst = 0;
    int64_t wi = 0, wj = 0;   /* the first pair (row-major, j < i) with the worst difference */
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j <= i; j++) {
            double a = fabs(s[i * d + j]), b = fabs(s[j * d + i]), e = fabs(s[i * d + j] - s[j * d + i]);
            big = a > big ? a : big;
            big = b > big ? b : big;
            if (e > worst) { worst = e; wi = i; wj = j; }
        }
    if (worst > 1e-5 * big)
        return seterr(err, errlen, "%s: expected a symmetric '%s', found %s[%lld,%lld] = %g but %s[%lld,%lld] = %g", path,
                      key, key, (long long)wi, (long long)wj, s[wi * d + wj], key, (long long)wj, (long long)wi,
                      s[wj * d + wi]);
    for (int64_t i = 0; i < d && worst > 0; i++)
        for (int64_t j = 0; j < i; j++) s[i * d + j] = s[j * d + i] = 0.5 * (s[i * d + j] + s[j * d + i]);
    return 0;
}

int fid_load_stats(const char *path, int64_t *d, double **mu, double **sigma, char *err, size_t errlen) {
    npz z;
    *mu = *sigma = NULL;
    if (npz_read(path, &z, err, errlen)) return -1;
    *d = -1;
    int rc;
    double *m = get_f64(&z, path, "mu", 1, d, "the mean of a stats file", &rc, err, errlen);
    double *s = m ? get_f64(&z, path, "sigma", 2, d, "the covariance of a stats file", &rc, err, errlen) : NULL;
    npz_free(&z);
    if (!s || check_cov(path, "sigma", *d, s, err, errlen)) {
        free(m);
        free(s);
        return rc == ERR_NONFINITE ? ERR_NONFINITE : -1;
    }
    *mu = m;
    *sigma = s;
    return 0;
}

int fstats_load(fstats *s, const char *path, char *err, size_t errlen) {
    npz z;
    memset(s, 0, sizeof *s);
    if (npz_read(path, &z, err, errlen)) return -1;
    const char *role = "partial statistics as feature-stats writes them";
    int64_t d = -1;
    int rc;
    double *m = get_f64(&z, path, "mu", 1, &d, role, &rc, err, errlen), *sc = NULL;
    const npy_array *c = m ? npz_find(&z, "count") : NULL;
    int64_t count = -1;
    if (m && !c) {
        char keys[256];
        key_list(&z, keys, sizeof keys);
        seterr(err, errlen, "%s: expected key 'count' (%s), found keys %s", path, role, keys);
    } else if (c) {
        if ((c->dtype != NPY_I8 && c->dtype != NPY_I4) || c->count != 1) {
            char shp[160];
            seterr(err, errlen, "%s: expected 'count' an int64 scalar, found %s %s", path, npy_dtype_name(c->dtype),
                   dims_str(shp, sizeof shp, c));
        } else {
            count = c->dtype == NPY_I8 ? ((const int64_t *)c->data)[0] : ((const int32_t *)c->data)[0];
            if (count < 1) seterr(err, errlen, "%s: expected 'count' at least 1, found %lld", path, (long long)count);
            else sc = get_f64(&z, path, "scatter", 2, &d, role, &rc, err, errlen);
        }
    }
    npz_free(&z);
    if (!sc || check_cov(path, "scatter", d, sc, err, errlen)) {
        free(m);
        free(sc);
        return rc == ERR_NONFINITE ? ERR_NONFINITE : -1;
    }
    fstats_init(s, d);
    memcpy(s->mean, m, sizeof(double) * (size_t)d);
    memcpy(s->scatter, sc, sizeof(double) * (size_t)(d * d));
    s->count = count;
    free(m);
    free(sc);
    return 0;
}

/* ---- feature streams ---- */

int feat_read(FILE *f, const char *name, long index, int64_t *d, npy_array *a, int *io_error, char *err, size_t errlen) {
    npy_header h;
    char msg[512], want[64], found[32 * NPY_MAX_DIMS + 8];
    memset(a, 0, sizeof *a);
    *io_error = 0;
    int r = npy_read_header(f, &h, msg, sizeof msg);
    if (r == 0) return 0;
    if (*d < 0) snprintf(want, sizeof want, "(N,d)");
    else snprintf(want, sizeof want, "(N,%lld)", (long long)*d);
    if (r < 0) {
        *io_error = ferror(f) != 0;
        seterr(err, errlen, "%s: %s in array %ld", name, msg, index);
        return -1;
    }
    if ((h.dtype != NPY_F4 && h.dtype != NPY_F8) || h.ndim != 2 || (*d >= 0 && h.shape[1] != *d) || h.shape[1] == 0) {
        npy_format_shape(found, sizeof found, h.ndim, h.shape);
        seterr(err, errlen, "%s: expected float32 or float64 %s, found %s %s in array %ld", name, want,
               npy_dtype_name(h.dtype), found, index);
        return -1;
    }
    int64_t got = 0;
    if (npy_read_data(f, &h, a, &got, msg, sizeof msg) != 1) {
        *io_error = ferror(f) != 0 || got < 0;
        if (got >= 0 && !*io_error)
            seterr(err, errlen, "%s: expected float32 or float64 %s, found a truncated array (%lld of %lld bytes) in array %ld",
                   name, want, (long long)got, (long long)(h.count * (int64_t)npy_dtype_size(h.dtype)), index);
        else
            seterr(err, errlen, "%s: %s in array %ld", name, msg, index);
        return -1;
    }
    if (check_finite(a, err, errlen, name, "in batch %ld", index)) {
        npy_free(a);
        return ERR_NONFINITE;
    }
    if (*d < 0) *d = h.shape[1];
    return 1;
}

double *feat_read_all(const char *opt, const char *path, int64_t *n, int64_t *d) {
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) { fclose(f); f = NULL; errno = EISDIR; }
    if (!f) die_usage("%s: expected a readable file, found '%s': %s", opt, path, strerror(errno));
    char err[1024];
    npy_array a;
    int r, io;
    double *x = NULL;
    int64_t rows = 0, cap = 0;
    *d = -1;
    for (long idx = 0; (r = feat_read(f, path, idx, d, &a, &io, err, sizeof err)) == 1; idx++) {
        int64_t m = a.shape[0];
        if (rows + m > cap) {
            cap = (rows + m) * 2;
            x = xrealloc(x, sizeof(double) * (size_t)(cap * *d));
        }
        for (int64_t i = 0; i < m * *d; i++)
            x[rows * *d + i] = a.dtype == NPY_F4 ? ((const float *)a.data)[i] : ((const double *)a.data)[i];
        rows += m;
        npy_free(&a);
    }
    if (r < 0) {
        if (io) die_runtime("%s", err);
        die_input(r, err);
    }
    if (!is_stdin) fclose(f);
    if (rows == 0) die_usage("%s: expected feature arrays (N,d), found an empty stream '%s'", opt, path);
    *n = rows;
    return x;
}
