/* vec.cu: vector helpers, a NaN/Inf search and the Adam update on the GPU, twins of lib/cpu's vec ops.
 * vec_first_nonfinite keeps the least index of a non-finite value in one device word (atomicMin from
 * each thread that found one), so only that word crosses to the host. vec_dot sums in double in two passes (per-block partials, then one block), so its result does
 * not depend on scheduling. adam_update follows torch.optim.Adam's single-tensor path:
 *   m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g²;
 *   p −= lr/(1−b1^t) · m / (sqrt(v)/sqrt(1−b2^t) + eps)
 * with the bias corrections computed once in double on the host, the elementwise work in float
 * written as lib/cpu/vec.c writes it. */
#include "ops_cuda.h"

#include <math.h>

#define DOT_BLOCKS 1024

static __global__ void vec_add_kernel(float *out, const float *a, const float *b, size_t n) {
    GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}
static __global__ void vec_axpy_kernel(float *y, float alpha, const float *x, size_t n) {
    GRID_STRIDE(i, n) y[i] += alpha * x[i];
}
static __global__ void vec_scale_kernel(float *y, float alpha, size_t n) {
    GRID_STRIDE(i, n) y[i] *= alpha;
}
/* part[block] = Σ over the block's grid-stride share of a·b, in double */
static __global__ void vec_dot_kernel(double *part, const float *a, const float *b, size_t n) {
    double s = 0.0;
    GRID_STRIDE(i, n) s += (double)a[i] * (double)b[i];
    s = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}
/* *out = Σ part[0..n) ; one block */
static __global__ void sum_kernel(double *out, const double *part, int n) {
    double s = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += part[i];
    s = block_sum(s);
    if (threadIdx.x == 0) *out = s;
}
/* *first = min(*first, the least i of the thread's grid-stride share with x[i] NaN or ±Inf); the
 * exponent bits all ones, as core/finite.c tests them */
static __global__ void first_nonfinite_kernel(unsigned long long *first, const float *x, size_t n) {
    unsigned long long mine = ~0ULL;
    GRID_STRIDE(i, n) {
        if ((__float_as_uint(x[i]) & 0x7f800000u) == 0x7f800000u) { mine = i; break; }
    }
    if (mine != ~0ULL) atomicMin(first, mine);
}
static __global__ void adam_kernel(float *p, float *m, float *v, const float *g, size_t n,
                                   float b1, float b2, float c1, float c2, float eps,
                                   float step_size, float inv_bc2_sqrt) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) * inv_bc2_sqrt + eps);
    }
}

extern "C" void vec_add_cuda(float *out, const float *a, const float *b, size_t n) {
    if (!n) return;
    LAUNCH(vec_add_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, a, b, n);
    CUDA_LAUNCHED("vec_add_kernel");
}
extern "C" void vec_axpy_cuda(float *y, float alpha, const float *x, size_t n) {
    if (!n) return;
    LAUNCH(vec_axpy_kernel, cuda_blocks(n), CUDA_THREADS, 0)(y, alpha, x, n);
    CUDA_LAUNCHED("vec_axpy_kernel");
}
extern "C" void vec_scale_cuda(float *y, float alpha, size_t n) {
    if (!n) return;
    LAUNCH(vec_scale_kernel, cuda_blocks(n), CUDA_THREADS, 0)(y, alpha, n);
    CUDA_LAUNCHED("vec_scale_kernel");
}
extern "C" double vec_dot_cuda(const float *a, const float *b, size_t n) {
    if (!n) return 0.0;
    unsigned blocks = cuda_blocks(n);
    if (blocks > DOT_BLOCKS) blocks = DOT_BLOCKS;
    double *part = (double *)cuda_scratch(1, (DOT_BLOCKS + 1) * sizeof(double)), sum = 0.0;
    LAUNCH(vec_dot_kernel, blocks, CUDA_THREADS, 0)(part, a, b, n);
    CUDA_LAUNCHED("vec_dot_kernel");
    LAUNCH(sum_kernel, 1, CUDA_THREADS, 0)(part + DOT_BLOCKS, part, (int)blocks);
    CUDA_LAUNCHED("sum_kernel");
    cuda_download(&sum, part + DOT_BLOCKS, sizeof sum);
    return sum;
}
extern "C" int64_t vec_first_nonfinite_cuda(const float *x, size_t n) {
    if (!n) return -1;
    unsigned long long *first = (unsigned long long *)cuda_scratch(1, sizeof *first), h = 0;
    CUDA_CHECK(cudaMemsetAsync(first, 0xff, sizeof *first, 0));    /* all ones: none found */
    LAUNCH(first_nonfinite_kernel, cuda_blocks(n), CUDA_THREADS, 0)(first, x, n);
    CUDA_LAUNCHED("first_nonfinite_kernel");
    cuda_download(&h, first, sizeof h);
    return h == ~0ULL ? -1 : (int64_t)h;
}
extern "C" void adam_update_cuda(float *p, float *m, float *v, const float *g, size_t n,
                                 double lr, double beta1, double beta2, double eps, long step) {
    if (!n) return;
    double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    float step_size = (float)(lr / bc1), inv_bc2_sqrt = (float)(1.0 / sqrt(bc2));
    LAUNCH(adam_kernel, cuda_blocks(n), CUDA_THREADS, 0)(p, m, v, g, n, (float)beta1, (float)beta2,
                                                         (float)(1.0 - beta1), (float)(1.0 - beta2), (float)eps,
                                                         step_size, inv_bc2_sqrt);
    CUDA_LAUNCHED("adam_kernel");
}
