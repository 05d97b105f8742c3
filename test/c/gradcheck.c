/* gradcheck.c: checks the CPU ops of lib/core/op_list.h (CLIP's: clip_gradcheck.c).
 *
 * For each op, in double (the _cpu_f64 build of lib/cpu/):
 *   - the forward against a direct naive reference written here;
 *   - every analytic gradient (inputs and parameters) of L = Σ r·out, r random, against central
 *     differences (eps 1e-6); error = max|analytic − numeric| / max|numeric|, tolerance 1e-6;
 *   - that parameter gradients accumulate onto a pre-filled buffer and that activation
 *     gradients are assigned (their buffers are pre-filled with NaN);
 *   - that NULL gradient pointers skip work without changing the others.
 * Then the float build (_cpu) on the same inputs against the double one (relative L2 < 1e-5),
 * and adam_update against a hand-written double reference over 3 steps. Inception's and DAMSM's
 * ops have no backward: their forward (double) against naive loops, outputs pre-filled with NaN
 * so that every element must be written, and their float build against the double one.
 * Prints one line per case with its worst errors; exits 1 if anything failed. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ops.h"

/* tuning knob of lib/cpu/conv2d.c (bytes of col above which the batch is done in chunks) */
extern size_t conv2d_col_limit_cpu, conv2d_col_limit_cpu_f64;

#define FD_EPS 1e-6
#define TOL_FD 1e-6     /* finite differences vs analytic, relative to the gradient's max */
#define TOL_FWD 1e-12   /* double forward vs the naive reference */
#define TOL_F32 1e-5    /* float vs double, relative L2 */

/* ---- small helpers ---- */

static uint64_t rng_s = 0x2545F4914F6CDD1DULL;
static double urand(void)   /* splitmix64 -> [0,1) */
{
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}
static double *alloc(size_t n) { double *p = calloc(n ? n : 1, sizeof *p); if (!p) abort(); return p; }
static float *allocf(size_t n) { float *p = calloc(n ? n : 1, sizeof *p); if (!p) abort(); return p; }
static double *rnd(size_t n) { double *p = alloc(n); for (size_t i = 0; i < n; i++) p[i] = 2 * urand() - 1; return p; }
/* values in ±[gap, 1]: away from the kink at 0 */
static double *rnd_away(size_t n, double gap)
{
    double *p = alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (urand() < 0.5 ? -1 : 1) * (gap + (1 - gap) * urand());
    return p;
}
static double *dup(const double *a, size_t n) { double *p = alloc(n); memcpy(p, a, n * sizeof *p); return p; }
static double *nans(size_t n) { double *p = alloc(n); for (size_t i = 0; i < n; i++) p[i] = NAN; return p; }
static float *tof(const double *a, size_t n) { float *p = allocf(n); for (size_t i = 0; i < n; i++) p[i] = (float)a[i]; return p; }
static float *nansf(size_t n) { float *p = allocf(n); for (size_t i = 0; i < n; i++) p[i] = NAN; return p; }
static double dot(const double *a, const double *b, size_t n) { double s = 0; for (size_t i = 0; i < n; i++) s += a[i] * b[i]; return s; }

/* max|a − b| / max|b| (NaN anywhere gives NaN, which fails every check) */
static double rel_max(const double *a, const double *b, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (isnan(d)) return NAN;
        if (d > e) e = d;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return e / (m > 1e-300 ? m : 1);
}
/* ‖f − d‖ / ‖d‖ */
static double rel_l2f(const float *f, const double *d, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)f[i] - d[i];
        if (isnan(x)) return NAN;
        e += x * x;
        m += d[i] * d[i];
    }
    return sqrt(e) / (m > 1e-300 ? sqrt(m) : 1);
}
static void sub(double *a, const double *b, size_t n) { for (size_t i = 0; i < n; i++) a[i] -= b[i]; }

/* ---- result lines: one per case, listing each check's error ---- */

static int failures, checks;
static char line[1024];
static int line_bad;
static void case_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void case_begin(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    line_bad = 0;
}
static void check(const char *what, double err, double tol)
{
    size_t l = strlen(line);
    int ok = err <= tol;   /* false for NaN */
    checks++;
    if (!ok) {
        failures++;
        line_bad = 1;
    }
    snprintf(line + l, sizeof line - l, " %s %.1e%s", what, err, ok ? "" : "(FAIL)");
}
static void case_end(void)
{
    printf("%-4s %s\n", line_bad ? "FAIL" : "ok", line);
    if (line_bad) fprintf(stderr, "gradcheck: FAILED: %s\n", line);
}

/* ---- finite differences: the forward is a callback over a context the test owns ---- */

typedef struct {
    void (*fwd)(void *ctx);
    void *ctx;
    const double *out, *r;   /* out is written by fwd; r is the upstream gradient */
    size_t nout;
} Loss;

static double loss(const Loss *L) { L->fwd(L->ctx); return dot(L->out, L->r, L->nout); }

/* ng (n) = ∂L/∂x by central differences, perturbing x in place */
static double *numgrad(double *x, size_t n, const Loss *L)
{
    double *ng = alloc(n);
    for (size_t i = 0; i < n; i++) {
        const double s = x[i];
        x[i] = s + FD_EPS;
        const double lp = loss(L);
        x[i] = s - FD_EPS;
        const double lm = loss(L);
        x[i] = s;
        ng[i] = (lp - lm) / (2 * FD_EPS);
    }
    L->fwd(L->ctx);
    return ng;
}

/* =============================== conv2d =============================== */

typedef struct { double *out, *in, *w, *b; int B, C, H, W, OC, K, s, p; } Conv;
static void conv_fwd(void *v)
{
    Conv *c = v;
    conv2d_forward_cpu_f64(c->out, c->in, c->w, c->b, c->B, c->C, c->H, c->W, c->OC, c->K, c->s, c->p);
}
static void conv_naive(double *out, const double *in, const double *w, const double *b,
                       int B, int C, int H, int W, int OC, int K, int s, int p)
{
    const int Ho = (H + 2 * p - K) / s + 1, Wo = (W + 2 * p - K) / s + 1;
    for (int oc = 0; oc < OC; oc++)
        for (int n = 0; n < B; n++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double acc = b ? b[oc] : 0;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                int ih = oh * s - p + kh, iw = ow * s - p + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += w[((oc * C + c) * K + kh) * K + kw] *
                                       in[(((size_t)c * B + n) * H + ih) * W + iw];
                            }
                    out[(((size_t)oc * B + n) * Ho + oh) * Wo + ow] = acc;
                }
}

/* conv2d_forward_lrelu / conv2d_backward_lrelu (float) against conv2d_forward / _backward and the
 * leaky ReLU ops apart: the number of values that differ (the fast paths apply the activation as
 * they write, to the same numbers); r (output-sized) is the tangent's mask, in the data
 * gradient's */
static double fused_lrelu_err(int B, int C, int H, int W, int OC, int K, int s, int p,
                              const float *in, const float *w, const float *b, const float *r)
{
    const int Ho = (H + 2 * p - K) / s + 1, Wo = (W + 2 * p - K) / s + 1;
    const size_t nin = (size_t)C * B * H * W, nout = (size_t)OC * B * Ho * Wo, nw = (size_t)OC * C * K * K;
    float *ref = allocf(nout), *got = allocf(nout), *rdin = nansf(nin), *gdin = nansf(nin);
    float *rdw = allocf(nw), *gdw = allocf(nw);
    double e = 0;
    for (int tangent = 0; tangent < 2; tangent++) {
        conv2d_forward_cpu(ref, in, w, b, B, C, H, W, OC, K, s, p);
        if (tangent) leaky_relu_backward_cpu(ref, ref, r, nout, 0.2f);
        else leaky_relu_forward_cpu(ref, ref, nout, 0.2f);
        conv2d_forward_lrelu_cpu(got, in, w, b, tangent ? r : NULL, 0.2f, B, C, H, W, OC, K, s, p);
        for (size_t i = 0; i < nout; i++) e += !(got[i] == ref[i]);   /* NaN counts too */
    }
    conv2d_backward_cpu(rdin, rdw, NULL, r, in, w, B, C, H, W, OC, K, s, p);
    leaky_relu_backward_cpu(rdin, rdin, in, nin, 0.2f);
    conv2d_backward_lrelu_cpu(gdin, gdw, NULL, r, in, w, in, 0.2f, B, C, H, W, OC, K, s, p);
    for (size_t i = 0; i < nin; i++) e += !(gdin[i] == rdin[i]);
    for (size_t i = 0; i < nw; i++) e += !(gdw[i] == rdw[i]);
    free(ref); free(got); free(rdin); free(gdin); free(rdw); free(gdw);
    return e;
}

static void test_conv(int B, int C, int H, int W, int OC, int K, int s, int p, int bias)
{
    const int Ho = (H + 2 * p - K) / s + 1, Wo = (W + 2 * p - K) / s + 1;
    const size_t nin = (size_t)C * B * H * W, nw = (size_t)OC * C * K * K, nout = (size_t)OC * B * Ho * Wo;
    case_begin("conv2d B%d C%d %dx%d OC%d K%d s%d p%d %s:", B, C, H, W, OC, K, s, p, bias ? "bias" : "nobias");
    Conv c = { alloc(nout), rnd(nin), rnd(nw), bias ? rnd(OC) : NULL, B, C, H, W, OC, K, s, p };
    double *r = rnd(nout), *ref = alloc(nout);
    conv_fwd(&c);
    conv_naive(ref, c.in, c.w, c.b, B, C, H, W, OC, K, s, p);
    check("fwd", rel_max(c.out, ref, nout), TOL_FWD);

    /* analytic: din assigned over NaN, dw/db accumulated onto random values */
    double *din = nans(nin), *dw0 = rnd(nw), *db0 = rnd(OC);
    double *dw = dup(dw0, nw), *db = dup(db0, OC);
    conv2d_backward_cpu_f64(din, dw, bias ? db : NULL, r, c.in, c.w, B, C, H, W, OC, K, s, p);
    sub(dw, dw0, nw);
    sub(db, db0, OC);
    Loss L = { conv_fwd, &c, c.out, r, nout };
    double *gin = numgrad(c.in, nin, &L), *gw = numgrad(c.w, nw, &L);
    check("din", rel_max(din, gin, nin), TOL_FD);
    check("dw", rel_max(dw, gw, nw), TOL_FD);
    if (bias) {
        double *gb = numgrad(c.b, OC, &L);
        check("db", rel_max(db, gb, OC), TOL_FD);
        free(gb);
    }

    /* NULL pointers skip work and leave the rest unchanged */
    double *din2 = nans(nin), *dw2 = alloc(nw);
    conv2d_backward_cpu_f64(din2, NULL, NULL, r, c.in, c.w, B, C, H, W, OC, K, s, p);
    conv2d_backward_cpu_f64(NULL, dw2, NULL, r, c.in, c.w, B, C, H, W, OC, K, s, p);
    double e = fmax(rel_max(din2, din, nin), rel_max(dw2, dw, nw));
    check("null", e, 1e-12);

    /* chunks of 1, 2 and 3 output rows (crossing sample boundaries): must agree with the
     * unchunked result */
    size_t keep = conv2d_col_limit_cpu_f64;
    double *out3 = alloc(nout), *din3 = nans(nin), *dw3 = alloc(nw);
    e = 0;
    for (int per = 1; per <= 3; per++) {
        conv2d_col_limit_cpu_f64 = per * (size_t)C * K * K * Wo * sizeof(double);
        memset(dw3, 0, nw * sizeof *dw3);
        conv2d_forward_cpu_f64(out3, c.in, c.w, c.b, B, C, H, W, OC, K, s, p);
        conv2d_backward_cpu_f64(din3, dw3, NULL, r, c.in, c.w, B, C, H, W, OC, K, s, p);
        e = fmax(e, fmax(rel_max(out3, c.out, nout), fmax(rel_max(din3, din, nin), rel_max(dw3, dw, nw))));
    }
    conv2d_col_limit_cpu_f64 = keep;
    check("chunked", e, 1e-12);

    /* float twin */
    float *fin = tof(c.in, nin), *fw = tof(c.w, nw), *fb = bias ? tof(c.b, OC) : NULL, *fr = tof(r, nout);
    float *fout = allocf(nout), *fdin = nansf(nin), *fdw = allocf(nw), *fdb = allocf(OC);
    conv2d_forward_cpu(fout, fin, fw, fb, B, C, H, W, OC, K, s, p);
    conv2d_backward_cpu(fdin, fdw, bias ? fdb : NULL, fr, fin, fw, B, C, H, W, OC, K, s, p);
    e = fmax(rel_l2f(fout, c.out, nout), fmax(rel_l2f(fdin, din, nin), rel_l2f(fdw, dw, nw)));
    if (bias) e = fmax(e, rel_l2f(fdb, db, OC));
    check("f32", e, TOL_F32);
    check("fused", fused_lrelu_err(B, C, H, W, OC, K, s, p, fin, fw, fb, fr), 0);
    case_end();

    free(c.out); free(c.in); free(c.w); free(c.b); free(r); free(ref); free(din); free(dw0);
    free(db0); free(dw); free(db); free(gin); free(gw); free(din2); free(dw2); free(out3);
    free(din3); free(dw3); free(fin); free(fw); free(fb); free(fr); free(fout); free(fdin);
    free(fdw); free(fdb);
}

/* =============================== linear =============================== */

typedef struct { double *out, *in, *w, *b; int B, I, O; } Lin;
static void lin_fwd(void *v) { Lin *l = v; linear_forward_cpu_f64(l->out, l->in, l->w, l->b, l->B, l->I, l->O); }

static void test_linear(int B, int I, int O, int bias)
{
    const size_t nin = (size_t)B * I, nw = (size_t)O * I, nout = (size_t)B * O;
    case_begin("linear B%d I%d O%d %s:", B, I, O, bias ? "bias" : "nobias");
    Lin l = { alloc(nout), rnd(nin), rnd(nw), bias ? rnd(O) : NULL, B, I, O };
    double *r = rnd(nout), *ref = alloc(nout);
    lin_fwd(&l);
    for (int n = 0; n < B; n++)
        for (int o = 0; o < O; o++) {
            double acc = bias ? l.b[o] : 0;
            for (int i = 0; i < I; i++) acc += l.in[n * I + i] * l.w[o * I + i];
            ref[n * O + o] = acc;
        }
    check("fwd", rel_max(l.out, ref, nout), TOL_FWD);
    double *din = nans(nin), *dw0 = rnd(nw), *db0 = rnd(O), *dw = dup(dw0, nw), *db = dup(db0, O);
    linear_backward_cpu_f64(din, dw, bias ? db : NULL, r, l.in, l.w, B, I, O);
    sub(dw, dw0, nw);
    sub(db, db0, O);
    Loss L = { lin_fwd, &l, l.out, r, nout };
    double *gin = numgrad(l.in, nin, &L), *gw = numgrad(l.w, nw, &L);
    check("din", rel_max(din, gin, nin), TOL_FD);
    check("dw", rel_max(dw, gw, nw), TOL_FD);
    if (bias) {
        double *gb = numgrad(l.b, O, &L);
        check("db", rel_max(db, gb, O), TOL_FD);
        free(gb);
    }
    double *din2 = nans(nin), *dw2 = alloc(nw);
    linear_backward_cpu_f64(din2, NULL, NULL, r, l.in, l.w, B, I, O);
    linear_backward_cpu_f64(NULL, dw2, NULL, r, l.in, l.w, B, I, O);
    check("null", fmax(rel_max(din2, din, nin), rel_max(dw2, dw, nw)), 1e-12);

    float *fin = tof(l.in, nin), *fw = tof(l.w, nw), *fb = bias ? tof(l.b, O) : NULL, *fr = tof(r, nout);
    float *fout = allocf(nout), *fdin = nansf(nin), *fdw = allocf(nw), *fdb = allocf(O);
    linear_forward_cpu(fout, fin, fw, fb, B, I, O);
    linear_backward_cpu(fdin, fdw, bias ? fdb : NULL, fr, fin, fw, B, I, O);
    double e = fmax(rel_l2f(fout, l.out, nout), fmax(rel_l2f(fdin, din, nin), rel_l2f(fdw, dw, nw)));
    if (bias) e = fmax(e, rel_l2f(fdb, db, O));
    check("f32", e, TOL_F32);
    case_end();
    free(l.out); free(l.in); free(l.w); free(l.b); free(r); free(ref); free(din); free(dw0);
    free(db0); free(dw); free(db); free(gin); free(gw); free(din2); free(dw2);
    free(fin); free(fw); free(fb); free(fr); free(fout); free(fdin); free(fdw); free(fdb);
}

/* ============================== pointwise ============================= */

enum { ACT_LEAKY, ACT_RELU, ACT_TANH };
static const char *act_name[] = { "leaky_relu", "relu", "tanh" };
#define SLOPE 0.2
typedef struct { double *out, *in; size_t n; int act; } Act;
static void act_fwd(void *v)
{
    Act *a = v;
    if (a->act == ACT_LEAKY) leaky_relu_forward_cpu_f64(a->out, a->in, a->n, SLOPE);
    else if (a->act == ACT_RELU) relu_forward_cpu_f64(a->out, a->in, a->n);
    else tanh_forward_cpu_f64(a->out, a->in, a->n);
}
static double act_ref(int act, double x)
{
    return act == ACT_LEAKY ? (x > 0 ? x : SLOPE * x) : act == ACT_RELU ? (x > 0 ? x : 0) : tanh(x);
}
static void act_bwd_f64(int act, double *din, const double *dout, const double *x, const double *y, size_t n, int use_out)
{
    if (act == ACT_LEAKY) leaky_relu_backward_cpu_f64(din, dout, use_out ? y : x, n, SLOPE);
    else if (act == ACT_RELU) relu_backward_cpu_f64(din, dout, use_out ? y : x, n);
    else tanh_backward_cpu_f64(din, dout, y, n);
}
static void act_bwd_f32(int act, float *din, const float *dout, const float *x, const float *y, size_t n)
{
    if (act == ACT_LEAKY) leaky_relu_backward_cpu(din, dout, x, n, (float)SLOPE);
    else if (act == ACT_RELU) relu_backward_cpu(din, dout, x, n);
    else tanh_backward_cpu(din, dout, y, n);
}

static void test_act(int act, size_t n)
{
    case_begin("%s n%zu:", act_name[act], n);
    Act a = { alloc(n), rnd_away(n, 0.05), n, act };
    for (size_t i = 0; i < n; i++) a.in[i] *= 2.5;   /* tanh: reach the flat parts too */
    double *r = rnd(n), *ref = alloc(n);
    act_fwd(&a);
    for (size_t i = 0; i < n; i++) ref[i] = act_ref(act, a.in[i]);
    check("fwd", rel_max(a.out, ref, n), TOL_FWD);
    Loss L = { act_fwd, &a, a.out, r, n };
    double *g = numgrad(a.in, n, &L), *din = nans(n);
    act_bwd_f64(act, din, r, a.in, a.out, n, 0);
    check("din(x=in)", rel_max(din, g, n), TOL_FD);
    act_bwd_f64(act, din, r, a.in, a.out, n, 1);
    check("din(x=out)", rel_max(din, g, n), TOL_FD);
    /* in place: out aliases in, din aliases dout */
    double *y = dup(a.in, n), *d = dup(r, n);
    act == ACT_LEAKY ? leaky_relu_forward_cpu_f64(y, y, n, SLOPE)
    : act == ACT_RELU ? relu_forward_cpu_f64(y, y, n) : tanh_forward_cpu_f64(y, y, n);
    act_bwd_f64(act, d, d, y, y, n, 1);
    check("inplace", fmax(rel_max(y, a.out, n), rel_max(d, din, n)), 0);
    float *fin = tof(a.in, n), *fr = tof(r, n), *fout = allocf(n), *fdin = nansf(n);
    act == ACT_LEAKY ? leaky_relu_forward_cpu(fout, fin, n, (float)SLOPE)
    : act == ACT_RELU ? relu_forward_cpu(fout, fin, n) : tanh_forward_cpu(fout, fin, n);
    act_bwd_f32(act, fdin, fr, fin, fout, n);
    check("f32", fmax(rel_l2f(fout, a.out, n), rel_l2f(fdin, din, n)), TOL_F32);
    case_end();
    free(a.out); free(a.in); free(r); free(ref); free(g); free(din); free(y); free(d);
    free(fin); free(fr); free(fout); free(fdin);
}

/* ============================== resample ============================== */

typedef struct { double *out, *in; int planes, H, W, up; } Rs;
static void rs_fwd(void *v)
{
    Rs *s = v;
    if (s->up) upsample2x_forward_cpu_f64(s->out, s->in, s->planes, s->H, s->W);
    else avgpool2x2_forward_cpu_f64(s->out, s->in, s->planes, s->H, s->W);
}

/* up: in (planes,H,W) -> out (planes,2H,2W); down: in (planes,H,W) -> out (planes,H/2,W/2) */
static void test_resample(int up, int planes, int H, int W)
{
    const size_t nin = (size_t)planes * H * W, nout = up ? nin * 4 : nin / 4;
    case_begin("%s planes%d %dx%d:", up ? "upsample2x" : "avgpool2x2", planes, H, W);
    Rs s = { alloc(nout), rnd(nin), planes, H, W, up };
    double *r = rnd(nout), *ref = alloc(nout);
    rs_fwd(&s);
    if (up) {
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < 2 * H; i++)
                for (int j = 0; j < 2 * W; j++)
                    ref[((size_t)p * 2 * H + i) * 2 * W + j] = s.in[((size_t)p * H + i / 2) * W + j / 2];
    } else {
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < H / 2; i++)
                for (int j = 0; j < W / 2; j++) {
                    const double *q = s.in + ((size_t)p * H + 2 * i) * W + 2 * j;
                    ref[((size_t)p * (H / 2) + i) * (W / 2) + j] = (q[0] + q[1] + q[W] + q[W + 1]) / 4;
                }
    }
    check("fwd", rel_max(s.out, ref, nout), TOL_FWD);
    Loss L = { rs_fwd, &s, s.out, r, nout };
    double *g = numgrad(s.in, nin, &L), *din = nans(nin);
    if (up) upsample2x_backward_cpu_f64(din, r, planes, H, W);
    else avgpool2x2_backward_cpu_f64(din, r, planes, H, W);
    check("din", rel_max(din, g, nin), TOL_FD);
    float *fin = tof(s.in, nin), *fr = tof(r, nout), *fout = allocf(nout), *fdin = nansf(nin);
    if (up) {
        upsample2x_forward_cpu(fout, fin, planes, H, W);
        upsample2x_backward_cpu(fdin, fr, planes, H, W);
    } else {
        avgpool2x2_forward_cpu(fout, fin, planes, H, W);
        avgpool2x2_backward_cpu(fdin, fr, planes, H, W);
    }
    check("f32", fmax(rel_l2f(fout, s.out, nout), rel_l2f(fdin, din, nin)), TOL_F32);
    case_end();
    free(s.out); free(s.in); free(r); free(ref); free(g); free(din); free(fin); free(fr);
    free(fout); free(fdin);
}

/* =============================== affine =============================== */

typedef struct { double *out, *x, *gamma, *beta; int C, B, HW; } Aff;
static void aff_fwd(void *v) { Aff *a = v; affine_forward_cpu_f64(a->out, a->x, a->gamma, a->beta, a->C, a->B, a->HW); }

static void test_affine(int C, int B, int HW)
{
    const size_t n = (size_t)C * B * HW, np = (size_t)B * C;
    case_begin("affine C%d B%d HW%d:", C, B, HW);
    Aff a = { alloc(n), rnd(n), rnd(np), rnd(np), C, B, HW };
    double *r = rnd(n), *ref = alloc(n);
    aff_fwd(&a);
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                size_t k = ((size_t)c * B + b) * HW + i;
                ref[k] = a.gamma[b * C + c] * a.x[k] + a.beta[b * C + c];
            }
    check("fwd", rel_max(a.out, ref, n), TOL_FWD);
    Loss L = { aff_fwd, &a, a.out, r, n };
    double *gx = numgrad(a.x, n, &L), *gg = numgrad(a.gamma, np, &L), *gb = numgrad(a.beta, np, &L);
    double *dx = nans(n), *dg = nans(np), *db = nans(np);
    affine_backward_cpu_f64(dx, dg, db, r, a.x, a.gamma, C, B, HW);
    check("dx", rel_max(dx, gx, n), TOL_FD);
    check("dgamma", rel_max(dg, gg, np), TOL_FD);
    check("dbeta", rel_max(db, gb, np), TOL_FD);
    double *dx2 = nans(n), *dg2 = nans(np);
    affine_backward_cpu_f64(dx2, NULL, NULL, r, a.x, a.gamma, C, B, HW);
    affine_backward_cpu_f64(NULL, dg2, NULL, r, a.x, a.gamma, C, B, HW);
    check("null", fmax(rel_max(dx2, dx, n), rel_max(dg2, dg, np)), 0);
    float *fx = tof(a.x, n), *fg = tof(a.gamma, np), *fbt = tof(a.beta, np), *fr = tof(r, n);
    float *fout = allocf(n), *fdx = nansf(n), *fdg = nansf(np), *fdb = nansf(np);
    affine_forward_cpu(fout, fx, fg, fbt, C, B, HW);
    affine_backward_cpu(fdx, fdg, fdb, fr, fx, fg, C, B, HW);
    double e = fmax(fmax(rel_l2f(fout, a.out, n), rel_l2f(fdx, dx, n)),
                    fmax(rel_l2f(fdg, dg, np), rel_l2f(fdb, db, np)));
    check("f32", e, TOL_F32);
    case_end();
    free(a.out); free(a.x); free(a.gamma); free(a.beta); free(r); free(ref); free(gx); free(gg);
    free(gb); free(dx); free(dg); free(db); free(dx2); free(dg2); free(fx); free(fg); free(fbt);
    free(fr); free(fout); free(fdx); free(fdg); free(fdb);
}

/* ===================== affine + leaky ReLU, fused ===================== */

typedef struct { double *out, *x, *gamma, *beta; int C, B, HW; } AffL;
#define AFFL_SLOPE 0.2
static void affl_fwd(void *v)
{
    AffL *a = v;
    affine_lrelu_forward_cpu_f64(a->out, a->x, a->gamma, a->beta, a->C, a->B, a->HW, AFFL_SLOPE);
}

/* affine_lrelu_forward / _backward against affine + leaky_relu done apart, and by finite
 * differences; the float build against the double one */
static void test_affine_lrelu(int C, int B, int HW)
{
    const size_t n = (size_t)C * B * HW, np = (size_t)B * C;
    case_begin("affine_lrelu C%d B%d HW%d:", C, B, HW);
    AffL a = { alloc(n), rnd(n), rnd(np), rnd(np), C, B, HW };
    double *r = rnd(n), *ref = alloc(n);
    affl_fwd(&a);
    affine_forward_cpu_f64(ref, a.x, a.gamma, a.beta, C, B, HW);
    leaky_relu_forward_cpu_f64(ref, ref, n, AFFL_SLOPE);
    check("fwd", rel_max(a.out, ref, n), 0);
    Loss L = { affl_fwd, &a, a.out, r, n };
    double *gx = numgrad(a.x, n, &L), *gg = numgrad(a.gamma, np, &L), *gb = numgrad(a.beta, np, &L);
    double *dx = nans(n), *dg = nans(np), *db = nans(np);
    affine_lrelu_backward_cpu_f64(dx, dg, db, r, a.x, a.out, a.gamma, C, B, HW, AFFL_SLOPE);
    check("dx", rel_max(dx, gx, n), TOL_FD);
    check("dgamma", rel_max(dg, gg, np), TOL_FD);
    check("dbeta", rel_max(db, gb, np), TOL_FD);
    /* NULLs skip work; dx may alias dout */
    double *dx2 = dup(r, n), *dg2 = nans(np);
    affine_lrelu_backward_cpu_f64(NULL, dg2, NULL, r, a.x, a.out, a.gamma, C, B, HW, AFFL_SLOPE);
    affine_lrelu_backward_cpu_f64(dx2, NULL, NULL, dx2, a.x, a.out, a.gamma, C, B, HW, AFFL_SLOPE);
    check("null/alias", fmax(rel_max(dx2, dx, n), rel_max(dg2, dg, np)), 0);
    float *fx = tof(a.x, n), *fg = tof(a.gamma, np), *fbt = tof(a.beta, np), *fr = tof(r, n);
    float *fout = allocf(n), *fdx = nansf(n), *fdg = nansf(np), *fdb = nansf(np);
    affine_lrelu_forward_cpu(fout, fx, fg, fbt, C, B, HW, (float)AFFL_SLOPE);
    affine_lrelu_backward_cpu(fdx, fdg, fdb, fr, fx, fout, fg, C, B, HW, (float)AFFL_SLOPE);
    double e = fmax(fmax(rel_l2f(fout, a.out, n), rel_l2f(fdx, dx, n)),
                    fmax(rel_l2f(fdg, dg, np), rel_l2f(fdb, db, np)));
    check("f32", e, TOL_F32);
    case_end();
    free(a.out); free(a.x); free(a.gamma); free(a.beta); free(r); free(ref); free(gx); free(gg);
    free(gb); free(dx); free(dg); free(db); free(dx2); free(dg2); free(fx); free(fg); free(fbt);
    free(fr); free(fout); free(fdx); free(fdg); free(fdb);
}

/* avgpool2x2_backward_add = avgpool2x2_backward added onto what din holds */
static void test_avgpool_add(int planes, int H, int W)
{
    const size_t n = (size_t)planes * H * W, nq = n / 4;
    case_begin("avgpool2x2_backward_add planes%d %dx%d:", planes, H, W);
    double *g = rnd(nq), *base = rnd(n), *d = dup(base, n), *ref = alloc(n);
    avgpool2x2_backward_add_cpu_f64(d, g, planes, H, W);
    avgpool2x2_backward_cpu_f64(ref, g, planes, H, W);
    for (size_t i = 0; i < n; i++) ref[i] += base[i];
    check("add", rel_max(d, ref, n), 1e-15);
    float *fg = tof(g, nq), *fd = tof(base, n);
    avgpool2x2_backward_add_cpu(fd, fg, planes, H, W);
    check("f32", rel_l2f(fd, d, n), TOL_F32);
    case_end();
    free(g); free(base); free(d); free(ref); free(fg); free(fd);
}

/* ============================== replicate ============================= */

typedef struct { double *out, *s; int B, S, HW; } Rep;
static void rep_fwd(void *v) { Rep *p = v; replicate_forward_cpu_f64(p->out, p->s, p->B, p->S, p->HW); }

static void test_replicate(int B, int S, int HW)
{
    const size_t ns = (size_t)B * S, n = ns * HW;
    case_begin("replicate B%d S%d HW%d:", B, S, HW);
    Rep p = { alloc(n), rnd(ns), B, S, HW };
    double *r = rnd(n), *ref = alloc(n);
    rep_fwd(&p);
    for (int s = 0; s < S; s++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) ref[((size_t)s * B + b) * HW + i] = p.s[b * S + s];
    check("fwd", rel_max(p.out, ref, n), 0);
    Loss L = { rep_fwd, &p, p.out, r, n };
    double *g = numgrad(p.s, ns, &L), *ds = nans(ns);
    replicate_backward_cpu_f64(ds, r, B, S, HW);
    check("ds", rel_max(ds, g, ns), TOL_FD);
    float *fs = tof(p.s, ns), *fr = tof(r, n), *fout = allocf(n), *fds = nansf(ns);
    replicate_forward_cpu(fout, fs, B, S, HW);
    replicate_backward_cpu(fds, fr, B, S, HW);
    check("f32", fmax(rel_l2f(fout, p.out, n), rel_l2f(fds, ds, ns)), TOL_F32);
    case_end();
    free(p.out); free(p.s); free(r); free(ref); free(g); free(ds); free(fs); free(fr); free(fout); free(fds);
}

/* ============================= concat_rows ============================ */

typedef struct { double *out, *a, *b; int B, A, Bn; } Cat;
static void cat_fwd(void *v) { Cat *c = v; concat_rows_forward_cpu_f64(c->out, c->a, c->b, c->B, c->A, c->Bn); }

static void test_concat(int B, int A, int Bn)
{
    const size_t na = (size_t)B * A, nb = (size_t)B * Bn, n = na + nb;
    case_begin("concat_rows B%d A%d Bn%d:", B, A, Bn);
    Cat c = { alloc(n), rnd(na), rnd(nb), B, A, Bn };
    double *r = rnd(n), *ref = alloc(n);
    cat_fwd(&c);
    for (int i = 0; i < B; i++) {
        for (int j = 0; j < A; j++) ref[i * (A + Bn) + j] = c.a[i * A + j];
        for (int j = 0; j < Bn; j++) ref[i * (A + Bn) + A + j] = c.b[i * Bn + j];
    }
    check("fwd", rel_max(c.out, ref, n), 0);
    Loss L = { cat_fwd, &c, c.out, r, n };
    double *ga = numgrad(c.a, na, &L), *gb = numgrad(c.b, nb, &L), *da = nans(na), *db = nans(nb);
    concat_rows_backward_cpu_f64(da, db, r, B, A, Bn);
    check("da", rel_max(da, ga, na), TOL_FD);
    check("db", rel_max(db, gb, nb), TOL_FD);
    double *da2 = nans(na), *db2 = nans(nb);
    concat_rows_backward_cpu_f64(da2, NULL, r, B, A, Bn);
    concat_rows_backward_cpu_f64(NULL, db2, r, B, A, Bn);
    check("null", fmax(rel_max(da2, da, na), rel_max(db2, db, nb)), 0);
    float *fa = tof(c.a, na), *fb = tof(c.b, nb), *fr = tof(r, n), *fout = allocf(n), *fda = nansf(na), *fdb = nansf(nb);
    concat_rows_forward_cpu(fout, fa, fb, B, A, Bn);
    concat_rows_backward_cpu(fda, fdb, fr, B, A, Bn);
    check("f32", fmax(rel_l2f(fout, c.out, n), fmax(rel_l2f(fda, da, na), rel_l2f(fdb, db, nb))), TOL_F32);
    case_end();
    free(c.out); free(c.a); free(c.b); free(r); free(ref); free(ga); free(gb); free(da); free(db);
    free(da2); free(db2); free(fa); free(fb); free(fr); free(fout); free(fda); free(fdb);
}

/* ================================ hinge =============================== */

typedef struct { double out, *x; int n, sign; } Hinge;
static void hinge_fwd(void *v) { Hinge *h = v; h->out = hinge_forward_cpu_f64(h->x, h->n, h->sign); }

static void test_hinge(int n, int sign)
{
    case_begin("hinge n%d sign%+d:", n, sign);
    Hinge h = { 0, alloc(n), n, sign };
    for (int i = 0; i < n; i++) {   /* scores in [−3, 3], kept 0.05 away from the kink at −sign */
        double x;
        do x = 6 * urand() - 3; while (fabs(x + sign) < 0.05);
        h.x[i] = x;
    }
    double r = 2 * urand() - 1, ref = 0;
    hinge_fwd(&h);
    for (int i = 0; i < n; i++) ref += fmax(0, 1 + sign * h.x[i]);
    ref /= n;
    check("fwd", fabs(h.out - ref) / fabs(ref), TOL_FWD);
    Loss L = { hinge_fwd, &h, &h.out, &r, 1 };
    double *g = numgrad(h.x, n, &L), *dx = nans(n);
    hinge_backward_cpu_f64(dx, h.x, n, sign, r);
    check("dx", rel_max(dx, g, n), TOL_FD);
    /* relu'(0) = 0: a score exactly on the kink gets no gradient */
    double kink = -sign, dk = NAN;
    hinge_backward_cpu_f64(&dk, &kink, 1, sign, 1);
    check("kink", fabs(dk), 0);
    float *fx = tof(h.x, n), *fdx = nansf(n);
    float fo = hinge_forward_cpu(fx, n, sign);
    hinge_backward_cpu(fdx, fx, n, sign, (float)r);
    check("f32", fmax(fabs(fo - h.out) / fabs(h.out), rel_l2f(fdx, dx, n)), TOL_F32);
    case_end();
    free(h.x); free(g); free(dx); free(fx); free(fdx);
}

/* ================================ layout ============================== */

static void test_layout(int B, int C, int HW)
{
    const size_t n = (size_t)B * C * HW;
    case_begin("nchw<->cnhw B%d C%d HW%d:", B, C, HW);
    double *x = rnd(n), *y = alloc(n), *z = alloc(n), *ref = alloc(n);
    nchw_to_cnhw_cpu_f64(y, x, B, C, HW);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++) ref[((size_t)c * B + b) * HW + i] = x[((size_t)b * C + c) * HW + i];
    check("to_cnhw", rel_max(y, ref, n), 0);
    cnhw_to_nchw_cpu_f64(z, y, B, C, HW);
    check("roundtrip", rel_max(z, x, n), 0);
    float *fx = tof(x, n), *fy = allocf(n), *fz = allocf(n);
    nchw_to_cnhw_cpu(fy, fx, B, C, HW);
    cnhw_to_nchw_cpu(fz, fy, B, C, HW);
    check("f32", fmax(rel_l2f(fy, y, n), rel_l2f(fz, x, n)), TOL_F32);
    case_end();
    free(x); free(y); free(z); free(ref); free(fx); free(fy); free(fz);
}

/* ================================= vec ================================ */

static void test_vec(size_t n)
{
    case_begin("vec n%zu:", n);
    double *a = rnd(n), *b = rnd(n), *o = alloc(n), *ref = alloc(n);
    float *fa = tof(a, n), *fb = tof(b, n), *fo = allocf(n);
    vec_add_cpu_f64(o, a, b, n);
    vec_add_cpu(fo, fa, fb, n);
    for (size_t i = 0; i < n; i++) ref[i] = a[i] + b[i];
    check("add", rel_max(o, ref, n), 0);
    check("add_f32", rel_l2f(fo, ref, n), TOL_F32);
    memcpy(o, a, n * sizeof *o);
    vec_axpy_cpu_f64(o, 0.75, b, n);
    vec_axpy_cpu(fa, 0.75f, fb, n);
    for (size_t i = 0; i < n; i++) ref[i] = a[i] + 0.75 * b[i];
    check("axpy", rel_max(o, ref, n), 1e-15);
    check("axpy_f32", rel_l2f(fa, ref, n), TOL_F32);
    vec_scale_cpu_f64(o, -1.5, n);
    vec_scale_cpu(fa, -1.5f, n);
    for (size_t i = 0; i < n; i++) ref[i] *= -1.5;
    check("scale", rel_max(o, ref, n), 1e-15);
    check("scale_f32", rel_l2f(fa, ref, n), TOL_F32);
    double d = vec_dot_cpu_f64(a, b, n), dr = dot(a, b, n);
    float *fa2 = tof(a, n);
    check("dot", fabs(d - dr) / fabs(dr), 1e-12);
    check("dot_repeat", vec_dot_cpu_f64(a, b, n) != d, 0);
    check("dot_f32", fabs(vec_dot_cpu(fa2, fb, n) - dr) / fabs(dr), TOL_F32);
    case_end();
    free(a); free(b); free(o); free(ref); free(fa); free(fb); free(fo); free(fa2);
}

/* ================================= adam =============================== */

static void test_adam(size_t n, double lr, double b1, double b2, double eps)
{
    case_begin("adam n%zu lr%g betas(%g,%g) eps%g, 3 steps:", n, lr, b1, b2, eps);
    /* p starts at 0 so that it is the sum of the steps and errors are relative to them */
    double *p = alloc(n), *m = alloc(n), *v = alloc(n), *pr = alloc(n), *mr = alloc(n), *vr = alloc(n);
    float *fp = allocf(n), *fm = allocf(n), *fv = allocf(n);
    double e = 0, ef = 0;
    for (long t = 1; t <= 3; t++) {
        double *g = rnd(n);
        /* gradients over many magnitudes, so that eps's place in the denominator matters */
        for (size_t i = 0; i < n; i++) g[i] *= pow(10, -10 * urand());
        float *fg = tof(g, n);
        adam_update_cpu_f64(p, m, v, g, n, lr, b1, b2, eps, t);
        adam_update_cpu(fp, fm, fv, fg, n, lr, b1, b2, eps, t);
        for (size_t i = 0; i < n; i++) {   /* the textbook form */
            mr[i] = b1 * mr[i] + (1 - b1) * g[i];
            vr[i] = b2 * vr[i] + (1 - b2) * g[i] * g[i];
            double mhat = mr[i] / (1 - pow(b1, t)), vhat = vr[i] / (1 - pow(b2, t));
            pr[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
        e = fmax(e, fmax(rel_max(p, pr, n), fmax(rel_max(m, mr, n), rel_max(v, vr, n))));
        ef = fmax(ef, fmax(rel_l2f(fp, pr, n), fmax(rel_l2f(fm, mr, n), rel_l2f(fv, vr, n))));
        free(g);
        free(fg);
    }
    check("f64", e, 1e-12);
    check("f32", ef, TOL_F32);
    case_end();
    free(p); free(m); free(v); free(pr); free(mr); free(vr); free(fp); free(fm); free(fv);
}

/* ====== sizes past the ops' threading thresholds, against naive loops (no finite differences) ====== */

static void conv_naive_backward(double *din, double *dw, double *db, const double *dout, const double *in,
                                const double *w, int B, int C, int H, int W, int OC, int K, int s, int p)
{
    const int Ho = (H + 2 * p - K) / s + 1, Wo = (W + 2 * p - K) / s + 1;
    memset(din, 0, (size_t)C * B * H * W * sizeof *din);
    for (int oc = 0; oc < OC; oc++)
        for (int n = 0; n < B; n++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    const double g = dout[(((size_t)oc * B + n) * Ho + oh) * Wo + ow];
                    db[oc] += g;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                int ih = oh * s - p + kh, iw = ow * s - p + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                size_t iidx = (((size_t)c * B + n) * H + ih) * W + iw;
                                size_t widx = ((size_t)(oc * C + c) * K + kh) * K + kw;
                                dw[widx] += g * in[iidx];
                                din[iidx] += g * w[widx];
                            }
                }
}

static void test_conv_big(int B, int C, int H, int W, int OC, int K, int s, int p)
{
    const int Ho = (H + 2 * p - K) / s + 1, Wo = (W + 2 * p - K) / s + 1;
    const size_t nin = (size_t)C * B * H * W, nw = (size_t)OC * C * K * K, nout = (size_t)OC * B * Ho * Wo;
    case_begin("conv2d (big) B%d C%d %dx%d OC%d K%d s%d p%d:", B, C, H, W, OC, K, s, p);
    double *in = rnd(nin), *w = rnd(nw), *b = rnd(OC), *r = rnd(nout), *out = alloc(nout), *ref = alloc(nout);
    conv2d_forward_cpu_f64(out, in, w, b, B, C, H, W, OC, K, s, p);
    conv_naive(ref, in, w, b, B, C, H, W, OC, K, s, p);
    check("fwd", rel_max(out, ref, nout), TOL_FWD);
    double *din = nans(nin), *dw = alloc(nw), *db = alloc(OC), *rdin = alloc(nin), *rdw = alloc(nw), *rdb = alloc(OC);
    conv2d_backward_cpu_f64(din, dw, db, r, in, w, B, C, H, W, OC, K, s, p);
    conv_naive_backward(rdin, rdw, rdb, r, in, w, B, C, H, W, OC, K, s, p);
    check("din", rel_max(din, rdin, nin), TOL_FWD);
    check("dw", rel_max(dw, rdw, nw), TOL_FWD);
    check("db", rel_max(db, rdb, OC), TOL_FWD);
    /* many small chunks of output rows */
    size_t keep = conv2d_col_limit_cpu_f64;
    conv2d_col_limit_cpu_f64 = 16384;
    double *out2 = alloc(nout), *din2 = nans(nin), *dw2 = alloc(nw);
    conv2d_forward_cpu_f64(out2, in, w, b, B, C, H, W, OC, K, s, p);
    conv2d_backward_cpu_f64(din2, dw2, NULL, r, in, w, B, C, H, W, OC, K, s, p);
    conv2d_col_limit_cpu_f64 = keep;
    check("chunked", fmax(rel_max(out2, ref, nout), fmax(rel_max(din2, rdin, nin), rel_max(dw2, rdw, nw))), TOL_FWD);
    /* NULL gradients: din alone, dw alone (threads keep partial dw sums) */
    memset(dw2, 0, nw * sizeof *dw2);
    conv2d_backward_cpu_f64(din2, NULL, NULL, r, in, w, B, C, H, W, OC, K, s, p);
    conv2d_backward_cpu_f64(NULL, dw2, NULL, r, in, w, B, C, H, W, OC, K, s, p);
    check("null", fmax(rel_max(din2, rdin, nin), rel_max(dw2, rdw, nw)), TOL_FWD);
    free(out2); free(din2); free(dw2);
    float *fin = tof(in, nin), *fw = tof(w, nw), *fb = tof(b, OC), *fr = tof(r, nout);
    float *fout = allocf(nout), *fdin = nansf(nin), *fdw = allocf(nw), *fdb = allocf(OC);
    conv2d_forward_cpu(fout, fin, fw, fb, B, C, H, W, OC, K, s, p);
    conv2d_backward_cpu(fdin, fdw, fdb, fr, fin, fw, B, C, H, W, OC, K, s, p);
    double e = fmax(fmax(rel_l2f(fout, out, nout), rel_l2f(fdin, din, nin)),
                    fmax(rel_l2f(fdw, dw, nw), rel_l2f(fdb, db, OC)));
    check("f32", e, TOL_F32);
    check("fused", fused_lrelu_err(B, C, H, W, OC, K, s, p, fin, fw, fb, fr), 0);
    /* the same bits on every run, whichever thread takes which part (training must be
     * reproducible) */
    int differ = 0;
    for (int rep = 0; rep < 4; rep++) {
        float *o2 = allocf(nout), *di2 = nansf(nin), *dw2 = allocf(nw), *db2 = allocf(OC);
        conv2d_forward_cpu(o2, fin, fw, fb, B, C, H, W, OC, K, s, p);
        conv2d_backward_cpu(di2, dw2, db2, fr, fin, fw, B, C, H, W, OC, K, s, p);
        differ |= memcmp(o2, fout, nout * sizeof *o2) || memcmp(di2, fdin, nin * sizeof *di2) ||
                  memcmp(dw2, fdw, nw * sizeof *dw2) || memcmp(db2, fdb, OC * sizeof *db2);
        free(o2); free(di2); free(dw2); free(db2);
    }
    check("repeat", differ, 0);
    case_end();
    free(in); free(w); free(b); free(r); free(out); free(ref); free(din); free(dw); free(db);
    free(rdin); free(rdw); free(rdb); free(fin); free(fw); free(fb); free(fr); free(fout);
    free(fdin); free(fdw); free(fdb);
}

static void test_linear_big(int B, int I, int O)
{
    const size_t nin = (size_t)B * I, nw = (size_t)O * I, nout = (size_t)B * O;
    case_begin("linear (big) B%d I%d O%d:", B, I, O);
    double *in = rnd(nin), *w = rnd(nw), *b = rnd(O), *r = rnd(nout), *out = alloc(nout), *ref = alloc(nout);
    double *din = nans(nin), *dw0 = rnd(nw), *dw = dup(dw0, nw), *rdin = alloc(nin), *rdw = alloc(nw);
    linear_forward_cpu_f64(out, in, w, b, B, I, O);
    linear_backward_cpu_f64(din, dw, NULL, r, in, w, B, I, O);
    sub(dw, dw0, nw);
    for (int n = 0; n < B; n++)
        for (int o = 0; o < O; o++) {
            double acc = b[o];
            for (int i = 0; i < I; i++) {
                acc += in[(size_t)n * I + i] * w[(size_t)o * I + i];
                rdin[(size_t)n * I + i] += r[(size_t)n * O + o] * w[(size_t)o * I + i];
                rdw[(size_t)o * I + i] += r[(size_t)n * O + o] * in[(size_t)n * I + i];
            }
            ref[(size_t)n * O + o] = acc;
        }
    check("fwd", rel_max(out, ref, nout), TOL_FWD);
    check("din", rel_max(din, rdin, nin), TOL_FWD);
    check("dw", rel_max(dw, rdw, nw), 1e-10);
    float *fin = tof(in, nin), *fw = tof(w, nw), *fb = tof(b, O), *fr = tof(r, nout);
    float *fout = allocf(nout), *fdin = nansf(nin), *fdw = allocf(nw);
    linear_forward_cpu(fout, fin, fw, fb, B, I, O);
    linear_backward_cpu(fdin, fdw, NULL, fr, fin, fw, B, I, O);
    check("f32", fmax(rel_l2f(fout, out, nout), fmax(rel_l2f(fdin, din, nin), rel_l2f(fdw, dw, nw))), TOL_F32);
    case_end();
    free(in); free(w); free(b); free(r); free(out); free(ref); free(din); free(dw0); free(dw);
    free(rdin); free(rdw); free(fin); free(fw); free(fb); free(fr); free(fout); free(fdin); free(fdw);
}

static void test_big_rest(void)
{
    const size_t n = 200003;
    case_begin("activations (big) n%zu:", n);
    double *x = rnd_away(n, 1e-3), *y = alloc(n), *d = rnd(n), *dx = nans(n), *ref = alloc(n), *rg = alloc(n);
    for (int act = 0; act < 3; act++) {
        act == ACT_LEAKY ? leaky_relu_forward_cpu_f64(y, x, n, SLOPE)
        : act == ACT_RELU ? relu_forward_cpu_f64(y, x, n) : tanh_forward_cpu_f64(y, x, n);
        act_bwd_f64(act, dx, d, x, y, n, 0);
        for (size_t i = 0; i < n; i++) {
            ref[i] = act_ref(act, x[i]);
            rg[i] = act == ACT_TANH ? d[i] * (1 - ref[i] * ref[i]) : x[i] > 0 ? d[i] : act == ACT_LEAKY ? SLOPE * d[i] : 0;
        }
        char what[32];
        snprintf(what, sizeof what, "%s", act_name[act]);
        check(what, fmax(rel_max(y, ref, n), rel_max(dx, rg, n)), TOL_FWD);
    }
    case_end();
    free(x); free(y); free(d); free(dx); free(ref); free(rg);

    /* resampling: 64 planes of 64x64 (avgpool) and of 32x32 (upsample) */
    const int P = 64, H = 64, W = 64;
    const size_t nb = (size_t)P * H * W, ns = nb / 4;
    case_begin("resample (big) planes%d %dx%d <-> %dx%d:", P, H, W, H / 2, W / 2);
    double *big = rnd(nb), *small = rnd(ns), *ob = alloc(nb), *os = alloc(ns), *rb = alloc(nb), *rs = alloc(ns);
    upsample2x_forward_cpu_f64(ob, small, P, H / 2, W / 2);
    upsample2x_backward_cpu_f64(os, big, P, H / 2, W / 2);
    for (int p = 0; p < P; p++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                size_t kb = ((size_t)p * H + i) * W + j, ks = ((size_t)p * (H / 2) + i / 2) * (W / 2) + j / 2;
                rb[kb] = small[ks];
                if (i % 2 == 0 && j % 2 == 0) rs[ks] = big[kb] + big[kb + 1] + big[kb + W] + big[kb + W + 1];
            }
    check("up_fwd", rel_max(ob, rb, nb), 0);
    check("up_bwd", rel_max(os, rs, ns), TOL_FWD);
    avgpool2x2_forward_cpu_f64(os, big, P, H, W);
    avgpool2x2_backward_cpu_f64(ob, small, P, H, W);
    for (size_t i = 0; i < ns; i++) rs[i] /= 4;
    for (size_t i = 0; i < nb; i++) rb[i] /= 4;
    check("pool_fwd", rel_max(os, rs, ns), TOL_FWD);
    check("pool_bwd", rel_max(ob, rb, nb), TOL_FWD);
    case_end();
    free(big); free(small); free(ob); free(os); free(rb); free(rs);

    /* affine, replicate, layout at DF-GAN-like sizes */
    const int C = 32, B = 16, HW = 256;
    const size_t na = (size_t)C * B * HW, np = (size_t)B * C;
    case_begin("affine/replicate/layout (big) C%d B%d HW%d:", C, B, HW);
    double *ax = rnd(na), *ag = rnd(np), *ab = rnd(np), *ao = alloc(na), *ad = rnd(na);
    double *adx = nans(na), *adg = nans(np), *adb = nans(np), *r1 = alloc(na), *r2 = alloc(np), *r3 = alloc(np), *r4 = alloc(na);
    affine_forward_cpu_f64(ao, ax, ag, ab, C, B, HW);
    affine_backward_cpu_f64(adx, adg, adb, ad, ax, ag, C, B, HW);
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                size_t k = ((size_t)c * B + b) * HW + i, q = (size_t)b * C + c;
                r1[k] = ag[q] * ax[k] + ab[q];
                r4[k] = ag[q] * ad[k];
                r2[q] += ad[k] * ax[k];
                r3[q] += ad[k];
            }
    check("affine_fwd", rel_max(ao, r1, na), TOL_FWD);
    check("affine_bwd", fmax(rel_max(adx, r4, na), fmax(rel_max(adg, r2, np), rel_max(adb, r3, np))), TOL_FWD);
    /* replicate with S = C: s (B,C) -> (C,B,HW) */
    double *rep = alloc(na), *ds = nans(np);
    replicate_forward_cpu_f64(rep, ag, B, C, HW);
    replicate_backward_cpu_f64(ds, ad, B, C, HW);
    memset(r2, 0, np * sizeof *r2);
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < HW; i++) {
                size_t k = ((size_t)c * B + b) * HW + i;
                r1[k] = ag[(size_t)b * C + c];
                r2[(size_t)b * C + c] += ad[k];
            }
    check("replicate", fmax(rel_max(rep, r1, na), rel_max(ds, r2, np)), TOL_FWD);
    nchw_to_cnhw_cpu_f64(ao, ax, B, C, HW);
    cnhw_to_nchw_cpu_f64(rep, ao, B, C, HW);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            memcpy(r1 + ((size_t)c * B + b) * HW, ax + ((size_t)b * C + c) * HW, HW * sizeof *r1);
    check("layout", fmax(rel_max(ao, r1, na), rel_max(rep, ax, na)), 0);
    case_end();
    free(ax); free(ag); free(ab); free(ao); free(ad); free(adx); free(adg); free(adb);
    free(r1); free(r2); free(r3); free(r4); free(rep); free(ds);
}

/* ========== Inception's and DAMSM's ops: forward only, against naive loops ========== */

/* conv2d_rect_forward: in (C,B,H,W), w (OC,C,KH,KW) -> out (OC,B,Ho,Wo), bias and ReLU after */
static void test_conv_rect(int B, int C, int H, int W, int OC, int KH, int KW, int sh, int sw, int ph, int pw,
                           int bias, int relu)
{
    const int Ho = (H + 2 * ph - KH) / sh + 1, Wo = (W + 2 * pw - KW) / sw + 1;
    const size_t nin = (size_t)C * B * H * W, nw = (size_t)OC * C * KH * KW, nout = (size_t)OC * B * Ho * Wo;
    case_begin("conv2d_rect B%d C%d %dx%d OC%d %dx%d s%d,%d p%d,%d%s%s:", B, C, H, W, OC, KH, KW, sh, sw, ph, pw,
               bias ? "" : " nobias", relu ? " relu" : "");
    double *in = rnd(nin), *w = rnd(nw), *b = bias ? rnd(OC) : NULL, *out = nans(nout), *ref = alloc(nout);
    for (int o = 0; o < OC; o++)
        for (int bb = 0; bb < B; bb++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double s = b ? b[o] : 0;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < KH; kh++)
                            for (int kw = 0; kw < KW; kw++) {
                                int ih = oh * sh - ph + kh, iw = ow * sw - pw + kw;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    s += w[(((size_t)o * C + c) * KH + kh) * KW + kw] *
                                         in[(((size_t)c * B + bb) * H + ih) * W + iw];
                            }
                    ref[(((size_t)o * B + bb) * Ho + oh) * Wo + ow] = relu && s < 0 ? 0 : s;
                }
    conv2d_rect_forward_cpu_f64(out, in, w, b, B, C, H, W, OC, KH, KW, sh, sw, ph, pw, relu);
    check("fwd", rel_max(out, ref, nout), TOL_FWD);
    float *fin = tof(in, nin), *fw = tof(w, nw), *fb = b ? tof(b, OC) : NULL, *fout = nansf(nout);
    conv2d_rect_forward_cpu(fout, fin, fw, fb, B, C, H, W, OC, KH, KW, sh, sw, ph, pw, relu);
    check("f32", rel_l2f(fout, out, nout), TOL_F32);
    case_end();
    free(in); free(w); free(b); free(out); free(ref); free(fin); free(fw); free(fb); free(fout);
}

/* bias_relu_forward: out (rows,N) = relu(in + b[row]), also in place */
static void test_bias_relu(int rows, size_t N)
{
    const size_t n = (size_t)rows * N;
    case_begin("bias_relu rows%d N%zu:", rows, N);
    double *in = rnd(n), *b = rnd(rows), *out = nans(n), *ref = alloc(n);
    for (size_t i = 0; i < n; i++) ref[i] = fmax(in[i] + b[i / N], 0);
    bias_relu_forward_cpu_f64(out, in, b, rows, N);
    check("fwd", rel_max(out, ref, n), 0);
    bias_relu_forward_cpu_f64(in, in, b, rows, N);
    check("inplace", rel_max(in, ref, n), 0);
    float *fin = tof(ref, n), *fb = tof(b, rows);   /* relu(relu(x) + b) computed both ways */
    bias_relu_forward_cpu(fin, fin, fb, rows, N);
    bias_relu_forward_cpu_f64(ref, ref, b, rows, N);
    check("f32", rel_l2f(fin, ref, n), TOL_F32);
    case_end();
    free(in); free(b); free(out); free(ref); free(fin); free(fb);
}

/* equal, or both NaN, everywhere */
static double nan_aware_diff(const double *a, const double *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            if (!(isnan(a[i]) && isnan(b[i]))) return 1;
            continue;
        }
        e = fmax(e, fabs(a[i] - b[i]));
    }
    return e;
}

/* maxpool3_forward: 3x3 windows, stride s, padding p; a NaN wins its windows */
static void test_maxpool3(int planes, int H, int W, int s, int p)
{
    const int Ho = (H + 2 * p - 3) / s + 1, Wo = (W + 2 * p - 3) / s + 1;
    const size_t nin = (size_t)planes * H * W, nout = (size_t)planes * Ho * Wo;
    case_begin("maxpool3 planes%d %dx%d s%d p%d:", planes, H, W, s, p);
    double *in = rnd(nin), *out = nans(nout), *ref = alloc(nout);
    for (int nanpass = 0; nanpass < 2; nanpass++) {
        if (nanpass) in[(size_t)H * W + (size_t)(H / 2) * W + W / 2] = NAN;   /* plane 1's centre */
        for (int q = 0; q < planes; q++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double m = -INFINITY;
                    for (int kh = 0; kh < 3; kh++)
                        for (int kw = 0; kw < 3; kw++) {
                            int ih = oh * s - p + kh, iw = ow * s - p + kw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            double v = in[((size_t)q * H + ih) * W + iw];
                            if (v > m || isnan(v)) m = v;
                        }
                    ref[((size_t)q * Ho + oh) * Wo + ow] = m;
                }
        maxpool3_forward_cpu_f64(out, in, planes, H, W, s, p);
        check(nanpass ? "nan" : "fwd", nan_aware_diff(out, ref, nout), 0);
    }
    float *fin = tof(in, nin), *fout = nansf(nout);
    maxpool3_forward_cpu(fout, fin, planes, H, W, s, p);
    double e = 0;   /* the max of rounded values is the rounded max */
    for (size_t i = 0; i < nout; i++) e = fmax(e, isnan(out[i]) != isnan(fout[i]) ? 1 : isnan(out[i]) ? 0 : fabs(fout[i] - (float)out[i]));
    check("f32", e, 0);
    case_end();
    free(in); free(out); free(ref); free(fin); free(fout);
}

/* avgpool3_bias_relu_forward: 3x3 stride-1 pad-1 average (divisor 9, or the in-image taps),
 * bias per channel, ReLU */
static void test_avgpool3(int C, int B, int H, int W, int cip, int bias, int relu)
{
    const size_t n = (size_t)C * B * H * W;
    case_begin("avgpool3_bias_relu C%d B%d %dx%d count_include_pad%d%s%s:", C, B, H, W, cip, bias ? " bias" : "",
               relu ? " relu" : "");
    double *in = rnd(n), *b = bias ? rnd(C) : NULL, *out = nans(n), *ref = alloc(n);
    for (int c = 0; c < C; c++)
        for (int bb = 0; bb < B; bb++)
            for (int oh = 0; oh < H; oh++)
                for (int ow = 0; ow < W; ow++) {
                    const double *x = in + ((size_t)c * B + bb) * H * W;
                    double s = 0;
                    int cnt = 0;
                    for (int ih = oh - 1; ih <= oh + 1; ih++)
                        for (int iw = ow - 1; iw <= ow + 1; iw++)
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += x[(size_t)ih * W + iw], cnt++;
                    double v = s / (cip ? 9 : cnt) + (b ? b[c] : 0);
                    ref[(((size_t)c * B + bb) * H + oh) * W + ow] = relu && v < 0 ? 0 : v;
                }
    avgpool3_bias_relu_forward_cpu_f64(out, in, C, B, H, W, cip, b, relu);
    check("fwd", rel_max(out, ref, n), TOL_FWD);
    float *fin = tof(in, n), *fb = b ? tof(b, C) : NULL, *fout = nansf(n);
    avgpool3_bias_relu_forward_cpu(fout, fin, C, B, H, W, cip, fb, relu);
    check("f32", rel_l2f(fout, out, n), TOL_F32);
    case_end();
    free(in); free(b); free(out); free(ref); free(fin); free(fb); free(fout);
}

/* meanpool_forward: the mean of each plane */
static void test_meanpool(int planes, int HW)
{
    const size_t n = (size_t)planes * HW;
    case_begin("meanpool planes%d HW%d:", planes, HW);
    double *in = rnd(n), *out = nans(planes), *ref = alloc(planes);
    for (int q = 0; q < planes; q++) {
        for (int i = 0; i < HW; i++) ref[q] += in[(size_t)q * HW + i];
        ref[q] /= HW;
    }
    meanpool_forward_cpu_f64(out, in, planes, HW);
    check("fwd", rel_max(out, ref, planes), TOL_FWD);
    float *fin = tof(in, n), *fout = nansf(planes);
    meanpool_forward_cpu(fout, fin, planes, HW);
    check("f32", rel_l2f(fout, out, planes), TOL_F32);
    case_end();
    free(in); free(out); free(ref); free(fin); free(fout);
}

/* resize_bilinear2d_forward: PyTorch's upsample_bilinear2d, align_corners ac */
static void test_resize_bilinear2d(int planes, int H, int W, int Ho, int Wo, int ac)
{
    const size_t nin = (size_t)planes * H * W, nout = (size_t)planes * Ho * Wo;
    case_begin("resize_bilinear2d planes%d %dx%d -> %dx%d align_corners%d:", planes, H, W, Ho, Wo, ac);
    double *in = rnd(nin), *out = nans(nout), *ref = alloc(nout);
    for (int q = 0; q < planes; q++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++) {
                /* source coordinates as area_pixel_compute_source_index; taps i, i+1 (clamped) */
                double sy = ac ? (Ho > 1 ? oh * (double)(H - 1) / (Ho - 1) : 0) : fmax((oh + 0.5) * H / Ho - 0.5, 0);
                double sx = ac ? (Wo > 1 ? ow * (double)(W - 1) / (Wo - 1) : 0) : fmax((ow + 0.5) * W / Wo - 0.5, 0);
                int y0 = (int)sy, x0 = (int)sx, y1 = y0 + 1 < H ? y0 + 1 : H - 1, x1 = x0 + 1 < W ? x0 + 1 : W - 1;
                double ly = sy - y0, lx = sx - x0;
                const double *p = in + (size_t)q * H * W;
                ref[((size_t)q * Ho + oh) * Wo + ow] =
                    (1 - ly) * ((1 - lx) * p[y0 * W + x0] + lx * p[y0 * W + x1]) +
                    ly * ((1 - lx) * p[y1 * W + x0] + lx * p[y1 * W + x1]);
            }
    resize_bilinear2d_forward_cpu_f64(out, in, planes, H, W, Ho, Wo, ac);
    check("fwd", rel_max(out, ref, nout), TOL_FWD);
    float *fin = tof(in, nin), *fout = nansf(nout);
    resize_bilinear2d_forward_cpu(fout, fin, planes, H, W, Ho, Wo, ac);
    check("f32", rel_l2f(fout, out, nout), TOL_F32);
    case_end();
    free(in); free(out); free(ref); free(fin); free(fout);
}

/* lstm_forward: B sequences of lengths 1..L over a vocabulary of V ids, D directions, against a
 * step-by-step nn.LSTM; words (pre-filled with NaN) must be assigned everywhere, zeros past each
 * length, and sent must not depend on whether words are asked for */
static double sigm(double x) { return 1 / (1 + exp(-x)); }
static void test_lstm(int64_t B, int64_t L, int H, int V, int D)
{
    const int G = 4 * H, DH = D * H;
    const size_t nproj = (size_t)V * D * G, nwhh = (size_t)G * H, nsent = (size_t)B * DH, nwords = nsent * L;
    case_begin("lstm B%lld L%lld H%d V%d directions %d:", (long long)B, (long long)L, H, V, D);
    double *proj = rnd(nproj), *whh[2] = {rnd(nwhh), rnd(nwhh)};
    for (size_t i = 0; i < nwhh; i++) whh[0][i] *= 2 / sqrt(H), whh[1][i] *= 2 / sqrt(H);
    int32_t *ids = calloc((size_t)(B * L), sizeof *ids);
    int *lens = calloc((size_t)B, sizeof *lens);
    if (!ids || !lens) abort();
    for (int64_t b = 0; b < B; b++) {
        lens[b] = b % 3 == 0 ? (int)L : 1 + (int)(urand() * L);   /* ties and full rows too */
        if (lens[b] > L) lens[b] = (int)L;
        for (int t = 0; t < lens[b]; t++) ids[b * L + t] = (int32_t)(urand() * V);
    }
    double *rs = alloc(nsent), *rw = alloc(nwords), *h = alloc(H), *c = alloc(H), *g = alloc(G);
    for (int64_t b = 0; b < B; b++)
        for (int d = 0; d < D; d++) {
            memset(h, 0, H * sizeof *h);
            memset(c, 0, H * sizeof *c);
            for (int s = 0; s < lens[b]; s++) {
                int64_t t = d ? lens[b] - 1 - s : s;
                for (int k = 0; k < G; k++) g[k] = proj[(size_t)ids[b * L + t] * D * G + d * G + k];
                for (int k = 0; k < G; k++)
                    for (int j = 0; j < H; j++) g[k] += whh[d][(size_t)k * H + j] * h[j];
                for (int j = 0; j < H; j++) {
                    c[j] = sigm(g[H + j]) * c[j] + sigm(g[j]) * tanh(g[2 * H + j]);
                    h[j] = sigm(g[3 * H + j]) * tanh(c[j]);
                    rw[((size_t)b * DH + d * H + j) * L + t] = h[j];
                }
            }
            memcpy(rs + (size_t)b * DH + d * H, h, H * sizeof *h);
        }
    const double *wb = D == 2 ? whh[1] : NULL;
    double *sent = nans(nsent), *words = nans(nwords), *sent2 = nans(nsent);
    lstm_forward_cpu_f64(sent, words, proj, ids, lens, whh[0], wb, B, L, H);
    check("sent", rel_max(sent, rs, nsent), TOL_FWD);
    check("words", rel_max(words, rw, nwords), TOL_FWD);
    lstm_forward_cpu_f64(sent2, NULL, proj, ids, lens, whh[0], wb, B, L, H);
    check("nowords", rel_max(sent2, sent, nsent), 0);
    float *fp = tof(proj, nproj), *fwf = tof(whh[0], nwhh), *fwb = tof(whh[1], nwhh);
    float *fs = nansf(nsent), *fwd = nansf(nwords);
    lstm_forward_cpu(fs, fwd, fp, ids, lens, fwf, D == 2 ? fwb : NULL, B, L, H);
    check("f32", fmax(rel_l2f(fs, sent, nsent), rel_l2f(fwd, words, nwords)), TOL_F32);
    case_end();
    free(proj); free(whh[0]); free(whh[1]); free(ids); free(lens); free(rs); free(rw); free(h); free(c);
    free(g); free(sent); free(words); free(sent2); free(fp); free(fwf); free(fwb); free(fs); free(fwd);
}

int main(void)
{
    /* conv2d: K=1 (gemm only), K=3 p1, K=4 s2 p1, K=4 p0 on 4x4 (NetC's last), odd shapes,
     * strided 1x1, padded 1x1, a kernel larger than the input, B>1, C≠OC */
    static const int cv[][8] = {
        /* B C  H  W OC K s p */
        { 2, 3, 4, 5, 4, 1, 1, 0 },
        { 2, 3, 5, 6, 4, 3, 1, 1 },
        { 2, 3, 6, 8, 5, 4, 2, 1 },
        { 3, 5, 4, 4, 1, 4, 1, 0 },
        { 2, 2, 7, 5, 3, 3, 2, 0 },
        { 2, 3, 5, 4, 2, 1, 2, 0 },
        { 2, 2, 3, 4, 3, 1, 1, 1 },
        { 1, 2, 7, 9, 3, 5, 3, 2 },
        { 2, 2, 2, 3, 2, 4, 1, 1 },
        { 3, 4, 6, 6, 4, 3, 1, 1 },
        /* wide and odd enough for the float build's direct kernels (lib/cpu/conv_direct.c) to
         * take their vector paths and edges: 3x3 s1 p1 and 4x4 s2 p1 */
        { 2, 3, 5, 37, 9, 3, 1, 1 },
        { 2, 3, 7, 37, 5, 4, 2, 1 },
        { 1, 2, 6, 34, 3, 4, 2, 1 },
    };
    for (size_t i = 0; i < sizeof cv / sizeof cv[0]; i++)
        for (int bias = 1; bias >= 0; bias--)
            test_conv(cv[i][0], cv[i][1], cv[i][2], cv[i][3], cv[i][4], cv[i][5], cv[i][6], cv[i][7], bias);
    test_linear(3, 5, 4, 1);
    test_linear(3, 5, 4, 0);
    test_linear(1, 7, 2, 1);
    for (int a = 0; a < 3; a++) test_act(a, 61);
    test_resample(1, 3, 3, 4);
    test_resample(0, 3, 4, 6);
    test_affine(3, 2, 5);
    test_affine_lrelu(3, 2, 5);
    test_affine_lrelu(4, 3, 300);     /* big enough to split over threads */
    test_avgpool_add(3, 4, 6);
    test_avgpool_add(5, 64, 64);
    test_replicate(2, 3, 4);
    test_concat(2, 3, 4);
    test_hinge(7, -1);
    test_hinge(7, +1);
    test_layout(3, 4, 5);
    test_vec(100003);
    test_adam(257, 1e-4, 0.0, 0.9, 1e-8);   /* DF-GAN's G */
    test_adam(257, 1e-3, 0.5, 0.999, 1e-8);
    /* big enough for conv2d to split the batch over threads (B = 5: uneven ranges) */
    test_conv_big(5, 8, 24, 20, 16, 3, 1, 1);
    test_conv_big(5, 8, 24, 20, 16, 4, 2, 1);
    test_conv_big(5, 32, 16, 16, 32, 1, 1, 0);
    /* the float build's Winograd F(2x2,3x3) (lib/cpu/conv_winograd.c: 3x3 s1 p1, even sizes
     * from 8, 16 channels or more each way): rows of 18 tiles (two vectors, the second
     * partial), 8 tiles (two rows a vector, an odd count), 6 (one row a vector), 4 (four) */
    test_conv_big(5, 16, 8, 36, 24, 3, 1, 1);
    test_conv_big(3, 16, 10, 16, 20, 3, 1, 1);
    test_conv_big(2, 17, 8, 12, 16, 3, 1, 1);
    test_conv_big(3, 32, 8, 8, 19, 3, 1, 1);
    test_conv_big(3, 16, 4, 4, 16, 3, 1, 1);     /* rows of 2 tiles: 8 rows a vector, 6 in all */
    test_conv_big(5, 16, 4, 4, 32, 3, 1, 1);     /* 10 rows: a full vector and 2 */
    /* 4x4 stride 2 by F(2x2,2x2) over the parity classes (conv_winograd.c): rows of 4, 8, 16
     * and 20 tiles (a partial second vector), odd counts of rows */
    test_conv_big(3, 4, 20, 16, 16, 4, 2, 1);
    test_conv_big(2, 5, 20, 32, 17, 4, 2, 1);
    test_conv_big(2, 4, 20, 64, 16, 4, 2, 1);
    test_conv_big(1, 4, 20, 80, 18, 4, 2, 1);
    test_conv_big(3, 4, 8, 8, 16, 4, 2, 1);      /* rows of 2 tiles */
    /* and its data gradient (taken from 64 input channels): rows of 4, 8 and 16 tiles */
    test_conv_big(1, 64, 20, 16, 16, 4, 2, 1);
    test_conv_big(1, 64, 20, 32, 16, 4, 2, 1);
    test_conv_big(1, 64, 16, 64, 16, 4, 2, 1);
    test_conv_big(3, 64, 8, 8, 16, 4, 2, 1);
    /* 1x1 in the float build's direct kernels: a partial last tile and vector (N = 105) */
    test_conv_big(3, 9, 5, 7, 10, 1, 1, 0);
    test_linear_big(16, 256, 301);
    test_big_rest();
    /* Inception's ops: its kernel shapes (1x1 as a bare gemm, 1x3, 7x1, 3x3 stride 2, 5x5), an
     * uneven stride, and 128 channels 3x3 on 24x24 (its column buffer in 2 and 3 chunks, float
     * and double) */
    static const int cr[][11] = {
        /* B C  H  W OC KH KW sh sw ph pw */
        { 2, 3, 4, 5, 4, 1, 1, 1, 1, 0, 0 },
        { 2, 3, 5, 6, 4, 1, 3, 1, 1, 0, 1 },
        { 2, 2, 8, 3, 3, 7, 1, 1, 1, 3, 0 },
        { 2, 3, 9, 7, 5, 3, 3, 2, 2, 0, 0 },
        { 1, 2, 6, 7, 3, 3, 3, 1, 2, 1, 0 },
        { 2, 2, 6, 6, 3, 5, 5, 1, 1, 2, 2 },
        { 2, 128, 24, 24, 8, 3, 3, 1, 1, 1, 1 },
    };
    for (size_t i = 0; i < sizeof cr / sizeof cr[0]; i++)
        for (int k = 0; k < 3; k++)   /* bias and ReLU, neither, ReLU without bias */
            test_conv_rect(cr[i][0], cr[i][1], cr[i][2], cr[i][3], cr[i][4], cr[i][5], cr[i][6], cr[i][7], cr[i][8],
                           cr[i][9], cr[i][10], k == 0, k != 1);
    test_bias_relu(5, 33);
    test_bias_relu(7, 20000);
    test_maxpool3(3, 7, 8, 2, 0);
    test_maxpool3(3, 7, 8, 1, 1);
    test_maxpool3(2, 6, 9, 2, 1);
    for (int cip = 0; cip < 2; cip++) {
        test_avgpool3(3, 2, 5, 6, cip, 1, 1);
        test_avgpool3(3, 2, 5, 6, cip, 0, 0);
        test_avgpool3(2, 1, 1, 4, cip, 1, 0);
        test_avgpool3(1, 2, 3, 1, cip, 0, 1);
    }
    test_meanpool(6, 25);
    test_meanpool(5000, 64);
    for (int ac = 0; ac < 2; ac++) {
        test_resize_bilinear2d(2, 5, 4, 7, 9, ac);
        test_resize_bilinear2d(2, 9, 8, 4, 3, ac);
        test_resize_bilinear2d(1, 3, 4, 1, 1, ac);
        test_resize_bilinear2d(1, 64, 80, 299, 299, ac);
    }
    /* DAMSM's LSTM: one chunk; two chunks (130 > 128 sequences); big enough to use the threads */
    test_lstm(9, 5, 3, 7, 2);
    test_lstm(9, 5, 3, 7, 1);
    test_lstm(130, 6, 4, 11, 2);
    test_lstm(130, 5, 32, 13, 2);
    if (failures) {
        fprintf(stderr, "gradcheck: %d of %d checks FAILED\n", failures, checks);
        return 1;
    }
    printf("gradcheck: all %d checks passed\n", checks);
    return 0;
}
