/* synth-shapes: a tiny deterministic "captioned image" source for the embedded default job.
 *
 * Each sample is one coloured shape on a plain background, drawn with 4x4 supersampling so the
 * edges are anti-aliased. Its attributes (shape, colour, size, position, background) are drawn from
 * Philox under key --seed, sample i from its own stream (SAMPLE_STREAM + i), so a sample depends
 * only on (seed, i): the first batches are the same whatever --batches says. The "sentence
 * embedding" of a sample is P·onehot(attributes), with P a fixed (C,23) random projection (its
 * own fixed key, not --seed: it plays the text encoder, the same for every dataset). */
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

#define SAMPLE_STREAM (UINT64_C(2) << 62)  /* clear of init's streams 0.. and noise's 1<<62 */
#define PROJ_KEY UINT64_C(0x5348415045530000) /* "SHAPES": the projection's fixed key */
#define SS 4                                  /* supersampling per axis */

static const char *const shape_names[] = {"square", "circle", "triangle", "diamond", "cross"};
static const char *const colour_names[] = {"red", "green", "blue", "yellow", "purple", "orange"};
static const float colours[][3] = {{.85f, .1f, .1f}, {.1f, .7f, .2f}, {.15f, .25f, .9f},
                                   {.95f, .85f, .1f}, {.6f, .15f, .75f}, {.95f, .55f, .1f}};
static const char *const size_names[] = {"small", "medium", "large"};
static const double sizes[] = {0.16, 0.24, 0.34}; /* half-extent as a fraction of the side */
static const char *const pos_names[] = {"centre", "top left", "top right", "bottom left", "bottom right"};
static const int pos_dir[][2] = {{0, 0}, {-1, -1}, {1, -1}, {-1, 1}, {1, 1}}; /* (x, y) */
static const char *const bg_names[] = {"black", "white", "grey", "beige"};
static const float bgs[][3] = {{.05f, .05f, .05f}, {.97f, .97f, .97f}, {.5f, .5f, .5f}, {.9f, .84f, .7f}};

#define N(a) ((int)(sizeof a / sizeof a[0]))
enum { NSHAPE = N(shape_names), NCOL = N(colour_names), NSIZE = N(size_names), NPOS = N(pos_names),
       NBG = N(bg_names), NATTR = NSHAPE + NCOL + NSIZE + NPOS + NBG };

static const char usage[] =
    "usage: synth-shapes --imsize S --batch B --batches N --cond-dim C [--seed K] --images FILE --cond FILE\n"
    "                    [--captions FILE]\n"
    "\n"
    "A synthetic captioned-image source: N batches of B images, each one coloured shape drawn\n"
    "anti-aliased on a plain background, and their \"sentence embeddings\". Streams (.npy arrays back\n"
    "to back, one per batch, written alternately batch by batch; files are written atomically):\n"
    "  --images   float32 (B,3,S,S) NCHW in [-1,1]\n"
    "  --cond     float32 (B,C): a fixed random projection (the same for every seed) of the one-hot\n"
    "             attributes, so the condition carries them:\n"
    "               shape       square circle triangle diamond cross\n"
    "               colour      red green blue yellow purple orange\n"
    "               size        small medium large\n"
    "               position    centre, top left, top right, bottom left, bottom right\n"
    "               background  black white grey beige\n"
    "  --captions  (optional) one English caption per sample, one a line, in the same order (batch\n"
    "             by batch), saying the same attributes in one of a few phrasings picked per sample\n"
    "             (\"a small red circle in the top left on a grey background\", ...); it does not\n"
    "             change the other outputs\n"
    "Sample i depends only on the seed and i, so the first batches do not depend on N.\n"
    "\n"
    "options:\n"
    "  --imsize S      image side in pixels (8 to 4096)\n"
    "  --batch B       images per batch;  --batches N  number of batches\n"
    "  --cond-dim C    embedding size\n"
    "  --seed K        dataset seed (default 0)\n"
    "  --images FILE, --cond FILE, --captions FILE   outputs (- is stdout, for one of them)\n"
    "  --device cpu    the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage, 1 a write failure.\n";

typedef struct {
    long imsize, batch, batches, cond_dim, seed;
    const char *images, *cond, *captions;
} options;

static void parse(options *o, int argc, char **argv) {
    enum { IMSIZE = TOPT_FIRST, BATCH, BATCHES, CONDDIM, SEED, IMAGES, COND, CAPTIONS };
    static const struct option longopts[] = {
        {"imsize", 1, 0, IMSIZE}, {"batch", 1, 0, BATCH}, {"batches", 1, 0, BATCHES},
        {"cond-dim", 1, 0, CONDDIM}, {"seed", 1, 0, SEED}, {"images", 1, 0, IMAGES}, {"cond", 1, 0, COND},
        {"captions", 1, 0, CAPTIONS}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    toolopts t;
    topt_begin(&t, argc, argv, usage, "", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case IMSIZE: o->imsize = parse_long("--imsize", optarg, 8, 4096); break;
        case BATCH: o->batch = parse_long("--batch", optarg, 1, 1L << 20); break;
        case BATCHES: o->batches = parse_long("--batches", optarg, 1, 1L << 40); break;
        case CONDDIM: o->cond_dim = parse_long("--cond-dim", optarg, 1, 1L << 20); break;
        case SEED: o->seed = parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case IMAGES: o->images = optarg; break;
        case COND: o->cond = optarg; break;
        case CAPTIONS: o->captions = optarg; break;
        }
    }
    topt_end(&t);
    const char *missing = !o->imsize ? "--imsize" : !o->batch ? "--batch" : !o->batches ? "--batches"
                        : !o->cond_dim ? "--cond-dim" : !o->images ? "--images" : !o->cond ? "--cond" : NULL;
    if (missing) die_usage("expected --imsize, --batch, --batches, --cond-dim, --images and --cond, found %s missing", missing);
    if (!strcmp(o->images, o->cond)) die_usage("expected different paths for --images and --cond, found '%s' twice", o->images);
    if (o->captions && (!strcmp(o->captions, o->images) || !strcmp(o->captions, o->cond)))
        die_usage("expected different paths for --images, --cond and --captions, found '%s' twice", o->captions);
    if ((double)o->batch * 3 * o->imsize * o->imsize > (double)(1L << 30))
        die_usage("expected a batch of at most 2^30 values, found %ld images of %ldx%ld", o->batch, o->imsize, o->imsize);
}

/* Is (u,v), relative to the shape's centre in units of its half-extent, inside the shape? */
static int inside(int shape, double u, double v) {
    double au = fabs(u), av = fabs(v);
    switch (shape) {
    case 0: return au <= 0.85 && av <= 0.85;                   /* square (about a circle's area) */
    case 1: return u * u + v * v <= 1;                           /* circle */
    case 2: return v <= 0.75 && av <= 1 && au <= (v + 1) * 0.5;  /* triangle, apex up */
    case 3: return au + av <= 1.1;                               /* diamond */
    default: return (au <= 0.33 && av <= 0.95) || (av <= 0.33 && au <= 0.95); /* cross */
    }
}

typedef struct { int shape, colour, size, pos, bg; double cx, cy, r; } sample;

static sample draw_sample(uint64_t seed, uint64_t i) {
    rng_t g;
    rng_init(&g, seed, SAMPLE_STREAM + i);
    sample s;
    s.shape = (int)(rng_u32(&g) % NSHAPE);
    s.colour = (int)(rng_u32(&g) % NCOL);
    s.size = (int)(rng_u32(&g) % NSIZE);
    s.pos = (int)(rng_u32(&g) % NPOS);
    s.bg = (int)(rng_u32(&g) % NBG);
    s.r = sizes[s.size] * (0.92 + 0.16 * rng_uniform(&g));       /* a little jitter: the words stay true */
    double d = (0.5 - s.r) * 0.8;
    s.cx = 0.5 + pos_dir[s.pos][0] * d + 0.04 * (rng_uniform(&g) - 0.5);
    s.cy = 0.5 + pos_dir[s.pos][1] * d + 0.04 * (rng_uniform(&g) - 0.5);
    return s;
}

#define CAPTION_STREAM (UINT64_C(3) << 62)  /* the phrasing's own stream: draw_sample's draws unchanged */

/* "a" or "an" before word w */
static const char *article(const char *w) { return strchr("aeiou", w[0]) ? "an" : "a"; }

/* One caption for sample i: its attributes in one of a few phrasings, picked from (seed, i). */
static void caption(FILE *f, uint64_t seed, uint64_t i, const sample *s) {
    rng_t g;
    rng_init(&g, seed, CAPTION_STREAM + i);
    const char *sh = shape_names[s->shape], *co = colour_names[s->colour], *sz = size_names[s->size],
               *po = pos_names[s->pos], *bg = bg_names[s->bg];
    switch (rng_u32(&g) % 6) {
    case 0: fprintf(f, "%s %s %s %s in the %s on a %s background\n", article(sz), sz, co, sh, po, bg); break;
    case 1: fprintf(f, "%s %s %s, %s, at the %s of a %s picture\n", article(co), co, sh, sz, po, bg); break;
    case 2: fprintf(f, "this image shows %s %s %s %s placed in the %s against %s\n", article(sz), sz, co, sh, po, bg); break;
    case 3: fprintf(f, "%s %s background with %s %s %s %s in the %s\n", article(bg), bg, article(sz), sz, co, sh, po); break;
    case 4: fprintf(f, "there is %s %s %s that is %s, in the %s, on %s\n", article(co), co, sh, sz, po, bg); break;
    default: fprintf(f, "%s %s in the %s, %s and %s, on a plain %s background\n", article(sh), sh, po, sz, co, bg); break;
    }
}

/* img: (3,S,S) in [-1,1] */
static void render(float *img, const sample *s, int S) {
    const float *fg = colours[s->colour], *bg = bgs[s->bg];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int hits = 0;
            for (int j = 0; j < SS; j++)
                for (int k = 0; k < SS; k++) {
                    double px = (x + (k + 0.5) / SS) / S, py = (y + (j + 0.5) / SS) / S;
                    hits += inside(s->shape, (px - s->cx) / s->r, (py - s->cy) / s->r);
                }
            float a = (float)hits / (SS * SS);
            for (int ch = 0; ch < 3; ch++)
                img[((size_t)ch * S + y) * S + x] = 2.0f * (bg[ch] + (fg[ch] - bg[ch]) * a) - 1.0f;
        }
}

int main(int argc, char **argv) {
    progname = "synth-shapes";
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work */
    check_output_dir(o.images, "--images");
    check_output_dir(o.cond, "--cond");
    check_output_dir(o.captions, "--captions");
    int S = (int)o.imsize, B = (int)o.batch, C = (int)o.cond_dim;
    /* P (C, NATTR): N(0,1)/sqrt(5), so an embedding (the sum of 5 columns) has unit variance per entry */
    float *P = xmalloc((size_t)C * NATTR * sizeof(float));
    rng_t pr;
    rng_init(&pr, PROJ_KEY, 0);
    for (size_t k = 0; k < (size_t)C * NATTR; k++) P[k] = (float)(rng_normal(&pr) / sqrt(5.0));
    size_t img_n = (size_t)3 * S * S;
    float *imgs = xmalloc((size_t)B * img_n * sizeof(float)), *cond = xmalloc((size_t)B * C * sizeof(float));
    atomic_file *ai = af_open(o.images), *ac = af_open(o.cond), *at = o.captions ? af_open(o.captions) : NULL;
    int64_t ishape[4] = {B, 3, S, S}, cshape[2] = {B, C};
    for (long b = 0; b < o.batches; b++) {
        for (int i = 0; i < B; i++) {
            sample s = draw_sample((uint64_t)o.seed, (uint64_t)b * B + i);
            render(imgs + i * img_n, &s, S);
            if (at) caption(af_stream(at), (uint64_t)o.seed, (uint64_t)b * B + i, &s);
            int on[5] = {s.shape, NSHAPE + s.colour, NSHAPE + NCOL + s.size, NSHAPE + NCOL + NSIZE + s.pos,
                         NSHAPE + NCOL + NSIZE + NPOS + s.bg};
            for (int c = 0; c < C; c++) {
                float v = 0;
                for (int a = 0; a < 5; a++) v += P[(size_t)c * NATTR + on[a]];
                cond[(size_t)i * C + c] = v;
            }
        }
        if (npy_write(af_stream(ai), NPY_F4, 4, ishape, imgs) != 0)
            die_runtime("expected to write images to '%s', found %s", o.images, strerror(errno));
        if (npy_write(af_stream(ac), NPY_F4, 2, cshape, cond) != 0)
            die_runtime("expected to write embeddings to '%s', found %s", o.cond, strerror(errno));
    }
    af_commit(ai);
    af_commit(ac);
    if (at) {
        if (ferror(af_stream(at))) die_runtime("expected to write captions to '%s', found a write error", o.captions);
        af_commit(at);
    }
    if (!strcmp(o.images, "-") || !strcmp(o.cond, "-") || (o.captions && !strcmp(o.captions, "-"))) close_stdout_or_die();
    free(P); free(imgs); free(cond);
    return 0;
}
