/* shard_io_bench: what a rank's input costs per step, the two ways a rank can get its B/N rows of a
 * shared stream file of (B, X) float32 arrays (one array a step):
 *   whole   read every array whole (io/stream.h, as a pipe must be read), the rank's rows used in place
 *   rows    read only the rank's rows, seeking over the others' (train/shard.h, what the tools do)
 * Run as the ranks of an MPI job (mpirun -np N shard_io_bench FILE) so that N readers share the
 * machine's page cache and memory bandwidth as N ranks do.
 *   shard_io_bench FILE [--reps 3]
 * Rank 0 prints per strategy: the bytes a rank reads per step and the seconds a step's read takes
 * (the slowest rank's, best of the repetitions). */
#include "core/common.h"
#include "core/dist.h"
#include "io/stream.h"
#include "train/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* one pass over the file: seconds per array (the slowest rank's), bytes this rank read per array */
static double pass(const char *path, int rows_only, double *bytes) {
    long arrays = 0;
    double got = 0;
    dist_sum(&(double){0}, 1);                   /* a barrier: the ranks start together */
    const double t0 = now();
    if (rows_only) {
        shard_group g;
        shg_open(&g, 1, (const ts_member[]){{"FILE", path, 2, {-1, -1}}});
        npy_array a;
        while (shg_read(&g, 0, &a)) { got += (double)a.count * 4; arrays++; npy_free(&a); }
        shg_close(&g);
    } else {
        tstream s;
        ts_open(&s, "FILE", path);
        npy_array a;
        while (ts_read_f32(&s, 2, NULL, NULL, &a)) {
            /* the rank's rows are a.data + r·(B/N)·X, used in place: only the read is timed */
            got += (double)a.count * 4;
            arrays++;
            npy_free(&a);
        }
        ts_close(&s);
    }
    double t = now() - t0;
    long lo, hi;
    dist_minmax((long)(t * 1e6), &lo, &hi);      /* the slowest rank, in microseconds */
    *bytes = got / arrays;
    return hi * 1e-6 / arrays;
}

int main(int argc, char **argv) {
    progname = "shard_io_bench";
    dist_start();
    if (argc < 2) die_usage("expected FILE [--reps K], found no FILE");
    int reps = argc > 3 && !strcmp(argv[2], "--reps") ? atoi(argv[3]) : 3;
    dist_init(DEVICE_CPU);
    const char *names[2] = {"whole", "rows"};
    for (int k = 0; k < 2; k++) {
        double best = 1e30, bytes = 0;
        for (int i = 0; i < reps; i++) {
            double t = pass(argv[1], k, &bytes);
            if (t < best) best = t;
        }
        if (dist_rank() == 0)
            printf("%s ranks %d read_mb_per_step %.2f read_s_per_step %.5f\n", names[k], dist_size(), bytes / 1e6, best);
    }
    dist_finish();
    return 0;
}
