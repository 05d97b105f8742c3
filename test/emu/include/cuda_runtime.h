/* cuda_runtime.h (emulated): the subset of the CUDA runtime that the .cu files of kernels/ use, on
 * the CPU, so that `make test` runs the kernels against their CPU twins where no GPU exists.
 * Compiled as C++17 with -DCUDA_EMU and -Itest/emu/include (which also supplies cublas_v2.h); the
 * implementation is the .cc files of test/emu/; the design and its limits are in README.md ("The
 * GPU path").
 *
 * Host side: device memory lives in one arena that host code cannot touch (a read or write
 * outside a kernel, copy or cuBLAS call ends the program saying so, as does a kernel touching a
 * buffer it was not given); fresh allocations are NaN, the guard bytes around each are checked
 * after every call that may write; copies, memsets and launches check their pointers and ranges.
 * Every call is synchronous.
 *
 * Device side (the kernel language): __global__/__device__ are plain functions; a launch runs the
 * grid's blocks one after another, each block's threads as fibres that switch only at
 * __syncthreads and at warp shuffles, so a block barrier or a full-warp shuffle that not every
 * thread reaches, or reaches at a different call, ends the program naming the kernel. */
#ifndef CUDA_EMU_RUNTIME_H
#define CUDA_EMU_RUNTIME_H
#include <stddef.h>

#include "cuda_emu_device.h"

typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorNoDevice = 100,
    cudaErrorDeviceUninitialized = 201,         /* "invalid device context" */
    cudaErrorInvalidResourceHandle = 400,
} cudaError_t;

typedef enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
} cudaMemcpyKind;

typedef enum cudaDeviceAttr {
    cudaDevAttrComputeCapabilityMajor = 75,
    cudaDevAttrComputeCapabilityMinor = 76,
} cudaDeviceAttr;

struct cudaFuncAttributes {
    size_t sharedSizeBytes, constSizeBytes, localSizeBytes;
    int maxThreadsPerBlock, numRegs, ptxVersion, binaryVersion;
};

typedef struct cuda_emu_stream *cudaStream_t;   /* only the default stream (0) exists */

/* Events and IPC (test/emu/ipc.cc). Every call is synchronous, so an event is complete when it is
 * recorded and waiting on one returns at once; what is checked is what CUDA refuses: an IPC
 * handle of an event made without cudaEventInterprocess | cudaEventDisableTiming, opening a
 * handle in the process that made it (cudaErrorDeviceUninitialized, "invalid device context"),
 * a handle whose process is gone or that names no allocation (cudaErrorInvalidResourceHandle),
 * closing a pointer that no handle opened. A memory handle names the allocation that holds the
 * pointer given (its start is what the other process gets); opening the same handle again in a
 * process returns the same pointer and counts the opens (cudaIpcCloseMemHandle unmaps at the last).
 * The PCI bus id of device d is "0000:0(d+1):00.0", or CUDA_EMU_PCI_BUS_ID where that is set. */
typedef struct cuda_emu_event *cudaEvent_t;
enum { cudaEventDefault = 0, cudaEventBlockingSync = 1, cudaEventDisableTiming = 2, cudaEventInterprocess = 4 };
enum { cudaIpcMemLazyEnablePeerAccess = 1 };
typedef struct cudaIpcMemHandle_st { char reserved[64]; } cudaIpcMemHandle_t;
typedef struct cudaIpcEventHandle_st { char reserved[64]; } cudaIpcEventHandle_t;

const char *cudaGetErrorName(cudaError_t e);
const char *cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetLastError(void);                 /* returns and clears the last launch error */
cudaError_t cudaPeekAtLastError(void);
cudaError_t cudaGetDeviceCount(int *count);         /* 1; 0 and cudaErrorNoDevice with CUDA_EMU_DEVICES=0 */
cudaError_t cudaGetDevice(int *dev);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int dev);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = 0);
cudaError_t cudaMemset(void *p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t s = 0);
cudaError_t cudaDeviceGetPCIBusId(char *id, int len, int dev);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaIpcGetMemHandle(cudaIpcMemHandle_t *h, void *p);
cudaError_t cudaIpcOpenMemHandle(void **p, cudaIpcMemHandle_t h, unsigned flags);
cudaError_t cudaIpcCloseMemHandle(void *p);
cudaError_t cudaIpcGetEventHandle(cudaIpcEventHandle_t *h, cudaEvent_t e);
cudaError_t cudaIpcOpenEventHandle(cudaEvent_t *e, cudaIpcEventHandle_t h);

template <typename T> static inline cudaError_t cudaMalloc(T **p, size_t bytes) {
    return cudaMalloc(reinterpret_cast<void **>(p), bytes);
}
/* every kernel of the build is "loaded": attributes of any function succeed */
template <typename F> static inline cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *a, F *) {
    *a = cudaFuncAttributes{0, 0, 0, 1024, 0, 90, 90};
    return cudaSuccess;
}
#endif
