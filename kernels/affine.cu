/* affine.cu: per-sample per-channel affine modulation (DF-GAN's affine blocks), sentence
 * replication over space, row concatenation and the NCHW <-> CNHW layout transposes on the GPU,
 * twins of lib/cpu's. Reductions over a plane take one block per plane. */
#include "ops_cuda.h"

/* threads for one block per plane of n elements: a multiple of 32, at most CUDA_THREADS */
static int plane_threads(size_t n) {
    size_t t = (n + 31) / 32 * 32;
    return (int)(t < 32 ? 32 : t > CUDA_THREADS ? CUDA_THREADS : t);
}

/* out[c,b,i] = gamma[b,c]·x[c,b,i] + beta[b,c] */
static __global__ void affine_forward_kernel(float *out, const float *x, const float *gamma,
                                             const float *beta, int C, int B, int HW) {
    GRID_STRIDE(i, (size_t)C * B * HW) {
        size_t cb = i / HW;
        int b = (int)(cb % B), c = (int)(cb / B);
        size_t g = (size_t)b * C + c;
        out[i] = gamma[g] * x[i] + beta[g];
    }
}

/* one block per plane (c,b): dgamma[b,c] = Σ_i dout·x, dbeta[b,c] = Σ_i dout, then
 * dx = gamma·dout (after the sums, so dx may alias dout) */
static __global__ void affine_backward_kernel(float *dx, float *dgamma, float *dbeta,
                                              const float *dout, const float *x,
                                              const float *gamma, int C, int B, int HW) {
    size_t cb = blockIdx.x;
    int b = (int)(cb % B), c = (int)(cb / B);
    size_t g = (size_t)b * C + c;
    const float *d = dout + cb * HW, *xp = x + cb * HW;
    if (dgamma || dbeta) {
        double sg = 0.0, sb = 0.0;                  /* in double, as the CPU sums */
        for (int i = threadIdx.x; i < HW; i += blockDim.x) {
            float v = d[i];
            if (dgamma) sg += (double)v * xp[i];
            sb += v;
        }
        sg = block_sum(sg);
        sb = block_sum(sb);
        if (threadIdx.x == 0) {
            if (dgamma) dgamma[g] = (float)sg;
            if (dbeta) dbeta[g] = (float)sb;
        }
    }
    if (dx) {
        float gm = gamma[g];
        float *o = dx + cb * HW;
        for (int i = threadIdx.x; i < HW; i += blockDim.x) o[i] = gm * d[i];
    }
}

/* out[c,b,i] = leaky_relu(gamma[b,c]·x[c,b,i] + beta[b,c]) */
static __global__ void affine_lrelu_forward_kernel(float *out, const float *x, const float *gamma,
                                                   const float *beta, int C, int B, int HW, float slope) {
    GRID_STRIDE(i, (size_t)C * B * HW) {
        size_t cb = i / HW;
        int b = (int)(cb % B), c = (int)(cb / B);
        size_t g = (size_t)b * C + c;
        float v = gamma[g] * x[i] + beta[g];
        out[i] = v > 0.0f ? v : slope * v;
    }
}

/* one block per plane (c,b), with gd = dout·(y > 0 ? 1 : slope): dgamma[b,c] = Σ_i gd·x,
 * dbeta[b,c] = Σ_i gd, then dx = gamma·gd (after the sums, so dx may alias dout) */
static __global__ void affine_lrelu_backward_kernel(float *dx, float *dgamma, float *dbeta,
                                                    const float *dout, const float *x, const float *y,
                                                    const float *gamma, int C, int B, int HW, float slope) {
    size_t cb = blockIdx.x;
    int b = (int)(cb % B), c = (int)(cb / B);
    size_t g = (size_t)b * C + c;
    const float *d = dout + cb * HW, *xp = x + cb * HW, *yp = y + cb * HW;
    if (dgamma || dbeta) {
        double sg = 0.0, sb = 0.0;
        for (int i = threadIdx.x; i < HW; i += blockDim.x) {
            float v = yp[i] > 0.0f ? d[i] : slope * d[i];
            if (dgamma) sg += (double)v * xp[i];
            sb += v;
        }
        sg = block_sum(sg);
        sb = block_sum(sb);
        if (threadIdx.x == 0) {
            if (dgamma) dgamma[g] = (float)sg;
            if (dbeta) dbeta[g] = (float)sb;
        }
        __syncthreads();   /* every sum is read before dx, which may alias dout, is written */
    }
    if (dx) {
        float gm = gamma[g];
        float *o = dx + cb * HW;
        for (int i = threadIdx.x; i < HW; i += blockDim.x) o[i] = yp[i] > 0.0f ? gm * d[i] : gm * slope * d[i];
    }
}

/* out[s,b,i] = sv[b,s] */
static __global__ void replicate_forward_kernel(float *out, const float *sv, int B, int S, int HW) {
    GRID_STRIDE(i, (size_t)S * B * HW) {
        size_t sb = i / HW;
        int b = (int)(sb % B), s = (int)(sb / B);
        out[i] = sv[(size_t)b * S + s];
    }
}
/* one block per plane (s,b): ds[b,s] = Σ_i dout[s,b,i] */
static __global__ void replicate_backward_kernel(float *ds, const float *dout, int B, int S, int HW) {
    size_t sb = blockIdx.x;
    int b = (int)(sb % B), s = (int)(sb / B);
    const float *d = dout + sb * HW;
    double t = 0.0;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) t += d[i];
    t = block_sum(t);
    if (threadIdx.x == 0) ds[(size_t)b * S + s] = (float)t;
}

/* out[r, j] = j < A ? a[r, j] : bm[r, j − A] */
static __global__ void concat_rows_forward_kernel(float *out, const float *a, const float *bm,
                                                  int B, int A, int Bn) {
    int Wd = A + Bn;
    GRID_STRIDE(i, (size_t)B * Wd) {
        size_t r = i / Wd;
        int j = (int)(i % Wd);
        out[i] = j < A ? a[r * A + j] : bm[r * Bn + (j - A)];
    }
}
/* da[r, j] = dout[r, j];  db[r, j] = dout[r, A + j] (either may be NULL) */
static __global__ void concat_rows_backward_kernel(float *da, float *db, const float *dout,
                                                   int B, int A, int Bn) {
    int Wd = A + Bn;
    GRID_STRIDE(i, (size_t)B * Wd) {
        size_t r = i / Wd;
        int j = (int)(i % Wd);
        if (j < A) { if (da) da[r * A + j] = dout[i]; }
        else if (db) db[r * Bn + (j - A)] = dout[i];
    }
}

/* out[c,b,i] = in[b,c,i] (one thread per output element) */
static __global__ void nchw_to_cnhw_kernel(float *out, const float *in, int B, int C, int HW) {
    GRID_STRIDE(o, (size_t)C * B * HW) {
        size_t cb = o / HW;
        int b = (int)(cb % B), c = (int)(cb / B);
        out[o] = in[((size_t)b * C + c) * HW + o % HW];
    }
}
/* out[b,c,i] = in[c,b,i] */
static __global__ void cnhw_to_nchw_kernel(float *out, const float *in, int B, int C, int HW) {
    GRID_STRIDE(o, (size_t)B * C * HW) {
        size_t bc = o / HW;
        int c = (int)(bc % C), b = (int)(bc / C);
        out[o] = in[((size_t)c * B + b) * HW + o % HW];
    }
}

extern "C" void affine_forward_cuda(float *out, const float *x, const float *gamma, const float *beta,
                                    int C, int B, int HW) {
    size_t n = (size_t)C * B * HW;
    if (!n) return;
    LAUNCH(affine_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, x, gamma, beta, C, B, HW);
    CUDA_LAUNCHED("affine_forward_kernel");
}

extern "C" void affine_backward_cuda(float *dx, float *dgamma, float *dbeta, const float *dout,
                                     const float *x, const float *gamma, int C, int B, int HW) {
    size_t planes = (size_t)C * B;
    if (!planes || !(dx || dgamma || dbeta)) return;
    if (HW == 0) {                    /* empty planes: the sums are 0 */
        if (dgamma) cuda_zero(dgamma, planes * sizeof(float));
        if (dbeta) cuda_zero(dbeta, planes * sizeof(float));
        return;
    }
    LAUNCH(affine_backward_kernel, (unsigned)planes, plane_threads((size_t)HW), 0)(dx, dgamma, dbeta, dout, x, gamma, C,
            B, HW);
    CUDA_LAUNCHED("affine_backward_kernel");
}

extern "C" void affine_lrelu_forward_cuda(float *out, const float *x, const float *gamma,
                                          const float *beta, int C, int B, int HW, float slope) {
    size_t n = (size_t)C * B * HW;
    if (!n) return;
    LAUNCH(affine_lrelu_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, x, gamma, beta, C, B, HW, slope);
    CUDA_LAUNCHED("affine_lrelu_forward_kernel");
}

extern "C" void affine_lrelu_backward_cuda(float *dx, float *dgamma, float *dbeta, const float *dout,
                                           const float *x, const float *y, const float *gamma, int C,
                                           int B, int HW, float slope) {
    size_t planes = (size_t)C * B;
    if (!planes || !(dx || dgamma || dbeta)) return;
    if (HW == 0) {
        if (dgamma) cuda_zero(dgamma, planes * sizeof(float));
        if (dbeta) cuda_zero(dbeta, planes * sizeof(float));
        return;
    }
    LAUNCH(affine_lrelu_backward_kernel, (unsigned)planes, plane_threads((size_t)HW), 0)(dx, dgamma, dbeta, dout, x, y,
            gamma, C, B, HW, slope);
    CUDA_LAUNCHED("affine_lrelu_backward_kernel");
}

extern "C" void replicate_forward_cuda(float *out, const float *s, int B, int S, int HW) {
    size_t n = (size_t)S * B * HW;
    if (!n) return;
    LAUNCH(replicate_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, s, B, S, HW);
    CUDA_LAUNCHED("replicate_forward_kernel");
}

extern "C" void replicate_backward_cuda(float *ds, const float *dout, int B, int S, int HW) {
    size_t planes = (size_t)S * B;
    if (!planes || !ds) return;
    if (HW == 0) { cuda_zero(ds, planes * sizeof(float)); return; }
    LAUNCH(replicate_backward_kernel, (unsigned)planes, plane_threads((size_t)HW), 0)(ds, dout, B, S, HW);
    CUDA_LAUNCHED("replicate_backward_kernel");
}

extern "C" void concat_rows_forward_cuda(float *out, const float *a, const float *b, int B, int A,
                                         int Bn) {
    size_t n = (size_t)B * (A + Bn);
    if (!n) return;
    LAUNCH(concat_rows_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, a, b, B, A, Bn);
    CUDA_LAUNCHED("concat_rows_forward_kernel");
}

extern "C" void concat_rows_backward_cuda(float *da, float *db, const float *dout, int B, int A,
                                          int Bn) {
    size_t n = (size_t)B * (A + Bn);
    if (!n || !(da || db)) return;
    LAUNCH(concat_rows_backward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(da, db, dout, B, A, Bn);
    CUDA_LAUNCHED("concat_rows_backward_kernel");
}

extern "C" void nchw_to_cnhw_cuda(float *out, const float *in, int B, int C, int HW) {
    size_t n = (size_t)B * C * HW;
    if (!n) return;
    LAUNCH(nchw_to_cnhw_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, B, C, HW);
    CUDA_LAUNCHED("nchw_to_cnhw_kernel");
}

extern "C" void cnhw_to_nchw_cuda(float *out, const float *in, int B, int C, int HW) {
    size_t n = (size_t)B * C * HW;
    if (!n) return;
    LAUNCH(cnhw_to_nchw_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, B, C, HW);
    CUDA_LAUNCHED("cnhw_to_nchw_kernel");
}
