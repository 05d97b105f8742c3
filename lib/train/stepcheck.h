/* stepcheck.h: the checks the training steps (dstep.c, gstep.c) make every step: each loss finite
 * (after the losses' all-reduce, before the Adam step), and after the Adam step the gradient it took,
 * the weights and Adam's state (the gradient all-reduced first: every rank then holds the same
 * values, so every rank stops together).
 * A non-finite value ends the tool before it writes any checkpoint (exit 3, die_nonfinite) in one
 * line naming the step (the tool's batch, 1-based) and the quantity:
 *   disc-step: step 2: expected a finite loss, found NaN in errG
 *   gen-step: step 1: expected finite values, found +Inf in the gradient of fc.weight at (3,17)
 *   disc-step: step 2: expected finite values after the Adam step, found +Inf in adam.exp_avg_sq.netD.conv_img.weight at (0,1,0,0)
 * Over N ranks rank 0 says it and the others wait for its exit to end them (core/dist.h's dist_hold).
 * The update's check costs two passes over a model's flat buffers on its device (the op
 * vec_first_nonfinite, only its index crossing to the host): over the weights p and Adam's v. They
 * find any NaN or Inf in g, m, v or p: a non-finite g[i] leaves v[i] = b2·v[i] + (1−b2)·g[i]²
 * non-finite (0·Inf and 0·NaN being NaN), a non-finite m[i] leaves p[i] so (p += −s·m/(√v/c + eps));
 * only then are the buffers searched in the order g, p, m, v, to name the first bad value of the
 * first one holding one: the cause, a gradient, before its effects. Checking g before Adam would
 * take a third pass; the process dies before writing anything either way. */
#ifndef DFGAN_STEPCHECK_H
#define DFGAN_STEPCHECK_H
#include "core/params.h"

/* v is a float32 quantity computed or summed in double: NaN, ±Inf, or beyond float32's range, dies. */
void step_check_loss(long step, const char *name, double v);
/* After the Adam step on ps: its gradient, weights and Adam state finite, or die naming the first bad
 * value: "the gradient of <key> at (...)", else "<key>", "adam.exp_avg.<key>", "adam.exp_avg_sq.<key>"
 * at (...) after the Adam step. */
void step_check_update(const param_set *ps, long step);
/* x (shape[0..ndim-1], host memory) finite, or die naming what and the first bad index: an output
 * stream's batch, which is this rank's own (no other rank waits: its exit ends them). */
void step_check_host(long step, const char *what, const float *x, int ndim, const int64_t *shape);
/* The same for x in dev's memory (an --ipc output buffer): only the index of the first bad value crosses. */
void step_check_dev(device_t dev, long step, const char *what, const float *x, int ndim, const int64_t *shape);
/* The L2 norm of ps's gradient (the whole buffer; unused parameters hold zeros), summed in double. */
double step_grad_norm(const param_set *ps);
#endif
