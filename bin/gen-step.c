/* gen-step: DF-GAN's generator NetG: make a checkpoint, generate fake images, train one step
 * per batch from the gradient wrt the fake images (the discriminator's, plus any others such as
 * the CLIP loss's). Option parsing and the loop over the streams; the step is lib/train/gstep.c, the
 * model lib/models/netg.c. */
#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "core/dist.h"
#include "core/finite.h"
#include "train/gstep.h"
#include "train/ipc_link.h"
#include "train/shard.h"
#include "train/stepcheck.h"
#include "train/steplog.h"
#include "train/stepopts.h"

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
    "Data-parallel (mpirun -np N gen-step ...): each rank takes B/N samples of every batch and the\n"
    "gradients are summed over the ranks before Adam; a path with %r is per-rank (%r: the rank),\n"
    "one without is a file of whole batches; outputs of images need %r; rank 0 writes --save,\n"
    "--dump-grads and the log (README: running over ranks and machines).\n"
    "\n"
    "  init      a new NetG with PyTorch's default init and DF-GAN's Affine init, keys as NetG's state_dict\n"
    "  forward   fake images G(noise, cond) for every batch\n"
    "  train     per batch: fake images (written to --fake-out before that batch's gradients are read),\n"
    "            then the sum of one (B,3,S,S) array from each --grad stream is the gradient wrt the\n"
    "            fake images; backward through G and an Adam step. Logged per batch: grad_norm (of that\n"
    "            summed gradient), param_grad_norm (of G's parameter gradient). A NaN or Inf in G's\n"
    "            parameter gradient, its weights, Adam's state or the fakes stops the tool (exit 3) naming\n"
    "            the batch, the quantity and the index, before any checkpoint is written; a checkpoint\n"
    "            with a NaN or Inf is never written\n"
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
    "  --ipc               train, --device cuda, for the training loop (run-epoch): --fake-out carries\n"
    "                      records of GPU buffers (readers on this GPU map them; a FIFO or pipe only),\n"
    "                      --grad takes records or arrays; buffers are reused once answered\n"
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
    step_common_begin(&o->c, 1e-4, argc, argv, usage, "o:", longopts, cmds, 3, "init, forward or train");
    for (int c; (c = step_common_next(&o->c)) != -1;) {
        if (step_common_option(&o->c, c, optarg)) continue;
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
    step_common_end(&o->c);
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
    o->device = topt_device(&o->c.t);
    if (o->c.ipc) { ipc_check_device(o->device); ipc_check_output("--fake-out", o->fake_out); }
    /* the outputs' folders, before any work */
    check_output_dir(o->out, "-o");
    check_output_dir(o->save, "--save");
    check_output_dir(o->dump, "--dump-grads");
    check_output_dir(o->fake_out, "--fake-out");
    check_append_file(o->c.log, "--log");
}

/* The --grad streams, opened after the first fake images are out: a FIFO's writer (disc-step,
 * clip-embed) opens its end only after reading them. Named "--grad PATH" in messages. */
static void open_grads(shard_group *grads, const options *o, int S) {
    ts_member m[MAX_GRADS];
    char names[MAX_GRADS][64 + 4096];
    for (int i = 0; i < o->ngrad; i++) {
        snprintf(names[i], sizeof names[i], "--grad %s", o->grad[i]);
        m[i] = (ts_member){names[i], o->grad[i], 4, {-1, 3, S, S}};
    }
    shg_open(grads, o->ngrad, m);
}

static void run(const options *o) {
    dist_init(o->device);
    const int rank0 = dist_rank() == 0;
    if (!strcmp(o->c.cmd, "init")) {
        netg g;
        netg_new(&g, o->c.imsize, o->c.nf, o->c.z_dim, o->c.cond_dim, o->device, (uint64_t)o->c.seed);
        if (rank0) ckpt_save(&g.ps, o->out);
        netg_free(&g);
        dist_finish();
        return;
    }
    gstep st;
    const int train = !strcmp(o->c.cmd, "train");
    char img_buf[4096];
    const char *img_path = train ? o->fake_out : o->out;
    dist_rank0_first();             /* what every rank finds wrong here is said once */
    netg_load(&st.G, o->ckpt, o->device);
    if (img_path) img_path = shard_out_path(train ? "--fake-out" : "-o", img_path, img_buf, sizeof img_buf);
    dist_rank0_done();
    st.lr = o->c.lr; st.beta1 = o->c.beta1; st.beta2 = o->c.beta2; st.eps = o->c.eps;
    gstep_init(&st);
    const int S = st.G.imsize;
    shard_group in, grads = {0};
    ts_member m[2] = {{"--noise", o->noise, 2, {-1, st.G.z_dim}}, {"--cond", o->cond, 2, {-1, st.G.cond_dim}}};
    shg_open(&in, 2, m);
    atomic_file *img_out = NULL;
    ipc_out fake_ipc;                /* --ipc: the fakes as records of G's buffers */
    ipc_in grad_ipc[MAX_GRADS] = {{0}};
    if (o->c.ipc) { ipc_check_ranks(); ipc_out_init(&fake_ipc, "--fake-out", img_path); }
    steplog log = {0};
    if (rank0) steplog_open(&log, o->c.log);
    npy_array zc[2], ga[MAX_GRADS];
    while (shg_read(&in, 0, zc)) {
        const int B = (int)zc[0].shape[0];
        const int ipc_fakes = o->c.ipc && img_path;
        const float *fake = NULL;
        float *fake_dev = ipc_fakes ? ipc_out_buffer(&fake_ipc, (size_t)3 * B * S * S) : NULL;
        if (ipc_fakes) gstep_forward_dev(&st, zc[0].data, zc[1].data, B, fake_dev);
        else fake = gstep_forward(&st, zc[0].data, zc[1].data, B, img_path != NULL);
        npy_free(&zc[0]); npy_free(&zc[1]);
        if (train && fake) step_check_host(in.batches, "the fake images", fake, 4, (int64_t[]){B, 3, S, S});
        if (!train && fake) {    /* finite inputs G overflows on (cond of 1e30): never NaN images out */
            const ptrdiff_t bad = first_nonfinite(fake, (size_t)3 * B * S * S);
            char at[96];
            if (bad >= 0)
                die_nonfinite("expected finite fake images, found %s at %s in batch %ld (G overflowed on its --noise and --cond)",
                              nonfinite_name(fake[bad]), index_desc(at, sizeof at, (size_t)bad, 4, (int64_t[]){B, 3, S, S}),
                              in.batches - 1);
        }
        if (ipc_fakes) {
            if (train) step_check_dev(st.G.ps.device, in.batches, "the fake images", fake_dev, 4, (int64_t[]){B, 3, S, S});
            ipc_out_publish(&fake_ipc, 4, (int64_t[]){B, 3, S, S});
        } else if (img_path) {
            if (!img_out) img_out = af_open(img_path);
            if (npy_write(af_stream(img_out), NPY_F4, 4, (int64_t[]){B, 3, S, S}, fake) != 0 || fflush(af_stream(img_out)) != 0)
                die_runtime("expected to write images to '%s', found a write error", img_path);
        }
        if (!train) continue;
        if (!grads.ranks) {
            open_grads(&grads, o, S);
            for (int i = 0; o->c.ipc && i < o->ngrad; i++) ipc_take_records(&grads, i);
        }
        if (!shg_read(&grads, B, ga))
            die_usage("--grad %s: expected a gradient for batch %ld, found the end of the stream", o->grad[0], in.batches);
        const float *gp[MAX_GRADS];
        for (int i = 0; i < o->ngrad; i++) gp[i] = o->c.ipc ? ipc_in_shard(&grad_ipc[i], &grads, i, &ga[i]) : ga[i].data;
        const double norm = o->c.ipc ? gstep_train_dev(&st, gp, o->ngrad) : gstep_train(&st, gp, o->ngrad);
        for (int i = 0; i < o->ngrad; i++) npy_free(&ga[i]);
        if (rank0)
            steplog_write(&log, in.batches, 2, (const char *const[]){"grad_norm", "param_grad_norm"},
                          (const double[]){norm, st.param_grad_norm});
    }
    if (in.batches == 0) die_usage("--noise: expected at least one batch, found an empty stream");
    /* close the image stream first: a reader on a FIFO ends its input there, then closes our --grad */
    if (img_out) af_commit(img_out);
    if (o->c.ipc) ipc_out_close(&fake_ipc);
    if (train) {
        shg_expect_end(&grads);     /* every --grad stream used up */
        shg_close(&grads);
        dist_check_replicas(st.G.ps.device, st.G.ps.data, st.G.ps.total, "G's weights");
        if (rank0) ckpt_save(&st.G.ps, o->save);
        if (rank0 && o->dump) ckpt_save_grads(&st.G.ps, o->dump);
    }
    if (rank0) steplog_close(&log);
    shg_close(&in);
    for (int i = 0; o->c.ipc && i < o->ngrad; i++) ipc_in_free(&grad_ipc[i]);
    gstep_free(&st);
    dist_finish();
}

int main(int argc, char **argv) {
    progname = "gen-step";
    dist_start();
    options o;
    parse(&o, argc, argv);
    run(&o);
    return 0;
}
