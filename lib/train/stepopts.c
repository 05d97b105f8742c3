/* stepopts.c: the options gen-step and disc-step share (see stepopts.h). */
#include "train/stepopts.h"
#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void step_common_begin(step_common *c, double lr, int argc, char **argv, const char *usage,
                       const char *const *cmds, int ncmds, const char *list) {
    memset(c, 0, sizeof *c);
    c->lr = lr; c->beta1 = 0.0; c->beta2 = 0.9; c->eps = 1e-8;
    c->device = "cpu";
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(usage, stdout);
        close_stdout_or_die();
        exit(0);
    }
    if (argc < 2 || argv[1][0] == '-')
        die_usage("expected a command (%s), found %s (see --help)", list, argc < 2 ? "none" : argv[1]);
    c->cmd = argv[1];
    int known = 0;
    for (int i = 0; i < ncmds; i++) known |= !strcmp(c->cmd, cmds[i]);
    if (!known) die_usage("expected a command (%s), found '%s'", list, c->cmd);
    optind = 2;
    opterr = 0;
}

int step_common_option(step_common *c, int opt, const char *arg, char **argv, const char *usage) {
    switch (opt) {
    case OPT_IMSIZE: c->imsize = (int)parse_long("--imsize", arg, 8, 1024); return 1;
    case OPT_NF: c->nf = (int)parse_long("--nf", arg, 1, 4096); return 1;
    case OPT_ZDIM: c->z_dim = (int)parse_long("--z-dim", arg, 1, 1 << 20); return 1;
    case OPT_CONDDIM: c->cond_dim = (int)parse_long("--cond-dim", arg, 1, 1 << 20); return 1;
    case OPT_SEED: c->seed = parse_long("--seed", arg, 0, 0x7fffffffffffffffL); return 1;
    case OPT_LR: c->lr = parse_double("--lr", arg); return 1;
    case OPT_BETA1: c->beta1 = parse_double("--beta1", arg); return 1;
    case OPT_BETA2: c->beta2 = parse_double("--beta2", arg); return 1;
    case OPT_EPS: c->eps = parse_double("--eps", arg); return 1;
    case OPT_LOG: c->log = arg; return 1;
    case OPT_DEVICE: c->device = arg; return 1;
    case 'h': fputs(usage, stdout); close_stdout_or_die(); exit(0);
    case ':': die_usage("expected a value after %s, found none", argv[optind - 1]);
    case '?': die_usage("expected a known option, found '%s' (see --help)", argv[optind - 1]);
    default: return 0;
    }
}

void step_common_end(const step_common *c, int argc, char **argv) {
    if (optind < argc) die_usage("expected only options after '%s', found '%s'", c->cmd, argv[optind]);
    if (!strcmp(c->cmd, "init") && c->imsize && (c->imsize & (c->imsize - 1) || c->imsize < 32))
        die_usage("--imsize expects a power of two of at least 32 (DF-GAN's 8·nf features at 4x4), found %d", c->imsize);
}
