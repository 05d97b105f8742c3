/* pipe_rate: what a pipe between two of our tools carries per second, with the tools' own .npy
 * writer and reader (lib/io/npy.c, lib/io/stream.c), for bench/gpu_harvest.sh and the README's
 * estimate of the pipes' share of a GPU step.
 *
 *   pipe_rate write [--shape B,C,H,W] [--count N] > FIFO    N float32 arrays (default 20 of the
 *                                                           bird config's fakes, 32,3,256,256)
 *   pipe_rate read < FIFO                                   reads them as gen-step reads --grad;
 *                                                           prints "arrays N bytes X seconds S
 *                                                           mb_per_s R", timed from the first
 *                                                           array's arrival to the end
 */
#include "core/common.h"
#include "io/npy.h"
#include "io/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    progname = "pipe_rate";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: pipe_rate write [--shape B,C,H,W] [--count N] | pipe_rate read\n");
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "write")) {
        int64_t shape[4] = {32, 3, 256, 256};
        long count = 20;
        for (int i = 2; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--count")) count = parse_long("--count", argv[i + 1], 1, 1L << 20);
            else if (!strcmp(argv[i], "--shape")) {
                if (sscanf(argv[i + 1], "%ld,%ld,%ld,%ld", &shape[0], &shape[1], &shape[2], &shape[3]) != 4)
                    die_usage("--shape expects B,C,H,W, found '%s'", argv[i + 1]);
            } else die_usage("expected --shape or --count, found '%s'", argv[i]);
        }
        size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
        float *x = xcalloc(n, sizeof *x);
        for (size_t i = 0; i < n; i++) x[i] = (float)(i % 1000) * 1e-3f;
        for (long k = 0; k < count; k++)
            if (npy_write(stdout, NPY_F4, 4, shape, x) != 0) die_runtime("expected to write array %ld, found a write error", k);
        close_stdout_or_die();
        free(x);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "read")) die_usage("expected write or read, found '%s'", argv[1]);
    tstream s;
    ts_open(&s, "stdin", "-");
    npy_array a;
    int64_t want[4] = {-1, -1, -1, -1};
    double t0 = 0, bytes = 0;
    long n = 0;
    while (ts_read_f32(&s, 4, want, "(B,C,H,W)", &a) == 1) {
        if (n++ == 0) t0 = now();   /* the first array's arrival: the writer's start-up left out */
        else bytes += (double)a.count * sizeof(float);
        npy_free(&a);
    }
    double secs = now() - t0;
    ts_close(&s);
    printf("arrays %ld bytes %.0f seconds %.4f mb_per_s %.1f\n", n, bytes, secs, n > 1 ? bytes / secs / 1e6 : 0.0);
    return EXIT_OK;
}
