/* stepopts.h: the command-line pieces gen-step and disc-step share, on top of core/toolopts.h: the
 * subcommand word, the architecture flags of `init`, Adam's settings, --seed, --log and --ipc (--help and
 * --device are toolopts'). A tool lists STEP_COMMON_OPTIONS in its getopt_long table, numbers its own
 * options from OPT_TOOL, and passes each option to step_common_option first. */
#ifndef DFGAN_STEPOPTS_H
#define DFGAN_STEPOPTS_H
#include "core/toolopts.h"

enum { OPT_IMSIZE = TOPT_FIRST, OPT_NF, OPT_ZDIM, OPT_CONDDIM, OPT_SEED, OPT_LR, OPT_BETA1, OPT_BETA2, OPT_EPS,
       OPT_LOG, OPT_IPC, OPT_TOOL = TOPT_FIRST + 64 /* a tool's own options start here */ };

#define STEP_COMMON_OPTIONS                                                                            \
    {"imsize", 1, 0, OPT_IMSIZE}, {"nf", 1, 0, OPT_NF}, {"z-dim", 1, 0, OPT_ZDIM},                     \
    {"cond-dim", 1, 0, OPT_CONDDIM}, {"seed", 1, 0, OPT_SEED}, {"lr", 1, 0, OPT_LR},                   \
    {"beta1", 1, 0, OPT_BETA1}, {"beta2", 1, 0, OPT_BETA2}, {"eps", 1, 0, OPT_EPS}, {"log", 1, 0, OPT_LOG}, \
    {"ipc", 0, 0, OPT_IPC}

typedef struct {
    toolopts t;                       /* the parse (t.cmd: the subcommand; t.device) */
    const char *cmd;                  /* the subcommand */
    int imsize, nf, z_dim, cond_dim;  /* init's architecture (0: not given) */
    long seed;
    double lr, beta1, beta2, eps;     /* Adam: lr as given or the tool's default, betas (0, 0.9), eps 1e-8 */
    const char *log;
    int ipc;                          /* --ipc (train only; the tool checks the device: train/ipc_link.h) */
} step_common;

/* Defaults, then the subcommand (argv[1], one of cmds[0..n-1], named `list` in messages: "init or
 * train"); longopts: the tool's table, STEP_COMMON_OPTIONS included. */
void step_common_begin(step_common *c, double lr, int argc, char **argv, const char *usage, const char *shortopts,
                       const struct option *longopts, const char *const *cmds, int ncmds, const char *list);
/* The next option (topt_next): -1 after the last. */
static inline int step_common_next(step_common *c) { return topt_next(&c->t); }
/* Applies option opt if it is a shared one (returns 1); returns 0 for the tool's own options. */
int step_common_option(step_common *c, int opt, const char *arg);
/* After the loop: no stray arguments, for init an --imsize that is a power of two of at least 32
 * (which flags init requires is the tool's to check), --ipc only with train. */
void step_common_end(const step_common *c);
#endif
