/* stepcheck.h: the checks the training steps (dstep.c, gstep.c) make every step, after the backward
 * pass and the gradient all-reduce (every rank then holds the same losses and gradients, so every
 * rank stops together) and before the Adam step: each loss finite, every parameter gradient finite;
 * after it, every weight and Adam-state value finite.
 * A non-finite value ends the tool before it writes any checkpoint (exit 3, die_nonfinite) in one
 * line naming the step (the tool's batch, 1-based) and the quantity:
 *   disc-step: step 2: expected a finite loss, found NaN in errG
 *   gen-step: step 1: expected finite values, found +Inf in the gradient of netG.fc.weight at (3,17)
 * Over N ranks rank 0 says it and the others wait for its exit to end them (core/dist.h's dist_hold).
 * Each buffer check is one pass over a model's flat buffer on its device (the op vec_first_nonfinite);
 * only a bad value's index and the value itself come back to the host. */
#ifndef DFGAN_STEPCHECK_H
#define DFGAN_STEPCHECK_H
#include "core/params.h"

/* v is a float32 quantity computed or summed in double: NaN, ±Inf, or beyond float32's range, dies. */
void step_check_loss(long step, const char *name, double v);
/* Every value of ps's gradient finite, or die naming the parameter and the index of the first bad one. */
void step_check_grads(const param_set *ps, long step);
/* After the Adam step: every parameter and Adam-state value finite (Adam's squared gradient can
 * overflow where the gradient did not), or die naming the key (adam.exp_avg_sq.<key>, ...) and index. */
void step_check_state(const param_set *ps, long step);
/* x (shape[0..ndim-1], host memory) finite, or die naming what and the first bad index: an output
 * stream's batch, which is this rank's own (no other rank waits: its exit ends them). */
void step_check_host(long step, const char *what, const float *x, int ndim, const int64_t *shape);
/* The L2 norm of ps's gradient (the whole buffer; unused parameters hold zeros), summed in double. */
double step_grad_norm(const param_set *ps);
#endif
