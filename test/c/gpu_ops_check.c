/* gpu_ops_check.c: every CUDA op against its CPU twin (after ggml's test-backend-ops).
 *
 * For each op, forward and backward, on several shapes: random inputs, the float _cpu op and the
 * _cuda op, and the normalised error ‖gpu − cpu‖ / ‖cpu‖ of every output, printed per output and
 * required to be under 1e-5. Semantics are checked too: outputs that an op assigns start from
 * different junk on the two sides (so accumulating into them shows up); parameter gradients,
 * which ops accumulate into, start from the same nonzero values on both sides and the GPU's must
 * also equal the CPU's gradient from zero plus that start (so assigning shows up); NULL gradient
 * pointers skip work; pointwise ops run in place. Inception's forward-only ops (conv2d_rect_forward
 * on the gemm path and, where the build has cuDNN, on cuDNN; the pools; the bilinear resize) and
 * DAMSM's LSTM are compared the same way.
 *
 * Prints "SKIP: <reason>" and exits 0 where there is no usable GPU; exits 1 on any mismatch. */
#include "gpu_check.h"
#include "core/finite.h"
#include "core/ops.h"

static float *hrand_zeros(size_t n) {                        /* random, every 7th exactly 0 */
    float *h = hrand(n);
    for (size_t i = 0; i < n; i += 7) h[i] = 0.0f;
    return h;
}

/* an accumulated output: the GPU's result against the CPU's result from zero plus the start */
static void check_acc(const char *op, const char *shape, const char *what, const float *d,
                      const float *from_zero, const float *start, size_t n) {
    float *ref = halloc(n);
    for (size_t i = 0; i < n; i++) ref[i] = from_zero[i] + start[i];
    check(op, shape, what, d, ref, n);
}

static void check_scalar(const char *op, const char *shape, const char *what, double g, double c) {
    double e = fabs(g - c);
    report(op, shape, what, c != 0 ? e / fabs(c) : e);
}

/* ---- linear ---- */
static void test_linear(int B, int I, int O, int bias) {
    char sh[64];
    snprintf(sh, sizeof sh, "B%d I%d O%d %s", B, I, O, bias ? "bias" : "nobias");
    size_t nin = (size_t)B * I, nw = (size_t)O * I, nout = (size_t)B * O;
    float *in = hrand(nin), *w = hrand(nw), *b = bias ? hrand(O) : NULL, *dout = hrand(nout);
    float *in_d = dev(in, nin), *w_d = dev(w, nw), *b_d = bias ? dev(b, O) : NULL;
    float *dout_d = dev(dout, nout);

    float *out = hrand(nout), *out_d = dev(hrand(nout), nout);
    linear_forward_cpu(out, in, w, b, B, I, O);
    linear_forward_cuda(out_d, in_d, w_d, b_d, B, I, O);
    check("linear_forward", sh, "out", out_d, out, nout);

    float *dw0 = halloc(nw), *db0 = halloc(O);                  /* CPU from zero */
    linear_backward_cpu(NULL, dw0, db0, dout, in, w, B, I, O);
    float *pw = hrand(nw), *pb = hrand(O);                      /* start of dw, db */
    float *din = hrand(nin), *dw = hcopy(pw, nw), *db = hcopy(pb, O);
    linear_backward_cpu(din, dw, db, dout, in, w, B, I, O);
    float *din_d = dev(hrand(nin), nin), *dw_d = dev(pw, nw), *db_d = dev(pb, O);
    linear_backward_cuda(din_d, dw_d, db_d, dout_d, in_d, w_d, B, I, O);
    check("linear_backward", sh, "din", din_d, din, nin);
    check("linear_backward", sh, "dw", dw_d, dw, nw);
    check("linear_backward", sh, "db", db_d, db, O);
    check_acc("linear_backward", sh, "dw (+=)", dw_d, dw0, pw, nw);
    check_acc("linear_backward", sh, "db (+=)", db_d, db0, pb, O);

    float *din2_d = dev(hrand(nin), nin), *dw2_d = dev(pw, nw);  /* NULLs skip work */
    linear_backward_cuda(din2_d, NULL, NULL, dout_d, in_d, w_d, B, I, O);
    linear_backward_cuda(NULL, dw2_d, NULL, dout_d, in_d, w_d, B, I, O);
    check("linear_backward", sh, "din only", din2_d, din, nin);
    check("linear_backward", sh, "dw only", dw2_d, dw, nw);
    release();
}

/* ---- conv2d ---- */
static void test_conv(int B, int C, int H, int W, int OC, int K, int stride, int pad, int bias) {
    char sh[64];
    snprintf(sh, sizeof sh, "K%ds%dp%d B%d C%d OC%d %dx%d %s", K, stride, pad, B, C, OC, H, W,
             bias ? "bias" : "nobias");
    int Ho = (H + 2 * pad - K) / stride + 1, Wo = (W + 2 * pad - K) / stride + 1;
    size_t nin = (size_t)C * B * H * W, nw = (size_t)OC * C * K * K;
    size_t nout = (size_t)OC * B * Ho * Wo;
    float *in = hrand(nin), *w = hrand(nw), *b = bias ? hrand(OC) : NULL, *dout = hrand(nout);
    float *in_d = dev(in, nin), *w_d = dev(w, nw), *b_d = bias ? dev(b, OC) : NULL;
    float *dout_d = dev(dout, nout);

    float *out = hrand(nout), *out_d = dev(hrand(nout), nout);
    conv2d_forward_cpu(out, in, w, b, B, C, H, W, OC, K, stride, pad);
    conv2d_forward_cuda(out_d, in_d, w_d, b_d, B, C, H, W, OC, K, stride, pad);
    check("conv2d_forward", sh, "out", out_d, out, nout);

    float *dw0 = halloc(nw), *db0 = halloc(OC);
    conv2d_backward_cpu(NULL, dw0, db0, dout, in, w, B, C, H, W, OC, K, stride, pad);
    float *pw = hrand(nw), *pb = hrand(OC);
    float *din = hrand(nin), *dw = hcopy(pw, nw), *db = hcopy(pb, OC);
    conv2d_backward_cpu(din, dw, db, dout, in, w, B, C, H, W, OC, K, stride, pad);
    float *din_d = dev(hrand(nin), nin), *dw_d = dev(pw, nw), *db_d = dev(pb, OC);
    conv2d_backward_cuda(din_d, dw_d, db_d, dout_d, in_d, w_d, B, C, H, W, OC, K, stride, pad);
    check("conv2d_backward", sh, "din", din_d, din, nin);
    check("conv2d_backward", sh, "dw", dw_d, dw, nw);
    check("conv2d_backward", sh, "db", db_d, db, OC);
    check_acc("conv2d_backward", sh, "dw (+=)", dw_d, dw0, pw, nw);
    check_acc("conv2d_backward", sh, "db (+=)", db_d, db0, pb, OC);

    float *din2_d = dev(hrand(nin), nin), *dw2_d = dev(pw, nw), *db2_d = dev(pb, OC);
    conv2d_backward_cuda(din2_d, NULL, NULL, dout_d, in_d, w_d, B, C, H, W, OC, K, stride, pad);
    conv2d_backward_cuda(NULL, dw2_d, NULL, dout_d, in_d, w_d, B, C, H, W, OC, K, stride, pad);
    conv2d_backward_cuda(NULL, NULL, db2_d, dout_d, in_d, w_d, B, C, H, W, OC, K, stride, pad);
    check("conv2d_backward", sh, "din only", din2_d, din, nin);
    check("conv2d_backward", sh, "dw only", dw2_d, dw, nw);
    check("conv2d_backward", sh, "db only", db2_d, db, OC);

    /* with the leaky ReLU fused in: of the output, as the tangent at a mask, and din's */
    float *fo = hrand(nout), *fo_d = dev(hrand(nout), nout);
    conv2d_forward_lrelu_cpu(fo, in, w, b, NULL, 0.2f, B, C, H, W, OC, K, stride, pad);
    conv2d_forward_lrelu_cuda(fo_d, in_d, w_d, b_d, NULL, 0.2f, B, C, H, W, OC, K, stride, pad);
    check("conv2d_forward_lrelu", sh, "out", fo_d, fo, nout);
    conv2d_forward_lrelu_cpu(fo, in, w, b, dout, 0.2f, B, C, H, W, OC, K, stride, pad);
    conv2d_forward_lrelu_cuda(fo_d, in_d, w_d, b_d, dout_d, 0.2f, B, C, H, W, OC, K, stride, pad);
    check("conv2d_forward_lrelu", sh, "out (mask)", fo_d, fo, nout);
    float *fdin = hrand(nin), *fdw = hcopy(pw, nw), *fdin_d = dev(hrand(nin), nin), *fdw_d = dev(pw, nw);
    conv2d_backward_lrelu_cpu(fdin, fdw, NULL, dout, in, w, in, 0.2f, B, C, H, W, OC, K, stride, pad);
    conv2d_backward_lrelu_cuda(fdin_d, fdw_d, NULL, dout_d, in_d, w_d, in_d, 0.2f, B, C, H, W, OC, K, stride, pad);
    check("conv2d_backward_lrelu", sh, "din", fdin_d, fdin, nin);
    check("conv2d_backward_lrelu", sh, "dw", fdw_d, fdw, nw);
    release();
}

/* ---- pointwise: out of place and in place ---- */
enum { LEAKY, RELU, TANH };
static const char *pw_name[] = {"leaky_relu", "relu", "tanh"};

static void pw_forward(int op, int cuda, float *out, const float *in, size_t n, float slope) {
    if (op == LEAKY) (cuda ? leaky_relu_forward_cuda : leaky_relu_forward_cpu)(out, in, n, slope);
    if (op == RELU) (cuda ? relu_forward_cuda : relu_forward_cpu)(out, in, n);
    if (op == TANH) (cuda ? tanh_forward_cuda : tanh_forward_cpu)(out, in, n);
}
static void pw_backward(int op, int cuda, float *din, const float *dout, const float *x, size_t n,
                        float slope) {
    if (op == LEAKY) (cuda ? leaky_relu_backward_cuda : leaky_relu_backward_cpu)(din, dout, x, n, slope);
    if (op == RELU) (cuda ? relu_backward_cuda : relu_backward_cpu)(din, dout, x, n);
    if (op == TANH) (cuda ? tanh_backward_cuda : tanh_backward_cpu)(din, dout, x, n);
}

static void test_pointwise(int op, size_t n) {
    char sh[64], fwd[40], bwd[40];
    float slope = 0.2f;
    snprintf(sh, sizeof sh, "n%zu", n);
    snprintf(fwd, sizeof fwd, "%s_forward", pw_name[op]);
    snprintf(bwd, sizeof bwd, "%s_backward", pw_name[op]);
    float *in = hrand_zeros(n), *dout = hrand(n);
    for (size_t i = 0; i < n; i++) in[i] *= 3.0f;
    float *in_d = dev(in, n), *dout_d = dev(dout, n);

    float *out = hrand(n), *out_d = dev(hrand(n), n);
    pw_forward(op, 0, out, in, n, slope);
    pw_forward(op, 1, out_d, in_d, n, slope);
    check(fwd, sh, "out", out_d, out, n);
    float *inplace_d = dev(in, n);
    pw_forward(op, 1, inplace_d, inplace_d, n, slope);
    check(fwd, sh, "out (in place)", inplace_d, out, n);

    /* x: the forward input, or tanh's output (what each backward takes) */
    const float *x = op == TANH ? out : in;
    float *x_d = op == TANH ? out_d : in_d;
    float *din = hrand(n), *din_d = dev(hrand(n), n);
    pw_backward(op, 0, din, dout, x, n, slope);
    pw_backward(op, 1, din_d, dout_d, x_d, n, slope);
    check(bwd, sh, "din", din_d, din, n);
    float *g_d = dev(dout, n);
    pw_backward(op, 1, g_d, g_d, x_d, n, slope);
    check(bwd, sh, "din (in place)", g_d, din, n);
    if (op != TANH) {                                  /* the forward output serves as x too */
        float *din3_d = dev(hrand(n), n);
        pw_backward(op, 1, din3_d, dout_d, out_d, n, slope);
        check(bwd, sh, "din (x = out)", din3_d, din, n);
    }
    release();
}

/* ---- resampling ---- */
static void test_resample(int planes, int H, int W) {
    char sh[64];
    snprintf(sh, sizeof sh, "planes%d %dx%d", planes, H, W);
    size_t n = (size_t)planes * H * W, n2 = 4 * n;
    float *in = hrand(n), *in_d = dev(in, n);

    float *up = hrand(n2), *up_d = dev(hrand(n2), n2);
    upsample2x_forward_cpu(up, in, planes, H, W);
    upsample2x_forward_cuda(up_d, in_d, planes, H, W);
    check("upsample2x_forward", sh, "out", up_d, up, n2);
    float *dup = hrand(n2), *dup_d = dev(dup, n2);
    float *din = hrand(n), *din_d = dev(hrand(n), n);
    upsample2x_backward_cpu(din, dup, planes, H, W);
    upsample2x_backward_cuda(din_d, dup_d, planes, H, W);
    check("upsample2x_backward", sh, "din", din_d, din, n);

    if (H % 2 == 0 && W % 2 == 0) {
        size_t nq = n / 4;
        float *pool = hrand(nq), *pool_d = dev(hrand(nq), nq);
        avgpool2x2_forward_cpu(pool, in, planes, H, W);
        avgpool2x2_forward_cuda(pool_d, in_d, planes, H, W);
        check("avgpool2x2_forward", sh, "out", pool_d, pool, nq);
        float *dp = hrand(nq), *dp_d = dev(dp, nq);
        float *dpin = hrand(n), *dpin_d = dev(hrand(n), n);
        avgpool2x2_backward_cpu(dpin, dp, planes, H, W);
        avgpool2x2_backward_cuda(dpin_d, dp_d, planes, H, W);
        check("avgpool2x2_backward", sh, "din", dpin_d, dpin, n);
        float *acc = hrand(n), *acc_d = dev(acc, n);       /* accumulates onto what it holds */
        avgpool2x2_backward_add_cpu(acc, dp, planes, H, W);
        avgpool2x2_backward_add_cuda(acc_d, dp_d, planes, H, W);
        check("avgpool2x2_backward_add", sh, "din", acc_d, acc, n);
    }
    release();
}

/* ---- affine, replicate, concat, layout ---- */
static void test_affine(int C, int B, int HW) {
    char sh[64];
    snprintf(sh, sizeof sh, "C%d B%d HW%d", C, B, HW);
    size_t n = (size_t)C * B * HW, ng = (size_t)B * C;
    float *x = hrand(n), *gamma = hrand(ng), *beta = hrand(ng), *dout = hrand(n);
    float *x_d = dev(x, n), *gamma_d = dev(gamma, ng), *beta_d = dev(beta, ng);
    float *dout_d = dev(dout, n);

    float *out = hrand(n), *out_d = dev(hrand(n), n);
    affine_forward_cpu(out, x, gamma, beta, C, B, HW);
    affine_forward_cuda(out_d, x_d, gamma_d, beta_d, C, B, HW);
    check("affine_forward", sh, "out", out_d, out, n);

    float *dx = hrand(n), *dg = hrand(ng), *db = hrand(ng);           /* all assigned */
    affine_backward_cpu(dx, dg, db, dout, x, gamma, C, B, HW);
    float *dx_d = dev(hrand(n), n), *dg_d = dev(hrand(ng), ng), *db_d = dev(hrand(ng), ng);
    affine_backward_cuda(dx_d, dg_d, db_d, dout_d, x_d, gamma_d, C, B, HW);
    check("affine_backward", sh, "dx", dx_d, dx, n);
    check("affine_backward", sh, "dgamma", dg_d, dg, ng);
    check("affine_backward", sh, "dbeta", db_d, db, ng);

    float *g_d = dev(dout, n), *dg2_d = dev(hrand(ng), ng);   /* dx aliasing dout; NULL dbeta */
    affine_backward_cuda(g_d, dg2_d, NULL, g_d, x_d, gamma_d, C, B, HW);
    check("affine_backward", sh, "dx (in place)", g_d, dx, n);
    check("affine_backward", sh, "dgamma (in pl.)", dg2_d, dg, ng);
    float *db3_d = dev(hrand(ng), ng);
    affine_backward_cuda(NULL, NULL, db3_d, dout_d, x_d, gamma_d, C, B, HW);
    check("affine_backward", sh, "dbeta only", db3_d, db, ng);

    /* the fused modulation + leaky ReLU (y: its output, whose sign picks the slope) */
    float *y = hrand(n), *y_d = dev(hrand(n), n);
    affine_lrelu_forward_cpu(y, x, gamma, beta, C, B, HW, 0.2f);
    affine_lrelu_forward_cuda(y_d, x_d, gamma_d, beta_d, C, B, HW, 0.2f);
    check("affine_lrelu_forward", sh, "out", y_d, y, n);
    float *yy_d = dev(y, n);                                   /* the CPU's y on both sides */
    float *lx = hrand(n), *lg = hrand(ng), *lb = hrand(ng);
    affine_lrelu_backward_cpu(lx, lg, lb, dout, x, y, gamma, C, B, HW, 0.2f);
    float *lx_d = dev(hrand(n), n), *lg_d = dev(hrand(ng), ng), *lb_d = dev(hrand(ng), ng);
    affine_lrelu_backward_cuda(lx_d, lg_d, lb_d, dout_d, x_d, yy_d, gamma_d, C, B, HW, 0.2f);
    check("affine_lrelu_backward", sh, "dx", lx_d, lx, n);
    check("affine_lrelu_backward", sh, "dgamma", lg_d, lg, ng);
    check("affine_lrelu_backward", sh, "dbeta", lb_d, lb, ng);
    float *lg2_d = dev(dout, n);                                /* dx aliasing dout */
    affine_lrelu_backward_cuda(lg2_d, NULL, NULL, lg2_d, x_d, yy_d, gamma_d, C, B, HW, 0.2f);
    check("affine_lrelu_backward", sh, "dx (in place)", lg2_d, lx, n);
    release();
}

static void test_replicate(int B, int S, int HW) {
    char sh[64];
    snprintf(sh, sizeof sh, "B%d S%d HW%d", B, S, HW);
    size_t ns = (size_t)B * S, n = ns * HW;
    float *s = hrand(ns), *dout = hrand(n), *s_d = dev(s, ns), *dout_d = dev(dout, n);
    float *out = hrand(n), *out_d = dev(hrand(n), n);
    replicate_forward_cpu(out, s, B, S, HW);
    replicate_forward_cuda(out_d, s_d, B, S, HW);
    check("replicate_forward", sh, "out", out_d, out, n);
    float *ds = hrand(ns), *ds_d = dev(hrand(ns), ns);
    replicate_backward_cpu(ds, dout, B, S, HW);
    replicate_backward_cuda(ds_d, dout_d, B, S, HW);
    check("replicate_backward", sh, "ds", ds_d, ds, ns);
    release();
}

static void test_concat(int B, int A, int Bn) {
    char sh[64];
    snprintf(sh, sizeof sh, "B%d A%d Bn%d", B, A, Bn);
    size_t na = (size_t)B * A, nb = (size_t)B * Bn, n = na + nb;
    float *a = hrand(na), *b = hrand(nb), *dout = hrand(n);
    float *a_d = dev(a, na), *b_d = dev(b, nb), *dout_d = dev(dout, n);
    float *out = hrand(n), *out_d = dev(hrand(n), n);
    concat_rows_forward_cpu(out, a, b, B, A, Bn);
    concat_rows_forward_cuda(out_d, a_d, b_d, B, A, Bn);
    check("concat_rows_forward", sh, "out", out_d, out, n);
    float *da = hrand(na), *db = hrand(nb), *da_d = dev(hrand(na), na), *db_d = dev(hrand(nb), nb);
    concat_rows_backward_cpu(da, db, dout, B, A, Bn);
    concat_rows_backward_cuda(da_d, db_d, dout_d, B, A, Bn);
    check("concat_rows_backward", sh, "da", da_d, da, na);
    check("concat_rows_backward", sh, "db", db_d, db, nb);
    float *db2_d = dev(hrand(nb), nb);
    concat_rows_backward_cuda(NULL, db2_d, dout_d, B, A, Bn);
    check("concat_rows_backward", sh, "db only", db2_d, db, nb);
    release();
}

static void test_layout(int B, int C, int HW) {
    char sh[64];
    snprintf(sh, sizeof sh, "B%d C%d HW%d", B, C, HW);
    size_t n = (size_t)B * C * HW;
    float *in = hrand(n), *in_d = dev(in, n);
    float *t = hrand(n), *t_d = dev(hrand(n), n);
    nchw_to_cnhw_cpu(t, in, B, C, HW);
    nchw_to_cnhw_cuda(t_d, in_d, B, C, HW);
    check("nchw_to_cnhw", sh, "out", t_d, t, n);
    float *u = hrand(n), *u_d = dev(hrand(n), n);
    cnhw_to_nchw_cpu(u, in, B, C, HW);
    cnhw_to_nchw_cuda(u_d, in_d, B, C, HW);
    check("cnhw_to_nchw", sh, "out", u_d, u, n);
    float *back_d = dev(hrand(n), n);                       /* the round trip is the identity */
    cnhw_to_nchw_cuda(back_d, t_d, B, C, HW);
    check("cnhw_to_nchw", sh, "round trip", back_d, in, n);
    release();
}

/* ---- losses ---- */
static void test_hinge(int n, int sign, float scale) {
    char sh[64];
    snprintf(sh, sizeof sh, "n%d sign%+d scale%g", n, sign, scale);
    float *x = hrand(n);
    for (int i = 0; i < n; i++) x[i] *= 2.0f;
    for (int i = 0; i < n; i += 5) x[i] = (float)sign * -1.0f;   /* 1 + sign·x = 0 exactly */
    float *x_d = dev(x, n);
    check_scalar("hinge_forward", sh, "loss", hinge_forward_cuda(x_d, n, sign),
                 hinge_forward_cpu(x, n, sign));
    float *dx = hrand(n), *dx_d = dev(hrand(n), n);
    hinge_backward_cpu(dx, x, n, sign, scale);
    hinge_backward_cuda(dx_d, x_d, n, sign, scale);
    check("hinge_backward", sh, "dx", dx_d, dx, n);
    release();
}

/* ---- vectors and Adam ---- */
static void test_vec(size_t n) {
    char sh[64];
    snprintf(sh, sizeof sh, "n%zu", n);
    float *a = hrand(n), *b = hrand(n), *a_d = dev(a, n), *b_d = dev(b, n);
    float *out = hrand(n), *out_d = dev(hrand(n), n);
    vec_add_cpu(out, a, b, n);
    vec_add_cuda(out_d, a_d, b_d, n);
    check("vec_add", sh, "out", out_d, out, n);
    float *y = hcopy(b, n), *y_d = dev(b, n);
    vec_axpy_cpu(y, -0.75f, a, n);
    vec_axpy_cuda(y_d, -0.75f, a_d, n);
    check("vec_axpy", sh, "y", y_d, y, n);
    vec_scale_cpu(y, 1.5f, n);
    vec_scale_cuda(y_d, 1.5f, n);
    check("vec_scale", sh, "y", y_d, y, n);
    check_scalar("vec_dot", sh, "dot", vec_dot_cuda(a_d, b_d, n), vec_dot_cpu(a, b, n));
    release();
}

/* vec_first_nonfinite: the same index exactly, for finite buffers (−1) and for NaN, +Inf, −Inf
 * planted at `at` (and a later one that must not win) */
static void test_first_nonfinite(size_t n, long at, float bad) {
    char sh[64];
    snprintf(sh, sizeof sh, "n%zu at %ld %s", n, at, at < 0 ? "none" : nonfinite_name(bad));
    float *x = hrand_scaled(n, 3e38f);                               /* near float's largest, finite */
    if (at >= 0) x[at] = bad;
    if (at >= 0 && (size_t)at + 5 < n) x[n - 1] = bad;
    float *x_d = dev(x, n);
    int64_t g = vec_first_nonfinite_cuda(x_d, n), c = vec_first_nonfinite_cpu(x, n);
    report("vec_first_nonfinite", sh, "index", g == c && c == at ? 0.0 : 1.0);
    release();
}

/* p starts at 0, so p is the sum of the steps and its error is the steps' error */
static void test_adam(size_t n, int steps) {
    char sh[64];
    snprintf(sh, sizeof sh, "n%zu", n);
    double lr = 1e-4, b1 = 0.0, b2 = 0.9, eps = 1e-8;             /* DF-GAN's betas */
    if (n % 2) lr = 1e-3, b1 = 0.9, b2 = 0.999;                 /* PyTorch's defaults */
    float *p = halloc(n), *m = halloc(n), *v = halloc(n);
    float *p_d = dev(p, n), *m_d = dev(m, n), *v_d = dev(v, n);
    for (int t = 1; t <= steps; t++) {
        float *g = hrand(n), *g_d = dev(g, n);
        if (t == steps)
            for (size_t i = 0; i < n; i += 3) g[i] *= 1e-6f;     /* small g: eps matters */
        cuda_upload(g_d, g, n * sizeof(float));
        adam_update_cpu(p, m, v, g, n, lr, b1, b2, eps, t);
        adam_update_cuda(p_d, m_d, v_d, g_d, n, lr, b1, b2, eps, t);
    }
    char what[32];
    snprintf(what, sizeof what, "p after %d", steps);
    check("adam_update", sh, what, p_d, p, n);
    snprintf(what, sizeof what, "m after %d", steps);
    check("adam_update", sh, what, m_d, m, n);
    snprintf(what, sizeof what, "v after %d", steps);
    check("adam_update", sh, what, v_d, v, n);
    release();
}

/* ======== Inception-v3's ops (forward only) ======== */

/* ---- conv2d_rect_forward: w ⋆ in (+ b) (ReLU), with any kernel, strides and paddings ---- */
static void test_conv_rect(int B, int C, int H, int W, int OC, int KH, int KW, int sh, int sw, int ph, int pw,
                           int bias, int relu, const char *path) {
    char sh_[96];
    snprintf(sh_, sizeof sh_, "%dx%d s%d,%d p%d,%d B%d C%d OC%d %dx%d%s%s %s", KH, KW, sh, sw, ph, pw, B, C, OC, H, W,
             bias ? " b" : "", relu ? " relu" : "", path);
    const int Ho = (H + 2 * ph - KH) / sh + 1, Wo = (W + 2 * pw - KW) / sw + 1;
    const size_t nin = (size_t)C * B * H * W, nw = (size_t)OC * C * KH * KW, nout = (size_t)OC * B * Ho * Wo;
    float *in = hrand(nin), *w = hrand(nw), *b = bias ? hrand(OC) : NULL;
    float *in_d = dev(in, nin), *w_d = dev(w, nw), *b_d = bias ? dev(b, OC) : NULL;
    float *out = hrand(nout), *out_d = dev(hrand(nout), nout);
    conv2d_rect_forward_cpu(out, in, w, b, B, C, H, W, OC, KH, KW, sh, sw, ph, pw, relu);
    conv2d_rect_forward_cuda(out_d, in_d, w_d, b_d, B, C, H, W, OC, KH, KW, sh, sw, ph, pw, relu);
    check("conv2d_rect_forward", sh_, "out", out_d, out, nout);
    release();
}

/* the shapes, on the path `path` names (gemm, or cudnn where the build has it) */
static void conv_rect_shapes(const char *path) {
    /* B, C, H, W, OC, KH, KW, sh, sw, ph, pw, bias, relu */
    test_conv_rect(2, 5, 6, 7, 4, 1, 1, 1, 1, 0, 0, 1, 1, path);     /* 1x1: one gemm on in itself */
    test_conv_rect(3, 8, 5, 5, 6, 1, 1, 1, 1, 0, 0, 0, 0, path);     /* bare, as a block's 1x1 group */
    test_conv_rect(2, 3, 11, 11, 4, 3, 3, 2, 2, 0, 0, 1, 1, path);   /* Conv2d_1a: 3x3 stride 2 */
    test_conv_rect(2, 4, 9, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, path);     /* 3x3 padded */
    test_conv_rect(3, 4, 7, 9, 3, 1, 7, 1, 1, 0, 3, 1, 1, path);     /* 1x7 */
    test_conv_rect(2, 3, 9, 6, 4, 7, 1, 1, 1, 3, 0, 1, 0, path);     /* 7x1, no ReLU */
    test_conv_rect(2, 3, 8, 8, 5, 5, 5, 1, 1, 2, 2, 0, 1, path);     /* 5x5, no bias */
    test_conv_rect(1, 6, 5, 5, 4, 1, 3, 1, 1, 0, 1, 1, 1, path);     /* Mixed_7's 1x3 */
    test_conv_rect(2, 3, 9, 7, 2, 2, 3, 2, 1, 1, 0, 1, 1, path);     /* uneven strides and paddings */
    test_conv_rect(2, 32, 17, 17, 48, 3, 3, 1, 1, 1, 1, 1, 1, path);
}

static void test_bias_relu(int rows, size_t N) {
    char sh[64];
    snprintf(sh, sizeof sh, "rows%d N%zu", rows, N);
    const size_t n = (size_t)rows * N;
    float *in = hrand_zeros(n), *b = hrand_scaled(rows, 0.5f), *in_d = dev(in, n), *b_d = dev(b, rows);
    float *out = hrand(n), *out_d = dev(hrand(n), n);
    bias_relu_forward_cpu(out, in, b, rows, N);
    bias_relu_forward_cuda(out_d, in_d, b_d, rows, N);
    check("bias_relu_forward", sh, "out", out_d, out, n);
    bias_relu_forward_cuda(in_d, in_d, b_d, rows, N);
    check("bias_relu_forward", sh, "out (in place)", in_d, out, n);
    release();
}

/* ---- pooling ---- */
/* a NaN in the input: wherever the CPU's output is NaN the GPU's must be, and the rest equal */
static void check_nan(const char *op, const char *shape, const float *d, const float *h, size_t n) {
    float *g = halloc(n);
    cuda_download(g, d, n * sizeof(float));
    size_t bad = 0, nans = 0;
    for (size_t i = 0; i < n; i++) {
        nans += h[i] != h[i];
        bad += (h[i] != h[i]) != (g[i] != g[i]) || (h[i] == h[i] && g[i] != h[i]);
    }
    report(op, shape, nans ? "NaN wins" : "NaN wins (none!)", nans ? (double)bad : 1.0);
}

static void test_maxpool3(size_t planes, int H, int W, int s, int p) {
    char sh[64];
    snprintf(sh, sizeof sh, "planes%zu %dx%d s%d p%d", planes, H, W, s, p);
    const int Ho = (H + 2 * p - 3) / s + 1, Wo = (W + 2 * p - 3) / s + 1;
    const size_t n = planes * H * W, no = planes * Ho * Wo;
    float *in = hrand(n);
    for (size_t i = 0; i < n; i += 5) in[i] = -2.0f - in[i];     /* negatives: padding must not win */
    float *in_d = dev(in, n), *out = hrand(no), *out_d = dev(hrand(no), no);
    maxpool3_forward_cpu(out, in, planes, H, W, s, p);
    maxpool3_forward_cuda(out_d, in_d, planes, H, W, s, p);
    check("maxpool3_forward", sh, "out", out_d, out, no);
    in[n / 2] = NAN;
    cuda_upload(in_d, in, n * sizeof(float));
    maxpool3_forward_cpu(out, in, planes, H, W, s, p);
    maxpool3_forward_cuda(out_d, in_d, planes, H, W, s, p);
    check_nan("maxpool3_forward", sh, out_d, out, no);
    release();
}

static void test_avgpool3(int C, int B, int H, int W, int cip, int bias, int relu) {
    char sh[64];
    snprintf(sh, sizeof sh, "C%d B%d %dx%d cip%d%s%s", C, B, H, W, cip, bias ? " b" : "", relu ? " relu" : "");
    const size_t n = (size_t)C * B * H * W;
    float *in = hrand(n), *b = bias ? hrand_scaled(C, 0.3f) : NULL;
    float *in_d = dev(in, n), *b_d = bias ? dev(b, C) : NULL, *out = hrand(n), *out_d = dev(hrand(n), n);
    avgpool3_bias_relu_forward_cpu(out, in, C, B, H, W, cip, b, relu);
    avgpool3_bias_relu_forward_cuda(out_d, in_d, C, B, H, W, cip, b_d, relu);
    check("avgpool3_bias_relu_forward", sh, "out", out_d, out, n);
    release();
}

static void test_meanpool(size_t planes, int HW) {
    char sh[64];
    snprintf(sh, sizeof sh, "planes%zu HW%d", planes, HW);
    const size_t n = planes * HW;
    float *in = hrand(n), *in_d = dev(in, n), *out = hrand(planes), *out_d = dev(hrand(planes), planes);
    for (size_t i = 0; i < n; i++) in[i] += 0.25f;               /* means away from 0 */
    cuda_upload(in_d, in, n * sizeof(float));
    meanpool_forward_cpu(out, in, planes, HW);
    meanpool_forward_cuda(out_d, in_d, planes, HW);
    check("meanpool_forward", sh, "out", out_d, out, planes);
    release();
}

static void test_resize_bilinear2d(size_t planes, int H, int W, int Ho, int Wo, int ac) {
    char sh[64];
    snprintf(sh, sizeof sh, "planes%zu %dx%d->%dx%d ac%d", planes, H, W, Ho, Wo, ac);
    const size_t n = planes * H * W, no = planes * Ho * Wo;
    float *in = hrand(n), *in_d = dev(in, n), *out = hrand(no), *out_d = dev(hrand(no), no);
    resize_bilinear2d_forward_cpu(out, in, planes, H, W, Ho, Wo, ac);
    resize_bilinear2d_forward_cuda(out_d, in_d, planes, H, W, Ho, Wo, ac);
    check("resize_bilinear2d_forward", sh, "out", out_d, out, no);
    release();
}

/* ======== DAMSM's LSTM ======== */

/* B captions of lengths in [1, L] (the first `same` of length L), ids in [1, V), projections
 * (V, D·4H) and recurrent weights (4H,H) of a magnitude where the gates saturate only partly */
static void test_lstm(int B, int L, int H, int V, int D, int same, int with_words) {
    char sh[64];
    snprintf(sh, sizeof sh, "B%d L%d H%d V%d D%d%s", B, L, H, V, D, with_words ? " words" : "");
    const int G = 4 * H;
    int *lens = xmalloc((size_t)B * sizeof *lens);
    int32_t *ids = xcalloc((size_t)B * L, sizeof *ids);
    for (int b = 0; b < B; b++) {
        lens[b] = b < same ? L : 1 + (int)((frand() + 1.0f) * 0.5f * L) % L;
        for (int t = 0; t < lens[b]; t++) ids[(size_t)b * L + t] = 1 + (int)((frand() + 1.0f) * 0.5f * (V - 1)) % (V - 1);
    }
    const size_t np = (size_t)V * D * G, nw = (size_t)G * H, ns = (size_t)B * D * H, nwd = ns * L;
    float *proj = hrand(np), *wf = hrand_scaled(nw, 1.5f / sqrtf((float)H)), *wb = hrand_scaled(nw, 1.5f / sqrtf((float)H));
    float *proj_d = dev(proj, np), *wf_d = dev(wf, nw), *wb_d = D == 2 ? dev(wb, nw) : NULL;
    int32_t *ids_d = cuda_alloc((size_t)B * L * sizeof *ids);
    cuda_upload(ids_d, ids, (size_t)B * L * sizeof *ids);
    float *sent = hrand(ns), *words = with_words ? hrand(nwd) : NULL;
    float *sent_d = dev(hrand(ns), ns), *words_d = with_words ? dev(hrand(nwd), nwd) : NULL;
    lstm_forward_cpu(sent, words, proj, ids, lens, wf, D == 2 ? wb : NULL, B, L, H);
    lstm_forward_cuda(sent_d, words_d, proj_d, ids_d, lens, wf_d, wb_d, B, L, H);
    check("lstm_forward", sh, "sent", sent_d, sent, ns);
    if (with_words) check("lstm_forward", sh, "words", words_d, words, nwd);
    cuda_free(ids_d);
    free(ids);
    free(lens);
    release();
}

int main(int argc, char **argv) {
    if (!gpu_check_start(argc, argv, "gpu_ops_check", "the CUDA ops")) return EXIT_OK;
    rng_state = 0x5eed1234abcdULL;

    test_linear(1, 1, 1, 1);
    test_linear(4, 33, 17, 1);
    test_linear(5, 64, 10, 0);
    test_linear(16, 356, 100, 1);

    /* B, C, H, W, OC, K, stride, pad, bias */
    test_conv(2, 3, 6, 6, 5, 1, 1, 0, 1);          /* 1×1: col is the input itself */
    test_conv(3, 8, 5, 7, 4, 1, 1, 0, 0);
    test_conv(2, 3, 4, 4, 2, 1, 1, 1, 1);          /* 1×1 padded: through im2col */
    test_conv(2, 3, 8, 8, 5, 3, 1, 1, 1);          /* DF-GAN's 3×3 */
    test_conv(1, 4, 7, 5, 4, 3, 1, 1, 0);
    test_conv(4, 32, 16, 16, 64, 3, 1, 1, 1);
    test_conv(2, 3, 8, 8, 6, 4, 2, 1, 1);          /* D's 4×4 stride-2 downsampling */
    test_conv(3, 5, 9, 7, 2, 4, 2, 1, 0);
    test_conv(2, 3, 6, 6, 4, 4, 1, 0, 1);          /* NetC's 4×4 unpadded */
    test_conv(2, 2, 4, 4, 3, 4, 1, 0, 0);          /* down to 1×1 */
    test_conv(2, 3, 7, 7, 4, 3, 2, 1, 1);
    test_conv(1, 2, 9, 9, 3, 5, 3, 2, 0);
    size_t limit = conv2d_col_limit_cuda;            /* the batch in chunks of samples */
    conv2d_col_limit_cuda = 2 * 27 * 64 * sizeof(float);   /* two samples' col of the next */
    test_conv(5, 3, 8, 8, 4, 3, 1, 1, 1);
    conv2d_col_limit_cuda = 1;                              /* one sample at a time */
    test_conv(3, 3, 8, 8, 6, 4, 2, 1, 0);
    conv2d_col_limit_cuda = limit;

    for (int op = LEAKY; op <= TANH; op++) {
        test_pointwise(op, 1);
        test_pointwise(op, 1000);
        test_pointwise(op, 100003);
    }

    test_resample(1, 1, 1);
    test_resample(6, 4, 4);
    test_resample(3, 5, 3);
    test_resample(10, 8, 6);

    test_affine(2, 1, 1);
    test_affine(4, 3, 16);
    test_affine(7, 2, 300);
    test_affine(3, 5, 4096);

    test_replicate(1, 1, 1);
    test_replicate(3, 5, 16);
    test_replicate(2, 256, 300);

    test_concat(1, 1, 1);
    test_concat(4, 3, 5);
    test_concat(3, 100, 256);

    test_layout(1, 1, 1);
    test_layout(3, 4, 5);
    test_layout(2, 16, 64);

    test_hinge(1, -1, 1.0f);
    test_hinge(7, 1, 1.0f);
    test_hinge(64, -1, 0.5f);
    test_hinge(64, 1, 2.0f);

    test_vec(1);
    test_vec(1000);
    test_vec(1000003);

    test_first_nonfinite(1, -1, 0.0f);
    test_first_nonfinite(1, 0, NAN);
    test_first_nonfinite(1000, -1, 0.0f);
    test_first_nonfinite(1000, 0, INFINITY);
    test_first_nonfinite(1000, 517, -INFINITY);
    test_first_nonfinite(1000003, -1, 0.0f);
    test_first_nonfinite(1000003, 999000, NAN);
    test_first_nonfinite(1000003, 1000002, INFINITY);

    test_adam(1, 3);
    test_adam(1000, 1);
    test_adam(4097, 5);

    conv_rect_shapes("gemm");
    if (cudnn_compiled()) {                         /* the cuDNN path too, forced, where it exists */
        conv_rect_cudnn_cuda = 1;
        conv_rect_shapes("cudnn");
        conv_rect_cudnn_cuda = -1;
    }
    limit = conv2d_col_limit_cuda;                  /* the batch in chunks of samples */
    conv2d_col_limit_cuda = 1;
    conv_rect_cudnn_cuda = 0;
    test_conv_rect(3, 4, 9, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, "gemm chunks");
    test_conv_rect(3, 3, 9, 6, 4, 7, 1, 2, 1, 3, 0, 1, 0, "gemm chunks");
    conv2d_col_limit_cuda = limit;
    conv_rect_cudnn_cuda = -1;
    test_bias_relu(1, 1);
    test_bias_relu(7, 300);
    test_bias_relu(64, 4099);

    test_maxpool3(1, 3, 3, 2, 0);
    test_maxpool3(6, 9, 7, 2, 0);                   /* Inception's reductions */
    test_maxpool3(5, 8, 8, 1, 1);                   /* Mixed_7c's FID pool branch */
    test_maxpool3(64, 17, 17, 2, 0);
    test_maxpool3(3, 4, 5, 1, 0);
    test_avgpool3(2, 3, 5, 6, 1, 1, 1);
    test_avgpool3(2, 3, 5, 6, 0, 1, 1);
    test_avgpool3(3, 2, 1, 7, 0, 0, 0);             /* one row */
    test_avgpool3(3, 2, 6, 1, 1, 1, 0);             /* one column */
    test_avgpool3(1, 1, 1, 1, 0, 1, 1);
    test_avgpool3(32, 4, 17, 17, 0, 1, 1);
    test_meanpool(1, 1);
    test_meanpool(10, 64);                          /* Mixed_7c's 8x8 planes */
    test_meanpool(7, 1000);
    test_meanpool(4096, 64);
    test_resize_bilinear2d(3, 64, 64, 299, 299, 0); /* FID's input transform */
    test_resize_bilinear2d(2, 40, 52, 29, 17, 0);   /* downsampling */
    test_resize_bilinear2d(3, 299, 299, 299, 299, 1);
    test_resize_bilinear2d(2, 7, 5, 13, 11, 1);
    test_resize_bilinear2d(1, 1, 1, 5, 3, 0);
    test_resize_bilinear2d(2, 6, 6, 1, 1, 1);

    /* B, L, H, V, D, same, words */
    test_lstm(1, 1, 4, 3, 2, 1, 1);
    test_lstm(5, 7, 8, 20, 2, 2, 1);
    test_lstm(9, 12, 16, 50, 1, 3, 1);              /* one direction */
    test_lstm(40, 18, 32, 300, 2, 10, 0);           /* DAMSM's word limit, sentences only */
    test_lstm(130, 6, 8, 40, 2, 0, 1);

    cuda_sync();
    return gpu_check_end();
}
