/* stepopts.c: the options gen-step and disc-step share (see stepopts.h). */
#include "train/stepopts.h"
#include "core/common.h"

#include <math.h>
#include <string.h>

void step_common_begin(step_common *c, double lr, int argc, char **argv, const char *usage, const char *shortopts,
                       const struct option *longopts, const char *const *cmds, int ncmds, const char *list) {
    memset(c, 0, sizeof *c);
    c->lr = lr; c->beta1 = 0.0; c->beta2 = 0.9; c->eps = 1e-8;
    topt_begin(&c->t, argc, argv, usage, shortopts, longopts, TOOL_CUDA);
    c->cmd = topt_command(&c->t, cmds, ncmds, list);
}

int step_common_option(step_common *c, int opt, const char *arg) {
    switch (opt) {
    case OPT_IMSIZE: c->imsize = (int)parse_long("--imsize", arg, 8, 1024); return 1;
    case OPT_NF: c->nf = (int)parse_long("--nf", arg, 1, 4096); return 1;
    case OPT_ZDIM: c->z_dim = (int)parse_long("--z-dim", arg, 1, 1 << 20); return 1;
    case OPT_CONDDIM: c->cond_dim = (int)parse_long("--cond-dim", arg, 1, 1 << 20); return 1;
    case OPT_SEED: c->seed = parse_long("--seed", arg, 0, 0x7fffffffffffffffL); return 1;
    case OPT_LR: c->lr = parse_double_in("--lr", arg, 0, INFINITY, 0); return 1;
    case OPT_BETA1: c->beta1 = parse_double_in("--beta1", arg, 0, 1, PD_HI_OPEN); return 1;
    case OPT_BETA2: c->beta2 = parse_double_in("--beta2", arg, 0, 1, PD_HI_OPEN); return 1;
    case OPT_EPS: c->eps = parse_double_in("--eps", arg, 0, INFINITY, PD_LO_OPEN); return 1;
    case OPT_LOG: c->log = arg; return 1;
    case OPT_IPC: c->ipc = 1; return 1;
    default: return 0;
    }
}

void step_common_end(const step_common *c) {
    topt_end(&c->t);
    if (!strcmp(c->cmd, "init") && c->imsize && (c->imsize & (c->imsize - 1) || c->imsize < 32))
        die_usage("--imsize expects a power of two of at least 32 (DF-GAN's 8·nf features at 4x4), found %d", c->imsize);
    if (c->ipc && strcmp(c->cmd, "train")) die_usage("expected --ipc only with train, found it with %s", c->cmd);
}
