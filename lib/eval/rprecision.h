/* rprecision.h: R-precision, AttnGAN's and DF-GAN's text-image metric, on CLIP features.
 *
 * Inputs: text features txt (n,e), one row per test caption, and image features img (t*n,e):
 * t repetitions of the n generated images, repetition r's image i (generated for caption i) at row
 * r*n + i. Every row is used by its cosine only (each is L2-normalised here).
 *
 * For each image, its own caption is ranked against c-1 mismatched captions: captions of other
 * test images whose features differ from its own caption's (an identical caption, same words,
 * would tie with it), drawn without replacement. The image scores a hit when its own caption's
 * cosine is strictly above every mismatched one's (a tie is a miss). Repetition r's R-precision
 * is the fraction of its n images that hit; the result is their mean and population standard
 * deviation (np.std), as AttnGAN reports it over its repetitions.
 *
 * The draws are numpy's, exactly: rng = np.random.RandomState(seed) once; then for r in range(t),
 * for i in range(n): others = the indices j != i (ascending) whose caption differs from i's;
 * when len(others) > c-1, pick = others[rng.choice(len(others), c-1, replace=False)], else every
 * one of them (no draw: the image is ranked among k+1 < c captions, so chance is 1/(k+1)).
 * chance is the mean over images of 1/(candidates). */
#ifndef DFGAN_RPRECISION_H
#define DFGAN_RPRECISION_H

#include <stdint.h>

typedef struct {
    double mean, std;       /* over the t repetitions */
    double chance;          /* mean of 1/candidates over every image */
    int64_t min_candidates; /* the fewest candidates an image was ranked among (its own included) */
} rprec_result;

/* img (t*n,e), txt (n,e) row-major float64; c >= 2 candidates per image (100 as AttnGAN); per_rep
 * (t) may be NULL; draws ((t*n)*c int64, may be NULL): per image its own index, then the
 * mismatched indices drawn, then -1 where fewer than c. Memory: (n+c) int64 scratch. */
rprec_result rprecision(const double *img, const double *txt, int64_t n, int64_t t, int64_t e, int64_t c,
                        uint32_t seed, double *per_rep, int64_t *draws);

#endif
