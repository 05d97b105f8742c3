/* clip-embed: OpenAI CLIP (ViT) in C: text features of token ids, image features of images, the
 * CLIP loss λ·(1 − mean cos(image, text)) with its gradient wrt the images, and the CLIP score;
 * or, with --init, random weights. The model is lib/models/clip.c; this file parses options and runs the
 * loop over the streams. */
#include "core/atomic_file.h"
#include "models/clip.h"
#include "core/common.h"
#include "core/finite.h"
#include "core/toolopts.h"
#include "core/checkpoint.h"
#include "core/dist.h"
#include "io/npz.h"
#include "core/ops.h"
#include "train/steplog.h"
#include "io/stream.h"
#include "io/stream_ids.h"
#include "core/tensor.h"
#include "train/ipc_link.h"
#include "train/shard.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: clip-embed text  --weights CLIP.npz [--raw] < ids.npy > text_features.npy\n"
    "       clip-embed image --weights CLIP.npz [--raw] < images.npy > image_features.npy\n"
    "       clip-embed loss  --weights CLIP.npz --text FEATURES [--lambda L] [--no-grad] [--log FILE]\n"
    "                        < fake.npy > grad.npy\n"
    "       clip-embed score --weights CLIP.npz --text FEATURES [--features-out F] < images.npy\n"
    "       clip-embed --init [--seed K] [size options] -o CLIP.npz\n"
    "\n"
    "OpenAI CLIP with a ViT image tower (ViT-B/32 by default; B/16, L/14 ... by the weights' shapes),\n"
    "float32 on the CPU or (--device cuda) the GPU. Weights: the OpenAI state_dict as .npz\n"
    "(visual.conv1.weight, ..., token_embedding.weight, text_projection, logit_scale; float16/float64\n"
    "arrays are converted).\n"
    "  text   token ids (bin/tokenize --clip: int32 (B,L), L <= context; int64 accepted) -> features\n"
    "         float32 (B,E) per array, read at each caption's end token (the argmax of its ids)\n"
    "  image  images float32 (B,3,H,W) in [-1,1] -> features (B,E); preprocessing as CLIP's:\n"
    "         [0,1], resized to the model's input size (--resize), normalised by CLIP's mean and std\n"
    "  loss   per batch of fake images and the matching array of text features (B,E): writes the\n"
    "         gradient of lambda*(1 - mean_b cos(image feature_b, text feature_b)) wrt the images,\n"
    "         float32 (B,3,H,W); the loss and mean cos go to stderr (or --log as JSON lines)\n"
    "  score  prints, over all images: clip_score = 100*mean cos (DF-GAN's report),\n"
    "         clip_score_torchmetrics = 100*max(mean cos, 0), and mean_cos; --features-out F also\n"
    "         writes the images' features, float32 (B,E) per array, the projection output as --raw\n"
    "         (for R-precision and a CLIP-feature FID from the same pass)\n"
    "  loss runs data-parallel too (mpirun -np N clip-embed loss ...): each rank takes B/N images of\n"
    "         every batch, the gradient's and the loss's means are the global batch's; a path with %r\n"
    "         is per-rank (%r: the rank), one without a file of whole batches; -o needs %r; rank 0 logs\n"
    "\n"
    "options:\n"
    "  --weights FILE     CLIP weights (.npz, OpenAI keys)\n"
    "  --text FILE        text features for loss/score (float32 (B,E) per array; - is stdin when the\n"
    "                     images come from --in)\n"
    "  --in FILE          the main input (ids or images); - is stdin (default)\n"
    "  -o, --out FILE     the output stream; - is stdout (default)\n"
    "  --raw              text/image: the projection output, not L2-normalised\n"
    "  --lambda L         loss: the weight of the CLIP loss, >= 0 (default 0.01, the seed's lambda_clip)\n"
    "  --no-grad          loss: write zeros instead of the gradient (the original code's behaviour)\n"
    "  --log FILE         loss: append {\"batch\", \"clip_loss\", \"mean_cos\"} JSON lines to FILE\n"
    "  --ipc              loss, --device cuda, for the training loop (run-epoch): the images may be\n"
    "                     records of gen-step's GPU buffers (copied on the GPU) or arrays; -o carries\n"
    "                     records of this tool's buffers (a FIFO or pipe only), reused once answered\n"
    "  --resize MODE      bicubic (default), bilinear or nearest, as torch's interpolate\n"
    "                     (align_corners=False, no antialiasing)\n"
    "  --head-width D     attention head width (default 64, as every released CLIP: heads = width/D)\n"
    "  --device cpu|cuda  where to compute (default cpu; cuda runs bin/cuda/clip-embed where it was built)\n"
    "  --init             write random weights to -o (OpenAI's initialisation, Philox generator)\n"
    "  --seed K           with --init (default 0)\n"
    "  --jitter J         with --init, for tests: then every parameter += J*N(0,1)*(its std, or 1 where\n"
    "                     it is constant), so biases and LayerNorm affines are not 0 and 1 (default 0)\n"
    "  size options with --init (defaults: ViT-B/32): --embed-dim 512 --width 768 --layers 12\n"
    "                     --patch 32 --image-size 224 --text-width 512 --text-layers 12\n"
    "                     --context 77 --vocab 49408 (and --head-width)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or input, 1 a runtime failure (writing, memory), 3 a NaN or Inf\n"
    "in the inputs or the weights, or in image features or a score made from them.\n";

enum { M_NONE, M_TEXT, M_IMAGE, M_LOSS, M_SCORE };

typedef struct {
    int mode, init, raw, no_grad, resize, ipc;
    const char *weights, *text, *in, *out, *log, *features_out;
    device_t dev;
    double lambda, jitter;
    long seed, head_width;
    clip_config cfg;
} options;

static void parse(options *o, int argc, char **argv) {
    enum { WEIGHTS = TOPT_FIRST, TEXT, IN, RAW, LAMBDA, NOGRAD, LOG, RESIZE, HEADW, INIT, SEED, JITTER,
           EMBED, WIDTH, LAYERS, PATCH, IMSIZE, TWIDTH, TLAYERS, CONTEXT, VOCAB, FEATURES_OUT, IPC };
    static const struct option longopts[] = {
        {"weights", 1, 0, WEIGHTS}, {"text", 1, 0, TEXT}, {"in", 1, 0, IN}, {"out", 1, 0, 'o'},
        {"raw", 0, 0, RAW}, {"lambda", 1, 0, LAMBDA}, {"no-grad", 0, 0, NOGRAD}, {"log", 1, 0, LOG},
        {"resize", 1, 0, RESIZE}, {"head-width", 1, 0, HEADW}, {"init", 0, 0, INIT},
        {"seed", 1, 0, SEED}, {"jitter", 1, 0, JITTER}, {"embed-dim", 1, 0, EMBED}, {"width", 1, 0, WIDTH},
        {"layers", 1, 0, LAYERS},
        {"patch", 1, 0, PATCH}, {"image-size", 1, 0, IMSIZE}, {"text-width", 1, 0, TWIDTH},
        {"text-layers", 1, 0, TLAYERS}, {"context", 1, 0, CONTEXT}, {"vocab", 1, 0, VOCAB},
        {"features-out", 1, 0, FEATURES_OUT}, {"ipc", 0, 0, IPC}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->in = "-";
    o->out = "-";
    o->lambda = 0.01;
    o->seed = -1;
    o->head_width = 64;
    o->resize = RESIZE_BICUBIC;
    o->cfg = clip_config_default();
    int sized = 0, lambda_set = 0;
    const char *only_init = NULL;
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CUDA);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case WEIGHTS: o->weights = optarg; break;
        case TEXT: o->text = optarg; break;
        case IN: o->in = optarg; break;
        case 'o': o->out = optarg; break;
        case RAW: o->raw = 1; break;
        case LAMBDA: o->lambda = parse_double_in("--lambda", optarg, 0, INFINITY, 0); lambda_set = 1; break;
        case NOGRAD: o->no_grad = 1; break;
        case IPC: o->ipc = 1; break;
        case LOG: o->log = optarg; break;
        case FEATURES_OUT: o->features_out = optarg; break;
        case RESIZE:
            if (!strcmp(optarg, "bicubic")) o->resize = RESIZE_BICUBIC;
            else if (!strcmp(optarg, "bilinear")) o->resize = RESIZE_BILINEAR;
            else if (!strcmp(optarg, "nearest")) o->resize = RESIZE_NEAREST;
            else die_usage("--resize expects bicubic, bilinear or nearest, found '%s'", optarg);
            break;
        case HEADW: o->head_width = parse_long("--head-width", optarg, 1, 1 << 16); break;
        case INIT: o->init = 1; break;
        case SEED: o->seed = parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); only_init = "--seed"; break;
        case JITTER:
            o->jitter = parse_double_in("--jitter", optarg, 0, INFINITY, 0);
            only_init = "--jitter";
            break;
        case EMBED: o->cfg.embed_dim = (int)parse_long("--embed-dim", optarg, 1, 1 << 16); sized = 1; only_init = "--embed-dim"; break;
        case WIDTH: o->cfg.width = (int)parse_long("--width", optarg, 1, 1 << 16); only_init = "--width"; break;
        case LAYERS: o->cfg.layers = (int)parse_long("--layers", optarg, 0, 1024); only_init = "--layers"; break;
        case PATCH: o->cfg.patch = (int)parse_long("--patch", optarg, 1, 4096); only_init = "--patch"; break;
        case IMSIZE: o->cfg.image_size = (int)parse_long("--image-size", optarg, 1, 1 << 14); only_init = "--image-size"; break;
        case TWIDTH: o->cfg.text_width = (int)parse_long("--text-width", optarg, 1, 1 << 16); only_init = "--text-width"; break;
        case TLAYERS: o->cfg.text_layers = (int)parse_long("--text-layers", optarg, 0, 1024); only_init = "--text-layers"; break;
        case CONTEXT: o->cfg.context = (int)parse_long("--context", optarg, 1, 1 << 16); only_init = "--context"; break;
        case VOCAB: o->cfg.vocab = (int)parse_long("--vocab", optarg, 1, 1 << 24); only_init = "--vocab"; break;
        }
    }
    (void)sized;
    if (o->init) {
        if (optind < argc) die_usage("expected no mode with --init, found '%s'", argv[optind]);
        if (o->weights || o->text) die_usage("expected --init without --weights or --text, found %s", o->weights ? "--weights" : "--text");
        if (o->seed < 0) o->seed = 0;
        clip_config *k = &o->cfg;
        if (k->image_size % k->patch)
            die_usage("expected --image-size a multiple of --patch %d, found %d", k->patch, k->image_size);
        if (k->width % o->head_width || k->text_width % o->head_width)
            die_usage("expected --width and --text-width multiples of --head-width %ld, found %d and %d",
                      o->head_width, k->width, k->text_width);
        k->heads = k->width / (int)o->head_width;
        k->text_heads = k->text_width / (int)o->head_width;
        return;
    }
    if (only_init) die_usage("expected %s only with --init, found it without", only_init);
    if (optind >= argc) die_usage("expected a mode (text, image, loss or score), found none");
    const char *m = argv[optind++];
    o->mode = !strcmp(m, "text") ? M_TEXT : !strcmp(m, "image") ? M_IMAGE : !strcmp(m, "loss") ? M_LOSS
            : !strcmp(m, "score") ? M_SCORE : M_NONE;
    if (o->mode == M_NONE) die_usage("expected a mode (text, image, loss or score), found '%s'", m);
    if (optind < argc) die_usage("expected only options after the mode, found '%s'", argv[optind]);
    if (!o->weights) die_usage("expected --weights CLIP.npz, found none");
    if ((o->mode == M_LOSS || o->mode == M_SCORE) && !o->text) die_usage("expected --text FEATURES with %s, found none", m);
    if ((o->mode == M_TEXT || o->mode == M_IMAGE) && o->text) die_usage("expected --text only with loss or score, found it with %s", m);
    if (o->mode != M_LOSS && (lambda_set || o->no_grad || o->log || o->ipc))
        die_usage("expected --lambda, --no-grad, --log and --ipc only with loss, found %s",
                  lambda_set ? "--lambda" : o->no_grad ? "--no-grad" : o->log ? "--log" : "--ipc");
    if (o->raw && o->mode != M_TEXT && o->mode != M_IMAGE) die_usage("expected --raw only with text or image, found it with %s", m);
    if (o->features_out && o->mode != M_SCORE) die_usage("expected --features-out only with score, found it with %s", m);
    if (o->features_out && !strcmp(o->features_out, "-")) die_usage("expected --features-out a file (score prints on stdout), found '-'");
    if (o->mode == M_SCORE && strcmp(o->out, "-")) die_usage("expected no -o with score (it prints), found '%s'", o->out);
    if (o->text && !strcmp(o->text, "-") && !strcmp(o->in, "-")) die_usage("expected --text and the input to be different streams, found both stdin");
    o->dev = topt_device(&t);   /* may hand over to bin/cuda/clip-embed */
    if (o->ipc) { ipc_check_device(o->dev); ipc_check_output("-o", o->out); }
}

static void write_or_die(atomic_file *af, const char *path, int ndim, const int64_t *shape, const float *data) {
    if (npy_write(af_stream(af), NPY_F4, ndim, shape, data) != 0)
        die_runtime("expected to write to '%s', found %s", !strcmp(path, "-") ? "stdout" : path, strerror(errno));
}

/* loss over N > 1 data-parallel ranks (core/dist.h): each rank its B/N images and text rows (train/
 * shard.h), the gradient's and the loss's means over the global batch; rank 0 logs */
static void run_loss_ranks(const options *o, const clip_model *m) {
    const int E = m->embed_dim, N = dist_size();
    shard_group in, txt;
    shg_open(&in, 1, (const ts_member[]){{"--in", o->in, 4, {-1, 3, -1, -1}}});
    shg_open(&txt, 1, (const ts_member[]){{"--text", o->text, 2, {-1, E}}});
    char buf[4096];
    dist_rank0_first();
    const char *out_path = shard_out_path("-o", o->out, buf, sizeof buf);
    dist_rank0_done();
    atomic_file *out = af_open(out_path);
    steplog log = {0};
    if (dist_rank() == 0) steplog_open(&log, o->log);
    npy_array a, t;
    while (shg_read(&in, 0, &a)) {
        const int B = (int)a.shape[0], H = (int)a.shape[2], W = (int)a.shape[3];
        if (H < 1 || W < 1) die_usage("--in: expected images of at least 1x1 pixels, found %dx%d in array %ld", H, W, in.batches - 1);
        if (!shg_read(&txt, B, &t))
            die_usage("--text: expected an array of (%lld,%d) text features for image array %ld, found the end of the stream",
                      (long long)in.B, E, in.batches - 1);
        float *f = xmalloc((size_t)B * E * sizeof(float)), *df = xmalloc((size_t)B * E * sizeof(float));
        float *grad = xcalloc((size_t)a.count, sizeof(float));
        clip_image_ctx *ctx = NULL;
        clip_encode_image(m, f, a.data, B, H, W, o->resize, o->no_grad ? NULL : &ctx);
        double mc;
        clip_cos_loss(df, f, t.data, B, E, o->lambda / N, &mc);   /* λ/N: the global batch's 1/B */
        if (ctx) clip_image_backward(m, grad, df, ctx);
        write_or_die(out, out_path, 4, a.shape, grad);
        dist_sum(&mc, 1);
        mc /= N;
        if (dist_rank() == 0)
            steplog_write(&log, in.batches, 2, (const char *const[]){"clip_loss", "mean_cos"},
                          (const double[]){o->lambda * (1 - mc), mc});
        free(f); free(df); free(grad);
        npy_free(&a); npy_free(&t);
    }
    shg_expect_end(&txt);
    shg_close(&in);
    shg_close(&txt);
    af_commit(out);
    if (dist_rank() == 0) steplog_close(&log);
}

/* finite images (checked as read) can still overflow the network: its features (B,E) of image
 * array k are checked before they are written or scored */
static void require_features_finite(const float *f, int B, int E, long k) {
    require_finite(&(npy_array){NPY_F4, 2, {B, E}, (int64_t)B * E, (void *)f}, "image features", "in batch %ld", k);
}

static void l2_normalise(float *f, int B, int E) {
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int e = 0; e < E; e++) s += (double)f[(size_t)b * E + e] * f[(size_t)b * E + e];
        const double n = sqrt(s);
        if (n > 0) for (int e = 0; e < E; e++) f[(size_t)b * E + e] = (float)(f[(size_t)b * E + e] / n);
    }
}

int main(int argc, char **argv) {
    progname = "clip-embed";
    dist_start();
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work */
    if (o.mode != M_SCORE) check_output_dir(o.out, "-o");
    check_append_file(o.log, "--log");
    dist_init(o.dev);
    if (dist_size() > 1 && (o.init || o.mode != M_LOSS)) {
        if (dist_rank() != 0) dist_hold();   /* said once, by rank 0 */
        die_usage("expected the loss mode on %d ranks (the others run as one process), found %s", dist_size(),
                  o.init ? "--init" : o.mode == M_TEXT ? "text" : o.mode == M_IMAGE ? "image" : "score");
    }
    clip_model m;
    if (o.init) {
        clip_create(&m, &o.cfg);
        clip_init(&m, (uint64_t)o.seed);
        if (o.jitter > 0) clip_jitter(&m, (uint64_t)o.seed, o.jitter);
        ckpt_save(&m.ps, o.out);
        if (!strcmp(o.out, "-")) close_stdout_or_die();
        clip_free(&m);
        dist_finish();
        return 0;
    }
    dist_rank0_first();             /* weights that do not load are said once */
    clip_load(&m, o.weights, (int)o.head_width);
    dist_rank0_done();
    clip_to_device(&m, o.dev);
    if (o.ipc) ipc_check_ranks();
    if (dist_size() > 1) {
        run_loss_ranks(&o, &m);
        clip_free(&m);
        dist_finish();
        return 0;
    }
    const int E = m.embed_dim;
    tstream in, txt;
    const char *in_name = !strcmp(o.in, "-") ? "stdin" : "--in";
    ts_open(&in, in_name, o.in);
    if (o.text) ts_open(&txt, "--text", o.text);
    atomic_file *out = o.mode == M_SCORE ? (o.features_out ? af_open(o.features_out) : NULL) : af_open(o.out);
    steplog log = {0};
    if (o.mode == M_LOSS) steplog_open(&log, o.log);
    ipc_in img_ipc = {0};            /* --ipc: the images from records, the gradient as records of ours */
    ipc_out grad_ipc;
    if (o.ipc) { in.ipc = 1; ipc_out_init(&grad_ipc, "-o", o.out); grad_ipc.af = out; }
    double cos_sum = 0;
    long n_images = 0, batch = 0;
    npy_array a;
    char err[256];
    if (o.mode == M_TEXT) {
        while (ts_read_ids(&in, -1, &a)) {
            const int B = (int)a.shape[0], L = (int)a.shape[1];
            float *f = xmalloc((size_t)(B ? B : 1) * E * sizeof(float));
            if (clip_encode_text(&m, f, a.data, B, L, err, sizeof err) != 0)
                die_usage("%s: %s in array %ld", in.name, err, in.index - 1);
            if (!o.raw) l2_normalise(f, B, E);
            write_or_die(out, o.out, 2, (int64_t[]){B, E}, f);
            free(f);
            npy_free(&a);
        }
    } else {
        while (ts_read_f32(&in, 4, (const int64_t[]){-1, 3, -1, -1}, "(B,3,H,W)", &a)) {
            const int B = (int)a.shape[0], H = (int)a.shape[1 + 1], W = (int)a.shape[3];
            if (B > 0 && (H < 1 || W < 1)) die_usage("%s: expected images of at least 1x1 pixels, found %dx%d in array %ld", in.name, H, W, in.index - 1);
            float *f = xmalloc((size_t)(B ? B : 1) * E * sizeof(float));
            npy_array t = {0};
            if (o.text) {
                if (!ts_read_f32(&txt, 2, (const int64_t[]){B, E}, NULL, &t))
                    die_usage("--text: expected an array of (%d,%d) text features for image array %ld, found the end of the stream",
                              B, E, in.index - 1);
            }
            if (o.mode == M_IMAGE) {
                clip_encode_image(&m, f, a.data, B, H, W, o.resize, NULL);
                require_features_finite(f, B, E, in.index - 1);
                if (!o.raw) l2_normalise(f, B, E);
                write_or_die(out, o.out, 2, (int64_t[]){B, E}, f);
            } else if (o.mode == M_SCORE) {
                clip_encode_image(&m, f, a.data, B, H, W, o.resize, NULL);
                require_features_finite(f, B, E, in.index - 1);
                if (out) write_or_die(out, o.features_out, 2, (int64_t[]){B, E}, f);
                double mc;
                clip_cos_loss(NULL, f, t.data, B, E, 1, &mc);
                cos_sum += mc * B;
                n_images += B;
            } else {
                float *grad = o.ipc ? ipc_out_buffer(&grad_ipc, (size_t)a.count) : xcalloc((size_t)(a.count ? a.count : 1), sizeof(float));
                clip_image_ctx *ctx = NULL;
                if (o.ipc) clip_encode_image_dev(&m, f, ipc_in_device(&img_ipc, &a, in.name, in.index - 1), B, H, W, o.resize, o.no_grad ? NULL : &ctx);
                else clip_encode_image(&m, f, a.data, B, H, W, o.resize, o.no_grad ? NULL : &ctx);
                float *df = xmalloc((size_t)(B ? B : 1) * E * sizeof(float));
                double mc;
                const double loss = clip_cos_loss(df, f, t.data, B, E, o.lambda, &mc);
                if (ctx) (o.ipc ? clip_image_backward_dev : clip_image_backward)(&m, grad, df, ctx);
                else if (o.ipc) dev_zero(o.dev, grad, (size_t)a.count);
                if (o.ipc) ipc_out_publish(&grad_ipc, 4, a.shape);
                else write_or_die(out, o.out, 4, a.shape, grad);
                steplog_write(&log, ++batch, 2, (const char *const[]){"clip_loss", "mean_cos"}, (const double[]){loss, mc});
                free(df);
                if (!o.ipc) free(grad);
            }
            npy_free(&t);
            free(f);
            npy_free(&a);
        }
        if (o.text && ts_read_f32(&txt, 2, NULL, NULL, &a))
            die_usage("--text: expected as many arrays as the images (%ld), found more", in.index);
    }
    ts_close(&in);
    if (o.text) ts_close(&txt);
    if (o.mode == M_SCORE) {
        const double mc = n_images ? cos_sum / (double)n_images : 0;
        if (first_nonfinite_f64(&mc, 1) == 0)   /* not from finite features, but said rather than printed */
            die_nonfinite("expected a finite mean cosine, found %s over %ld images", nonfinite_name((float)mc), n_images);
        if (out) af_commit(out);
        printf("clip_score %.6f\nclip_score_torchmetrics %.6f\nmean_cos %.8f\n", 100 * mc, 100 * (mc > 0 ? mc : 0), mc);
        close_stdout_or_die();
    } else {
        af_commit(out);
        if (!strcmp(o.out, "-")) close_stdout_or_die();
    }
    if (o.ipc) { grad_ipc.af = NULL; ipc_out_close(&grad_ipc); ipc_in_free(&img_ipc); }
    if (o.mode == M_LOSS) steplog_close(&log);
    clip_free(&m);
    dist_finish();
    return 0;
}
