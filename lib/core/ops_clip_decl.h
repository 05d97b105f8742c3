/* ops_clip_decl.h: the CPU ops of CLIP's transformer and preprocessing, included twice by
 * ops_clip.h (R = float, F(n) = n##_cpu; R = double, F(n) = n##_cpu_f64), as ops_cpu_decl.h.
 * Same conventions: outputs first; backward functions ASSIGN activation gradients and
 * ACCUMULATE (+=) parameter gradients; a NULL gradient pointer skips that work.
 * Sources: lib/cpu/layernorm.c, quickgelu.c, attention.c, interp.c, preprocess.c. The CUDA twins
 * (kernels/, same file names) have the float signatures with _cuda names and device pointers,
 * except `off` of the attention ops, which stays a host array on both. */

#ifndef DFGAN_OPS_CLIP_CONSTS
#define DFGAN_OPS_CLIP_CONSTS
enum { RESIZE_NEAREST = 0, RESIZE_BILINEAR = 1, RESIZE_BICUBIC = 2 };
/* CLIP's preprocessing statistics (per RGB channel), as OpenAI's transform */
#define CLIP_MEAN_RGB {0.48145466f, 0.4578275f, 0.40821073f}
#define CLIP_STD_RGB {0.26862954f, 0.26130258f, 0.27577711f}
#endif

/* ---- LayerNorm over the last dim: in (N,C), w, b (C) -> out (N,C) = (x − μ)/√(σ² + eps)·w + b
 *      (biased variance, as torch.nn.LayerNorm); mean, rstd (N) saved for backward (may be NULL) ---- */
void F(layernorm_forward)(R *out, R *mean, R *rstd, const R *in, const R *w, const R *b,
                          int N, int C, double eps);
/* din (N,C) assigned; dw, db (C) += (each may be NULL); mean, rstd from the forward */
void F(layernorm_backward)(R *din, R *dw, R *db, const R *dout, const R *in, const R *mean,
                           const R *rstd, const R *w, int N, int C);

/* ---- QuickGELU (CLIP's MLP activation): out = x·sigmoid(1.702·x); out may alias in ---- */
void F(quickgelu_forward)(R *out, const R *in, size_t n);
void F(quickgelu_backward)(R *din, const R *dout, const R *in, size_t n);  /* in: the forward input */

/* ---- multi-head self-attention core over packed sequences: sequence b is rows
 *      [off[b], off[b+1]) of qkv (N,3C) = [q | k | v] (the fused in_proj's output, heads side by
 *      side, hs = C/nh each) -> out (N,C) = softmax(q·kᵀ/√hs [+ causal mask])·v per head.
 *      att: the softmax probabilities, Σ_b nh·T_b² values, sequence b's (nh,T_b,T_b) block after
 *      the blocks of sequences < b; NULL when no backward follows. ---- */
void F(attention_forward)(R *out, R *att, const R *qkv, const int *off, int B, int C, int nh, int causal);
/* dqkv (N,3C) assigned, from dout (N,C), the forward's qkv and att */
void F(attention_backward)(R *dqkv, const R *dout, const R *qkv, const R *att, const int *off,
                           int B, int C, int nh);

/* ---- resizing over `planes` independent H×W planes to Ho×Wo, as
 *      torch.nn.functional.interpolate(align_corners=False, antialias=False):
 *      mode RESIZE_BICUBIC (A = −0.75, indices clamped at the border as upsample_bicubic2d),
 *      RESIZE_BILINEAR, RESIZE_NEAREST (PyTorch's legacy 'nearest': floor(dst·in/out)) ---- */
void F(resize_forward)(R *out, const R *in, int planes, int H, int W, int Ho, int Wo, int mode);
/* din (planes,H,W) assigned, from dout (planes,Ho,Wo) */
void F(resize_backward)(R *din, const R *dout, int planes, int H, int W, int Ho, int Wo, int mode);

/* ---- the class-token attention of CLIP's last image block: one query per sequence against its
 *      T keys. q (B,C); kv (B·T,2C) = [k | v] (the rows of B sequences of T rows each) ->
 *      out (B,C) = softmax(q·kᵀ/√hs)·v per head; att (B,nh,T) the probabilities (may be NULL) ---- */
void F(cls_attention_forward)(R *out, R *att, const R *q, const R *kv, int B, int T, int C, int nh);
/* dq (B,C) and dkv (B·T,2C) assigned, from dout (B,C) and the forward's q, kv, att */
void F(cls_attention_backward)(R *dq, R *dkv, const R *dout, const R *q, const R *kv, const R *att,
                               int B, int T, int C, int nh);

/* ---- CLIP's preprocessing pieces (lib/cpu/preprocess.c) ---- */
/* out (n) = a·in + b; out may alias in */
void F(scale_shift)(R *out, const R *in, size_t n, R a, R b);
/* images (B,3,HW): out = (in − mean_c)/std_c with CLIP_MEAN_RGB, CLIP_STD_RGB; out may alias in */
void F(clip_normalize_forward)(R *out, const R *in, int B, size_t HW);
/* din (B,3,HW) = dout/std_c (assigned; may alias dout) */
void F(clip_normalize_backward)(R *din, const R *dout, int B, size_t HW);
/* non-overlapping P×P patches of in (B,C,S,S), S = g·P -> out (B·g·g, C·P·P): row (b,gy,gx),
 * column (c,ky,kx) (conv1 with stride P as a matrix product) */
void F(patchify_forward)(R *out, const R *in, int B, int C, int S, int P);
/* din (B,C,S,S) assigned from dout (B·g·g, C·P·P) (the inverse permutation) */
void F(patchify_backward)(R *din, const R *dout, int B, int C, int S, int P);
