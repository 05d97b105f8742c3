/* resample.cu: nearest ×2 upsampling and 2×2 average pooling on the GPU over `planes` = C·B
 * independent H×W planes, twins of lib/cpu's resample ops. One thread per output element of
 * each pass, so the backward passes gather (no atomics). */
#include "ops_cuda.h"

/* out[p, y, x] = in[p, y/2, x/2];  out (planes, 2H, 2W) */
static __global__ void upsample2x_forward_kernel(float *out, const float *in, int planes, int H, int W) {
    int W2 = 2 * W, H2 = 2 * H;
    GRID_STRIDE(i, (size_t)planes * H2 * W2) {
        int x = (int)(i % W2), y = (int)(i / W2 % H2);
        size_t p = i / W2 / H2;
        out[i] = in[(p * H + y / 2) * W + x / 2];
    }
}
/* din[p, y, x] = Σ of the 2×2 block of dout it was copied to;  din (planes, H, W) */
static __global__ void upsample2x_backward_kernel(float *din, const float *dout, int planes, int H, int W) {
    int W2 = 2 * W;
    GRID_STRIDE(i, (size_t)planes * H * W) {
        int x = (int)(i % W), y = (int)(i / W % H);
        size_t p = i / W / H;
        const float *d = dout + (p * 2 * H + 2 * y) * W2 + 2 * x;
        din[i] = (d[0] + d[1]) + (d[W2] + d[W2 + 1]);
    }
}
/* out[p, y, x] = mean of in's 2×2 block at (2y, 2x);  out (planes, H/2, W/2) */
static __global__ void avgpool2x2_forward_kernel(float *out, const float *in, int planes, int H, int W) {
    int Ho = H / 2, Wo = W / 2;
    GRID_STRIDE(i, (size_t)planes * Ho * Wo) {
        int x = (int)(i % Wo), y = (int)(i / Wo % Ho);
        size_t p = i / Wo / Ho;
        const float *s = in + (p * H + 2 * y) * W + 2 * x;
        out[i] = 0.25f * ((s[0] + s[1]) + (s[W] + s[W + 1]));
    }
}
/* din[p, y, x] = dout[p, y/2, x/2] / 4;  din (planes, H, W) */
static __global__ void avgpool2x2_backward_kernel(float *din, const float *dout, int planes, int H, int W) {
    int Ho = H / 2, Wo = W / 2;
    GRID_STRIDE(i, (size_t)planes * H * W) {
        int x = (int)(i % W), y = (int)(i / W % H);
        size_t p = i / W / H;
        din[i] = 0.25f * dout[(p * Ho + y / 2) * Wo + x / 2];
    }
}

/* din[p, y, x] += dout[p, y/2, x/2] / 4 */
static __global__ void avgpool2x2_backward_add_kernel(float *din, const float *dout, int planes, int H, int W) {
    int Ho = H / 2, Wo = W / 2;
    GRID_STRIDE(i, (size_t)planes * H * W) {
        int x = (int)(i % W), y = (int)(i / W % H);
        size_t p = i / W / H;
        din[i] += 0.25f * dout[(p * Ho + y / 2) * Wo + x / 2];
    }
}

extern "C" void upsample2x_forward_cuda(float *out, const float *in, int planes, int H, int W) {
    size_t n = (size_t)planes * 4 * H * W;
    if (!n) return;
    LAUNCH(upsample2x_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, planes, H, W);
    CUDA_LAUNCHED("upsample2x_forward_kernel");
}
extern "C" void upsample2x_backward_cuda(float *din, const float *dout, int planes, int H, int W) {
    size_t n = (size_t)planes * H * W;
    if (!n || !din) return;
    LAUNCH(upsample2x_backward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(din, dout, planes, H, W);
    CUDA_LAUNCHED("upsample2x_backward_kernel");
}
extern "C" void avgpool2x2_forward_cuda(float *out, const float *in, int planes, int H, int W) {
    size_t n = (size_t)planes * (H / 2) * (W / 2);
    if (!n) return;
    LAUNCH(avgpool2x2_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, planes, H, W);
    CUDA_LAUNCHED("avgpool2x2_forward_kernel");
}
extern "C" void avgpool2x2_backward_add_cuda(float *din, const float *dout, int planes, int H, int W) {
    size_t n = (size_t)planes * H * W;
    if (!n || !din) return;
    LAUNCH(avgpool2x2_backward_add_kernel, cuda_blocks(n), CUDA_THREADS, 0)(din, dout, planes, H, W);
    CUDA_LAUNCHED("avgpool2x2_backward_add_kernel");
}
extern "C" void avgpool2x2_backward_cuda(float *din, const float *dout, int planes, int H, int W) {
    size_t n = (size_t)planes * H * W;
    if (!n || !din) return;
    LAUNCH(avgpool2x2_backward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(din, dout, planes, H, W);
    CUDA_LAUNCHED("avgpool2x2_backward_kernel");
}
