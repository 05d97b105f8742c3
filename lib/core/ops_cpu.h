/* ops_cpu.h: the CPU ops in float (name_cpu) and double (name_cpu_f64); see ops_cpu_decl.h. */
#ifndef DFGAN_OPS_CPU_H
#define DFGAN_OPS_CPU_H
#include <stddef.h>

#define R float
#define F(n) n##_cpu
#include "core/ops_cpu_decl.h"
#undef R
#undef F

#define R double
#define F(n) n##_cpu_f64
#include "core/ops_cpu_decl.h"
#undef R
#undef F

#endif
