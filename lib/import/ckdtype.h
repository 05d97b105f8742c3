/* ckdtype.h: element types of imported checkpoints (PyTorch storages, safetensors dtypes) and
 * what they become in our .npz: every floating type (float32, float16, bfloat16, float64) is
 * converted to float32, the weights format of the tools; integer and bool tensors keep their
 * type (int64 stays int64, e.g. BatchNorm's num_batches_tracked), so nothing is rounded that
 * a user might count on. */
#ifndef DFGAN_CKDTYPE_H
#define DFGAN_CKDTYPE_H

#include "io/npy.h"

typedef enum {
    CK_F32, CK_F64, CK_F16, CK_BF16, CK_I64, CK_I32, CK_I16, CK_I8, CK_U8, CK_BOOL,
    CK_U16, CK_U32, CK_U64, CK_NDTYPES
} ck_dtype;

static inline size_t ck_dtype_size(ck_dtype t) {
    static const unsigned char sz[CK_NDTYPES] = {4, 8, 2, 2, 8, 4, 2, 1, 1, 1, 2, 4, 8};
    return (int)t >= 0 && t < CK_NDTYPES ? sz[t] : 0;
}
static inline const char *ck_dtype_name(ck_dtype t) {
    static const char *nm[CK_NDTYPES] = {"float32", "float64", "float16", "bfloat16", "int64", "int32", "int16",
                                         "int8", "uint8", "bool", "uint16", "uint32", "uint64"};
    return (int)t >= 0 && t < CK_NDTYPES ? nm[t] : "unknown";
}
/* The dtype an imported tensor gets in the .npz. */
static inline npy_dtype ck_dtype_out(ck_dtype t) {
    static const npy_dtype out[CK_NDTYPES] = {NPY_F4, NPY_F4, NPY_F4, NPY_F4, NPY_I8, NPY_I4, NPY_I2,
                                              NPY_I1, NPY_U1, NPY_BOOL, NPY_U2, NPY_U4, NPY_U8};
    return out[t];
}
static inline int ck_dtype_is_float(ck_dtype t) { return t <= CK_BF16; }

#endif
