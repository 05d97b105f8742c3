/* dist.h: data-parallel ranks. One training run may span N processes, the ranks of an MPI job
 * (`mpirun -np N gen-step train ...`, a hostfile for several machines). Every rank holds the whole
 * model and computes its shard of each batch of B samples: rank r has samples [r·B/N, (r+1)·B/N).
 * The parameter gradients are summed over the ranks (one all-reduce over a model's one gradient
 * buffer, core/params.h) before the same Adam step on every rank, so all ranks keep identical
 * weights; rank 0 alone writes checkpoints and logs.
 *
 * A process that no MPI launcher started (no mpirun), and every process of a build without MPI,
 * is rank 0 of 1: the collectives below return at once and a tool runs exactly as it always did.
 * Started by mpirun as one of N > 1 ranks in a build without MPI, a tool refuses to run (two
 * processes would each train alone and both write the checkpoint).
 *
 * Collectives: host memory through MPI. A gradient buffer on the GPU through NCCL, bootstrapped
 * through MPI (rank 0's ncclGetUniqueId broadcast), one GPU per rank (the rank on its machine mod
 * the machine's GPUs); where ranks outnumber a machine's GPUs (NCCL refuses two ranks on one GPU)
 * or the build has no NCCL, through MPI over a host copy of the buffer.
 * An MPMD job (`mpirun -np 2 gen-step ... : -np 2 disc-step ...`) gives each tool its own ranks
 * (MPI_COMM_WORLD split by MPI_APPNUM).
 *
 * Per-rank paths: "%r" in a stream path stands for the rank ("fake.%r.fifo": rank 1 opens fake.1.fifo).
 *
 * Errors die (core/common.h) with the rank in the tool's name, "disc-step (rank 1 of 2): ...";
 * the launcher then ends the other ranks (mpirun does so when a rank exits non-zero). */
#ifndef DFGAN_DIST_H
#define DFGAN_DIST_H
#include "core/tensor.h"

#include <stddef.h>
#include <stdint.h>

/* First thing in main, in a process an MPI launcher started (a no-op in any other): stderr becomes
 * line-buffered, so that the ranks' lines do not interleave, and a CUDA build takes its GPU (the
 * launcher's local rank mod the GPUs) before any CUDA call, so that no rank opens a context on
 * GPU 0 for nothing. */
void dist_start(void);
/* After the options are parsed (a CUDA hand-over, an execv, comes first), before models are
 * loaded or outputs opened: joins the job when an MPI launcher started this process, picks the
 * GPU and sets up NCCL for dev cuda; with N > 1, progname becomes "tool (rank r of N)". */
void dist_init(device_t dev);
/* After the last output is committed: leaves the job (every rank must call it). A rank that exits
 * non-zero before (a die_usage, a die_runtime) ends every rank of the job (MPI_Abort, its status). */
void dist_finish(void);

int dist_rank(void);
int dist_size(void);
int dist_active(void);                    /* 1 when running as a rank of an MPI job (any N) */

/* Sum of buf (n floats on dev) over the ranks, in place, in every rank. */
void dist_allreduce(device_t dev, float *buf, size_t n);
/* Sum of v[0..n-1] (host) over the ranks, in place, in every rank. */
void dist_sum(double *v, int n);
/* The least and the greatest of v over the ranks. */
void dist_minmax(long v, long *min, long *max);
/* Send send[0..n-1] (host) to rank r+1 and receive rank r−1's into recv (ranks mod N). */
void dist_shift(const float *send, float *recv, int n);
/* 1 when h is the same on every rank (a checksum of the weights, say). */
int dist_agree(uint64_t h);
/* Dies (runtime) unless buf (n floats on dev) is the same on every rank: the replicas' weights
 * after training, say ("expected <what> to be the same on every rank, found them differing"). */
void dist_check_replicas(device_t dev, const float *buf, size_t n, const char *what);
/* Rank 0 first: around work that every rank does alike (loading the checkpoint, opening the shared
 * input files), so that a failure there is said once, by rank 0: the other ranks wait in
 * dist_rank0_first until rank 0 reaches dist_rank0_done. */
void dist_rank0_first(void);
void dist_rank0_done(void);
/* For a rank that found another rank at fault: waits until that rank's failure (it says why, in one
 * line, and ends the job) ends this one too. Never returns. */
_Noreturn void dist_hold(void);

/* path with every "%r" replaced by this rank, in buf (n bytes); path itself when it has none. */
const char *dist_path(const char *path, char *buf, size_t n);
/* The same with the rank an MPI launcher's environment gives this process (0 without a launcher),
 * for a program that never joins the job: run-epoch --copy started by mpirun, one per rank. */
const char *dist_launcher_path(const char *path, char *buf, size_t n);
int dist_per_rank(const char *path);      /* 1 if path holds "%r" */

/* What the gradient all-reduces cost so far: bytes of the buffers summed, seconds spent in them. */
void dist_stats(double *bytes, double *seconds);

/* ---- the GPU part (core/dist_gpu.c, built with CUDA and NCCL where they exist); for dist.c ---- */
int dist_gpu_count(void);                 /* GPUs this process sees; 0 in a build without CUDA */
void dist_gpu_use(int index);             /* cudaSetDevice */
int dist_gpu_has_nccl(void);              /* 1 in a build with NCCL */
/* NCCL over the MPI communicator *comm (an MPI_Comm; rank of size), every rank calling it. */
void dist_gpu_nccl_init(const void *comm, int rank, int size);
void dist_gpu_nccl_allreduce(float *buf, size_t n);   /* sum in place, waits for the result */
void dist_gpu_nccl_free(void);
#endif
