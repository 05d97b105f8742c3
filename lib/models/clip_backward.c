/* clip_backward.c: the backward passes of CLIP's two towers (clip.h), from the activations their
 * forward passes kept (clip_internal.h). Backward ASSIGNS activation gradients and ACCUMULATES
 * (+=) weight gradients into `grad`, a buffer laid out as the model's parameters (m->ps) on the
 * model's device, as the ops do; grad NULL skips the weight gradients (the image tower's pixel
 * gradient alone, clip-embed's CLIP loss). The forward saves each block's inputs, not its
 * LayerNorm outputs, attention output or QuickGELU output: where a weight gradient needs one of
 * those (the input of a linear layer) it is recomputed here from what was saved. Every op goes
 * through OP(dev, ...), so the passes run on the CPU or the GPU. */
#include "core/common.h"
#include "core/ops.h"
#include "core/ops.h"
#include "models/clip.h"
#include "models/clip_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- the transformer */

/* dx (N,D): the gradient wrt the block's output on entry, wrt its input on exit; the weight
 * gradients of block k added into grad (when not NULL). causal: the mask of the forward (the
 * attention output is recomputed for out_proj's weight gradient).
 * Scratch: w->h, w->a (N,D), w->g (N,4D), dqkv (N,3D). */
static void block_backward(const clip_model *m, const clip_block *k, const clip_tower_dims *d, float *dx,
                           const int *off, int B, int causal, const block_save *s, block_scratch *w, float *dqkv,
                           float *grad) {
    const int N = off[B], D = d->width, Hd = 4 * D;
    const device_t dv = m->dev;
    /* MLP: x += c_proj(quickgelu(c_fc(ln_2(x2)))) */
    if (grad) {   /* c_proj's input: quickgelu(fc) */
        OP(dv, quickgelu_forward, w->g, s->fc, (size_t)N * Hd);
        OP(dv, linear_backward, NULL, GR(k->proj_w), GR(k->proj_b), dx, w->g, WT(k->proj_w), N, Hd, D);
    }
    OP(dv, linear_backward, w->g, NULL, NULL, dx, NULL, WT(k->proj_w), N, Hd, D);
    OP(dv, quickgelu_backward, w->g, w->g, s->fc, (size_t)N * Hd);
    if (grad) {   /* c_fc's input: ln_2(x2) */
        OP(dv, layernorm_forward, w->h, NULL, NULL, s->x2, WT(k->ln2_w), WT(k->ln2_b), N, D, LN_EPS);
        OP(dv, linear_backward, NULL, GR(k->fc_w), GR(k->fc_b), w->g, w->h, WT(k->fc_w), N, D, Hd);
    }
    OP(dv, linear_backward, w->h, NULL, NULL, w->g, NULL, WT(k->fc_w), N, D, Hd);
    OP(dv, layernorm_backward, w->a, GR(k->ln2_w), GR(k->ln2_b), w->h, s->x2, s->mean2, s->rstd2, WT(k->ln2_w), N, D);
    OP(dv, vec_axpy, dx, 1, w->a, (size_t)N * D);
    /* attention: x2 = x + out_proj(attention(in_proj(ln_1(x)))) */
    if (grad) {   /* out_proj's input: the attention output */
        OP(dv, attention_forward, w->h, NULL, s->qkv, off, B, D, d->heads, causal);
        OP(dv, linear_backward, NULL, GR(k->out_w), GR(k->out_b), dx, w->h, WT(k->out_w), N, D, D);
    }
    OP(dv, linear_backward, w->a, NULL, NULL, dx, NULL, WT(k->out_w), N, D, D);
    OP(dv, attention_backward, dqkv, w->a, s->qkv, s->att, off, B, D, d->heads);
    if (grad) {   /* in_proj's input: ln_1(x) */
        OP(dv, layernorm_forward, w->h, NULL, NULL, s->x, WT(k->ln1_w), WT(k->ln1_b), N, D, LN_EPS);
        OP(dv, linear_backward, NULL, GR(k->in_w), GR(k->in_b), dqkv, w->h, WT(k->in_w), N, D, 3 * D);
    }
    OP(dv, linear_backward, w->h, NULL, NULL, dqkv, NULL, WT(k->in_w), N, D, 3 * D);
    OP(dv, layernorm_backward, w->a, GR(k->ln1_w), GR(k->ln1_b), w->h, s->x, s->mean1, s->rstd1, WT(k->ln1_w), N, D);
    OP(dv, vec_axpy, dx, 1, w->a, (size_t)N * D);
}

/* The image tower's last block, which ran its queries, out_proj, ln_2 and MLP on the B class rows
 * only (clip.c's last_block_forward; save: x, mean1, rstd1 (N rows); qkv = kv (N,2D) then q (B,D);
 * att (B,nh,T); x2, mean2, rstd2, fc for the B class rows).
 * dx (N,D) assigned: the gradient wrt the block's input, from dxc (B,D), the gradient wrt its class
 * rows (overwritten); weight gradients into grad as block_backward.
 * Scratch: w->h, w->a (N,D), w->g (N,4D), dqkv (N,3D). */
static void last_block_backward(const clip_model *m, const clip_block *k, const clip_tower_dims *d, float *dx,
                                float *dxc, int B, int T, const block_save *s, block_scratch *w, float *dqkv,
                                float *grad) {
    const int N = B * T, D = d->width, Hd = 4 * D;
    const device_t dv = m->dev;
    const float *kv = s->qkv, *q = s->qkv + (size_t)N * 2 * D;
    float *dkv = dqkv, *dq = dqkv + (size_t)N * 2 * D;
    if (grad) {
        OP(dv, quickgelu_forward, w->g, s->fc, (size_t)B * Hd);
        OP(dv, linear_backward, NULL, GR(k->proj_w), GR(k->proj_b), dxc, w->g, WT(k->proj_w), B, Hd, D);
    }
    OP(dv, linear_backward, w->g, NULL, NULL, dxc, NULL, WT(k->proj_w), B, Hd, D);
    OP(dv, quickgelu_backward, w->g, w->g, s->fc, (size_t)B * Hd);
    if (grad) {
        OP(dv, layernorm_forward, w->h, NULL, NULL, s->x2, WT(k->ln2_w), WT(k->ln2_b), B, D, LN_EPS);
        OP(dv, linear_backward, NULL, GR(k->fc_w), GR(k->fc_b), w->g, w->h, WT(k->fc_w), B, D, Hd);
    }
    OP(dv, linear_backward, w->h, NULL, NULL, w->g, NULL, WT(k->fc_w), B, D, Hd);
    OP(dv, layernorm_backward, w->a, GR(k->ln2_w), GR(k->ln2_b), w->h, s->x2, s->mean2, s->rstd2, WT(k->ln2_w), B, D);
    OP(dv, vec_axpy, dxc, 1, w->a, (size_t)B * D);
    if (grad) {   /* out_proj's input: the class rows' attention output (B,D) */
        OP(dv, cls_attention_forward, w->h, NULL, q, kv, B, T, D, d->heads);
        OP(dv, linear_backward, NULL, GR(k->out_w), GR(k->out_b), dxc, w->h, WT(k->out_w), B, D, D);
    }
    OP(dv, linear_backward, w->a, NULL, NULL, dxc, NULL, WT(k->out_w), B, D, D);
    OP(dv, cls_attention_backward, dq, dkv, w->a, q, kv, s->att, B, T, D, d->heads);
    if (grad) {   /* in_proj's input: ln_1(x), all N rows for k and v, the B class rows for q */
        OP(dv, layernorm_forward, w->h, NULL, NULL, s->x, WT(k->ln1_w), WT(k->ln1_b), N, D, LN_EPS);
        OP(dv, linear_backward, NULL, GR(k->in_w) + (size_t)D * D, GR(k->in_b) + D, dkv, w->h,
           WT(k->in_w) + (size_t)D * D, N, D, 2 * D);
        for (int b = 0; b < B; b++) dev_copy(dv, w->a + (size_t)b * D, w->h + (size_t)b * T * D, (size_t)D);
        OP(dv, linear_backward, NULL, GR(k->in_w), GR(k->in_b), dq, w->a, WT(k->in_w), B, D, D);
    }
    OP(dv, linear_backward, w->h, NULL, NULL, dkv, NULL, WT(k->in_w) + (size_t)D * D, N, D, 2 * D);
    OP(dv, linear_backward, w->a, NULL, NULL, dq, NULL, WT(k->in_w), B, D, D);
    for (int b = 0; b < B; b++) OP(dv, vec_axpy, w->h + (size_t)b * T * D, 1, w->a + (size_t)b * D, (size_t)D);
    OP(dv, layernorm_backward, dx, GR(k->ln1_w), GR(k->ln1_b), w->h, s->x, s->mean1, s->rstd1, WT(k->ln1_w), N, D);
    for (int b = 0; b < B; b++) OP(dv, vec_axpy, dx + (size_t)b * T * D, 1, dxc + (size_t)b * D, (size_t)D);
}

/* The head of a tower, feat (B,E) = ln(h_in) (B,D) · proj (D,E): dh_in (B,D) assigned from dfeat
 * (host); the gradients of proj and the LayerNorm's w, b (indices) added into grad. */
static void head_backward(const clip_model *m, float *dh_in, float *grad, const float *dfeat, const float *h_in,
                          const float *mean, const float *rstd, int ln_w, int ln_b, int proj, int B, int D) {
    const int E = m->embed_dim;
    const device_t dv = m->dev;
    float *dh = dalloc(m, (size_t)B * D), *df = dalloc(m, (size_t)B * E);
    dev_upload(dv, df, dfeat, (size_t)B * E);
    if (grad && B > 0) {   /* dproj (D,E) += hᵀ·dfeat, h = ln(h_in): linear_backward's dw with w = proj as (O,I) = (D,E) */
        OP(dv, layernorm_forward, dh, NULL, NULL, h_in, WT(ln_w), WT(ln_b), B, D, LN_EPS);
        OP(dv, linear_backward, NULL, GR(proj), NULL, dh, df, WT(proj), B, E, D);
    }
    /* dh (B,D) = dfeat (B,E) · projᵀ: linear_forward with w = proj as (O,I) = (D,E) */
    if (B > 0) OP(dv, linear_forward, dh, df, WT(proj), NULL, B, E, D);
    dev_free(dv, df);
    OP(dv, layernorm_backward, dh_in, GR(ln_w), GR(ln_b), dh, h_in, mean, rstd, WT(ln_w), B, D);
    dev_free(dv, dh);
}

/* ---------------------------------------------------------------- image tower */

/* clip_image_backward_grad, dimages in host memory or (on_dev) on the model's device */
static void image_backward(const clip_model *m, float *dimages, int on_dev, float *grad, const float *dfeat,
                           clip_image_ctx *ctx) {
    const int S = m->image_size, P = m->patch, g = m->grid, D = m->vis.width;
    const int B = ctx->B, H = ctx->H, W = ctx->W, T = ctx->T, N = ctx->N, K = 3 * P * P, np = B * g * g;
    const device_t dv = m->dev;
    const size_t nd = (size_t)N * D;
    float *dhin = dalloc(m, (size_t)B * D);
    head_backward(m, dhin, grad, dfeat, ctx->hp_in, ctx->meanp, ctx->rstdp, m->ln_post_w, m->ln_post_b, m->vis_proj, B, D);
    block_scratch w = {dalloc(m, nd), dalloc(m, nd), dalloc(m, 4 * nd)};
    float *dqkv = dalloc(m, 3 * nd);
    float *dx = dalloc(m, nd);
    const int L = m->vis.layers;
    if (L > 0) last_block_backward(m, &m->vblocks[L - 1], &m->vis, dx, dhin, B, T, &ctx->s[L - 1], &w, dqkv, grad);
    else
        for (int b = 0; b < B; b++) dev_copy(dv, dx + (size_t)b * T * D, dhin + (size_t)b * D, (size_t)D);
    dev_free(dv, dhin);
    for (int l = L - 1; l >= 0; l--) {
        if (l < L - 1) block_backward(m, &m->vblocks[l], &m->vis, dx, ctx->off, B, 0, &ctx->s[l], &w, dqkv, grad);
        save_free(dv, &ctx->s[l]);
    }
    dev_free(dv, dqkv); dev_free(dv, w.a); dev_free(dv, w.g);
    /* dx0 (N,D) = w.h, the gradient wrt [class_embedding, patch embeddings] + positional_embedding */
    OP(dv, layernorm_backward, w.h, GR(m->ln_pre_w), GR(m->ln_pre_b), dx, ctx->x0, ctx->mean0, ctx->rstd0,
       WT(m->ln_pre_w), N, D);
    if (grad)
        for (int b = 0; b < B; b++) {
            OP(dv, vec_axpy, GR(m->vis_pos), 1, w.h + (size_t)b * T * D, (size_t)T * D);
            OP(dv, vec_axpy, GR(m->class_emb), 1, w.h + (size_t)b * T * D, (size_t)D);
        }
    /* the patch tokens' gradient -> conv1's weight; -> patches -> pixels */
    float *demb = dx;   /* reuse: (np, D) */
    for (int b = 0; b < B; b++)
        dev_copy(dv, demb + (size_t)b * g * g * D, w.h + ((size_t)b * T + 1) * D, (size_t)g * g * D);
    dev_free(dv, w.h);
    if (grad) OP(dv, linear_backward, NULL, GR(m->conv1), NULL, demb, ctx->patches, WT(m->conv1), np, K, D);
    if (dimages) {
        float *dpatch = dalloc(m, (size_t)np * K);
        OP(dv, linear_backward, dpatch, NULL, NULL, demb, NULL, WT(m->conv1), np, K, D);
        const size_t nr = (size_t)B * 3 * S * S, nin = (size_t)B * 3 * H * W;
        float *dr = dalloc(m, nr);
        OP(dv, patchify_backward, dr, dpatch, B, 3, S, P);
        dev_free(dv, dpatch);
        OP(dv, clip_normalize_backward, dr, dr, B, (size_t)S * S);
        float *di = dalloc(m, nin);
        OP(dv, resize_backward, di, dr, B * 3, H, W, S, S, ctx->mode);
        OP(dv, vec_scale, di, 0.5f, nin);
        if (on_dev) dev_copy(dv, dimages, di, nin);
        else dev_download(dv, dimages, di, nin);
        dev_free(dv, di); dev_free(dv, dr);
    }
    dev_free(dv, dx);
    dev_free(dv, ctx->patches);
    dev_free(dv, ctx->x0); dev_free(dv, ctx->mean0); dev_free(dv, ctx->rstd0); dev_free(dv, ctx->hp_in);
    dev_free(dv, ctx->meanp); dev_free(dv, ctx->rstdp);
    free(ctx->s); free(ctx->off); free(ctx);
}

void clip_image_backward(const clip_model *m, float *dimages, const float *dfeat, clip_image_ctx *ctx) {
    image_backward(m, dimages, 0, NULL, dfeat, ctx);
}

void clip_image_backward_dev(const clip_model *m, float *dimages, const float *dfeat, clip_image_ctx *ctx) {
    image_backward(m, dimages, 1, NULL, dfeat, ctx);
}

void clip_image_backward_grad(const clip_model *m, float *dimages, float *grad, const float *dfeat,
                              clip_image_ctx *ctx) {
    image_backward(m, dimages, 0, grad, dfeat, ctx);
}

/* ---------------------------------------------------------------- text tower */

void clip_text_backward(const clip_model *m, float *grad, const float *dfeat, clip_text_ctx *ctx) {
    if (!ctx) return;
    const int D = m->txt.width, B = ctx->B, N = ctx->N;
    const device_t dv = m->dev;
    const size_t nd = (size_t)N * D;
    const int *off = ctx->off;
    float *dhf = dalloc(m, (size_t)B * D);
    head_backward(m, dhf, grad, dfeat, ctx->hf_in, ctx->meanf, ctx->rstdf, m->ln_final_w, m->ln_final_b, m->txt_proj, B, D);
    /* dx (N,D): the feature is read at each caption's end token, its last row */
    float *dx = dalloc(m, nd);
    for (int b = 0; b < B; b++) dev_copy(dv, dx + (size_t)(off[b + 1] - 1) * D, dhf + (size_t)b * D, (size_t)D);
    dev_free(dv, dhf);
    block_scratch w = {dalloc(m, nd), dalloc(m, nd), dalloc(m, 4 * nd)};
    float *dqkv = dalloc(m, 3 * nd);
    for (int l = m->txt.layers - 1; l >= 0; l--) {
        block_backward(m, &m->tblocks[l], &m->txt, dx, off, B, 1, &ctx->s[l], &w, dqkv, grad);
        save_free(dv, &ctx->s[l]);
    }
    dev_free(dv, dqkv); dev_free(dv, w.h); dev_free(dv, w.a); dev_free(dv, w.g);
    /* x = token_embedding[ids] + positional_embedding[t]: row r's gradient goes to both rows */
    if (grad)
        for (int b = 0; b < B; b++) {
            const int T = off[b + 1] - off[b];
            for (int t = 0; t < T; t++)
                OP(dv, vec_axpy, GR(m->tok_emb) + (size_t)ctx->ids[off[b] + t] * D, 1, dx + (size_t)(off[b] + t) * D, (size_t)D);
            OP(dv, vec_axpy, GR(m->txt_pos), 1, dx + (size_t)off[b] * D, (size_t)T * D);
        }
    dev_free(dv, dx);
    dev_free(dv, ctx->hf_in); dev_free(dv, ctx->meanf); dev_free(dv, ctx->rstdf);
    free(ctx->s); free(ctx->off); free(ctx->eot); free(ctx->ids); free(ctx);
}
