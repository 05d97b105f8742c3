/* clip.h: OpenAI CLIP (the ViT variants: B/32, B/16, L/14, ...) in float32 on the CPU or the GPU
 * (clip_to_device), with the backward passes of both towers: the gradients with respect to every
 * weight (clip_trainable's model, for training) and, for the image tower, to the input pixels, with
 * CLIP's preprocessing inside the differentiable path. Weights are the OpenAI state_dict as .npz (keys
 * `visual.conv1.weight`, ..., `token_embedding.weight`, `text_projection`, `logit_scale`); every
 * size is read from the shapes except the number of heads, which the weights do not record: it is
 * width / head_width, head_width 64 in every released CLIP (OpenAI's build_model: width // 64).
 *
 * Image tower: conv1 (patchify, no bias) -> [class_embedding, patches] + positional_embedding ->
 * ln_pre -> residual blocks (x += attn(ln_1(x)); x += mlp(ln_2(x)), QuickGELU) -> ln_post on the
 * class token -> · proj. Text tower: token_embedding + positional_embedding -> blocks with the
 * causal mask -> ln_final -> the row of the end token (argmax of the ids) · text_projection. Each
 * caption is run only up to its end token (causal: later tokens cannot change the result). */
#ifndef DFGAN_CLIP_H
#define DFGAN_CLIP_H
#include "io/npz.h"
#include "core/params.h"
#include "core/tensor.h"

typedef struct {
    int ln1_w, ln1_b, in_w, in_b, out_w, out_b, ln2_w, ln2_b, fc_w, fc_b, proj_w, proj_b;
} clip_block;

typedef struct {
    int width, layers, heads;
} clip_tower_dims;

typedef struct {
    param_set ps;              /* the parameters' keys and shapes; their data only after clip_create */
    float **w;                 /* w[i]: parameter i's data (in ps.data, or in src: see clip_load) */
    npz_mapped src;            /* the weights file that clip_load read (its arrays are used in place) */
    device_t dev;              /* where the model computes (DEVICE_CPU unless clip_to_device) */
    float *dbuf, **dw;         /* on the GPU: all parameters in one buffer; dw[i] parameter i's copy */
    int embed_dim;
    /* image tower */
    clip_tower_dims vis;
    int patch, image_size, grid;
    int conv1, class_emb, vis_pos, ln_pre_w, ln_pre_b, ln_post_w, ln_post_b, vis_proj;
    clip_block *vblocks;
    /* text tower */
    clip_tower_dims txt;
    int context, vocab;
    int tok_emb, txt_pos, ln_final_w, ln_final_b, txt_proj, logit_scale;
    clip_block *tblocks;
} clip_model;

typedef struct {
    int embed_dim, width, layers, heads, patch, image_size;
    int text_width, text_layers, text_heads, context, vocab;
} clip_config;

/* ViT-B/32's sizes (OpenAI's ViT-B-32). */
clip_config clip_config_default(void);
/* Register the parameters of cfg (OpenAI's state_dict order) and allocate them (zeros). */
void clip_create(clip_model *m, const clip_config *cfg);
/* Random weights from a Philox seed, after OpenAI's initialize_parameters: token embedding
 * N(0, 0.02²), positional N(0, 0.01²), class embedding and the visual positional embedding and
 * proj N(0, width^-1) scaled as in VisionTransformer, attention/MLP weights with OpenAI's stds,
 * biases 0, LayerNorm weights 1, logit_scale log(1/0.07). (Element k of parameter i is normal
 * number k of Philox stream i: the same on any number of threads.) */
void clip_init(clip_model *m, uint64_t seed);
/* For tests: every parameter p += jitter·N(0,1)·s, s = p's standard deviation (1 where p is
 * constant or a scalar), from Philox streams 2^32 + i of seed; biases and LayerNorm affines are
 * then not 0 and 1, so that a parity test sees them (the tiny fixtures' reference does the same). */
void clip_jitter(clip_model *m, uint64_t seed, double jitter);
/* Load an .npz of OpenAI keys (sizes from its shapes; heads = width / head_width). The file is
 * mapped and its float32 arrays are used in place where they are aligned (npz_read_mapped: every
 * array of a file that npz_write wrote), copied once otherwise; float16 and float64 arrays are
 * converted to float32. Dies (exit 2) naming the path on a missing key, a wrong shape or dtype
 * or an unexpected key, and exits 3 on a NaN or Inf in a weight (core/finite.h). The model's
 * weights are then read-only. */
void clip_load(clip_model *m, const char *path, int head_width);
void clip_free(clip_model *m);
/* Compute on dev from now on: for DEVICE_CUDA the weights are uploaded once (the host copies in
 * w stay, and the text tower gathers its token embeddings from them); DEVICE_CPU does nothing.
 * The functions below keep host pointers for their inputs and outputs on either device. */
void clip_to_device(clip_model *m, device_t dev);
/* For training (instead of clip_to_device): the weights move into m->ps's own buffers on dev with
 * gradients and Adam state beside them (params_alloc: ps.data, ps.grad, ps.m, ps.v, each laid out
 * as the parameters), and the loaded file is released. The forward passes then read ps.data,
 * which an optimizer may update in place; the backward passes' `grad` is ps.grad. On the GPU the
 * model keeps no host copy of the weights (the text tower gathers its embeddings there). */
void clip_trainable(clip_model *m, device_t dev);

/* Text features (B,E) (the projection output, not normalised) of ids (B,L) int32, L ≤ context.
 * Each row's end token is its argmax. Returns 0, or -1 with a message (an id out of range). */
int clip_encode_text(const clip_model *m, float *feat, const int32_t *ids, int B, int L, char *err, size_t errlen);
/* The same, keeping the activations in *ctx (non-NULL) for clip_text_backward; *ctx is NULL where
 * there is nothing to backpropagate (L = 0) or on an error. */
typedef struct clip_text_ctx clip_text_ctx;
int clip_text_forward(const clip_model *m, float *feat, const int32_t *ids, int B, int L, clip_text_ctx **ctx,
                      char *err, size_t errlen);
/* grad (laid out as m->ps, on the model's device) += ∂(Σ dfeat·feat)/∂weights for the features
 * (B,E) of the last clip_text_forward's ctx (freed; NULL does nothing). */
void clip_text_backward(const clip_model *m, float *grad, const float *dfeat, clip_text_ctx *ctx);

/* The image tower with CLIP's preprocessing: images (B,3,H,W) in [−1,1] -> [0,1] -> resized to
 * image_size (resize_mode: RESIZE_BICUBIC/BILINEAR/NEAREST of core/op_list.h) -> (x − mean)/std ->
 * features (B,E) (the projection output). With a non-NULL ctx the activations are kept for
 * clip_image_backward. */
typedef struct clip_image_ctx clip_image_ctx;
void clip_encode_image(const clip_model *m, float *feat, const float *images, int B, int H, int W,
                       int resize_mode, clip_image_ctx **ctx);
/* dimages (B,3,H,W) = ∂(Σ dfeat·feat)/∂images, from the ctx of the last clip_encode_image (freed). */
void clip_image_backward(const clip_model *m, float *dimages, const float *dfeat, clip_image_ctx *ctx);
/* The same with the weight gradients: grad (laid out as m->ps, on the model's device; NULL: none)
 * += ∂(Σ dfeat·feat)/∂weights; dimages (host) as above, NULL to skip the pixels' gradient. */
void clip_image_backward_grad(const clip_model *m, float *dimages, float *grad, const float *dfeat,
                              clip_image_ctx *ctx);

/* The same with images and dimages (B,3,H,W) on the model's device (clip-embed loss --ipc): the
 * images are read there (copied, never written), dimages written there. */
void clip_encode_image_dev(const clip_model *m, float *feat, const float *images, int B, int H, int W,
                           int resize_mode, clip_image_ctx **ctx);
void clip_image_backward_dev(const clip_model *m, float *dimages, const float *dfeat, clip_image_ctx *ctx);

/* λ·(1 − mean_b cos(img_b, txt_b)) and, when dimg is not NULL, its gradient wrt img (B,E). */
double clip_cos_loss(float *dimg, const float *img, const float *txt, int B, int E, double lambda,
                     double *mean_cos);
#endif
