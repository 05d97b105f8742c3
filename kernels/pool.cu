/* pool.cu: Inception-v3's pooling on the GPU, twin of lib/cpu/pool.c, forward only: 3x3 max
 * pooling (any stride, padding 0 or 1; padding never wins, a NaN in the window does, as PyTorch),
 * 3x3 stride-1 average pooling with a per-channel bias and ReLU after it, and the mean of each
 * plane (global average pooling, summed in double). Contracts in lib/core/op_list.h.
 *
 * One thread per output pixel for the 3x3 windows, summing as the CPU does (each column of the
 * window down its rows first, then the three column sums left to right), so the average agrees
 * to the last bit or two; one block per plane for the mean. */
#include "ops_cuda.h"

#include <math.h>

static __device__ __forceinline__ float nmax(float m, float v) { return (v > m || v != v) ? v : m; }

/* out (planes,Ho,Wo) from in (planes,H,W) */
static __global__ void maxpool3_kernel(float *out, const float *in, size_t planes, int H, int W, int s, int p,
                                       int Ho, int Wo) {
    GRID_STRIDE(i, planes * Ho * Wo) {
        const int ow = (int)(i % Wo), oh = (int)(i / Wo % Ho);
        const float *x = in + i / ((size_t)Ho * Wo) * H * W;
        float m = -INFINITY;
        for (int kh = 0; kh < 3; kh++) {
            const int h = oh * s - p + kh;
            if (h < 0 || h >= H) continue;
            for (int kw = 0; kw < 3; kw++) {
                const int w = ow * s - p + kw;
                if (w >= 0 && w < W) m = nmax(m, x[(size_t)h * W + w]);
            }
        }
        out[i] = m;
    }
}

/* out (C,B,H,W) = relu?(avg3(in) + bias[c]) */
static __global__ void avgpool3_kernel(float *out, const float *in, int C, int B, int H, int W, int count_include_pad,
                                       const float *bias, int relu) {
    const size_t HW = (size_t)H * W;
    GRID_STRIDE(i, (size_t)C * B * HW) {
        const int ow = (int)(i % W), oh = (int)(i / W % H);
        const size_t q = i / HW;
        const float *x = in + q * HW;
        const int h0 = oh > 0 ? oh - 1 : 0, h1 = oh + 1 < H ? oh + 1 : H - 1;
        float col[3];
        for (int k = 0; k < 3; k++) {   /* the window's columns ow−1 .. ow+1, 0 outside the image */
            const int w = ow - 1 + k;
            float c = 0.0f;
            if (w >= 0 && w < W) {
                c = x[(size_t)h0 * W + w];
                for (int h = h0 + 1; h <= h1; h++) c += x[(size_t)h * W + w];
            }
            col[k] = c;
        }
        int nh = 3 - (oh == 0) - (oh == H - 1), nw = 3 - (ow == 0) - (ow == W - 1);
        if (H == 1) nh = 1;
        if (W == 1) nw = 1;
        const float inv = count_include_pad ? 1.0f / 9.0f : 1.0f / (float)(nh * nw);
        const float v = (col[0] + col[1] + col[2]) * inv + (bias ? bias[q / B] : 0.0f);
        out[i] = relu && !(v > 0.0f) ? 0.0f : v;
    }
}

/* out[q] = mean of plane q of in (planes,HW); one block per plane */
static __global__ void meanpool_kernel(float *out, const float *in, int HW) {
    const float *x = in + (size_t)blockIdx.x * HW;
    double s = 0.0;
    for (int j = threadIdx.x; j < HW; j += blockDim.x) s += x[j];
    s = block_sum(s);
    if (threadIdx.x == 0) out[blockIdx.x] = (float)(s / HW);
}

extern "C" void maxpool3_forward_cuda(float *out, const float *in, size_t planes, int H, int W, int s, int p) {
    const int Ho = (H + 2 * p - 3) / s + 1, Wo = (W + 2 * p - 3) / s + 1;
    const size_t n = planes * Ho * Wo;
    if (!n || Ho < 1 || Wo < 1) return;
    LAUNCH(maxpool3_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, planes, H, W, s, p, Ho, Wo);
    CUDA_LAUNCHED("maxpool3_kernel");
}

extern "C" void avgpool3_bias_relu_forward_cuda(float *out, const float *in, int C, int B, int H, int W,
                                                int count_include_pad, const float *bias, int relu) {
    const size_t n = (size_t)C * B * H * W;
    if (!n) return;
    LAUNCH(avgpool3_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, C, B, H, W, count_include_pad, bias, relu);
    CUDA_LAUNCHED("avgpool3_kernel");
}

extern "C" void meanpool_forward_cuda(float *out, const float *in, size_t planes, int HW) {
    if (!planes) return;
    if (planes > 2147483647u) die_runtime("expected meanpool planes under 2^31, found %zu", planes);
    int threads = HW >= 256 ? 256 : (HW + 31) / 32 * 32;
    if (threads < 32) threads = 32;
    LAUNCH(meanpool_kernel, (unsigned)planes, threads, 0)(out, in, HW);
    CUDA_LAUNCHED("meanpool_kernel");
}
