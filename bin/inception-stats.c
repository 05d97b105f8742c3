/* inception-stats: Inception-v3 pool3 features of images, and their mean and covariance (FID
 * statistics) accumulated in one pass with memory independent of N.
 *
 *   inception-stats --weights inception.npz [--variant fid|dfgan] [--batch N] [-o stats.npz]
 *                   [--features-out F.npy] [--device cpu|cuda] [INPUT ...]
 *   inception-stats --init [--seed K] -o inception.npz
 *
 * The network and its input transforms are lib/models/inception.c; the statistics lib/eval/fid.c. */
#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "core/finite.h"
#include "core/toolopts.h"
#include "eval/fid.h"
#include "image/image_load.h"
#include "models/inception.h"
#include "io/stream.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char usage[] =
    "usage: inception-stats --weights W.npz [--variant fid|dfgan] [--batch N] [-o OUT.npz]\n"
    "                       [--features-out F.npy] [--device cpu|cuda] [INPUT ...]\n"
    "       inception-stats --init [--seed K] -o W.npz\n"
    "Inception-v3 pool3 features (2048-d) of images, and their statistics in one pass:\n"
    "  mu (d,) float64, sigma (d,d) float64 (N-1, as np.cov(rowvar=False)), count () int64 and\n"
    "  scatter (d,d) float64, so that partial files merge with `feature-stats --merge`; `fid` reads\n"
    "  them. OUT defaults to stdout ('-').\n"
    "INPUT: a stream of float32 (B,3,H,W) arrays in [-1,1] (.npy back to back; '-' or no INPUT:\n"
    "  stdin), a PNG or JPEG file (read as PIL's convert('RGB'), scaled to [0,1] as pytorch-fid\n"
    "  does), or a folder (its *.png, *.jpg, *.jpeg files in name order). Any H and W: images are\n"
    "  resized to 299x299.\n"
    "  --weights W.npz     torchvision inception_v3 state_dict keys (bin/ckpt import converts\n"
    "                      torchvision's and pytorch-fid's .pth); BatchNorm folded at load\n"
    "  --variant fid       (default) pytorch-fid/TTUR's FID Inception: resize align_corners=False,\n"
    "                      2x-1; FID blocks (count_include_pad=False avg pools, max pool in Mixed_7c)\n"
    "  --variant dfgan     DF-GAN's evaluation: torchvision's blocks, resize as its\n"
    "                      transforms.Resize((299,299)), ImageNet normalisation (transform_input)\n"
    "  --batch N           images per forward pass (default 16)\n"
    "  --features-out F    also write the features: float32 (n,2048) arrays back to back, one per\n"
    "                      forward pass, in input order\n"
    "  --init [--seed K]   write random weights (seed K, default 0) under the same keys; outputs\n"
    "                      made with them say so on stderr\n"
    "  --device cpu|cuda   where the network runs (default cpu); on cuda the weights are uploaded\n"
    "                      once and each image's resize and the network run on the GPU\n"
    "Exit status: 0 ok, 2 bad usage or bad input (one line on stderr), 1 a runtime failure, 3 a NaN\n"
    "or Inf in the images or the weights, or in the features or statistics made from them.\n";

typedef struct {
    inception m;
    fstats st;
    float *net_in, *feat;
    int nb, fill;
    long images;
    atomic_file *fout;
} runner;

static void run_batch(runner *r)
{
    if (!r->fill) return;
    inception_pack_input(&r->m, r->net_in, r->fill, r->nb);   /* a partial batch to (3,fill,299,299) */
    inception_forward(&r->m, r->feat, r->net_in, r->fill);
    /* finite images (checked as read) can still overflow the network */
    require_finite(&(npy_array){NPY_F4, 2, {r->fill, INCEPTION_DIM}, (int64_t)r->fill * INCEPTION_DIM, r->feat},
                   "Inception features", "of images %ld to %ld", r->images, r->images + r->fill - 1);
    char err[512];
    int rc = fstats_add_f32(&r->st, r->feat, r->fill, err, sizeof err);
    if (rc) die_input(rc, err);
    if (r->fout &&
        npy_write(af_stream(r->fout), NPY_F4, 2, (int64_t[]){r->fill, INCEPTION_DIM}, r->feat) != 0)
        die_runtime("--features-out: expected to write features, found: %s", strerror(errno));
    r->images += r->fill;
    r->fill = 0;
}

/* one image x (3,H,W) in [−1,1] */
static void add_image(runner *r, const float *x, int H, int W)
{
    inception_preprocess(&r->m, r->net_in, r->fill, r->nb, x, H, W);
    if (++r->fill == r->nb) run_batch(r);
}

static void add_stream(runner *r, FILE *f, const char *name)
{
    tstream s = {.f = f, .name = (char *)name};
    npy_array a;
    int64_t want[4] = {-1, 3, -1, -1};
    while (ts_read_f32(&s, 4, want, "(B,3,H,W)", &a) == 1) {   /* counts s.index */
        if (a.shape[2] < 1 || a.shape[3] < 1)
            die_usage("%s: expected images of at least 1x1 pixels, found (%lld,3,%lld,%lld) in array %ld", name,
                      (long long)a.shape[0], (long long)a.shape[2], (long long)a.shape[3], s.index - 1);
        size_t per = (size_t)3 * a.shape[2] * a.shape[3];
        for (int64_t b = 0; b < a.shape[0]; b++)
            add_image(r, (const float *)a.data + b * per, (int)a.shape[2], (int)a.shape[3]);
        npy_free(&a);
    }
}

static void add_image_file(runner *r, const char *path)
{
    unsigned char *rgb;
    int H, W;
    char err[512];
    if (image_load_rgb8(path, &rgb, &H, &W, err, sizeof err)) die_usage("%s", err);
    size_t HW = (size_t)H * W;
    float *x = xmalloc(3 * HW * sizeof(float));
    for (size_t i = 0; i < HW; i++)
        for (int c = 0; c < 3; c++) x[c * HW + i] = 2.0f * ((float)rgb[i * 3 + c] / 255.0f) - 1.0f;
    add_image(r, x, H, W);
    free(x);
    free(rgb);
}

static int has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (strcmp(dot, ".png") == 0 || strcmp(dot, ".jpg") == 0 || strcmp(dot, ".jpeg") == 0);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void add_folder(runner *r, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) die_usage("expected a readable folder, found '%s': %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
        if (n == cap) names = xrealloc(names, (cap = cap ? 2 * cap : 256) * sizeof *names);
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (!n) die_usage("expected .png, .jpg or .jpeg files in '%s', found none", dir);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *p = xmalloc(len);
        snprintf(p, len, "%s/%s", dir, names[i]);
        add_image_file(r, p);
        free(p);
        free(names[i]);
    }
    free(names);
}

static void add_input(runner *r, const char *path)
{
    if (strcmp(path, "-") == 0) {
        add_stream(r, stdin, "stdin");
        return;
    }
    struct stat st;
    if (stat(path, &st) != 0) die_usage("expected a readable file or folder, found '%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        add_folder(r, path);
        return;
    }
    FILE *f = fopen(path, "rb");
    if (!f) die_usage("expected a readable file, found '%s': %s", path, strerror(errno));
    unsigned char m[8] = {0};
    size_t n = fread(m, 1, sizeof m, f);
    int kind = image_kind(m, n);
    if (kind == IMG_NPY) {
        rewind(f);
        add_stream(r, f, path);
        fclose(f);
    } else if (kind == IMG_PNG || kind == IMG_JPEG) {
        fclose(f);
        add_image_file(r, path);
    } else {
        fclose(f);
        die_usage("%s: expected an .npy image stream, a PNG or a JPEG file, found none of their signatures", path);
    }
}

int main(int argc, char **argv)
{
    progname = "inception-stats";
    const char *weights = NULL, *out = "-", *feat_out = NULL, *variant = "fid";
    int init = 0, batch = 16, nin = 0;
    long seed = 0;
    const char **in = xcalloc((size_t)argc + 1, sizeof *in);
    enum { WEIGHTS = TOPT_FIRST, FEATURES_OUT, VARIANT, BATCH, SEED, INIT };
    static const struct option longopts[] = {
        {"weights", 1, 0, WEIGHTS}, {"out", 1, 0, 'o'}, {"features-out", 1, 0, FEATURES_OUT},
        {"variant", 1, 0, VARIANT}, {"batch", 1, 0, BATCH}, {"seed", 1, 0, SEED}, {"init", 0, 0, INIT},
        {0, 0, 0, 0}};
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CUDA);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case WEIGHTS: weights = optarg; break;
        case 'o': out = optarg; break;
        case FEATURES_OUT: feat_out = optarg; break;
        case VARIANT:
            variant = optarg;
            if (strcmp(variant, "fid") && strcmp(variant, "dfgan"))
                die_usage("--variant: expected fid or dfgan, found '%s'", variant);
            break;
        case BATCH: batch = (int)parse_long("--batch", optarg, 1, 4096); break;
        case SEED: seed = parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case INIT: init = 1; break;
        }
    }
    while (optind < argc) in[nin++] = argv[optind++];
    /* the outputs' folders, before any work */
    check_output_dir(out, "-o");
    check_output_dir(feat_out, "--features-out");
    char err[1024];
    if (init) {
        if (strcmp(out, "-") == 0) die_usage("--init expects -o PATH for the weights, found none");
        if (weights || nin) die_usage("--init expects only --seed and -o, found %s", weights ? "--weights" : in[0]);
        if (inception_write_random(out, (uint64_t)seed, err, sizeof err)) die_runtime("%s", err);
        return EXIT_OK;
    }
    if (!weights) die_usage("expected --weights W.npz (or --init to make random ones), found none");
    if (nin == 0) in[nin++] = "-";
    if (feat_out && strcmp(feat_out, "-") == 0 && strcmp(out, "-") == 0)
        die_usage("expected -o OUT.npz when --features-out is stdout, found both on stdout");
    const device_t dev = topt_device(&t);

    runner r;
    memset(&r, 0, sizeof r);
    npz z;
    ckpt_read(weights, &z);
    int rc = inception_load(&r.m, &z, weights, strcmp(variant, "dfgan") == 0 ? INCEPTION_DFGAN : INCEPTION_FID, err,
                            sizeof err);
    if (rc) die_input(rc, err);
    const npy_array *rk = npz_find(&z, INCEPTION_RANDOM_KEY);
    if (rk)
        warnx("warning: %s holds random weights (--init --seed %lld), not a pretrained Inception: these "
              "statistics are not comparable with published FIDs",
              weights, rk->dtype == NPY_I8 && rk->count == 1 ? (long long)*(const int64_t *)rk->data : -1LL);
    npz_free(&z);

    inception_to_device(&r.m, dev);
    r.nb = batch;
    r.net_in = inception_input(&r.m, batch);
    r.feat = xmalloc((size_t)batch * INCEPTION_DIM * sizeof(float));
    fstats_init(&r.st, INCEPTION_DIM);
    if (feat_out) r.fout = af_open(feat_out);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int k = 0; k < nin; k++) add_input(&r, in[k]);
    run_batch(&r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (r.images < 2) die_usage("expected at least 2 images, found %ld", r.images);
    if (r.fout) af_commit(r.fout);
    if ((rc = fstats_save(&r.st, out, err, sizeof err))) {
        if (rc == ERR_NONFINITE) die_nonfinite("%s", err);
        die_runtime("%s", err);
    }
    warnx("%ld images, variant %s, %.2f images/s", r.images, variant, (double)r.images / (secs > 0 ? secs : 1e-9));
    fstats_free(&r.st);
    inception_free(&r.m);   /* and net_in, its buffer */
    free(r.feat);
    free(in);
    if (strcmp(out, "-") == 0) close_stdout_or_die();
    return EXIT_OK;
}
