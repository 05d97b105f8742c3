/* clip_gradcheck.c: checks CLIP's CPU ops (lib/core/op_list.h) in double (the _cpu_f64 build):
 *   - forwards against naive references written here (layernorm, quickgelu, attention with and
 *     without the causal mask over packed sequences of different lengths);
 *   - every analytic gradient of L = Σ r·out, r random, against central differences (eps 1e-6),
 *     error = max|analytic − numeric| / max|numeric|, tolerance 1e-6; activation gradients are
 *     pre-filled with NaN (they must be assigned), parameter gradients pre-filled with 1 (they
 *     must accumulate);
 *   - the float build against the double one (relative L2 < 1e-5).
 * resize covers bicubic, bilinear and nearest, up and down, non-square. One line per case;
 * exits 1 if anything failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/ops.h"

#define FD_EPS 1e-6
#define TOL_FD 1e-6
#define TOL_FWD 1e-12
#define TOL_F32 1e-5

static int failures = 0;
static uint64_t rng_s = 0x9E3779B97F4A7C15ULL;
static double urand(void)
{
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}
static double *alloc(size_t n) { double *p = calloc(n ? n : 1, sizeof *p); if (!p) abort(); return p; }
static double *rnd(size_t n, double s) { double *p = alloc(n); for (size_t i = 0; i < n; i++) p[i] = s * (2 * urand() - 1); return p; }
static double *fill(size_t n, double v) { double *p = alloc(n); for (size_t i = 0; i < n; i++) p[i] = v; return p; }
static float *tof(const double *a, size_t n) { float *p = malloc((n ? n : 1) * sizeof *p); for (size_t i = 0; i < n; i++) p[i] = (float)a[i]; return p; }
static double dot(const double *a, const double *b, size_t n) { double s = 0; for (size_t i = 0; i < n; i++) s += a[i] * b[i]; return s; }
static double rel_max(const double *a, const double *b, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs(a[i] - b[i]);
        if (isnan(d)) return NAN;
        if (d > e) e = d;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return e / (m > 1e-300 ? m : 1);
}
static double rel_l2f(const float *f, const double *d, size_t n)
{
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) { const double x = f[i] - d[i]; if (isnan(x)) return NAN; e += x * x; m += d[i] * d[i]; }
    return sqrt(e) / (m > 1e-300 ? sqrt(m) : 1);
}
static void report(const char *name, const char *what, double err, double tol)
{
    const int ok = err <= tol;   /* NaN fails */
    printf("%-4s %-28s %-14s %.3e (tol %.0e)\n", ok ? "ok" : "FAIL", name, what, err, tol);
    if (!ok) failures++;
}

/* L(x) = Σ r·f(x) for the op under test; `x` is the input perturbed */
typedef void (*fwd_fn)(double *out, void *ctx);
/* numeric gradient of Σ r·out wrt x[0..n) */
static double *numgrad(double *x, size_t n, fwd_fn f, void *ctx, const double *r, size_t nout)
{
    double *g = alloc(n), *out = alloc(nout);
    for (size_t i = 0; i < n; i++) {
        const double x0 = x[i];
        x[i] = x0 + FD_EPS; f(out, ctx); const double lp = dot(r, out, nout);
        x[i] = x0 - FD_EPS; f(out, ctx); const double lm = dot(r, out, nout);
        x[i] = x0;
        g[i] = (lp - lm) / (2 * FD_EPS);
    }
    free(out);
    return g;
}
static void sub1(double *a, size_t n) { for (size_t i = 0; i < n; i++) a[i] -= 1; }

/* ---------------------------------------------------------------- layernorm */
typedef struct { double *x, *w, *b; int N, C; } ln_ctx;
static void ln_f(double *out, void *p) { ln_ctx *c = p; layernorm_forward_cpu_f64(out, NULL, NULL, c->x, c->w, c->b, c->N, c->C, 1e-5); }

static void check_layernorm(int N, int C)
{
    char name[64];
    snprintf(name, sizeof name, "layernorm N%d C%d", N, C);
    ln_ctx c = {rnd((size_t)N * C, 2), rnd(C, 1.5), rnd(C, 1), N, C};
    const size_t n = (size_t)N * C;
    double *out = alloc(n), *mean = alloc(N), *rstd = alloc(N), *ref = alloc(n);
    layernorm_forward_cpu_f64(out, mean, rstd, c.x, c.w, c.b, N, C, 1e-5);
    for (int i = 0; i < N; i++) {
        double m = 0, v = 0;
        for (int k = 0; k < C; k++) m += c.x[i * C + k] / C;
        for (int k = 0; k < C; k++) v += (c.x[i * C + k] - m) * (c.x[i * C + k] - m) / C;
        for (int k = 0; k < C; k++) ref[i * C + k] = (c.x[i * C + k] - m) / sqrt(v + 1e-5) * c.w[k] + c.b[k];
    }
    report(name, "forward", rel_max(out, ref, n), TOL_FWD);
    double *r = rnd(n, 1), *dx = fill(n, NAN), *dw = fill(C, 1), *db = fill(C, 1);
    layernorm_backward_cpu_f64(dx, dw, db, r, c.x, mean, rstd, c.w, N, C);
    sub1(dw, C); sub1(db, C);
    double *gx = numgrad(c.x, n, ln_f, &c, r, n), *gw = numgrad(c.w, C, ln_f, &c, r, n), *gb = numgrad(c.b, C, ln_f, &c, r, n);
    report(name, "dx", rel_max(dx, gx, n), TOL_FD);
    report(name, "dw (+=)", rel_max(dw, gw, C), TOL_FD);
    report(name, "db (+=)", rel_max(db, gb, C), TOL_FD);
    float *xf = tof(c.x, n), *wf = tof(c.w, C), *bf = tof(c.b, C), *of = malloc(n * sizeof *of), *mf = malloc(N * sizeof *mf),
          *rf = malloc(N * sizeof *rf), *rrf = tof(r, n), *dxf = malloc(n * sizeof *dxf);
    layernorm_forward_cpu(of, mf, rf, xf, wf, bf, N, C, 1e-5);
    layernorm_backward_cpu(dxf, NULL, NULL, rrf, xf, mf, rf, wf, N, C);
    report(name, "float fwd, dx", fmax(rel_l2f(of, out, n), rel_l2f(dxf, dx, n)), TOL_F32);
    free(c.x); free(c.w); free(c.b); free(out); free(mean); free(rstd); free(ref); free(r); free(dx); free(dw); free(db);
    free(gx); free(gw); free(gb); free(xf); free(wf); free(bf); free(of); free(mf); free(rf); free(rrf); free(dxf);
}

/* ---------------------------------------------------------------- quickgelu */
typedef struct { double *x; size_t n; } qg_ctx;
static void qg_f(double *out, void *p) { qg_ctx *c = p; quickgelu_forward_cpu_f64(out, c->x, c->n); }

static void check_quickgelu(size_t n)
{
    qg_ctx c = {rnd(n, 4), n};
    double *out = alloc(n), *ref = alloc(n);
    quickgelu_forward_cpu_f64(out, c.x, n);
    for (size_t i = 0; i < n; i++) ref[i] = c.x[i] / (1 + exp(-1.702 * c.x[i]));
    report("quickgelu", "forward", rel_max(out, ref, n), TOL_FWD);
    double *r = rnd(n, 1), *dx = fill(n, NAN);
    quickgelu_backward_cpu_f64(dx, r, c.x, n);
    double *g = numgrad(c.x, n, qg_f, &c, r, n);
    report("quickgelu", "dx", rel_max(dx, g, n), TOL_FD);
    float *xf = tof(c.x, n), *of = malloc(n * sizeof *of), *rf = tof(r, n), *dxf = malloc(n * sizeof *dxf);
    quickgelu_forward_cpu(of, xf, n);
    quickgelu_backward_cpu(dxf, rf, xf, n);
    report("quickgelu", "float fwd, dx", fmax(rel_l2f(of, out, n), rel_l2f(dxf, dx, n)), TOL_F32);
    free(c.x); free(out); free(ref); free(r); free(dx); free(g); free(xf); free(of); free(rf); free(dxf);
}

/* ---------------------------------------------------------------- attention */
typedef struct { double *qkv; const int *off; int B, C, nh, causal; } at_ctx;
static void at_f(double *out, void *p) { at_ctx *c = p; attention_forward_cpu_f64(out, NULL, c->qkv, c->off, c->B, c->C, c->nh, c->causal); }

static void check_attention(const int *lens, int B, int C, int nh, int causal)
{
    char name[64];
    snprintf(name, sizeof name, "attention B%d C%d nh%d%s", B, C, nh, causal ? " causal" : "");
    int *off = malloc((size_t)(B + 1) * sizeof *off);
    size_t na = 0;
    off[0] = 0;
    for (int b = 0; b < B; b++) { off[b + 1] = off[b] + lens[b]; na += (size_t)nh * lens[b] * lens[b]; }
    const int N = off[B], hs = C / nh;
    at_ctx c = {rnd((size_t)N * 3 * C, 1.5), off, B, C, nh, causal};
    double *out = alloc((size_t)N * C), *att = alloc(na), *ref = alloc((size_t)N * C), *s = alloc(N);
    attention_forward_cpu_f64(out, att, c.qkv, off, B, C, nh, causal);
    for (int b = 0; b < B; b++)   /* naive */
        for (int h = 0; h < nh; h++)
            for (int i = off[b]; i < off[b + 1]; i++) {
                double mx = -INFINITY, sum = 0;
                const int jend = causal ? i + 1 : off[b + 1];
                for (int j = off[b]; j < jend; j++) {
                    double d = 0;
                    for (int k = 0; k < hs; k++) d += c.qkv[(size_t)i * 3 * C + h * hs + k] * c.qkv[(size_t)j * 3 * C + C + h * hs + k];
                    s[j] = d / sqrt(hs);
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = off[b]; j < jend; j++) sum += exp(s[j] - mx);
                for (int k = 0; k < hs; k++) {
                    double o = 0;
                    for (int j = off[b]; j < jend; j++) o += exp(s[j] - mx) / sum * c.qkv[(size_t)j * 3 * C + 2 * C + h * hs + k];
                    ref[(size_t)i * C + h * hs + k] = o;
                }
            }
    report(name, "forward", rel_max(out, ref, (size_t)N * C), TOL_FWD);
    double *r = rnd((size_t)N * C, 1), *dqkv = fill((size_t)N * 3 * C, NAN);
    attention_backward_cpu_f64(dqkv, r, c.qkv, att, off, B, C, nh);
    double *g = numgrad(c.qkv, (size_t)N * 3 * C, at_f, &c, r, (size_t)N * C);
    report(name, "dqkv", rel_max(dqkv, g, (size_t)N * 3 * C), TOL_FD);
    float *qf = tof(c.qkv, (size_t)N * 3 * C), *of = malloc((size_t)N * C * sizeof *of), *af = malloc(na * sizeof *af),
          *rf = tof(r, (size_t)N * C), *df = malloc((size_t)N * 3 * C * sizeof *df);
    attention_forward_cpu(of, af, qf, off, B, C, nh, causal);
    attention_backward_cpu(df, rf, qf, af, off, B, C, nh);
    report(name, "float fwd, dqkv", fmax(rel_l2f(of, out, (size_t)N * C), rel_l2f(df, dqkv, (size_t)N * 3 * C)), TOL_F32);
    /* without att (forward only) the same output */
    attention_forward_cpu_f64(ref, NULL, c.qkv, off, B, C, nh, causal);
    report(name, "forward, att NULL", rel_max(ref, out, (size_t)N * C), 0);
    free(off); free(c.qkv); free(out); free(att); free(ref); free(s); free(r); free(dqkv); free(g);
    free(qf); free(of); free(af); free(rf); free(df);
}

/* ---------------------------------------------------------------- resize */
typedef struct { double *x; int P, H, W, Ho, Wo, mode; } rs_ctx;
static void rs_f(double *out, void *p) { rs_ctx *c = p; resize_forward_cpu_f64(out, c->x, c->P, c->H, c->W, c->Ho, c->Wo, c->mode); }

static void check_resize(int P, int H, int W, int Ho, int Wo, int mode)
{
    static const char *names[] = {"nearest", "bilinear", "bicubic"};
    char name[64];
    snprintf(name, sizeof name, "resize %s %dx%d->%dx%d", names[mode], H, W, Ho, Wo);
    const size_t n = (size_t)P * H * W, no = (size_t)P * Ho * Wo;
    rs_ctx c = {rnd(n, 1), P, H, W, Ho, Wo, mode};
    double *out = alloc(no), *r = rnd(no, 1), *dx = fill(n, NAN);
    resize_forward_cpu_f64(out, c.x, P, H, W, Ho, Wo, mode);
    resize_backward_cpu_f64(dx, r, P, H, W, Ho, Wo, mode);
    double *g = numgrad(c.x, n, rs_f, &c, r, no);
    report(name, "dx", rel_max(dx, g, n), TOL_FD);
    /* the adjoint identity <r, A x> = <Aᵀ r, x> (exact, linear op) */
    report(name, "adjoint", fabs(dot(r, out, no) - dot(dx, c.x, n)) / fmax(fabs(dot(r, out, no)), 1e-300), 1e-12);
    float *xf = tof(c.x, n), *of = malloc(no * sizeof *of);
    resize_forward_cpu(of, xf, P, H, W, Ho, Wo, mode);
    report(name, "float fwd", rel_l2f(of, out, no), TOL_F32);
    free(c.x); free(out); free(r); free(dx); free(g); free(xf); free(of);
}

int main(void)
{
    check_layernorm(5, 16);
    check_layernorm(3, 7);
    check_quickgelu(200);
    const int l1[] = {4, 1, 7}, l2[] = {6, 6};
    check_attention(l1, 3, 8, 2, 1);
    check_attention(l1, 3, 8, 2, 0);
    check_attention(l2, 2, 12, 3, 0);
    for (int mode = 0; mode < 3; mode++) {
        check_resize(2, 7, 9, 12, 5, mode);    /* up in H, down in W */
        check_resize(1, 10, 10, 4, 4, mode);   /* down */
        check_resize(1, 5, 6, 5, 6, mode);     /* same size */
    }
    /* identity at the same size: bicubic weights (0,1,0,0) */
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    resize_forward_cpu_f64(y, x, 1, 2, 3, 2, 3, RESIZE_BICUBIC);
    report("resize bicubic 2x3->2x3", "identity", rel_max(y, x, 6), 1e-15);
    printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
