/* real.h: the scalar type of the CPU ops. The op sources in lib/cpu/ are compiled twice:
 * as float (names end in _cpu; what the tools run) and, with -DOPS_F64, as double (names end
 * in _cpu_f64; what the finite-difference tests run). Include once at the top of an op file:
 * it declares every op from lib/core/op_list.h (through core/ops.h), so each body is checked
 * against its entry there. */
#ifndef DFGAN_REAL_H
#define DFGAN_REAL_H
#include <cblas.h>
#include "core/ops.h"
/* floating-point operations done by gemm so far (both types), for the benchmarks */
extern double cpu_gemm_flops;
#ifdef OPS_F64
typedef double real;
#define OPNAME(name) name##_cpu_f64
#define GEMM_IMPL cblas_dgemm
#define REAL_EXP exp        /* the math functions in the op's own precision */
#define REAL_TANH tanh
#else
typedef float real;
#define OPNAME(name) name##_cpu
#define GEMM_IMPL cblas_sgemm
#define REAL_EXP expf
#define REAL_TANH tanhf
#endif
#define cblas_gemm(order, ta, tb, M, N, K, ...) \
    (cpu_gemm_flops += 2.0 * (double)(M) * (double)(N) * (double)(K), GEMM_IMPL(order, ta, tb, M, N, K, __VA_ARGS__))
#endif
