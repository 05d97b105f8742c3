/* rng.c: Philox4x32-10 (Salmon et al., SC'11) and the draws built on it (see rng.h). */
#include "core/rng.h"
#include <math.h>

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void philox4x32_10(uint32_t out[4], uint64_t ctr_lo, uint64_t ctr_hi, uint64_t key) {
    uint32_t c0 = (uint32_t)ctr_lo, c1 = (uint32_t)(ctr_lo >> 32), c2 = (uint32_t)ctr_hi, c3 = (uint32_t)(ctr_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void rng_init(rng_t *r, uint64_t seed, uint64_t stream) {
    r->seed = seed; r->stream = stream; r->counter = 0; r->left = 0;
}

uint32_t rng_u32(rng_t *r) {
    if (r->left == 0) {
        philox4x32_10(r->buf, r->counter++, r->stream, r->seed);
        r->left = 4;
    }
    return r->buf[4 - r->left--];
}

double rng_uniform(rng_t *r) { return rng_u32(r) * (1.0 / 4294967296.0); }

double rng_normal(rng_t *r) {
    double u1 = (rng_u32(r) + 1.0) * (1.0 / 4294967297.0);  /* (0,1] */
    double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
