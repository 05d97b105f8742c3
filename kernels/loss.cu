/* loss.cu: DF-GAN's hinge losses on a vector of scores on the GPU, twins of lib/cpu's:
 * mean(relu(1 + sign·x)), sign = −1 for "real", +1 for "fake". The forward pass sums on the
 * device in double (one block, since there is one score per sample) and copies the mean back. */
#include "ops_cuda.h"

/* *sum = Σ_i relu(1 + sign·x[i]); one block */
static __global__ void hinge_forward_kernel(double *sum, const float *x, int n, int sign) {
    double s = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        double t = 1.0 + (double)sign * x[i];
        if (t > 0.0) s += t;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) *sum = s;
}

/* dx[i] = scale · sign/n where 1 + sign·x[i] > 0, else 0 (relu'(0) = 0) */
static __global__ void hinge_backward_kernel(float *dx, const float *x, int n, int sign, float g) {
    GRID_STRIDE(i, (size_t)n) dx[i] = 1.0f + (float)sign * x[i] > 0.0f ? g : 0.0f;
}

extern "C" float hinge_forward_cuda(const float *x, int n, int sign) {
    double *dsum = (double *)cuda_scratch(1, sizeof(double)), sum = 0.0;
    LAUNCH(hinge_forward_kernel, 1, CUDA_THREADS, 0)(dsum, x, n, sign);
    CUDA_LAUNCHED("hinge_forward_kernel");
    cuda_download(&sum, dsum, sizeof sum);
    return (float)(sum / n);
}

extern "C" void hinge_backward_cuda(float *dx, const float *x, int n, int sign, float scale) {
    if (n <= 0 || !dx) return;
    float g = (float)((double)scale * sign / n);
    LAUNCH(hinge_backward_kernel, cuda_blocks((size_t)n), CUDA_THREADS, 0)(dx, x, n, sign, g);
    CUDA_LAUNCHED("hinge_backward_kernel");
}
