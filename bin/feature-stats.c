/* feature-stats: mean and covariance of feature vectors in one pass (memory independent of N),
 * and the exact merge of partial statistics from several runs or GPUs.
 *
 *   feature-stats [-o stats.npz] [FEATURES.npy ...]      (stdin when no file)
 *   feature-stats --merge -o stats.npz A.npz B.npz ...
 *
 * The arithmetic (batched Chan et al. update, merge, finalize, .npz layout) is lib/eval/fid.c. */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/finite.h"
#include "core/toolopts.h"
#include "eval/fid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: feature-stats [-o OUT.npz] [FEATURES ...]\n"
    "       feature-stats --merge [-o OUT.npz] PARTIAL.npz ...\n"
    "Accumulate the statistics of feature vectors read from .npy streams (arrays of shape (N,d),\n"
    "float32 or float64, back to back; stdin when no FEATURES or for '-') in one pass, with memory\n"
    "that does not grow with N, and write an .npz with\n"
    "  mu       (d,)  float64  the mean, as np.mean(x, axis=0)\n"
    "  sigma    (d,d) float64  the covariance with N-1, as np.cov(x, rowvar=False)\n"
    "  count    ()    int64    N\n"
    "  scatter  (d,d) float64  sum of (x - mu)(x - mu)^T, so that partial files merge\n"
    "fid reads mu and sigma; --merge combines partial files (count, mu, scatter) exactly as if\n"
    "all their features had been read in one run. OUT defaults to stdout ('-').\n"
    "--device cpu: the accumulation is float64 on the CPU (no CUDA path; cuda is refused).\n"
    "Exit status: 0 ok, 2 bad usage or bad input (one line on stderr), 1 a runtime failure, 3 a NaN\n"
    "or Inf in the features or the stats files (or statistics that overflow float64).\n";

int main(int argc, char **argv) {
    progname = "feature-stats";
    const char *out = "-";
    int merge = 0, nin = 0;
    enum { MERGE = TOPT_FIRST };
    static const struct option longopts[] = {{"out", 1, 0, 'o'}, {"merge", 0, 0, MERGE}, {0, 0, 0, 0}};
    toolopts opts;
    topt_begin(&opts, argc, argv, usage, "o:", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&opts)) != -1;) {
        switch (c) {
        case 'o': out = optarg; break;
        case MERGE: merge = 1; break;
        }
    }
    const char **in = xcalloc((size_t)argc, sizeof *in);
    while (optind < argc) in[nin++] = argv[optind++];
    check_output_dir(out, "-o");   /* before any work */
    char err[1024];
    fstats s;
    if (merge) {
        if (nin < 1) die_usage("--merge expects partial stats files, found none");
        int rc = fstats_load(&s, in[0], err, sizeof err);
        if (rc) die_input(rc, err);
        for (int k = 1; k < nin; k++) {
            fstats t;
            if ((rc = fstats_load(&t, in[k], err, sizeof err))) die_input(rc, err);
            if (t.d != s.d)
                die_usage("%s: expected statistics of dimension %lld (as %s), found %lld", in[k], (long long)s.d, in[0],
                          (long long)t.d);
            fstats_merge(&s, &t, err, sizeof err);
            fstats_free(&t);
        }
    } else {
        if (nin == 0) in[nin++] = "-";   /* argc >= 1, so there is room */
        int64_t d = -1;
        int inited = 0;
        for (int k = 0; k < nin; k++) {
            int is_stdin = strcmp(in[k], "-") == 0;
            FILE *f = is_stdin ? stdin : fopen(in[k], "rb");
            if (!f) die_usage("expected a readable file, found '%s': %s", in[k], strerror(errno));
            struct stat st;
            if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))
                die_usage("expected a readable file, found '%s': %s", in[k], strerror(EISDIR));
            npy_array a;
            int r, io;
            for (long idx = 0; (r = feat_read(f, in[k], idx, &d, &a, &io, err, sizeof err)) == 1; idx++) {
                if (!inited) { fstats_init(&s, d); inited = 1; }
                int bad = a.dtype == NPY_F4 ? fstats_add_f32(&s, a.data, a.shape[0], err, sizeof err)
                                            : fstats_add_f64(&s, a.data, a.shape[0], err, sizeof err);
                if (bad) die_input(bad, err);   /* feat_read has checked the values */
                npy_free(&a);
            }
            if (r < 0) {
                if (io) die_runtime("%s", err);
                die_input(r, err);
            }
            if (!is_stdin) fclose(f);
        }
        if (!inited) die_usage("expected at least 2 feature vectors, found 0");
    }
    int rc = fstats_save(&s, out, err, sizeof err);
    if (rc) {
        if (s.count < 2) die_usage("%s", err);
        if (rc == ERR_NONFINITE) die_nonfinite("%s", err);
        die_runtime("%s", err);
    }
    fstats_free(&s);
    free(in);
    if (strcmp(out, "-") == 0) close_stdout_or_die();
    return EXIT_OK;
}
