/* fid: the Fréchet distance between two stats files (mu, sigma), as pytorch-fid computes it.
 *
 *   fid [--verbose] A.npz B.npz
 *
 * The arithmetic (LAPACK's symmetric eigensolvers in float64, pytorch-fid's eps rule) is lib/eval/fid.c. */
#include "core/common.h"
#include "core/finite.h"
#include "core/toolopts.h"
#include "eval/fid.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: fid [--verbose] [--eps E | --no-eps] [--route cholesky|eigen] A.npz B.npz\n"
    "Print the Frechet distance between the Gaussians (mu, sigma) of two stats files:\n"
    "  |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrt(sigma1 sigma2))\n"
    "in float64 through symmetric eigenproblems (LAPACK), the number alone on stdout.\n"
    "A stats file is an .npz with keys mu (d,) and sigma (d,d), float64 or float32: ours\n"
    "(inception-stats, feature-stats), DF-GAN's (bird_val256_FIDK0.npz) or pytorch-fid's\n"
    "(--save-stats); other keys are ignored. '-' reads one of them from stdin.\n"
    "  --verbose   the terms, the route taken and the time, on stderr\n"
    "  --eps E     what pytorch-fid adds to both diagonals when its sqrtm of sigma1 sigma2 would\n"
    "              fail (features with zero variance in A and others in B; see lib/eval/fid.h);\n"
    "              default 1e-6 as pytorch-fid (a finite number >= 0). When it is added,\n"
    "              a line on stderr says so.\n"
    "  --no-eps    never add eps (the distance as computed, even where scipy's sqrtm would fail)\n"
    "  --route cholesky|eigen   force the route (for tests and benchmarks)\n"
    "  --device cpu   the only device: fid is float64 LAPACK on the CPU\n"
    "Exit status: 0 ok, 2 bad usage or bad input (one line on stderr), 1 a runtime failure, 3 a NaN\n"
    "or Inf in a stats file.\n";

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    progname = "fid";
    enum { EPS = TOPT_FIRST, NO_EPS, ROUTE };
    static const struct option longopts[] = {
        {"verbose", 0, 0, 'v'}, {"eps", 1, 0, EPS}, {"no-eps", 0, 0, NO_EPS}, {"route", 1, 0, ROUTE}, {0, 0, 0, 0}};
    int verbose = 0, route = 0;
    double eps = FID_EPS;
    toolopts t;
    topt_begin(&t, argc, argv, usage, "v", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case 'v': verbose = 1; break;
        case EPS:
            eps = parse_double_in("--eps", optarg, 0, INFINITY, 0);
            break;
        case NO_EPS: eps = -1; break;
        case ROUTE:
            if (strcmp(optarg, "cholesky") == 0) route = FID_ROUTE_CHOLESKY;
            else if (strcmp(optarg, "eigen") == 0) route = FID_ROUTE_EIGEN;
            else die_usage("--route expects cholesky or eigen, found '%s'", optarg);
            break;
        }
    }
    topt_device(&t);
    const char *path[2] = {NULL, NULL};
    int npaths = 0;
    for (int i = optind; i < argc; i++) {
        if (npaths == 2) die_usage("expected two stats files, found a third argument '%s'", argv[i]);
        path[npaths++] = argv[i];
    }
    if (npaths != 2) die_usage("expected two stats files (fid A.npz B.npz), found %d", npaths);
    if (strcmp(path[0], "-") == 0 && strcmp(path[1], "-") == 0)
        die_usage("expected at most one stats file on stdin, found '-' twice");

    int64_t d[2];
    double *mu[2], *sigma[2];
    /* the two files load in parallel (reading, CRC and checks of 2 × 32 MB at d = 2048: 30 ms each) */
    char errs[2][1024];
    int bad[2];
#pragma omp parallel for num_threads(2)
    for (int k = 0; k < 2; k++) bad[k] = fid_load_stats(path[k], &d[k], &mu[k], &sigma[k], errs[k], sizeof errs[k]);
    for (int k = 0; k < 2; k++)
        if (bad[k]) die_input(bad[k], errs[k]);
    if (d[0] != d[1])
        die_usage("expected %s to have the dimension of %s (%lld), found %lld", path[1], path[0], (long long)d[0],
                  (long long)d[1]);

    double t0 = now();
    fid_result r;
    fid_frechet_inplace(d[0], mu[0], sigma[0], mu[1], sigma[1], eps, route, &r);
    double t1 = now();
    if (r.eps_applied)
        warnx("singular product (pytorch-fid's sqrtm of sigma1*sigma2 fails: features with zero variance); "
              "adding %g to the diagonal of both covariances",
              eps);
    if (verbose) {
        fprintf(stderr, "fid: d %lld, |mu1-mu2|^2 %.17g, tr(sigma1) %.17g, tr(sigma2) %.17g\n", (long long)d[0],
                r.mean_term, r.tr1, r.tr2);
        fprintf(stderr, "fid: tr sqrt(sigma1 sigma2) %.17g by the %s route, eps %s, %.3f s on %d thread%s\n",
                r.tr_covmean, r.route == FID_ROUTE_CHOLESKY ? "cholesky" : "eigen",
                r.eps_applied ? "applied" : "not applied", t1 - t0, r.threads, r.threads == 1 ? "" : "s");
        fprintf(stderr, "fid: %.17g\n", r.fid);
    }
    /* FID >= 0: a rounding-level negative prints as 0, not "-0.000000000" (--verbose has it) */
    printf("%.9f\n", r.fid < 0 && r.fid > -5e-10 ? 0.0 : r.fid);
    close_stdout_or_die();
    for (int k = 0; k < 2; k++) { free(mu[k]); free(sigma[k]); }
    return EXIT_OK;
}
