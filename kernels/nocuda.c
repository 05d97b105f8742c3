/* nocuda.c: linked instead of the kernels/ .cu files in a build without nvcc (or NO_CUDA=1).
 * It defines the same C symbols as the CUDA objects (ops_cuda.h), every stub generated from the
 * lists there and in lib/core/op_list.h: cuda_device_available() says why there is no GPU, and
 * everything else ends the program with that reason (an op without a CUDA twin yet, with
 * CUDA_NO_TWIN's, as in the CUDA build). */
#include "core/common.h"
#include "ops_cuda.h"

#include <stdio.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"

#define NOCUDA "expected a build with CUDA for --device cuda, found one built without nvcc " \
               "(rebuild where nvcc exists)"

size_t conv2d_col_limit_cuda = (size_t)1 << 30;
int conv_rect_cudnn_cuda = -1;

int cuda_compiled(void) { return 0; }
int cudnn_compiled(void) { return 0; }

int cuda_device_available(char *why, size_t n) {
    if (why && n) snprintf(why, n, "%s", NOCUDA);
    return 0;
}

#define DEVICE_STUB(ret, name, params) ret name params { die_runtime(NOCUDA); }
CUDA_DEVICE_LAYER(DEVICE_STUB)
CUDA_IPC_LAYER(DEVICE_STUB)

#define R float
#define OPDEF(ret, name, params) ret name##_cuda params { die_runtime(NOCUDA); }
#define OPDEF_CPU_ONLY(ret, name, params) ret name##_cuda params { die_runtime(CUDA_NO_TWIN(name)); }
#include "core/op_list.h"
