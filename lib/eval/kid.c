/* kid.c: KID with torch-fidelity's subsets (numpy's legacy RandomState), see kid.h. */
#include "eval/kid.h"
#include "core/common.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- numpy's MT19937 (randomkit / numpy/random/src/mt19937) ---- */

void np_mt_seed(np_mt19937 *r, uint32_t seed) {
    for (int pos = 0; pos < 624; pos++) {
        r->key[pos] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)pos + 1u;
    }
    r->pos = 624;
}

static void mt_generate(np_mt19937 *r) {
    const uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix_a = 0x9908b0dfu;
    int i;
    uint32_t y;
    for (i = 0; i < 624 - 397; i++) {
        y = (r->key[i] & upper) | (r->key[i + 1] & lower);
        r->key[i] = r->key[i + 397] ^ (y >> 1) ^ (-(y & 1) & matrix_a);
    }
    for (; i < 623; i++) {
        y = (r->key[i] & upper) | (r->key[i + 1] & lower);
        r->key[i] = r->key[i + (397 - 624)] ^ (y >> 1) ^ (-(y & 1) & matrix_a);
    }
    y = (r->key[623] & upper) | (r->key[0] & lower);
    r->key[623] = r->key[396] ^ (y >> 1) ^ (-(y & 1) & matrix_a);
    r->pos = 0;
}

uint32_t np_mt_next32(np_mt19937 *r) {
    if (r->pos == 624) mt_generate(r);
    uint32_t y = r->key[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* numpy's random_interval(max): uniform on [0, max] by masked rejection */
static uint64_t random_interval(np_mt19937 *r, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = max, value;
    mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16; mask |= mask >> 32;
    if (max <= 0xffffffffu) {
        while ((value = (np_mt_next32(r) & mask)) > max) {}
    } else {
        do {
            uint64_t hi = np_mt_next32(r);
            value = ((hi << 32) | np_mt_next32(r)) & mask;
        } while (value > max);
    }
    return value;
}

void np_choice_noreplace(np_mt19937 *r, int64_t n, int64_t m, int64_t *out, int64_t *work) {
    for (int64_t i = 0; i < n; i++) work[i] = i;
    for (int64_t i = n - 1; i >= 1; i--) {        /* RandomState.shuffle: reversed(range(1, n)) */
        int64_t j = (int64_t)random_interval(r, (uint64_t)i);
        int64_t t = work[i]; work[i] = work[j]; work[j] = t;
    }
    memcpy(out, work, sizeof(int64_t) * (size_t)m);
}

/* ---- MMD² ---- */

static double kpow(double v, int degree) {
    double p = 1;
    for (int i = 0; i < degree; i++) p *= v;
    return p;
}

double kid_mmd2(const double *x, const double *y, int64_t m, int64_t d, kid_kernel k) {
    double gamma = k.gamma > 0 ? k.gamma : 1.0 / (double)d;
    double *g = xmalloc(sizeof(double) * (size_t)(m * m));
    double sxx = 0, syy = 0, sxy = 0;
    /* Σ_{i≠j} k(x_i, x_j) = 2·Σ_{i>j}: the lower triangle of X·Xᵀ (dsyrk) */
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)m, (int)d, gamma, x, (int)d, 0.0, g, (int)m);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < i; j++) sxx += kpow(g[i * m + j] + k.coef0, k.degree);
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)m, (int)d, gamma, y, (int)d, 0.0, g, (int)m);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < i; j++) syy += kpow(g[i * m + j] + k.coef0, k.degree);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)d, gamma, x, (int)d, y, (int)d, 0.0, g,
                (int)m);
    for (int64_t i = 0; i < m * m; i++) sxy += kpow(g[i] + k.coef0, k.degree);
    free(g);
    double md = (double)m;
    return 2 * (sxx + syy) / (md * (md - 1)) - 2 * sxy / (md * md);
}

void kid_compute(const double *a, int64_t na, const double *b, int64_t nb, int64_t d, int subsets, int64_t m,
                 uint32_t seed, kid_kernel k, double *mean, double *std, double *mmds) {
    np_mt19937 rng;
    np_mt_seed(&rng, seed);
    int64_t nmax = na > nb ? na : nb;
    int64_t *ia = xmalloc(sizeof(int64_t) * (size_t)m), *ib = xmalloc(sizeof(int64_t) * (size_t)m);
    int64_t *work = xmalloc(sizeof(int64_t) * (size_t)nmax);
    double *x = xmalloc(sizeof(double) * (size_t)(m * d)), *y = xmalloc(sizeof(double) * (size_t)(m * d));
    double *v = xmalloc(sizeof(double) * (size_t)(subsets > 0 ? subsets : 1));
    for (int s = 0; s < subsets; s++) {
        np_choice_noreplace(&rng, na, m, ia, work);
        np_choice_noreplace(&rng, nb, m, ib, work);
        for (int64_t i = 0; i < m; i++) {
            memcpy(x + i * d, a + ia[i] * d, sizeof(double) * (size_t)d);
            memcpy(y + i * d, b + ib[i] * d, sizeof(double) * (size_t)d);
        }
        v[s] = kid_mmd2(x, y, m, d, k);
    }
    double sum = 0, ss = 0;
    for (int s = 0; s < subsets; s++) sum += v[s];
    *mean = subsets > 0 ? sum / subsets : NAN;
    for (int s = 0; s < subsets; s++) ss += (v[s] - *mean) * (v[s] - *mean);
    *std = subsets > 0 ? sqrt(ss / subsets) : NAN;
    if (mmds) memcpy(mmds, v, sizeof(double) * (size_t)subsets);
    free(ia); free(ib); free(work); free(x); free(y); free(v);
}
