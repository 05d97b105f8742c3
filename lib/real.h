/* real.h: the scalar type of the CPU ops. The op sources in lib/cpu/ are compiled twice:
 * as float (names end in _cpu; what the tools run) and, with -DOPS_F64, as double (names end
 * in _cpu_f64; what the finite-difference tests run). Include once at the top of an op file. */
#ifndef DFGAN_REAL_H
#define DFGAN_REAL_H
#include <cblas.h>
#ifdef OPS_F64
typedef double real;
#define OPNAME(name) name##_cpu_f64
#define cblas_gemm cblas_dgemm
#else
typedef float real;
#define OPNAME(name) name##_cpu
#define cblas_gemm cblas_sgemm
#endif
#endif
