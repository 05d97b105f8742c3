/* r-precision: AttnGAN's and DF-GAN's R-precision of generated images on CLIP features.
 *
 *   r-precision --images IMAGE_FEATURES --text TEXT_FEATURES [--candidates 100] [--seed 0]
 *
 * Image features (t*n,e): t repetitions of the n generated images, repetition r's image i at row
 * r*n+i (clip-embed image of the fakes, repetitions back to back); text features (n,e): caption
 * i's (clip-embed text). Each image's own caption is ranked among --candidates captions by
 * cosine; the draws of the mismatched ones and the arithmetic are lib/eval/rprecision.c. */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/toolopts.h"
#include "eval/fid.h"
#include "eval/rprecision.h"
#include "io/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: r-precision --images IMAGE_FEATURES --text TEXT_FEATURES [--candidates 100] [--seed 0]\n"
    "                   [--draws-out F.npy] [--verbose]\n"
    "R-precision (AttnGAN, DF-GAN) of generated images: for each image, its own caption ranked among\n"
    "--candidates captions (its own and candidates-1 captions of other test images, drawn without\n"
    "replacement) by the cosine of CLIP features; an image hits when its own caption's cosine is\n"
    "strictly the highest. Prints, one 'name value' a line:\n"
    "  r_precision       the fraction of images that hit, averaged over the repetitions\n"
    "  r_precision_std   its population standard deviation over the repetitions (0 with one)\n"
    "  chance            the expected r_precision of a random ranking (1/candidates)\n"
    "  candidates        the fewest captions an image was ranked among (its own included)\n"
    "  times, images     the repetitions t and the images n per repetition\n"
    "Inputs: .npy streams of float32 or float64 (rows,e) arrays (several arrays are concatenated):\n"
    "  --images F   (t*n,e) image features, repetition r's image i at row r*n+i, generated for\n"
    "               caption i (clip-embed image; raw or normalised, only cosines are used)\n"
    "  --text F     (n,e) text features, caption i's at row i (clip-embed text)\n"
    "Mismatched captions are drawn from those of other images that are not word for word the\n"
    "image's own (equal features); with fewer such captions than candidates-1, an image is ranked\n"
    "among all of them, and chance rises to the mean of 1/(their number + 1). The draws are\n"
    "numpy's: rng = np.random.RandomState(seed), then per repetition, per image,\n"
    "rng.choice(len(others), candidates-1, replace=False) indexes the ascending list of the others.\n"
    "options:\n"
    "  --candidates C   captions per ranking (default 100, AttnGAN's: chance 1%)\n"
    "  --seed K         the draws' seed (default 0)\n"
    "  --draws-out F    write the rankings' caption indices, int64 (t*n,C): the image's own caption,\n"
    "                   then the mismatched ones drawn, -1 where there were fewer (atomically)\n"
    "  --verbose        each repetition's r_precision on stderr\n"
    "  --device cpu     float64 on the CPU (no CUDA path; cuda is refused)\n"
    "  -h, --help       this help\n"
    "Exit status: 0 ok, 2 bad usage or bad input (one line on stderr), 1 a runtime failure, 3 a NaN\n"
    "or Inf in the features.\n";

int main(int argc, char **argv) {
    progname = "r-precision";
    const char *images = NULL, *text = NULL, *draws_out = NULL;
    long candidates = 100, seed = 0;
    int verbose = 0;
    enum { IMAGES = TOPT_FIRST, TEXT, CANDIDATES, SEED, DRAWS_OUT };
    static const struct option longopts[] = {
        {"images", 1, 0, IMAGES}, {"text", 1, 0, TEXT}, {"candidates", 1, 0, CANDIDATES}, {"seed", 1, 0, SEED},
        {"draws-out", 1, 0, DRAWS_OUT}, {"verbose", 0, 0, 'v'}, {0, 0, 0, 0}};
    toolopts t;
    topt_begin(&t, argc, argv, usage, "v", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case 'v': verbose = 1; break;
        case IMAGES: images = optarg; break;
        case TEXT: text = optarg; break;
        case CANDIDATES: candidates = parse_long("--candidates", optarg, 2, 1L << 20); break;
        case SEED: seed = parse_long("--seed", optarg, 0, 4294967295L); break;
        case DRAWS_OUT: draws_out = optarg; break;
        }
    }
    topt_end(&t);
    if (!images || !text) die_usage("expected --images and --text feature files, found %s missing", images ? "--text" : "--images");
    if (!strcmp(images, "-") && !strcmp(text, "-")) die_usage("expected at most one input on stdin, found '-' twice");
    if (draws_out) check_output_dir(draws_out, "--draws-out");   /* before any work */
    atomic_file *af = draws_out ? af_open(draws_out) : NULL;
    int64_t ni, ei, n, e;
    double *img = feat_read_all("--images", images, &ni, &ei), *txt = feat_read_all("--text", text, &n, &e);
    if (ei != e)
        die_usage("expected image features of the text features' width %lld, found %lld", (long long)e, (long long)ei);
    if (n < 2) die_usage("--text: expected at least 2 captions, found %lld", (long long)n);
    if (ni % n)
        die_usage("expected image feature rows a multiple of the %lld captions (repetitions of them), found %lld",
                  (long long)n, (long long)ni);
    int64_t reps = ni / n;
    double *per = xmalloc(sizeof(double) * (size_t)reps);
    int64_t *draws = af ? xmalloc(sizeof(int64_t) * (size_t)(ni * candidates)) : NULL;
    rprec_result res = rprecision(img, txt, n, reps, e, candidates, (uint32_t)seed, per, draws);
    if (verbose)
        for (int64_t r = 0; r < reps; r++) fprintf(stderr, "r-precision: repetition %lld r_precision %.6f\n", (long long)r, per[r]);
    if (af) {
        int64_t shape[2] = {ni, candidates};
        if (npy_write(af_stream(af), NPY_I8, 2, shape, draws))
            die_runtime("--draws-out: expected to write '%s', found: %s", draws_out, strerror(errno));
        af_commit(af);
    }
    printf("r_precision %.6f\nr_precision_std %.6f\nchance %.6f\ncandidates %lld\ntimes %lld\nimages %lld\n", res.mean,
           res.std, res.chance, (long long)res.min_candidates, (long long)reps, (long long)n);
    close_stdout_or_die();
    free(img); free(txt); free(per); free(draws);
    return EXIT_OK;
}
