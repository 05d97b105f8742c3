/* dstep.h: one DF-GAN discriminator step and the generator's adversarial gradient:
 *   errD = mean relu(1 − C(D(real),s)) + ( mean relu(1 + C(D(fake),s)) + mean relu(1 + C(D(real)⟲,s)) )/2 + MA-GP
 *   MA-GP = 2·mean_b ‖[∂C(D(x),s)/∂x, ∂C(D(x),s)/∂s]_b‖⁶ on the real pairs;
 *   Adam on D and C; then errG = −mean C(D'(fake), s) through the updated D', and its gradient
 *   wrt the fake images (D's weight gradients of errG are never needed and never computed).
 * The MA-GP's weight gradient is exact and costs one tangent pass (netd.h, DESIGN.md).
 * Over N data-parallel ranks (core/dist.h) each rank passes its shard of B/N samples: every mean
 * above is over the global batch B (the shards' gradients summed before Adam), and the mismatched
 * pairs are the global batch's (image b+1, sentence b), the one pair across each shard border made
 * with the previous rank's last sentence, so N ranks compute what one process computes. */
#ifndef DFGAN_DSTEP_H
#define DFGAN_DSTEP_H
#include "models/netd.h"

typedef struct {
    double errD, err_real, err_fake, err_mis, magp, errG;
    double param_grad_norm;     /* L2 norm of D's and C's parameter gradient (global batch), before Adam */
} dstep_losses;

typedef struct {
    netd D;
    double lr, beta1, beta2, eps;
    int B;
    dacts real, fake, tan;
    cacts c_real, c_mis, c_fake, c_tan;
    dadj adj_g;                                        /* adjoints of the g_b pass, reused by the tangent's */
    tensor x_real, x_fake, s, ux, us, gx, gs, stage;  /* images channel-major (3,B,S,S); s, us, gs (B,S) */
    tensor feat_mis, dfeat, dfeat_mis, dscore, ones, coef3, coefS, zeros3, zerosS;
    tensor s_mis;                                      /* N > 1: the mismatched pairs' sentences (B,S) */
    long step;                                         /* training steps taken (the batch number in messages) */
} dstep;

void dstep_init(dstep *st);    /* after st->D is built, allocated and loaded */
/* real, fake (B,3,S,S) NCHW and cond (B,S) in host memory -> one D step; grad_fake (B,3,S,S) NCHW host.
 * Over ranks, B is this rank's shard and the losses are the global batch's, on every rank.
 * The losses are checked finite before Adam; the gradient, weights and Adam state after it; then errG
 * and grad_fake (train/stepcheck.h: a NaN or Inf dies, exit 3). */
void dstep_train(dstep *st, const float *real, const float *cond, const float *fake, int B,
                 float *grad_fake, dstep_losses *L);
/* The same with the fakes and grad_fake (B,3,S,S) NCHW on D's device (--ipc, train/ipc_link.h): the
 * fakes are read there (never written), the gradient written there; the same step. */
void dstep_train_dev(dstep *st, const float *real, const float *cond, const float *fake, int B,
                     float *grad_fake, dstep_losses *L);
void dstep_free(dstep *st);
#endif
