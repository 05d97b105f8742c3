/* preprocess.cu: CLIP's preprocessing pieces on the GPU, twins of lib/cpu/preprocess.c: a·x + b,
 * the per-channel normalisation by CLIP's mean and std, and the patch extraction for conv1. */
#include "ops_cuda.h"

static __global__ void scale_shift_kernel(float *out, const float *in, size_t n, float a, float b) {
    GRID_STRIDE(i, n) out[i] = in[i] * a + b;
}

/* x (B,3,HW): out = (in − mean_c)/std_c (forward) or out = in/std_c (backward: mean 0) */
static __global__ void channel_norm_kernel(float *out, const float *in, size_t n, size_t HW,
                                           float m0, float m1, float m2, float s0, float s1, float s2) {
    GRID_STRIDE(i, n) {
        const int c = (int)((i / HW) % 3);
        const float m = c == 0 ? m0 : c == 1 ? m1 : m2, s = c == 0 ? s0 : c == 1 ? s1 : s2;
        out[i] = (in[i] - m) / s;
    }
}

/* one thread per element of the patch matrix (B·g·g, C·P·P): row (b,gy,gx), column (c,ky,kx) */
static __global__ void patchify_kernel(float *patches, float *img, int B, int C, int S, int P, int backward) {
    const int g = S / P, K = C * P * P;
    GRID_STRIDE(i, (size_t)B * g * g * K) {
        const size_t row = i / K;
        const int col = (int)(i % K), c = col / (P * P), ky = (col / P) % P, kx = col % P;
        const int gx = (int)(row % g), gy = (int)((row / g) % g), b = (int)(row / ((size_t)g * g));
        const size_t p = (((size_t)b * C + c) * S + (size_t)gy * P + ky) * S + (size_t)gx * P + kx;
        if (backward) img[p] = patches[i];
        else patches[i] = img[p];
    }
}

extern "C" void scale_shift_cuda(float *out, const float *in, size_t n, float a, float b) {
    if (!n) return;
    LAUNCH(scale_shift_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, n, a, b);
    CUDA_LAUNCHED("scale_shift_kernel");
}

extern "C" void clip_normalize_forward_cuda(float *out, const float *in, int B, size_t HW) {
    const size_t n = (size_t)B * 3 * HW;
    if (!n) return;
    const float m[3] = CLIP_MEAN_RGB, s[3] = CLIP_STD_RGB;
    LAUNCH(channel_norm_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, n, HW, m[0], m[1], m[2], s[0], s[1], s[2]);
    CUDA_LAUNCHED("channel_norm_kernel");
}

extern "C" void clip_normalize_backward_cuda(float *din, const float *dout, int B, size_t HW) {
    const size_t n = (size_t)B * 3 * HW;
    if (!n) return;
    const float s[3] = CLIP_STD_RGB;
    LAUNCH(channel_norm_kernel, cuda_blocks(n), CUDA_THREADS, 0)(din, dout, n, HW, 0.0f, 0.0f, 0.0f, s[0], s[1], s[2]);
    CUDA_LAUNCHED("channel_norm_kernel");
}

extern "C" void patchify_forward_cuda(float *out, const float *in, int B, int C, int S, int P) {
    const size_t n = (size_t)B * (S / P) * (S / P) * C * P * P;
    if (!n) return;
    LAUNCH(patchify_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, (float *)in, B, C, S, P, 0);
    CUDA_LAUNCHED("patchify_kernel");
}

extern "C" void patchify_backward_cuda(float *din, const float *dout, int B, int C, int S, int P) {
    const size_t n = (size_t)B * (S / P) * (S / P) * C * P * P;
    if (!n) return;
    LAUNCH(patchify_kernel, cuda_blocks(n), CUDA_THREADS, 0)((float *)dout, din, B, C, S, P, 1);
    CUDA_LAUNCHED("patchify_kernel");
}
