/* threads.h: how the CPU ops share the cores. An op that splits its work across OpenMP threads
 * calls a one-thread gemm from each of them, so it switches OpenBLAS's own threading off for the
 * call (blas_single) and back afterwards (blas_restore). With OpenBLAS's OpenMP build that also
 * sets omp's default team size, which is why every parallel region here names num_threads. */
#ifndef DFGAN_CPU_THREADS_H
#define DFGAN_CPU_THREADS_H
#include <cblas.h>
#include <omp.h>

#define MIN_PAR_FLOPS 2e6   /* below this an op runs on the calling thread */

/* Threads for `flops` of work that splits into at most `parts` slices (1 inside a parallel region). */
static inline int team_size(double flops, int parts)
{
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nt > parts) nt = parts;
    if (flops < MIN_PAR_FLOPS || nt < 1) nt = 1;
    return nt;
}

/* Also for nt == 1: the op's `parallel ... if (nt > 1)` region is then inactive, so OpenBLAS's
 * omp_in_parallel() is false inside it and a threaded gemm would open a nested team, which libgomp
 * builds from new threads every time (40 thread creations per DF-GAN step before this). */
static inline int blas_single(int nt)
{
    (void)nt;
    int saved = openblas_get_num_threads();
    if (saved != 1) openblas_set_num_threads(1);
    return saved;
}

static inline void blas_restore(int nt, int saved)
{
    (void)nt;
    if (saved != 1) openblas_set_num_threads(saved);
}
#endif
