/* pointwise.cu: elementwise activations on the GPU, twins of lib/cpu's pointwise ops:
 * LeakyReLU, ReLU (gradient 0 at 0, as PyTorch) and Tanh. One thread per element; out may
 * alias in and din may alias dout, since each element is read before it is written. */
#include "ops_cuda.h"

static __global__ void leaky_relu_forward_kernel(float *out, const float *in, size_t n, float slope) {
    GRID_STRIDE(i, n) { float x = in[i]; out[i] = x > 0.0f ? x : slope * x; }
}
static __global__ void leaky_relu_backward_kernel(float *din, const float *dout, const float *x,
                                                  size_t n, float slope) {
    GRID_STRIDE(i, n) din[i] = dout[i] * (x[i] > 0.0f ? 1.0f : slope);
}
static __global__ void relu_forward_kernel(float *out, const float *in, size_t n) {
    GRID_STRIDE(i, n) { float x = in[i]; out[i] = x > 0.0f ? x : 0.0f; }
}
static __global__ void relu_backward_kernel(float *din, const float *dout, const float *x, size_t n) {
    GRID_STRIDE(i, n) din[i] = x[i] > 0.0f ? dout[i] : 0.0f;
}
static __global__ void tanh_forward_kernel(float *out, const float *in, size_t n) {
    GRID_STRIDE(i, n) out[i] = tanhf(in[i]);
}
static __global__ void tanh_backward_kernel(float *din, const float *dout, const float *out, size_t n) {
    GRID_STRIDE(i, n) { float y = out[i]; din[i] = dout[i] * (1.0f - y * y); }
}

extern "C" void leaky_relu_forward_cuda(float *out, const float *in, size_t n, float slope) {
    if (!n) return;
    LAUNCH(leaky_relu_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, n, slope);
    CUDA_LAUNCHED("leaky_relu_forward_kernel");
}
extern "C" void leaky_relu_backward_cuda(float *din, const float *dout, const float *x, size_t n,
                                         float slope) {
    if (!n || !din) return;
    LAUNCH(leaky_relu_backward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(din, dout, x, n, slope);
    CUDA_LAUNCHED("leaky_relu_backward_kernel");
}
extern "C" void relu_forward_cuda(float *out, const float *in, size_t n) {
    if (!n) return;
    LAUNCH(relu_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, n);
    CUDA_LAUNCHED("relu_forward_kernel");
}
extern "C" void relu_backward_cuda(float *din, const float *dout, const float *x, size_t n) {
    if (!n || !din) return;
    LAUNCH(relu_backward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(din, dout, x, n);
    CUDA_LAUNCHED("relu_backward_kernel");
}
extern "C" void tanh_forward_cuda(float *out, const float *in, size_t n) {
    if (!n) return;
    LAUNCH(tanh_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, n);
    CUDA_LAUNCHED("tanh_forward_kernel");
}
extern "C" void tanh_backward_cuda(float *din, const float *dout, const float *out, size_t n) {
    if (!n || !din) return;
    LAUNCH(tanh_backward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(din, dout, out, n);
    CUDA_LAUNCHED("tanh_backward_kernel");
}
