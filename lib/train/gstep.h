/* gstep.h: one DF-GAN generator step, beside the discriminator's (dstep.h):
 *   fake = G(noise, s); the gradient wrt the fake images is the sum of the gradients that the tools
 *   downstream wrote for them (the discriminator's adversarial one, the CLIP loss's, ...), added in
 *   order in float32; backward through G, then one Adam step on G.
 * Images in host memory are NCHW (B,3,S,S) float32; G's activations are channel-major (netg.h).
 * Over N data-parallel ranks (core/dist.h) B is this rank's shard: the gradients wrt its fakes
 * already carry the global batch's 1/B (the tools downstream run over the same ranks), and G's
 * parameter gradients are summed over the ranks before Adam. */
#ifndef DFGAN_GSTEP_H
#define DFGAN_GSTEP_H
#include "models/netg.h"

typedef struct {
    netg G;
    double lr, beta1, beta2, eps;
    int B, Bcap;                 /* the last forward's batch; the buffers' */
    float *host, *grad_sum;      /* host (Bcap,3,S,S): fake images, the summed gradient */
    float *stage, *dimg;         /* on G's device (Bcap,3,S,S): NCHW staging, the gradient channel-major */
    long step;                   /* training steps taken (the batch number in messages) */
    double param_grad_norm;      /* the last step's: L2 norm of G's parameter gradient (global batch) */
} gstep;

void gstep_init(gstep *st);      /* after st->G is built, allocated and loaded, and the Adam settings set */
/* noise (B,Z), cond (B,C) in host memory -> G's fake images (in st->G.img). With want_images, returns
 * them NCHW in host memory (B,3,S,S), valid until the next call; NULL otherwise. */
const float *gstep_forward(gstep *st, const float *noise, const float *cond, int B, int want_images);
/* After gstep_forward: grads[0..n-1], each (B,3,S,S) NCHW in host memory, summed, is the gradient of
 * the loss wrt those fake images; backward through G and one Adam step, then the check of its
 * gradient, weights and Adam state (train/stepcheck.h: a NaN or Inf dies, exit 3). Returns the
 * sum's L2 norm (over the global batch); sets st->param_grad_norm. */
double gstep_train(gstep *st, const float *const *grads, int n);
/* The same step with the images on G's device (--ipc, train/ipc_link.h): gstep_forward_dev writes
 * the fakes NCHW (B,3,S,S) into out, a device buffer; gstep_train_dev takes the gradients as device
 * buffers (B,3,S,S) NCHW, summed on the device in the same order and float32 additions as
 * gstep_train's (the same sum, so the same step); the norm is vec_dot's, in double in another
 * order than gstep_train's, so equal to it within double rounding. */
void gstep_forward_dev(gstep *st, const float *noise, const float *cond, int B, float *out);
double gstep_train_dev(gstep *st, const float *const *grads, int n);
void gstep_free(gstep *st);
#endif
