/* fid.c: the Fréchet distance through symmetric eigenproblems, pytorch-fid's eps rule, and
 * feature statistics that accumulate and merge exactly (see fid.h). */
#include "eval/fid.h"
#include "core/common.h"
#include "io/npz.h"
#include "eval/band_sqrt.h"
#include "eval/sy2band.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>


/* Runnable tasks of other processes right now: /proc/stat's procs_running less our own threads in
 * state R (/proc/self/task/ * /stat); the least of three samples 1 ms apart, so that a
 * passing daemon does not count. -1 when /proc cannot say. Not thread-safe (main thread). */
static int others_running(void) {
    static double cached_at = -1e9;   /* the answer is kept for a second (fstats folds often) */
    static int cached = -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double t = (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
    if (t - cached_at < 1.0) return cached;
    int best = -1;
    for (int sample = 0; sample < 3; sample++) {
        if (sample) nanosleep(&(struct timespec){0, 1000000}, NULL);
        FILE *f = fopen("/proc/stat", "r");
        if (!f) return -1;
        char line[256];
        int running = -1, own = 0;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "procs_running %d", &running) == 1) break;
        fclose(f);
        DIR *dir = opendir("/proc/self/task");
        if (!dir || running < 0) { if (dir) closedir(dir); return -1; }
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.') continue;
            char path[300], buf[512];
            snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
            FILE *t = fopen(path, "r");
            if (!t) continue;
            size_t k = fread(buf, 1, sizeof buf - 1, t);
            fclose(t);
            buf[k] = 0;
            const char *rp = strrchr(buf, ')');       /* "tid (comm) S ..." */
            if (rp && rp[1] == ' ' && rp[2] == 'R') own++;
        }
        closedir(dir);
        int others = running - own;
        if (others < 0) others = 0;
        if (best < 0 || others < best) best = others;
    }
    cached_at = t;
    cached = best;
    return best;
}

int fid_blas_begin(double flops) {
    /* OpenBLAS's OpenMP build follows omp_get_max_threads() (OMP_NUM_THREADS), which may exceed
     * the cores and its own openblas_get_num_threads(): OMP_NUM_THREADS=3 on 2 cores ran fid 2.5x
     * slower on 3 threads. So the request is capped at the cores and always set. */
    int prev = omp_get_max_threads(), want = prev;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 0 && want > ncpu) want = (int)ncpu;
    if (flops < (double)(1 << 28)) {
        want = 1;
    } else if (want > 1) {
        int others = others_running();
        if (others > 0 && ncpu > 0 && ncpu - others < want) want = ncpu - others > 1 ? (int)(ncpu - others) : 1;
    }
    openblas_set_num_threads(want);
    return prev;
}

void fid_blas_end(int previous) {
    openblas_set_num_threads(previous);
}

/* ---- pytorch-fid's eps rule: when does scipy's sqrtm(S1·S2) fail? ----
 *
 * Only exact zeros on the diagonal of the Schur form T make R_ii + R_jj = 0 (R_ii = sqrt(T_ii),
 * principal branch). dgees balances with dgebal('P') first, which permutes rows whose
 * off-diagonal entries (within the active columns) are all zero to the bottom, then columns
 * whose off-diagonal entries (within the active rows) are all zero to the top; their eigenvalue
 * is the diagonal entry, exactly. P = S1·S2 has row f zero when S1's row f is (zA[f]) and column
 * g zero when S2's column g is (zB[g]); otherwise its entries are taken as nonzero (sums of
 * products of measured data). The QR iteration on the remaining middle block makes no exact
 * zeros. scipy's _sqrtm_triu then runs the recurrence
 *     R_ij = (T_ij − Σ_{i<k<j} R_ik·R_kj) / (R_ii + R_jj)
 * inside each diagonal block (n//64 blocks, the larger ones last) and raises when a denominator
 * is zero and its numerator is not; between blocks it calls ?trsyl, which never fails. So we
 * replay the permutation (LAPACK's search order) and the recurrence on the zero pattern. */

typedef struct {
    int64_t n, K, L;             /* middle block K..L (0-based, inclusive) after balancing */
    const int64_t *perm;         /* perm[position] = feature */
    const unsigned char *zA, *zB;
    int mid_nzA, mid_nzB;        /* the middle block has a row not in zA / a column not in zB */
} balanced;

static int is_iso(const balanced *b, int64_t p) { return p < b->K || p > b->L || b->K == b->L; }

/* Is T_pq (p < q) structurally nonzero? */
static int t_nonzero(const balanced *b, int64_t p, int64_t q) {
    int64_t fp = b->perm[p], fq = b->perm[q];
    int ip = is_iso(b, p), iq = is_iso(b, q);
    if (ip && iq) return !b->zA[fp] && !b->zB[fq];
    if (ip) return !b->zA[fp] && b->mid_nzB;     /* top row against the middle block */
    if (iq) return !b->zB[fq] && b->mid_nzA;     /* middle block against a bottom column */
    return 1;                                     /* inside the middle block: dense */
}

int fid_needs_eps(int64_t n, const double *s1, const double *s2) {
    unsigned char *zA = xcalloc((size_t)n, 1), *zB = xcalloc((size_t)n, 1);
    int any_a = 0, any_b = 0;
    for (int64_t i = 0; i < n; i++) {
        int z = 1;
        for (int64_t j = 0; j < n && z; j++) z = s1[i * n + j] == 0;
        zA[i] = (unsigned char)z;
        any_a |= z;
    }
    for (int64_t j = 0; j < n; j++) {
        int z = 1;
        for (int64_t i = 0; i < n && z; i++) z = s2[i * n + j] == 0;
        zB[j] = (unsigned char)z;
        any_b |= z;
    }
    int fail = 0;
    if (!any_a && !any_b) goto done;

    int64_t *perm = xmalloc(sizeof(int64_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    int64_t K = 0, L = n - 1, cnt = 0;
    /* rows: search J = L down to 0; a row is isolated when its off-diagonal entries in columns
     * 0..L are zero; swap it to L, L -= 1, and search again from the new L */
    for (int64_t p = 0; p <= L; p++) cnt += !zB[perm[p]];
    for (;;) {
        int64_t found = -1;
        for (int64_t J = L; J >= 0 && found < 0; J--) {
            int64_t f = perm[J];
            if (zA[f] || cnt - !zB[f] == 0) found = J;
        }
        if (found < 0) break;
        int64_t t = perm[found]; perm[found] = perm[L]; perm[L] = t;
        cnt -= !zB[perm[L]];
        if (L == 0) break;
        L--;
    }
    /* columns: search J = K up to L; a column is isolated when its off-diagonal entries in rows
     * K..L are zero; swap it to K, K += 1, and search again from the new K */
    cnt = 0;
    for (int64_t p = K; p <= L; p++) cnt += !zA[perm[p]];
    for (;;) {
        int64_t found = -1;
        for (int64_t J = K; J <= L && found < 0; J++) {
            int64_t f = perm[J];
            if (zB[f] || cnt - !zA[f] == 0) found = J;
        }
        if (found < 0) break;
        int64_t t = perm[found]; perm[found] = perm[K]; perm[K] = t;
        cnt -= !zA[perm[K]];
        K++;
        if (K > L) break;
    }
    balanced b = {n, K, L, perm, zA, zB, 0, 0};
    for (int64_t p = K; p <= L; p++) {
        b.mid_nzA |= !zA[perm[p]];
        b.mid_nzB |= !zB[perm[p]];
    }
    unsigned char *D = xcalloc((size_t)n, 1);   /* T_pp exactly zero */
    for (int64_t p = 0; p < n; p++)
        if (is_iso(&b, p)) D[p] = zA[perm[p]] || zB[perm[p]];

    /* scipy's blocks: nblocks = max(n // 64, 1); divmod(n, nblocks) -> small blocks first */
    int64_t nblocks = n / 64 > 1 ? n / 64 : 1, bsmall = n / nblocks, nlarge = n % nblocks;
    int64_t nsmall = nblocks - nlarge, bmax = bsmall + 1;
    unsigned char *R = xmalloc((size_t)(bmax * bmax));
    int64_t start = 0;
    for (int64_t blk = 0; blk < nblocks && !fail; blk++) {
        int64_t size = blk < nsmall ? bsmall : bsmall + 1, zeros = 0;
        for (int64_t p = start; p < start + size; p++) zeros += D[p];
        if (zeros >= 2) {
            memset(R, 0, (size_t)(size * size));
            for (int64_t i = 0; i < size; i++) R[i * size + i] = !D[start + i];
            for (int64_t j = 1; j < size && !fail; j++)
                for (int64_t i = j - 1; i >= 0 && !fail; i--) {
                    int s = 0;
                    for (int64_t k = i + 1; k < j && !s; k++) s = R[i * size + k] && R[k * size + j];
                    int num = s || t_nonzero(&b, start + i, start + j);
                    if (D[start + i] && D[start + j]) {
                        if (num) fail = 1;
                        R[i * size + j] = 0;
                    } else {
                        R[i * size + j] = (unsigned char)num;
                    }
                }
        }
        start += size;
    }
    free(R);
    free(D);
    free(perm);
done:
    free(zA);
    free(zB);
    return fail;
}

/* ---- the Fréchet distance ---- */

static double sum_sqrt_pos(int64_t n, const double *w) {
    double t = 0;
    for (int64_t i = 0; i < n; i++) t += w[i] > 0 ? sqrt(w[i]) : 0;
    return t;
}

/* eigenvalues (ascending) of the symmetric m (upper triangle, column-major; destroyed) */
static int eigvals(int64_t n, double *m, double *w, char *err, size_t errlen) {
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)n, m, (lapack_int)n, w);
    if (info != 0) { seterr(err, errlen, "expected dsyevd to converge, found info %d", (int)info); return -1; }
    return 0;
}

#define FID_BAND 32   /* stage one's band half-width: wide enough for gemm speed, narrow for the quadrature */

/* tr sqrt(M) of the symmetric m (lower triangle, column-major; destroyed), M's eigenvalues taken
 * as zero where they are negative: M to a band B by orthogonal similarity (sy2band), then
 * band_trace_sqrt when B is certified positive definite (*wmin = the certified lower bound,
 * *nodes its node count), else B's tridiagonal form through tridiag_trace_sqrt (*wmin its least
 * eigenvalue) or, when that declines or `eigenvalues` asks, its eigenvalues (*nodes = 0). */
static int trace_sqrt_sym(int64_t n, double *m, int threads, int eigenvalues, double *tr, double *wmin, int *nodes,
                          int *exact, char *err, size_t errlen) {
    int64_t kd = n - 1 < FID_BAND ? n - 1 : FID_BAND;
    double *ab = xmalloc(sizeof(double) * (size_t)(n * (kd + 1)));
    if (sy2band(n, kd, m, ab, threads, err, errlen)) { free(ab); return -1; }
    for (int64_t i = 0; i < n * (kd + 1); i++)
        if (!isfinite(ab[i])) {
            free(ab);
            return seterr(err, errlen, "expected sigma1*sigma2 to be representable in float64, found it overflows "
                          "(covariance entries too large)");
        }
    band_sqrt_info info;
    if (!eigenvalues && band_trace_sqrt(n, kd, ab, threads, tr, &info) == 0) {
        *wmin = info.lo;
        *nodes = info.nodes;
        *exact = -1;
        free(ab);
        return 0;
    }
    /* not certified (nearly singular): the tridiagonal form, then its quadrature with the few
     * eigenvalues below 1e-12 of the largest taken exactly, else all its eigenvalues (dsterf) */
    double *d = xmalloc(sizeof(double) * (size_t)n), *e = xmalloc(sizeof(double) * (size_t)n);
    int rc = band_tridiag(n, kd, ab, d, e, err, errlen), done = 0;
    if (rc == 0 && !eigenvalues && tridiag_trace_sqrt(n, d, e, tr, wmin, &info) == 0) {
        *nodes = info.nodes;
        *exact = info.exact;
        done = 1;
    }
    if (rc == 0 && !done) {
        lapack_int sterf = LAPACKE_dsterf((lapack_int)n, d, e);
        if (sterf != 0) {
            rc = seterr(err, errlen, "expected dsterf to converge, found info %d", (int)sterf);
        } else {
            *tr = sum_sqrt_pos(n, d);
            *wmin = d[0];
            *nodes = 0;
        }
    }
    free(d);
    free(e);
    free(ab);
    return rc;
}

/* Cholesky route: S1 = L·Lᵀ, tr sqrt of M = Lᵀ·S2·L (similar to S1·S2). 1 when S1 is not
 * numerically positive definite (potrf fails), 0 ok, -1 error. a and b are destroyed. */
static int route_cholesky(int64_t n, double *a, double *b, int threads, int eigenvalues, double *tr, double *wmin, int *nodes,
                          int *exact, char *err, size_t errlen) {
    lapack_int N = (lapack_int)n;
    if (LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', N, a, N) != 0) return 1;       /* (the _work forms skip */
    lapack_int info = LAPACKE_dsygst_work(LAPACK_COL_MAJOR, 2, 'L', N, b, N, a, N);   /* LAPACKE's NaN scans) b := Lᵀ·b·L */
    if (info != 0) { seterr(err, errlen, "expected dsygst to succeed, found info %d", (int)info); return -1; }
    return trace_sqrt_sym(n, b, threads, eigenvalues, tr, wmin, nodes, exact, err, errlen);
}

/* Eigen route: S1 = V·diag(λ)·Vᵀ, A = sqrt(S1) = V·diag(√max(λ,0))·Vᵀ, eigenvalues w of A·S2·A.
 * a is destroyed. */
static int route_eigen(int64_t n, double *a, const double *b, double *w, char *err, size_t errlen) {
    lapack_int N = (lapack_int)n;
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', N, a, N, w);   /* a := V, column-major */
    if (info != 0) { seterr(err, errlen, "expected dsyevd to converge, found info %d", (int)info); return -1; }
    int64_t m = 0;                           /* the positive eigenvalues are the last m */
    while (m < n && w[n - 1 - m] > 0) m++;
    double *bv = a + (n - m) * n;            /* their vectors, scaled: B = V₊·diag(λ₊^¼) (n×m) */
    for (int64_t k = 0; k < m; k++) {
        double r = sqrt(sqrt(w[n - m + k]));
        for (int64_t i = 0; i < n; i++) bv[k * n + i] *= r;
    }
    size_t bytes = sizeof(double) * (size_t)(n * n);
    double *sq = xmalloc(bytes), *t = xmalloc(bytes);
    if (m > 0) cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, N, N, (int)m, 1.0, bv, N, bv, N, 0.0, sq, N);   /* A = B·Bᵀ = V₊·diag(√λ₊)·V₊ᵀ */
    else memset(sq, 0, bytes);
    cblas_dsymm(CblasColMajor, CblasLeft, CblasUpper, N, N, 1.0, b, N, sq, N, 0.0, t, N);        /* S2·A */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0, sq, N, t, N, 0.0, a, N); /* A·S2·A */
    free(sq);
    free(t);
    return eigvals(n, a, w, err, errlen);
}

int fid_frechet_inplace(int64_t n, const double *mu1, double *s1, const double *mu2, double *s2, double eps,
                        int force_route, fid_result *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    int eigenvalues = (force_route & FID_EIGENVALUES) != 0;
    force_route &= ~FID_EIGENVALUES;
    for (int64_t i = 0; i < n; i++) {
        double dm = mu1[i] - mu2[i];
        r->mean_term += dm * dm;
        r->tr1 += s1[i * n + i];
        r->tr2 += s2[i * n + i];
    }
    r->eps_applied = eps >= 0 && fid_needs_eps(n, s1, s2);
    double add = r->eps_applied ? eps : 0;
    /* the diagonals as given: the Cholesky route writes the diagonals and the lower triangles
     * (column-major) and leaves the strict upper ones, which are all the eigen route reads */
    double *diag = xmalloc(sizeof(double) * (size_t)(2 * n));
    for (int64_t i = 0; i < n; i++) {
        diag[i] = s1[i * n + i];
        diag[n + i] = s2[i * n + i];
        s1[i * n + i] += add;
        s2[i * n + i] += add;
    }
    /* both cores unless another process is running: potrf, sygst, the band reduction and the
     * quadrature all share out well (0.26 s against 0.45 s on one thread at d = 2048) */
    int threads = fid_blas_begin((double)n * (double)n * (double)n);
    r->threads = openblas_get_num_threads();
    double tr = 0, wmin = 0;
    int rc = 1;
    if (force_route != FID_ROUTE_EIGEN) {
        rc = route_cholesky(n, s1, s2, r->threads, eigenvalues, &tr, &wmin, &r->nodes, &r->exact, err, errlen);
        /* S2 singular: M has eigenvalues at rounding level, some of them not positive */
        if (rc == 0 && wmin <= 0 && force_route != FID_ROUTE_CHOLESKY) rc = 1;
        if (rc == 1 && force_route == FID_ROUTE_CHOLESKY) {
            rc = -1;
            seterr(err, errlen, "expected a positive definite sigma1 for the Cholesky route, found dpotrf failing");
        }
        if (rc == 0) r->route = FID_ROUTE_CHOLESKY;
        if (rc == 1) {   /* start again from the strict upper triangles and the saved diagonals */
            for (int64_t i = 0; i < n; i++) {
                s1[i * n + i] = diag[i] + add;
                s2[i * n + i] = diag[n + i] + add;
            }
            r->nodes = 0;
        }
    }
    if (rc == 1) {
        double *w = xmalloc(sizeof(double) * (size_t)n);
        rc = route_eigen(n, s1, s2, w, err, errlen);
        r->route = FID_ROUTE_EIGEN;
        if (rc == 0) tr = sum_sqrt_pos(n, w);
        free(w);
    }
    if (rc == 0) {
        r->tr_covmean = tr;
        r->fid = r->mean_term + r->tr1 + r->tr2 - 2 * r->tr_covmean;
    }
    fid_blas_end(threads);
    free(diag);
    return rc ? -1 : 0;
}

int fid_frechet(int64_t n, const double *mu1, const double *s1, const double *mu2, const double *s2, double eps,
                int force_route, fid_result *r, char *err, size_t errlen) {
    size_t bytes = sizeof(double) * (size_t)(n * n);
    double *a = xmalloc(bytes), *b = xmalloc(bytes);
    memcpy(a, s1, bytes);
    memcpy(b, s2, bytes);
    int rc = fid_frechet_inplace(n, mu1, a, mu2, b, eps, force_route, r, err, errlen);
    free(a);
    free(b);
    return rc;
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
    int threads = fid_blas_begin((double)d * (double)d * (double)nb);
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)nb, 1.0, s->buf, (int)d, 1.0, s->scatter, (int)d);
    chan_fold(s, nb, mb);
    fid_blas_end(threads);
    free(mb);
    s->nbuf = 0;
}

static int add_rows(fstats *s, const void *x, int is_f32, int64_t n, char *err, size_t errlen) {
    int64_t d = s->d;
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < d; j++) {
            double v = is_f32 ? ((const float *)x)[r * d + j] : ((const double *)x)[r * d + j];
            if (!isfinite(v)) {
                seterr(err, errlen, "expected finite features, found %s at row %lld, column %lld",
                       isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", (long long)r, (long long)j);
                return -1;
            }
        }
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
    int threads = fid_blas_begin(0);
    chan_fold(dst, src->count, src->mean);
    fid_blas_end(threads);
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
    int rc = npz_write(path, items, 4, err, errlen);
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
 * d (or any when *d < 0, which then takes the first dimension), and finite */
static double *get_f64(const npz *z, const char *path, const char *key, int ndim, int64_t *d, const char *role,
                       char *err, size_t errlen) {
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
    int64_t c = a->count;
    double *out;
    if (a->dtype == NPY_F8) {              /* take the array over: no copy */
        out = a->data;
        ((npy_array *)a)->data = NULL;
    } else {
        out = xmalloc(sizeof(double) * (size_t)(c ? c : 1));
        for (int64_t i = 0; i < c; i++) out[i] = ((const float *)a->data)[i];
    }
    int finite = 1;
    for (int64_t i = 0; i < c; i++) finite &= isfinite(out[i]);   /* one branch-free pass */
    for (int64_t i = 0; i < c && !finite; i++) {
        double v = out[i];
        if (!isfinite(v)) {
            free(out);
            if (ndim == 1)
                seterr(err, errlen, "%s: expected finite values in '%s', found %s at [%lld]", path, key,
                       isnan(v) ? "nan" : "inf", (long long)i);
            else
                seterr(err, errlen, "%s: expected finite values in '%s', found %s at [%lld,%lld]", path, key,
                       isnan(v) ? "nan" : "inf", (long long)(i / *d), (long long)(i % *d));
            return NULL;
        }
    }
    return out;
}

/* the largest |s_ij| and |s_ij − s_ji| over the d×d row-major s, one pass in 64×64 tiles: the
 * tile above the diagonal is copied transposed into a local buffer so that both operands of each
 * comparison are read in order (the loops vectorise; 8 ms -> 2 ms at d = 2048) */
#define COV_TILE 64
static void cov_extremes(int64_t d, const double *s, double *big_out, double *worst_out) {
    double big = 0, worst = 0, t[COV_TILE * COV_TILE];
    for (int64_t i0 = 0; i0 < d; i0 += COV_TILE)
        for (int64_t j0 = 0; j0 <= i0; j0 += COV_TILE) {
            int64_t ni = d - i0 < COV_TILE ? d - i0 : COV_TILE, nj = d - j0 < COV_TILE ? d - j0 : COV_TILE;
            for (int64_t r = 0; r < nj; r++)        /* t[c][r] = s[j0 + r][i0 + c] */
                for (int64_t c = 0; c < ni; c++) t[c * COV_TILE + r] = s[(j0 + r) * d + i0 + c];
            for (int64_t c = 0; c < ni; c++) {
                const double *row = s + (i0 + c) * d + j0, *tr = t + c * COV_TILE;
                int64_t n = j0 == i0 ? c + 1 : nj;   /* j ≤ i: the diagonal counts once */
                for (int64_t r = 0; r < n; r++) {
                    double a = fabs(row[r]), b = fabs(tr[r]), e = fabs(row[r] - tr[r]);
                    big = a > big ? a : big;
                    big = b > big ? b : big;
                    worst = e > worst ? e : worst;
                }
            }
        }
    *big_out = big;
    *worst_out = worst;
}

/* a covariance-like matrix: symmetric to 1e-5 of its largest entry (then made exactly symmetric,
 * (S + Sᵀ)/2, in place), non-negative diagonal */
static int check_cov(const char *path, const char *key, int64_t d, double *s, char *err, size_t errlen) {
    double big, worst;
    cov_extremes(d, s, &big, &worst);   /* s is finite here */
    for (int64_t i = 0; i < d; i++)
        if (s[i * d + i] < 0) {
            seterr(err, errlen, "%s: expected a covariance '%s' (non-negative diagonal), found %s[%lld,%lld] = %g", path,
                   key, key, (long long)i, (long long)i, s[i * d + i]);
            return -1;
        }
    if (worst > 1e-5 * big) {   /* name the first pair in row-major order with the worst difference */
        int64_t wi = 0, wj = 0;
        for (int64_t i = 0; i < d && !wi; i++)
            for (int64_t j = 0; j < i; j++)
                if (fabs(s[i * d + j] - s[j * d + i]) == worst) { wi = i; wj = j; break; }
        return seterr(err, errlen, "%s: expected a symmetric '%s', found %s[%lld,%lld] = %g but %s[%lld,%lld] = %g", path,
                      key, key, (long long)wi, (long long)wj, s[wi * d + wj], key, (long long)wj, (long long)wi,
                      s[wj * d + wi]);
    }
    if (worst > 0)
        for (int64_t i0 = 0; i0 < d; i0 += COV_TILE)
            for (int64_t j0 = 0; j0 <= i0; j0 += COV_TILE)
                for (int64_t i = i0; i < i0 + COV_TILE && i < d; i++)
                    for (int64_t j = j0; j < j0 + COV_TILE && j < i; j++)
                        s[i * d + j] = s[j * d + i] = 0.5 * (s[i * d + j] + s[j * d + i]);
    return 0;
}

int fid_load_stats(const char *path, int64_t *d, double **mu, double **sigma, char *err, size_t errlen) {
    npz z;
    *mu = *sigma = NULL;
    if (npz_read(path, &z, err, errlen)) return -1;
    *d = -1;
    double *m = get_f64(&z, path, "mu", 1, d, "the mean of a stats file", err, errlen);
    double *s = m ? get_f64(&z, path, "sigma", 2, d, "the covariance of a stats file", err, errlen) : NULL;
    npz_free(&z);
    if (!s || check_cov(path, "sigma", *d, s, err, errlen)) {
        free(m);
        free(s);
        return -1;
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
    double *m = get_f64(&z, path, "mu", 1, &d, role, err, errlen), *sc = NULL;
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
            else sc = get_f64(&z, path, "scatter", 2, &d, role, err, errlen);
        }
    }
    npz_free(&z);
    if (!sc || check_cov(path, "scatter", d, sc, err, errlen)) {
        free(m);
        free(sc);
        return -1;
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
    if (*d < 0) *d = h.shape[1];
    return 1;
}
