/* bench_conv.c: times the float CPU conv2d (forward, and backward with din and dw) on the
 * convolutions of one DF-GAN pass at imsize 64, nf 16, batch 16, and prints ms and GFLOP/s
 * per layer and in total. A gemm of an (M,K)·(K,N) product counts 2·M·K·N flops; backward is
 * two of them (dw and din).
 *
 *   build/test/bench_conv [reps]      best of reps timings per layer (default 5)
 *   OPENBLAS_NUM_THREADS / OMP_NUM_THREADS set the threads as usual; COL_LIMIT_MB overrides
 *   the size of the im2col buffer at which conv2d splits the batch into chunks; CONV_DIRECT=0
 *   keeps every layer on im2col + gemm (off lib/cpu/conv_winograd.c and conv_direct.c), and
 *   CONV_WINOGRAD=0 keeps them off Winograd only. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "core/ops.h"

extern size_t conv2d_col_limit_cpu;   /* lib/cpu/conv2d.c: bytes of col before chunking */
extern int conv2d_direct_cpu;         /* lib/cpu/conv2d.c: 0 keeps every layer on im2col + gemm */
extern int conv2d_winograd_cpu;       /* lib/cpu/conv2d.c: 0 keeps the layers off Winograd */

typedef struct { const char *name; int C, H, W, OC, K, s, p; } Shape;

/* NetG (ngf 16 -> channels 128,128,64,32,16), NetD (16,32,64,128,128) and NetC, batch 16 */
static const Shape shapes[] = {
    { "G blk1 c1 128->128 @8",    128,  8,  8, 128, 3, 1, 1 },
    { "G blk1 c2 128->128 @8",    128,  8,  8, 128, 3, 1, 1 },
    { "G blk2 c1 128->64 @16",    128, 16, 16,  64, 3, 1, 1 },
    { "G blk2 c2 64->64 @16",      64, 16, 16,  64, 3, 1, 1 },
    { "G blk2 sc 128->64 1x1",    128, 16, 16,  64, 1, 1, 0 },
    { "G blk3 c1 64->32 @32",      64, 32, 32,  32, 3, 1, 1 },
    { "G blk3 c2 32->32 @32",      32, 32, 32,  32, 3, 1, 1 },
    { "G blk3 sc 64->32 1x1",      64, 32, 32,  32, 1, 1, 0 },
    { "G blk4 c1 32->16 @64",      32, 64, 64,  16, 3, 1, 1 },
    { "G blk4 c2 16->16 @64",      16, 64, 64,  16, 3, 1, 1 },
    { "G blk4 sc 32->16 1x1",      32, 64, 64,  16, 1, 1, 0 },
    { "G to_rgb 16->3 @64",        16, 64, 64,   3, 3, 1, 1 },
    { "D conv_img 3->16 @64",       3, 64, 64,  16, 3, 1, 1 },
    { "D blk1 r1 16->32 K4s2 @64", 16, 64, 64,  32, 4, 2, 1 },
    { "D blk1 r2 32->32 @32",      32, 32, 32,  32, 3, 1, 1 },
    { "D blk1 sc 16->32 1x1 @64",  16, 64, 64,  32, 1, 1, 0 },
    { "D blk2 r1 32->64 K4s2 @32", 32, 32, 32,  64, 4, 2, 1 },
    { "D blk2 r2 64->64 @16",      64, 16, 16,  64, 3, 1, 1 },
    { "D blk2 sc 32->64 1x1 @32",  32, 32, 32,  64, 1, 1, 0 },
    { "D blk3 r1 64->128 K4s2 @16",64, 16, 16, 128, 4, 2, 1 },
    { "D blk3 r2 128->128 @8",    128,  8,  8, 128, 3, 1, 1 },
    { "D blk3 sc 64->128 1x1 @16", 64, 16, 16, 128, 1, 1, 0 },
    { "D blk4 r1 128->128 K4s2 @8",128, 8,  8, 128, 4, 2, 1 },
    { "D blk4 r2 128->128 @4",    128,  4,  4, 128, 3, 1, 1 },
    { "C joint 384->32 @4",       384,  4,  4,  32, 3, 1, 1 },
    { "C out 32->1 K4p0 @4",       32,  4,  4,   1, 4, 1, 0 },
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *rnd(size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (!p) { fprintf(stderr, "bench_conv: out of memory\n"); exit(1); }
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) { s = s * 1664525u + 1013904223u; p[i] = (float)(s >> 8) / 16777216.0f - 0.5f; }
    return p;
}

int main(int argc, char **argv)
{
    const int B = 16, reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1) { fprintf(stderr, "bench_conv: reps must be a positive integer, not '%s'\n", argv[1]); return 2; }
    if (getenv("CONV_DIRECT")) conv2d_direct_cpu = atoi(getenv("CONV_DIRECT"));
    if (getenv("CONV_WINOGRAD")) conv2d_winograd_cpu = atoi(getenv("CONV_WINOGRAD"));
    if (getenv("COL_LIMIT_MB")) conv2d_col_limit_cpu = (size_t)(atof(getenv("COL_LIMIT_MB")) * (1 << 20));
    double tf_all = 0, tb_all = 0, fl_all = 0;
    printf("%-28s %8s %8s %8s %8s  (batch %d, best of %d)\n", "layer", "fwd ms", "GF/s", "bwd ms", "GF/s", B, reps);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const Shape *h = &shapes[i];
        const int Ho = (h->H + 2 * h->p - h->K) / h->s + 1, Wo = (h->W + 2 * h->p - h->K) / h->s + 1;
        const size_t nin = (size_t)h->C * B * h->H * h->W, nw = (size_t)h->OC * h->C * h->K * h->K;
        const size_t nout = (size_t)h->OC * B * Ho * Wo;
        float *in = rnd(nin), *w = rnd(nw), *b = rnd(h->OC), *out = rnd(nout), *dout = rnd(nout);
        float *din = rnd(nin), *dw = rnd(nw), *db = rnd(h->OC);
        double tf = 1e30, tb = 1e30;
        for (int r = 0; r <= reps; r++) {   /* r = 0 warms up (scratch, BLAS threads) */
            double t0 = now();
            conv2d_forward_cpu(out, in, w, b, B, h->C, h->H, h->W, h->OC, h->K, h->s, h->p);
            double t1 = now();
            conv2d_backward_cpu(din, dw, db, dout, in, w, B, h->C, h->H, h->W, h->OC, h->K, h->s, h->p);
            double t2 = now();
            if (r > 0) {
                if (t1 - t0 < tf) tf = t1 - t0;
                if (t2 - t1 < tb) tb = t2 - t1;
            }
        }
        const double fl = 2.0 * h->OC * h->C * h->K * h->K * (double)B * Ho * Wo;
        printf("%-28s %8.3f %8.1f %8.3f %8.1f\n", h->name, 1e3 * tf, fl / tf * 1e-9, 1e3 * tb, 2 * fl / tb * 1e-9);
        tf_all += tf;
        tb_all += tb;
        fl_all += fl;
        free(in); free(w); free(b); free(out); free(dout); free(din); free(dw); free(db);
    }
    printf("%-28s %8.3f %8.1f %8.3f %8.1f\n", "total", 1e3 * tf_all, fl_all / tf_all * 1e-9,
           1e3 * tb_all, 2 * fl_all / tb_all * 1e-9);
    printf("total fwd+bwd: %.1f ms, %.1f GFLOP/s\n", 1e3 * (tf_all + tb_all), 3 * fl_all / (tf_all + tb_all) * 1e-9);
    return 0;
}
