/* rng.h: Philox4x32-10, a counter-based generator: the same (seed, stream, index) gives the same
 * number on any device, so CPU and CUDA draw identical noise and initial weights. */
#ifndef DFGAN_RNG_H
#define DFGAN_RNG_H
#include <stdint.h>

typedef struct { uint64_t seed; uint64_t stream; uint64_t counter; uint32_t buf[4]; int left; } rng_t;

void rng_init(rng_t *r, uint64_t seed, uint64_t stream);
/* One Philox block: 4 words for counter (ctr_lo, ctr_hi) under key (seed). */
void philox4x32_10(uint32_t out[4], uint64_t ctr_lo, uint64_t ctr_hi, uint64_t key);
uint32_t rng_u32(rng_t *r);
double rng_uniform(rng_t *r);            /* [0,1) with 32 random bits */
double rng_normal(rng_t *r);             /* standard normal, Box-Muller */
#endif
