/* layernorm.cu: LayerNorm over the last dimension on the GPU, twin of lib/cpu/layernorm.c
 * (torch.nn.LayerNorm semantics, biased variance). One block per row; the row sums are taken in
 * double, as on the CPU. dw/db: one thread per column summing over the rows (coalesced reads). */
#include "ops_cuda.h"

#define LN_THREADS 256

/* out (N,C) = (in − mean)·rstd·w + b; mean, rstd (N) when not NULL; out may alias in */
static __global__ void layernorm_forward_kernel(float *out, float *mean, float *rstd, const float *in,
                                                const float *w, const float *b, int C, double eps) {
    const size_t i = blockIdx.x;
    const float *x = in + i * C;
    float *y = out + i * C;
    double s = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) s += x[c];
    const double m = block_sum(s) / C;
    double s2 = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) { const double d = x[c] - m; s2 += d * d; }
    const double r = 1.0 / sqrt(block_sum(s2) / C + eps);
    const float mr = (float)m, rr = (float)r;
    for (int c = threadIdx.x; c < C; c += blockDim.x) y[c] = (x[c] - mr) * rr * w[c] + b[c];
    if (threadIdx.x == 0) {
        if (mean) mean[i] = mr;
        if (rstd) rstd[i] = rr;
    }
}

/* din = rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dout·w, x̂ = (x − mean)·rstd; din may alias dout */
static __global__ void layernorm_din_kernel(float *din, const float *dout, const float *in, const float *mean,
                                            const float *rstd, const float *w, int C) {
    const size_t i = blockIdx.x;
    const float *x = in + i * C, *g = dout + i * C;
    float *dx = din + i * C;
    const float m = mean[i], r = rstd[i];
    double sg = 0.0, sgx = 0.0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        const double gw = (double)g[c] * w[c];
        sg += gw;
        sgx += gw * (x[c] - m) * r;
    }
    sg = block_sum(sg);
    sgx = block_sum(sgx);
    const float mg = (float)(sg / C), mgx = (float)(sgx / C);
    for (int c = threadIdx.x; c < C; c += blockDim.x) dx[c] = r * (g[c] * w[c] - mg - (x[c] - m) * r * mgx);
}

/* dw[c] += Σ_rows dout·x̂; db[c] += Σ_rows dout (either may be NULL) */
static __global__ void layernorm_dwdb_kernel(float *dw, float *db, const float *dout, const float *in,
                                             const float *mean, const float *rstd, int N, int C) {
    GRID_STRIDE(c, (size_t)C) {
        double sw = 0.0, sb = 0.0;
        for (int i = 0; i < N; i++) {
            const float g = dout[(size_t)i * C + c];
            sw += (double)g * (in[(size_t)i * C + c] - mean[i]) * rstd[i];
            sb += g;
        }
        if (dw) dw[c] += (float)sw;
        if (db) db[c] += (float)sb;
    }
}

extern "C" void layernorm_forward_cuda(float *out, float *mean, float *rstd, const float *in, const float *w,
                                       const float *b, int N, int C, double eps) {
    if (N <= 0 || C <= 0) return;
    LAUNCH(layernorm_forward_kernel, N, LN_THREADS, 0)(out, mean, rstd, in, w, b, C, eps);
    CUDA_LAUNCHED("layernorm_forward_kernel");
}

extern "C" void layernorm_backward_cuda(float *din, float *dw, float *db, const float *dout, const float *in,
                                        const float *mean, const float *rstd, const float *w, int N, int C) {
    if (N <= 0 || C <= 0) return;
    /* the parameter gradients first: din may alias dout */
    if (dw || db) {
        LAUNCH(layernorm_dwdb_kernel, cuda_blocks((size_t)C), CUDA_THREADS, 0)(dw, db, dout, in, mean, rstd, N, C);
        CUDA_LAUNCHED("layernorm_dwdb_kernel");
    }
    if (din) {
        LAUNCH(layernorm_din_kernel, N, LN_THREADS, 0)(din, dout, in, mean, rstd, w, C);
        CUDA_LAUNCHED("layernorm_din_kernel");
    }
}
