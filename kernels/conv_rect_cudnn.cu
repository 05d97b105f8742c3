/* conv_rect_cudnn.cu: conv2d_rect_forward's convolution (without its bias and ReLU) on cuDNN, for
 * the shapes where that is faster than conv_rect.cu's im2col + cuBLAS; compiled in where the build
 * found cudnn.h and libcudnn (HAVE_CUDNN, see the Makefile), else conv_rect_cudnn() only answers 0.
 *
 * Our activations are (C,B,H,W); cuDNN gets packed NCHW copies (in transposed into a scratch
 * buffer, the result transposed back into out), which every algorithm supports. Weights
 * (OC,C,KH,KW) are cuDNN's KCRS as they are. FP32 arithmetic only (CUDNN_FMA_MATH: no TF32, so
 * results agree with the CPU's to float rounding), deterministic algorithms only.
 *
 * The choice, per shape (B, C, H, W, OC, KH, KW, strides, paddings), made the first time the shape
 * comes: cudnnFindConvolutionForwardAlgorithm's fastest usable algorithm, then both paths timed
 * with CUDA events (the better of two runs each, after one warm-up run); cuDNN is kept only if it
 * is faster, transposes included. conv_rect_cudnn_cuda overrides: 0 never, 1 always (where
 * usable), -1 (default) by measurement; DFGAN_CUDNN=off|on|auto in the environment sets it at the
 * first call, and DFGAN_CUDNN_LOG=1 prints each shape's choice and times on stderr. */
#include "ops_cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int conv_rect_cudnn_cuda = -1;

#ifndef HAVE_CUDNN

extern "C" int cudnn_compiled(void) { return 0; }

int conv_rect_cudnn(float *, const float *, const float *, int, int, int, int, int, int, int, int, int, int, int) {
    return 0;
}

#else
#include <cudnn.h>

extern "C" int cudnn_compiled(void) { return 1; }

static void cudnn_check(cudnnStatus_t s, const char *what, const char *file, int line) {
    if (s != CUDNN_STATUS_SUCCESS)
        die_runtime("expected %s (%s:%d) to succeed on the GPU, found cuDNN error %s", what, file, line,
                    cudnnGetErrorString(s));
}
#define CUDNN_CHECK(call) cudnn_check((call), #call, __FILE__, __LINE__)

static cudnnHandle_t handle(void) {
    static cudnnHandle_t h;
    if (!h) CUDNN_CHECK(cudnnCreate(&h));
    return h;
}

/* grow-only device buffers of this file: 0 the NCHW input, 1 the NCHW output, 2 the workspace */
static void *buffer(int slot, size_t bytes) {
    static void *buf[3];
    static size_t cap[3];
    if (bytes > cap[slot]) {
        if (buf[slot]) CUDA_CHECK(cudaFree(buf[slot]));
        buf[slot] = cuda_alloc(bytes);
        cap[slot] = bytes;
    }
    return buf[slot];
}

typedef struct {
    int key[11];
    int usable;                             /* cuDNN has a deterministic FP32 algorithm for it */
    int decided, faster;                    /* timed yet; cuDNN measured faster than the gemm path */
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws;                              /* the algorithm's workspace bytes */
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
} shape;

#define MAX_SHAPES 512
static shape shapes[MAX_SHAPES];
static int nshapes;

static void describe(shape *s) {
    const int *k = s->key;   /* B C H W OC KH KW sh sw ph pw */
    const int Ho = (k[2] + 2 * k[9] - k[5]) / k[7] + 1, Wo = (k[3] + 2 * k[10] - k[6]) / k[8] + 1;
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&s->x));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&s->y));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&s->w));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&s->conv));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(s->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, k[0], k[1], k[2], k[3]));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(s->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, k[0], k[4], Ho, Wo));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(s->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k[4], k[1], k[5], k[6]));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(s->conv, k[9], k[10], k[7], k[8], 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(s->conv, CUDNN_FMA_MATH));
}

/* out (OC,B,Ho,Wo) = w ⋆ in on cuDNN: transpose in, convolve, transpose back */
static void run(const shape *s, float *out, const float *in, const float *w) {
    const int *k = s->key;
    const int B = k[0], C = k[1], OC = k[4];
    const int Ho = (k[2] + 2 * k[9] - k[5]) / k[7] + 1, Wo = (k[3] + 2 * k[10] - k[6]) / k[8] + 1;
    const size_t HW = (size_t)k[2] * k[3], HoWo = (size_t)Ho * Wo;
    float *x = (float *)buffer(0, (size_t)C * B * HW * sizeof(float));
    float *y = (float *)buffer(1, (size_t)OC * B * HoWo * sizeof(float));
    void *ws = s->ws ? buffer(2, s->ws) : NULL;
    const float one = 1.0f, zero = 0.0f;
    cnhw_to_nchw_cuda(x, in, B, C, (int)HW);
    CUDNN_CHECK(cudnnConvolutionForward(handle(), &one, s->x, x, s->w, w, s->conv, s->algo, ws, s->ws, &zero, s->y,
                                        y));
    nchw_to_cnhw_cuda(out, y, B, OC, (int)HoWo);
}

/* milliseconds of the better of two runs of path (1 cuDNN, 0 gemm), after a warm-up run */
static float time_path(const shape *s, int path, float *out, const float *in, const float *w) {
    const int *k = s->key;
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    float best = 1e30f;
    for (int r = 0; r < 3; r++) {
        CUDA_CHECK(cudaEventRecord(e0, 0));
        if (path) run(s, out, in, w);
        else conv_rect_gemm(out, in, w, k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10]);
        CUDA_CHECK(cudaEventRecord(e1, 0));
        CUDA_CHECK(cudaEventSynchronize(e1));
        float ms = 0;
        CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        if (r > 0 && ms < best) best = ms;
    }
    CUDA_CHECK(cudaEventDestroy(e0));
    CUDA_CHECK(cudaEventDestroy(e1));
    return best;
}

static int log_choices(void) {
    static int v = -1;
    if (v < 0) v = getenv("DFGAN_CUDNN_LOG") && strcmp(getenv("DFGAN_CUDNN_LOG"), "0") != 0;
    return v;
}

/* the shape's entry, with cuDNN's fastest usable algorithm, made on first use; NULL when the table
 * is full */
static shape *lookup(const int *key) {
    for (int i = 0; i < nshapes; i++)
        if (!memcmp(shapes[i].key, key, sizeof shapes[i].key)) return &shapes[i];
    if (nshapes == MAX_SHAPES) return NULL;
    shape *s = &shapes[nshapes++];
    memset(s, 0, sizeof *s);
    memcpy(s->key, key, sizeof s->key);
    describe(s);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(handle(), s->x, s->w, s->conv, s->y,
                                                     CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf));
    for (int i = 0; i < n && !s->usable; i++)   /* fastest first */
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
            perf[i].mathType == CUDNN_FMA_MATH) {
            s->algo = perf[i].algo;
            s->ws = perf[i].memory;
            s->usable = 1;
        }
    return s;
}

/* time both paths on the call's buffers (out is written) and keep the faster */
static void decide(shape *s, float *out, const float *in, const float *w) {
    const int *k = s->key;
    const float tc = time_path(s, 1, out, in, w), tg = time_path(s, 0, out, in, w);
    s->faster = tc < tg;
    s->decided = 1;
    if (log_choices())
        fprintf(stderr, "conv2d_rect B%d C%d %dx%d OC%d %dx%d s%d,%d p%d,%d: cuDNN algo %d %.3f ms, gemm %.3f ms -> %s\n",
                k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], (int)s->algo, tc, tg,
                s->faster ? "cuDNN" : "gemm");
}

int conv_rect_cudnn(float *out, const float *in, const float *w, int B, int C, int H, int W, int OC, int KH, int KW,
                    int sh, int sw, int ph, int pw) {
    static int env_read;
    if (!env_read) {
        env_read = 1;
        const char *e = getenv("DFGAN_CUDNN");
        if (e && !strcmp(e, "off")) conv_rect_cudnn_cuda = 0;
        else if (e && !strcmp(e, "on")) conv_rect_cudnn_cuda = 1;
        else if (e && strcmp(e, "auto"))
            die_runtime("DFGAN_CUDNN: expected off, on or auto, found '%s'", e);
    }
    if (conv_rect_cudnn_cuda == 0) return 0;
    if (KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0) return 0;   /* one gemm already */
    const int key[11] = {B, C, H, W, OC, KH, KW, sh, sw, ph, pw};
    shape *s = lookup(key);
    if (!s || !s->usable) return 0;
    if (conv_rect_cudnn_cuda != 1) {
        if (!s->decided) decide(s, out, in, w);
        if (!s->faster) return 0;
    }
    run(s, out, in, w);
    return 1;
}
#endif
