/* gpu_clip_check.c: CLIP's CUDA ops (lib/core/op_list.h, kernels/{layernorm,quickgelu,attention,
 * interp,preprocess}.cu) against their CPU twins, as gpu_ops_check.c does for the DF-GAN ops.
 *
 * Each op forward and backward on several shapes from random inputs; per output the normalised
 * error ‖gpu − cpu‖ / ‖cpu‖, required under 1e-5. Assigned outputs start from different junk on
 * the two sides; LayerNorm's dw, db (accumulated) start from the same values and must also equal
 * the CPU's gradient from zero plus that start; NULL gradients skip work; ops documented to run in
 * place are run in place.
 *
 * Prints "SKIP: <reason>" and exits 0 where there is no usable GPU; exits 1 on any mismatch. */
#include "gpu_check.h"
#include "core/ops.h"

static float *djunk(size_t n) { return dev(hrand_scaled(n, 7), n); }   /* assigned outputs start here */

/* ---- LayerNorm ---- */
static void test_layernorm(int N, int C) {
    char sh[64];
    snprintf(sh, sizeof sh, "N%d C%d", N, C);
    const size_t n = (size_t)N * C;
    float *in = hrand_scaled(n, 3), *w = hrand_scaled(C, 1), *b = hrand_scaled(C, 1), *dout = hrand_scaled(n, 1);
    for (size_t i = 0; i < n; i++) in[i] += 0.5f;   /* a nonzero mean */
    float *in_d = dev(in, n), *w_d = dev(w, C), *b_d = dev(b, C), *dout_d = dev(dout, n);
    float *out = halloc(n), *mean = halloc(N), *rstd = halloc(N);
    layernorm_forward_cpu(out, mean, rstd, in, w, b, N, C, 1e-5);
    float *out_d = djunk(n), *mean_d = djunk(N), *rstd_d = djunk(N);
    layernorm_forward_cuda(out_d, mean_d, rstd_d, in_d, w_d, b_d, N, C, 1e-5);
    check("layernorm_forward", sh, "out", out_d, out, n);
    check("layernorm_forward", sh, "mean", mean_d, mean, N);
    check("layernorm_forward", sh, "rstd", rstd_d, rstd, N);
    float *inp_d = dev(in, n);   /* in place, no statistics */
    layernorm_forward_cuda(inp_d, NULL, NULL, inp_d, w_d, b_d, N, C, 1e-5);
    check("layernorm_forward", sh, "in place", inp_d, out, n);

    float *dw0 = halloc(C), *db0 = halloc(C);
    layernorm_backward_cpu(NULL, dw0, db0, dout, in, mean, rstd, w, N, C);
    float *pw = hrand_scaled(C, 1), *pb = hrand_scaled(C, 1), *din = halloc(n), *dw = halloc(C), *db = halloc(C);
    memcpy(dw, pw, C * sizeof(float));
    memcpy(db, pb, C * sizeof(float));
    layernorm_backward_cpu(din, dw, db, dout, in, mean, rstd, w, N, C);
    float *mean_c = dev(mean, N), *rstd_c = dev(rstd, N);
    float *din_d = djunk(n), *dw_d = dev(pw, C), *db_d = dev(pb, C);
    layernorm_backward_cuda(din_d, dw_d, db_d, dout_d, in_d, mean_c, rstd_c, w_d, N, C);
    check("layernorm_backward", sh, "din", din_d, din, n);
    check("layernorm_backward", sh, "dw", dw_d, dw, C);
    check("layernorm_backward", sh, "db", db_d, db, C);
    float *acc = halloc(C);
    for (int c = 0; c < C; c++) acc[c] = dw0[c] + pw[c];
    check("layernorm_backward", sh, "dw (+=)", dw_d, acc, C);
    float *din2_d = djunk(n);
    layernorm_backward_cuda(din2_d, NULL, NULL, dout_d, in_d, mean_c, rstd_c, w_d, N, C);
    check("layernorm_backward", sh, "din only", din2_d, din, n);
    float *db2_d = dev(pb, C);
    layernorm_backward_cuda(NULL, NULL, db2_d, dout_d, in_d, mean_c, rstd_c, w_d, N, C);
    check("layernorm_backward", sh, "db only", db2_d, db, C);
    release();
}

/* ---- QuickGELU ---- */
static void test_quickgelu(size_t n) {
    char sh[64];
    snprintf(sh, sizeof sh, "n%zu", n);
    float *in = hrand_scaled(n, 4), *dout = hrand_scaled(n, 1), *out = halloc(n), *din = halloc(n);
    quickgelu_forward_cpu(out, in, n);
    quickgelu_backward_cpu(din, dout, in, n);
    float *in_d = dev(in, n), *out_d = djunk(n);
    quickgelu_forward_cuda(out_d, in_d, n);
    check("quickgelu_forward", sh, "out", out_d, out, n);
    float *g_d = dev(dout, n);   /* din aliasing dout */
    quickgelu_backward_cuda(g_d, g_d, in_d, n);
    check("quickgelu_backward", sh, "din in place", g_d, din, n);
    release();
}

/* ---- attention over packed sequences of lengths len[0..B) ---- */
static void test_attention(int B, const int *len, int C, int nh, int causal) {
    char sh[80];
    int k = snprintf(sh, sizeof sh, "%s C%d nh%d T", causal ? "causal" : "full", C, nh);
    int *off = xmalloc((size_t)(B + 1) * sizeof *off);
    off[0] = 0;
    size_t na = 0;
    for (int b = 0; b < B; b++) {
        off[b + 1] = off[b] + len[b];
        na += (size_t)nh * len[b] * len[b];
        if (b < 6 && k < (int)sizeof sh - 8) k += snprintf(sh + k, sizeof sh - k, "%s%d", b ? "," : "", len[b]);
    }
    if (B > 6 && k < (int)sizeof sh - 8) snprintf(sh + k, sizeof sh - k, ".. B%d", B);
    const int N = off[B];
    const size_t nq = (size_t)N * 3 * C, no = (size_t)N * C;
    float *qkv = hrand_scaled(nq, 2), *dout = hrand_scaled(no, 1), *out = halloc(no), *att = halloc(na), *dqkv = halloc(nq);
    attention_forward_cpu(out, att, qkv, off, B, C, nh, causal);
    attention_backward_cpu(dqkv, dout, qkv, att, off, B, C, nh);
    float *qkv_d = dev(qkv, nq), *out_d = djunk(no), *att_d = djunk(na);
    attention_forward_cuda(out_d, att_d, qkv_d, off, B, C, nh, causal);
    check("attention_forward", sh, "out", out_d, out, no);
    check("attention_forward", sh, "att", att_d, att, na);
    float *out2_d = djunk(no);
    attention_forward_cuda(out2_d, NULL, qkv_d, off, B, C, nh, causal);
    check("attention_forward", sh, "out (no att)", out2_d, out, no);
    float *dqkv_d = djunk(nq);
    attention_backward_cuda(dqkv_d, dev(dout, no), qkv_d, dev(att, na), off, B, C, nh);
    check("attention_backward", sh, "dqkv", dqkv_d, dqkv, nq);
    free(off);
    release();
}

/* ---- the class-token attention ---- */
static void test_cls_attention(int B, int T, int C, int nh) {
    char sh[64];
    snprintf(sh, sizeof sh, "B%d T%d C%d nh%d", B, T, C, nh);
    const size_t nq = (size_t)B * C, nkv = (size_t)B * T * 2 * C, na = (size_t)B * nh * T;
    float *q = hrand_scaled(nq, 2), *kv = hrand_scaled(nkv, 2), *dout = hrand_scaled(nq, 1);
    float *out = halloc(nq), *att = halloc(na), *dq = halloc(nq), *dkv = halloc(nkv);
    cls_attention_forward_cpu(out, att, q, kv, B, T, C, nh);
    cls_attention_backward_cpu(dq, dkv, dout, q, kv, att, B, T, C, nh);
    float *q_d = dev(q, nq), *kv_d = dev(kv, nkv), *out_d = djunk(nq), *att_d = djunk(na);
    cls_attention_forward_cuda(out_d, att_d, q_d, kv_d, B, T, C, nh);
    check("cls_attention_forward", sh, "out", out_d, out, nq);
    check("cls_attention_forward", sh, "att", att_d, att, na);
    float *out2_d = djunk(nq);
    cls_attention_forward_cuda(out2_d, NULL, q_d, kv_d, B, T, C, nh);
    check("cls_attention_forward", sh, "out (no att)", out2_d, out, nq);
    float *dq_d = djunk(nq), *dkv_d = djunk(nkv);
    cls_attention_backward_cuda(dq_d, dkv_d, dev(dout, nq), q_d, kv_d, dev(att, na), B, T, C, nh);
    check("cls_attention_backward", sh, "dq", dq_d, dq, nq);
    check("cls_attention_backward", sh, "dkv", dkv_d, dkv, nkv);
    release();
}

/* ---- resizing ---- */
static void test_resize(int planes, int H, int W, int Ho, int Wo, int mode) {
    static const char *names[] = {"nearest", "bilinear", "bicubic"};
    char sh[64];
    snprintf(sh, sizeof sh, "%s p%d %dx%d->%dx%d", names[mode], planes, H, W, Ho, Wo);
    const size_t ni = (size_t)planes * H * W, no = (size_t)planes * Ho * Wo;
    float *in = hrand_scaled(ni, 1), *dout = hrand_scaled(no, 1), *out = halloc(no), *din = halloc(ni);
    resize_forward_cpu(out, in, planes, H, W, Ho, Wo, mode);
    resize_backward_cpu(din, dout, planes, H, W, Ho, Wo, mode);
    float *out_d = djunk(no), *din_d = djunk(ni);
    resize_forward_cuda(out_d, dev(in, ni), planes, H, W, Ho, Wo, mode);
    resize_backward_cuda(din_d, dev(dout, no), planes, H, W, Ho, Wo, mode);
    check("resize_forward", sh, "out", out_d, out, no);
    check("resize_backward", sh, "din", din_d, din, ni);
    release();
}

/* ---- preprocessing ---- */
static void test_preprocess(int B, int S, int P) {
    char sh[64];
    snprintf(sh, sizeof sh, "B%d S%d P%d", B, S, P);
    const int g = S / P;
    const size_t n = (size_t)B * 3 * S * S, HW = (size_t)S * S;
    float *x = hrand_scaled(n, 1), *y = halloc(n), *z = halloc(n), *dn = halloc(n);
    scale_shift_cpu(y, x, n, 0.5f, 0.5f);
    clip_normalize_forward_cpu(z, y, B, HW);
    clip_normalize_backward_cpu(dn, x, B, HW);
    float *x_d = dev(x, n), *y_d = djunk(n);
    scale_shift_cuda(y_d, x_d, n, 0.5f, 0.5f);
    check("scale_shift", sh, "out", y_d, y, n);
    clip_normalize_forward_cuda(y_d, y_d, B, HW);
    check("clip_normalize_forward", sh, "in place", y_d, z, n);
    float *dn_d = dev(x, n);
    clip_normalize_backward_cuda(dn_d, dn_d, B, HW);
    check("clip_normalize_backward", sh, "in place", dn_d, dn, n);
    const size_t np = (size_t)B * g * g * 3 * P * P;
    float *pt = halloc(np), *back = halloc(n);
    patchify_forward_cpu(pt, x, B, 3, S, P);
    patchify_backward_cpu(back, pt, B, 3, S, P);
    float *pt_d = djunk(np), *back_d = djunk(n);
    patchify_forward_cuda(pt_d, x_d, B, 3, S, P);
    check("patchify_forward", sh, "out", pt_d, pt, np);
    patchify_backward_cuda(back_d, pt_d, B, 3, S, P);
    check("patchify_backward", sh, "din", back_d, back, n);
    release();
}

int main(int argc, char **argv) {
    if (!gpu_check_start(argc, argv, "gpu_clip_check", "CLIP's CUDA ops")) return EXIT_OK;
    rng_state = 0xc11bf00dULL;
    test_layernorm(1, 1);
    test_layernorm(5, 64);
    test_layernorm(50, 768);
    test_layernorm(3, 1000);
    test_quickgelu(1);
    test_quickgelu(100003);

    const int one[] = {7}, mixed[] = {5, 5, 9, 1, 12, 12, 12}, same[] = {17, 17, 17, 17, 17, 17, 17, 17, 17, 17};
    test_attention(1, one, 16, 2, 0);
    test_attention(1, one, 16, 2, 1);
    test_attention(7, mixed, 64, 4, 1);    /* text-like: runs of different lengths */
    test_attention(7, mixed, 64, 4, 0);
    test_attention(10, same, 48, 3, 0);    /* image-like: one run of more sequences than heads */
    test_attention(10, same, 48, 3, 1);
    const int img[] = {50, 50};
    test_attention(2, img, 768, 12, 0);    /* ViT-B/32's sizes */

    test_cls_attention(1, 1, 8, 2);
    test_cls_attention(3, 17, 48, 3);
    test_cls_attention(4, 50, 768, 12);
    test_cls_attention(2, 300, 64, 1);     /* more keys than threads */

    for (int mode = 0; mode < 3; mode++) {
        test_resize(3, 64, 64, 224, 224, mode);
        test_resize(2, 300, 257, 224, 224, mode);
        test_resize(1, 1, 1, 5, 3, mode);
        test_resize(4, 7, 5, 7, 5, mode);
        test_resize(2, 9, 13, 4, 17, mode);
    }
    test_preprocess(1, 4, 2);
    test_preprocess(3, 32, 8);
    test_preprocess(2, 224, 32);

    return gpu_check_end();
}
