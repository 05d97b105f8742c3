/* netg.h: DF-GAN's generator NetG (Tao et al., CVPR 2022; tobran/DF-GAN code/models/GAN.py):
 *   fc: Linear(z -> 8nf·4·4), view (B,8nf,4,4); cond = [z, sentence]
 *   G blocks: x = up2(x); x = shortcut(x) + c2(DFBLK2(c1(DFBLK1(x, cond)), cond))
 *     DFBLK = Affine -> lrelu(0.2) -> Affine -> lrelu(0.2); Affine(x) = gamma(cond)·x + beta(cond),
 *     gamma, beta = Linear -> ReLU -> Linear of cond; shortcut a 1x1 conv when channels change
 *   to_rgb: lrelu(0.2) -> conv3x3 -> tanh
 * Activations are channel-major (C,B,H,W); images enter and leave as NCHW. */
#ifndef DFGAN_NETG_H
#define DFGAN_NETG_H
#include "core/params.h"
#include "io/npz.h"

typedef struct { int l1w, l1b, l2w, l2b; } mlp_idx;          /* Linear -> ReLU -> Linear */

typedef struct {
    int in_ch, out_ch, learnable_sc;
    int c1w, c1b, c2w, c2b, scw, scb;
    mlp_idx mlp[2][2][2];                                   /* [fuse1/2][affine0/1][gamma/beta] */
    /* activations at the block's output size S (saved for backward) */
    tensor xu, l0, l1, h, l2, l3, out;                      /* in: xu,l0,l1; out: h,l2,l3,out */
    tensor hid[2][2][2], gb[2][2][2];                       /* (B,C): MLP hidden (after ReLU), output */
} gblock;

typedef struct {
    int imsize, nf, z_dim, cond_dim, nblocks;
    param_set ps;
    int fcw, fcb, rgbw, rgbb;
    gblock *blk;
    int B;                                   /* batch the activations are sized for */
    tensor noise, cond, fc_out, x0, lf, img; /* noise (B,Z), cond (B,Z+S), fc_out (B,8nf·16), x0 (8nf,B,4,4), lf (nf,B,S,S), img (3,B,S,S) */
    tensor g_a, g_b, g_c, g_d, g_mlp, g_mlp2, g_mlp3; /* backward scratch */
} netg;

/* Build the architecture and register parameters in state_dict order (no allocation). */
void netg_build(netg *g, int imsize, int nf, int z_dim, int cond_dim);
/* Widest nf, z or cond size netg_infer and netd_infer accept (so that no size product overflows). */
#define NET_MAX_WIDTH (1 << 16)
/* Read the architecture back from a state_dict's shapes; dies naming what does not fit. */
void netg_infer(netg *g, const npz *z, const char *path);
/* The same for readers of outside files (lib/import): 0 ok; -1 with the message netg_infer dies
 * with, g left unbuilt. */
int netg_infer_err(netg *g, const npz *z, const char *path, char *err, size_t errlen);
/* PyTorch's default init plus DF-GAN's Affine init, from a Philox seed (after params_alloc). */
void netg_init_weights(netg *g, uint64_t seed);
/* A new NetG on dev: netg_build, params_alloc, netg_init_weights. */
void netg_new(netg *g, int imsize, int nf, int z_dim, int cond_dim, device_t dev, uint64_t seed);
/* The NetG of checkpoint `path` on dev, ready to run: the architecture read back from the shapes,
 * weights and Adam state loaded; dies (usage) naming the path and what does not fit. */
void netg_load(netg *g, const char *path, device_t dev);
/* noise (B,Z), sent (B,S), both on the model's device -> g->img (3,B,S,S) channel-major */
void netg_forward(netg *g, const float *noise, const float *sent, int B);
/* dimg (3,B,S,S) channel-major, gradient of the loss wrt g->img; accumulates parameter grads */
void netg_backward(netg *g, const float *dimg);
void netg_free(netg *g);

/* shared with netd: channel schedule nf·min(2^i, 8) for i < log2(imsize) − 1 */
int dfgan_channels(int nf, int imsize, int *ch /* at least 16 */);
#endif
