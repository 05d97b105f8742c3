/* ops.h: the ops and their device dispatch. OP(dev, name, args...) runs name_cpu(args...) or
 * name_cuda(args...) by the device the tensors live on; both are declared from one entry of
 * core/op_list.h (which says each op's shapes and contract), so a model written against OP runs
 * on either backend. Also declared here: name_cpu_f64, the same CPU bodies in double, which the
 * finite-difference tests run. */
#ifndef DFGAN_OPS_H
#define DFGAN_OPS_H
#include "core/tensor.h"
#include "ops_cuda.h"

#define R float
#define OPDEF(ret, name, params) ret name##_cpu params;
#include "core/op_list.h"

#define R double
#define OPDEF(ret, name, params) ret name##_cpu_f64 params;
#include "core/op_list.h"

#define OP(dev, name, ...) \
    do { if ((dev) == DEVICE_CUDA) name##_cuda(__VA_ARGS__); else name##_cpu(__VA_ARGS__); } while (0)
/* for ops that return a value (hinge_forward, vec_dot) */
#define OPV(dev, name, ...) ((dev) == DEVICE_CUDA ? name##_cuda(__VA_ARGS__) : name##_cpu(__VA_ARGS__))

#define LRELU_SLOPE 0.2f

#endif
