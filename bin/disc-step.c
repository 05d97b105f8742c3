/* disc-step: DF-GAN's discriminator (NetD + NetC): make a checkpoint; train one step per batch
 * (hinge losses on real, fake and mismatched pairs plus MA-GP, Adam), then write the gradient of
 * G's loss −mean C(D(fake), s) through the updated D wrt the fake images. The step is lib/train/dstep.c. */
#include "core/atomic_file.h"
#include "core/checkpoint.h"
#include "core/common.h"
#include "core/dist.h"
#include "train/dstep.h"
#include "train/ipc_link.h"
#include "train/shard.h"
#include "train/steplog.h"
#include "train/stepopts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: disc-step init  --imsize S --nf N --cond-dim C [--seed K] -o D.npz\n"
    "       disc-step train --ckpt D.npz --real R.npy --cond S.npy --fake FAKE.npy --grad-out GF.npy\n"
    "                       --save D2.npz [--dump-grads DG.npz] [--log FILE]\n"
    "\n"
    "DF-GAN's discriminator NetD and its head NetC (one checkpoint: netD.* and netC.* keys).\n"
    "Streams are .npy arrays back to back, one batch each (files, pipes or FIFOs; \"-\" is stdin or\n"
    "stdout): images (B,3,S,S) NCHW float32 in [-1,1], sentence embeddings (B,C) float32.\n"
    "Data-parallel (mpirun -np N disc-step train ...): each rank takes B/N samples of every batch,\n"
    "losses and gradients are the global batch's; a path with %r is per-rank (%r: the rank), one\n"
    "without is a file of whole batches; --grad-out needs %r; rank 0 writes --save, --dump-grads\n"
    "and the log (README: running over ranks and machines).\n"
    "\n"
    "  init   a new NetD/NetC with PyTorch's default init (D blocks' gamma 0, as DF-GAN)\n"
    "  train  per batch: errD = hinge(real) + (hinge(fake) + hinge(mismatched))/2 + MA-GP, an Adam step,\n"
    "         then the gradient of errG = -mean C(D(fake), s) through the updated D wrt the fake\n"
    "         images, written to --grad-out. Logged per batch: errD err_real err_fake err_mis magp errG\n"
    "         and param_grad_norm (of D's and C's parameter gradient). A NaN or Inf in a loss, in that\n"
    "         gradient, in the weights or Adam's state after the step, or in --grad-out's batch stops the\n"
    "         tool (exit 3) naming the batch and the quantity, before any checkpoint is written; a\n"
    "         checkpoint with a NaN or Inf is never written\n"
    "\n"
    "options:\n"
    "  --imsize S, --nf N, --cond-dim C   architecture (init; read back from shapes otherwise)\n"
    "  --seed K            initialisation seed (default 0)\n"
    "  --ckpt FILE         the D checkpoint (.npz) to start from\n"
    "  --real FILE, --cond FILE, --fake FILE   input streams\n"
    "  --grad-out FILE     gradient of G's loss wrt the fake images, one array per batch\n"
    "  -o, --out FILE      the new checkpoint (init)\n"
    "  --save FILE         the updated checkpoint with Adam state (may equal --ckpt)\n"
    "  --dump-grads FILE   the last batch's D and C parameter gradients under the parameter keys\n"
    "  --lr X              Adam learning rate (default 4e-4)\n"
    "  --beta1 X --beta2 X --eps X   Adam (defaults 0.0, 0.9, 1e-8, as DF-GAN)\n"
    "  --log FILE          losses as JSON lines appended to FILE (default: lines on stderr)\n"
    "  --ipc               train, --device cuda, for the training loop (run-epoch): --fake takes records\n"
    "                      of gen-step's GPU buffers (read in place) or arrays, --grad-out carries\n"
    "                      records of D's buffers (a FIFO or pipe only), reused once answered\n"
    "  --device cpu|cuda   where to compute (default cpu)\n"
    "  -h, --help          this help\n";

enum { CKPT = OPT_TOOL, REAL, COND, FAKE, GRADOUT, SAVE, DUMP };

typedef struct {
    step_common c;
    const char *ckpt, *real, *cond, *fake, *grad_out, *out, *save, *dump;
    device_t device;
} options;

static void parse(options *o, int argc, char **argv) {
    static const struct option longopts[] = {
        STEP_COMMON_OPTIONS, {"ckpt", 1, 0, CKPT}, {"real", 1, 0, REAL}, {"cond", 1, 0, COND},
        {"fake", 1, 0, FAKE}, {"grad-out", 1, 0, GRADOUT}, {"save", 1, 0, SAVE}, {"dump-grads", 1, 0, DUMP},
        {"out", 1, 0, 'o'}, {0, 0, 0, 0}};
    static const char *const cmds[] = {"init", "train"};
    memset(o, 0, sizeof *o);
    step_common_begin(&o->c, 4e-4, argc, argv, usage, "o:", longopts, cmds, 2, "init or train");
    for (int c; (c = step_common_next(&o->c)) != -1;) {
        if (step_common_option(&o->c, c, optarg)) continue;
        switch (c) {
        case CKPT: o->ckpt = optarg; break;
        case REAL: o->real = optarg; break;
        case COND: o->cond = optarg; break;
        case FAKE: o->fake = optarg; break;
        case GRADOUT: o->grad_out = optarg; break;
        case SAVE: o->save = optarg; break;
        case DUMP: o->dump = optarg; break;
        case 'o': o->out = optarg; break;
        }
    }
    step_common_end(&o->c);
    if (o->c.z_dim) die_usage("expected no --z-dim (the noise size is gen-step's), found --z-dim %d", o->c.z_dim);
    if (!strcmp(o->c.cmd, "init")) {
        if (!o->c.imsize || !o->c.nf || !o->c.cond_dim || !o->out)
            die_usage("init expects --imsize, --nf, --cond-dim and -o, found some missing");
    } else if (!o->ckpt || !o->real || !o->cond || !o->fake || !o->save) {
        die_usage("train expects --ckpt, --real, --cond, --fake and --save, found some missing");
    }
    o->device = topt_device(&o->c.t);
    if (o->c.ipc) { ipc_check_device(o->device); ipc_check_output("--grad-out", o->grad_out); }
    /* the outputs' folders, before any work */
    check_output_dir(o->out, "-o");
    check_output_dir(o->save, "--save");
    check_output_dir(o->dump, "--dump-grads");
    check_output_dir(o->grad_out, "--grad-out");
    check_append_file(o->c.log, "--log");
}

static void run(const options *o) {
    dstep st;
    memset(&st, 0, sizeof st);
    dist_init(o->device);
    const int rank0 = dist_rank() == 0;
    if (!strcmp(o->c.cmd, "init")) {
        netd_new(&st.D, o->c.imsize, o->c.nf, o->c.cond_dim, o->device, (uint64_t)o->c.seed);
        if (rank0) ckpt_save(&st.D.ps, o->out);
        netd_free(&st.D);
        dist_finish();
        return;
    }
    char gout_buf[4096];
    const char *gout_path = NULL;
    dist_rank0_first();             /* what every rank finds wrong here is said once */
    netd_load(&st.D, o->ckpt, o->device);
    if (o->grad_out) gout_path = shard_out_path("--grad-out", o->grad_out, gout_buf, sizeof gout_buf);
    dist_rank0_done();
    st.lr = o->c.lr; st.beta1 = o->c.beta1; st.beta2 = o->c.beta2; st.eps = o->c.eps;
    dstep_init(&st);

    const int S = st.D.imsize, C = st.D.cond_dim;
    shard_group in;
    ts_member m[3] = {{"--real", o->real, 4, {-1, 3, S, S}}, {"--cond", o->cond, 2, {-1, C}},
                      {"--fake", o->fake, 4, {-1, 3, S, S}}};
    shg_open(&in, 3, m);
    ipc_in fake_ipc = {0};           /* --ipc: the fakes from records, the gradient as records of D's buffers */
    ipc_out grad_ipc;
    if (o->c.ipc) { ipc_check_ranks(); ipc_take_records(&in, 2); ipc_out_init(&grad_ipc, "--grad-out", gout_path); }
    steplog log = {0};
    if (rank0) steplog_open(&log, o->c.log);
    atomic_file *gout = NULL;
    float *grad = NULL;
    int Bcap = 0;
    npy_array a[3];   /* real, cond, fake */
    while (shg_read(&in, 0, a)) {
        const int B = (int)a[0].shape[0];    /* this rank's; in.B over all ranks */
        if (in.B < 2) die_usage("--real: expected a batch of at least 2 images (mismatched pairs need two), found %lld", (long long)in.B);
        if (B > Bcap) { Bcap = B; free(grad); grad = xmalloc((size_t)3 * B * S * S * sizeof(float)); }
        dstep_losses L;
        if (o->c.ipc)
            dstep_train_dev(&st, a[0].data, a[1].data, ipc_in_shard(&fake_ipc, &in, 2, &a[2]), B,
                            ipc_out_buffer(&grad_ipc, (size_t)3 * B * S * S), &L);
        else dstep_train(&st, a[0].data, a[1].data, a[2].data, B, grad, &L);
        for (int i = 0; i < 3; i++) npy_free(&a[i]);
        if (gout_path && o->c.ipc) ipc_out_publish(&grad_ipc, 4, (int64_t[]){B, 3, S, S});
        else if (gout_path) {
            if (!gout) gout = af_open(gout_path);
            if (npy_write(af_stream(gout), NPY_F4, 4, (int64_t[]){B, 3, S, S}, grad) != 0 || fflush(af_stream(gout)) != 0)
                die_runtime("expected to write --grad-out '%s', found a write error", gout_path);
        }
        const char *names[] = {"errD", "err_real", "err_fake", "err_mis", "magp", "errG", "param_grad_norm"};
        double vals[] = {L.errD, L.err_real, L.err_fake, L.err_mis, L.magp, L.errG, L.param_grad_norm};
        if (rank0) steplog_write(&log, in.batches, 7, names, vals);
    }
    if (in.batches == 0) die_usage("--real: expected at least one batch, found an empty stream");
    if (gout) af_commit(gout);
    if (o->c.ipc) { ipc_out_close(&grad_ipc); ipc_in_free(&fake_ipc); }
    dist_check_replicas(st.D.ps.device, st.D.ps.data, st.D.ps.total, "D's weights");
    if (rank0) ckpt_save(&st.D.ps, o->save);
    if (rank0 && o->dump) ckpt_save_grads(&st.D.ps, o->dump);
    if (rank0) steplog_close(&log);
    shg_close(&in);
    free(grad);
    dstep_free(&st);
    dist_finish();
}

int main(int argc, char **argv) {
    progname = "disc-step";
    dist_start();
    options o;
    parse(&o, argc, argv);
    run(&o);
    return 0;
}
