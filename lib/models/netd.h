/* netd.h: DF-GAN's discriminator NetD and its conditional head NetC (tobran/DF-GAN GAN.py).
 *   NetD: conv_img 3x3; D blocks: out = shortcut + gamma·res, res = lrelu(conv3x3(lrelu(conv4x4/2(x))))
 *         (no biases), shortcut = avgpool2(conv_s 1x1 (x)) when channels change, avgpool2(x) otherwise
 *         (pooled before the 1x1 conv here: both are linear, the result is the same, 4x cheaper)
 *   NetC: [features (8nf,4,4), sentence replicated to (S,4,4)] -> conv3x3 -> lrelu -> conv4x4 -> score
 * One param_set holds "netD." and "netC." keys, as D.npz does (one Adam over both, as DF-GAN).
 *
 * Besides forward and backward, a TANGENT pass pushes a direction u through the same weights with
 * the leaky-ReLU masks of a saved forward pass frozen and no biases: the directional derivative
 * that the MA-GP's second-order gradient needs (DESIGN.md, "The MA-GP gradient"). */
#ifndef DFGAN_NETD_H
#define DFGAN_NETD_H
#include "core/params.h"
#include "io/npz.h"

typedef struct { int fin, fout, learnable; int r0w, r2w, sw, sb, gamma; } dblock;

typedef struct {           /* one pass through NetD; channel-major activations */
    int B;
    const float *x;        /* the input images (3,B,S,S), borrowed */
    tensor h0;             /* conv_img output (nf,B,S,S) */
    tensor *l1, *l2;       /* per block: lrelu outputs (fout,B,H/2,H/2) (tangent: masked tangents) */
    tensor *p;             /* per block: avgpool2 of the block input (fin,B,H/2,H/2) */
    tensor *out;           /* per block: output (fout,B,H/2,H/2); the last is the feature map */
} dacts;

typedef struct {           /* one pass through NetC */
    int B;
    tensor cat;            /* (8nf+S,B,4,4) */
    tensor lc;             /* (2nf,B,4,4) after lrelu (tangent: masked) */
    tensor score;          /* (B) */
} cacts;

typedef struct {           /* the adjoints (upstream gradients) a backward pass met at each conv's output,
                              kept so that a second set of weight gradients with the same adjoints but
                              other inputs (the MA-GP tangent pass) costs only the weight-gradient gemms */
    int B;
    tensor h0;             /* at conv_img's output (nf,B,S,S) */
    tensor *r1, *r2;       /* at conv_r.0's and conv_r.2's outputs, masks applied (fout,B,H/2,H/2) */
    tensor *out;           /* at each block's output (fout,B,H/2,H/2) */
    tensor c_lc, c_score;  /* NetC: at joint_conv.0's output (masked) and at the score */
} dadj;

typedef struct {
    int imsize, nf, cond_dim, nblocks;
    param_set ps;
    int imgw, imgb, c0w, c2w;
    dblock *blk;
    float *gamma_host;     /* the blocks' gammas on the host, refreshed by netd_sync_gamma */
    int Bs;                /* batch the scratch is sized for */
    tensor s_t1, s_t2, s_dcat;
    dadj work;             /* adjoints of the last backward pass when the caller keeps none */
} netd;

void netd_build(netd *d, int imsize, int nf, int cond_dim);
/* Read the architecture back from a state_dict's shapes; dies naming what does not fit. */
void netd_infer(netd *d, const npz *z, const char *path);
/* The same for readers of outside files (lib/import): 0 ok; -1 with the message, d left unbuilt. */
int netd_infer_err(netd *d, const npz *z, const char *path, char *err, size_t errlen);
void netd_init_weights(netd *d, uint64_t seed);
/* A new NetD/NetC on dev: netd_build, params_alloc, netd_init_weights. */
void netd_new(netd *d, int imsize, int nf, int cond_dim, device_t dev, uint64_t seed);
/* The NetD/NetC of checkpoint `path` on dev, ready to run: the architecture read back from the
 * shapes, weights and Adam state loaded, gammas synced; dies (usage) naming what does not fit. */
void netd_load(netd *d, const char *path, device_t dev);
void netd_sync_gamma(netd *d);                 /* after loading or updating weights */
void netd_free(netd *d);
void dacts_free(dacts *a, int nblocks);
void cacts_free(cacts *a);

/* x (3,B,S,S) channel-major -> a->out[nblocks-1] (8nf,B,4,4) */
void netd_forward(netd *d, dacts *a, const float *x, int B);
/* tangent of the forward pass `m` along ux (3,B,S,S): no biases, m's masks */
void netd_tangent(netd *d, dacts *t, const dacts *m, const float *ux);
/* dfeat (8nf,B,4,4) -> dx (3,B,S,S) if not NULL; parameter grads (+=) when param_grads, where the
 * weights' inputs come from `w` and the masks from `m` (w == m for an ordinary backward; w the tangent
 * pass, m its forward pass for the MA-GP term, which has no bias gradients) */
void netd_backward(netd *d, const dacts *w, const dacts *m, const float *dfeat, float *dx,
                   int param_grads, int bias_grads, dadj *keep /* NULL: d->work */);
/* Weight gradients (+=, no biases) for the adjoints of an earlier backward pass against the inputs
 * of pass w: what a backward through w with the same masks and upstream would add, minus its dX. */
void netd_weight_grads(netd *d, const dadj *adj, const dacts *w);
void dadj_free(dadj *a, int nblocks);

/* feat (8nf,B,4,4), s (B,S) -> c->score (B) */
void netc_forward(netd *d, cacts *c, const float *feat, const float *s, int B);
void netc_tangent(netd *d, cacts *t, const cacts *m, const float *tfeat, const float *us);
/* dscore (B) -> dfeat (8nf,B,4,4), ds (B,S) (either may be NULL) and parameter grads when asked */
void netc_backward(netd *d, const cacts *w, const cacts *m, const float *dscore, float *dfeat, float *ds,
                   int param_grads, dadj *keep /* NULL: d->work */);
void netc_weight_grads(netd *d, const dadj *adj, const cacts *w);
#endif
