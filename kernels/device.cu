/* device.cu: the device layer: whether a GPU is usable, memory and copies, synchronisation,
 * the cuBLAS handle, grow-only scratch buffers, and the error checks that turn a CUDA or cuBLAS
 * failure into one line on stderr and exit 1 (die_runtime), naming the call, its file and line.
 * The only calls left unchecked are those of cuda_device_available's probing, whose failures are
 * its answer (and are cleared with cudaGetLastError). */
#include "ops_cuda.h"

#include <stdio.h>

void cuda_check(cudaError_t e, const char *what, const char *file, int line) {
    if (e != cudaSuccess)
        die_runtime("expected %s (%s:%d) to succeed on the GPU, found CUDA error %s (%s)", what, file, line,
                    cudaGetErrorName(e), cudaGetErrorString(e));
}

void cublas_check(cublasStatus_t s, const char *what, const char *file, int line) {
    if (s != CUBLAS_STATUS_SUCCESS)
        die_runtime("expected %s (%s:%d) to succeed on the GPU, found cuBLAS error %s (%s)", what, file, line,
                    cublasGetStatusName(s), cublasGetStatusString(s));
}

/* A kernel that does nothing: asking for its attributes tells whether this build carries code
 * that the device can run (sm_90 binary, compute_80 PTX). */
static __global__ void probe_kernel(void) {}

extern "C" int cuda_compiled(void) { return 1; }

extern "C" int cuda_device_available(char *why, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        if (why && n) snprintf(why, n, "no CUDA device found (cudaGetDeviceCount: %s)", cudaGetErrorString(e));
        cudaGetLastError();
        return 0;
    }
    if (count == 0) {
        if (why && n) snprintf(why, n, "no CUDA device found (cudaGetDeviceCount: 0 devices)");
        return 0;
    }
    cudaFuncAttributes attr;
    e = cudaFuncGetAttributes(&attr, probe_kernel);
    if (e != cudaSuccess) {
        int dev = 0, major = 0, minor = 0;
        cudaGetDevice(&dev);
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
        if (why && n)
            snprintf(why, n, "no usable CUDA device (compute capability %d.%d, built for 8.0+: %s)",
                     major, minor, cudaGetErrorString(e));
        cudaGetLastError();
        return 0;
    }
    return 1;
}

extern "C" void *cuda_alloc(size_t bytes) {
    if (bytes == 0) return NULL;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess)
        die_runtime("expected %zu bytes of GPU memory, found cudaMalloc(&p, bytes) (%s:%d) failing (%s)", bytes,
                    __FILE__, __LINE__ - 3, cudaGetErrorString(e));
    return p;
}

extern "C" void cuda_free(void *p) {
    if (p) CUDA_CHECK(cudaFree(p));
}

extern "C" void cuda_upload(void *dst_dev, const void *src_host, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpy(dst_dev, src_host, bytes, cudaMemcpyHostToDevice));
}

extern "C" void cuda_download(void *dst_host, const void *src_dev, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemcpy(dst_host, src_dev, bytes, cudaMemcpyDeviceToHost));
}

extern "C" void cuda_copy(void *dst_dev, const void *src_dev, size_t bytes) {
    if (bytes && dst_dev != src_dev)
        CUDA_CHECK(cudaMemcpyAsync(dst_dev, src_dev, bytes, cudaMemcpyDeviceToDevice, 0));
}

extern "C" void cuda_zero(void *p, size_t bytes) {
    if (bytes) CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, 0));
}

extern "C" void cuda_sync(void) {
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaGetLastError());
}

cublasHandle_t cuda_blas(void) {
    static cublasHandle_t handle;
    if (!handle) {
        CUBLAS_CHECK(cublasCreate(&handle));
        /* plain FP32 products (no TF32), so results agree with the CPU's to float rounding */
        CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));
    }
    return handle;
}

void *cuda_scratch(int slot, size_t bytes) {
    static void *buf[2];
    static size_t cap[2];
    if (slot < 0 || slot > 1) die_runtime("expected a scratch slot in [0, 1], found %d", slot);
    if (bytes > cap[slot]) {
        if (buf[slot]) CUDA_CHECK(cudaFree(buf[slot]));   /* waits for the work that used it */
        size_t want = bytes + bytes / 4;                   /* some head-room for the next growth */
        buf[slot] = cuda_alloc(want);
        cap[slot] = want;
    }
    return buf[slot];
}
