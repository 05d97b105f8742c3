/* step_args.h: what the DF-GAN step benchmarks share (step_bench.c, dist_bench.c): their command line,
 * --imsize --nf --batch --cond --z --steps --device, each followed by its value, and their clocks. */
#ifndef DFGAN_BENCH_STEP_ARGS_H
#define DFGAN_BENCH_STEP_ARGS_H
#include "core/common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* wall seconds */
static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* CPU seconds used by all of the process's threads (what a step costs the machine, much less
 * disturbed than wall time when other work shares the cores) */
static inline double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct {
    int imsize, nf, B, cond, z, steps;
    const char *device;
} step_args;

/* a holds the defaults on entry; dies naming an unknown option */
static inline void step_args_parse(step_args *a, int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--imsize")) a->imsize = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--nf")) a->nf = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) a->B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cond")) a->cond = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--z")) a->z = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) a->steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--device")) a->device = argv[i + 1];
        else die_usage("expected a known option, found '%s'", argv[i]);
    }
}
#endif
