/* conv_rect.cu: Inception-v3's forward convolutions on the GPU, twin of lib/cpu/conv_rect.c: a
 * rectangular KH×KW kernel with a stride and zero padding per axis, its bias and ReLU fused
 * (conv2d_rect_forward), and bias + ReLU alone (bias_relu_forward, the epilogue of the 1x1
 * convolutions that a block runs as one bare gemm). Activations (C,B,H,W).
 *
 * The math is the CPU's: a 1x1 stride-1 unpadded convolution is one gemm on the input itself,
 *   out (OC, B·H·W) = w (OC,C) · in (C, B·H·W);
 * others go through im2col, col (C·KH·KW, B·Ho·Wo), row k = (c,kh,kw), in chunks of whole samples
 * when col would pass conv2d_col_limit_cuda bytes (each chunk's gemm writes its column block of out
 * through the leading dimension B·Ho·Wo); then the epilogue out = relu?(out + b) in one pass.
 * Where cuDNN was found at build time (HAVE_CUDNN, see conv_rect_cudnn.cu), a convolution that is
 * not a plain 1x1 runs on cuDNN instead when that measured faster for its shape
 * (conv_rect_cudnn_cuda). Row-major matrices go to cuBLAS as their column-major transposes. */
#include "ops_cuda.h"

/* col[(c·KH + kh)·KW + kw, (b·Ho + oh)·Wo + ow] = in[c, b0 + b, oh·sh − ph + kh, ow·sw − pw + kw]
 * (0 outside the image) for the nb samples from b0; one thread per element of col */
static __global__ void im2col_rect_kernel(float *col, const float *in, int B, int C, int H, int W, int KH,
                                          int KW, int sh, int sw, int ph, int pw, int Ho, int Wo, int b0,
                                          int nb) {
    const size_t N = (size_t)nb * Ho * Wo;
    GRID_STRIDE(i, (size_t)C * KH * KW * N) {
        const size_t row = i / N, j = i % N;
        const int kw = (int)(row % KW), kh = (int)(row / KW % KH), c = (int)(row / KW / KH);
        const int ow = (int)(j % Wo), oh = (int)(j / Wo % Ho), b = b0 + (int)(j / Wo / Ho);
        const int h = oh * sh - ph + kh, w = ow * sw - pw + kw;
        col[i] = (h >= 0 && h < H && w >= 0 && w < W) ? in[(((size_t)c * B + b) * H + h) * W + w] : 0.0f;
    }
}

/* out[o, i] = relu?(in[o, i] + b[o]) over (rows, N); b may be NULL (then relu must be 1) */
static __global__ void bias_relu_kernel(float *out, const float *in, const float *b, size_t N, size_t n,
                                        int relu) {
    GRID_STRIDE(i, n) {
        float v = in[i] + (b ? b[i / N] : 0.0f);
        out[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
}

static void epilogue(float *out, const float *in, const float *b, int rows, size_t N, int relu) {
    const size_t n = (size_t)rows * N;
    if (!n || (!b && !relu)) return;
    LAUNCH(bias_relu_kernel, cuda_blocks(n), CUDA_THREADS, 0)(out, in, b, N, n, relu);
    CUDA_LAUNCHED("bias_relu_kernel");
}

extern "C" void bias_relu_forward_cuda(float *out, const float *in, const float *b, int rows, size_t N) {
    epilogue(out, in, b, rows, N, 1);
}

/* samples per chunk: as many as fit conv2d_col_limit_cuda, balanced so the chunks are even */
static int chunk_samples(int B, size_t col_per_sample) {
    const size_t bytes = col_per_sample * sizeof(float);
    size_t fit = bytes ? conv2d_col_limit_cuda / bytes : (size_t)B;
    if (fit < 1) fit = 1;
    if (fit >= (size_t)B) return B;
    const int nchunks = (int)(((size_t)B + fit - 1) / fit);
    return (B + nchunks - 1) / nchunks;
}

/* out (OC, B·Ho·Wo) = w ⋆ in without bias or ReLU, through im2col and cuBLAS */
void conv_rect_gemm(float *out, const float *in, const float *w, int B, int C, int H, int W, int OC, int KH,
                    int KW, int sh, int sw, int ph, int pw) {
    const int Ho = (H + 2 * ph - KH) / sh + 1, Wo = (W + 2 * pw - KW) / sw + 1;
    const size_t HoWo = (size_t)Ho * Wo, N = (size_t)B * HoWo;
    const int K = C * KH * KW;
    const float one = 1.0f, zero = 0.0f;
    if (N > 2147483647u) die_runtime("expected conv2d_rect matrices under 2^31 columns, found B·Ho·Wo = %zu", N);
    if (KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0) {
        /* outᵀ (N,OC) = inᵀ (N,C) · wᵀ (C,OC) */
        CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_N, CUBLAS_OP_N, (int)N, OC, C, &one, in, (int)N, w, C, &zero,
                                 out, (int)N));
        return;
    }
    const int nb = chunk_samples(B, (size_t)K * HoWo);
    float *col = (float *)cuda_scratch(0, (size_t)K * nb * HoWo * sizeof(float));
    for (int b0 = 0; b0 < B; b0 += nb) {
        const int n = B - b0 < nb ? B - b0 : nb, Nc = (int)(n * HoWo);
        const size_t ncol = (size_t)K * Nc;
        LAUNCH(im2col_rect_kernel, cuda_blocks(ncol), CUDA_THREADS, 0)(col, in, B, C, H, W, KH, KW, sh, sw, ph, pw,
                                                                      Ho, Wo, b0, n);
        CUDA_LAUNCHED("im2col_rect_kernel");
        /* out[:, b0·HoWo ..] (OC,Nc; ld N) = w (OC,K) · col (K,Nc): its transpose = colᵀ · wᵀ */
        CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_N, CUBLAS_OP_N, Nc, OC, K, &one, col, Nc, w, K, &zero,
                                 out + b0 * HoWo, (int)N));
    }
}

extern "C" void conv2d_rect_forward_cuda(float *out, const float *in, const float *w, const float *b, int B, int C,
                                         int H, int W, int OC, int KH, int KW, int sh, int sw, int ph, int pw,
                                         int relu) {
    const int Ho = (H + 2 * ph - KH) / sh + 1, Wo = (W + 2 * pw - KW) / sw + 1;
    const size_t N = (size_t)B * Ho * Wo;
    if (N == 0 || OC == 0) return;
    if (C == 0) {
        cuda_zero(out, (size_t)OC * N * sizeof(float));
    } else if (!conv_rect_cudnn(out, in, w, B, C, H, W, OC, KH, KW, sh, sw, ph, pw)) {
        conv_rect_gemm(out, in, w, B, C, H, W, OC, KH, KW, sh, sw, ph, pw);
    }
    epilogue(out, out, b, OC, N, relu);
}
