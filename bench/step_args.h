/* step_args.h: the command line the DF-GAN step benchmarks share (step_bench.c, dist_bench.c):
 * --imsize --nf --batch --cond --z --steps --device, each followed by its value. */
#ifndef DFGAN_BENCH_STEP_ARGS_H
#define DFGAN_BENCH_STEP_ARGS_H
#include "core/common.h"

#include <stdlib.h>
#include <string.h>

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
