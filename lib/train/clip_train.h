/* clip_train.h: CLIP's contrastive training, as OpenAI trained CLIP and open_clip trains it:
 *
 *   img_n, txt_n = the image and text features (B,E) L2-normalised
 *   logits = exp(logit_scale)·img_n·txt_nᵀ (B,B)
 *   loss = (CE(logits, arange(B)) + CE(logitsᵀ, arange(B))) / 2
 *
 * then one AdamW step (torch.optim.AdamW: decoupled weight decay p −= lr·wd·p before the Adam
 * update) with open_clip's parameter groups (clip_param_decays), and logit_scale clamped to
 * [0, ln 100] after it (open_clip's train.py; OpenAI's paper: logits scaled by at most 100).
 * The model is lib/models/clip.c after clip_trainable (weights, gradients and Adam state in m->ps);
 * the loss is computed on the host in double from the towers' features. */
#ifndef DFGAN_CLIP_TRAIN_H
#define DFGAN_CLIP_TRAIN_H
#include "models/clip.h"

#include <stdint.h>

typedef struct {
    double lr, beta1, beta2, eps, wd;   /* AdamW */
    long warmup;                        /* steps of linear warm-up (open_clip's cosine_lr); 0: none */
    long cosine;                        /* > 0: cosine decay of lr to 0 at step `cosine` (and 0 after it) */
    int resize;                         /* the image tower's resize mode (RESIZE_* of core/op_list.h) */
} clip_train_opts;

/* open_clip's defaults for a ViT: lr 5e-4, betas (0.9, 0.98), eps 1e-6, weight decay 0.2; no
 * warm-up, constant lr; bicubic resizing. */
clip_train_opts clip_train_defaults(void);

/* The learning rate of step `step` (1-based), open_clip's cosine_lr with s = step − 1:
 * lr·(s+1)/warmup while s < warmup; then lr, or with cosine > warmup
 * lr·(1 + cos(π·(s − warmup)/(cosine − warmup)))/2, and 0 once s ≥ cosine. */
double clip_train_lr(const clip_train_opts *o, long step);

/* Whether a parameter (its key and number of dimensions) is weight-decayed: open_clip's rule, every parameter except those of fewer
 * than 2 dimensions and those whose key contains "bn", "ln", "bias" or "logit_scale" (so the 2-d
 * embeddings and projections and conv1 decay; class_embedding, biases, LayerNorms and logit_scale
 * do not). */
int clip_param_decays(const char *key, int ndim);

/* The loss above for image and text features img, txt (B,E) (the towers' raw outputs) at
 * logit_scale; dimg, dtxt (B,E) its gradients wrt them and *dscale wrt logit_scale (each may be
 * NULL); *acc (may be NULL) the fraction of images whose own caption has the largest logit in
 * their row. */
double clip_contrastive_loss(float *dimg, float *dtxt, double *dscale, const float *img, const float *txt, int B,
                             int E, double logit_scale, double *acc);

typedef struct {
    double loss, acc;       /* clip_contrastive_loss's, at the weights before the step */
    double logit_scale;     /* the value the step's forward used */
    double lr;              /* the step's learning rate */
} clip_step_info;

/* One training step on a batch: images (B,3,H,W) float32 in [−1,1] (host; CLIP's preprocessing and
 * resizing run inside the tower), ids (B,L) int32 (host) their captions: forward both towers,
 * the loss, the weight gradients into m->ps.grad (zeroed first), AdamW (m->ps.step counts the
 * steps), the clamp. Returns 0, or −1 with a message (a token id out of range, L > context) and
 * the model untouched. */
int clip_train_step(clip_model *m, const clip_train_opts *o, const float *images, int B, int H, int W,
                    const int32_t *ids, int L, clip_step_info *info, char *err, size_t errlen);

/* Write m's weights alone (OpenAI's keys, no Adam state: what clip_load reads) to path,
 * atomically; dies on failure. */
void clip_train_save_weights(const clip_model *m, const char *path);

/* Retrieval top-1 over N pairs of features img, txt (N,E) (normalised here): an image is right when
 * the text of largest cosine (the first, on ties) has its caption's group, and a text when the
 * image of largest cosine does; group[i] names caption i's text, so that two images with the same
 * caption both count their own. *i2t, *t2i: the fractions right (0 for N = 0). */
void clip_retrieval_top1(const float *img, const float *txt, const int *group, int N, int E, double *i2t, double *t2i);

#endif
