/* checkpoint.h: a param_set to and from .npz under its state_dict keys, with Adam's state as
 * `adam.step` (int64, steps taken), `adam.exp_avg.<key>` and `adam.exp_avg_sq.<key>` (PyTorch's
 * names for m and v). Written atomically (npz_write: temp file, fsync, rename). */
#ifndef DFGAN_CHECKPOINT_H
#define DFGAN_CHECKPOINT_H
#include "io/npz.h"
#include "core/params.h"

/* Read an .npz or die (exit 2) naming the path and what is wrong. */
void ckpt_read(const char *path, npz *z);
/* Copy every parameter (and Adam state, if present) from z into ps; dies naming the first key that
 * is missing or has the wrong shape, or an unexpected key (a checkpoint that doesn't fit), and exits 3
 * on a NaN or Inf: "G.npz: expected finite values, found NaN at (3,1) in 'fc.weight'". */
void ckpt_load(param_set *ps, const npz *z, const char *path);
/* Save ps (and its Adam state once a step has been taken) to path atomically; dies on failure, and
 * refuses a NaN or Inf (die_nonfinite, exit 3, naming the key and the index; nothing written). */
void ckpt_save(const param_set *ps, const char *path);
/* Save the parameter gradients under the parameter keys (NaN and Inf refused the same way). */
void ckpt_save_grads(const param_set *ps, const char *path);
/* The last guard of a diverged run, called before writing by the writers of the checkpoints that
 * training reads (ckpt_save, ckpt_save_grads, dfgan_save unless told otherwise): dies (die_nonfinite, exit 3) naming path,
 * the key and the index of the first NaN or Inf among the float32 items, as
 * "PATH: expected finite values to save, found +Inf in KEY at (0,1)". */
void ckpt_refuse_nonfinite(const npz_item *items, int n, const char *path);
#endif
