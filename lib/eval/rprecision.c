/* rprecision.c: R-precision on CLIP features with numpy's draws, see rprecision.h. */
#include "eval/rprecision.h"
#include "core/common.h"
#include "eval/kid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* rows of x (m,e) scaled to unit length in place (a zero row stays zero) */
static void normalise_rows(double *x, int64_t m, int64_t e) {
    for (int64_t i = 0; i < m; i++) {
        double s = 0;
        for (int64_t k = 0; k < e; k++) s += x[i * e + k] * x[i * e + k];
        if (s > 0)
            for (int64_t k = 0; k < e; k++) x[i * e + k] /= sqrt(s);
    }
}

static double dot(const double *a, const double *b, int64_t e) {
    double s = 0;
    for (int64_t k = 0; k < e; k++) s += a[k] * b[k];
    return s;
}

rprec_result rprecision(const double *img, const double *txt, int64_t n, int64_t t, int64_t e, int64_t c,
                        uint32_t seed, double *per_rep, int64_t *draws) {
    double *im = xmalloc(sizeof(double) * (size_t)(t * n * e)), *tx = xmalloc(sizeof(double) * (size_t)(n * e));
    memcpy(im, img, sizeof(double) * (size_t)(t * n * e));
    memcpy(tx, txt, sizeof(double) * (size_t)(n * e));
    normalise_rows(im, t * n, e);
    normalise_rows(tx, n, e);
    int64_t *others = xmalloc(sizeof(int64_t) * (size_t)n), *pick = xmalloc(sizeof(int64_t) * (size_t)n),
            *work = xmalloc(sizeof(int64_t) * (size_t)n);
    np_mt19937 rng;
    np_mt_seed(&rng, seed);
    rprec_result res = {0, 0, 0, INT64_MAX};
    double *acc = xmalloc(sizeof(double) * (size_t)t);
    for (int64_t r = 0; r < t; r++) {
        int64_t hits = 0;
        for (int64_t i = 0; i < n; i++) {
            const double *v = im + (r * n + i) * e;
            int64_t k = 0;
            for (int64_t j = 0; j < n; j++)   /* captions of other images, not word for word i's */
                if (j != i && memcmp(txt + j * e, txt + i * e, sizeof(double) * (size_t)e)) others[k++] = j;
            int64_t m = k < c - 1 ? k : c - 1;
            if (k > m) {
                np_choice_noreplace(&rng, k, m, pick, work);
                for (int64_t a = 0; a < m; a++) pick[a] = others[pick[a]];
            } else {
                memcpy(pick, others, sizeof(int64_t) * (size_t)m);
            }
            double own = dot(v, tx + i * e, e);
            int hit = 1;
            for (int64_t a = 0; a < m && hit; a++) hit = dot(v, tx + pick[a] * e, e) < own;
            hits += hit;
            res.chance += 1.0 / (double)(m + 1);
            if (m + 1 < res.min_candidates) res.min_candidates = m + 1;
            if (draws) {
                int64_t *d = draws + (r * n + i) * c;
                d[0] = i;
                for (int64_t a = 0; a < c - 1; a++) d[1 + a] = a < m ? pick[a] : -1;
            }
        }
        acc[r] = (double)hits / (double)n;
        res.mean += acc[r];
    }
    res.mean /= (double)t;
    for (int64_t r = 0; r < t; r++) res.std += (acc[r] - res.mean) * (acc[r] - res.mean);
    res.std = sqrt(res.std / (double)t);   /* np.std: population */
    res.chance /= (double)(t * n);
    if (per_rep) memcpy(per_rep, acc, sizeof(double) * (size_t)t);
    free(im); free(tx); free(others); free(pick); free(work); free(acc);
    return res;
}
