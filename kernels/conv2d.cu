/* conv2d.cu: nn.Conv2d (zero padding, any K, stride, pad) on the GPU, twin of lib/cpu/conv2d.c,
 * with the same math over the whole batch at once:
 *   col (C·K·K, B·Ho·Wo) = im2col(in (C,B,H,W));  out (OC, B·Ho·Wo) = w (OC, C·K·K) · col (+ b)
 *   dw += dout · colᵀ;  db += Σ dout;  dcol = wᵀ · dout;  din = col2im(dcol)
 * col lives in a grow-only scratch buffer; should it pass conv2d_col_limit_cuda bytes, the batch
 * goes in chunks of samples (each chunk's slice of out/dout is a column block addressed through
 * the gemm's leading dimension), as on the CPU. A 1×1, stride 1, unpadded convolution uses in
 * and din directly as col and dcol. col2im is a gather (one thread per input pixel): no atomics.
 * Row-major matrices go to cuBLAS as their column-major transposes (see linear.cu). */
#include "ops_cuda.h"

size_t conv2d_col_limit_cuda = (size_t)1 << 30;

/* col[(c·K + ki)·K + kj, (b·Ho + oh)·Wo + ow] = in[c, b0 + b, oh·stride − pad + ki, ow·stride − pad + kj]
 * (0 outside the image) for the nb samples from b0; one thread per element of col */
static __global__ void im2col_kernel(float *col, const float *in, int B, int C, int H, int W,
                                     int K, int stride, int pad, int Ho, int Wo, int b0, int nb) {
    size_t N = (size_t)nb * Ho * Wo;
    GRID_STRIDE(i, (size_t)C * K * K * N) {
        size_t row = i / N, j = i % N;
        int kj = (int)(row % K), ki = (int)(row / K % K), c = (int)(row / K / K);
        int ow = (int)(j % Wo), oh = (int)(j / Wo % Ho), b = b0 + (int)(j / Wo / Ho);
        int h = oh * stride - pad + ki, w = ow * stride - pad + kj;
        col[i] = (h >= 0 && h < H && w >= 0 && w < W)
                     ? in[(((size_t)c * B + b) * H + h) * W + w] : 0.0f;
    }
}

/* din[c, b0 + b, h, w] = Σ over the (ki,kj,oh,ow) that read it in im2col of
 * dcol[(c,ki,kj), (b,oh,ow)], for the nb samples from b0; one thread per input pixel */
static __global__ void col2im_kernel(float *din, const float *dcol, int B, int C, int H, int W,
                                     int K, int stride, int pad, int Ho, int Wo, int b0, int nb) {
    size_t N = (size_t)nb * Ho * Wo;
    GRID_STRIDE(i, (size_t)C * nb * H * W) {
        int w = (int)(i % W), h = (int)(i / W % H), b = (int)(i / W / H % nb);
        int c = (int)(i / W / H / nb);
        float s = 0.0f;
        for (int ki = 0; ki < K; ki++) {
            int hp = h + pad - ki;                       /* = oh·stride */
            if (hp < 0 || hp % stride) continue;
            int oh = hp / stride;
            if (oh >= Ho) continue;
            for (int kj = 0; kj < K; kj++) {
                int wp = w + pad - kj;
                if (wp < 0 || wp % stride) continue;
                int ow = wp / stride;
                if (ow >= Wo) continue;
                s += dcol[((size_t)(c * K + ki) * K + kj) * N + ((size_t)b * Ho + oh) * Wo + ow];
            }
        }
        din[(((size_t)c * B + b0 + b) * H + h) * W + w] = s;
    }
}

/* out[oc, j] = b[oc] for j < N (the gemm then adds with beta = 1) */
static __global__ void bias_fill_kernel(float *out, const float *b, int OC, size_t N) {
    GRID_STRIDE(i, (size_t)OC * N) out[i] = b[i / N];
}

/* db[oc] += Σ_j dout[oc, j], summed in double as the CPU does; one block per output channel */
static __global__ void bias_grad_kernel(float *db, const float *dout, size_t N) {
    const float *row = dout + (size_t)blockIdx.x * N;
    double s = 0.0;
    for (size_t j = threadIdx.x; j < N; j += blockDim.x) s += row[j];
    s = block_sum(s);
    if (threadIdx.x == 0) db[blockIdx.x] += (float)s;
}

static int out_size(int n, int K, int stride, int pad) { return (n + 2 * pad - K) / stride + 1; }

/* cuBLAS takes int dimensions */
static void check_dims(size_t N, int CKK) {
    if (N > 2147483647u || CKK < 0)
        die_runtime("expected conv2d matrices under 2^31 columns, found B·Ho·Wo = %zu", N);
}

/* samples per chunk: as many as fit conv2d_col_limit_cuda, balanced so the chunks are even */
static int chunk_samples(int B, size_t col_per_sample) {
    size_t bytes = col_per_sample * sizeof(float);
    size_t fit = bytes ? conv2d_col_limit_cuda / bytes : (size_t)B;
    if (fit < 1) fit = 1;
    if (fit >= (size_t)B) return B;
    int nchunks = (int)(((size_t)B + fit - 1) / fit);
    return (B + nchunks - 1) / nchunks;
}

static void im2col(float *col, const float *in, int B, int C, int H, int W, int K, int stride,
                   int pad, int Ho, int Wo, int b0, int nb) {
    size_t n = (size_t)C * K * K * nb * Ho * Wo;
    LAUNCH(im2col_kernel, cuda_blocks(n), CUDA_THREADS, 0)(col, in, B, C, H, W, K, stride, pad, Ho, Wo, b0, nb);
    CUDA_LAUNCHED("im2col_kernel");
}

extern "C" void conv2d_forward_cuda(float *out, const float *in, const float *w, const float *b,
                                    int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    int Ho = out_size(H, K, stride, pad), Wo = out_size(W, K, stride, pad);
    size_t HoWo = (size_t)Ho * Wo, N = (size_t)B * HoWo;
    int CKK = C * K * K;
    if (N == 0 || OC == 0) return;
    check_dims(N, CKK);
    float one = 1.0f, zero = 0.0f;
    const float *beta = b ? &one : &zero;
    if (b) {
        LAUNCH(bias_fill_kernel, cuda_blocks((size_t)OC * N), CUDA_THREADS, 0)(out, b, OC, N);
        CUDA_LAUNCHED("bias_fill_kernel");
    }
    if (K == 1 && stride == 1 && pad == 0) {
        /* out (OC,N) = w (OC,C) · in (C,N):  outᵀ (N,OC) = inᵀ (N,C) · wᵀ (C,OC) */
        CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_N, CUBLAS_OP_N, (int)N, OC, C, &one, in,
                                 (int)N, w, C, beta, out, (int)N));
        return;
    }
    int nb = chunk_samples(B, (size_t)CKK * HoWo);
    float *col = (float *)cuda_scratch(0, (size_t)CKK * nb * HoWo * sizeof(float));
    for (int b0 = 0; b0 < B; b0 += nb) {
        int n = B - b0 < nb ? B - b0 : nb, Nc = (int)(n * HoWo);
        im2col(col, in, B, C, H, W, K, stride, pad, Ho, Wo, b0, n);
        /* out[:, b0·HoWo ..] (OC,Nc; ld N) = w (OC,CKK) · col (CKK,Nc):
         * its transpose (Nc,OC; ld N) = colᵀ (Nc,CKK) · wᵀ (CKK,OC) */
        CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_N, CUBLAS_OP_N, Nc, OC, CKK, &one, col, Nc,
                                 w, CKK, beta, out + b0 * HoWo, (int)N));
    }
}

/* conv2d_forward then the leaky ReLU (of the output, or its tangent at mask): two launches here */
extern "C" void conv2d_forward_lrelu_cuda(float *out, const float *in, const float *w, const float *b,
                                          const float *mask, float slope, int B, int C, int H, int W,
                                          int OC, int K, int stride, int pad) {
    conv2d_forward_cuda(out, in, w, b, B, C, H, W, OC, K, stride, pad);
    size_t n = (size_t)OC * B * out_size(H, K, stride, pad) * out_size(W, K, stride, pad);
    if (mask) leaky_relu_backward_cuda(out, out, mask, n, slope);
    else leaky_relu_forward_cuda(out, out, n, slope);
}

/* conv2d_backward, then din through the leaky ReLU at mask */
extern "C" void conv2d_backward_lrelu_cuda(float *din, float *dw, float *db, const float *dout,
                                           const float *in, const float *w, const float *mask, float slope,
                                           int B, int C, int H, int W, int OC, int K, int stride, int pad) {
    conv2d_backward_cuda(din, dw, db, dout, in, w, B, C, H, W, OC, K, stride, pad);
    if (din) leaky_relu_backward_cuda(din, din, mask, (size_t)C * B * H * W, slope);
}

extern "C" void conv2d_backward_cuda(float *din, float *dw, float *db, const float *dout,
                                     const float *in, const float *w, int B, int C, int H, int W,
                                     int OC, int K, int stride, int pad) {
    int Ho = out_size(H, K, stride, pad), Wo = out_size(W, K, stride, pad);
    size_t HoWo = (size_t)Ho * Wo, N = (size_t)B * HoWo;
    size_t nin = (size_t)C * B * H * W;
    int CKK = C * K * K;
    float one = 1.0f, zero = 0.0f;
    check_dims(N, CKK);
    if (db && OC > 0 && N > 0) {
        LAUNCH(bias_grad_kernel, OC, CUDA_THREADS, 0)(db, dout, N);
        CUDA_LAUNCHED("bias_grad_kernel");
    }
    if (!din && !dw) return;
    if (N == 0 || OC == 0 || CKK == 0) {            /* nothing flows back */
        if (din && nin) cuda_zero(din, nin * sizeof(float));
        return;
    }
    if (K == 1 && stride == 1 && pad == 0) {
        /* dw (OC,C) += dout (OC,N) · inᵀ (N,C):  dwᵀ (C,OC) += in (C,N) · doutᵀ (N,OC) */
        if (dw)
            CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_T, CUBLAS_OP_N, C, OC, (int)N, &one, in,
                                     (int)N, dout, (int)N, &one, dw, C));
        /* din (C,N) = wᵀ (C,OC) · dout (OC,N):  dinᵀ (N,C) = doutᵀ (N,OC) · w (OC,C) */
        if (din)
            CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_N, CUBLAS_OP_T, (int)N, C, OC, &one,
                                     dout, (int)N, w, C, &zero, din, (int)N));
        return;
    }
    int nb = chunk_samples(B, (size_t)CKK * HoWo);
    float *col = (float *)cuda_scratch(0, (size_t)CKK * nb * HoWo * sizeof(float));
    for (int b0 = 0; b0 < B; b0 += nb) {
        int n = B - b0 < nb ? B - b0 : nb, Nc = (int)(n * HoWo);
        const float *g = dout + b0 * HoWo;          /* (OC, Nc) block, leading dimension N */
        if (dw) {
            im2col(col, in, B, C, H, W, K, stride, pad, Ho, Wo, b0, n);
            /* dw (OC,CKK) += g (OC,Nc) · colᵀ (Nc,CKK):  dwᵀ (CKK,OC) += col (CKK,Nc) · gᵀ (Nc,OC) */
            CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_T, CUBLAS_OP_N, CKK, OC, Nc, &one, col,
                                     Nc, g, (int)N, &one, dw, CKK));
        }
        if (din) {
            /* dcol (CKK,Nc) = wᵀ (CKK,OC) · g (OC,Nc):  dcolᵀ (Nc,CKK) = gᵀ (Nc,OC) · w (OC,CKK),
             * into the same scratch (the stream orders it after the dw product) */
            CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_N, CUBLAS_OP_T, Nc, CKK, OC, &one, g,
                                     (int)N, w, CKK, &zero, col, Nc));
            size_t np = (size_t)C * n * H * W;
            LAUNCH(col2im_kernel, cuda_blocks(np), CUDA_THREADS, 0)(din, col, B, C, H, W, K, stride, pad, Ho, Wo, b0,
                                                                    n);
            CUDA_LAUNCHED("col2im_kernel");
        }
    }
}
