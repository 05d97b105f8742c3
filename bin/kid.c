/* kid: Kernel Inception Distance between two sets of saved features, as torch-fidelity
 * computes it (same subsets for the same seed), in float64.
 *
 *   kid --features A.npy --features B.npy [--subsets 100] [--subset-size 1000] [--seed 2020]
 *
 * The arithmetic and the subset sampling are lib/eval/kid.c. */
#include "core/common.h"
#include "core/toolopts.h"
#include "eval/fid.h"
#include "eval/kid.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: kid --features A.npy --features B.npy [--subsets 100] [--subset-size 1000]\n"
    "           [--seed 2020] [--degree 3] [--gamma 1/d] [--coef0 1] [--verbose]\n"
    "Print the Kernel Inception Distance of two sets of features, 'MEAN STD' on stdout:\n"
    "the unbiased MMD^2 with the polynomial kernel k(x,y) = (gamma x.y + coef0)^degree over\n"
    "--subsets random subsets of --subset-size vectors from each set, its mean and (population)\n"
    "standard deviation, as torch-fidelity's KID. The subsets are exactly torch-fidelity's:\n"
    "rng = numpy.random.RandomState(seed); per subset rng.choice(nA, m, replace=False), then\n"
    "rng.choice(nB, m, replace=False). Features: .npy streams of (N,d) float32 or float64 arrays\n"
    "(several arrays are concatenated), as inception-stats --features-out writes them.\n"
    "  --verbose   each subset's MMD^2 on stderr\n"
    "  --device cpu   float64 on the CPU (no CUDA path; cuda is refused)\n"
    "Exit status: 0 ok, 2 bad usage or bad input (one line on stderr), 1 a runtime failure, 3 a NaN\n"
    "or Inf in the features.\n";

int main(int argc, char **argv) {
    progname = "kid";
    const char *feat[2] = {NULL, NULL};
    int nfeat = 0, verbose = 0;
    long subsets = 100, seed = 2020;
    int64_t m = 1000;
    kid_kernel k = {3, 0.0, 1.0};
    enum { FEATURES = TOPT_FIRST, SUBSETS, SUBSET_SIZE, SEED, DEGREE, GAMMA, COEF0 };
    static const struct option longopts[] = {
        {"features", 1, 0, FEATURES}, {"subsets", 1, 0, SUBSETS}, {"subset-size", 1, 0, SUBSET_SIZE},
        {"seed", 1, 0, SEED}, {"degree", 1, 0, DEGREE}, {"gamma", 1, 0, GAMMA}, {"coef0", 1, 0, COEF0},
        {"verbose", 0, 0, 'v'}, {0, 0, 0, 0}};
    toolopts t;
    topt_begin(&t, argc, argv, usage, "v", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        const char *v = optarg;
        switch (c) {
        case 'v': verbose = 1; break;
        case FEATURES:
            if (nfeat == 2) die_usage("--features expects two feature files, found a third '%s'", v);
            feat[nfeat++] = v;
            break;
        case SUBSETS: subsets = parse_long("--subsets", v, 1, 1000000); break;
        case SUBSET_SIZE: m = parse_long("--subset-size", v, 2, 1L << 30); break;
        case SEED: seed = parse_long("--seed", v, 0, 4294967295L); break;
        case DEGREE: k.degree = (int)parse_long("--degree", v, 1, 16); break;
        case GAMMA:
            k.gamma = parse_double_in("--gamma", v, 0, INFINITY, PD_LO_OPEN);
            break;
        case COEF0: k.coef0 = parse_double("--coef0", v); break;
        }
    }
    topt_end(&t);
    if (nfeat != 2) die_usage("expected two --features files, found %d", nfeat);
    if (strcmp(feat[0], "-") == 0 && strcmp(feat[1], "-") == 0)
        die_usage("expected at most one --features on stdin, found '-' twice");
    int64_t na, nb, da, db;
    double *a = feat_read_all("--features", feat[0], &na, &da), *b = feat_read_all("--features", feat[1], &nb, &db);
    if (da != db)
        die_usage("expected %s to have the dimension of %s (%lld), found %lld", feat[1], feat[0], (long long)da,
                  (long long)db);
    if (m > na || m > nb)
        die_usage("--subset-size: expected at most the number of feature vectors (%lld in %s, %lld in %s), found %lld",
                  (long long)na, feat[0], (long long)nb, feat[1], (long long)m);
    double mean, std, *mmds = xmalloc(sizeof(double) * (size_t)subsets);
    kid_compute(a, na, b, nb, da, (int)subsets, m, (uint32_t)seed, k, &mean, &std, mmds);
    if (verbose)
        for (long s = 0; s < subsets; s++) fprintf(stderr, "kid: subset %ld mmd2 %.17g\n", s, mmds[s]);
    printf("%.12g %.12g\n", mean, std);
    close_stdout_or_die();
    free(a); free(b); free(mmds);
    return EXIT_OK;
}
