/* ipc.cu: CUDA IPC for tools that hand device buffers to each other (lib/train/ipc_link.h): the
 * memory and event handles of a writer's buffers, and a reader's opening of them. No twin in lib/cpu/
 * (there is nothing to share on the CPU); kernels/nocuda.c has the stubs, and the CPU emulation
 * (test/emu/ipc.cc) carries these calls across processes. */
#include "ops_cuda.h"

#include <stdio.h>
#include <string.h>

extern "C" void cuda_ipc_export(void *dev, unsigned char handle[64]) {
    cudaIpcMemHandle_t h;
    CUDA_CHECK(cudaIpcGetMemHandle(&h, dev));
    memcpy(handle, &h, 64);
}

/* an event another process can wait on: interprocess events must not time */
extern "C" void *cuda_ipc_event_new(unsigned char handle[64]) {
    cudaEvent_t e;
    CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventInterprocess | cudaEventDisableTiming));
    cudaIpcEventHandle_t h;
    CUDA_CHECK(cudaIpcGetEventHandle(&h, e));
    memcpy(handle, &h, 64);
    return (void *)e;
}

extern "C" void cuda_ipc_event_record(void *event) { CUDA_CHECK(cudaEventRecord((cudaEvent_t)event, 0)); }

static void why_failed(cudaError_t e, const char *call, char *why, size_t n) {
    if (why && n) snprintf(why, n, "%s failing (CUDA error %s: %s)", call, cudaGetErrorName(e), cudaGetErrorString(e));
    cudaGetLastError();
}

extern "C" void *cuda_ipc_open(const unsigned char handle[64], char *why, size_t n) {
    cudaIpcMemHandle_t h;
    memcpy(&h, handle, 64);
    void *p = NULL;
    cudaError_t e = cudaIpcOpenMemHandle(&p, h, cudaIpcMemLazyEnablePeerAccess);
    if (e != cudaSuccess) {
        why_failed(e, "cudaIpcOpenMemHandle", why, n);
        return NULL;
    }
    return p;
}

extern "C" void *cuda_ipc_open_event(const unsigned char handle[64], char *why, size_t n) {
    cudaIpcEventHandle_t h;
    memcpy(&h, handle, 64);
    cudaEvent_t ev;
    cudaError_t e = cudaIpcOpenEventHandle(&ev, h);
    if (e != cudaSuccess) {
        why_failed(e, "cudaIpcOpenEventHandle", why, n);
        return NULL;
    }
    return (void *)ev;
}

extern "C" void cuda_ipc_wait(void *event) { CUDA_CHECK(cudaStreamWaitEvent(0, (cudaEvent_t)event, 0)); }

extern "C" void cuda_ipc_close(void *dev) { CUDA_CHECK(cudaIpcCloseMemHandle(dev)); }

extern "C" void cuda_ipc_event_free(void *event) { CUDA_CHECK(cudaEventDestroy((cudaEvent_t)event)); }

extern "C" void cuda_bus_id(char *id, size_t n) {
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    char buf[64];
    CUDA_CHECK(cudaDeviceGetPCIBusId(buf, (int)sizeof buf, dev));
    snprintf(id, n, "%s", buf);
}
