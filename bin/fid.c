/* fid: the Fréchet distance between two stats files (mu, sigma), as pytorch-fid computes it.
 *
 *   fid [--verbose] A.npz B.npz
 *
 * The arithmetic (LAPACK's symmetric eigensolvers in float64, pytorch-fid's eps rule) is lib/eval/fid.c. */
#include "core/common.h"
#include "eval/fid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: fid [--verbose] [--eps E] [--route cholesky|eigen] [--device cpu|cuda] A.npz B.npz\n"
    "Print the Frechet distance between the Gaussians (mu, sigma) of two stats files:\n"
    "  |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrt(sigma1 sigma2))\n"
    "in float64 through symmetric eigenproblems (LAPACK), the number alone on stdout.\n"
    "A stats file is an .npz with keys mu (d,) and sigma (d,d), float64 or float32: ours\n"
    "(inception-stats, feature-stats), DF-GAN's (bird_val256_FIDK0.npz) or pytorch-fid's\n"
    "(--save-stats); other keys are ignored. '-' reads one of them from stdin.\n"
    "  --verbose   the terms, the route taken and the time, on stderr\n"
    "  --eps E     what pytorch-fid adds to both diagonals when its sqrtm of sigma1 sigma2 would\n"
    "              fail (features with zero variance in A and others in B; see lib/eval/fid.h);\n"
    "              default 1e-6 as pytorch-fid; a negative E never adds it. When it is added,\n"
    "              a line on stderr says so.\n"
    "  --route cholesky|eigen   force the route (for tests and benchmarks)\n"
    "  --device cpu|cuda   accepted for pipelines that pass it to every tool; fid has no GPU\n"
    "              path: float64 LAPACK on the CPU either way\n"
    "Exit status: 0 ok, 2 bad usage or bad input (one line on stderr), 1 a runtime failure.\n";

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    progname = "fid";
    const char *path[2] = {NULL, NULL};
    int npaths = 0, verbose = 0, route = 0;
    double eps = FID_EPS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            close_stdout_or_die();
            return EXIT_OK;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = 1;
        } else if (strcmp(a, "--eps") == 0) {
            if (++i == argc) die_usage("--eps expects a number, found nothing");
            eps = parse_double("--eps", argv[i]);
        } else if (strcmp(a, "--device") == 0) {
            if (++i == argc) die_usage("--device expects cpu or cuda, found nothing");
            if (strcmp(argv[i], "cpu") != 0 && strcmp(argv[i], "cuda") != 0)
                die_usage("--device expects cpu or cuda, found '%s'", argv[i]);
        } else if (strcmp(a, "--route") == 0) {
            if (++i == argc) die_usage("--route expects cholesky or eigen, found nothing");
            if (strcmp(argv[i], "cholesky") == 0) route = FID_ROUTE_CHOLESKY;
            else if (strcmp(argv[i], "eigen") == 0) route = FID_ROUTE_EIGEN;
            else die_usage("--route expects cholesky or eigen, found '%s'", argv[i]);
        } else if (a[0] == '-' && a[1] != 0) {
            die_usage("expected an option of --verbose, --eps, --route, --device, --help, found '%s'", a);
        } else {
            if (npaths == 2) die_usage("expected two stats files, found a third argument '%s'", a);
            path[npaths++] = a;
        }
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
        if (bad[k]) die_usage("%s", errs[k]);
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
