/* dfgan_import.h: DF-GAN's training checkpoint (tobran/DF-GAN code/lib/utils.py save_models:
 *   {'model': {'netG': sd, 'netD': sd, 'netC': sd},
 *    'optimizers': {'optimizer_G': opt_sd, 'optimizer_D': opt_sd}, 'epoch': N})
 * into the layout of our training tools: DIR/G.npz (NetG's state_dict keys) and DIR/D.npz
 * ('netD.' + NetD keys, 'netC.' + NetC keys), each with its Adam state as `adam.step` (int64
 * scalar), `adam.exp_avg.<key>` and `adam.exp_avg_sq.<key>` for the parameters that have state.
 *
 * An optimizer state_dict is {'state': {index: {'step', 'exp_avg', 'exp_avg_sq'}},
 * 'param_groups': [{'params': [index, ...], 'lr', 'betas', ...}]}; the i-th index of the
 * concatenated groups is the i-th parameter given to the optimizer: netG.parameters() for G,
 * list(netD.parameters()) + list(netC.parameters()) for D. These modules have no buffers, so
 * parameters() order is state_dict order, which is our registries' order (netg_build,
 * netd_build); the import checks that the state dicts match the registries key by key and
 * shape by shape. 'step' may be an int (torch < 1.12) or a one-element tensor; all parameters
 * must share one value. amsgrad state (max_exp_avg_sq) is refused: our Adam has none.
 * Without 'optimizers' the outputs carry no Adam state (training starts Adam afresh).
 * 'module.' prefixes (DDP, multi_gpus=True) are dropped.
 *
 * dfgan_import, a reader of files from outside (lib/README.md, "Errors"), checks everything
 * before anything is written and returns its errors, never exits; dfgan_save, the writer, dies
 * as library code does. */
#ifndef DFGAN_DFGAN_IMPORT_H
#define DFGAN_DFGAN_IMPORT_H

#include "import/ckpt_import.h"

/* One output file's items in order: the parameters (state_dict order), then adam.exp_avg.*,
 * adam.exp_avg_sq.* and adam.step when there is Adam state. Keys are malloc'd; an array is
 * malloc'd or, with borrowed[i] set, points into the cki_file it was read from. */
typedef struct {
    npz_item *items;
    int *borrowed;
    int n, cap;
} dfgan_items;

typedef struct {
    int64_t step;          /* 0 without state */
    int nstate;            /* parameters with Adam state */
    double lr, b1, b2;     /* param_groups[0]'s, when have_lr / have_betas */
    int have_lr, have_betas;
} dfgan_adam;

typedef struct {
    dfgan_items G, D;                  /* G.npz's and D.npz's items */
    int imsize, nf, z_dim, cond_dim;   /* NetG's architecture, as read from its shapes */
    dfgan_adam adam_g, adam_d;
    int64_t epoch;                     /* checkpoint['epoch'] when have_epoch (an int there) */
    int have_epoch;
} dfgan_ckpt;

/* Read and check f (a PyTorch checkpoint opened with cki_open, flatten 0) into c; f must stay
 * open while c is used. 0 ok; -1 with a one-line "PATH: expected ..., found ..." message in err,
 * c then empty. */
int dfgan_import(cki_file *f, dfgan_ckpt *c, char *err, size_t errlen);
/* Write dir/G.npz and dir/D.npz atomically (dir is made if missing) and a one-line summary to
 * stderr (epoch, architecture, Adam step, lr, betas). Dies: die_usage when dir is not a folder,
 * die_runtime on a write error; a NaN or Inf among the items dies (exit 3) unless allow_nonfinite
 * (ckpt import --allow-nonfinite: a faithful copy of a diverged checkpoint, to inspect). */
void dfgan_save(const dfgan_ckpt *c, const char *dir, int allow_nonfinite);
void dfgan_ckpt_free(dfgan_ckpt *c);

#endif
