/* disc-step: DF-GAN's discriminator (NetD + NetC): make a checkpoint; train one step per batch
 * (hinge losses on real, fake and mismatched pairs plus MA-GP, Adam), then write the gradient of
 * G's loss −mean C(D(fake), s) through the updated D wrt the fake images. The step is lib/dstep.c. */
#include "atomic_file.h"
#include "checkpoint.h"
#include "common.h"
#include "dstep.h"
#include "steplog.h"
#include "stream.h"

#include <getopt.h>
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
    "\n"
    "  init   a new NetD/NetC with PyTorch's default init (D blocks' gamma 0, as DF-GAN)\n"
    "  train  per batch: errD = hinge(real) + (hinge(fake) + hinge(mismatched))/2 + MA-GP, an Adam step,\n"
    "         then the gradient of errG = -mean C(D(fake), s) through the updated D wrt the fake\n"
    "         images, written to --grad-out. Losses per batch: errD err_real err_fake err_mis magp errG\n"
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
    "  --device cpu|cuda   where to compute (default cpu)\n"
    "  -h, --help          this help\n";

typedef struct {
    const char *cmd;
    int imsize, nf, cond_dim;
    long seed;
    const char *ckpt, *real, *cond, *fake, *grad_out, *out, *save, *dump, *log;
    double lr, beta1, beta2, eps;
    device_t device;
} options;

static void parse(options *o, int argc, char **argv) {
    enum { IMSIZE = 256, NF, CONDDIM, SEED, CKPT, REAL, COND, FAKE, GRADOUT, SAVE, DUMP, LR, B1, B2, EPS, LOG, DEVICE };
    static const struct option longopts[] = {
        {"imsize", 1, 0, IMSIZE}, {"nf", 1, 0, NF}, {"cond-dim", 1, 0, CONDDIM}, {"seed", 1, 0, SEED},
        {"ckpt", 1, 0, CKPT}, {"real", 1, 0, REAL}, {"cond", 1, 0, COND}, {"fake", 1, 0, FAKE},
        {"grad-out", 1, 0, GRADOUT}, {"save", 1, 0, SAVE}, {"dump-grads", 1, 0, DUMP}, {"out", 1, 0, 'o'},
        {"lr", 1, 0, LR}, {"beta1", 1, 0, B1}, {"beta2", 1, 0, B2}, {"eps", 1, 0, EPS}, {"log", 1, 0, LOG},
        {"device", 1, 0, DEVICE}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->lr = 4e-4; o->beta1 = 0.0; o->beta2 = 0.9; o->eps = 1e-8;
    const char *device = "cpu";
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) { fputs(usage, stdout); close_stdout_or_die(); exit(0); }
    if (argc < 2 || argv[1][0] == '-') die_usage("expected a command (init or train), found %s (see --help)", argc < 2 ? "none" : argv[1]);
    o->cmd = argv[1];
    if (strcmp(o->cmd, "init") && strcmp(o->cmd, "train")) die_usage("expected a command (init or train), found '%s'", o->cmd);
    optind = 2;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case IMSIZE: o->imsize = (int)parse_long("--imsize", optarg, 8, 1024); break;
        case NF: o->nf = (int)parse_long("--nf", optarg, 1, 4096); break;
        case CONDDIM: o->cond_dim = (int)parse_long("--cond-dim", optarg, 1, 1 << 20); break;
        case SEED: o->seed = parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case CKPT: o->ckpt = optarg; break;
        case REAL: o->real = optarg; break;
        case COND: o->cond = optarg; break;
        case FAKE: o->fake = optarg; break;
        case GRADOUT: o->grad_out = optarg; break;
        case SAVE: o->save = optarg; break;
        case DUMP: o->dump = optarg; break;
        case 'o': o->out = optarg; break;
        case LR: o->lr = parse_double("--lr", optarg); break;
        case B1: o->beta1 = parse_double("--beta1", optarg); break;
        case B2: o->beta2 = parse_double("--beta2", optarg); break;
        case EPS: o->eps = parse_double("--eps", optarg); break;
        case LOG: o->log = optarg; break;
        case DEVICE: device = optarg; break;
        case 'h': fputs(usage, stdout); close_stdout_or_die(); exit(0);
        case ':': die_usage("expected a value after %s, found none", argv[optind - 1]);
        default: die_usage("expected a known option, found '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc) die_usage("expected only options after '%s', found '%s'", o->cmd, argv[optind]);
    if (!strcmp(o->cmd, "init")) {
        if (!o->imsize || !o->nf || !o->cond_dim || !o->out)
            die_usage("init expects --imsize, --nf, --cond-dim and -o, found some missing");
        if (o->imsize & (o->imsize - 1) || o->imsize < 32)
            die_usage("--imsize expects a power of two of at least 32 (DF-GAN's 8·nf features at 4x4), found %d", o->imsize);
    } else if (!o->ckpt || !o->real || !o->cond || !o->fake || !o->save) {
        die_usage("train expects --ckpt, --real, --cond, --fake and --save, found some missing");
    }
    o->device = device_parse(device);
}

static void run(const options *o) {
    dstep st;
    memset(&st, 0, sizeof st);
    if (!strcmp(o->cmd, "init")) {
        netd_build(&st.D, o->imsize, o->nf, o->cond_dim);
        params_alloc(&st.D.ps, o->device);
        netd_init_weights(&st.D, (uint64_t)o->seed);
        ckpt_save(&st.D.ps, o->out);
        netd_free(&st.D);
        return;
    }
    npz z;
    ckpt_read(o->ckpt, &z);
    netd_infer(&st.D, &z, o->ckpt);
    params_alloc(&st.D.ps, o->device);
    ckpt_load(&st.D.ps, &z, o->ckpt);
    npz_free(&z);
    st.lr = o->lr; st.beta1 = o->beta1; st.beta2 = o->beta2; st.eps = o->eps;
    dstep_init(&st);

    int S = st.D.imsize, C = st.D.cond_dim;
    tstream real, cond, fake;
    ts_open(&real, "--real", o->real);
    ts_open(&cond, "--cond", o->cond);
    ts_open(&fake, "--fake", o->fake);
    steplog log;
    steplog_open(&log, o->log);
    atomic_file *gout = NULL;
    float *grad = NULL;
    int Bcap = 0;
    long batch = 0;
    char idesc[64], cdesc[64];
    snprintf(idesc, sizeof idesc, "(B,3,%d,%d)", S, S);
    snprintf(cdesc, sizeof cdesc, "(B,%d)", C);
    while (1) {
        npy_array ra, ca, fa;
        int64_t iw[4] = {-1, 3, S, S};
        int more = ts_read_f32(&real, 4, iw, idesc, &ra);
        if (more) {
            snprintf(idesc, sizeof idesc, "(%lld,3,%d,%d)", (long long)ra.shape[0], S, S);
            snprintf(cdesc, sizeof cdesc, "(%lld,%d)", (long long)ra.shape[0], C);
            iw[0] = ra.shape[0];
        }
        int64_t cw[2] = {iw[0], C};
        int cmore = ts_read_f32(&cond, 2, cw, cdesc, &ca);
        int fmore = ts_read_f32(&fake, 4, iw, idesc, &fa);
        if (!more && !cmore && !fmore) break;
        if (!more || !cmore || !fmore)
            die_usage("expected --real, --cond and --fake to hold the same number of batches, found %s ending at batch %ld",
                      !more ? "--real" : !cmore ? "--cond" : "--fake", batch + 1);
        batch++;
        int B = (int)ra.shape[0];
        if (B < 2) die_usage("--real: expected a batch of at least 2 images (mismatched pairs need two), found %d", B);
        if (B > Bcap) { Bcap = B; free(grad); grad = xmalloc((size_t)3 * B * S * S * sizeof(float)); }
        dstep_losses L;
        dstep_train(&st, ra.data, ca.data, fa.data, B, grad, &L);
        npy_free(&ra); npy_free(&ca); npy_free(&fa);
        if (o->grad_out) {
            if (!gout) gout = af_open(o->grad_out);
            int64_t shape[4] = {B, 3, S, S};
            if (npy_write(af_stream(gout), NPY_F4, 4, shape, grad) != 0 || fflush(af_stream(gout)) != 0)
                die_runtime("expected to write --grad-out '%s', found a write error", o->grad_out);
        }
        const char *names[] = {"errD", "err_real", "err_fake", "err_mis", "magp", "errG"};
        double vals[] = {L.errD, L.err_real, L.err_fake, L.err_mis, L.magp, L.errG};
        steplog_write(&log, batch, 6, names, vals);
    }
    if (batch == 0) die_usage("--real: expected at least one batch, found an empty stream");
    if (gout) af_commit(gout);
    ckpt_save(&st.D.ps, o->save);
    if (o->dump) ckpt_save_grads(&st.D.ps, o->dump);
    steplog_close(&log);
    ts_close(&real); ts_close(&cond); ts_close(&fake);
    free(grad);
    dstep_free(&st);
}

int main(int argc, char **argv) {
    progname = "disc-step";
    tool_argv = argv;
    options o;
    parse(&o, argc, argv);
    run(&o);
    return 0;
}
