/* gpu_clip_check.c: CLIP's CUDA ops (lib/ops_clip_decl.h, kernels/{layernorm,quickgelu,attention,
 * interp,preprocess}.cu) against their CPU twins, as gpu_ops_check.c does for the DF-GAN ops.
 *
 * Each op forward and backward on several shapes from random inputs; per output the normalised
 * error ‖gpu − cpu‖ / ‖cpu‖, required under 1e-5. Assigned outputs start from different junk on
 * the two sides; LayerNorm's dw, db (accumulated) start from the same values and must also equal
 * the CPU's gradient from zero plus that start; NULL gradients skip work; ops documented to run in
 * place are run in place.
 *
 * Prints "SKIP: <reason>" and exits 0 where there is no usable GPU; exits 1 on any mismatch. */
#include "common.h"
#include "ops_clip.h"
#include "ops_cuda.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-5

static int checks, failures;

static uint64_t seed = 0xc11bf00dULL;
static float frand(void) {   /* uniform in [-1, 1) (splitmix64) */
    uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)((double)(z >> 40) / (double)(1ULL << 23) - 1.0);
}

/* every buffer of a case, released at its end */
#define MAXBUF 256
static void *hbuf[MAXBUF], *dbuf[MAXBUF];
static int nh_, nd_;
static float *hnew(size_t n) {
    if (nh_ == MAXBUF) die_runtime("expected at most %d host buffers per case", MAXBUF);
    return hbuf[nh_++] = xcalloc(n ? n : 1, sizeof(float));
}
static float *hrand(size_t n, float scale) {
    float *h = hnew(n);
    for (size_t i = 0; i < n; i++) h[i] = scale * frand();
    return h;
}
static float *dnew(const float *h, size_t n) {   /* a device copy of h */
    if (nd_ == MAXBUF) die_runtime("expected at most %d device buffers per case", MAXBUF);
    float *d = cuda_alloc((n ? n : 1) * sizeof(float));
    cuda_upload(d, h, n * sizeof(float));
    return dbuf[nd_++] = d;
}
static float *djunk(size_t n) { return dnew(hrand(n, 7), n); }
static void release(void) {
    while (nh_) free(hbuf[--nh_]);
    while (nd_) cuda_free(dbuf[--nd_]);
}

static void report(const char *op, const char *shape, const char *what, double err) {
    checks++;
    const int ok = err < TOL;   /* NaN fails */
    if (!ok) failures++;
    printf("%-4s %-24s %-30s %-12s err %.2e\n", ok ? "ok" : "FAIL", op, shape, what, err);
}
/* the GPU's d against the CPU's h: ‖d − h‖/‖h‖ (‖d − h‖ where h is all zero) */
static void check(const char *op, const char *shape, const char *what, const float *d, const float *h, size_t n) {
    float *g = hnew(n);
    cuda_download(g, d, n * sizeof(float));
    double e2 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = (double)g[i] - h[i];
        e2 += e * e;
        s2 += (double)h[i] * h[i];
    }
    report(op, shape, what, s2 > 0 ? sqrt(e2 / s2) : sqrt(e2));
}

/* ---- LayerNorm ---- */
static void test_layernorm(int N, int C) {
    char sh[64];
    snprintf(sh, sizeof sh, "N%d C%d", N, C);
    const size_t n = (size_t)N * C;
    float *in = hrand(n, 3), *w = hrand(C, 1), *b = hrand(C, 1), *dout = hrand(n, 1);
    for (size_t i = 0; i < n; i++) in[i] += 0.5f;   /* a nonzero mean */
    float *in_d = dnew(in, n), *w_d = dnew(w, C), *b_d = dnew(b, C), *dout_d = dnew(dout, n);
    float *out = hnew(n), *mean = hnew(N), *rstd = hnew(N);
    layernorm_forward_cpu(out, mean, rstd, in, w, b, N, C, 1e-5);
    float *out_d = djunk(n), *mean_d = djunk(N), *rstd_d = djunk(N);
    layernorm_forward_cuda(out_d, mean_d, rstd_d, in_d, w_d, b_d, N, C, 1e-5);
    check("layernorm_forward", sh, "out", out_d, out, n);
    check("layernorm_forward", sh, "mean", mean_d, mean, N);
    check("layernorm_forward", sh, "rstd", rstd_d, rstd, N);
    float *inp_d = dnew(in, n);   /* in place, no statistics */
    layernorm_forward_cuda(inp_d, NULL, NULL, inp_d, w_d, b_d, N, C, 1e-5);
    check("layernorm_forward", sh, "in place", inp_d, out, n);

    float *dw0 = hnew(C), *db0 = hnew(C);
    layernorm_backward_cpu(NULL, dw0, db0, dout, in, mean, rstd, w, N, C);
    float *pw = hrand(C, 1), *pb = hrand(C, 1), *din = hnew(n), *dw = hnew(C), *db = hnew(C);
    memcpy(dw, pw, C * sizeof(float));
    memcpy(db, pb, C * sizeof(float));
    layernorm_backward_cpu(din, dw, db, dout, in, mean, rstd, w, N, C);
    float *mean_c = dnew(mean, N), *rstd_c = dnew(rstd, N);
    float *din_d = djunk(n), *dw_d = dnew(pw, C), *db_d = dnew(pb, C);
    layernorm_backward_cuda(din_d, dw_d, db_d, dout_d, in_d, mean_c, rstd_c, w_d, N, C);
    check("layernorm_backward", sh, "din", din_d, din, n);
    check("layernorm_backward", sh, "dw", dw_d, dw, C);
    check("layernorm_backward", sh, "db", db_d, db, C);
    float *acc = hnew(C);
    for (int c = 0; c < C; c++) acc[c] = dw0[c] + pw[c];
    check("layernorm_backward", sh, "dw (+=)", dw_d, acc, C);
    float *din2_d = djunk(n);
    layernorm_backward_cuda(din2_d, NULL, NULL, dout_d, in_d, mean_c, rstd_c, w_d, N, C);
    check("layernorm_backward", sh, "din only", din2_d, din, n);
    float *db2_d = dnew(pb, C);
    layernorm_backward_cuda(NULL, NULL, db2_d, dout_d, in_d, mean_c, rstd_c, w_d, N, C);
    check("layernorm_backward", sh, "db only", db2_d, db, C);
    release();
}

/* ---- QuickGELU ---- */
static void test_quickgelu(size_t n) {
    char sh[64];
    snprintf(sh, sizeof sh, "n%zu", n);
    float *in = hrand(n, 4), *dout = hrand(n, 1), *out = hnew(n), *din = hnew(n);
    quickgelu_forward_cpu(out, in, n);
    quickgelu_backward_cpu(din, dout, in, n);
    float *in_d = dnew(in, n), *out_d = djunk(n);
    quickgelu_forward_cuda(out_d, in_d, n);
    check("quickgelu_forward", sh, "out", out_d, out, n);
    float *g_d = dnew(dout, n);   /* din aliasing dout */
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
    float *qkv = hrand(nq, 2), *dout = hrand(no, 1), *out = hnew(no), *att = hnew(na), *dqkv = hnew(nq);
    attention_forward_cpu(out, att, qkv, off, B, C, nh, causal);
    attention_backward_cpu(dqkv, dout, qkv, att, off, B, C, nh);
    float *qkv_d = dnew(qkv, nq), *out_d = djunk(no), *att_d = djunk(na);
    attention_forward_cuda(out_d, att_d, qkv_d, off, B, C, nh, causal);
    check("attention_forward", sh, "out", out_d, out, no);
    check("attention_forward", sh, "att", att_d, att, na);
    float *out2_d = djunk(no);
    attention_forward_cuda(out2_d, NULL, qkv_d, off, B, C, nh, causal);
    check("attention_forward", sh, "out (no att)", out2_d, out, no);
    float *dqkv_d = djunk(nq);
    attention_backward_cuda(dqkv_d, dnew(dout, no), qkv_d, dnew(att, na), off, B, C, nh);
    check("attention_backward", sh, "dqkv", dqkv_d, dqkv, nq);
    free(off);
    release();
}

/* ---- the class-token attention ---- */
static void test_cls_attention(int B, int T, int C, int nh) {
    char sh[64];
    snprintf(sh, sizeof sh, "B%d T%d C%d nh%d", B, T, C, nh);
    const size_t nq = (size_t)B * C, nkv = (size_t)B * T * 2 * C, na = (size_t)B * nh * T;
    float *q = hrand(nq, 2), *kv = hrand(nkv, 2), *dout = hrand(nq, 1);
    float *out = hnew(nq), *att = hnew(na), *dq = hnew(nq), *dkv = hnew(nkv);
    cls_attention_forward_cpu(out, att, q, kv, B, T, C, nh);
    cls_attention_backward_cpu(dq, dkv, dout, q, kv, att, B, T, C, nh);
    float *q_d = dnew(q, nq), *kv_d = dnew(kv, nkv), *out_d = djunk(nq), *att_d = djunk(na);
    cls_attention_forward_cuda(out_d, att_d, q_d, kv_d, B, T, C, nh);
    check("cls_attention_forward", sh, "out", out_d, out, nq);
    check("cls_attention_forward", sh, "att", att_d, att, na);
    float *out2_d = djunk(nq);
    cls_attention_forward_cuda(out2_d, NULL, q_d, kv_d, B, T, C, nh);
    check("cls_attention_forward", sh, "out (no att)", out2_d, out, nq);
    float *dq_d = djunk(nq), *dkv_d = djunk(nkv);
    cls_attention_backward_cuda(dq_d, dkv_d, dnew(dout, nq), q_d, kv_d, dnew(att, na), B, T, C, nh);
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
    float *in = hrand(ni, 1), *dout = hrand(no, 1), *out = hnew(no), *din = hnew(ni);
    resize_forward_cpu(out, in, planes, H, W, Ho, Wo, mode);
    resize_backward_cpu(din, dout, planes, H, W, Ho, Wo, mode);
    float *out_d = djunk(no), *din_d = djunk(ni);
    resize_forward_cuda(out_d, dnew(in, ni), planes, H, W, Ho, Wo, mode);
    resize_backward_cuda(din_d, dnew(dout, no), planes, H, W, Ho, Wo, mode);
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
    float *x = hrand(n, 1), *y = hnew(n), *z = hnew(n), *dn = hnew(n);
    scale_shift_cpu(y, x, n, 0.5f, 0.5f);
    clip_normalize_forward_cpu(z, y, B, HW);
    clip_normalize_backward_cpu(dn, x, B, HW);
    float *x_d = dnew(x, n), *y_d = djunk(n);
    scale_shift_cuda(y_d, x_d, n, 0.5f, 0.5f);
    check("scale_shift", sh, "out", y_d, y, n);
    clip_normalize_forward_cuda(y_d, y_d, B, HW);
    check("clip_normalize_forward", sh, "in place", y_d, z, n);
    float *dn_d = dnew(x, n);
    clip_normalize_backward_cuda(dn_d, dn_d, B, HW);
    check("clip_normalize_backward", sh, "in place", dn_d, dn, n);
    const size_t np = (size_t)B * g * g * 3 * P * P;
    float *pt = hnew(np), *back = hnew(n);
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
    progname = "gpu_clip_check";
    if (argc > 1) {
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
            printf("usage: gpu_clip_check\ncompares CLIP's CUDA ops with their CPU twins; "
                   "prints SKIP: <reason> and exits 0 without a GPU\n");
            return EXIT_OK;
        }
        die_usage("expected no arguments, found '%s'", argv[1]);
    }
    char why[256];
    if (!cuda_device_available(why, sizeof why)) {
        printf("SKIP: %s\n", why);
        return EXIT_OK;
    }
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

    printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "PASS", checks, failures);
    return failures ? EXIT_RUNTIME : EXIT_OK;
}
