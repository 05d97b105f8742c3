/* quickgelu.cu: CLIP's QuickGELU x·sigmoid(1.702·x) on the GPU, twin of lib/cpu/quickgelu.c. */
#include "ops_cuda.h"

static __global__ void quickgelu_forward_kernel(float *out, const float *in, size_t n) {
    GRID_STRIDE(i, n) {
        const float x = in[i];
        out[i] = x / (1.0f + expf(-1.702f * x));
    }
}

/* din = dout·(s + 1.702·x·s·(1 − s)), s = sigmoid(1.702·x); din may alias dout */
static __global__ void quickgelu_backward_kernel(float *din, const float *dout, const float *in, size_t n) {
    GRID_STRIDE(i, n) {
        const float x = in[i], s = 1.0f / (1.0f + expf(-1.702f * x));
        din[i] = dout[i] * (s + 1.702f * x * s * (1.0f - s));
    }
}

extern "C" void quickgelu_forward_cuda(float *out, const float *in, size_t n) {
    if (!n) return;
    LAUNCH(quickgelu_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, n);
    CUDA_LAUNCHED("quickgelu_forward_kernel");
}

extern "C" void quickgelu_backward_cuda(float *din, const float *dout, const float *in, size_t n) {
    if (!n) return;
    LAUNCH(quickgelu_backward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(din, dout, in, n);
    CUDA_LAUNCHED("quickgelu_backward_kernel");
}
