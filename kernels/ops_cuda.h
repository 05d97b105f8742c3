/* ops_cuda.h: the CUDA twins of the CPU ops (name_cuda, float, device pointers; declared from
 * lib/core/op_list.h, which says each op's shapes and contract) and the device layer (memory,
 * copies, sync).
 *
 * Every op is enqueued on the default stream and returns without waiting, except those that
 * return a host value (hinge_forward_cuda, vec_dot_cuda), which wait for their result.
 * Errors end the program through die_runtime with a one-line message naming the CUDA error.
 * A build without nvcc links kernels/nocuda.c instead: the same symbols, generated from the same
 * lists, each of which dies saying so, and cuda_device_available() returning 0. An op that
 * op_list.h marks OPDEF_CPU_ONLY has no twin yet: its name_cuda, in either build, dies with
 * CUDA_NO_TWIN(name). */
#ifndef DFGAN_OPS_CUDA_H
#define DFGAN_OPS_CUDA_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define R float
#define OPDEF(ret, name, params) ret name##_cuda params;
#include "core/op_list.h"

/* the reason an OPDEF_CPU_ONLY op's name_cuda gives (kernels/no_twin.cu, kernels/nocuda.c) */
#define CUDA_NO_TWIN(name) "expected a CUDA twin of " #name ", found none yet"

/* 1 if a usable GPU exists (one that runs this build's kernels); else 0 and the reason in why. */
int cuda_compiled(void);                          /* 1 in a build with the CUDA kernels, 0 in nocuda.c */
int cuda_device_available(char *why, size_t n);
/* The device layer (kernels/device.cu) as X(ret, name, params) entries, from which come these
 * declarations and kernels/nocuda.c's stubs. */
#define CUDA_DEVICE_LAYER(X) \
    X(void *, cuda_alloc, (size_t bytes))          /* die_runtime on failure; 0 bytes gives NULL */ \
    X(void, cuda_free, (void *p))                  /* NULL is fine */ \
    X(void, cuda_upload, (void *dst_dev, const void *src_host, size_t bytes)) \
    X(void, cuda_download, (void *dst_host, const void *src_dev, size_t bytes)) \
    X(void, cuda_copy, (void *dst_dev, const void *src_dev, size_t bytes)) \
    X(void, cuda_zero, (void *p, size_t bytes)) \
    X(void, cuda_sync, (void))                     /* die_runtime naming the CUDA error on failure */
/* CUDA IPC (kernels/ipc.cu): device buffers and events shared with another process on the same
 * GPU, for lib/train/ipc_link.h. Handles are CUDA's 64 bytes (cudaIpcMemHandle_t,
 * cudaIpcEventHandle_t); an opened handle's failure comes back as NULL with CUDA's error in why. */
#define CUDA_IPC_LAYER(X) \
    X(void, cuda_ipc_export, (void *dev, unsigned char handle[64]))           /* of cuda_alloc's buffer */ \
    X(void *, cuda_ipc_event_new, (unsigned char handle[64]))                /* an interprocess event */ \
    X(void, cuda_ipc_event_record, (void *event))            /* after the work enqueued so far */ \
    X(void *, cuda_ipc_open, (const unsigned char handle[64], char *why, size_t n)) \
    X(void *, cuda_ipc_open_event, (const unsigned char handle[64], char *why, size_t n)) \
    X(void, cuda_ipc_wait, (void *event))                    /* work enqueued from now on waits for it */ \
    X(void, cuda_ipc_close, (void *dev)) \
    X(void, cuda_ipc_event_free, (void *event)) \
    X(void, cuda_bus_id, (char *id, size_t n))               /* the current GPU's PCI bus id */
#define CUDA_DECLARE(ret, name, params) ret name params;
CUDA_DEVICE_LAYER(CUDA_DECLARE)
CUDA_IPC_LAYER(CUDA_DECLARE)
#undef CUDA_DECLARE

/* Bytes conv2d's column matrix may take on the GPU before the batch is split into chunks of
 * samples (default 1 GiB); a tuning knob, as conv2d_col_limit_cpu is on the CPU. */
extern size_t conv2d_col_limit_cuda;
/* Whether conv2d_rect_forward's convolutions run on cuDNN (kernels/conv_rect_cudnn.cu): -1 (the
 * default) for the shapes where it measured faster, 0 never, 1 wherever it has an algorithm;
 * DFGAN_CUDNN=auto|off|on sets it at the first call. Without cuDNN in the build, never. */
extern int conv_rect_cudnn_cuda;
int cudnn_compiled(void);                         /* 1 if the build found cuDNN (HAVE_CUDNN) */

#ifdef __cplusplus
}
#endif

/* ---- for the kernels/ sources only: error checks, cuBLAS handle, scratch, launch shapes ---- */
#if defined(__CUDACC__) || defined(CUDA_EMU)     /* nvcc, or the CPU emulation of test/emu/ */
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include "cuda_launch.h"

/* lib/core/common.h is C11 (_Noreturn); its one function the kernels use, declared for C++. */
extern "C" void die_runtime(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* die_runtime unless the call succeeded: "expected CALL (FILE:LINE) to succeed on the GPU, found
 * CUDA error NAME (text)"; every CUDA and cuBLAS call in kernels/ goes through one of these */
void cuda_check(cudaError_t e, const char *what, const char *file, int line);
void cublas_check(cublasStatus_t s, const char *what, const char *file, int line);
#define CUDA_CHECK(call) cuda_check((call), #call, __FILE__, __LINE__)
#define CUBLAS_CHECK(call) cublas_check((call), #call, __FILE__, __LINE__)
/* after every kernel launch: a bad launch configuration or a missing kernel image */
#define CUDA_LAUNCHED(name) cuda_check(cudaGetLastError(), "launch of " name, __FILE__, __LINE__)

cublasHandle_t cuda_blas(void);                        /* created on first use */
/* Grow-only device scratch buffers (never shrink, never freed before exit). Slot 0: conv2d's
 * column matrix; slot 1: partial sums of reductions. Safe to reuse between ops because every
 * op runs on the default stream in order. */
void *cuda_scratch(int slot, size_t bytes);

/* conv2d_rect_forward's convolution without bias or ReLU through im2col + cuBLAS (conv_rect.cu),
 * and on cuDNN where the build has it and conv_rect_cudnn_cuda chooses it: 1 if it ran there */
void conv_rect_gemm(float *out, const float *in, const float *w, int B, int C, int H, int W, int OC, int KH,
                    int KW, int sh, int sw, int ph, int pw);
int conv_rect_cudnn(float *out, const float *in, const float *w, int B, int C, int H, int W, int OC, int KH,
                    int KW, int sh, int sw, int ph, int pw);

/* float product and sum rounded one at a time (nvcc would fuse a·b + c into one rounding): for
 * index arithmetic that must agree with the CPU's bit for bit */
#ifdef __CUDACC__
#define FMUL(a, b) __fmul_rn((a), (b))
#define FADD(a, b) __fadd_rn((a), (b))
#else
#define FMUL(a, b) ((a) * (b))
#define FADD(a, b) ((a) + (b))
#endif

#define CUDA_THREADS 256
/* blocks for a grid-stride loop over n elements (n > 0) */
static inline unsigned cuda_blocks(size_t n) {
    size_t b = (n + CUDA_THREADS - 1) / CUDA_THREADS;
    return (unsigned)(b > 65536 ? 65536 : b);
}
#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n); \
         i += (size_t)blockDim.x * gridDim.x)

/* Sum of v over the block (blockDim.x a multiple of 32, at most 1024); the result is valid in
 * every thread. Uses 32 elements of shared memory; call it the same number of times in all
 * threads. */
template <typename T> static __device__ __forceinline__ T block_sum(T v) {
    __shared__ T part[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    __syncthreads();                           /* part[] may still be read by a previous call */
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nwarps ? part[lane] : (T)0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return __shfl_sync(0xffffffffu, v, 0);
}
#endif

#endif
