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
 * 'module.' prefixes (DDP, multi_gpus=True) are dropped. Everything is checked before either
 * file is written. */
#ifndef DFGAN_DFGAN_IMPORT_H
#define DFGAN_DFGAN_IMPORT_H

#include "import/ckpt_import.h"

/* Write dir/G.npz and dir/D.npz (dir is created if missing); dies (die_usage) naming what does
 * not fit, die_runtime on write errors. A one-line summary goes to stderr. */
void dfgan_import(cki_file *f, const char *dir);

#endif
