/* batches: one epoch of training batches from the import caches, as DF-GAN's DataLoader gives
 * them (shuffle=True, drop_last=True, RandomCrop(imsize), RandomHorizontalFlip(), ToTensor,
 * Normalize(0.5, 0.5)), with one caption per image drawn uniformly from that image's own K
 * captions (DF-GAN draws randint(0, K) inclusive, which sometimes takes the next image's first
 * caption; this does not).
 *
 * Randomness: Philox under key --seed; the epoch's permutation (Fisher-Yates) from stream
 * BATCH_STREAM + 2·epoch, the per-sample draws (caption, crop row, crop column, flip, in that
 * order, sample by sample in batch order) from stream BATCH_STREAM + 2·epoch + 1; bounded
 * integers by rejection, so every value is exactly equally likely. The same (seed, epoch) gives
 * the same bytes. The caches are read by memory map.
 *
 * Two image caches (lib/image/image_cache.h): the square uint8 (N,3,R,R), or with --shapes the exact
 * one, every image at its own size H_i×W_i, the crop drawn over its own (H_i-S+1)×(W_i-S+1)
 * positions as torchvision's RandomCrop (row then column, each uniform). --no-augment takes
 * torchvision's CenterCrop instead and no flip, for test and evaluation images; it draws the same
 * numbers and discards the crop and flip ones, so the order and the captions stay those of the
 * augmented run of the same (seed, epoch). */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/finite.h"
#include "core/toolopts.h"
#include "image/image_cache.h"
#include "io/npy.h"
#include "core/rng.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define BATCH_STREAM (UINT64_C(5) << 60)   /* clear of init's, noise's and the datasets' streams */

static const char usage[] =
    "usage: batches --cache F.npy [--shapes F.npy] --emb F.npy --imsize S --batch B --epoch E\n"
    "               [--seed K] --images F --cond F [--index F] [--max-batches M]\n"
    "               [--captions-per-image K] [--no-augment]\n"
    "\n"
    "Reads the image cache: uint8 (N,3,R,R) (import-cub --images), or with --shapes the exact\n"
    "cache, every image at its own size: uint8 (T,) pixels with int64 (N,3) rows (offset, H, W)\n"
    "(import-cub --images and --shapes). And the per-caption cache, (N*K,D) float32 (sentence\n"
    "embeddings) or int32 (token ids), rows i*K..i*K+K-1 being image i's captions.\n"
    "Writes epoch E's floor(N/B) batches (drop_last; at most M with --max-batches) as streams,\n"
    "one array per batch, written batch by batch (each file atomically; FIFOs and - are written\n"
    "as they go):\n"
    "  --images F   float32 (B,3,S,S) in [-1,1]: (x/255-0.5)/0.5 of a random SxS crop of the\n"
    "               image (uniform over its (H-S+1)x(W-S+1) positions), flipped left-right with\n"
    "               probability 1/2 (RandomCrop, RandomHorizontalFlip)\n"
    "  --cond F     (B,D) the chosen caption rows, in the cache's dtype\n"
    "  --index F    int32 (B,5): image index, caption row (image*K + k), crop row, crop column,\n"
    "               flipped (0/1)\n"
    "Every image appears at most once per epoch, in an order drawn from (seed, epoch).\n"
    "\n"
    "options:\n"
    "  --no-augment    for test and evaluation images: the centre SxS crop as torchvision's\n"
    "                  CenterCrop (top int(round((H-S)/2)), left int(round((W-S)/2))), never\n"
    "                  flipped (the index says flip 0); order and captions as without it\n"
    "  --captions-per-image K   default: rows of --emb / N (must divide evenly)\n"
    "  --seed K        default 0\n"
    "  --device cpu    the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help      this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or bad input data, 1 a read or write failure, 3 a NaN or Inf in\n"
    "the float32 --emb.\n";

typedef struct {
    const char *cache, *shapes, *emb, *images, *cond, *index;
    long imsize, batch, epoch, seed, max_batches, k;
    int have_epoch, no_augment;
} options;

static void parse(options *o, int argc, char **argv)
{
    enum { CACHE = TOPT_FIRST, EMB, IMSIZE, BATCH, EPOCH, SEED, IMAGES, COND, INDEX, MAXB, K, SHAPES, NOAUG };
    static const struct option longopts[] = {
        {"cache", 1, 0, CACHE}, {"emb", 1, 0, EMB}, {"imsize", 1, 0, IMSIZE}, {"batch", 1, 0, BATCH},
        {"epoch", 1, 0, EPOCH}, {"seed", 1, 0, SEED}, {"images", 1, 0, IMAGES}, {"cond", 1, 0, COND},
        {"index", 1, 0, INDEX}, {"max-batches", 1, 0, MAXB}, {"captions-per-image", 1, 0, K},
        {"shapes", 1, 0, SHAPES}, {"no-augment", 0, 0, NOAUG}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->max_batches = -1;
    toolopts t;
    topt_begin(&t, argc, argv, usage, "", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case CACHE: o->cache = optarg; break;
        case EMB: o->emb = optarg; break;
        case IMSIZE: o->imsize = parse_long("--imsize", optarg, 1, 4096); break;
        case BATCH: o->batch = parse_long("--batch", optarg, 1, 1L << 20); break;
        case EPOCH: o->epoch = parse_long("--epoch", optarg, 0, 1L << 40); o->have_epoch = 1; break;
        case SEED: o->seed = parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case IMAGES: o->images = optarg; break;
        case COND: o->cond = optarg; break;
        case INDEX: o->index = optarg; break;
        case MAXB: o->max_batches = parse_long("--max-batches", optarg, 0, 1L << 40); break;
        case K: o->k = parse_long("--captions-per-image", optarg, 1, 1L << 20); break;
        case SHAPES: o->shapes = optarg; break;
        case NOAUG: o->no_augment = 1; break;
        }
    }
    topt_end(&t);
    const char *missing = !o->cache ? "--cache" : !o->emb ? "--emb" : !o->imsize ? "--imsize" : !o->batch ? "--batch"
                        : !o->have_epoch ? "--epoch" : !o->images ? "--images" : !o->cond ? "--cond" : NULL;
    if (missing) die_usage("expected --cache, --emb, --imsize, --batch, --epoch, --images and --cond, found %s missing", missing);
    const char *outs[3] = {o->images, o->cond, o->index};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (outs[i] && outs[j] && !strcmp(outs[i], outs[j]))
                die_usage("expected different output paths, found '%s' twice", outs[i]);
}

/* A whole .npy file mapped read-only; data points at the array. */
typedef struct { npy_header h; const unsigned char *data; void *map; size_t maplen; } mapped;

static void map_npy(mapped *m, const char *flag, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) die_usage("%s: expected a readable file, found '%s': %s", flag, path, strerror(errno));
    char err[256];
    int r = npy_read_header(f, &m->h, err, sizeof err);
    if (r != 1) die_usage("%s: %s", flag, r == 0 ? "expected an .npy array, found an empty file" : err);
    if (m->h.swap) die_usage("%s: expected native byte order, found a byte-swapped array in '%s'", flag, path);
    long off = ftell(f);
    struct stat st;
    if (off < 0 || fstat(fileno(f), &st) != 0) die_runtime("%s: expected to stat '%s', found %s", flag, path, strerror(errno));
    size_t bytes = (size_t)m->h.count * npy_dtype_size(m->h.dtype);
    if ((size_t)st.st_size < (size_t)off + bytes)
        die_usage("%s: expected %zu bytes of array data in '%s', found %lld (truncated file)", flag, bytes, path,
                  (long long)st.st_size - off);
    m->maplen = (size_t)off + bytes;
    m->map = m->maplen ? mmap(NULL, m->maplen, PROT_READ, MAP_PRIVATE, fileno(f), 0) : NULL;
    if (m->map == MAP_FAILED) die_runtime("%s: expected to map '%s', found %s", flag, path, strerror(errno));
    m->data = (const unsigned char *)m->map + off;
    fclose(f);
}

/* Uniform integer in [0, n), n >= 1, by rejection. */
static uint32_t below(rng_t *g, uint32_t n)
{
    uint32_t lim = UINT32_MAX - (uint32_t)((UINT64_C(1) << 32) % n), x;
    while ((x = rng_u32(g)) > lim) {}
    return x % n;
}

int main(int argc, char **argv)
{
    progname = "batches";
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work */
    check_output_dir(o.images, "--images");
    check_output_dir(o.cond, "--cond");
    check_output_dir(o.index, "--index");
    mapped cm, sm = {0}, em;
    map_npy(&cm, "--cache", o.cache);
    char s1[160], err[320];
    npy_format_shape(s1, sizeof s1, cm.h.ndim, cm.h.shape);
    long N, S = o.imsize, B = o.batch;
    const int64_t *shp = NULL;   /* (N,3) rows (offset, H, W) of the exact cache */
    long R = 0;                  /* the square cache's side */
    if (o.shapes) {
        if (cm.h.dtype != NPY_U1 || cm.h.ndim != 1)
            die_usage("--cache: expected uint8 (T,) with --shapes, found %s %s", npy_dtype_name(cm.h.dtype), s1);
        map_npy(&sm, "--shapes", o.shapes);
        npy_format_shape(s1, sizeof s1, sm.h.ndim, sm.h.shape);
        if (sm.h.dtype != NPY_I8 || sm.h.ndim != 2 || sm.h.shape[1] != 3 || sm.h.shape[0] < 1)
            die_usage("--shapes: expected int64 (N,3), found %s %s", npy_dtype_name(sm.h.dtype), s1);
        N = (long)sm.h.shape[0];
        int64_t *rows = xmalloc((size_t)N * 3 * sizeof *rows);   /* copied: the mapped data need not be aligned */
        memcpy(rows, sm.data, (size_t)N * 3 * sizeof *rows);
        shp = rows;
        if (image_cache_check(shp, N, cm.h.shape[0], S, err, sizeof err) != 0)
            die_usage("--shapes: %s (--cache '%s', --imsize %ld)", err, o.cache, S);
    } else {
        if (cm.h.dtype != NPY_U1 || cm.h.ndim != 4 || cm.h.shape[1] != 3 || cm.h.shape[2] != cm.h.shape[3] || cm.h.shape[0] < 1)
            die_usage("--cache: expected uint8 (N,3,R,R)%s, found %s %s", cm.h.ndim == 1 ? " (a flat cache needs --shapes)" : "",
                      npy_dtype_name(cm.h.dtype), s1);
        N = (long)cm.h.shape[0];
        R = (long)cm.h.shape[2];
        if (S > R) die_usage("--imsize: expected at most the cache's side %ld, found %ld", R, S);
    }
    map_npy(&em, "--emb", o.emb);
    npy_format_shape(s1, sizeof s1, em.h.ndim, em.h.shape);
    if ((em.h.dtype != NPY_F4 && em.h.dtype != NPY_I4) || em.h.ndim != 2)
        die_usage("--emb: expected float32 or int32 (N*K,D), found %s %s", npy_dtype_name(em.h.dtype), s1);
    long rows = (long)em.h.shape[0], D = (long)em.h.shape[1];
    if (em.h.dtype == NPY_F4)   /* sentence embeddings: the step tools' --cond */
        require_finite(&(npy_array){NPY_F4, 2, {rows, D}, em.h.count, (void *)em.data}, "--emb", "in '%s'", o.emb);
    long K = o.k ? o.k : rows / N;
    if (K < 1 || rows != N * K)
        die_usage("--emb: expected %s rows for %ld images, found %ld", o.k ? "N*K" : "a multiple of N", N, rows);
    if (B > N) die_usage("--batch: expected at most the %ld images, found %ld", N, B);
    long nb = N / B;
    if (o.max_batches >= 0 && o.max_batches < nb) nb = o.max_batches;

    rng_t pg, ag;
    rng_init(&pg, (uint64_t)o.seed, BATCH_STREAM + 2 * (uint64_t)o.epoch);
    rng_init(&ag, (uint64_t)o.seed, BATCH_STREAM + 2 * (uint64_t)o.epoch + 1);
    int32_t *perm = xmalloc((size_t)N * sizeof *perm);
    for (long i = 0; i < N; i++) perm[i] = (int32_t)i;
    for (long i = N - 1; i > 0; i--) {
        long j = (long)below(&pg, (uint32_t)(i + 1));
        int32_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }

    atomic_file *ai = af_open(o.images), *ac = af_open(o.cond), *ax = o.index ? af_open(o.index) : NULL;
    size_t esz = npy_dtype_size(em.h.dtype);
    float *img = xmalloc((size_t)B * 3 * S * S * sizeof(float));
    unsigned char *cond = xmalloc((size_t)B * D * esz + 1);
    int32_t *idx = xmalloc((size_t)B * 5 * sizeof(int32_t));
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - 0.5f) / 0.5f;   /* ToTensor, Normalize in float32 */
    for (long b = 0; b < nb; b++) {
        for (long s = 0; s < B; s++) {
            long n = perm[b * B + s];
            long H = shp ? (long)shp[n * 3 + 1] : R, W = shp ? (long)shp[n * 3 + 2] : R;
            const unsigned char *src = cm.data + (shp ? (size_t)shp[n * 3] : (size_t)n * 3 * R * R);
            long k = (long)below(&ag, (uint32_t)K);
            long y0 = (long)below(&ag, (uint32_t)(H - S + 1)), x0 = (long)below(&ag, (uint32_t)(W - S + 1));
            int flip = (int)below(&ag, 2);
            if (o.no_augment) {
                y0 = tv_center_offset((int)(H - S));
                x0 = tv_center_offset((int)(W - S));
                flip = 0;
            }
            float *dst = img + (size_t)s * 3 * S * S;
            for (int c = 0; c < 3; c++)
                for (long y = 0; y < S; y++) {
                    const unsigned char *row = src + ((size_t)c * H + y0 + y) * W + x0;
                    float *d = dst + ((size_t)c * S + y) * S;
                    if (flip) for (long x = 0; x < S; x++) d[x] = lut[row[S - 1 - x]];
                    else for (long x = 0; x < S; x++) d[x] = lut[row[x]];
                }
            memcpy(cond + (size_t)s * D * esz, em.data + (size_t)(n * K + k) * D * esz, (size_t)D * esz);
            int32_t *ix = idx + s * 5;
            ix[0] = (int32_t)n; ix[1] = (int32_t)(n * K + k); ix[2] = (int32_t)y0; ix[3] = (int32_t)x0; ix[4] = flip;
        }
        if (npy_write(af_stream(ai), NPY_F4, 4, (int64_t[]){B, 3, S, S}, img) != 0)
            die_runtime("expected to write images to '%s', found %s", o.images, strerror(errno));
        if (npy_write(af_stream(ac), em.h.dtype, 2, (int64_t[]){B, D}, cond) != 0)
            die_runtime("expected to write captions to '%s', found %s", o.cond, strerror(errno));
        if (ax && npy_write(af_stream(ax), NPY_I4, 2, (int64_t[]){B, 5}, idx) != 0)
            die_runtime("expected to write the index to '%s', found %s", o.index, strerror(errno));
    }
    af_commit(ai);
    af_commit(ac);
    if (ax) af_commit(ax);
    if (!strcmp(o.images, "-") || !strcmp(o.cond, "-") || (o.index && !strcmp(o.index, "-"))) close_stdout_or_die();
    free(img); free(cond); free(idx); free(perm); free((void *)shp);
    if (cm.map) munmap(cm.map, cm.maplen);
    if (sm.map) munmap(sm.map, sm.maplen);
    if (em.map) munmap(em.map, em.maplen);
    return 0;
}
