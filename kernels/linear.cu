/* linear.cu: nn.Linear on the GPU, twin of lib/cpu's linear: out (B,O) = in (B,I)·wᵀ + b.
 * Everything is row-major; cuBLAS is column-major, so each row-major matrix X is handed to
 * cuBLAS as the column-major Xᵀ and each product is written for the transposes. */
#include "ops_cuda.h"

/* out[b,o] = bias[o] (the gemm then adds with beta = 1) */
static __global__ void bias_rows_kernel(float *out, const float *bias, int B, int O) {
    GRID_STRIDE(i, (size_t)B * O) out[i] = bias[i % O];
}

/* db[o] += Σ_b dout[b,o] */
static __global__ void bias_grad_kernel(float *db, const float *dout, int B, int O) {
    GRID_STRIDE(o, (size_t)O) {
        float s = 0.0f;
        for (int b = 0; b < B; b++) s += dout[(size_t)b * O + o];
        db[o] += s;
    }
}

extern "C" void linear_forward_cuda(float *out, const float *in, const float *w, const float *b,
                                    int B, int I, int O) {
    if ((size_t)B * O == 0) return;
    float one = 1.0f, zero = 0.0f;
    if (b) {
        LAUNCH(bias_rows_kernel, cuda_blocks((size_t)B * O), CUDA_THREADS, 0)(out, b, B, O);
        CUDA_LAUNCHED("bias_rows_kernel");
    }
    /* outᵀ (O,B) = w (O,I) · inᵀ (I,B): column-major w is (I,O), so transpose it */
    CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_T, CUBLAS_OP_N, O, B, I, &one, w, I, in, I,
                             b ? &one : &zero, out, O));
}

extern "C" void linear_backward_cuda(float *din, float *dw, float *db, const float *dout,
                                     const float *in, const float *w, int B, int I, int O) {
    float one = 1.0f, zero = 0.0f;
    /* din (B,I) = dout (B,O) · w (O,I):  dinᵀ (I,B) = wᵀ (I,O) · doutᵀ (O,B) */
    if (din && (size_t)B * I > 0)
        CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_N, CUBLAS_OP_N, I, B, O, &one, w, I,
                                 dout, O, &zero, din, I));
    /* dw (O,I) += doutᵀ (O,B) · in (B,I):  dwᵀ (I,O) += inᵀ (I,B) · dout (B,O) */
    if (dw && (size_t)O * I > 0)
        CUBLAS_CHECK(cublasSgemm(cuda_blas(), CUBLAS_OP_N, CUBLAS_OP_T, I, O, B, &one, in, I,
                                 dout, O, &one, dw, I));
    if (db && O > 0) {
        LAUNCH(bias_grad_kernel, cuda_blocks((size_t)O), CUDA_THREADS, 0)(db, dout, B, O);
        CUDA_LAUNCHED("bias_grad_kernel");
    }
}
