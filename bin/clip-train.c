/* clip-train: contrastive training of CLIP's two towers on (image, caption) batches, as CLIP is
 * trained (lib/train/clip_train.h: symmetric cross-entropy over the cosine logits with the learned
 * logit_scale, AdamW, the clamp), and the image->text retrieval accuracy of a CLIP on a set of
 * pairs. The model is lib/models/clip.c; this file parses options and runs the loop over the
 * streams (bin/batches makes them: the same random crops, flips and caption draws as the GAN's). */
#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "core/toolopts.h"
#include "core/ops.h"
#include "io/npz.h"
#include "io/stream.h"
#include "io/stream_ids.h"
#include "models/clip.h"
#include "train/clip_train.h"
#include "train/steplog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: clip-train train --weights CLIP.npz --images F --ids F -o OUT.npz [--state S.npz]\n"
    "                        [--save-every N] [--lr X] [--wd X] [--warmup N] [--cosine N] [--log FILE] ...\n"
    "       clip-train eval  --weights CLIP.npz --images F --ids F\n"
    "\n"
    "Trains OpenAI CLIP (ViT) as CLIP is trained, on the CPU or (--device cuda) the GPU. Per batch:\n"
    "the image features of the images and the text features of their captions, L2-normalised;\n"
    "logits = exp(logit_scale)*img*txt^T; loss = (CE(logits, arange) + CE(logits^T, arange))/2;\n"
    "the gradients of every weight of both towers and of logit_scale; one AdamW step (decoupled weight\n"
    "decay, as torch.optim.AdamW) with open_clip's groups: weight decay on the parameters of 2 or more\n"
    "dimensions (the linear and conv1 weights, the embeddings and projections), none on biases,\n"
    "LayerNorms, class_embedding and logit_scale; then logit_scale clamped to [0, ln 100].\n"
    "Streams are .npy arrays back to back, one batch each (files, pipes or FIFOs; - is stdin):\n"
    "  --images F   float32 (B,3,H,W) in [-1,1] (bin/batches --images: random crops and flips),\n"
    "               resized to the model's input size inside the tower (--resize)\n"
    "  --ids F      int32 (B,L) token ids (bin/tokenize --clip; the caption rows of bin/batches --cond\n"
    "               run on the token-id cache), L <= the context, the end token the row's largest id\n"
    "Random weights: bin/clip-embed --init with the sizes wanted (-o init.npz), then --weights init.npz;\n"
    "fine-tuning: --weights a trained CLIP.\n"
    "\n"
    "  train  one step per batch of the streams; writes -o, the trained weights (OpenAI's keys, what\n"
    "         clip-embed reads), atomically at the end; the loss per step on stderr (or --log)\n"
    "  eval   prints image_to_text_top1 (the fraction of images whose most similar caption of the\n"
    "         set, by cosine, is their own), text_to_image_top1 (the same from the captions) and\n"
    "         pairs; captions with the same token ids count as the same caption\n"
    "\n"
    "options:\n"
    "  --weights FILE     the CLIP to start from (.npz, OpenAI keys; not read when --state exists)\n"
    "  --images FILE, --ids FILE   the two streams, batch by batch the same B\n"
    "  -o, --out FILE     train: the trained weights (.npz)\n"
    "  --state FILE       train: a checkpoint with Adam's state (adam.step, adam.exp_avg.*, ...), written\n"
    "                     atomically every --save-every steps and at the end; when it exists at the start,\n"
    "                     training resumes from it: its weights and Adam state, and the first adam.step\n"
    "                     batches of the streams (the ones it has trained on) are read and skipped. Give\n"
    "                     the same streams again: a run resumed after a kill ends with the same weights\n"
    "  --save-every N     steps between --state checkpoints (default 100; 0: only at the end)\n"
    "  --lr X             AdamW's learning rate (default 5e-4)\n"
    "  --beta1 X --beta2 X --eps X   AdamW (defaults 0.9, 0.98, 1e-6: open_clip's for a ViT)\n"
    "  --wd X             weight decay (default 0.2, open_clip's)\n"
    "  --warmup N         linear warm-up of lr over the first N steps (default 0)\n"
    "  --cosine N         cosine decay of lr to 0 at step N (after the warm-up; default: constant lr)\n"
    "  --log FILE         append {\"batch\", \"loss\", \"acc\", \"logit_scale\", \"lr\"} JSON lines to FILE\n"
    "                     (default: a line per step on stderr); batch is the step number, acc the\n"
    "                     batch's image->text top-1, logit_scale the value the step used\n"
    "  --dump-grads FILE  train: the last step's gradients under the parameter keys (.npz)\n"
    "  --resize MODE      bicubic (default), bilinear or nearest, as torch's interpolate\n"
    "  --head-width D     attention head width (default 64: heads = width/D)\n"
    "  --device cpu|cuda  where to compute (default cpu; cuda runs bin/cuda/clip-train where it was built)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or input, 1 a runtime failure (writing, memory), 3 a NaN or Inf\n"
    "in the batches or the weights.\n";

enum { M_TRAIN = 1, M_EVAL };

typedef struct {
    int mode;
    const char *weights, *images, *ids, *out, *state, *log, *dump;
    long save_every, head_width;
    clip_train_opts t;
    device_t dev;
} options;

static void parse(options *o, int argc, char **argv) {
    enum { WEIGHTS = TOPT_FIRST, IMAGES, IDS, STATE, SAVE_EVERY, LR, BETA1, BETA2, EPS, WD, WARMUP, COSINE, LOG,
           DUMP, RESIZE, HEADW };
    static const struct option longopts[] = {
        {"weights", 1, 0, WEIGHTS}, {"images", 1, 0, IMAGES}, {"ids", 1, 0, IDS}, {"out", 1, 0, 'o'},
        {"state", 1, 0, STATE}, {"save-every", 1, 0, SAVE_EVERY}, {"lr", 1, 0, LR}, {"beta1", 1, 0, BETA1},
        {"beta2", 1, 0, BETA2}, {"eps", 1, 0, EPS}, {"wd", 1, 0, WD}, {"warmup", 1, 0, WARMUP},
        {"cosine", 1, 0, COSINE}, {"log", 1, 0, LOG}, {"dump-grads", 1, 0, DUMP}, {"resize", 1, 0, RESIZE},
        {"head-width", 1, 0, HEADW}, {0, 0, 0, 0}};
    static const char *const modes[] = {"train", "eval"};
    memset(o, 0, sizeof *o);
    o->save_every = 100;
    o->head_width = 64;
    o->t = clip_train_defaults();
    const char *train_only = NULL;
    toolopts opts;
    topt_begin(&opts, argc, argv, usage, "o:", longopts, TOOL_CUDA);
    const char *m = topt_command(&opts, modes, 2, "train or eval");
    o->mode = !strcmp(m, "train") ? M_TRAIN : M_EVAL;
    for (int c; (c = topt_next(&opts)) != -1;) {
        switch (c) {
        case WEIGHTS: o->weights = optarg; break;
        case IMAGES: o->images = optarg; break;
        case IDS: o->ids = optarg; break;
        case 'o': o->out = optarg; train_only = "-o"; break;
        case STATE: o->state = optarg; train_only = "--state"; break;
        case SAVE_EVERY: o->save_every = parse_long("--save-every", optarg, 0, 1L << 40); train_only = "--save-every"; break;
        case LR: o->t.lr = parse_double_in("--lr", optarg, 0, INFINITY, 0); train_only = "--lr"; break;
        case BETA1: o->t.beta1 = parse_double_in("--beta1", optarg, 0, 1, PD_HI_OPEN); train_only = "--beta1"; break;
        case BETA2: o->t.beta2 = parse_double_in("--beta2", optarg, 0, 1, PD_HI_OPEN); train_only = "--beta2"; break;
        case EPS: o->t.eps = parse_double_in("--eps", optarg, 0, INFINITY, PD_LO_OPEN); train_only = "--eps"; break;
        case WD: o->t.wd = parse_double_in("--wd", optarg, 0, INFINITY, 0); train_only = "--wd"; break;
        case WARMUP: o->t.warmup = parse_long("--warmup", optarg, 0, 1L << 40); train_only = "--warmup"; break;
        case COSINE: o->t.cosine = parse_long("--cosine", optarg, 0, 1L << 40); train_only = "--cosine"; break;
        case LOG: o->log = optarg; train_only = "--log"; break;
        case DUMP: o->dump = optarg; train_only = "--dump-grads"; break;
        case RESIZE:
            if (!strcmp(optarg, "bicubic")) o->t.resize = RESIZE_BICUBIC;
            else if (!strcmp(optarg, "bilinear")) o->t.resize = RESIZE_BILINEAR;
            else if (!strcmp(optarg, "nearest")) o->t.resize = RESIZE_NEAREST;
            else die_usage("--resize expects bicubic, bilinear or nearest, found '%s'", optarg);
            break;
        case HEADW: o->head_width = parse_long("--head-width", optarg, 1, 1 << 16); break;
        }
    }
    topt_end(&opts);
    const char *missing = !o->weights ? "--weights" : !o->images ? "--images" : !o->ids ? "--ids"
                        : o->mode == M_TRAIN && !o->out ? "-o" : NULL;
    if (missing) die_usage("expected --weights, --images, --ids%s with %s, found %s missing", o->mode == M_TRAIN ? " and -o" : "", m, missing);
    if (o->mode == M_EVAL && train_only) die_usage("expected %s only with train, found it with eval", train_only);
    if (!strcmp(o->images, o->ids)) die_usage("expected --images and --ids to be different streams, found '%s' twice", o->ids);
    if (o->mode == M_TRAIN) {
        const clip_train_opts *t = &o->t;   /* --lr, --beta1, --beta2, --eps, --wd: ranges checked as parsed */
        if (t->cosine && t->cosine <= t->warmup)
            die_usage("expected --cosine after the --warmup steps (%ld), found %ld", t->warmup, t->cosine);
        const char *outs[3] = {o->out, o->state, o->dump};
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (outs[i] && outs[j] && !strcmp(outs[i], outs[j]))
                    die_usage("expected different paths for -o, --state and --dump-grads, found '%s' twice", outs[i]);
        if (o->state && !strcmp(o->state, "-")) die_usage("expected --state to be a file, found '-'");
        if (o->state && !strcmp(o->state, o->weights))
            die_usage("expected --state apart from --weights (it is written during training), found '%s' twice", o->state);
    }
    o->dev = topt_device(&opts);   /* may hand over to bin/cuda/clip-train */
}

/* The next pair of arrays: images (B,3,H,W) and ids (B,L). 0 at the end of both streams. */
static int read_pair(tstream *im, tstream *ids, npy_array *a, npy_array *t) {
    const int more = ts_read_f32(im, 4, (const int64_t[]){-1, 3, -1, -1}, "(B,3,H,W)", a);
    if (!more) {
        if (ts_read_ids(ids, -1, t))
            die_usage("--ids: expected as many arrays as --images (%ld), found more", im->index);
        return 0;
    }
    if (!ts_read_ids(ids, -1, t))
        die_usage("--ids: expected an array of (%lld,L) token ids for image array %ld, found the end of the stream",
                  (long long)a->shape[0], im->index - 1);
    if (t->shape[0] != a->shape[0])
        die_usage("--ids: expected (%lld,L) token ids for image array %ld, found (%lld,%lld) in array %ld",
                  (long long)a->shape[0], im->index - 1, (long long)t->shape[0], (long long)t->shape[1], ids->index - 1);
    if (a->shape[0] > 0 && (a->shape[2] < 1 || a->shape[3] < 1))
        die_usage("--images: expected images of at least 1x1 pixels, found %lldx%lld in array %ld",
                  (long long)a->shape[2], (long long)a->shape[3], im->index - 1);
    return 1;
}

static void train(const options *o) {
    clip_model m;
    const int resume = o->state && access(o->state, F_OK) == 0;
    const char *from = resume ? o->state : o->weights;
    clip_load(&m, from, (int)o->head_width);
    clip_trainable(&m, o->dev);
    if (resume) {   /* the weights again with Adam's state and step count */
        npz z;
        ckpt_read(o->state, &z);
        ckpt_load(&m.ps, &z, o->state);
        npz_free(&z);
    }
    const long done = m.ps.step;
    long saved = done;   /* the step of the last --state written */
    tstream im, ids;
    ts_open(&im, "--images", o->images);
    ts_open(&ids, "--ids", o->ids);
    steplog log;
    steplog_open(&log, o->log);
    npy_array a, t;
    long seen = 0;
    char err[256];
    while (read_pair(&im, &ids, &a, &t)) {
        if (++seen > done) {
            const int B = (int)a.shape[0];
            if (B < 2)
                die_usage("--images: expected batches of at least 2 pairs (the loss contrasts each with the others), found %d in array %ld",
                          B, im.index - 1);
            clip_step_info s;
            if (clip_train_step(&m, &o->t, a.data, B, (int)a.shape[2], (int)a.shape[3], t.data, (int)t.shape[1], &s, err,
                                sizeof err) != 0)
                die_usage("--ids: %s in array %ld", err, ids.index - 1);
            steplog_write(&log, m.ps.step, 4, (const char *const[]){"loss", "acc", "logit_scale", "lr"},
                          (const double[]){s.loss, s.acc, s.logit_scale, s.lr});
            if (o->state && o->save_every > 0 && m.ps.step % o->save_every == 0) {
                ckpt_save(&m.ps, o->state);
                saved = m.ps.step;
            }
        }
        npy_free(&a);
        npy_free(&t);
    }
    ts_close(&im);
    ts_close(&ids);
    if (seen < done)
        die_usage("--images: expected at least the %ld batches that --state '%s' has trained on, found %ld", done, o->state, seen);
    if (o->dump && m.ps.step == done) die_usage("--dump-grads: expected a batch to train on, found none");
    if (o->state && m.ps.step > saved) ckpt_save(&m.ps, o->state);
    if (o->dump) ckpt_save_grads(&m.ps, o->dump);
    clip_train_save_weights(&m, o->out);
    if (!strcmp(o->out, "-")) close_stdout_or_die();
    steplog_close(&log);
    clip_free(&m);
}

/* group[i]: the index of the first caption whose ids up to the end token equal caption i's */
static void caption_groups(int *group, const int32_t *ids, const int *len, int N, int L) {
    for (int i = 0; i < N; i++) {
        group[i] = i;
        for (int j = 0; j < i; j++)
            if (group[j] == j && len[j] == len[i] &&
                !memcmp(ids + (size_t)j * L, ids + (size_t)i * L, (size_t)len[i] * sizeof *ids)) {
                group[i] = j;
                break;
            }
    }
}

static void eval(const options *o) {
    clip_model m;
    clip_load(&m, o->weights, (int)o->head_width);
    clip_to_device(&m, o->dev);
    const int E = m.embed_dim, C = m.context;
    tstream im, ids;
    ts_open(&im, "--images", o->images);
    ts_open(&ids, "--ids", o->ids);
    float *img = NULL, *txt = NULL;
    int32_t *rows = NULL;   /* (N,C): each caption's ids up to its end token, zeros after */
    int *len = NULL, N = 0;
    npy_array a, t;
    char err[256];
    while (read_pair(&im, &ids, &a, &t)) {
        const int B = (int)a.shape[0], L = (int)t.shape[1];
        if ((long)N + B > (1L << 20)) die_usage("--images: expected at most %ld pairs, found more", 1L << 20);
        img = xrealloc(img, ((size_t)N + B + 1) * E * sizeof *img);
        txt = xrealloc(txt, ((size_t)N + B + 1) * E * sizeof *txt);
        rows = xrealloc(rows, ((size_t)N + B + 1) * C * sizeof *rows);
        len = xrealloc(len, ((size_t)N + B + 1) * sizeof *len);
        if (clip_encode_text(&m, txt + (size_t)N * E, t.data, B, L, err, sizeof err) != 0)
            die_usage("--ids: %s in array %ld", err, ids.index - 1);
        clip_encode_image(&m, img + (size_t)N * E, a.data, B, (int)a.shape[2], (int)a.shape[3], o->t.resize, NULL);
        for (int b = 0; b < B; b++) {
            const int32_t *r = (const int32_t *)t.data + (size_t)b * L;
            int e = 0;
            for (int k = 1; k < L; k++) if (r[k] > r[e]) e = k;
            int32_t *d = rows + (size_t)(N + b) * C;
            memset(d, 0, (size_t)C * sizeof *d);
            len[N + b] = L ? e + 1 : 0;
            memcpy(d, r, (size_t)len[N + b] * sizeof *d);
        }
        N += B;
        npy_free(&a);
        npy_free(&t);
    }
    ts_close(&im);
    ts_close(&ids);
    int *group = xmalloc((size_t)(N ? N : 1) * sizeof *group);
    caption_groups(group, rows, len, N, C);
    double i2t, t2i;
    clip_retrieval_top1(img, txt, group, N, E, &i2t, &t2i);
    printf("image_to_text_top1 %.6f\ntext_to_image_top1 %.6f\npairs %d\n", i2t, t2i, N);
    close_stdout_or_die();
    free(img); free(txt); free(rows); free(len); free(group);
    clip_free(&m);
}

int main(int argc, char **argv) {
    progname = "clip-train";
    tool_argv = argv;
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work (the training's take long) */
    check_output_dir(o.out, "-o");
    check_output_dir(o.state, "--state");
    check_output_dir(o.dump, "--dump-grads");
    check_append_file(o.log, "--log");
    if (o.mode == M_TRAIN) train(&o);
    else eval(&o);
    return 0;
}
