/* dist_gpu.c: the GPU part of core/dist.h: which GPU a rank takes, and NCCL's all-reduce of a
 * gradient buffer in GPU memory. One file, three builds (the Makefile's):
 *   (none)               the CPU tools (libnocuda.a): no GPU, no NCCL
 *   DIST_CUDA            a CUDA build without NCCL or MPI: the GPU choice only (dist.c then sums
 *                        GPU buffers through MPI over a host copy)
 *   DIST_CUDA DIST_NCCL  with NCCL and MPI: ncclAllReduce on the default stream, where every op
 *                        runs, bootstrapped through MPI (rank 0's ncclGetUniqueId broadcast)
 * Plain C against the CUDA runtime's C API and nccl.h (beside the CUDA headers). */
#include "core/dist.h"
#include "core/common.h"

#include <stddef.h>

#ifndef DIST_CUDA

int dist_gpu_count(void) { return 0; }
void dist_gpu_use(int index) { (void)index; }

#else
#include <cuda_runtime_api.h>

static void cuda_ok(cudaError_t e, const char *what) {
    if (e != cudaSuccess) die_runtime("expected %s to succeed, found CUDA error %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
}

int dist_gpu_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return 0; }
    return n;
}

void dist_gpu_use(int index) { cuda_ok(cudaSetDevice(index), "cudaSetDevice"); }

#endif

#if !defined(DIST_CUDA) || !defined(DIST_NCCL)
int dist_gpu_has_nccl(void) { return 0; }
void dist_gpu_nccl_init(const void *comm, int rank, int size) {
    (void)comm; (void)rank; (void)size;
    die_runtime("expected a build with NCCL, found one without");
}
void dist_gpu_nccl_allreduce(float *buf, size_t n) {
    (void)buf; (void)n;
    die_runtime("expected a build with NCCL, found one without");
}
void dist_gpu_nccl_free(void) {}

#else
#include <mpi.h>
#include <nccl.h>

static ncclComm_t nccl;
static int nccl_up;

static void nccl_ok(ncclResult_t r, const char *what) {
    if (r == ncclSuccess) return;
    const char *last = nccl_up ? ncclGetLastError(nccl) : ncclGetLastError(NULL);
    die_runtime("expected %s to succeed, found NCCL error %s%s%s", what, ncclGetErrorString(r),
                last && *last ? ": " : "", last ? last : "");
}

int dist_gpu_has_nccl(void) { return 1; }

void dist_gpu_nccl_init(const void *comm, int rank, int size) {
    ncclUniqueId id;
    if (rank == 0) nccl_ok(ncclGetUniqueId(&id), "ncclGetUniqueId");
    if (MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, *(const MPI_Comm *)comm) != MPI_SUCCESS)
        die_runtime("expected MPI_Bcast of NCCL's unique id to succeed, found it failing");
    nccl_ok(ncclCommInitRank(&nccl, size, id, rank), "ncclCommInitRank");
    nccl_up = 1;
}

void dist_gpu_nccl_allreduce(float *buf, size_t n) {
    nccl_ok(ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, nccl, 0), "ncclAllReduce of the gradients");
    cuda_ok(cudaStreamSynchronize(0), "cudaStreamSynchronize after ncclAllReduce");
}

void dist_gpu_nccl_free(void) {
    if (nccl_up) ncclCommDestroy(nccl);
    nccl_up = 0;
}
#endif
