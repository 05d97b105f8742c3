/* ops_clip_decl.h: the CPU ops of CLIP's transformer and preprocessing, included twice by
 * ops_clip.h (R = float, F(n) = n##_cpu; R = double, F(n) = n##_cpu_f64), as ops_cpu_decl.h.
 * Same conventions: outputs first; backward functions ASSIGN activation gradients and
 * ACCUMULATE (+=) parameter gradients; a NULL gradient pointer skips that work.
 * Sources: lib/cpu/layernorm.c, quickgelu.c, attention.c, interp.c. */

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
