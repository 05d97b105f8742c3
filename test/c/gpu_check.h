/* gpu_check.h: the harness that test/c/gpu_ops_check.c and gpu_clip_check.c share: a fixed-seed
 * random source, host and device buffers released at the end of each case, one printed line per
 * compared output (‖gpu − cpu‖ / ‖cpu‖ under GPU_CHECK_TOL), and the start and end of main (--help,
 * "SKIP: <reason>" and exit 0 without a usable GPU, exit 1 on any mismatch). Header-only: each
 * program includes it once. */
#ifndef DFGAN_GPU_CHECK_H
#define DFGAN_GPU_CHECK_H
#include "core/common.h"
#include "ops_cuda.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPU_CHECK_TOL 1e-5

static int checks, failures;

/* ---- random numbers (splitmix64); each program sets its own seed ---- */
static uint64_t rng_state = 0x5eed1234abcdULL;
static inline float frand(void) {                                   /* uniform in [-1, 1) */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)((double)(z >> 40) / (double)(1ULL << 23) - 1.0);
}

/* ---- allocations, all released at the end of each case ---- */
#define MAXTRACK 512
static void *host_ptrs[MAXTRACK], *dev_ptrs[MAXTRACK];
static int nhost, ndev;

static inline float *halloc(size_t n) {
    if (nhost == MAXTRACK) die_runtime("expected at most %d host buffers per case", MAXTRACK);
    return host_ptrs[nhost++] = xcalloc(n ? n : 1, sizeof(float));
}
static inline float *hrand_scaled(size_t n, float scale) {           /* random in [-scale, scale) */
    float *h = halloc(n);
    for (size_t i = 0; i < n; i++) h[i] = scale * frand();
    return h;
}
static inline float *hrand(size_t n) { return hrand_scaled(n, 1.0f); }
static inline float *hcopy(const float *src, size_t n) {
    float *h = halloc(n);
    memcpy(h, src, n * sizeof(float));
    return h;
}
static inline float *dev(const float *h, size_t n) {                /* device copy of h */
    if (ndev == MAXTRACK) die_runtime("expected at most %d device buffers per case", MAXTRACK);
    float *d = cuda_alloc((n ? n : 1) * sizeof(float));
    cuda_upload(d, h, n * sizeof(float));
    return dev_ptrs[ndev++] = d;
}
static inline void release(void) {
    while (nhost) free(host_ptrs[--nhost]);
    while (ndev) cuda_free(dev_ptrs[--ndev]);
}

/* ---- comparisons: one line per output ---- */
static inline void report(const char *op, const char *shape, const char *what, double err) {
    checks++;
    int ok = err < GPU_CHECK_TOL;                           /* NaN fails */
    if (!ok) failures++;
    printf("%-4s %-24s %-32s %-16s err %.2e\n", ok ? "ok" : "FAIL", op, shape, what, err);
}

/* ‖a − b‖ / ‖b‖ (‖a − b‖ where b is all zero) */
static inline double nerr(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        d += e * e;
        s += (double)b[i] * b[i];
    }
    return s > 0 ? sqrt(d / s) : sqrt(d);
}

/* the GPU's result (device d) against the CPU's (host h) */
static inline void check(const char *op, const char *shape, const char *what, const float *d,
                  const float *h, size_t n) {
    float *g = halloc(n);
    cuda_download(g, d, n * sizeof(float));
    report(op, shape, what, nerr(g, h, n));
}

/* ---- main's start and end ---- */
/* --help, argument errors, and 0 when there is no usable GPU (after printing SKIP: <reason>) */
static inline int gpu_check_start(int argc, char **argv, const char *name, const char *what) {
    progname = name;
    if (argc > 1) {
        if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
            printf("usage: %s\ncompares %s with their CPU twins; prints SKIP: <reason> and exits 0 without a GPU\n",
                   name, what);
            exit(EXIT_OK);
        }
        die_usage("expected no arguments, found '%s'", argv[1]);
    }
    char why[256];
    if (!cuda_device_available(why, sizeof why)) {
        printf("SKIP: %s\n", why);
        return 0;
    }
    return 1;
}
/* the summary line and the exit status */
static inline int gpu_check_end(void) {
    printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "PASS", checks, failures);
    return failures ? EXIT_RUNTIME : EXIT_OK;
}
#endif
