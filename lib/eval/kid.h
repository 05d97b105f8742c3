/* kid.h: Kernel Inception Distance from saved features, as torch-fidelity computes it
 * (Bińkowski et al., "Demystifying MMD GANs"; torch_fidelity/metric_kid.py):
 *
 *   k(x, y) = (gamma·xᵀy + coef0)^degree, by default gamma = 1/d, coef0 = 1, degree 3;
 *   for each of `subsets` subsets: X = m rows of A, Y = m rows of B drawn without replacement,
 *   MMD²_u = (Σ_{i≠j} k(x_i,x_j) + Σ_{i≠j} k(y_i,y_j)) / (m(m−1)) − 2·Σ_{i,j} k(x_i,y_j) / m²;
 *   KID = mean and population standard deviation (np.std) of the MMD²s.
 *
 * Subsets are those of numpy's legacy generator, exactly: rng = np.random.RandomState(seed), then
 * for each subset rng.choice(nA, m, replace=False) for A and rng.choice(nB, m, replace=False)
 * for B, in that order (torch-fidelity's loop; its default seed is 2020). choice without
 * replacement is permutation(n)[:m], a Fisher–Yates shuffle of arange(n) drawing
 * j = random_interval(i) (masked rejection on MT19937 32-bit outputs) for i = n−1 … 1; MT19937 is
 * seeded by init_genrand(seed). The arithmetic is float64 (torch-fidelity's is float32). */
#ifndef DFGAN_KID_H
#define DFGAN_KID_H

#include <stddef.h>
#include <stdint.h>

/* numpy's MT19937 as np.random.RandomState(seed) seeds it */
typedef struct { uint32_t key[624]; int pos; } np_mt19937;
void np_mt_seed(np_mt19937 *r, uint32_t seed);
uint32_t np_mt_next32(np_mt19937 *r);
/* RandomState.choice(n, m, replace=False): out (m) of indices; work (n) scratch */
void np_choice_noreplace(np_mt19937 *r, int64_t n, int64_t m, int64_t *out, int64_t *work);

typedef struct { int degree; double gamma, coef0; } kid_kernel;   /* gamma <= 0: 1/d */

/* MMD²_u of x (m,d) and y (m,d), row-major float64 */
double kid_mmd2(const double *x, const double *y, int64_t m, int64_t d, kid_kernel k);

/* KID of a (na,d) and b (nb,d): mean and std over `subsets` subsets of size m (m <= na, nb,
 * m >= 2). mmds (subsets) may be NULL. */
void kid_compute(const double *a, int64_t na, const double *b, int64_t nb, int64_t d, int subsets, int64_t m,
                 uint32_t seed, kid_kernel k, double *mean, double *std, double *mmds);

#endif
