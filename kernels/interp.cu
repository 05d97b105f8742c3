/* interp.cu: resizing planes on the GPU as torch.nn.functional.interpolate (align_corners=False,
 * no antialiasing), twin of lib/cpu/interp.c: bicubic A = −0.75 with border indices clamped as
 * upsample_bicubic2d, bilinear as upsample_bilinear2d, legacy nearest as upsample_nearest2d.
 * Each thread computes its taps with the CPU's formulas (double, then float weights). Forward:
 * one thread per output pixel, summing each tap row horizontally first as the CPU's separable
 * passes do; backward: one thread per output-gradient pixel scattering with atomicAdd. And
 * resize_bilinear2d_forward (Inception-v3's input transform), PyTorch 1.13's upsample_bilinear2d
 * with either align_corners, as lib/cpu/interp.c computes it: one thread per output pixel. */
#include "ops_cuda.h"

#include <math.h>

typedef struct { int idx[4]; float w[4]; } tap;

static __device__ double cc1(double x, double A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }          /* |x| ≤ 1 */
static __device__ double cc2(double x, double A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }   /* 1 < |x| < 2 */
static __device__ int clampi(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

/* the 1-d taps of output position o (unused taps: weight 0, index 0) */
static __device__ tap make_tap(int o, int in, int out, int mode) {
    tap p = {{0, 0, 0, 0}, {0.0f, 0.0f, 0.0f, 0.0f}};
    const double scale = (double)in / out;
    if (mode == RESIZE_BICUBIC) {
        const double real_x = scale * (o + 0.5) - 0.5, fl = floor(real_x), x = real_x - fl, A = -0.75;
        const int i0 = (int)fl;
        const double w[4] = {cc2(x + 1, A), cc1(x, A), cc1(1 - x, A), cc2(2 - x, A)};
        for (int k = 0; k < 4; k++) { p.idx[k] = clampi(i0 - 1 + k, in - 1); p.w[k] = (float)w[k]; }
    } else if (mode == RESIZE_BILINEAR) {
        double r = scale * (o + 0.5) - 0.5;
        if (r < 0) r = 0;
        const int i0 = (int)r, i1 = i0 + (i0 < in - 1);
        const double l1 = r - i0;
        p.idx[0] = i0; p.w[0] = (float)(1 - l1);
        p.idx[1] = i1; p.w[1] = (float)l1;
    } else {   /* nearest: PyTorch computes the scale and the index in float */
        const float s = (float)in / (float)out;
        const int i = (int)floorf((float)o * s);
        p.idx[0] = i > in - 1 ? in - 1 : i; p.w[0] = 1.0f;
    }
    return p;
}

static int ntaps(int mode) { return mode == RESIZE_BICUBIC ? 4 : mode == RESIZE_BILINEAR ? 2 : 1; }

/* out (planes,Ho,Wo) from in (planes,H,W) */
static __global__ void resize_forward_kernel(float *out, const float *in, int planes, int H, int W, int Ho, int Wo,
                                             int mode, int K) {
    GRID_STRIDE(i, (size_t)planes * Ho * Wo) {
        const int x = (int)(i % Wo), y = (int)((i / Wo) % Ho);
        const size_t pl = i / ((size_t)Ho * Wo);
        const tap tx = make_tap(x, W, Wo, mode), ty = make_tap(y, H, Ho, mode);
        const float *src = in + pl * H * W;
        float d = 0.0f;
        for (int ky = 0; ky < K; ky++) {
            const float *row = src + (size_t)ty.idx[ky] * W;
            float s = 0.0f;
            for (int kx = 0; kx < K; kx++) s += tx.w[kx] * row[tx.idx[kx]];
            d += ty.w[ky] * s;
        }
        out[i] = d;
    }
}

/* din (planes,H,W) += the taps' share of dout (planes,Ho,Wo) (din zeroed before) */
static __global__ void resize_backward_kernel(float *din, const float *dout, int planes, int H, int W, int Ho,
                                              int Wo, int mode, int K) {
    GRID_STRIDE(i, (size_t)planes * Ho * Wo) {
        const int x = (int)(i % Wo), y = (int)((i / Wo) % Ho);
        const size_t pl = i / ((size_t)Ho * Wo);
        const tap tx = make_tap(x, W, Wo, mode), ty = make_tap(y, H, Ho, mode);
        const float g = dout[i];
        float *dst = din + pl * H * W;
        for (int ky = 0; ky < K; ky++) {
            const float gy = ty.w[ky] * g;
            for (int kx = 0; kx < K; kx++) atomicAdd(dst + (size_t)ty.idx[ky] * W + tx.idx[kx], tx.w[kx] * gy);
        }
    }
}

extern "C" void resize_forward_cuda(float *out, const float *in, int planes, int H, int W, int Ho, int Wo,
                                    int mode) {
    const size_t n = (size_t)planes * Ho * Wo;
    if (!n) return;
    LAUNCH(resize_forward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, planes, H, W, Ho, Wo, mode, ntaps(mode));
    CUDA_LAUNCHED("resize_forward_kernel");
}

extern "C" void resize_backward_cuda(float *din, const float *dout, int planes, int H, int W, int Ho, int Wo,
                                     int mode) {
    cuda_zero(din, (size_t)planes * H * W * sizeof(float));
    const size_t n = (size_t)planes * Ho * Wo;
    if (!n) return;
    LAUNCH(resize_backward_kernel, cuda_blocks(n), CUDA_THREADS, 0)(din, dout, planes, H, W, Ho, Wo, mode, ntaps(mode));
    CUDA_LAUNCHED("resize_backward_kernel");
}

/* ---- resize_bilinear2d_forward: PyTorch 1.13's upsample_bilinear2d, source indices in float ---- */

/* area_pixel_compute_source_index for the linear modes, as lib/cpu/interp.c's src_index: output o of
 * outn reads i0 with weight 1 − l1 and i1 with weight l1. Rounded step by step (FMUL, FADD: no fused
 * multiply-add), so the indices and weights are the CPU's bit for bit. */
static __device__ void src_index(int o, int in, int outn, int ac, int *i0, int *i1, float *l1) {
    const float scale = ac ? (outn > 1 ? (float)(in - 1) / (float)(outn - 1) : 0.0f) : (float)in / (float)outn;
    float src = ac ? FMUL(scale, (float)o) : FADD(FMUL(scale, FADD((float)o, 0.5f)), -0.5f);
    if (src < 0.0f) src = 0.0f;
    int i = (int)src;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i + (i < in - 1 ? 1 : 0);
    *l1 = src - (float)i;
}

/* out (planes,Ho,Wo) from in (planes,H,W): the 2-d weighted sum of each output's four taps */
static __global__ void resize_bilinear2d_kernel(float *out, const float *in, size_t planes, int H, int W, int Ho,
                                                int Wo, int ac) {
    GRID_STRIDE(i, planes * Ho * Wo) {
        const int ow = (int)(i % Wo), oh = (int)(i / Wo % Ho);
        const float *x = in + i / ((size_t)Ho * Wo) * H * W;
        int h0, h1, w0, w1;
        float a1, b1;
        src_index(oh, H, Ho, ac, &h0, &h1, &a1);
        src_index(ow, W, Wo, ac, &w0, &w1, &b1);
        const float a0 = 1.0f - a1, b0 = 1.0f - b1;
        const float *r0 = x + (size_t)h0 * W, *r1 = x + (size_t)h1 * W;
        out[i] = a0 * (b0 * r0[w0] + b1 * r0[w1]) + a1 * (b0 * r1[w0] + b1 * r1[w1]);
    }
}

extern "C" void resize_bilinear2d_forward_cuda(float *out, const float *in, size_t planes, int H, int W, int Ho,
                                               int Wo, int ac) {
    const size_t n = planes * Ho * Wo;
    if (!n) return;
    LAUNCH(resize_bilinear2d_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, planes, H, W, Ho, Wo, ac);
    CUDA_LAUNCHED("resize_bilinear2d_kernel");
}
