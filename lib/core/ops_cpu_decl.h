/* ops_cpu_decl.h: the CPU op signatures, included twice by ops_cpu.h (R = float, F(n) = n##_cpu;
 * R = double, F(n) = n##_cpu_f64). The CUDA twins in kernels/ have the float signatures with
 * _cuda names and device pointers.
 *
 * Conventions (after llm.c): outputs first; shapes in comments; activations are stored
 * channel-major, (C,B,H,W) ("CNHW"), so a convolution over the whole batch is one matrix
 * product; images cross tool boundaries as NCHW and are transposed on entry and exit.
 * Backward functions ASSIGN activation gradients (din, dx, ...) and ACCUMULATE (+=) parameter
 * gradients (dw, db). Any gradient pointer may be NULL to skip that work. */

/* ---- linear: out (B,O) = in (B,I) · wᵀ + b;  w (O,I), b (O) or NULL; I = in_dim, O = out_dim ---- */
void F(linear_forward)(R *out, const R *in, const R *w, const R *b, int B, int in_dim, int out_dim);
/* din (B,I) = dout·w;  dw (O,I) += doutᵀ·in;  db (O) += Σ_b dout */
void F(linear_backward)(R *din, R *dw, R *db, const R *dout, const R *in, const R *w,
                        int B, int in_dim, int out_dim);

/* ---- conv2d: in (C,B,H,W), w (OC,C,K,K), b (OC) or NULL -> out (OC,B,Ho,Wo),
 *      Ho = (H + 2·pad − K)/stride + 1, zero padding; im2col + gemm, and in the float build
 *      Winograd and direct kernels where they pay (lib/cpu/conv2d.c) ---- */
void F(conv2d_forward)(R *out, const R *in, const R *w, const R *b,
                       int B, int C, int H, int W, int OC, int K, int stride, int pad);
/* din (C,B,H,W) = conv transpose of dout;  dw += dout ⋆ in;  db += Σ dout */
void F(conv2d_backward)(R *din, R *dw, R *db, const R *dout, const R *in, const R *w,
                        int B, int C, int H, int W, int OC, int K, int stride, int pad);
/* conv2d_forward with a leaky ReLU after, in one pass where it can: out = leaky_relu(w ⋆ in + b)
 * (mask NULL), or (w ⋆ in + b)·(mask > 0 ? 1 : slope), a leaky ReLU's tangent at mask
 * (OC,B,Ho,Wo); out must not alias mask */
void F(conv2d_forward_lrelu)(R *out, const R *in, const R *w, const R *b, const R *mask, R slope,
                             int B, int C, int H, int W, int OC, int K, int stride, int pad);
/* conv2d_backward whose din is taken on through a leaky ReLU whose output (or input) was mask
 * (C,B,H,W): din = (conv transpose of dout)·(mask > 0 ? 1 : slope); dw, db as conv2d_backward */
void F(conv2d_backward_lrelu)(R *din, R *dw, R *db, const R *dout, const R *in, const R *w,
                              const R *mask, R slope, int B, int C, int H, int W, int OC, int K,
                              int stride, int pad);

/* ---- pointwise (n elements; out may alias in, din may alias dout) ---- */
void F(leaky_relu_forward)(R *out, const R *in, size_t n, R slope);
/* din = dout · (x > 0 ? 1 : slope); x is the forward input or output (same sign) */
void F(leaky_relu_backward)(R *din, const R *dout, const R *x, size_t n, R slope);
void F(relu_forward)(R *out, const R *in, size_t n);
void F(relu_backward)(R *din, const R *dout, const R *x, size_t n);   /* x: input or output */
void F(tanh_forward)(R *out, const R *in, size_t n);
void F(tanh_backward)(R *din, const R *dout, const R *out, size_t n); /* out: tanh's output */

/* ---- resampling over `planes` = C·B independent H×W planes ---- */
void F(upsample2x_forward)(R *out, const R *in, int planes, int H, int W);  /* out (planes,2H,2W) nearest */
void F(upsample2x_backward)(R *din, const R *dout, int planes, int H, int W);/* din (planes,H,W) */
void F(avgpool2x2_forward)(R *out, const R *in, int planes, int H, int W);  /* out (planes,H/2,W/2), H,W even */
void F(avgpool2x2_backward)(R *din, const R *dout, int planes, int H, int W);/* din (planes,H,W) */
/* din (planes,H,W) += avgpool2x2_backward(dout): the pooled shortcut's gradient added to a block
 * input's (accumulates, as a fused "avgpool2x2_backward then vec_add") */
void F(avgpool2x2_backward_add)(R *din, const R *dout, int planes, int H, int W);

/* ---- per-sample per-channel affine modulation: x (C,B,HW), gamma, beta (B,C)
 *      out[c,b,i] = gamma[b,c]·x[c,b,i] + beta[b,c] ---- */
void F(affine_forward)(R *out, const R *x, const R *gamma, const R *beta, int C, int B, int HW);
/* dx (C,B,HW) = gamma·dout; dgamma (B,C) = Σ_i dout·x; dbeta (B,C) = Σ_i dout (all assigned) */
void F(affine_backward)(R *dx, R *dgamma, R *dbeta, const R *dout, const R *x, const R *gamma,
                        int C, int B, int HW);
/* DF-GAN's modulation and its activation in one pass: out = leaky_relu(gamma·x + beta, slope);
 * out may alias x */
void F(affine_lrelu_forward)(R *out, const R *x, const R *gamma, const R *beta, int C, int B, int HW,
                             R slope);
/* its gradient, with g = dout·(y > 0 ? 1 : slope), y the forward's output: dx = gamma·g;
 * dgamma = Σ_i g·x; dbeta = Σ_i g (all assigned; any may be NULL; dx may alias dout) */
void F(affine_lrelu_backward)(R *dx, R *dgamma, R *dbeta, const R *dout, const R *x, const R *y,
                              const R *gamma, int C, int B, int HW, R slope);

/* ---- sentence embedding spread over space: s (B,S) -> out (S,B,HW) ---- */
void F(replicate_forward)(R *out, const R *s, int B, int S, int HW);
void F(replicate_backward)(R *ds, const R *dout, int B, int S, int HW);  /* ds (B,S) = Σ_i dout */

/* ---- row concatenation: a (B,A), b (B,Bn) -> out (B,A+Bn) ---- */
void F(concat_rows_forward)(R *out, const R *a, const R *b, int B, int A, int Bn);
void F(concat_rows_backward)(R *da, R *db, const R *dout, int B, int A, int Bn);

/* ---- layout: NCHW (B,C,HW) <-> CNHW (C,B,HW) ---- */
void F(nchw_to_cnhw)(R *out, const R *in, int B, int C, int HW);
void F(cnhw_to_nchw)(R *out, const R *in, int B, int C, int HW);

/* ---- hinge losses on scores x (n): mean(relu(1 + sign·x)), sign = −1 for "real", +1 for "fake" ---- */
R F(hinge_forward)(const R *x, int n, int sign);
/* dx = scale · ∂/∂x mean(relu(1 + sign·x)) (assigned; relu'(0) = 0 as PyTorch) */
void F(hinge_backward)(R *dx, const R *x, int n, int sign, R scale);

/* ---- vectors ---- */
void F(vec_add)(R *out, const R *a, const R *b, size_t n);    /* out = a + b */
void F(vec_axpy)(R *y, R alpha, const R *x, size_t n);        /* y += alpha·x */
void F(vec_scale)(R *y, R alpha, size_t n);                   /* y *= alpha */
double F(vec_dot)(const R *a, const R *b, size_t n);          /* Σ a·b in double */

/* ---- Adam with PyTorch's semantics (torch.optim.Adam, no weight decay, no amsgrad);
 *      step is the 1-based count after this update; m, v updated in place ---- */
void F(adam_update)(R *p, R *m, R *v, const R *g, size_t n,
                    double lr, double beta1, double beta2, double eps, long step);
