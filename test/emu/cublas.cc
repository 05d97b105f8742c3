/* cublas.cc: the cuBLAS calls of the emulation (test/emu/include/cublas_v2.h) on OpenBLAS's
 * column-major cblas_sgemm. First cuBLAS's own argument checks, in the order its documentation
 * lists them, returning its status; then the emulation's: alpha and beta are host pointers (the
 * default pointer mode), and each matrix of each batch member lies inside one device allocation,
 * else the program ends naming the call, the matrix and its extent. */
#include "emu.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>

#include "cublas_v2.h"

struct cuda_emu_blas {
    cublasMath_t math;
};

using namespace cuda_emu;

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    if (devices() <= 0) return CUBLAS_STATUS_NOT_INITIALIZED;
    *handle = new cuda_emu_blas{CUBLAS_DEFAULT_MATH};
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

/* every mode computes in plain FP32 here (TF32 would round the inputs to 10-bit mantissas) */
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_PEDANTIC_MATH && mode != CUBLAS_TF32_TENSOR_OP_MATH)
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusName(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

const char *cublasGetStatusString(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    }
    return "unknown error";
}

namespace {

int valid_op(cublasOperation_t t) { return t == CUBLAS_OP_N || t == CUBLAS_OP_T || t == CUBLAS_OP_C; }
int maxi(int a, int b) { return a > b ? a : b; }
CBLAS_TRANSPOSE cblas_op(cublasOperation_t t) { return t == CUBLAS_OP_N ? CblasNoTrans : CblasTrans; }

/* the rows×cols column-major matrix at M (leading dimension ld) of members 0 .. batch−1 (stride s)
 * lies in one allocation */
void check_matrix(const char *call, const char *name, const float *M, int rows, int cols, int ld, long long s,
                  int batch) {
    const size_t extent = ((size_t)(cols - 1) * ld + rows) * sizeof(float);
    for (int i : {0, batch - 1}) {                                   /* the first member and the last */
        const char *lo = (const char *)(M + (ptrdiff_t)(i * s)), *end = lo + extent - 1;
        if (find(lo, extent)) continue;
        char buf[160];
        die_runtime("expected %s's %s (%d×%d, leading dimension %d; member %d of %d, stride %lld) inside one device "
                    "allocation, found it reaching %s (CUDA emulation)", call, name, rows, cols, ld, i, batch, s,
                    describe(find(lo, 0) ? end : lo, buf, sizeof buf));
    }
}

cublasStatus_t gemm(const char *call, cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                    int k, const float *alpha, const float *A, int lda, long long sA, const float *B, int ldb,
                    long long sB, const float *beta, float *C, int ldc, long long sC, int batch) {
    if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || k < 0 || batch < 0 ||
        lda < maxi(1, ta == CUBLAS_OP_N ? m : k) || ldb < maxi(1, tb == CUBLAS_OP_N ? k : n) || ldc < maxi(1, m) ||
        !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
    if (in_arena(alpha) || in_arena(beta))
        die_runtime("expected %s's alpha and beta in host memory (the default pointer mode), found them in device "
                    "memory (CUDA emulation)", call);
    const int reads = k > 0 && *alpha != 0.0f;
    if (reads) {
        check_matrix(call, "A", A, ta == CUBLAS_OP_N ? m : k, ta == CUBLAS_OP_N ? k : m, lda, sA, batch);
        check_matrix(call, "B", B, tb == CUBLAS_OP_N ? k : n, tb == CUBLAS_OP_N ? n : k, ldb, sB, batch);
    }
    check_matrix(call, "C", C, m, n, ldc, sC, batch);
    begin(call);
    if (reads) {
        open(find(A, 0));
        open(find(B, 0));
    }
    open(find(C, 0));
    for (int i = 0; i < batch; i++) {
        float *c = C + (ptrdiff_t)(i * sC);
        if (reads) {
            cblas_sgemm(CblasColMajor, cblas_op(ta), cblas_op(tb), m, n, k, *alpha, A + (ptrdiff_t)(i * sA), lda,
                        B + (ptrdiff_t)(i * sB), ldb, *beta, c, ldc);
        } else {                                  /* C = beta·C, and exactly 0 where beta is 0 */
            for (int j = 0; j < n; j++)
                for (int r = 0; r < m; r++) c[(size_t)j * ldc + r] = *beta == 0.0f ? 0.0f : *beta * c[(size_t)j * ldc + r];
        }
    }
    close_all();
    return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float *alpha, const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    return gemm("cublasSgemm", handle, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m,
                                         int n, int k, const float *alpha, const float *A, int lda, long long sA,
                                         const float *B, int ldb, long long sB, const float *beta, float *C, int ldc,
                                         long long sC, int batch) {
    return gemm("cublasSgemmStridedBatched", handle, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc,
                sC, batch);
}
