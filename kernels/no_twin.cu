/* no_twin.cu: in a build with nvcc, the name_cuda symbols of the ops that lib/core/op_list.h marks
 * OPDEF_CPU_ONLY (a CPU body, no CUDA twin yet), generated from the list: each ends the program
 * with CUDA_NO_TWIN(name), "expected a CUDA twin of NAME, found none yet". An op's twin, once
 * written, goes in kernels/<its family>.cu and its entry becomes OPDEF. */
#include "ops_cuda.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"

#define R float
#define OPDEF(ret, name, params)
#define OPDEF_CPU_ONLY(ret, name, params) ret name##_cuda params { die_runtime(CUDA_NO_TWIN(name)); }
#include "core/op_list.h"
