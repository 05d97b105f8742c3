/* tensor.h: a float32 tensor that knows the device it lives on. Ops (ops.h) dispatch on it,
 * so the CUDA twins in kernels/ drop in behind the same calls as the CPU ops in lib/cpu/. */
#ifndef DFGAN_TENSOR_H
#define DFGAN_TENSOR_H
#include <stdint.h>
#include <stddef.h>

typedef enum { DEVICE_CPU = 0, DEVICE_CUDA = 1 } device_t;

typedef struct {
    float *data;          /* host or device memory, per `device` */
    int ndim;
    int64_t shape[4];
    int64_t size;         /* product of shape */
    device_t device;
    int owns;             /* 1 if tensor_free releases data */
} tensor;

/* Parse "cpu" / "cuda"; die_usage otherwise. For cuda in a CPU-only build, hands the process over
 * (execv, same arguments) to the CUDA variant of the tool, bin/cuda/<tool> beside it, when it exists;
 * dies (runtime) when no GPU is usable. Call before any output is opened. */
device_t device_parse(const char *s);
const char *device_name(device_t d);

tensor tensor_new(device_t dev, int ndim, const int64_t *shape);     /* zero-filled */
tensor tensor_new4(device_t dev, int64_t a, int64_t b, int64_t c, int64_t d);
tensor tensor_new2(device_t dev, int64_t a, int64_t b);
tensor tensor_view(float *data, device_t dev, int ndim, const int64_t *shape);
/* Reallocate t to the given shape when its size differs (contents undefined afterwards). */
void tensor_resize(tensor *t, device_t dev, int ndim, const int64_t *shape);
void tensor_free(tensor *t);
void tensor_zero(tensor *t);
void tensor_copy(tensor *dst, const tensor *src);                   /* same size, same device */
void tensor_upload(tensor *dst, const float *host);                 /* host -> dst (any device) */
void tensor_download(float *host, const tensor *src);               /* src (any device) -> host */

/* Raw memory on a device. */
float *dev_alloc(device_t dev, size_t n);          /* zero-filled */
void dev_free(device_t dev, float *p);
void dev_zero(device_t dev, float *p, size_t n);
void dev_copy(device_t dev, float *dst, const float *src, size_t n);
void dev_upload(device_t dev, float *dst, const float *host, size_t n);
void dev_download(device_t dev, float *host, const float *src, size_t n);

#endif
