/* op_list.h: every op, declared once. Each entry is one of
 *
 *     OPDEF(ret, name, (params))            a CPU body (lib/cpu/) and a CUDA twin (kernels/)
 *     OPDEF_CPU_ONLY(ret, name, (params))   a CPU body only so far: its name_cuda is a stub that
 *                                           dies "expected a CUDA twin of name, found none yet"
 *
 * with R for the scalar type in params. An includer defines R and OPDEF (and OPDEF_CPU_ONLY, else
 * it is taken as OPDEF), then includes this file, which undefines all three at its end:
 *
 *     lib/core/ops.h       ret name_cpu(params) with R float; ret name_cpu_f64(params) with R double
 *     kernels/ops_cuda.h   ret name_cuda(params) with R float, device pointers
 *     kernels/nocuda.c     the stubs of a build without nvcc; kernels/no_twin.cu, those of the
 *                          OPDEF_CPU_ONLY ops in a build with it
 *
 * Adding an op: one entry here, its body in lib/cpu/<family>.c (written once with `real` and
 * OPNAME(name), compiled as float and as double, see core/real.h), its twin in kernels/<family>.cu.
 *
 * Conventions (after llm.c): outputs first; shapes in comments; activations are stored
 * channel-major, (C,B,H,W) ("CNHW"), so a convolution over the whole batch is one matrix
 * product; images cross tool boundaries as NCHW and are transposed on entry and exit.
 * Backward functions ASSIGN activation gradients (din, dx, ...) and ACCUMULATE (+=) parameter
 * gradients (dw, db). Any gradient pointer may be NULL to skip that work. Host arrays (not device
 * pointers on CUDA) are named so in their entry. */

#ifndef DFGAN_OP_LIST_CONSTS
#define DFGAN_OP_LIST_CONSTS
#include <stddef.h>
#include <stdint.h>
enum { RESIZE_NEAREST = 0, RESIZE_BILINEAR = 1, RESIZE_BICUBIC = 2 };
/* CLIP's preprocessing statistics (per RGB channel), as OpenAI's transform */
#define CLIP_MEAN_RGB {0.48145466f, 0.4578275f, 0.40821073f}
#define CLIP_STD_RGB {0.26862954f, 0.26130258f, 0.27577711f}
#endif

#ifndef OPDEF_CPU_ONLY
#define OPDEF_CPU_ONLY(ret, name, params) OPDEF(ret, name, params)
#endif

/* ======== DF-GAN's ops ======== */

/* ---- linear: out (B,O) = in (B,I) · wᵀ + b;  w (O,I), b (O) or NULL; I = in_dim, O = out_dim
 *      (lib/cpu/linear.c) ---- */
OPDEF(void, linear_forward, (R *out, const R *in, const R *w, const R *b, int B, int in_dim, int out_dim))
/* din (B,I) = dout·w;  dw (O,I) += doutᵀ·in;  db (O) += Σ_b dout */
OPDEF(void, linear_backward, (R *din, R *dw, R *db, const R *dout, const R *in, const R *w,
                              int B, int in_dim, int out_dim))

/* ---- conv2d: in (C,B,H,W), w (OC,C,K,K), b (OC) or NULL -> out (OC,B,Ho,Wo),
 *      Ho = (H + 2·pad − K)/stride + 1, zero padding; im2col + gemm, and in the float build
 *      Winograd and direct kernels where they pay (lib/cpu/conv2d.c) ---- */
OPDEF(void, conv2d_forward, (R *out, const R *in, const R *w, const R *b,
                             int B, int C, int H, int W, int OC, int K, int stride, int pad))
/* din (C,B,H,W) = conv transpose of dout;  dw += dout ⋆ in;  db += Σ dout */
OPDEF(void, conv2d_backward, (R *din, R *dw, R *db, const R *dout, const R *in, const R *w,
                              int B, int C, int H, int W, int OC, int K, int stride, int pad))
/* conv2d_forward with a leaky ReLU after, in one pass where it can: out = leaky_relu(w ⋆ in + b)
 * (mask NULL), or (w ⋆ in + b)·(mask > 0 ? 1 : slope), a leaky ReLU's tangent at mask
 * (OC,B,Ho,Wo); out must not alias mask */
OPDEF(void, conv2d_forward_lrelu, (R *out, const R *in, const R *w, const R *b, const R *mask, R slope,
                                   int B, int C, int H, int W, int OC, int K, int stride, int pad))
/* conv2d_backward whose din is taken on through a leaky ReLU whose output (or input) was mask
 * (C,B,H,W): din = (conv transpose of dout)·(mask > 0 ? 1 : slope); dw, db as conv2d_backward */
OPDEF(void, conv2d_backward_lrelu, (R *din, R *dw, R *db, const R *dout, const R *in, const R *w,
                                    const R *mask, R slope, int B, int C, int H, int W, int OC, int K,
                                    int stride, int pad))

/* ---- pointwise (n elements; out may alias in, din may alias dout) (lib/cpu/pointwise.c) ---- */
OPDEF(void, leaky_relu_forward, (R *out, const R *in, size_t n, R slope))
/* din = dout · (x > 0 ? 1 : slope); x is the forward input or output (same sign) */
OPDEF(void, leaky_relu_backward, (R *din, const R *dout, const R *x, size_t n, R slope))
OPDEF(void, relu_forward, (R *out, const R *in, size_t n))
OPDEF(void, relu_backward, (R *din, const R *dout, const R *x, size_t n))   /* x: input or output */
OPDEF(void, tanh_forward, (R *out, const R *in, size_t n))
OPDEF(void, tanh_backward, (R *din, const R *dout, const R *out, size_t n)) /* out: tanh's output */

/* ---- resampling over `planes` = C·B independent H×W planes (lib/cpu/resample.c) ---- */
OPDEF(void, upsample2x_forward, (R *out, const R *in, int planes, int H, int W))   /* out (planes,2H,2W) nearest */
OPDEF(void, upsample2x_backward, (R *din, const R *dout, int planes, int H, int W))/* din (planes,H,W) */
OPDEF(void, avgpool2x2_forward, (R *out, const R *in, int planes, int H, int W))   /* out (planes,H/2,W/2), H,W even */
OPDEF(void, avgpool2x2_backward, (R *din, const R *dout, int planes, int H, int W))/* din (planes,H,W) */
/* din (planes,H,W) += avgpool2x2_backward(dout): the pooled shortcut's gradient added to a block
 * input's (accumulates, as a fused "avgpool2x2_backward then vec_add") */
OPDEF(void, avgpool2x2_backward_add, (R *din, const R *dout, int planes, int H, int W))

/* ---- per-sample per-channel affine modulation: x (C,B,HW), gamma, beta (B,C)
 *      out[c,b,i] = gamma[b,c]·x[c,b,i] + beta[b,c] (lib/cpu/affine.c) ---- */
OPDEF(void, affine_forward, (R *out, const R *x, const R *gamma, const R *beta, int C, int B, int HW))
/* dx (C,B,HW) = gamma·dout; dgamma (B,C) = Σ_i dout·x; dbeta (B,C) = Σ_i dout (all assigned) */
OPDEF(void, affine_backward, (R *dx, R *dgamma, R *dbeta, const R *dout, const R *x, const R *gamma,
                              int C, int B, int HW))
/* DF-GAN's modulation and its activation in one pass: out = leaky_relu(gamma·x + beta, slope);
 * out may alias x */
OPDEF(void, affine_lrelu_forward, (R *out, const R *x, const R *gamma, const R *beta, int C, int B, int HW,
                                   R slope))
/* its gradient, with g = dout·(y > 0 ? 1 : slope), y the forward's output: dx = gamma·g;
 * dgamma = Σ_i g·x; dbeta = Σ_i g (all assigned; any may be NULL; dx may alias dout) */
OPDEF(void, affine_lrelu_backward, (R *dx, R *dgamma, R *dbeta, const R *dout, const R *x, const R *y,
                                    const R *gamma, int C, int B, int HW, R slope))

/* ---- sentence embedding spread over space: s (B,S) -> out (S,B,HW) (lib/cpu/affine.c) ---- */
OPDEF(void, replicate_forward, (R *out, const R *s, int B, int S, int HW))
OPDEF(void, replicate_backward, (R *ds, const R *dout, int B, int S, int HW))  /* ds (B,S) = Σ_i dout */

/* ---- row concatenation: a (B,A), b (B,Bn) -> out (B,A+Bn) (lib/cpu/affine.c) ---- */
OPDEF(void, concat_rows_forward, (R *out, const R *a, const R *b, int B, int A, int Bn))
OPDEF(void, concat_rows_backward, (R *da, R *db, const R *dout, int B, int A, int Bn))

/* ---- layout: NCHW (B,C,HW) <-> CNHW (C,B,HW) (lib/cpu/affine.c) ---- */
OPDEF(void, nchw_to_cnhw, (R *out, const R *in, int B, int C, int HW))
OPDEF(void, cnhw_to_nchw, (R *out, const R *in, int B, int C, int HW))

/* ---- hinge losses on scores x (n): mean(relu(1 + sign·x)), sign = −1 for "real", +1 for "fake"
 *      (lib/cpu/loss.c); the CUDA twin waits for its result ---- */
OPDEF(R, hinge_forward, (const R *x, int n, int sign))
/* dx = scale · ∂/∂x mean(relu(1 + sign·x)) (assigned; relu'(0) = 0 as PyTorch) */
OPDEF(void, hinge_backward, (R *dx, const R *x, int n, int sign, R scale))

/* ---- vectors (lib/cpu/vec.c) ---- */
OPDEF(void, vec_add, (R *out, const R *a, const R *b, size_t n))    /* out = a + b */
OPDEF(void, vec_axpy, (R *y, R alpha, const R *x, size_t n))        /* y += alpha·x */
OPDEF(void, vec_scale, (R *y, R alpha, size_t n))                   /* y *= alpha */
OPDEF(double, vec_dot, (const R *a, const R *b, size_t n))          /* Σ a·b in double; CUDA waits */
/* the index of the first NaN or ±Inf in x (n), or −1 when every value is finite (core/finite.h's
 * first_nonfinite): the training steps' check of a gradient buffer that stays on the device; CUDA waits */
OPDEF(int64_t, vec_first_nonfinite, (const R *x, size_t n))

/* ---- Adam with PyTorch's semantics (torch.optim.Adam, no weight decay, no amsgrad);
 *      step is the 1-based count after this update; m, v updated in place (lib/cpu/vec.c) ---- */
OPDEF(void, adam_update, (R *p, R *m, R *v, const R *g, size_t n,
                          double lr, double beta1, double beta2, double eps, long step))

/* ======== CLIP's transformer and preprocessing ======== */

/* ---- LayerNorm over the last dim: in (N,C), w, b (C) -> out (N,C) = (x − μ)/√(σ² + eps)·w + b
 *      (biased variance, as torch.nn.LayerNorm); mean, rstd (N) saved for backward (may be NULL)
 *      (lib/cpu/layernorm.c) ---- */
OPDEF(void, layernorm_forward, (R *out, R *mean, R *rstd, const R *in, const R *w, const R *b,
                                int N, int C, double eps))
/* din (N,C) assigned; dw, db (C) += (each may be NULL); mean, rstd from the forward */
OPDEF(void, layernorm_backward, (R *din, R *dw, R *db, const R *dout, const R *in, const R *mean,
                                 const R *rstd, const R *w, int N, int C))

/* ---- QuickGELU (CLIP's MLP activation): out = x·sigmoid(1.702·x); out may alias in
 *      (lib/cpu/quickgelu.c) ---- */
OPDEF(void, quickgelu_forward, (R *out, const R *in, size_t n))
OPDEF(void, quickgelu_backward, (R *din, const R *dout, const R *in, size_t n))  /* in: the forward input */

/* ---- multi-head self-attention core over packed sequences: sequence b is rows
 *      [off[b], off[b+1]) of qkv (N,3C) = [q | k | v] (the fused in_proj's output, heads side by
 *      side, hs = C/nh each) -> out (N,C) = softmax(q·kᵀ/√hs [+ causal mask])·v per head.
 *      att: the softmax probabilities, Σ_b nh·T_b² values, sequence b's (nh,T_b,T_b) block after
 *      the blocks of sequences < b; NULL when no backward follows. off (B+1) is a host array on
 *      both backends (lib/cpu/attention.c) ---- */
OPDEF(void, attention_forward, (R *out, R *att, const R *qkv, const int *off, int B, int C, int nh, int causal))
/* dqkv (N,3C) assigned, from dout (N,C), the forward's qkv and att */
OPDEF(void, attention_backward, (R *dqkv, const R *dout, const R *qkv, const R *att, const int *off,
                                 int B, int C, int nh))

/* ---- the class-token attention of CLIP's last image block: one query per sequence against its
 *      T keys. q (B,C); kv (B·T,2C) = [k | v] (the rows of B sequences of T rows each) ->
 *      out (B,C) = softmax(q·kᵀ/√hs)·v per head; att (B,nh,T) the probabilities (may be NULL)
 *      (lib/cpu/attention.c) ---- */
OPDEF(void, cls_attention_forward, (R *out, R *att, const R *q, const R *kv, int B, int T, int C, int nh))
/* dq (B,C) and dkv (B·T,2C) assigned, from dout (B,C) and the forward's q, kv, att */
OPDEF(void, cls_attention_backward, (R *dq, R *dkv, const R *dout, const R *q, const R *kv, const R *att,
                                     int B, int T, int C, int nh))

/* ---- resizing over `planes` independent H×W planes to Ho×Wo, as
 *      torch.nn.functional.interpolate(align_corners=False, antialias=False):
 *      mode RESIZE_BICUBIC (A = −0.75, indices clamped at the border as upsample_bicubic2d),
 *      RESIZE_BILINEAR, RESIZE_NEAREST (PyTorch's legacy 'nearest': floor(dst·in/out))
 *      (lib/cpu/interp.c, separably) ---- */
OPDEF(void, resize_forward, (R *out, const R *in, int planes, int H, int W, int Ho, int Wo, int mode))
/* din (planes,H,W) assigned, from dout (planes,Ho,Wo) */
OPDEF(void, resize_backward, (R *din, const R *dout, int planes, int H, int W, int Ho, int Wo, int mode))

/* ---- CLIP's preprocessing pieces (lib/cpu/preprocess.c) ---- */
/* out (n) = a·in + b; out may alias in */
OPDEF(void, scale_shift, (R *out, const R *in, size_t n, R a, R b))
/* images (B,3,HW): out = (in − mean_c)/std_c with CLIP_MEAN_RGB, CLIP_STD_RGB; out may alias in */
OPDEF(void, clip_normalize_forward, (R *out, const R *in, int B, size_t HW))
/* din (B,3,HW) = dout/std_c (assigned; may alias dout) */
OPDEF(void, clip_normalize_backward, (R *din, const R *dout, int B, size_t HW))
/* non-overlapping P×P patches of in (B,C,S,S), S = g·P -> out (B·g·g, C·P·P): row (b,gy,gx),
 * column (c,ky,kx) (conv1 with stride P as a matrix product) */
OPDEF(void, patchify_forward, (R *out, const R *in, int B, int C, int S, int P))
/* din (B,C,S,S) assigned from dout (B·g·g, C·P·P) (the inverse permutation) */
OPDEF(void, patchify_backward, (R *din, const R *dout, int B, int C, int S, int P))

/* ======== Inception-v3 (FID's features), forward only ======== */

/* ---- convolution with a rectangular kernel, a stride and a padding per axis, bias and ReLU
 *      fused: in (C,B,H,W), w (OC,C,KH,KW), b (OC) or NULL -> out (OC,B,Ho,Wo)
 *      = relu(w ⋆ in + b) (relu 1) or w ⋆ in + b (relu 0), zero padding,
 *      Ho = (H + 2·ph − KH)/sh + 1, Wo = (W + 2·pw − KW)/sw + 1 (lib/cpu/conv_rect.c) ---- */
OPDEF(void, conv2d_rect_forward, (R *out, const R *in, const R *w, const R *b, int B, int C, int H,
                                  int W, int OC, int KH, int KW, int sh, int sw, int ph, int pw,
                                  int relu))
/* out (rows,N) = relu(in (rows,N) + b (rows)): a convolution's epilogue after a bare gemm (the 1x1
 * convolutions of a block run as one); out may be in (lib/cpu/conv_rect.c) */
OPDEF(void, bias_relu_forward, (R *out, const R *in, const R *b, int rows, size_t N))

/* ---- pooling over `planes` independent H×W planes (lib/cpu/pool.c) ---- */
/* out (planes,Ho,Wo): max over 3x3 windows, stride s, padding p (padding never wins: −inf; a NaN
 * in the window wins, as PyTorch), Ho = (H + 2p − 3)/s + 1 (floor, as nn.MaxPool2d) */
OPDEF(void, maxpool3_forward, (R *out, const R *in, size_t planes, int H, int W, int s, int p))
/* in (C,B,H,W) -> out (C,B,H,W) = relu?(avgpool3(in) + bias[c]): 3x3 average, stride 1, padding
 * 1; count_include_pad 1 divides by 9 (F.avg_pool2d's default, torchvision's blocks), 0 by the
 * number of in-image taps (pytorch-fid's FID blocks); bias (C) or NULL added after the average,
 * then ReLU when relu; out must not alias in */
OPDEF(void, avgpool3_bias_relu_forward, (R *out, const R *in, int C, int B, int H, int W,
                                         int count_include_pad, const R *bias, int relu))
/* out (planes) = the mean of each plane of in (planes,HW) (adaptive average pooling to 1x1),
 * summed in double */
OPDEF(void, meanpool_forward, (R *out, const R *in, size_t planes, int HW))

/* ---- bilinear resizing of `planes` H×W planes to Ho×Wo as PyTorch 1.13's upsample_bilinear2d
 *      computes it, source indices in R and 2-d weights (not separably, unlike resize_forward),
 *      align_corners ac (0 or 1), no antialiasing: out (planes,Ho,Wo) (lib/cpu/interp.c) ---- */
OPDEF(void, resize_bilinear2d_forward, (R *out, const R *in, size_t planes, int H, int W, int Ho,
                                        int Wo, int ac))

/* ======== DAMSM's text encoder, forward only ======== */

/* ---- one LSTM layer (PyTorch's nn.LSTM: gates i, f, g, o; c = f·c + i·g, h = o·tanh(c); zero
 *      initial state) over B token sequences with pack_padded_sequence semantics: sequence b is
 *      the first lens[b] (1..L) tokens of row b of ids (B,L). The input projection of a token,
 *      x·W_ihᵀ + b_ih + b_hh, depends only on its id: row ids[b,t] of proj (V, D·4H), direction d
 *      at columns d·4H. whh_f (4H,H) runs t = 0..len−1; whh_b (4H,H), or NULL for one direction
 *      (D = 1), runs t = len−1..0.
 *      sent (B,D·H): each direction's last h, [forward | backward];
 *      words (B,D·H,L) or NULL: h of direction d at token t in column t of rows d·H.., zeros past
 *      each length. lens (B) is a host array on both backends; ids, like the rest, is on the op's
 *      device (lib/cpu/lstm.c) ---- */
OPDEF(void, lstm_forward, (R *sent, R *words, const R *proj, const int32_t *ids, const int *lens,
                           const R *whh_f, const R *whh_b, int64_t B, int64_t L, int H))

#undef OPDEF
#undef OPDEF_CPU_ONLY
#undef R
