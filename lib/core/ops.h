/* ops.h: device dispatch. OP(dev, name, args...) runs name_cpu(args...) or name_cuda(args...)
 * by the device the tensors live on; the two have identical signatures (lib/core/ops_cpu_decl.h),
 * so a model written against OP runs on either backend. */
#ifndef DFGAN_OPS_H
#define DFGAN_OPS_H
#include "core/ops_cpu.h"
#include "ops_cuda.h"
#include "core/tensor.h"

#define OP(dev, name, ...) \
    do { if ((dev) == DEVICE_CUDA) name##_cuda(__VA_ARGS__); else name##_cpu(__VA_ARGS__); } while (0)
/* for ops that return a value (hinge_forward, vec_dot) */
#define OPV(dev, name, ...) ((dev) == DEVICE_CUDA ? name##_cuda(__VA_ARGS__) : name##_cpu(__VA_ARGS__))

#define LRELU_SLOPE 0.2f

#endif
