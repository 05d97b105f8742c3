/* selftest.cc: the CUDA emulation's own checks (build/emu/test/cuda_emu_selftest, run by
 * test/emu/selftest.bats): small kernels in the CUDA language, one scenario per argument.
 *
 * What it must compute (each prints "ok: <scenario>" and exits 0, or one "FAIL: ..." line and
 * exits 1): shuffles (every kind and width), barriers and static shared memory over a 3-D block
 * in a 3-D grid, atomicAdd, junk (NaN) in fresh device and dynamic shared memory, a gemm, and the
 * errors CUDA and cuBLAS return for bad launches, copies, frees and gemm arguments, and CUDA IPC
 * across processes (ipc: a child maps the parent's buffer, each sees the other's writes, and the
 * errors of opening a handle in its own process or from a process that is gone).
 * What it must refuse (each ends the program through die_runtime in the emulation, exit 1, one line
 * on stderr): divergent or partial barriers and shuffles, writes past a buffer, touching a buffer
 * the kernel was not given, host pointers and freed pointers as kernel arguments, host code
 * touching device memory, a gemm matrix reaching past its buffer, a thread stack overflow.
 * missing-barrier reads a neighbour's shared value without a barrier: right by luck in one thread
 * order, NaN in the other (CUDA_EMU_ORDER=reverse). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cublas_v2.h"
#include "cuda_runtime.h"

extern "C" const char *progname;   /* lib/core/common.h */

static int fail(const char *what) {
    printf("FAIL: %s\n", what);
    return 1;
}

static float *dalloc(size_t n) {
    void *p = nullptr;
    if (cudaMalloc(&p, n * sizeof(float)) != cudaSuccess) exit(fail("cudaMalloc"));
    return (float *)p;
}
static void down(float *h, const float *d, size_t n) {
    if (cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess) exit(fail("cudaMemcpy"));
}
static int launched(void) { return cudaGetLastError() == cudaSuccess; }

/* ---- what must work ---- */

/* out[8·t + j]: lane t's results of the 8 shuffles below (64 threads) */
static __global__ void shuffle_kernel(float *out) {
    const int t = threadIdx.x;
    const float v = (float)t;
    float *o = out + 8 * t;
    o[0] = __shfl_sync(0xffffffffu, v, 7);
    o[1] = __shfl_sync(0xffffffffu, v, 35, 16);
    o[2] = __shfl_up_sync(0xffffffffu, v, 3);
    o[3] = __shfl_up_sync(0xffffffffu, v, 3, 8);
    o[4] = __shfl_down_sync(0xffffffffu, v, 5);
    o[5] = __shfl_down_sync(0xffffffffu, v, 5, 16);
    o[6] = __shfl_xor_sync(0xffffffffu, v, 9);
    o[7] = (float)__shfl_xor_sync(0xffffffffu, (double)v, 6, 4);
}

static int shuffles(void) {
    float *d = dalloc(64 * 8), h[64 * 8];
    LAUNCH(shuffle_kernel, 1, 64, 0)(d);
    if (!launched()) return fail("launch");
    down(h, d, 64 * 8);
    for (int t = 0; t < 64; t++) {
        const int l = t & 31, w = t - l;
        const int want[8] = {w + 7, w + (l & ~15) + (35 & 15), l >= 3 ? t - 3 : t, (l & 7) >= 3 ? t - 3 : t,
                             l + 5 < 32 ? t + 5 : t, (l & 15) + 5 < 16 ? t + 5 : t, w + (l ^ 9),
                             (l ^ 6) <= (l | 3) ? w + (l ^ 6) : t};
        for (int j = 0; j < 8; j++)
            if (h[8 * t + j] != (float)want[j]) {
                printf("FAIL: shuffle %d of thread %d: expected %d, found %g\n", j, t, want[j], h[8 * t + j]);
                return 1;
            }
    }
    printf("ok: shuffles\n");
    return 0;
}

/* per block: the sum of the linear thread indices through static shared memory and a barrier,
 * written by the last thread with the block's coordinates */
static __global__ void block_kernel(float *out) {
    __shared__ float part[64];
    const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    part[t] = (float)t;
    __syncthreads();
    if (t == blockDim.x * blockDim.y * blockDim.z - 1) {
        float s = 0;
        for (unsigned i = 0; i <= t; i++) s += part[i];
        const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
        out[4 * b] = s;
        out[4 * b + 1] = (float)blockIdx.x;
        out[4 * b + 2] = (float)blockIdx.y;
        out[4 * b + 3] = (float)blockIdx.z;
    }
}

static int blocks(void) {
    float *d = dalloc(4 * 12), h[4 * 12];
    LAUNCH(block_kernel, dim3(3, 2, 2), dim3(8, 4, 2), 0)(d);
    if (!launched()) return fail("launch");
    down(h, d, 4 * 12);
    for (int b = 0; b < 12; b++)
        if (h[4 * b] != 64 * 63 / 2 || h[4 * b + 1] != b % 3 || h[4 * b + 2] != b / 3 % 2 || h[4 * b + 3] != b / 6)
            return fail("block sums and coordinates");
    printf("ok: blocks\n");
    return 0;
}

static __global__ void atomic_kernel(float *sum) { atomicAdd(sum, 1.0f); }

static int atomics(void) {
    float *d = dalloc(1), h = 0;
    cudaMemset(d, 0, sizeof(float));
    LAUNCH(atomic_kernel, 40, 256, 0)(d);
    down(&h, d, 1);
    if (h != 40 * 256) return fail("atomicAdd total");
    printf("ok: atomics\n");
    return 0;
}

/* out[0] = what dynamic shared memory holds before anything is written */
static __global__ void junk_kernel(float *out) {
    EXTERN_SHARED(float, s);
    if (threadIdx.x == 0) out[0] = s[3];
}

static int junk(void) {
    float *d = dalloc(4), h[4];
    down(h, d, 4);
    if (!isnan(h[0]) || !isnan(h[3])) return fail("fresh device memory is NaN");
    LAUNCH(junk_kernel, 1, 32, 16 * sizeof(float))(d);
    down(h, d, 1);
    if (!isnan(h[0])) return fail("fresh dynamic shared memory is NaN");
    printf("ok: junk\n");
    return 0;
}

static int gemm(void) {
    /* C (2×3) = A (2×4) · B (4×3), column-major, A with leading dimension 5 */
    float hA[5 * 4], hB[4 * 3], hC[2 * 3];
    for (int i = 0; i < 20; i++) hA[i] = (float)(i % 7 - 3);
    for (int i = 0; i < 12; i++) hB[i] = (float)(i % 5 - 2);
    float *A = dalloc(20), *B = dalloc(12), *C = dalloc(6);
    cudaMemcpy(A, hA, sizeof hA, cudaMemcpyHostToDevice);
    cudaMemcpy(B, hB, sizeof hB, cudaMemcpyHostToDevice);
    cublasHandle_t h;
    cublasCreate(&h);
    const float one = 1, zero = 0;
    if (cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 3, 4, &one, A, 5, B, 4, &zero, C, 2) != CUBLAS_STATUS_SUCCESS)
        return fail("cublasSgemm");
    down(hC, C, 6);
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 2; i++) {
            float s = 0;
            for (int k = 0; k < 4; k++) s += hA[k * 5 + i] * hB[j * 4 + k];
            if (hC[j * 2 + i] != s) return fail("cublasSgemm's product");
        }
    printf("ok: gemm\n");
    return 0;
}

/* the errors CUDA and cuBLAS return, one name per line */
static __global__ void empty_kernel(float *) {}

static int errors(void) {
    float *d = dalloc(8), h[16] = {0};
    LAUNCH(empty_kernel, 1, 1025, 0)(d);
    printf("1025 threads: %s\n", cudaGetErrorName(cudaGetLastError()));
    LAUNCH(empty_kernel, 0, 32, 0)(d);
    printf("0 blocks: %s\n", cudaGetErrorName(cudaGetLastError()));
    LAUNCH(empty_kernel, 1, 32, 64 << 10)(d);
    printf("64 KiB of shared memory: %s\n", cudaGetErrorName(cudaGetLastError()));
    LAUNCH(empty_kernel, 1, 32, 0)(d);
    printf("a good launch: %s\n", cudaGetErrorName(cudaGetLastError()));
    printf("copy past the end: %s\n", cudaGetErrorName(cudaMemcpy(d, h, 9 * sizeof(float), cudaMemcpyHostToDevice)));
    printf("copy the wrong way: %s\n", cudaGetErrorName(cudaMemcpy(d, h, 8 * sizeof(float), cudaMemcpyDeviceToHost)));
    printf("memset of host memory: %s\n", cudaGetErrorName(cudaMemset(h, 0, sizeof h)));
    printf("free inside a buffer: %s\n", cudaGetErrorName(cudaFree(d + 1)));
    printf("free: %s\n", cudaGetErrorName(cudaFree(d)));
    cublasHandle_t b;
    cublasCreate(&b);
    float *A = dalloc(16);
    const float one = 1;
    printf("lda < m: %s\n", cublasGetStatusName(cublasSgemm(b, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, A, 3, A, 4,
                                                            &one, A, 4)));
    printf("k < 0: %s\n", cublasGetStatusName(cublasSgemm(b, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, -1, &one, A, 4, A, 4,
                                                          &one, A, 4)));
    printf("no handle: %s\n", cublasGetStatusName(cublasSgemm(nullptr, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, A, 4,
                                                              A, 4, &one, A, 4)));
    return 0;
}

/* ---- IPC between processes ---- */

static __global__ void add_one_kernel(float *x) { x[threadIdx.x] += 1; }

static void put(int fd, const void *p, size_t n) {
    if (write(fd, p, n) != (ssize_t)n) exit(fail("write to a pipe"));
}
static void get(int fd, void *p, size_t n) {
    if (read(fd, p, n) != (ssize_t)n) exit(fail("read from a pipe"));
}

/* the reader, in a child: maps the parent's buffer, checks it holds 0..63, adds 1 to each value
 * with a kernel; its report lines go up the pipe */
static void ipc_reader(int in, int out) {
    cudaIpcMemHandle_t mh;
    cudaIpcEventHandle_t eh;
    get(in, &mh, sizeof mh);
    get(in, &eh, sizeof eh);
    char line[1024];
    size_t k = 0;
    void *p = nullptr, *q = nullptr;
    cudaEvent_t e;
    cudaError_t r = cudaIpcOpenMemHandle(&p, mh, cudaIpcMemLazyEnablePeerAccess);
    k += snprintf(line + k, sizeof line - k, "child opens the handle: %s\n", cudaGetErrorName(r));
    r = cudaIpcOpenMemHandle(&q, mh, cudaIpcMemLazyEnablePeerAccess);
    k += snprintf(line + k, sizeof line - k, "child opens it again: %s, %s pointer\n", cudaGetErrorName(r),
                  p == q ? "the same" : "another");
    r = cudaIpcOpenEventHandle(&e, eh);
    k += snprintf(line + k, sizeof line - k, "child opens the event: %s\n", cudaGetErrorName(r));
    cudaStreamWaitEvent(0, e, 0);
    float h[64];
    down(h, (float *)p, 64);
    int same = 1;
    for (int i = 0; i < 64; i++) same &= h[i] == (float)i;
    LAUNCH(add_one_kernel, 1, 64, 0)((float *)p);
    k += snprintf(line + k, sizeof line - k, "child reads 0..63: %s; its kernel: %s\n", same ? "yes" : "no",
                  launched() ? "ran" : "failed");
    const cudaError_t c1 = cudaIpcCloseMemHandle(p), c2 = cudaIpcCloseMemHandle(p), c3 = cudaIpcCloseMemHandle(p);
    k += snprintf(line + k, sizeof line - k, "child closes twice: %s %s; a third time: %s\n", cudaGetErrorName(c1),
                  cudaGetErrorName(c2), cudaGetErrorName(c3));
    put(out, &k, sizeof k);
    put(out, line, k);
    exit(0);
}

/* a writer that exports a buffer and an event, then exits */
static void ipc_dying_writer(int out) {
    float *d = dalloc(16);
    cudaEvent_t e;
    cudaEventCreateWithFlags(&e, cudaEventInterprocess | cudaEventDisableTiming);
    cudaIpcMemHandle_t mh;
    cudaIpcEventHandle_t eh;
    cudaIpcGetMemHandle(&mh, d);
    cudaIpcGetEventHandle(&eh, e);
    put(out, &mh, sizeof mh);
    put(out, &eh, sizeof eh);
    exit(0);
}

static int ipc(void) {
    int down_pipe[2], up_pipe[2], dead_pipe[2];
    if (pipe(down_pipe) || pipe(up_pipe) || pipe(dead_pipe)) return fail("pipe");
    fflush(stdout);
    /* both children before this process touches the device (a fork shares the emulated arena) */
    const pid_t reader = fork();
    if (reader == 0) ipc_reader(down_pipe[0], up_pipe[1]);
    const pid_t dying = fork();
    if (dying == 0) ipc_dying_writer(dead_pipe[1]);
    float *d = dalloc(64), h[64];
    for (int i = 0; i < 64; i++) h[i] = (float)i;
    cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice);
    cudaEvent_t e, plain;
    cudaEventCreateWithFlags(&e, cudaEventInterprocess | cudaEventDisableTiming);
    cudaEventCreateWithFlags(&plain, cudaEventDefault);
    cudaEventRecord(e, 0);
    cudaIpcMemHandle_t mh, inner;
    cudaIpcEventHandle_t eh;
    cudaIpcGetMemHandle(&mh, d);
    cudaIpcGetMemHandle(&inner, d + 5);
    printf("a pointer inside the buffer: %s handle\n", memcmp(&mh, &inner, sizeof mh) ? "another" : "the same");
    printf("an event handle of a timing event: %s\n", cudaGetErrorName(cudaIpcGetEventHandle(&eh, plain)));
    cudaIpcGetEventHandle(&eh, e);
    void *p;
    cudaEvent_t e2;
    printf("opening its own handle: %s\n", cudaGetErrorName(cudaIpcOpenMemHandle(&p, mh, cudaIpcMemLazyEnablePeerAccess)));
    printf("opening its own event: %s\n", cudaGetErrorName(cudaIpcOpenEventHandle(&e2, eh)));
    put(down_pipe[1], &mh, sizeof mh);
    put(down_pipe[1], &eh, sizeof eh);
    size_t k;
    char line[1024];
    get(up_pipe[0], &k, sizeof k);
    if (k >= sizeof line) return fail("child's report");
    get(up_pipe[0], line, k);
    fwrite(line, 1, k, stdout);
    int st;
    waitpid(reader, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return fail("reader child");
    down(h, d, 64);
    int seen = 1;
    for (int i = 0; i < 64; i++) seen &= h[i] == (float)(i + 1);
    printf("parent sees the child's writes: %s\n", seen ? "yes" : "no");
    cudaIpcMemHandle_t dmh;
    cudaIpcEventHandle_t deh;
    get(dead_pipe[0], &dmh, sizeof dmh);
    get(dead_pipe[0], &deh, sizeof deh);
    waitpid(dying, &st, 0);
    printf("a handle of a process that is gone: %s\n", cudaGetErrorName(cudaIpcOpenMemHandle(&p, dmh, cudaIpcMemLazyEnablePeerAccess)));
    printf("its event: %s\n", cudaGetErrorName(cudaIpcOpenEventHandle(&e2, deh)));
    memset(&dmh, 0, sizeof dmh);
    printf("a handle of zeros: %s\n", cudaGetErrorName(cudaIpcOpenMemHandle(&p, dmh, cudaIpcMemLazyEnablePeerAccess)));
    char bus[32];
    cudaDeviceGetPCIBusId(bus, sizeof bus, 0);
    printf("PCI bus id: %s\n", bus);
    return 0;
}

/* ---- what must be refused ---- */

static __global__ void divergent_kernel(float *out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1;
}
static __global__ void exited_kernel(float *out) {
    if (threadIdx.x == 5) return;
    __syncthreads();
    out[threadIdx.x] = 1;
}
static __global__ void half_shuffle_kernel(float *out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x % 32 < 16) v = __shfl_down_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}
static __global__ void shuffle_kernel48(float *out) {
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (float)threadIdx.x, 1);
}
/* each thread reads the shared value its predecessor wrote (thread 0 its own), with the barrier
 * left out */
static __global__ void missing_barrier_kernel(float *out) {
    EXTERN_SHARED(float, s);
    const unsigned t = threadIdx.x;
    s[t] = (float)t;
    /* __syncthreads(); belongs here */
    out[t] = s[t ? t - 1 : 0];
}
static __global__ void past_end_kernel(float *out, int n) {
    if (threadIdx.x == 0) out[n] = 1;   /* one past the end */
}
static __global__ void foreign_kernel(float *out, uintptr_t other) {
    out[0] = ((const float *)other)[0];
}
static __global__ void overflow_kernel(float *out) {
    volatile char big[96 << 10];
    for (size_t i = 0; i < sizeof big; i += 512) big[i] = (char)i;
    out[0] = big[100];
}

static int refuse(const char *what) {
    float *d = dalloc(64), *e = dalloc(64), h[64];
    if (!strcmp(what, "divergent-barrier")) LAUNCH(divergent_kernel, 1, 64, 0)(d);
    else if (!strcmp(what, "exited-barrier")) LAUNCH(exited_kernel, 1, 64, 0)(d);
    else if (!strcmp(what, "divergent-shuffle")) LAUNCH(half_shuffle_kernel, 1, 64, 0)(d);
    else if (!strcmp(what, "partial-warp")) LAUNCH(shuffle_kernel48, 1, 48, 0)(d);
    else if (!strcmp(what, "past-end")) LAUNCH(past_end_kernel, 1, 32, 0)(d, 64);
    else if (!strcmp(what, "foreign")) LAUNCH(foreign_kernel, 1, 1, 0)(d, (uintptr_t)e);
    else if (!strcmp(what, "host-argument")) LAUNCH(empty_kernel, 1, 1, 0)(h);
    else if (!strcmp(what, "freed-argument")) {
        cudaFree(e);
        LAUNCH(empty_kernel, 1, 1, 0)(e);
    } else if (!strcmp(what, "host-touch")) {
        volatile float x = d[3];
        (void)x;
    }
    else if (!strcmp(what, "gemm-extent")) {
        cublasHandle_t b;
        cublasCreate(&b);
        const float one = 1;   /* 8×8 with leading dimension 8 needs 64 floats: 63 from d + 1 */
        cublasSgemm(b, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, d + 1, 8, e, 8, &one, e, 8);
    } else if (!strcmp(what, "stack-overflow")) LAUNCH(overflow_kernel, 1, 1, 0)(d);
    else if (!strcmp(what, "missing-barrier")) {
        LAUNCH(missing_barrier_kernel, 1, 64, 64 * sizeof(float))(d);
        down(h, d, 64);
        for (int t = 0; t < 64; t++)
            if (h[t] != (float)(t ? t - 1 : 0)) {
                printf("FAIL: thread %d read %g, not its predecessor's value\n", t, h[t]);
                return 1;
            }
        printf("ok: missing-barrier (this order hides the race)\n");
        return 0;
    } else {
        fprintf(stderr, "cuda_emu_selftest: expected a scenario, found '%s'\n", what);
        return 2;
    }
    cudaDeviceSynchronize();
    printf("FAIL: %s was not refused\n", what);
    return 1;
}

int main(int argc, char **argv) {
    progname = "cuda_emu_selftest";
    if (argc != 2) {
        fprintf(stderr, "usage: cuda_emu_selftest SCENARIO (see test/emu/selftest.cc)\n");
        return 2;
    }
    const char *s = argv[1];
    if (!strcmp(s, "shuffles")) return shuffles();
    if (!strcmp(s, "blocks")) return blocks();
    if (!strcmp(s, "atomics")) return atomics();
    if (!strcmp(s, "junk")) return junk();
    if (!strcmp(s, "gemm")) return gemm();
    if (!strcmp(s, "errors")) return errors();
    if (!strcmp(s, "ipc")) return ipc();
    return refuse(s);
}
