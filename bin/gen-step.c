/* gen-step: DF-GAN's generator NetG: make a checkpoint, generate fake images, train one step
 * per batch from the gradient wrt the fake images (the discriminator's, plus any others such as
 * the CLIP loss's). Option parsing and the loop over the streams; the model is lib/models/netg.c. */
#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "models/netg.h"
#include "core/ops.h"
#include "train/steplog.h"
#include "train/stepopts.h"
#include "io/stream.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: gen-step init    --imsize S --nf N --z-dim Z --cond-dim C [--seed K] -o G.npz\n"
    "       gen-step forward --ckpt G.npz --noise Z.npy --cond S.npy -o FAKE.npy\n"
    "       gen-step train   --ckpt G.npz --noise Z.npy --cond S.npy --grad GF.npy [--grad MORE.npy ...]\n"
    "                        --save G2.npz [--dump-grads GG.npz] [--fake-out F.npy]\n"
    "\n"
    "DF-GAN's generator. Streams are .npy arrays back to back, one batch each (files, pipes or FIFOs;\n"
    "\"-\" is stdin/stdout): noise (B,Z) and sentence embeddings (B,C) float32; images (B,3,S,S) NCHW\n"
    "float32 in [-1,1]. A tool reads as many batches as its inputs hold, weights staying in memory.\n"
    "\n"
    "  init      a new NetG with PyTorch's default init and DF-GAN's Affine init, keys as NetG's state_dict\n"
    "  forward   fake images G(noise, cond) for every batch\n"
    "  train     per batch: fake images (written to --fake-out before that batch's gradients are read),\n"
    "            then the sum of one (B,3,S,S) array from each --grad stream is the gradient wrt the\n"
    "            fake images; backward through G and an Adam step\n"
    "\n"
    "options:\n"
    "  --imsize S, --nf N, --z-dim Z, --cond-dim C   architecture (init; read back from shapes otherwise)\n"
    "  --seed K            initialisation seed (default 0)\n"
    "  --ckpt FILE         the G checkpoint (.npz) to start from\n"
    "  --noise FILE        noise stream;  --cond FILE  sentence-embedding stream\n"
    "  --grad FILE         gradient stream wrt the fake images (repeatable; summed)\n"
    "  --fake-out FILE     write each batch's fake images here (train)\n"
    "  -o, --out FILE      output (init: checkpoint; forward: image stream)\n"
    "  --save FILE         the updated checkpoint, with Adam state (train; may equal --ckpt)\n"
    "  --dump-grads FILE   the last batch's parameter gradients, under the parameter keys (.npz)\n"
    "  --lr X              Adam learning rate (default 1e-4)\n"
    "  --beta1 X --beta2 X --eps X   Adam (defaults 0.0, 0.9, 1e-8, as DF-GAN)\n"
    "  --log FILE          per-batch values as JSON lines appended to FILE (default: lines on stderr)\n"
    "  --device cpu|cuda   where to compute (default cpu)\n"
    "  -h, --help          this help\n";

#define MAX_GRADS 16

enum { CKPT = OPT_TOOL, NOISE, COND, GRAD, SAVE, DUMP, FAKEOUT };

typedef struct {
    step_common c;
    const char *ckpt, *noise, *cond, *out, *save, *dump, *fake_out;
    const char *grad[MAX_GRADS];
    int ngrad;
    device_t device;
} options;

static void parse(options *o, int argc, char **argv) {
    static const struct option longopts[] = {
        STEP_COMMON_OPTIONS, {"ckpt", 1, 0, CKPT}, {"noise", 1, 0, NOISE}, {"cond", 1, 0, COND},
        {"grad", 1, 0, GRAD}, {"save", 1, 0, SAVE}, {"dump-grads", 1, 0, DUMP}, {"fake-out", 1, 0, FAKEOUT},
        {"out", 1, 0, 'o'}, {0, 0, 0, 0}};
    static const char *const cmds[] = {"init", "forward", "train"};
    memset(o, 0, sizeof *o);
    step_common_begin(&o->c, 1e-4, argc, argv, usage, cmds, 3, "init, forward or train");
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        if (step_common_option(&o->c, c, optarg, argv, usage)) continue;
        switch (c) {
        case CKPT: o->ckpt = optarg; break;
        case NOISE: o->noise = optarg; break;
        case COND: o->cond = optarg; break;
        case GRAD:
            if (o->ngrad == MAX_GRADS) die_usage("expected at most %d --grad streams, found more", MAX_GRADS);
            o->grad[o->ngrad++] = optarg; break;
        case SAVE: o->save = optarg; break;
        case DUMP: o->dump = optarg; break;
        case FAKEOUT: o->fake_out = optarg; break;
        case 'o': o->out = optarg; break;
        }
    }
    step_common_end(&o->c, argc, argv);
    const char *cmd = o->c.cmd;
    if (!strcmp(cmd, "init")) {
        if (!o->c.imsize || !o->c.nf || !o->c.z_dim || !o->c.cond_dim || !o->out)
            die_usage("init expects --imsize, --nf, --z-dim, --cond-dim and -o, found some missing");
    } else {
        if (!o->ckpt || !o->noise || !o->cond) die_usage("%s expects --ckpt, --noise and --cond, found some missing", cmd);
        if (!strcmp(cmd, "forward") && !o->out) die_usage("forward expects -o FAKE.npy, found none");
        if (!strcmp(cmd, "train") && (!o->ngrad || !o->save))
            die_usage("train expects --grad and --save, found %s missing", o->ngrad ? "--save" : "--grad");
    }
    o->device = device_parse(o->c.device);
}

static void load(netg *g, const options *o) {
    npz z;
    ckpt_read(o->ckpt, &z);
    netg_infer(g, &z, o->ckpt);
    params_alloc(&g->ps, o->device);
    ckpt_load(&g->ps, &z, o->ckpt);
    npz_free(&z);
}

static void write_images(atomic_file **af, const char *path, const netg *g, float *host, float *stage, int B) {
    int S = g->imsize;
    OP(g->ps.device, cnhw_to_nchw, stage, g->img.data, B, 3, S * S);
    dev_download(g->ps.device, host, stage, (size_t)3 * B * S * S);
    if (!*af) *af = af_open(path);
    int64_t shape[4] = {B, 3, S, S};
    if (npy_write(af_stream(*af), NPY_F4, 4, shape, host) != 0 || fflush(af_stream(*af)) != 0)
        die_runtime("expected to write images to '%s', found a write error", path);
}

static void run(const options *o) {
    netg g;
    if (!strcmp(o->c.cmd, "init")) {
        netg_build(&g, o->c.imsize, o->c.nf, o->c.z_dim, o->c.cond_dim);
        params_alloc(&g.ps, o->device);
        netg_init_weights(&g, (uint64_t)o->c.seed);
        ckpt_save(&g.ps, o->out);
        netg_free(&g);
        return;
    }
    load(&g, o);
    int train = !strcmp(o->c.cmd, "train");
    tstream noise, cond, grads[MAX_GRADS];
    ts_open(&noise, "--noise", o->noise);
    ts_open(&cond, "--cond", o->cond);
    int S = g.imsize;
    char zdesc[64], cdesc[64], idesc[64];
    snprintf(zdesc, sizeof zdesc, "(B,%d)", g.z_dim);
    snprintf(cdesc, sizeof cdesc, "(B,%d)", g.cond_dim);
    snprintf(idesc, sizeof idesc, "(B,3,%d,%d)", S, S);
    atomic_file *img_out = NULL;
    const char *img_path = train ? o->fake_out : o->out;
    steplog log;
    steplog_open(&log, o->c.log);
    float *host = NULL, *grad_sum = NULL, *stage = NULL, *dimg = NULL;
    int Bcap = 0, opened = 0;
    long batch = 0;
    npy_array za, ca;
    while (1) {
        int64_t zw[2] = {-1, g.z_dim};
        int more = ts_read_f32(&noise, 2, zw, zdesc, &za);
        int64_t cw[2] = {more ? za.shape[0] : -1, g.cond_dim};
        char cdesc_b[64];
        if (more) snprintf(cdesc_b, sizeof cdesc_b, "(%lld,%d)", (long long)za.shape[0], g.cond_dim);
        int cmore = ts_read_f32(&cond, 2, cw, more ? cdesc_b : cdesc, &ca);
        if (!more && !cmore) break;
        if (more != cmore)
            die_usage("expected --noise and --cond to hold the same number of batches, found %ld and %ld",
                      batch + more, batch + cmore);
        batch++;
        int B = (int)za.shape[0];
        if (B > Bcap) {
            Bcap = B;
            size_t n = (size_t)3 * B * S * S;
            free(host); free(grad_sum);
            host = xmalloc(n * sizeof(float)); grad_sum = xmalloc(n * sizeof(float));
            dev_free(o->device, stage); dev_free(o->device, dimg);
            stage = dev_alloc(o->device, n); dimg = dev_alloc(o->device, n);
        }
        tensor zt = tensor_new2(o->device, B, g.z_dim), ct = tensor_new2(o->device, B, g.cond_dim);
        tensor_upload(&zt, za.data);
        tensor_upload(&ct, ca.data);
        npy_free(&za); npy_free(&ca);
        netg_forward(&g, zt.data, ct.data, B);
        tensor_free(&zt); tensor_free(&ct);
        if (img_path) write_images(&img_out, img_path, &g, host, stage, B);
        if (!train) continue;
        /* the gradient wrt the fake images: the sum of one array from each --grad stream */
        if (!opened) { for (int i = 0; i < o->ngrad; i++) ts_open(&grads[i], "--grad", o->grad[i]); opened = 1; }
        size_t n = (size_t)3 * B * S * S;
        memset(grad_sum, 0, n * sizeof(float));
        for (int i = 0; i < o->ngrad; i++) {
            int64_t gw[4] = {B, 3, S, S};
            char gdesc[64];
            snprintf(gdesc, sizeof gdesc, "(%d,3,%d,%d)", B, S, S);
            npy_array ga;
            if (!ts_read_f32(&grads[i], 4, gw, gdesc, &ga))
                die_usage("--grad %s: expected a gradient for batch %ld, found the end of the stream", o->grad[i], batch);
            const float *gp = ga.data;
            for (size_t k = 0; k < n; k++) grad_sum[k] += gp[k];
            npy_free(&ga);
        }
        double norm = 0;
        for (size_t k = 0; k < n; k++) norm += (double)grad_sum[k] * grad_sum[k];
        dev_upload(o->device, stage, grad_sum, n);
        OP(o->device, nchw_to_cnhw, dimg, stage, B, 3, S * S);
        params_zero_grad(&g.ps);
        netg_backward(&g, dimg);
        params_adam_step(&g.ps, o->c.lr, o->c.beta1, o->c.beta2, o->c.eps);
        const char *names[] = {"grad_norm"};
        double vals[] = {sqrt(norm)};
        steplog_write(&log, batch, 1, names, vals);
    }
    if (batch == 0) die_usage("--noise: expected at least one batch, found an empty stream");
    /* close the image stream first: a reader on a FIFO ends its input there, then closes our --grad */
    if (img_out) af_commit(img_out);
    if (train) {
        /* every --grad stream must be used up */
        for (int i = 0; i < o->ngrad; i++) {
            npy_array extra;
            int64_t any[4] = {-1, -1, -1, -1};
            if (ts_read_f32(&grads[i], 4, any, "(B,3,S,S)", &extra))
                die_usage("--grad %s: expected %ld batches, found more", o->grad[i], batch);
            ts_close(&grads[i]);
        }
    }
    if (train) {
        ckpt_save(&g.ps, o->save);
        if (o->dump) ckpt_save_grads(&g.ps, o->dump);
    }
    steplog_close(&log);
    ts_close(&noise); ts_close(&cond);
    free(host); free(grad_sum);
    dev_free(o->device, stage); dev_free(o->device, dimg);
    netg_free(&g);
}

int main(int argc, char **argv) {
    progname = "gen-step";
    tool_argv = argv;
    options o;
    parse(&o, argc, argv);
    run(&o);
    return 0;
}
