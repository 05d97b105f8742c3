/* clip_internal.h: what CLIP's forward passes (clip.c) and backward passes (clip_backward.c)
 * share: the activations each block keeps, the towers' saved contexts, and the accessors of a
 * parameter's weights and gradient on the model's device. For lib/models/clip*.c only; tools use
 * clip.h.
 *
 * Activations are row-major (rows, width), the rows of all sequences packed together: sequence b
 * is rows [off[b], off[b+1]) (off a host array). */
#ifndef DFGAN_CLIP_INTERNAL_H
#define DFGAN_CLIP_INTERNAL_H
#include "models/clip.h"

#define LN_EPS 1e-5
/* parameter i's data on the model's device (read-only in the forward and backward passes: on the
 * CPU it may be the weights file's mapping; on the GPU the copy that clip_to_device made, or the
 * trainable parameters of clip_trainable) */
#define WT(i) ((const float *)(m->dw ? m->dw[i] : m->w[i]))
/* parameter i's gradient in `grad` (a buffer laid out as m->ps, on the model's device), or NULL
 * when no weight gradients are wanted (grad NULL) */
#define GR(i) (grad ? grad + m->ps.info[i].offset : NULL)

/* what one block keeps for the backward pass: its input x and mid-point residual x2 (N,D) with
 * their LayerNorm statistics mean1, rstd1, mean2, rstd2 (N), the fused q,k,v (N,3D), the attention
 * probabilities and the MLP's pre-activation fc (N,4D). For a forward-only pass these point into
 * one shared scratch set and x, x2 are NULL. All on the model's device. (The image tower's last
 * block keeps less: see clip.c's last_block_forward.) */
typedef struct { float *x, *mean1, *rstd1, *qkv, *att, *x2, *mean2, *rstd2, *fc; } block_save;

typedef struct { float *h, *a, *g; } block_scratch;   /* (N,D), (N,D), (N,4D) */

/* The image tower's saved activations (clip_encode_image with a ctx). */
struct clip_image_ctx {
    int B, H, W, mode, T, N;
    int *off;                           /* host */
    float *patches;                     /* conv1's input (B·g·g, 3·P·P) */
    float *x0, *mean0, *rstd0;          /* ln_pre's input (N,D) and statistics (on the model's device) */
    block_save *s;                      /* per block */
    float *hp_in, *meanp, *rstdp;       /* ln_post's input (B,D) (the class tokens) and statistics */
};

/* The text tower's saved activations (clip_text_forward with a ctx). Caption b is rows
 * off[b] .. off[b+1]-1 = its tokens up to its end token eot[b]. */
struct clip_text_ctx {
    int B, N;
    int *off, *eot;                     /* host, (B+1) and (B) */
    int32_t *ids;                       /* host (N): each row's token id */
    block_save *s;                      /* per block */
    float *hf_in, *meanf, *rstdf;       /* ln_final's input (B,D) (the end tokens) and statistics */
};

/* n floats on the model's device (zero-filled; at least one) */
static inline float *dalloc(const clip_model *m, size_t n) { return dev_alloc(m->dev, n ? n : 1); }

static inline void save_free(device_t dv, block_save *s) {
    dev_free(dv, s->x); dev_free(dv, s->x2); dev_free(dv, s->mean1); dev_free(dv, s->rstd1); dev_free(dv, s->mean2);
    dev_free(dv, s->rstd2); dev_free(dv, s->qkv); dev_free(dv, s->att); dev_free(dv, s->fc);
}

#endif
