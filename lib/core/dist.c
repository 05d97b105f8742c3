/* dist.c: data-parallel ranks over MPI (see dist.h). Built with DIST_MPI where mpi.h exists (the
 * Makefile asks mpicc); without it every process is rank 0 of 1. The GPU's collectives are
 * core/dist_gpu.c's (NCCL). */
#include "core/dist.h"
#include "core/common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef DIST_MPI
#include <mpi.h>
#endif

static struct {
    int active, rank, size, local_rank, local_size;
    int nccl;               /* the GPU buffers go through NCCL (else through MPI over a host copy) */
    double bytes, seconds;  /* dist_stats */
    float *host;            /* the host copy of a GPU buffer (no NCCL) */
    size_t host_cap;
#ifdef DIST_MPI
    MPI_Comm comm;
#endif
} D = {.size = 1};

/* The launchers' environment: OpenMPI (OMPI_COMM_WORLD_*), MPICH's and Intel MPI's hydra (PMI_*,
 * MPI_LOCALRANKID), PMIx (PMIX_RANK), Slurm's srun (SLURM_LOCALID, with one of the others). */
static int launched(void) { return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK"); }
static const char *launcher_local_rank(void) {
    if (!launched()) return NULL;
    const char *names[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (getenv(names[i])) return getenv(names[i]);
    return NULL;
}

void dist_start(void) {
    if (!launched()) return;
    setvbuf(stderr, NULL, _IOLBF, 0);
    const char *l = launcher_local_rank();
    if (!l) return;
    int n = dist_gpu_count();
    if (n > 0) dist_gpu_use(atoi(l) % n);
}

int dist_rank(void) { return D.rank; }
int dist_size(void) { return D.size; }
int dist_active(void) { return D.active; }

/* path with every "%r" replaced by rank */
static const char *path_of(int rank, const char *path, char *buf, size_t n) {
    if (!dist_per_rank(path)) return path;
    size_t k = 0;
    for (const char *p = path; *p; p++) {
        int w = p[0] == '%' && p[1] == 'r' ? snprintf(buf + k, k < n ? n - k : 0, "%d", rank)
                                           : snprintf(buf + k, k < n ? n - k : 0, "%c", *p);
        k += (size_t)w;
        if (p[0] == '%' && p[1] == 'r') p++;
    }
    if (k >= n) die_usage("expected a path of at most %zu bytes, found '%s' longer", n - 1, path);
    return buf;
}

const char *dist_path(const char *path, char *buf, size_t n) { return path_of(D.rank, path, buf, n); }

const char *dist_launcher_path(const char *path, char *buf, size_t n) {
    const char *names[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"}, *r = NULL;
    for (size_t i = 0; launched() && !r && i < sizeof names / sizeof *names; i++) r = getenv(names[i]);
    return path_of(r ? atoi(r) : 0, path, buf, n);
}

int dist_per_rank(const char *path) { return path && strstr(path, "%r") != NULL; }

void dist_stats(double *bytes, double *seconds) {
    if (bytes) *bytes = D.bytes;
    if (seconds) *seconds = D.seconds;
}

void dist_check_replicas(device_t dev, const float *buf, size_t n, const char *what) {
    if (dist_size() == 1) return;
    float *h = xmalloc((n ? n : 1) * sizeof(float));
    dev_download(dev, h, buf, n);
    uint64_t x = 1469598103934665603ull;             /* FNV-1a over the bytes */
    const unsigned char *p = (const unsigned char *)h;
    for (size_t i = 0; i < n * sizeof(float); i++) x = (x ^ p[i]) * 1099511628211ull;
    free(h);
    if (dist_agree(x)) return;
    if (dist_rank() != 0) dist_hold();                 /* rank 0 says it, once */
    die_runtime("expected %s to be the same on every rank, found them differing", what);
}

#ifndef DIST_MPI

static long launcher_size(void) {
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (!s) s = getenv("PMI_SIZE");
    return s ? atol(s) : 1;
}

void dist_init(device_t dev) {
    (void)dev;
    const long n = launcher_size();
    if (!launched() || n < 2) return;
    const char *r = getenv("OMPI_COMM_WORLD_RANK") ? getenv("OMPI_COMM_WORLD_RANK") : getenv("PMI_RANK");
    if (r && atol(r) != 0) exit(EXIT_USAGE);      /* rank 0 says it, once */
    die_usage("expected a build with MPI to run as one of %ld ranks, found one without (install "
              "libopenmpi-dev, or another MPI with mpicc, and rebuild)", n);
}
void dist_finish(void) {}
void dist_allreduce(device_t dev, float *buf, size_t n) { (void)dev; (void)buf; (void)n; }
void dist_sum(double *v, int n) { (void)v; (void)n; }
void dist_minmax(long v, long *min, long *max) { *min = *max = v; }
void dist_shift(const float *send, float *recv, int n) { memmove(recv, send, (size_t)n * sizeof(float)); }
int dist_agree(uint64_t h) { (void)h; return 1; }
void dist_hold(void) { die_runtime("expected another rank to fail, found none (a build without MPI)"); }
void dist_rank0_first(void) {}
void dist_rank0_done(void) {}

#else

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    die_runtime("expected %s to succeed, found %s", what, msg);
}

/* A rank leaving with a non-zero status takes the whole job with it (mpirun alone would, but not
 * every launcher); one leaving with 0 has passed dist_finish, or does it now. */
static void at_exit(int status, void *arg) {
    (void)arg;
    if (!D.active) return;
    if (status != 0) MPI_Abort(MPI_COMM_WORLD, status);
    dist_finish();
}

void dist_init(device_t dev) {
    if (!launched() || D.active) return;
    int provided = 0, world_rank = 0, *appnum = NULL, flag = 0;
    /* A rank waiting in a collective yields its core rather than spin (OpenMPI spins by default
     * unless a machine holds more ranks than slots): the ranks of the other tools of an epoch, and
     * anything else on the machine, compute on the same cores. The user's setting wins. */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    check(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    D.active = 1;
    on_exit(at_exit, NULL);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    /* one communicator per tool of an MPMD job */
    check(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_APPNUM, &appnum, &flag), "MPI_Comm_get_attr(MPI_APPNUM)");
    check(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank), "MPI_Comm_rank");
    check(MPI_Comm_split(MPI_COMM_WORLD, flag && appnum ? *appnum : 0, world_rank, &D.comm), "MPI_Comm_split");
    MPI_Comm_set_errhandler(D.comm, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(D.comm, &D.rank), "MPI_Comm_rank");
    check(MPI_Comm_size(D.comm, &D.size), "MPI_Comm_size");
    MPI_Comm node;
    check(MPI_Comm_split_type(D.comm, MPI_COMM_TYPE_SHARED, D.rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
    check(MPI_Comm_rank(node, &D.local_rank), "MPI_Comm_rank");
    check(MPI_Comm_size(node, &D.local_size), "MPI_Comm_size");
    MPI_Comm_free(&node);
    if (D.size > 1) {
        static char name[160];
        snprintf(name, sizeof name, "%s (rank %d of %d)", progname, D.rank, D.size);
        progname = name;
    }
    if (dev != DEVICE_CUDA) return;
    /* one GPU per rank; NCCL where every machine has a GPU for each of its ranks and every rank was
     * built with NCCL (the same choice on all ranks, or the collectives would not meet) */
    const int count = dist_gpu_count();
    if (count < 1) die_runtime("expected a GPU for --device cuda, found none on rank %d", D.rank);
    dist_gpu_use(D.local_rank % count);
    int worst[2] = {D.local_size > count, !dist_gpu_has_nccl()};
    check(MPI_Allreduce(MPI_IN_PLACE, worst, 2, MPI_INT, MPI_MAX, D.comm), "MPI_Allreduce");
    if (!worst[0] && !worst[1]) {
        dist_gpu_nccl_init(&D.comm, D.rank, D.size);
        D.nccl = 1;
    }
    if (!D.nccl && D.rank == 0 && D.size > 1)
        warnx("gradients summed through MPI in host memory: %s",
              worst[1] ? "this build has no NCCL" : "ranks share a GPU (NCCL needs one GPU per rank)");
}

void dist_finish(void) {
    if (!D.active) return;
    if (D.nccl) dist_gpu_nccl_free();
    D.nccl = 0;
    free(D.host);
    D.host = NULL;
    MPI_Comm_free(&D.comm);
    MPI_Finalize();
    D.active = 0;
}

/* MPI's counts are ints: large buffers go in pieces of 2^30 floats */
static void allreduce_host(float *buf, size_t n) {
    for (size_t off = 0; off < n; off += (size_t)1 << 30) {
        const size_t k = n - off < ((size_t)1 << 30) ? n - off : (size_t)1 << 30;
        check(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, D.comm), "MPI_Allreduce of the gradients");
    }
}

void dist_allreduce(device_t dev, float *buf, size_t n) {
    if (!D.active || n == 0) return;
    const double t0 = now();
    if (dev == DEVICE_CUDA && D.nccl) {
        dist_gpu_nccl_allreduce(buf, n);
    } else if (dev == DEVICE_CUDA) {
        if (n > D.host_cap) { free(D.host); D.host = xmalloc(n * sizeof(float)); D.host_cap = n; }
        dev_download(dev, D.host, buf, n);
        allreduce_host(D.host, n);
        dev_upload(dev, buf, D.host, n);
    } else {
        allreduce_host(buf, n);
    }
    D.bytes += (double)n * sizeof(float);
    D.seconds += now() - t0;
}

void dist_sum(double *v, int n) {
    if (D.active) check(MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, D.comm), "MPI_Allreduce");
}

void dist_minmax(long v, long *min, long *max) {
    long m[2] = {v, -v};
    if (D.active) check(MPI_Allreduce(MPI_IN_PLACE, m, 2, MPI_LONG, MPI_MAX, D.comm), "MPI_Allreduce");
    *max = m[0];
    *min = -m[1];
}

void dist_shift(const float *send, float *recv, int n) {
    if (!D.active || D.size == 1) { memmove(recv, send, (size_t)n * sizeof(float)); return; }
    check(MPI_Sendrecv(send, n, MPI_FLOAT, (D.rank + 1) % D.size, 17, recv, n, MPI_FLOAT,
                       (D.rank + D.size - 1) % D.size, 17, D.comm, MPI_STATUS_IGNORE), "MPI_Sendrecv");
}

void dist_hold(void) {
    MPI_Barrier(D.comm);   /* the faulty rank never joins: its MPI_Abort ends this one */
    die_runtime("expected another rank to fail, found every rank waiting");
}

/* one barrier: the other ranks enter it first, rank 0 when it is done */
void dist_rank0_first(void) {
    if (D.active && D.size > 1 && D.rank != 0) check(MPI_Barrier(D.comm), "MPI_Barrier");
}
void dist_rank0_done(void) {
    if (D.active && D.size > 1 && D.rank == 0) check(MPI_Barrier(D.comm), "MPI_Barrier");
}

int dist_agree(uint64_t h) {
    uint64_t m[2] = {h, ~h};   /* max of ~h is ~(min of h) */
    if (D.active) check(MPI_Allreduce(MPI_IN_PLACE, m, 2, MPI_UINT64_T, MPI_MAX, D.comm), "MPI_Allreduce");
    return m[0] == ~m[1];
}
#endif
