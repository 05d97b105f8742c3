/* noise: a stream of float32 standard-normal noise (B,Z) from Philox, optionally truncated as
 * DF-GAN samples with the truncation trick (truncated normal at ±T, scaled by R).
 *
 * Element n of the stream (counting across batches, row-major) is drawn from its own Philox
 * stream (NOISE_STREAM + n) under key --seed, so the values depend only on (seed, n): the same
 * seed gives the same numbers whatever the batch size, and a device port can draw any element
 * independently. Rejections for --truncate stay inside the element's own stream. */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/toolopts.h"
#include "io/npy.h"
#include "core/rng.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Streams 0.. are taken by weight initialisation (one per parameter tensor); noise lives far above. */
#define NOISE_STREAM (UINT64_C(1) << 62)

static const char usage[] =
    "usage: noise --batch B --dim Z --batches N [--seed K] [--truncate T] [--trunc-rate R] [-o FILE|-]\n"
    "\n"
    "Write N arrays of float32 (B,Z) standard-normal noise, back to back (an .npy stream), from the\n"
    "Philox generator: element n of the stream (counting across batches) depends only on the seed and n,\n"
    "so the same seed gives the same numbers for any batch size.\n"
    "\n"
    "options:\n"
    "  --batch B          rows per array (batch size)\n"
    "  --dim Z            columns (noise dimension)\n"
    "  --batches N        number of arrays\n"
    "  --seed K           generator seed (default 0)\n"
    "  --truncate T       truncated normal on [-T,T]: values outside are drawn again (DF-GAN samples with 2)\n"
    "  --trunc-rate R     multiply every value by R > 0 (DF-GAN's trunc_rate; default 1)\n"
    "  -o, --out FILE     output file, written atomically, or a FIFO; - is stdout (default)\n"
    "  --device cpu       the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage, 1 a write failure.\n";

typedef struct {
    long batch, dim, batches, seed;
    double truncate, rate;
    const char *out;
} options;

static void parse(options *o, int argc, char **argv) {
    enum { BATCH = TOPT_FIRST, DIM, BATCHES, SEED, TRUNC, RATE };
    static const struct option longopts[] = {
        {"batch", 1, 0, BATCH}, {"dim", 1, 0, DIM}, {"batches", 1, 0, BATCHES}, {"seed", 1, 0, SEED},
        {"truncate", 1, 0, TRUNC}, {"trunc-rate", 1, 0, RATE}, {"out", 1, 0, 'o'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->rate = 1.0;
    o->out = "-";
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case BATCH: o->batch = parse_long("--batch", optarg, 1, 1L << 24); break;
        case DIM: o->dim = parse_long("--dim", optarg, 1, 1L << 24); break;
        case BATCHES: o->batches = parse_long("--batches", optarg, 1, 1L << 40); break;
        case SEED: o->seed = parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case TRUNC:
            o->truncate = parse_double("--truncate", optarg);
            if (!(o->truncate > 0))   /* finite: parse_double */
                die_usage("--truncate expects a finite bound > 0, found '%s'", optarg);
            break;
        case RATE:
            o->rate = parse_double_in("--trunc-rate", optarg, 0, INFINITY, PD_LO_OPEN);
            break;
        case 'o': o->out = optarg; break;
        }
    }
    topt_end(&t);
    if (!o->batch || !o->dim || !o->batches)
        die_usage("expected --batch, --dim and --batches, found %s missing",
                  !o->batch ? "--batch" : !o->dim ? "--dim" : "--batches");
    if (o->batch * o->dim > (1L << 28))
        die_usage("expected --batch times --dim at most %ld, found %ld", 1L << 28, o->batch * o->dim);
}

/* Element n: a standard normal from its own Philox stream; with trunc > 0, drawn again until |x| <= trunc. */
static float draw(uint64_t seed, uint64_t n, double trunc, double rate) {
    rng_t r;
    rng_init(&r, seed, NOISE_STREAM + n);
    double x = rng_normal(&r);
    while (trunc > 0 && fabs(x) > trunc) x = rng_normal(&r);
    return (float)(x * rate);
}

int main(int argc, char **argv) {
    progname = "noise";
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work */
    check_output_dir(o.out, "-o");
    size_t per = (size_t)o.batch * (size_t)o.dim;
    float *buf = xmalloc(per * sizeof(float));
    atomic_file *af = af_open(o.out);
    int64_t shape[2] = {o.batch, o.dim};
    for (long b = 0; b < o.batches; b++) {
        uint64_t base = (uint64_t)b * per;
        for (size_t k = 0; k < per; k++) buf[k] = draw((uint64_t)o.seed, base + k, o.truncate, o.rate);
        if (npy_write(af_stream(af), NPY_F4, 2, shape, buf) != 0)
            die_runtime("expected to write noise to '%s', found %s", o.out, strerror(errno));
    }
    af_commit(af);
    if (!strcmp(o.out, "-")) close_stdout_or_die();
    free(buf);
    return 0;
}
